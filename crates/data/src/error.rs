//! Errors of the data layer. Every variant names the file and, where there is one, the line and column.

use std::fmt;
use std::path::PathBuf;

/// A row that could not be read: where it is and why. Bad rows are skipped and reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub path: PathBuf,
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when the problem is in one field.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(c) = &self.column {
            write!(f, ":{c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: line 1 is not a usable header: {reason}")]
    BadHeader { path: PathBuf, reason: String },

    #[error("{path}: the header has no `{column}` column, which a {table} file must have (found: {found})")]
    MissingColumn { path: PathBuf, column: &'static str, table: &'static str, found: String },

    #[error("{path}: the file is empty (no header line)")]
    EmptyFile { path: PathBuf },

    #[error("{path}: column `{column}` appears twice in the header")]
    DuplicateColumn { path: PathBuf, column: String },

    #[error("{path}: {count} malformed rows, more than --max-bad-rows {max}; first: {first}")]
    TooManyBadRows { path: PathBuf, count: u64, max: u64, first: Box<BadRow> },

    #[error("Avro {context}: {message}")]
    Avro { context: String, message: String },

    #[error("Schema Registry {url}: schema id {id} is not registered (error_code 40403)")]
    UnknownSchemaId { url: String, id: u32 },

    #[error("Schema Registry {url}: {message}")]
    Registry { url: String, message: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io { path: path.into(), source }
    }
}
