//! fraudstream-engine: the streaming job — sources, event time, the interval join, the feature and model steps,
//! sinks — in embedded mode (CSV files) and on Kafka, plus the ingest, batch scoring and the training replay that
//! run the same code.
//!
//! Records flow one way, and the modules follow them:
//!
//! | module | in | out |
//! |---|---|---|
//! | [`source`] | CSV files | [`flow::SourceEvent`]s in event-time order (read ahead on a thread of its own) |
//! | [`job`] | source events | each event moved through the steps below; checkpoints are the driver's |
//! | [`pacing`], [`watermark`] | records' event times | when a record may enter; how far event time has come |
//! | [`join`] | transactions, identities, watermarks | [`flow::Joined`] records, dead letters |
//! | [`features`] | joined records | the same with client (velocity) features filled |
//! | [`model_stage`] | joined records | scored micro-batches, in order (in-process or remote, [`scorer`]) |
//! | `write` | scored batches | scores, alerts, dead letters — each once — into a [`sink::Sink`] |
//! | [`sink`] | scores, alerts, dead letters | `scores.csv`, `alerts.jsonl`, `dead_letters.jsonl` |
//! | [`kafka`] | topics | the same job as a consumer group; the ingest (`produce`); the output topics |
//! | [`observe`] | what the steps count | progress counters, status for a dashboard, the run summary |
//! | [`quality`] | scores, labels | ROC AUC offline and online (delayed labels) |
//! | [`backtest`] | CSV files, a model | `TransactionID,score,label` through the stream's own source and mapping |
//! | [`replay`] | CSV files | every joined record's feature values, in the stream's order (training data) |
//!
//! [`flow`] defines what passes between the steps, so no step imports another to know its input.

pub mod backtest;
pub mod error;
pub mod features;
pub mod flow;
pub mod job;
pub mod join;
pub mod kafka;
mod metrics;
pub mod model_stage;
pub mod monitor;
pub mod observe;
pub mod pacing;
pub mod quality;
pub mod reasons;
pub mod replay;
pub mod reservoir;
pub mod scorer;
pub mod sink;
pub mod source;
pub mod watermark;
mod write;

pub use error::EngineError;
