//! Errors of the data layer. Every variant names the file and, where there is one, the line and column.

use std::fmt;
use std::path::PathBuf;

/// The most bytes of a bad row's text a [`BadRow`] keeps: enough for any real row (Kaggle rows are ~1.1 KB), bounded
/// so that a runaway record cannot fill memory or a dead-letter topic's message size.
pub const BAD_ROW_PAYLOAD_LIMIT: usize = 64 * 1024;

/// The bad rows one file reader has skipped: counted, the first [`KEPT_BAD_ROWS`] kept for a final report, each
/// handed out once for a dead-letter output, and more than `max` of them an error. Shared by every CSV reader, so
/// they all give up the same way.
#[derive(Debug, Clone)]
pub(crate) struct BadRowLog {
    path: PathBuf,
    max: u64,
    count: u64,
    kept: Vec<BadRow>,
    /// Bad rows not yet handed out by [`BadRowLog::drain`].
    undrained: Vec<BadRow>,
}

/// Bad rows a reader keeps for its final report (all are counted).
pub(crate) const KEPT_BAD_ROWS: usize = 100;

impl BadRowLog {
    pub fn new(path: PathBuf, max: u64) -> BadRowLog {
        BadRowLog { path, max, count: 0, kept: Vec::new(), undrained: Vec::new() }
    }

    /// Records a skipped row (`what`: "row", "label", … for the log line); past `max`, the error that stops the
    /// reader, naming the first one.
    pub fn report(&mut self, bad: BadRow, what: &str) -> Result<(), DataError> {
        tracing::warn!("skipping malformed {what} {bad}");
        self.count += 1;
        if self.kept.len() < KEPT_BAD_ROWS {
            self.kept.push(bad.clone());
        }
        self.undrained.push(bad);
        if self.count > self.max {
            return Err(DataError::TooManyBadRows {
                path: self.path.clone(),
                count: self.count,
                max: self.max,
                first: Box::new(self.kept[0].clone()),
            });
        }
        Ok(())
    }

    /// Rows skipped so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The first skipped rows (up to [`KEPT_BAD_ROWS`]).
    pub fn kept(&self) -> &[BadRow] {
        &self.kept
    }

    /// Rows skipped since the last call.
    pub fn drain(&mut self) -> Vec<BadRow> {
        std::mem::take(&mut self.undrained)
    }
}

/// A row that could not be read: where it is and why. Bad rows are skipped and reported, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub path: PathBuf,
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when the problem is in one field.
    pub column: Option<String>,
    pub reason: String,
    /// The row's raw bytes as they are in the file, without the final line end, cut at
    /// [`BAD_ROW_PAYLOAD_LIMIT`]: what a dead letter carries so the row can be inspected or replayed. Not
    /// necessarily UTF-8 (a row can be bad for not being UTF-8).
    pub payload: Vec<u8>,
}

impl BadRow {
    /// A bad row whose payload is the first [`BAD_ROW_PAYLOAD_LIMIT`] bytes of `raw`.
    pub fn new(path: PathBuf, line: u64, column: Option<String>, reason: String, raw: &[u8]) -> BadRow {
        let payload = raw[..raw.len().min(BAD_ROW_PAYLOAD_LIMIT)].to_vec();
        BadRow { path, line, column, reason, payload }
    }
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

    /// The header is another table's (or both tables merged); see [`crate::table_shape`].
    #[error("{path}: not {expected} file: {reason}")]
    WrongTable { path: PathBuf, expected: &'static str, reason: String },

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
