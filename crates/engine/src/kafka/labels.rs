//! The `labels` topic: the delayed truth about transactions (chargebacks, analyst decisions), keyed by
//! TransactionID like the input topics, values in Avro ([`fraudstream_data::labels::LABEL_VALUE_SCHEMA`], see
//! `docs/avro-schemas.md`), record timestamps = label time.
//!
//! [`write_labels`] fills it (`fraudstream produce --labels`); [`LabelsReader`] follows it on a thread of its own
//! and hands labels to the job's monitoring through a channel ([`crate::monitor::LiveLabels`]). The reader is a
//! plain consumer in its own group (`<group>-labels`). When the job checkpoints (not in exactly-once mode), the job
//! commits the group's offsets itself, with each durable snapshot of its monitoring state: a restart restores the
//! snapshot and the feed resumes where that snapshot had taken it, so no label is lost or counted twice (labels read
//! again are passed over by position). Otherwise offsets are committed automatically and a restart starts the
//! monitoring over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fraudstream_data::avro::{encode_key, split_framed, write_header, KEY_SCHEMA};
use fraudstream_data::labels::{decode_label, encode_label, Label, LABEL_VALUE_SCHEMA};
use fraudstream_data::registry::{subject, SchemaRegistry};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::error::EngineError;
use crate::monitor::{FedLabel, LabelCommit};

use super::sink::write_keyed;
use super::KafkaSettings;

/// Labels waiting in the channel at most; the reader waits when the job is this far behind.
const CHANNEL_CAPACITY: usize = 65_536;

/// Registers the labels schemas under `topic`'s subjects and writes `labels` to it (created with `partitions`
/// partitions if missing), each keyed by its TransactionID with its label time as the record timestamp; returns
/// how many were acknowledged.
pub fn write_labels(
    kafka: &KafkaSettings,
    registry: &SchemaRegistry,
    topic: &str,
    partitions: i32,
    labels: &[Label],
) -> Result<u64, EngineError> {
    let key_id = registry.register(&subject(topic, true), KEY_SCHEMA)?;
    let value_id = registry.register(&subject(topic, false), LABEL_VALUE_SCHEMA)?;
    write_keyed(kafka, topic, partitions, "labels", labels, |label, key, value| {
        key.clear();
        write_header(key_id, key);
        encode_key(label.transaction_id, key)?;
        value.clear();
        write_header(value_id, value);
        encode_label(label, value)?;
        Ok(label.label_time.millis())
    })
}

/// A thread following the labels topic (see the module docs).
pub struct LabelsReader {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Records that were not labels (logged, skipped).
    pub bad: Arc<AtomicU64>,
}

impl LabelsReader {
    /// Starts following `topic` as consumer group `group` (from the earliest label the group has not read);
    /// labels arrive on the returned channel. With `job_commits` the group's offsets are committed only through the
    /// returned [`LabelCommit`] (see the module docs), else automatically.
    pub fn start(
        kafka: &KafkaSettings,
        registry: SchemaRegistry,
        topic: &str,
        group: &str,
        job_commits: bool,
    ) -> Result<(LabelsReader, Receiver<FedLabel>, Option<LabelCommit>), EngineError> {
        let consumer: BaseConsumer = kafka
            .consumer_config(&[
                ("group.id", group),
                ("enable.auto.commit", if job_commits { "false" } else { "true" }),
                ("auto.offset.reset", "earliest"),
                ("fetch.wait.max.ms", "100"),
            ])
            .create()
            .map_err(|e| EngineError::kafka("creating the labels consumer", e))?;
        consumer.subscribe(&[topic]).map_err(|e| EngineError::kafka(format!("subscribing to {topic}"), e))?;
        let consumer = Arc::new(consumer);
        let commit: Option<LabelCommit> = job_commits.then(|| {
            let (consumer, topic) = (consumer.clone(), topic.to_string());
            Arc::new(move |positions: &[(i32, i64)]| {
                // Only partitions this reader owns now: after a rebalance of `<group>-labels` another member commits
                // the others, and stale offsets here would move theirs.
                let owned =
                    consumer.assignment().map_err(|e| EngineError::kafka("listing the labels partitions", e))?;
                let owns = |p: i32| owned.elements_for_topic(&topic).iter().any(|e| e.partition() == p);
                let mut list = TopicPartitionList::new();
                for &(partition, offset) in positions.iter().filter(|(p, _)| owns(*p)) {
                    list.add_partition_offset(&topic, partition, Offset::Offset(offset))
                        .map_err(|e| EngineError::kafka(format!("committing {topic}[{partition}]"), e))?;
                }
                if list.count() == 0 {
                    return Ok(());
                }
                consumer
                    .commit(&list, CommitMode::Sync)
                    .map_err(|e| EngineError::kafka(format!("committing the positions of {topic}"), e))
            }) as LabelCommit
        });
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let bad = Arc::new(AtomicU64::new(0));
        let handle = std::thread::Builder::new()
            .name("labels-reader".into())
            .spawn({
                let (stop, bad, topic) = (stop.clone(), bad.clone(), topic.to_string());
                move || follow(&consumer, &registry, &topic, &tx, &stop, &bad)
            })
            .map_err(|e| EngineError::Config(format!("starting the labels reader: {e}")))?;
        Ok((LabelsReader { stop, handle: Some(handle), bad }, rx, commit))
    }
}

impl Drop for LabelsReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Polls `topic` until `stop`, sending each decoded label.
fn follow(
    consumer: &BaseConsumer,
    registry: &SchemaRegistry,
    topic: &str,
    tx: &SyncSender<FedLabel>,
    stop: &AtomicBool,
    bad: &AtomicU64,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else { continue };
        let message = match result {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("labels topic {topic}: {e}");
                continue;
            }
        };
        let label =
            split_framed(message.payload().unwrap_or_default()).map_err(|e| e.to_string()).and_then(|(id, datum)| {
                let schema = registry.schema_by_id(id).map_err(|e| e.to_string())?;
                decode_label(datum, &schema).map_err(|e| e.to_string())
            });
        let mut label = match label {
            Ok(label) => FedLabel { label, partition: message.partition(), offset: message.offset() },
            Err(reason) => {
                if bad.fetch_add(1, Ordering::Relaxed) < 5 {
                    tracing::warn!(
                        "labels topic {topic} partition {} offset {}: not a label ({reason}); skipped",
                        message.partition(),
                        message.offset()
                    );
                }
                continue;
            }
        };
        // Hand it over, waiting (and still honouring `stop`) while the job is behind.
        loop {
            match tx.try_send(label) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if !stop.load(Ordering::Relaxed) => {
                    label = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
    }
}
