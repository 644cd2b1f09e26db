//! Embedded-mode outputs: `scores.csv`, `alerts.jsonl` and `dead_letters.jsonl` in one directory.
//!
//! - `scores.csv`: one line per transaction, `TransactionID,score,label,identity_matched,event_time,join_wait_ms,
//!   latency_ms` (label = score ≥ threshold; the score is empty when the model failed and the run skips failures),
//!   then, with reasons on every score, `reason_1_feature,reason_1_value,reason_1_contribution,…`.
//! - `alerts.jsonl`: one JSON object per transaction at or above the threshold, with what an analyst looks at first
//!   and its `reasons` (see [`crate::reasons`]).
//! - `dead_letters.jsonl`: one JSON object per input that could not be used: `kind`, `reason`, `origin`, `payload`
//!   (the input as it was: a malformed CSV row's bytes, a message value), as text; when those bytes are not UTF-8,
//!   `payload` shows them with U+FFFD in place of the invalid bytes and `payload_base64` holds them exactly.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use fraudstream_data::Table;
use serde_json::json;

use super::Sink;
use crate::error::EngineError;
use crate::flow::{DeadLetter, Scored};
use crate::reasons;

/// Transaction columns an alert carries besides the score (they must be read even when the model does not use them).
pub const ALERT_COLUMNS: [&str; 5] = ["TransactionAmt", "ProductCD", "card4", "card6", "P_emaildomain"];

/// The three output files of an embedded run.
pub struct FileSinks {
    dir: PathBuf,
    scores: BufWriter<File>,
    alerts: BufWriter<File>,
    dead_letters: BufWriter<File>,
    model: String,
    /// Reason columns in `scores.csv` (0: none).
    score_reasons: usize,
    /// `scores_challenger.csv`, when a challenger scores beside the model (see [`FileSinks::with_challenger`]).
    challenger: Option<BufWriter<File>>,
    line: Vec<u8>,
}

/// Columns of `scores_challenger.csv`.
pub const CHALLENGER_HEADER: &str = "TransactionID,score,label,event_time\n";

fn create(dir: &Path, name: &str) -> Result<BufWriter<File>, EngineError> {
    let path = dir.join(name);
    File::create(&path).map(|f| BufWriter::with_capacity(1 << 20, f)).map_err(|source| EngineError::Io { path, source })
}

impl FileSinks {
    /// Creates (truncates) the three files in `dir`, which is created if missing. `model` names the model in alerts.
    pub fn create(dir: &Path, model: &str) -> Result<FileSinks, EngineError> {
        FileSinks::create_with_reasons(dir, model, 0)
    }

    /// As [`FileSinks::create`], with `score_reasons` reason columns in `scores.csv` (reasons on every score).
    pub fn create_with_reasons(dir: &Path, model: &str, score_reasons: usize) -> Result<FileSinks, EngineError> {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Io { path: dir.to_path_buf(), source })?;
        let mut sinks = FileSinks {
            dir: dir.to_path_buf(),
            scores: create(dir, "scores.csv")?,
            alerts: create(dir, "alerts.jsonl")?,
            dead_letters: create(dir, "dead_letters.jsonl")?,
            model: model.to_string(),
            score_reasons,
            challenger: None,
            line: Vec::with_capacity(256),
        };
        let header = format!(
            "TransactionID,score,label,identity_matched,event_time,join_wait_ms,latency_ms{}\n",
            reasons::csv_header(score_reasons)
        );
        sinks.scores.write_all(header.as_bytes()).map_err(|e| sinks.io("scores.csv", e))?;
        Ok(sinks)
    }

    /// Also writes a challenger's scores to `scores_challenger.csv` (created, truncated): `TransactionID`, its
    /// score, its label at the same threshold and the event time, for every transaction whose champion score is
    /// written.
    pub fn with_challenger(mut self) -> Result<FileSinks, EngineError> {
        let mut file = create(&self.dir, "scores_challenger.csv")?;
        file.write_all(CHALLENGER_HEADER.as_bytes()).map_err(|e| self.io("scores_challenger.csv", e))?;
        self.challenger = Some(file);
        Ok(self)
    }

    fn io(&self, name: &str, source: std::io::Error) -> EngineError {
        EngineError::Io { path: self.dir.join(name), source }
    }
}

impl Sink for FileSinks {
    fn write_score(&mut self, s: &Scored<'_>) -> Result<(), EngineError> {
        let tx = &s.joined.transaction;
        self.line.clear();
        let mut ryu = ryu::Buffer::new();
        let mut ints = itoa::Buffer::new();
        self.line.extend_from_slice(ints.format(tx.id()).as_bytes());
        self.line.push(b',');
        if let Some(score) = s.score {
            self.line.extend_from_slice(ryu.format(score).as_bytes());
        }
        self.line.extend_from_slice(if s.label { b",1," } else { b",0," });
        self.line.extend_from_slice(if s.joined.identity.is_some() { b"true," } else { b"false," });
        // `write!` into the reused line buffer: no allocation per row. Writing to a Vec cannot fail.
        let _ = write!(
            self.line,
            "{},{},{:.3}",
            tx.event_time(),
            ints.format(s.joined.join_wait.as_millis() as u64),
            s.latency_ms
        );
        reasons::write_csv_fields(&mut self.line, s.reasons, self.score_reasons);
        self.line.push(b'\n');
        if s.writes_score() {
            self.scores.write_all(&self.line).map_err(|e| self.io("scores.csv", e))?;
            if let Some(file) = &mut self.challenger {
                self.line.clear();
                self.line.extend_from_slice(ints.format(tx.id()).as_bytes());
                self.line.push(b',');
                if let Some(p) = s.challenger {
                    self.line.extend_from_slice(ryu.format(p).as_bytes());
                }
                let _ = writeln!(self.line, ",{},{}", u8::from(s.challenger_label), tx.event_time());
                let line = &self.line;
                file.write_all(line)
                    .map_err(|e| EngineError::Io { path: self.dir.join("scores_challenger.csv"), source: e })?;
            }
        }
        if s.writes_alert() {
            let c = Table::Transaction.catalog();
            let mut alert = json!({
                "TransactionID": tx.id(),
                "event_time": tx.event_time().to_string(),
                "score": s.score,
                "identity_matched": s.joined.identity.is_some(),
                "model": self.model,
            });
            for name in ALERT_COLUMNS {
                let col = c.col(name);
                alert[name] = match tx.row.value(col) {
                    fraudstream_data::Value::Null => serde_json::Value::Null,
                    fraudstream_data::Value::Int(v) => v.into(),
                    fraudstream_data::Value::Float(v) => v.into(),
                    fraudstream_data::Value::Str(v) => v.into(),
                };
            }
            if !s.reasons.is_empty() {
                alert["reasons"] = s.reasons.iter().map(reasons::Reason::to_json).collect();
            }
            serde_json::to_writer(&mut self.alerts, &alert).map_err(|e| self.io("alerts.jsonl", e.into()))?;
            self.alerts.write_all(b"\n").map_err(|e| self.io("alerts.jsonl", e))?;
        }
        Ok(())
    }

    fn write_dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError> {
        let mut value = json!({
            "kind": d.kind.name(),
            "reason": d.reason,
            "origin": d.origin.to_string(),
            "payload": String::from_utf8_lossy(&d.payload),
        });
        if std::str::from_utf8(&d.payload).is_err() {
            // JSON strings are text: bytes that are not UTF-8 (the very reason some rows are refused) would be lost.
            value["payload_base64"] = BASE64_STANDARD.encode(&d.payload).into();
        }
        serde_json::to_writer(&mut self.dead_letters, &value).map_err(|e| self.io("dead_letters.jsonl", e.into()))?;
        self.dead_letters.write_all(b"\n").map_err(|e| self.io("dead_letters.jsonl", e))
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        self.scores.flush().map_err(|e| EngineError::Io { path: self.dir.join("scores.csv"), source: e })?;
        self.alerts.flush().map_err(|e| EngineError::Io { path: self.dir.join("alerts.jsonl"), source: e })?;
        if let Some(file) = &mut self.challenger {
            file.flush().map_err(|e| EngineError::Io { path: self.dir.join("scores_challenger.csv"), source: e })?;
        }
        self.dead_letters.flush().map_err(|e| EngineError::Io { path: self.dir.join("dead_letters.jsonl"), source: e })
    }
}
