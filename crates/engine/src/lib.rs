//! fraudstream-engine: moving IEEE-CIS records between files, Kafka and the stages of the streaming job.
//!
//! The layout follows the data flow:
//! - [`source`]: typed, event-timed records in — [`source::files::FileSource`] (both CSVs merged in event-time
//!   order; embedded mode) and [`source::kafka::KafkaSource`] (the two topics, Avro via the registry).
//! - [`watermark`]: per-partition event-time watermarks with idleness.
//! - [`join`]: the event-time LEFT interval join of transactions with identities.
//! - [`produce`]: the ingest path, CSV → Avro → Kafka, co-partitioned and paced in event time.
//! - [`run`]: the streaming job in embedded mode (files → join → features → model → file sinks).
//! - [`stage`]: the model stage — micro-batches, batches in flight, the model-error policy.
//! - [`scorer`]: the model stage's scoring seam: in-process ONNX, or a remote endpoint (Azure ML, KServe v2).
//! - [`sink`]: outputs (scores, alerts, dead letters).
//! - [`score`]: batch scoring of the CSV files through the same source and input mapping as the stream.
//! - [`quality`]: model quality measures (ROC AUC), offline and online from delayed labels.
//! - [`replay`]: training data from the stream's own pipeline (same join order, same client features).
//! - [`kafka`]: connection settings (`--brokers`, `-X key=value`) and topic administration.
//! - [`repartition`]: the Kafka job's internal topic of joined records, partitioned by card1 for client features.
//! - [`partitioner`]: the Java client's murmur2 key partitioner, so Java and Flink consumers agree with us.
//! - [`pacing`]: replaying event time at a speed-up or a fixed rate.

pub mod error;
pub mod join;
pub mod kafka;
mod metrics;
pub mod pacing;
pub mod partitioner;
pub mod produce;
pub mod quality;
pub mod repartition;
pub mod replay;
pub mod reservoir;
pub mod run;
pub mod score;
pub mod scorer;
pub mod sink;
pub mod source;
pub mod stage;
pub mod watermark;

pub use error::EngineError;
