//! The one error type of this crate.

use std::fmt;

/// Everything that can go wrong loading or running a model.
///
/// Load-time variants name the node, operator, domain and opset involved, so a model export problem can be fixed
/// without a debugger; run-time variants name the input or node whose data did not fit.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The path given to [`crate::Model::load`].
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The bytes are not a valid ONNX protobuf message.
    #[error("not a valid ONNX model (protobuf decode failed): {0}")]
    Decode(#[from] prost::DecodeError),
    /// The protobuf decoded but the model is structurally wrong (missing graph, dangling input, duplicate name, …).
    #[error("malformed model: {0}")]
    Malformed(String),
    /// A node uses an operator (or an opset version of it) this engine does not implement.
    #[error(
        "node '{node}': unsupported operator {domain}::{op} (opset {opset}); supported operators are: {supported}"
    )]
    UnsupportedOp {
        /// Node name (or its first output when unnamed).
        node: String,
        /// Operator type.
        op: String,
        /// Operator domain (`ai.onnx` for the default domain).
        domain: String,
        /// Opset version imported for that domain.
        opset: i64,
        /// Comma-separated list of `domain::Op` this engine supports.
        supported: String,
    },
    /// A node is supported but one of its attributes is missing, inconsistent or has a value we do not support.
    #[error("node '{node}' ({domain}::{op}, opset {opset}): {message}")]
    InvalidNode {
        /// Node name (or its first output when unnamed).
        node: String,
        /// Operator type.
        op: String,
        /// Operator domain.
        domain: String,
        /// Opset version imported for that domain.
        opset: i64,
        /// What is wrong.
        message: String,
    },
    /// A graph input/output or tensor uses a type this engine does not support.
    #[error("unsupported type for '{name}': {message}")]
    UnsupportedType {
        /// The value name.
        name: String,
        /// What the type is and why it is rejected.
        message: String,
    },
    /// A caller-supplied input does not match the model's declared input.
    #[error("input '{name}': {message}")]
    BadInput {
        /// The input name.
        name: String,
        /// What does not match (missing, wrong type, wrong shape, unknown name).
        message: String,
    },
    /// A node failed while running, typically because shapes or values of its inputs do not fit.
    #[error("node '{node}' ({op}) failed: {message}")]
    Run {
        /// Node name.
        node: String,
        /// Operator type.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// The convenience API was used on a model that does not have the expected outputs.
    #[error("{0}")]
    NotApplicable(String),
}

/// Result alias used throughout the crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Error raised inside an operator kernel; the plan runner attaches node name and operator type.
#[derive(Debug)]
pub(crate) struct OpError(pub String);

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shorthand for building an [`OpError`] from a format string.
macro_rules! op_err {
    ($($arg:tt)*) => { $crate::error::OpError(format!($($arg)*)) };
}
pub(crate) use op_err;

/// Result type of operator kernels.
pub(crate) type OpResult<T = ()> = std::result::Result<T, OpError>;
