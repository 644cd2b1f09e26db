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

use std::time::Duration;

use crate::error::EngineError;
use crate::flow::{InputPartition, SourceEvent};

/// A stream of input events. `poll` blocks for at most `timeout` on unbounded sources.
pub trait Source: Send {
    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError>;

    /// The partitions this source reads, known before they deliver anything: the watermark waits for each of them
    /// (until it ends, see [`SourceEvent::PartitionEnd`], or idles).
    fn partitions(&self) -> Vec<InputPartition>;
}
