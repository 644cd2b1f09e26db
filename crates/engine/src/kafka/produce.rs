//! Ingest: the CSV files → Avro (Confluent wire format) → the `transactions` and `identities` topics.
//!
//! One process reads both files through the [`FileSource`], so records leave interleaved in event-time order (the
//! reference system's two racing scripts could not promise that). Each record is keyed by TransactionID with the
//! same key bytes on both topics and placed with the Java client's murmur2 partitioner, so the topics are
//! co-partitioned and Java/Flink consumers agree. The Kafka record timestamp is the event time.
//!
//! Delivery is tracked per message: the producer is idempotent (`enable.idempotence=true`, `acks=all`) and
//! librdkafka retries until `message.timeout.ms`. A message that still fails stops the run with an error that says
//! exactly how many rows the broker acknowledged — never a silent loss.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::avro::{encode_key, encode_value, value_schema_json, write_header, KEY_SCHEMA};
use fraudstream_data::registry::{subject, SchemaRegistry};
use fraudstream_data::{Record, Table};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};

use crate::error::EngineError;
use crate::flow::{DeadLetter, SourceEvent};
use crate::kafka::delivery::DeliveryTracker;
pub use crate::kafka::delivery::ProduceProgress;
use crate::kafka::partitioner::partition_for_key;
use crate::kafka::KafkaSettings;
use crate::pacing::{Pacer, Pacing};
use crate::source::files::{FileSource, FileSourceConfig, FileSourceStats};
use crate::source::Source;

/// Everything `fraudstream produce` needs.
#[derive(Debug, Clone)]
pub struct ProduceConfig {
    pub kafka: KafkaSettings,
    pub registry_url: String,
    /// `KEY:SECRET` for the registry's basic auth.
    pub registry_auth: Option<String>,
    pub transactions_topic: String,
    pub identities_topic: String,
    /// Partitions of topics this run creates.
    pub partitions: i32,
    pub replication: i32,
    pub pacing: Pacing,
    pub files: FileSourceConfig,
    /// How long to wait for outstanding deliveries at the end.
    pub flush_timeout: Duration,
}

/// The final account of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceSummary {
    pub transactions: u64,
    pub identities: u64,
    pub acked: u64,
    pub bad_rows: u64,
    pub orphan_identities: u64,
    pub partitions: i32,
    pub elapsed: Duration,
    /// Dead letters (bad rows, orphans): reported, not produced.
    pub dead_letters: Vec<DeadLetter>,
}

impl ProduceSummary {
    pub fn rows_per_sec(&self) -> f64 {
        (self.transactions + self.identities) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Producer defaults; `-X` properties override them.
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("linger.ms", "20"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "200000"),
    ("queue.buffering.max.kbytes", "1048576"),
    ("message.timeout.ms", "60000"),
];

/// Runs the ingest to the end of the files. `progress` may be read concurrently (e.g. by a progress bar).
pub fn produce(config: &ProduceConfig, progress: Arc<ProduceProgress>) -> Result<ProduceSummary, EngineError> {
    let started = Instant::now();
    let registry = SchemaRegistry::new(&config.registry_url, config.registry_auth.as_deref())?;
    let tx_topic = config.transactions_topic.as_str();
    let id_topic = config.identities_topic.as_str();
    let key_id = registry.register(&subject(tx_topic, true), KEY_SCHEMA)?;
    let key_id_b = registry.register(&subject(id_topic, true), KEY_SCHEMA)?;
    if key_id != key_id_b {
        // Different ids would give different key bytes, and so different partitions, for one TransactionID.
        return Err(EngineError::Config(format!(
            "the registry gave the key schema ids {key_id} and {key_id_b} for the two topics; \
             co-partitioning needs one id (a Confluent registry reuses ids for identical schemas)"
        )));
    }
    let tx_value_id = registry.register(&subject(tx_topic, false), &value_schema_json(Table::Transaction))?;
    let id_value_id = registry.register(&subject(id_topic, false), &value_schema_json(Table::Identity))?;

    let counts = config.kafka.ensure_topics(&[tx_topic, id_topic], config.partitions, config.replication)?;
    if counts[0] != counts[1] {
        return Err(EngineError::Config(format!(
            "{tx_topic} has {} partitions and {id_topic} has {}: they must match so a transaction and its identity \
             land on the same partition number",
            counts[0], counts[1]
        )));
    }
    let partitions = counts[0];

    let tracker = DeliveryTracker::new(progress.clone());
    let producer: ThreadedProducer<DeliveryTracker> = config
        .kafka
        .client_config(PRODUCER_DEFAULTS)
        .create_with_context(tracker)
        .map_err(|e| EngineError::kafka("creating the producer", e))?;

    let mut source = FileSource::open(&config.files)?;
    let mut pacer = Pacer::new(config.pacing);
    let mut dead_letters = Vec::new();
    let (mut key, mut value) = (Vec::with_capacity(16), Vec::with_capacity(8192));
    let mut stopped_early = false;
    loop {
        let (record, _origin) = match source.poll(Duration::ZERO)? {
            SourceEvent::Record { record, origin } => (record, origin),
            SourceEvent::DeadLetter(d) => {
                tracing::warn!("not produced: {} ({})", d.reason, d.origin);
                dead_letters.push(d);
                continue;
            }
            SourceEvent::Idle | SourceEvent::PartitionEnd(_) => continue,
            SourceEvent::End => break,
            SourceEvent::Joined(_) | SourceEvent::Seen(_) => {
                return Err(EngineError::Config("CSV files do not hold joined records".into()))
            }
        };
        if progress.failed.load(Ordering::Relaxed) > 0 {
            stopped_early = true;
            break;
        }
        pacer.wait(record.event_time());
        key.clear();
        write_header(key_id, &mut key);
        encode_key(record.transaction_id(), &mut key)?;
        value.clear();
        let (topic, table, row) = match &record {
            Record::Transaction(t) => (tx_topic, Table::Transaction, &t.row),
            Record::Identity(i) => (id_topic, Table::Identity, &i.row),
        };
        write_header(if table == Table::Transaction { tx_value_id } else { id_value_id }, &mut value);
        encode_value(table, row, record.event_time(), &mut value)?;
        let mut rec = BaseRecord::to(topic)
            .key(&key[..])
            .payload(&value[..])
            .partition(partition_for_key(&key, partitions))
            .timestamp(record.event_time().millis());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    // The queue drains as the broker acknowledges; the delivery thread polls for us.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(EngineError::kafka(format!("sending to {topic}"), e)),
            }
        }
        progress.sent.fetch_add(1, Ordering::Relaxed);
    }

    let flushed = producer.flush(config.flush_timeout);
    let sent = progress.sent.load(Ordering::Relaxed);
    let acked = progress.acked.load(Ordering::Relaxed);
    let failed = progress.failed.load(Ordering::Relaxed);
    let stats: FileSourceStats = source.stats().clone();
    if failed > 0 || flushed.is_err() || stopped_early || acked != sent {
        let first_error = producer
            .context()
            .first_error()
            .or_else(|| flushed.err().map(|e| format!("flush did not complete: {e}")))
            .unwrap_or_else(|| "deliveries still outstanding".into());
        let total = stats.transactions + stats.identities;
        return Err(EngineError::Delivery { sent, acked, failed, unsent: total.saturating_sub(sent), first_error });
    }
    Ok(ProduceSummary {
        transactions: stats.transactions,
        identities: stats.identities,
        acked,
        bad_rows: stats.bad_rows,
        orphan_identities: stats.orphan_identities,
        partitions,
        elapsed: started.elapsed(),
        dead_letters,
    })
}
