//! Sources: where typed, event-timed records enter the engine.
//!
//! Two implementations share one contract, so every later stage (join, features, model, sinks) is written once:
//! - [`files::FileSource`] reads the Kaggle CSV files directly and merges them in event-time order (embedded mode,
//!   no broker);
//! - [`kafka::KafkaSource`] consumes the `transactions` and `identities` topics (Avro via the Schema Registry).
//!
//! [`prefetch::Prefetch`] runs any source on a reader thread of its own, with bounded read-ahead, and
//! [`recycle`] hands finished rows back to it for reuse.
//!
//! A source never drops input silently: what it cannot turn into a record (a malformed CSV row, undecodable Avro,
//! an unknown schema id, an identity whose transaction never came) is handed on as a [`DeadLetter`] with a reason.

pub mod files;
pub mod kafka;
mod merge;
pub mod order;
pub mod prefetch;
pub mod recycle;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::Record;

use crate::error::EngineError;

/// Where a record or dead letter came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: Arc<Path>, line: u64 },
    Kafka { topic: Arc<str>, partition: i32, offset: i64 },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Kafka { topic, partition, offset } => write!(f, "{topic}[{partition}]@{offset}"),
        }
    }
}

/// Input that could not become a record: the original bytes and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub reason: String,
    pub origin: Origin,
    /// The original message value or CSV line, as far as it is known.
    pub payload: Vec<u8>,
}

/// What a source yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    Record {
        record: Record,
        origin: Origin,
    },
    DeadLetter(DeadLetter),
    /// A record joined by the join stage of the repartitioned Kafka topology (see [`crate::repartition`]), with its
    /// origin in the internal topic.
    Joined(Box<crate::join::Joined>),
    /// Nothing arrived within the poll timeout (unbounded sources only).
    Idle,
    /// A bounded source is exhausted.
    End,
}

/// Next input position per topic-partition, as committed to a consumer group.
pub type Positions = std::collections::HashMap<(Arc<str>, i32), i64>;

/// A stream of input events. `poll` blocks for at most `timeout` on unbounded sources.
pub trait Source: Send {
    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError>;

    /// The partitions this source reads, per input (transactions / identities), known before they deliver
    /// anything; the watermark waits for each of them.
    fn partitions(&self) -> Vec<(fraudstream_data::Table, i32)> {
        Vec::new()
    }

    /// True once after the source was given new partitions (a consumer-group rebalance): records from them may
    /// already have been processed by another instance. A source may deliver nothing more until this has been
    /// called, so the caller can recover (read its output back, rebuild state) before the first new record.
    fn take_reassigned(&mut self) -> bool {
        false
    }

    /// Whether records not committed are delivered again by the next run (Kafka), so a stopped job may leave them.
    fn replayable(&self) -> bool {
        false
    }

    /// The consumer group's identity, for committing input offsets inside an output transaction (Kafka only).
    fn group_metadata(&self) -> Option<rdkafka::consumer::ConsumerGroupMetadata> {
        None
    }

    /// Hands every record this source delivered before its current starting positions to `f`, oldest first per
    /// partition, and returns how many: how the scoring stage rebuilds client state after a restart or rebalance.
    /// Sources without such a history hand over nothing.
    fn history(&mut self, _f: &mut dyn FnMut(crate::join::Joined)) -> Result<u64, EngineError> {
        Ok(0)
    }

    /// The way to hand finished rows back for reuse, for sources that parse into reusable rows (see [`recycle`]).
    /// There is one per source: the first call takes it.
    fn recycler(&mut self) -> Option<recycle::Recycler> {
        None
    }

    /// Lowers `positions` below records this source has read but not handed out in offset order (the internal
    /// topic's, held for event-time order): committing past them would lose them on a restart.
    fn limit_positions(&self, _positions: &mut Positions) {}

    /// Whether records are held back that later polls will deliver, so an idle-looking input is not at its end.
    fn holds_records(&self) -> bool {
        false
    }

    /// Records that everything before `positions` is fully processed (sources without positions ignore it).
    fn commit(&mut self, _positions: &Positions) -> Result<(), EngineError> {
        Ok(())
    }
}
