//! Errors of the engine: each says which component, topic or file failed and what to do about it.

use fraudstream_data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Data(#[from] DataError),

    /// A Kafka client call failed (the client's error is the source; see [`crate::kafka`]).
    #[error("Kafka {context}: {source}")]
    Kafka { context: String, source: Box<dyn std::error::Error + Send + Sync> },

    #[error("{0}")]
    Config(String),

    /// The input lacks columns the model reads (see [`crate::source::required`]): refused at the start, before a
    /// single row is scored as if they were missing.
    #[error(
        "{input}: the model reads {} that the input does not have (renamed or dropped?), so every row would be \
         scored with {} missing; fix the input, or pass --allow-missing-columns to score anyway",
        crate::source::required::listed(columns),
        if columns.len() == 1 { "it" } else { "them" }
    )]
    MissingColumns { input: String, columns: Vec<String> },

    #[error(transparent)]
    Model(#[from] fraudstream_model::ModelError),

    /// A remote model endpoint failed a batch (after retries) or its circuit breaker is open. With
    /// `--on-model-error skip` the job dead-letters the batch and goes on; otherwise the run stops.
    #[error("{0}")]
    ModelEndpoint(String),

    #[error(transparent)]
    Feature(#[from] fraudstream_features::FeatureError),

    #[error("{path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },

    #[error(
        "delivery to Kafka failed after retries: {acked} of {sent} rows were acknowledged by the broker \
         ({failed} failed, {unsent} not sent); first failure: {first_error}"
    )]
    Delivery { sent: u64, acked: u64, failed: u64, unsent: u64, first_error: String },
}
