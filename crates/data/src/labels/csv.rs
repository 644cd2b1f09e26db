//! Labels as CSV: `TransactionID,isFraud,label_time[,source]`, columns found by header name.
//!
//! Reading follows the transaction reader's conventions ([`crate::csv_table`]): streaming, CRLF or LF, columns in
//! any order (others ignored), a malformed line reported as `file:line:column: reason` and skipped, reading stopped
//! with [`DataError::TooManyBadRows`] after `max_bad_rows` of them. `isFraud` is `0`/`1` (or `true`/`false`);
//! `label_time` is TransactionDT seconds or ISO-8601 ([`parse_label_time`]); `source` is optional.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::time::parse_label_time;
use super::{Label, LabelSource};
use crate::csv_split::RecordSplitter;
use crate::error::{BadRow, BadRowLog, DataError};

/// What the header of a labels file must name, for messages.
const TABLE: &str = "labels";

/// A streaming reader of a labels CSV.
pub struct LabelReader<R: BufRead> {
    path: PathBuf,
    records: RecordSplitter<R>,
    fields: usize,
    id: usize,
    is_fraud: usize,
    label_time: usize,
    source: Option<usize>,
    /// The rows skipped, and when to give up.
    bad: BadRowLog,
    labels_read: u64,
}

/// A [`LabelReader`] over a file on disk.
pub type FileLabelReader = LabelReader<BufReader<File>>;

impl FileLabelReader {
    /// Opens `path` and reads its header.
    pub fn open(path: impl AsRef<Path>, max_bad_rows: u64) -> Result<Self, DataError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        LabelReader::new(BufReader::with_capacity(1 << 16, file), path, max_bad_rows)
    }
}

impl<R: BufRead> LabelReader<R> {
    /// Reads from any buffered source; `path` is used in messages only.
    pub fn new(input: R, path: impl Into<PathBuf>, max_bad_rows: u64) -> Result<Self, DataError> {
        let path = path.into();
        let mut records = RecordSplitter::new(input);
        let header: Vec<String> = match records.next_record().map_err(|e| DataError::io(&path, e))? {
            None => return Err(DataError::EmptyFile { path }),
            Some(Err(e)) => return Err(DataError::BadHeader { path, reason: e.to_string() }),
            Some(Ok(())) => records.fields().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect(),
        };
        let find = |name: &str| header.iter().position(|h| h == name);
        for (i, name) in header.iter().enumerate() {
            if header[..i].contains(name) && !name.is_empty() {
                return Err(DataError::DuplicateColumn { path, column: name.clone() });
            }
        }
        let required = |column: &'static str| {
            find(column).ok_or_else(|| DataError::MissingColumn {
                path: path.clone(),
                column,
                table: TABLE,
                found: header.iter().take(8).cloned().collect::<Vec<_>>().join(","),
            })
        };
        let (id, is_fraud, label_time) = (required("TransactionID")?, required("isFraud")?, required("label_time")?);
        Ok(LabelReader {
            source: find("source"),
            fields: header.len(),
            bad: BadRowLog::new(path.clone(), max_bad_rows),
            path,
            records,
            id,
            is_fraud,
            label_time,
            labels_read: 0,
        })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Labels returned so far.
    pub fn labels_read(&self) -> u64 {
        self.labels_read
    }

    /// Malformed lines skipped so far.
    pub fn bad_count(&self) -> u64 {
        self.bad.count()
    }

    /// The first malformed lines (up to 100), for a final report.
    pub fn bad_rows(&self) -> &[BadRow] {
        self.bad.kept()
    }

    /// Malformed lines skipped since the last call, for a dead-letter output.
    pub fn drain_bad_rows(&mut self) -> Vec<BadRow> {
        self.bad.drain()
    }

    /// The next well-formed label, `None` at the end. Malformed lines are reported and skipped; more than
    /// `max_bad_rows` of them is an error.
    pub fn read_label(&mut self) -> Result<Option<Label>, DataError> {
        loop {
            let split = self.records.next_record().map_err(|e| DataError::io(&self.path, e))?;
            let line = self.records.line_number();
            let parsed = match split {
                None => return Ok(None),
                Some(Err(e)) => {
                    Err(BadRow::new(self.path.clone(), line, None, e.to_string(), self.records.raw_record()))
                }
                Some(Ok(())) => self.parse(line),
            };
            match parsed {
                Ok(label) => {
                    self.labels_read += 1;
                    return Ok(Some(label));
                }
                Err(bad) => self.report_bad(bad)?,
            }
        }
    }

    fn parse(&self, line: u64) -> Result<Label, BadRow> {
        let bad = |column: Option<&str>, reason: String| {
            BadRow::new(self.path.clone(), line, column.map(str::to_string), reason, self.records.raw_record())
        };
        if self.records.len() != self.fields {
            return Err(bad(None, format!("{} fields, the header has {}", self.records.len(), self.fields)));
        }
        let mut fields: [&[u8]; 4] = [b""; 4];
        for (i, f) in self.records.fields().enumerate() {
            let slot = match i {
                i if i == self.id => 0,
                i if i == self.is_fraud => 1,
                i if i == self.label_time => 2,
                i if Some(i) == self.source => 3,
                _ => continue,
            };
            fields[slot] = f;
        }
        let text = |slot: usize, column: &str| {
            std::str::from_utf8(fields[slot]).map(str::trim).map_err(|_| bad(Some(column), "not valid UTF-8".into()))
        };
        let id_text = text(0, "TransactionID")?;
        let transaction_id: i64 =
            id_text.parse().map_err(|_| bad(Some("TransactionID"), format!("`{id_text}` is not an integer")))?;
        let is_fraud = match text(1, "isFraud")? {
            "1" | "true" | "True" | "TRUE" => true,
            "0" | "false" | "False" | "FALSE" => false,
            other => return Err(bad(Some("isFraud"), format!("`{other}` is not 0 or 1"))),
        };
        let label_time = parse_label_time(text(2, "label_time")?).map_err(|reason| bad(Some("label_time"), reason))?;
        let source = match self.source {
            Some(_) => LabelSource::parse(text(3, "source")?),
            None => LabelSource::Unknown,
        };
        Ok(Label { transaction_id, is_fraud, label_time, source })
    }

    fn report_bad(&mut self, bad: BadRow) -> Result<(), DataError> {
        self.bad.report(bad, "label")
    }
}

impl<R: BufRead> Iterator for LabelReader<R> {
    type Item = Result<Label, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_label().transpose()
    }
}

/// How a [`LabelWriter`] writes `label_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelTimeFormat {
    /// TransactionDT seconds: the transactions' own clock, so a label file lines up with its transactions file
    /// at a glance. Sub-second parts are dropped.
    #[default]
    TransactionDt,
    /// RFC 3339 in UTC with milliseconds, e.g. `2017-12-20T03:04:05.000Z`.
    Iso8601,
}

/// Writes labels as CSV: header `TransactionID,isFraud,label_time,source`, then one line per label.
pub struct LabelWriter {
    path: PathBuf,
    out: BufWriter<File>,
    format: LabelTimeFormat,
    line: String,
}

impl LabelWriter {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: impl AsRef<Path>, format: LabelTimeFormat) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| DataError::io(&path, e))?;
        let mut w = LabelWriter { path, out: BufWriter::with_capacity(1 << 16, file), format, line: String::new() };
        w.put("TransactionID,isFraud,label_time,source\n")?;
        Ok(w)
    }

    /// Appends one label. A source name containing a comma, quote or line break is quoted.
    pub fn write(&mut self, label: &Label) -> Result<(), DataError> {
        use std::fmt::Write as _;
        self.line.clear();
        let time = match self.format {
            LabelTimeFormat::TransactionDt => label.label_time.to_transaction_dt().to_string(),
            LabelTimeFormat::Iso8601 => label.label_time.to_string(),
        };
        let source = label.source.as_str();
        let (id, fraud) = (label.transaction_id, u8::from(label.is_fraud));
        // Writing into a String cannot fail.
        let _ = if source.contains([',', '"', '\n', '\r']) {
            writeln!(self.line, "{id},{fraud},{time},\"{}\"", source.replace('"', "\"\""))
        } else {
            writeln!(self.line, "{id},{fraud},{time},{source}")
        };
        self.out.write_all(self.line.as_bytes()).map_err(|e| DataError::io(&self.path, e))
    }

    fn put(&mut self, text: &str) -> Result<(), DataError> {
        self.out.write_all(text.as_bytes()).map_err(|e| DataError::io(&self.path, e))
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<(), DataError> {
        self.out.flush().map_err(|e| DataError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_time::EventTime;

    fn read(text: &str, max_bad: u64) -> (Result<Vec<Label>, DataError>, Vec<String>) {
        let mut r = match LabelReader::new(text.as_bytes(), "labels.csv", max_bad) {
            Ok(r) => r,
            Err(e) => return (Err(e), Vec::new()),
        };
        let labels = r.by_ref().collect::<Result<Vec<_>, _>>();
        (labels, r.bad_rows().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn both_time_forms_any_column_order_crlf_and_an_optional_source() {
        let text = "label_time,isFraud,TransactionID\r\n86400,1,7\r\n2017-12-20T03:04:05Z,0,8\r\n";
        let (labels, bad) = read(text, 0);
        let labels = labels.expect("labels");
        assert!(bad.is_empty());
        assert_eq!(
            labels[0],
            Label {
                transaction_id: 7,
                is_fraud: true,
                label_time: EventTime::from_transaction_dt(86_400),
                source: LabelSource::Unknown
            }
        );
        assert_eq!(labels[1].label_time.to_string(), "2017-12-20T03:04:05.000Z");
        let (labels, _) = read("TransactionID,isFraud,label_time,source\n9,true,1,analyst\n", 0);
        assert_eq!(labels.expect("labels")[0].source, LabelSource::Analyst);
    }

    #[test]
    fn malformed_lines_name_file_line_and_field_and_are_skipped() {
        let text = "TransactionID,isFraud,label_time\n1,1,86400\nx,1,86400\n3,2,86400\n4,0,yesterday\n5,0\n6,0,86401\n";
        let (labels, bad) = read(text, 10);
        let ids: Vec<i64> = labels.expect("labels").iter().map(|l| l.transaction_id).collect();
        assert_eq!(ids, [1, 6]);
        assert_eq!(bad[0], "labels.csv:3:TransactionID: `x` is not an integer");
        assert_eq!(bad[1], "labels.csv:4:isFraud: `2` is not 0 or 1");
        assert!(bad[2].starts_with("labels.csv:5:label_time: `yesterday` is neither"), "{}", bad[2]);
        assert_eq!(bad[3], "labels.csv:6: 2 fields, the header has 3");
    }

    #[test]
    fn too_many_bad_lines_stop_reading_and_a_missing_column_is_named() {
        let (labels, _) = read("TransactionID,isFraud,label_time\nx,1,1\ny,1,1\n", 1);
        assert!(labels.unwrap_err().to_string().contains("2 malformed rows"));
        let (labels, _) = read("TransactionID,isFraud\n1,1\n", 0);
        let err = labels.unwrap_err().to_string();
        assert!(err.contains("labels.csv") && err.contains("`label_time`"), "{err}");
        let (labels, _) = read("", 0);
        assert!(matches!(labels, Err(DataError::EmptyFile { .. })));
    }
}
