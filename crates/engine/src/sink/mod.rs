//! Sinks: where scores, alerts and dead letters leave the job.
//!
//! - [`files::FileSinks`]: `scores.csv`, `alerts.jsonl`, `dead_letters.jsonl` (embedded mode).

pub mod files;
