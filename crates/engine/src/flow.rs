//! What flows between the operators: every record type one step hands to the next, defined once here so that no
//! operator module imports another to learn the shape of its input.
//!
//! ```text
//! source ──SourceEvent──► event time + join ──JoinOutput──► features ──Joined──► model ──Scored──► sinks
//!                                                  └──────────────DeadLetter──────────────────────► sinks
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::{Identity, Record, Table, Transaction};

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

/// Input that could not become a record, or a record the join could not use: the original bytes and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// What went wrong, for counting and routing; `reason` says it in words.
    pub kind: DeadLetterKind,
    pub reason: String,
    pub origin: Origin,
    /// The original message value or CSV line, as far as it is known: the bytes as they came, not necessarily
    /// UTF-8 (a row can be unreadable for not being UTF-8), so the input can be inspected or replayed as it was.
    pub payload: Vec<u8>,
    /// The original Kafka message key, for input read from Kafka: the dead-letters topic keeps it (as the key and
    /// a header) so a fixed record can be produced back to its partition. `None` for files and for records the
    /// join or the model refused (their payload is re-encoded, not the original message).
    pub key: Option<Vec<u8>>,
}

/// The kinds of dead letter, each counted in the run summary and named in the dead letter itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeadLetterKind {
    /// Input that does not parse or decode: a malformed CSV row, undecodable Avro, an unknown schema, a tombstone.
    Unreadable,
    /// An identity whose transaction never came (within the join window, or in the file).
    NoTransaction,
    /// A second identity of a transaction.
    DuplicateIdentity,
    /// An identity that arrived after its transaction left the join without one.
    AfterEmit,
    /// An identity outside its transaction's join window.
    OutsideWindow,
    /// An identity behind the watermark by more than the join window.
    LateIdentity,
    /// A transaction the model failed on (`--on-model-error skip`).
    ModelError,
}

impl DeadLetterKind {
    /// The name in summaries, files and the `kind` header of the dead-letters topic.
    pub fn name(self) -> &'static str {
        match self {
            DeadLetterKind::Unreadable => "unreadable",
            DeadLetterKind::NoTransaction => "no_transaction",
            DeadLetterKind::DuplicateIdentity => "duplicate_identity",
            DeadLetterKind::AfterEmit => "after_emit",
            DeadLetterKind::OutsideWindow => "outside_window",
            DeadLetterKind::LateIdentity => "late_identity",
            DeadLetterKind::ModelError => "model_error",
        }
    }
}

/// One input partition for event time: the input (transactions or identities) and its partition number (0 for a
/// file).
pub type InputPartition = (Table, i32);

/// What a source yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    Record {
        record: Record,
        origin: Origin,
    },
    DeadLetter(DeadLetter),
    /// A record joined by the join stage of the repartitioned Kafka topology, with its origin in the internal
    /// topic: it goes straight to the features and the model.
    Joined(Box<Joined>),
    /// A joined record scored before a restart, delivered again only so the client state counts it (the scoring
    /// stage's rebuild, see [`crate::kafka::order`]): not scored or written again.
    Seen(Box<Joined>),
    /// This input partition will deliver nothing more (the end of a file): it stops holding the watermark back.
    PartitionEnd(InputPartition),
    /// Nothing arrived within the poll timeout (unbounded sources only).
    Idle,
    /// A bounded source is exhausted.
    End,
}

/// A transaction with its identity (if one joined), ready for the feature and model steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub transaction: Transaction,
    pub identity: Option<Identity>,
    pub origin: Origin,
    /// When the transaction entered the job (processing time), for end-to-end latency.
    pub arrived: Instant,
    /// How long the transaction waited in the join.
    pub join_wait: Duration,
    /// Client (velocity) feature values, filled by the feature step; empty until then.
    pub client: Box<[f64]>,
}

impl Joined {
    /// The record as the feature code reads it.
    pub fn feature_row(&self) -> fraudstream_features::FeatureRow<'_> {
        fraudstream_features::FeatureRow::new(&self.transaction, self.identity.as_ref()).with_client(&self.client)
    }
}

/// What the join emits.
#[derive(Debug, Clone)]
pub enum JoinOutput {
    Joined(Box<Joined>),
    DeadLetter(DeadLetter),
}

/// A scored transaction as the sinks write it.
pub struct Scored<'a> {
    pub joined: &'a Joined,
    /// `None` when the model failed and the run skips failures (`--on-model-error skip`).
    pub score: Option<f64>,
    /// Score at or above the alert threshold.
    pub label: bool,
    pub latency_ms: f64,
    /// The output already holds this transaction's score (written before a restart): only a missing alert is
    /// written.
    pub score_written: bool,
    /// The output already holds this transaction's alert.
    pub alert_written: bool,
    /// Reason codes, when the scorer gave them (see [`crate::reasons`]).
    pub reasons: &'a [crate::reasons::Reason],
    /// The challenger's score (`--challenger`), written beside the champion's and raising nothing.
    pub challenger: Option<f64>,
    /// The challenger's score is at or above the alert threshold (it raises no alert; for comparison).
    pub challenger_label: bool,
}

impl Scored<'_> {
    /// Whether the score is to be written now.
    pub fn writes_score(&self) -> bool {
        !self.score_written
    }

    /// Whether an alert is to be written now: the score is at or above the threshold and no alert is out yet.
    pub fn writes_alert(&self) -> bool {
        self.label && !self.alert_written
    }
}
