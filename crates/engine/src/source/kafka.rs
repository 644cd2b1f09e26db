//! The Kafka source: the `transactions` and `identities` topics, Avro values resolved through the Schema Registry.
//!
//! By default the consumer joins a consumer group, so several job instances share partitions and a failed
//! instance's partitions move to the survivors. With a static [`Assignment`] it reads fixed partitions instead
//! (like Flink's Kafka source), still committing offsets under the group id: for fixed deployments, and for
//! brokers whose group coordinator does not expire dead members. Offsets are not auto-committed:
//! the caller commits what it has fully processed (see [`KafkaSource::commit`]), which is what makes at-least-once
//! and, with idempotent output, exactly-once possible. Messages that do not decode become dead letters carrying
//! their original bytes and coordinates; an unreachable registry is an error, not a dead letter, because the data
//! itself is fine.

use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::avro::{decode_value, split_framed};
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::{DataError, Identity, Record, Table, Transaction};
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::{DeadLetter, Origin, Positions, Source, SourceEvent};
use crate::error::EngineError;
use crate::kafka::KafkaSettings;

/// Which topics to read and as which group.
#[derive(Debug, Clone)]
pub struct KafkaSourceConfig {
    pub kafka: KafkaSettings,
    /// Consumer group: membership (with [`Assignment::Group`]) and where offsets are committed (always).
    pub group: String,
    pub transactions_topic: String,
    pub identities_topic: String,
    pub assignment: Assignment,
}

/// How input partitions are given to this instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Assignment {
    /// Consumer-group membership: the group coordinator shares partitions among instances and rebalances.
    #[default]
    Group,
    /// These partition numbers of both topics (co-partitioned by TransactionID), no group membership.
    Static(Vec<i32>),
    /// Every partition of both topics, no group membership.
    All,
}

impl std::str::FromStr for Assignment {
    type Err = String;

    /// `group`, `all`, or a comma-separated list of partition numbers such as `0,1`.
    fn from_str(s: &str) -> Result<Assignment, String> {
        match s.trim() {
            "group" => Ok(Assignment::Group),
            "all" => Ok(Assignment::All),
            list => list
                .split(',')
                .map(|p| {
                    p.trim().parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| {
                        format!("`{p}` is not a partition number (expected `group`, `all` or a list such as `0,1`)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Assignment::Static),
        }
    }
}

/// Notes partition assignments, so the job can recover what other instances already scored.
struct RebalanceContext {
    reassigned: Arc<AtomicBool>,
}

impl ClientContext for RebalanceContext {
    /// librdkafka's periodic statistics carry each assigned partition's lag (high watermark − position): exported
    /// as `fraudstream_consumer_lag{topic, partition}`. Partitions not assigned here report −1 and are skipped.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!("fraudstream_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                        .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    fn post_rebalance(&self, _base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            tracing::info!("assigned {} input partitions", tpl.count());
            self.reassigned.store(true, Ordering::SeqCst);
        }
    }
}

/// Consumes both input topics as one [`Source`].
pub struct KafkaSource {
    consumer: BaseConsumer<RebalanceContext>,
    reassigned: Arc<AtomicBool>,
    registry: SchemaRegistry,
    transactions_topic: Arc<str>,
    identities_topic: Arc<str>,
    partitions: Vec<(Table, i32)>,
}

impl KafkaSource {
    pub fn new(config: &KafkaSourceConfig, registry: SchemaRegistry) -> Result<KafkaSource, EngineError> {
        let reassigned = Arc::new(AtomicBool::new(false));
        let consumer: BaseConsumer<RebalanceContext> = config
            .kafka
            .client_config(&[
                ("group.id", config.group.as_str()),
                ("enable.auto.commit", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
                // Per-partition consumer lag for the metrics (see `RebalanceContext::stats`).
                ("statistics.interval.ms", "5000"),
            ])
            .create_with_context(RebalanceContext { reassigned: reassigned.clone() })
            .map_err(|e| EngineError::kafka("creating a consumer", e))?;
        let topics = [config.transactions_topic.as_str(), config.identities_topic.as_str()];
        let counts = config.kafka.partition_counts(&topics)?;
        let mut partitions = Vec::new();
        for (table, count) in [Table::Transaction, Table::Identity].into_iter().zip(&counts) {
            let all = 0..count.unwrap_or(0);
            partitions.extend(all.filter(|p| config.assignment.includes(*p)).map(|p| (table, p)));
        }
        if config.assignment == Assignment::Group {
            consumer.subscribe(&topics).map_err(|e| EngineError::kafka("subscribing to the input topics", e))?;
        } else {
            if let Assignment::Static(wanted) = &config.assignment {
                let available = counts.iter().flatten().copied().min().unwrap_or(0);
                if let Some(missing) = wanted.iter().find(|p| **p >= available) {
                    return Err(EngineError::Config(format!(
                        "partition {missing} was assigned, but the input topics have {available} partitions"
                    )));
                }
            }
            // Start from the group's committed offsets (earliest where there are none).
            let mut tpl = TopicPartitionList::new();
            for (table, partition) in &partitions {
                tpl.add_partition_offset(topics[usize::from(*table == Table::Identity)], *partition, Offset::Stored)
                    .map_err(|e| EngineError::kafka("building the partition assignment", e))?;
            }
            consumer.assign(&tpl).map_err(|e| EngineError::kafka("assigning the input partitions", e))?;
            tracing::info!("statically assigned {} input partitions", tpl.count());
            // Recover what the output already holds, as after a group assignment.
            reassigned.store(true, Ordering::SeqCst);
        }
        Ok(KafkaSource {
            consumer,
            reassigned,
            registry,
            transactions_topic: config.transactions_topic.as_str().into(),
            identities_topic: config.identities_topic.as_str().into(),
            partitions,
        })
    }

    /// Commits the offsets of everything polled so far (synchronously).
    pub fn commit(&self) -> Result<(), EngineError> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => Ok(()),
            // Nothing consumed yet since the last commit.
            Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) => Err(EngineError::kafka("committing offsets", e)),
        }
    }

    fn decode(&self, table: Table, payload: &[u8]) -> Result<Record, DataError> {
        let (schema_id, datum) = split_framed(payload)?;
        let schema = self.registry.schema_by_id(schema_id)?;
        let (row, event_time) = decode_value(table, datum, &schema)?;
        Ok(match table {
            Table::Transaction => Record::Transaction(Transaction { row }),
            Table::Identity => Record::Identity(Identity { row, event_time }),
        })
    }
}

impl Assignment {
    fn includes(&self, partition: i32) -> bool {
        match self {
            Assignment::Group | Assignment::All => true,
            Assignment::Static(list) => list.contains(&partition),
        }
    }
}

impl Source for KafkaSource {
    fn take_reassigned(&mut self) -> bool {
        self.reassigned.swap(false, Ordering::SeqCst)
    }

    /// Every partition this instance may read: all of both topics in a group (each instance reads only some of
    /// them; the others stop holding the watermark back after the idle timeout), or the static assignment.
    fn partitions(&self) -> Vec<(Table, i32)> {
        self.partitions.clone()
    }

    fn group_metadata(&self) -> Option<rdkafka::consumer::ConsumerGroupMetadata> {
        self.consumer.group_metadata()
    }

    fn replayable(&self) -> bool {
        true
    }

    fn commit(&mut self, positions: &Positions) -> Result<(), EngineError> {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in positions {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| EngineError::kafka("building the offsets to commit", e))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => Ok(()),
            // A rebalance moved partitions away: the new owner continues from the last good commit.
            Err(e) => {
                tracing::warn!("committing offsets failed (will retry at the next checkpoint): {e}");
                Ok(())
            }
        }
    }

    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError> {
        let Some(msg) = self.consumer.poll(timeout) else { return Ok(SourceEvent::Idle) };
        let msg = msg.map_err(|e| EngineError::kafka("consuming", e))?;
        let topic = msg.topic();
        let (table, topic) = if topic == &*self.transactions_topic {
            (Table::Transaction, self.transactions_topic.clone())
        } else {
            (Table::Identity, self.identities_topic.clone())
        };
        let origin = Origin::Kafka { topic, partition: msg.partition(), offset: msg.offset() };
        let payload = msg.payload().unwrap_or_default();
        if payload.is_empty() {
            let reason = "empty message value (tombstone)".to_string();
            return Ok(SourceEvent::DeadLetter(DeadLetter { reason, origin, payload: Vec::new() }));
        }
        match self.decode(table, payload) {
            Ok(record) => Ok(SourceEvent::Record { record, origin }),
            Err(e @ (DataError::Avro { .. } | DataError::UnknownSchemaId { .. })) => {
                Ok(SourceEvent::DeadLetter(DeadLetter { reason: e.to_string(), origin, payload: payload.to_vec() }))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Assignment;

    #[test]
    fn assignments_parse() {
        assert_eq!("group".parse(), Ok(Assignment::Group));
        assert_eq!("all".parse(), Ok(Assignment::All));
        assert_eq!("0, 3".parse(), Ok(Assignment::Static(vec![0, 3])));
        let err = "0,x".parse::<Assignment>().unwrap_err();
        assert!(err.contains("`x`"), "{err}");
        assert!("-1".parse::<Assignment>().is_err());
    }
}
