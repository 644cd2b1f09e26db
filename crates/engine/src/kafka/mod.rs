//! The Kafka runtime: everything that makes the job a member of a consumer group on Kafka topics. `rdkafka` is used
//! only under this module.
//!
//! The job itself — event time, join, features, model, write — is the same as in embedded mode ([`crate::job`]);
//! what this module adds is the I/O at both ends and the duties of a long-running consumer:
//!
//! | module | in | out |
//! |---|---|---|
//! | [`produce`] | the CSV files | Avro records on `transactions` / `identities`, co-partitioned, paced |
//! | [`source`] | the input topics (Avro, registry) or the internal topic | records in event-time order |
//! | `group` | consumer-group membership, static assignment | assignments, committed offsets |
//! | `identity_time` | identities without an event time | each stamped with its transaction's |
//! | `placement` | the records of a run over some partitions | refusal unless the topics are co-partitioned |
//! | `resume` | a resumed partition's first records | the records at and after its committed offset |
//! | `merge` | per-partition runs of fetched records | one event-time-ordered stream |
//! | [`order`] | internal-topic records of several join stages | each partition in event-time order |
//! | [`repartition`] | joined records | the internal topic's encoding (partitioned by card1) |
//! | [`sink`] | scores, alerts, dead letters | the output topics (Avro, registry) |
//! | `forward` | the join stage's joined records | the internal topic, with progress markers |
//! | `recovery` | an assignment | what the output already holds; client state rebuilt |
//! | `checkpoint` | durable output | committed input offsets (or one Kafka transaction) |
//! | `driver` | a source, a job | one stage run until stopped, idle or failed |
//! | [`topology`] | [`topology::KafkaRunConfig`] | one stage, or the join and scoring stages on two threads |
//! | `admin`, `read`, [`delivery`], [`partitioner`] | settings | topics created, read back; deliveries counted; murmur2 |
//!
//! Connection settings follow Confluent's conventions: a bootstrap list plus any librdkafka property
//! (`-X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X sasl.username=KEY ...` for Confluent Cloud).

mod admin;
mod checkpoint;
pub mod delivery;
mod driver;
mod forward;
mod group;
mod identity_time;
mod input_decode;
pub mod labels;
mod merge;
pub mod order;
pub mod partitioner;
mod placement;
pub mod produce;
mod read;
mod recovery;
pub mod repartition;
mod resume;
pub mod sink;
mod snapshot;
pub mod source;
mod stage;
pub mod topology;

/// The Kafka client this crate is built on, re-exported because its types appear in this crate's API.
pub use rdkafka;

pub use group::Assignment;

use std::sync::Arc;

use rdkafka::config::ClientConfig;

use crate::error::EngineError;

/// What every consumer of the job sets, before the user's `-X` properties (which override them).
///
/// `fetch.wait.max.ms`: how long a broker may hold a fetch that finds fewer than `fetch.min.bytes` (1) new bytes.
/// A Kafka broker answers as soon as data is there, so on Kafka this only bounds how often an idle consumer asks
/// (100 fetches a second per broker connection). Some Kafka-protocol brokers hold every fetch for the wait, data or
/// not (tansu 0.6.0 sleeps for it after reading up to 1 MiB): with librdkafka's default of 500 ms that capped a
/// catch-up at about 12k records a second; at 10 ms the fetches stop being the limit. Raise it with
/// `-X fetch.wait.max.ms=500` where idle fetch traffic matters more than catch-up speed on such a broker.
///
/// `fetch.queue.backoff.ms`: how long librdkafka postpones the next fetch of a partition whose local queue is over
/// its thresholds (`queued.min.messages`, `queued.max.messages.kbytes`, which still bound memory). Catching up, the
/// job drains the queues in bursts between join and model work, and with the default of 1 s a partition stayed
/// unfetched long after its queue had drained: the job waited 1.1 s for the consumer over a 200k-transaction
/// backlog (290 empty polls); at 10 ms, about 0.1 s (85 empty polls).
pub(crate) const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.partition.eof", "false"),
    ("fetch.wait.max.ms", "10"),
    ("fetch.queue.backoff.ms", "10"),
];

/// Next input position per topic-partition, as committed to a consumer group.
pub type Positions = std::collections::HashMap<(Arc<str>, i32), i64>;

/// How to reach a Kafka cluster.
#[derive(Debug, Clone, Default)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// Extra librdkafka properties, applied last so they override our defaults.
    pub properties: Vec<(String, String)>,
}

impl KafkaSettings {
    pub fn new(brokers: impl Into<String>) -> KafkaSettings {
        KafkaSettings { brokers: brokers.into(), properties: Vec::new() }
    }

    /// Parses `key=value` as given to `-X`.
    pub fn parse_property(kv: &str) -> Result<(String, String), EngineError> {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(EngineError::Config(format!("-X expects key=value (a librdkafka property), got `{kv}`"))),
        }
    }

    /// A consumer config: [`CONSUMER_DEFAULTS`], then `extra`, then the user's `-X` properties.
    pub fn consumer_config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut c = self.client_config(CONSUMER_DEFAULTS);
        for (k, v) in extra {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// A client config with our `defaults` (which the user's `-X` properties override).
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

impl EngineError {
    /// A Kafka client error, with what was being done.
    pub(crate) fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> EngineError {
        EngineError::Kafka { context: context.into(), source: Box::new(source) }
    }
}

/// A topic name for librdkafka's C API.
pub(crate) fn c_topic(topic: &str) -> Result<std::ffi::CString, EngineError> {
    std::ffi::CString::new(topic).map_err(|_| EngineError::Config(format!("topic name {topic:?} contains a NUL byte")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_as_key_value() {
        assert_eq!(
            KafkaSettings::parse_property("sasl.mechanisms=PLAIN").expect("ok"),
            ("sasl.mechanisms".to_string(), "PLAIN".to_string())
        );
        assert_eq!(KafkaSettings::parse_property("a=b=c").expect("ok").1, "b=c");
        assert!(KafkaSettings::parse_property("novalue").is_err());
        assert!(KafkaSettings::parse_property("=x").is_err());
    }

    #[test]
    fn user_properties_override_defaults() {
        let mut s = KafkaSettings::new("b:9092");
        s.properties.push(("linger.ms".into(), "50".into()));
        let c = s.client_config(&[("linger.ms", "5"), ("acks", "all")]);
        assert_eq!(c.get("linger.ms"), Some("50"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("bootstrap.servers"), Some("b:9092"));
    }
}
