//! Sources: where typed, event-timed records enter the engine.
//!
//! [`Source`] is the one contract every later step (event time, join, features, model, sinks) is written against.
//! The embedded implementation lives here: [`files::FileSource`] reads the Kaggle CSV files and merges them in
//! event-time order, [`prefetch::Prefetch`] runs it on a reader thread of its own with bounded read-ahead, and
//! [`recycle`] hands finished rows back to it for reuse. The Kafka sources, with their consumer-group duties, live
//! in [`crate::kafka`].
//!
//! A source never drops input silently: what it cannot turn into a record (a malformed CSV row, undecodable Avro,
//! an unknown schema id, an identity whose transaction never came) is handed on as a
//! [`DeadLetter`](crate::flow::DeadLetter) with a reason.

pub mod files;
pub mod prefetch;
pub mod recycle;
pub mod required;

use std::time::Duration;

use crate::error::EngineError;
use crate::flow::{InputPartition, SourceEvent};

/// A stream of input events. `poll` blocks for at most `timeout` on unbounded sources.
pub trait Source: Send {
    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError>;

    /// The partitions this source reads, known before they deliver anything: the watermark waits for each of them
    /// (until it ends, see [`SourceEvent::PartitionEnd`], or idles).
    fn partitions(&self) -> Vec<InputPartition>;

    /// The input partitions this source is behind on: it knows of records of theirs it has not delivered yet (on
    /// Kafka: consumer lag, or records held for event-time order). Files are never behind: they are read as fast
    /// as the job takes records, and their end is announced.
    fn backlog(&mut self) -> Backlog {
        Backlog::default()
    }
}

/// Where a source is behind (see [`Source::backlog`]).
///
/// Processing time may only release what waits for input that is caught up and silent: a partition that is behind
/// is never idle for the watermark, and no transaction leaves the join by `--max-wait` while any partition is
/// behind (its identity may be in the backlog). So a run over a backlog, at any speed, joins exactly as the same
/// records replayed from files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub behind: Vec<InputPartition>,
}

impl Backlog {
    /// Whether the source has delivered everything it knows of.
    pub fn caught_up(&self) -> bool {
        self.behind.is_empty()
    }
}
