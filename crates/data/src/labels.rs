//! The labels feed: the truth about a transaction, arriving long after it was scored.
//!
//! In production nobody knows at payment time whether a transaction is fraud. The answer comes later and from
//! elsewhere: a chargeback filed by the cardholder's bank (days to months later), an analyst's review, or — for the
//! vast majority — the absence of any complaint once the dispute window has closed. A fraud system therefore reads
//! labels as their own stream, keyed by TransactionID, and joins them to the scores it kept.
//!
//! - [`Label`]: one label (`TransactionID`, `isFraud`, `label_time`, and where it came from, [`LabelSource`]).
//! - CSV ([`LabelReader`], [`LabelWriter`]): `TransactionID,isFraud,label_time[,source]`, `label_time` as
//!   TransactionDT seconds (the transactions' own clock) or ISO-8601; bad lines reported and skipped like the
//!   transaction reader's.
//! - Avro for a `labels` topic ([`LABEL_VALUE_SCHEMA`], [`encode_label`], [`decode_label`]), keyed like the input
//!   topics by [`crate::avro::encode_key`]; see `docs/avro-schemas.md`.
//! - A generator ([`generate_labels`]) that turns a transactions file's `isFraud` into a realistic feed: chargeback
//!   delays, frauds never confirmed, a "no chargeback" horizon for legitimate payments and a small analyst sample.

mod avro;
mod csv;
mod feed;
mod time;

pub use avro::{decode_label, encode_label, label_value_schema, LABEL_VALUE_SCHEMA};
pub use csv::{FileLabelReader, LabelReader, LabelTimeFormat, LabelWriter};
pub use feed::{generate_labels, LabelFeedConfig, LabelFeedSummary};
pub use time::parse_label_time;

use std::fmt;

use crate::event_time::EventTime;

/// The truth about one transaction, as a labels feed delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The labelled transaction (IEEE-CIS `TransactionID`), also the Kafka key.
    pub transaction_id: i64,
    /// Whether it was fraud.
    pub is_fraud: bool,
    /// When the label became known (event time, not the transaction's time).
    pub label_time: EventTime,
    /// Who or what decided it.
    pub source: LabelSource,
}

/// Where a label came from; free text on the wire, so feeds can add their own sources.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LabelSource {
    /// A chargeback: the cardholder disputed the payment as fraud.
    Chargeback,
    /// An analyst reviewed the transaction.
    Analyst,
    /// Decided by a rule rather than a person or a dispute, e.g. "no chargeback within the dispute window, so
    /// legitimate", or a synthetic feed.
    Generated,
    /// Not stated (a CSV without a `source` column).
    #[default]
    Unknown,
    /// Any other source name.
    Other(Box<str>),
}

impl LabelSource {
    /// The wire name: `chargeback`, `analyst`, `generated`, `unknown` or the other name.
    pub fn as_str(&self) -> &str {
        match self {
            LabelSource::Chargeback => "chargeback",
            LabelSource::Analyst => "analyst",
            LabelSource::Generated => "generated",
            LabelSource::Unknown => "unknown",
            LabelSource::Other(s) => s,
        }
    }

    /// The source named `s` (empty = [`LabelSource::Unknown`]).
    pub fn parse(s: &str) -> LabelSource {
        match s {
            "chargeback" => LabelSource::Chargeback,
            "analyst" => LabelSource::Analyst,
            "generated" => LabelSource::Generated,
            "" | "unknown" => LabelSource::Unknown,
            other => LabelSource::Other(other.into()),
        }
    }
}

impl fmt::Display for LabelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
