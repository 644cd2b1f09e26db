//! Kafka outputs: `scores`, `alerts` and `dead-letters`.
//!
//! `scores` and `alerts` carry Avro values (schema [`SCORE_SCHEMA`], subjects `<topic>-value`) keyed like the input
//! topics (`TransactionKey`, murmur2-partitioned), so a score lands on the partition number of its transaction.
//! `dead-letters` carries the original input bytes as the value and, for input read from Kafka, the original
//! message key as its key and in the `source.key` header (the key survives a re-keying consumer), with the reason
//! and origin in headers (`reason`, `kind`, `source.topic`, `source.partition`, `source.offset`). The producer is idempotent; [`Sink::flush`]
//! waits until every message is acknowledged and fails if any was not, so offsets are only committed for durable
//! output.

use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::avro::{encode_key, write_header, KEY_SCHEMA};
use fraudstream_data::registry::{subject, SchemaRegistry};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

use super::delivery::{DeliveryTracker, OutputEnds, ProduceProgress};
use super::partitioner::partition_for_key;
use super::produce::PRODUCER_DEFAULTS;
use super::{KafkaSettings, Positions};
use crate::error::EngineError;
use crate::flow::{DeadLetter, Origin, Scored};
use crate::reasons::{Reason, ReasonValue};
use crate::sink::Sink;

/// Avro schema of the `scores` and `alerts` values.
pub const SCORE_SCHEMA: &str = r#"{"type":"record","name":"Score","namespace":"io.fraudstream.ieee","fields":[
{"name":"TransactionID","type":"long"},
{"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}},
{"name":"score","type":["null","double"],"doc":"probability of fraud; null when the model failed and the job skips failures"},
{"name":"label","type":"int","doc":"1 when score >= the alert threshold"},
{"name":"model","type":"string"},
{"name":"model_version","type":"string"},
{"name":"identity_matched","type":"boolean"},
{"name":"join_wait_ms","type":"long"},
{"name":"processing_latency_ms","type":"double"},
{"name":"reasons","type":["null",{"type":"array","items":{"type":"record","name":"Reason","fields":[
{"name":"feature","type":"string","doc":"model input: a column, calendar or client feature"},
{"name":"value","type":["null","double","string"],"doc":"the value the model saw; null when missing"},
{"name":"contribution","type":"double","doc":"exact Shapley contribution to the margin (log-odds)"}]}}],
"default":null,"doc":"largest contributions first; null when the transaction was not explained (added in schema version 2)"}]}"#;

/// One `scores` value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreRecord {
    #[serde(rename = "TransactionID")]
    pub transaction_id: i64,
    pub event_time: i64,
    pub score: Option<f64>,
    pub label: i32,
    pub model: String,
    pub model_version: String,
    pub identity_matched: bool,
    pub join_wait_ms: i64,
    pub processing_latency_ms: f64,
    /// Reason codes (see [`crate::reasons`]); absent in records written before they existed.
    #[serde(default)]
    pub reasons: Option<Vec<ReasonRecord>>,
}

/// One reason in a `scores` / `alerts` value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReasonRecord {
    pub feature: String,
    pub value: Option<ReasonValue>,
    pub contribution: f64,
}

impl From<&Reason> for ReasonRecord {
    fn from(r: &Reason) -> ReasonRecord {
        ReasonRecord { feature: r.feature.to_string(), value: r.value.clone(), contribution: r.contribution }
    }
}

/// Topic names and the model identity written into every score.
#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    pub kafka: KafkaSettings,
    pub scores_topic: String,
    pub alerts_topic: String,
    pub dead_letters_topic: String,
    /// Partitions of output topics this job creates.
    pub partitions: i32,
    pub replication: i32,
    pub model: String,
    pub model_version: String,
    pub flush_timeout: Duration,
    /// `Some(id)`: exactly-once through Kafka transactions — output and input offsets are committed together at
    /// each checkpoint, and consumers reading with `isolation.level=read_committed` never see output of a failed
    /// attempt. The id must be stable across restarts of one instance (a restart fences its predecessor) and
    /// distinct between instances running at once. `None`: idempotent producer, duplicates prevented by reading
    /// back the output on restart.
    pub transactional_id: Option<String>,
    /// The topic a challenger's scores go to (`--challenger`; e.g. `scores-challenger`) and the challenger's model
    /// name. Its records have the `scores` schema, without reasons, and are written with the champion's score (in
    /// the same transaction), so they are exactly once too.
    pub challenger: Option<ChallengerOutput>,
}

/// Where a challenger's scores go.
#[derive(Debug, Clone)]
pub struct ChallengerOutput {
    pub topic: String,
    /// The challenger's model name.
    pub model: String,
    /// The challenger's model version.
    pub model_version: String,
}

/// The three output topics (four with a challenger).
pub struct KafkaSinks {
    producer: ThreadedProducer<DeliveryTracker>,
    registry: SchemaRegistry,
    config: KafkaSinkConfig,
    encoder: ScoreEncoder,
    /// Partitions of `scores`, `alerts` and the challenger's topic (0 without one).
    partitions: [i32; 3],
    key: Vec<u8>,
    value: Vec<u8>,
}

impl KafkaSinks {
    /// Registers the schemas, creates missing topics and connects the producer.
    pub fn new(config: KafkaSinkConfig, registry: &SchemaRegistry) -> Result<KafkaSinks, EngineError> {
        let mut topics = vec![config.scores_topic.as_str(), config.alerts_topic.as_str()];
        topics.extend(config.challenger.as_ref().map(|c| c.topic.as_str()));
        let encoder = ScoreEncoder::register(registry, &topics)?;
        topics.push(config.dead_letters_topic.as_str());
        let counts = config.kafka.ensure_topics(&topics, config.partitions, config.replication)?;
        let tracker = DeliveryTracker::new(Arc::new(ProduceProgress::default()));
        let mut client = config.kafka.client_config(PRODUCER_DEFAULTS);
        if let Some(id) = &config.transactional_id {
            client.set("transactional.id", id);
        }
        for (topic, count) in topics.iter().zip(&counts) {
            tracker.watch(topic, &config.kafka.end_offsets(topic, *count)?);
        }
        let producer: ThreadedProducer<DeliveryTracker> =
            client.create_with_context(tracker).map_err(|e| EngineError::kafka("creating the output producer", e))?;
        if config.transactional_id.is_some() {
            producer.init_transactions(config.flush_timeout).map_err(|e| {
                EngineError::kafka(
                    "starting Kafka transactions (does the broker support them? see --processing-guarantee)",
                    e,
                )
            })?;
            producer.begin_transaction().map_err(|e| EngineError::kafka("beginning a transaction", e))?;
        }
        Ok(KafkaSinks {
            producer,
            registry: registry.clone(),
            encoder,
            partitions: [counts[0], counts[1], if config.challenger.is_some() { counts[2] } else { 0 }],
            config,
            key: Vec::with_capacity(16),
            value: Vec::with_capacity(128),
        })
    }

    pub(super) fn send(&self, record: BaseRecord<'_, [u8], [u8]>) -> Result<(), EngineError> {
        send(&self.producer, record)
    }

    pub(super) fn config(&self) -> &KafkaSinkConfig {
        &self.config
    }

    pub(super) fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }

    /// Where each partition of the output topics (and of any topic [`KafkaSinks::watch`]ed) ends, as far as this
    /// producer knows: past every message of ours acknowledged so far, and no earlier than where it ended when the
    /// job started writing.
    pub(super) fn output_ends(&self) -> OutputEnds {
        self.producer.context().ends()
    }

    /// Also notes where `topic`'s partitions end (an output written through [`KafkaSinks::send`]).
    pub(super) fn watch(&self, topic: &str, partitions: i32) -> Result<(), EngineError> {
        let starts = self.config.kafka.end_offsets(topic, partitions)?;
        self.producer.context().watch(topic, &starts);
        Ok(())
    }

    /// Commits everything written since the last call together with the input `positions`, as one Kafka
    /// transaction, and begins the next one; `false` when this output is not transactional (the caller then
    /// flushes and commits the input itself).
    pub(super) fn commit_transaction(
        &mut self,
        positions: &Positions,
        group: &rdkafka::consumer::ConsumerGroupMetadata,
    ) -> Result<bool, EngineError> {
        if self.config.transactional_id.is_none() {
            return Ok(false);
        }
        let mut offsets = rdkafka::TopicPartitionList::new();
        for ((topic, partition), offset) in positions {
            offsets
                .add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset))
                .map_err(|e| EngineError::kafka("building the offsets to commit", e))?;
        }
        let timeout = self.config.flush_timeout;
        let committed = (|| {
            if offsets.count() > 0 {
                self.producer.send_offsets_to_transaction(&offsets, group, timeout)?;
            }
            self.producer.commit_transaction(timeout)
        })();
        if let Err(e) = committed {
            // Abort so nothing of this attempt becomes visible; the input is re-read from the last commit.
            if let Err(abort) = self.producer.abort_transaction(timeout) {
                tracing::error!("aborting the failed transaction failed too: {abort}");
            }
            return Err(EngineError::kafka("committing the output transaction", e));
        }
        self.producer.begin_transaction().map_err(|e| EngineError::kafka("beginning a transaction", e))?;
        Ok(true)
    }
}

/// Hands one message to the producer, waiting while its queue is full.
fn send(producer: &ThreadedProducer<DeliveryTracker>, record: BaseRecord<'_, [u8], [u8]>) -> Result<(), EngineError> {
    let mut record = record;
    loop {
        match producer.send(record) {
            Ok(()) => {
                producer.context().progress().sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(());
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(EngineError::kafka("producing output", e)),
        }
    }
}

impl Sink for KafkaSinks {
    fn write_score(&mut self, s: &Scored<'_>) -> Result<(), EngineError> {
        let tx = &s.joined.transaction;
        let record = ScoreRecord {
            transaction_id: tx.id(),
            event_time: tx.event_time().millis(),
            score: s.score,
            label: i32::from(s.label),
            model: self.config.model.clone(),
            model_version: self.config.model_version.clone(),
            identity_matched: s.joined.identity.is_some(),
            join_wait_ms: s.joined.join_wait.as_millis() as i64,
            processing_latency_ms: s.latency_ms,
            reasons: (!s.reasons.is_empty()).then(|| s.reasons.iter().map(ReasonRecord::from).collect()),
        };
        self.encoder.encode(&record, &mut self.key, &mut self.value)?;
        let topics = [
            (self.config.scores_topic.as_str(), self.partitions[0]),
            (self.config.alerts_topic.as_str(), self.partitions[1]),
        ];
        // Every score goes to `scores`; an alert also to `alerts` (each unless already there).
        let wanted = [s.writes_score(), s.writes_alert()];
        for (&(topic, partitions), _) in topics.iter().zip(wanted).filter(|(_, wanted)| *wanted) {
            let rec = BaseRecord::to(topic)
                .key(&self.key[..])
                .payload(&self.value[..])
                .partition(partition_for_key(&self.key, partitions))
                .timestamp(record.event_time);
            self.send(rec)?;
        }
        if let (Some(challenger), true) = (&self.config.challenger, s.writes_score()) {
            let record = ScoreRecord {
                score: s.challenger,
                label: i32::from(s.challenger_label),
                model: challenger.model.clone(),
                model_version: challenger.model_version.clone(),
                reasons: None,
                ..record
            };
            self.encoder.encode(&record, &mut self.key, &mut self.value)?;
            let rec = BaseRecord::to(challenger.topic.as_str())
                .key(&self.key[..])
                .payload(&self.value[..])
                .partition(partition_for_key(&self.key, self.partitions[2]))
                .timestamp(record.event_time);
            self.send(rec)?;
        }
        Ok(())
    }

    fn write_dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError> {
        let mut headers = OwnedHeaders::new()
            .insert(Header { key: "reason", value: Some(d.reason.as_bytes()) })
            .insert(Header { key: "kind", value: Some(d.kind.name().as_bytes()) });
        if let Origin::Kafka { topic, partition, offset } = &d.origin {
            headers = headers
                .insert(Header { key: "source.topic", value: Some(topic.as_bytes()) })
                .insert(Header { key: "source.partition", value: Some(partition.to_string().as_bytes()) })
                .insert(Header { key: "source.offset", value: Some(offset.to_string().as_bytes()) });
        } else {
            headers = headers.insert(Header { key: "source", value: Some(d.origin.to_string().as_bytes()) });
        }
        if let Some(key) = &d.key {
            headers = headers.insert(Header { key: "source.key", value: Some(&key[..]) });
        }
        let mut rec =
            BaseRecord::<[u8], [u8]>::to(&self.config.dead_letters_topic).payload(&d.payload[..]).headers(headers);
        if let Some(key) = &d.key {
            rec = rec.key(&key[..]);
        }
        self.send(rec)
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        let flushed = flush_threaded(&self.producer, self.config.flush_timeout);
        let p = self.producer.context().progress();
        let (sent, acked, failed) = (
            p.sent.load(std::sync::atomic::Ordering::Relaxed),
            p.acked.load(std::sync::atomic::Ordering::Acquire),
            p.failed.load(std::sync::atomic::Ordering::Relaxed),
        );
        if flushed.is_err() || failed > 0 || acked != sent {
            let first_error = self
                .producer
                .context()
                .first_error()
                .or_else(|| flushed.err().map(|e| format!("flush did not complete: {e}")))
                .unwrap_or_else(|| "deliveries still outstanding".into());
            return Err(EngineError::Delivery { sent, acked, failed, unsent: 0, first_error });
        }
        Ok(())
    }
}

/// Waits until every message `producer` was given is delivered (or failed), at most `timeout`.
///
/// `Producer::flush` on a [`ThreadedProducer`] waits in steps of up to 100 ms for delivery reports on the calling
/// thread, which the producer's own thread serves instead: every flush took at least 100 ms, even when the broker
/// acknowledged everything within a millisecond — at a checkpoint a second, a tenth of a catch-up's time. This asks
/// librdkafka to send what it holds at once (a flush with no wait) and then checks about every millisecond.
fn flush_threaded<C: rdkafka::producer::ProducerContext>(
    producer: &ThreadedProducer<C>,
    timeout: Duration,
) -> KafkaResult<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            done => return done,
        }
    }
}

/// Score records in the Confluent wire format of the `scores` and `alerts` topics: the key and value schemas
/// registered under the topic's subjects, the key a `TransactionKey`, the value a [`ScoreRecord`].
pub struct ScoreEncoder {
    key_id: u32,
    score_id: u32,
    schema: serde_avro_fast::Schema,
}

impl ScoreEncoder {
    /// Registers the key and value schemas for `topics` (the same ids for each: a registry reuses the id of an
    /// identical schema).
    pub fn register(registry: &SchemaRegistry, topics: &[&str]) -> Result<ScoreEncoder, EngineError> {
        let (mut key_id, mut score_id) = (0, 0);
        for topic in topics {
            key_id = registry.register(&subject(topic, true), KEY_SCHEMA)?;
            score_id = registry.register(&subject(topic, false), SCORE_SCHEMA)?;
        }
        let schema = SCORE_SCHEMA
            .parse()
            .map_err(|e| EngineError::Config(format!("built-in score schema does not parse: {e}")))?;
        Ok(ScoreEncoder { key_id, score_id, schema })
    }

    /// Encodes `record`'s key and value into `key` and `value` (cleared first).
    pub fn encode(&self, record: &ScoreRecord, key: &mut Vec<u8>, value: &mut Vec<u8>) -> Result<(), EngineError> {
        key.clear();
        write_header(self.key_id, key);
        encode_key(record.transaction_id, key)?;
        value.clear();
        write_header(self.score_id, value);
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&self.schema);
        serde_avro_fast::to_datum(record, value, &mut config)
            .map_err(|e| EngineError::Config(format!("encoding a score: {e}")))?;
        Ok(())
    }
}

/// Writes `records` to the score topic `topic` (created with `partitions` partitions if missing) as the job writes
/// them — keyed and partitioned by TransactionID, timestamped with the event time — and waits until every one is
/// acknowledged; returns how many. For seeding a topic with scores made elsewhere (a backfill, or a test that
/// needs a long history).
pub fn write_scores(
    kafka: &KafkaSettings,
    registry: &SchemaRegistry,
    topic: &str,
    partitions: i32,
    records: impl IntoIterator<Item = ScoreRecord>,
) -> Result<u64, EngineError> {
    let encoder = ScoreEncoder::register(registry, &[topic])?;
    write_keyed(kafka, topic, partitions, "scores", records, |record, key, value| {
        encoder.encode(record, key, value)?;
        Ok(record.event_time)
    })
}

/// Writes `items` to `topic` (created with `partitions` partitions if missing) keyed and partitioned like the input
/// topics, and waits until every one is acknowledged; returns how many. `encode` fills one item's key and value and
/// returns its record timestamp (event time, ms).
pub(crate) fn write_keyed<T>(
    kafka: &KafkaSettings,
    topic: &str,
    partitions: i32,
    what: &str,
    items: impl IntoIterator<Item = T>,
    mut encode: impl FnMut(&T, &mut Vec<u8>, &mut Vec<u8>) -> Result<i64, EngineError>,
) -> Result<u64, EngineError> {
    let partitions = kafka.ensure_topics(&[topic], partitions, 1)?[0];
    let progress = Arc::new(ProduceProgress::default());
    let producer: ThreadedProducer<DeliveryTracker> = kafka
        .client_config(PRODUCER_DEFAULTS)
        .create_with_context(DeliveryTracker::new(progress.clone()))
        .map_err(|e| EngineError::kafka("creating a producer", e))?;
    let (mut key, mut value, mut written) = (Vec::new(), Vec::new(), 0u64);
    for item in items {
        let timestamp = encode(&item, &mut key, &mut value)?;
        let rec = BaseRecord::to(topic)
            .key(&key[..])
            .payload(&value[..])
            .partition(partition_for_key(&key, partitions))
            .timestamp(timestamp);
        send(&producer, rec)?;
        written += 1;
    }
    producer.flush(Duration::from_secs(120)).map_err(|e| EngineError::kafka(format!("flushing the {what}"), e))?;
    let failed = progress.failed.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        let first_error = producer.context().first_error().unwrap_or_default();
        return Err(EngineError::Delivery { sent: written, acked: written - failed, failed, unsent: 0, first_error });
    }
    Ok(written)
}

/// Decodes one Confluent-framed `scores` value.
pub fn decode_score(registry: &SchemaRegistry, payload: &[u8]) -> Result<ScoreRecord, EngineError> {
    let (schema_id, datum) = fraudstream_data::avro::split_framed(payload)?;
    let schema = registry.schema_by_id(schema_id)?;
    serde_avro_fast::from_datum_slice(datum, &schema)
        .map_err(|e| EngineError::Config(format!("undecodable score (schema id {schema_id}): {e}")))
}

#[cfg(test)]
mod tests {
    use fraudstream_testkit::schema_registry::FakeSchemaRegistry;

    use super::*;
    use crate::reasons::ReasonValue;

    /// The score schema before reasons (version 1), as records written by earlier versions carry it.
    const SCORE_SCHEMA_V1: &str = r#"{"type":"record","name":"Score","namespace":"io.fraudstream.ieee","fields":[
{"name":"TransactionID","type":"long"},
{"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}},
{"name":"score","type":["null","double"]},
{"name":"label","type":"int"},
{"name":"model","type":"string"},
{"name":"model_version","type":"string"},
{"name":"identity_matched","type":"boolean"},
{"name":"join_wait_ms","type":"long"},
{"name":"processing_latency_ms","type":"double"}]}"#;

    fn record(reasons: Option<Vec<ReasonRecord>>) -> ScoreRecord {
        ScoreRecord {
            transaction_id: 2987004,
            event_time: 86_506_000,
            score: Some(0.91),
            label: 1,
            model: "m".into(),
            model_version: "1".into(),
            identity_matched: true,
            join_wait_ms: 3,
            processing_latency_ms: 1.5,
            reasons,
        }
    }

    #[test]
    fn reasons_round_trip_and_records_of_the_first_schema_still_decode() {
        let fake = FakeSchemaRegistry::start();
        let registry = SchemaRegistry::new(fake.url(), None).expect("registry");
        let encoder = ScoreEncoder::register(&registry, &["alerts"]).expect("register");
        let (mut key, mut value) = (Vec::new(), Vec::new());
        encoder.encode(&record(Some(reasons())), &mut key, &mut value).expect("encode");
        assert_eq!(decode_score(&registry, &value).expect("decode"), record(Some(reasons())));
        // A value written with version 1 of the schema (no reasons field) reads as no reasons: the change is
        // backward compatible (a new field with a null default).
        let v1_id = registry.register("old-scores-value", SCORE_SCHEMA_V1).expect("register v1");
        let v1: serde_avro_fast::Schema = SCORE_SCHEMA_V1.parse().expect("v1 parses");
        let mut old = Vec::new();
        write_header(v1_id, &mut old);
        #[derive(serde::Serialize)]
        struct V1<'a> {
            #[serde(rename = "TransactionID")]
            transaction_id: i64,
            event_time: i64,
            score: Option<f64>,
            label: i32,
            model: &'a str,
            model_version: &'a str,
            identity_matched: bool,
            join_wait_ms: i64,
            processing_latency_ms: f64,
        }
        let old_record = V1 {
            transaction_id: 2987004,
            event_time: 86_506_000,
            score: Some(0.91),
            label: 1,
            model: "m",
            model_version: "1",
            identity_matched: true,
            join_wait_ms: 3,
            processing_latency_ms: 1.5,
        };
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&v1);
        serde_avro_fast::to_datum(&old_record, &mut old, &mut config).expect("encode v1");
        assert_eq!(decode_score(&registry, &old).expect("decode v1"), record(None));
    }

    fn reasons() -> Vec<ReasonRecord> {
        vec![
            ReasonRecord {
                feature: "TransactionAmt".into(),
                value: Some(ReasonValue::Number(59.0)),
                contribution: 1.25,
            },
            ReasonRecord {
                feature: "P_emaildomain".into(),
                value: Some(ReasonValue::Text("a.com".into())),
                contribution: 0.5,
            },
            ReasonRecord { feature: "dist1".into(), value: None, contribution: -0.125 },
        ]
    }
}
