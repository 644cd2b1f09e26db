//! The one error type of this crate.

/// Everything that can go wrong building a dataset, training or exporting.
///
/// Each variant says what was wrong with the input and, where it helps, what to do about it: a trainer run from the
/// command line should fail with a sentence, not a panic or a model that silently learned nothing.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A row's value count differs from the feature set's length.
    #[error("row {row} has {got} values but the feature set has {expected} features")]
    RowWidth {
        /// Zero-based row index (in push order).
        row: usize,
        /// Values given.
        got: usize,
        /// Features in the set.
        expected: usize,
    },
    /// A string was given for a numeric feature or a number for a categorical one.
    #[error("row {row}: feature `{feature}` is {expected}, got {got}")]
    ValueKind {
        /// Zero-based row index.
        row: usize,
        /// Feature name.
        feature: String,
        /// What the feature holds ("numeric" or "categorical").
        expected: &'static str,
        /// What was given.
        got: &'static str,
    },
    /// A label that is not 0 or 1 (NaN included).
    #[error("row {row}: label {label} is not 0 or 1 (missing labels must be dropped before training)")]
    BadLabel {
        /// Zero-based row index.
        row: usize,
        /// The value given.
        label: f64,
    },
    /// The same feature name twice: the exported model has one graph input per name.
    #[error("feature `{0}` appears twice in the feature set; every feature needs its own name")]
    DuplicateFeature(String),
    /// Data given to a trained model does not have the model's features in the model's order.
    #[error("the data's features do not match the model's: {0}")]
    FeatureMismatch(String),
    /// The feature set is empty.
    #[error("the feature set is empty: nothing to train on")]
    NoFeatures,
    /// No rows at all, or none left for training after the validation split.
    #[error("no rows to train on ({0})")]
    NoRows(String),
    /// The training part has only one class, so there is nothing to separate.
    #[error(
        "the training part has only one class ({positives} positives in {rows} rows); a fraud model needs both \
         fraud and legitimate rows"
    )]
    SingleClass {
        /// Training rows.
        rows: usize,
        /// Positive rows among them.
        positives: usize,
    },
    /// Early stopping was asked for, but there is no usable validation part.
    #[error("early stopping needs a validation part with both classes: {0}")]
    NoValidation(String),
    /// A parameter outside its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    BadParam {
        /// Parameter name as in [`crate::TrainParams`].
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// The valid range.
        reason: &'static str,
    },
    /// The rayon thread pool for training could not be built.
    #[error("cannot start {threads} training threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// rayon's message.
        message: String,
    },
    /// A model description (model.json) could not be read or written.
    #[error("model description: {0}")]
    Json(#[from] serde_json::Error),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
}

/// `Result` with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;
