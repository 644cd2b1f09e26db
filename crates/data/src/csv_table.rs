//! Reading and writing the Kaggle CSV files.
//!
//! Reading maps columns by header name, so it accepts what people actually have: train and test files (test
//! identity columns are spelled `id-01`), an extra unnamed pandas index column, CRLF line ends, any column order,
//! and missing optional columns (read as missing values). It streams: one row in memory at a time.
//!
//! A file of the other table (or both merged) is refused at the header (see [`crate::table_shape`]); which columns
//! the header has is exposed ([`TableReader::has_column`]) so a caller can refuse a file that lacks a column it needs.
//!
//! A malformed row is reported as `file:line:column: reason`, with its raw bytes, and skipped; after `max_bad_rows`
//! of them reading stops with [`DataError::TooManyBadRows`]. A malformed row costs that row only: broken quoting
//! included (see [`crate::csv_split`]). What makes a row malformed:
//! - CSV syntax (quotes, field count), wherever in the line it is;
//! - a value of a column the reader reads that breaks the [value rules](crate::value_rules) (not a number, not an
//!   exact integer, TransactionDT out of range, `inf`), or text that is not UTF-8;
//! - a required value (TransactionID, TransactionDT) that is missing.
//!
//! Columns a projection leaves unread are counted, not parsed: what they hold (junk, non-UTF-8 bytes) never reaches
//! a row, a score or an output, so it does not make the row bad. Only syntax is checked over the whole line.
//!
//! Writing produces exactly the Kaggle format: integers without a decimal point, floats as pandas writes them
//! (`150.0`, `68.5`), missing values as empty fields.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::catalog::{canonical_name, Catalog, Column, ColumnType, Table};
use crate::csv_split::RecordSplitter;
use crate::error::{BadRow, BadRowLog, DataError};
#[cfg(test)]
use crate::number_text::parse_number;
use crate::number_text::{parse_number_with, shown};
use crate::record::Row;
use crate::value_rules::NumberRule;

/// A streaming reader of one Kaggle table.
pub struct TableReader<R: BufRead> {
    path: PathBuf,
    catalog: &'static Catalog,
    records: RecordSplitter<R>,
    /// The header's names (catalog spelling where they are catalog columns), to name fields in messages.
    header: Vec<String>,
    /// For each field of the file: the catalog column it fills, or `None` for ignored fields.
    field_to_column: Vec<Option<usize>>,
    /// For each catalog column: whether the header has it, whatever the projection reads.
    present: Vec<bool>,
    /// For each field of the file: what parsing does with it (from `field_to_column`, resolved once).
    targets: Vec<Target>,
    /// Catalog indexes of the required columns, checked in every row.
    required: Vec<usize>,
    /// The rows skipped, and when to give up.
    bad: BadRowLog,
    rows_read: u64,
    last_line: u64,
}

/// A [`TableReader`] over a file on disk.
pub type FileTableReader = TableReader<BufReader<File>>;

impl FileTableReader {
    /// Opens `path` as a file of `table`, reading and checking its header.
    pub fn open(path: impl AsRef<Path>, table: Table, max_bad_rows: u64) -> Result<Self, DataError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        TableReader::new(BufReader::with_capacity(1 << 20, file), path, table, max_bad_rows)
    }
}

impl<R: BufRead> TableReader<R> {
    /// Reads from any buffered byte source; `path` is used in messages only.
    pub fn new(input: R, path: impl Into<PathBuf>, table: Table, max_bad_rows: u64) -> Result<Self, DataError> {
        let path = path.into();
        let catalog = table.catalog();
        let mut records = RecordSplitter::new(input);
        let header: Vec<String> = match records.next_record().map_err(|e| DataError::io(&path, e))? {
            None => return Err(DataError::EmptyFile { path }),
            Some(Err(e)) => {
                return Err(DataError::BadHeader { path, reason: e.to_string() });
            }
            Some(Ok(())) => {
                let mut names = Vec::with_capacity(records.len());
                for (i, f) in records.fields().enumerate() {
                    let Ok(name) = std::str::from_utf8(f) else {
                        let reason = format!("the name of column {} (`{}`) is not valid UTF-8", i + 1, shown(f));
                        return Err(DataError::BadHeader { path, reason });
                    };
                    names.push(canonical_name(name).into_owned());
                }
                names
            }
        };
        let field_to_column = map_header(&path, catalog, &header)?;
        let mut present = vec![false; catalog.columns().len()];
        for &i in field_to_column.iter().flatten() {
            present[i] = true;
        }
        let targets = targets(catalog, &field_to_column);
        records.set_field_limit(located_fields(&field_to_column));
        records.set_expected_fields(header.len());
        Ok(TableReader {
            bad: BadRowLog::new(path.clone(), max_bad_rows),
            path,
            catalog,
            records,
            header,
            field_to_column,
            present,
            targets,
            required: catalog.columns().iter().enumerate().filter(|(_, c)| c.required).map(|(i, _)| i).collect(),
            rows_read: 0,
            last_line: 1,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file's header has `column` (looked up by name in this reader's table), whether or not a
    /// projection reads it.
    ///
    /// Optional columns may be absent from a file and then read as missing in every row. That is right for a file
    /// that never had them, and wrong for a caller that needs them: a model fed a renamed `TransactionAmt` as
    /// missing scores every row differently without any error. Such a caller checks its inputs here (or with
    /// [`TableReader::absent_columns`]) and refuses to start.
    pub fn has_column(&self, column: &Column) -> bool {
        self.catalog.index(column.name).is_some_and(|i| self.present[i])
    }

    /// The catalog columns the header has, in catalog order.
    pub fn present_columns(&self) -> impl Iterator<Item = &'static Column> + '_ {
        let columns: &'static [Column] = self.catalog.columns();
        columns.iter().zip(&self.present).filter(|(_, &p)| p).map(|(c, _)| c)
    }

    /// Of `names` (catalog spellings, e.g. a model's inputs), those that are columns of this reader's table but are
    /// absent from the file's header, in the order given. Names of the other table or of derived features are not
    /// this file's business and are left out.
    pub fn absent_columns<'a, S: AsRef<str>>(&self, names: &'a [S]) -> Vec<&'a str> {
        names.iter().map(AsRef::as_ref).filter(|n| self.catalog.index(n).is_some_and(|i| !self.present[i])).collect()
    }

    /// Parses only the named columns (and the required ones) from here on; the others read as missing. Names use
    /// the catalog spelling; names of other tables or derived features are ignored. Fields after the last kept
    /// column are counted but not split. Call it before reading into reused rows (see `read_row_into`).
    pub fn project(&mut self, keep: &[String]) {
        let columns = self.catalog.columns();
        let keep: std::collections::HashSet<usize> = keep.iter().filter_map(|n| self.catalog.index(n)).collect();
        for target in &mut self.field_to_column {
            if let Some(i) = *target {
                if !columns[i].required && !keep.contains(&i) {
                    *target = None;
                }
            }
        }
        self.targets = targets(self.catalog, &self.field_to_column);
        self.records.set_field_limit(located_fields(&self.field_to_column));
    }

    /// Rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Malformed rows skipped so far.
    pub fn bad_count(&self) -> u64 {
        self.bad.count()
    }

    /// The first bad rows (up to 100), for a final report.
    pub fn bad_rows(&self) -> &[BadRow] {
        self.bad.kept()
    }

    /// Bad rows skipped since the last call, so a pipeline can route each to its dead-letter output.
    pub fn drain_bad_rows(&mut self) -> Vec<BadRow> {
        self.bad.drain()
    }

    /// The line number of the row last returned by [`TableReader::read_row`] or [`TableReader::read_row_into`].
    pub fn last_line(&self) -> u64 {
        self.last_line
    }

    /// The next well-formed row, `None` at end of file. Malformed rows are reported and skipped.
    pub fn read_row(&mut self) -> Result<Option<Row>, DataError> {
        let mut row = Row::empty(self.catalog);
        Ok(self.read_row_into(&mut row)?.then_some(row))
    }

    /// Like [`TableReader::read_row`], but fills `row` in place and returns whether there was one.
    ///
    /// A streaming job reads hundreds of thousands of rows per second; allocating (and, on another thread, freeing)
    /// a full-width row for each one costs more than parsing it. Handing finished rows back here reuses their
    /// buffers, and a string value equal to the one already in its slot (`W`, `visa`, `T`) is kept, not copied.
    ///
    /// `row` must be [`Row::empty`] of this reader's table, or a row this reader filled before and nobody changed
    /// since: only the columns this reader fills are reset. A row of another width is replaced by an empty one.
    pub fn read_row_into(&mut self, row: &mut Row) -> Result<bool, DataError> {
        if row.nums.len() != self.catalog.num_count() || row.strs.len() != self.catalog.str_count() {
            *row = Row::empty(self.catalog);
        }
        loop {
            let split = self.records.next_record().map_err(|e| DataError::io(&self.path, e))?;
            let line = self.records.line_number();
            let result = match split {
                None => return Ok(false),
                Some(Err(e)) => {
                    let column = self.header.get(e.field()).filter(|n| !n.is_empty()).cloned();
                    Err(BadRow::new(self.path.clone(), line, column, e.to_string(), self.records.raw_record()))
                }
                Some(Ok(())) => self.parse_record(row),
            };
            match result {
                Ok(()) => {
                    self.rows_read += 1;
                    self.last_line = line;
                    return Ok(true);
                }
                Err(bad) => self.report_bad(bad)?,
            }
        }
    }

    fn report_bad(&mut self, bad: BadRow) -> Result<(), DataError> {
        self.bad.report(bad, "row")
    }

    /// Parses the current record into `row`, overwriting every column this reader fills (see `read_row_into`).
    fn parse_record(&self, row: &mut Row) -> Result<(), BadRow> {
        let line = self.records.line_number();
        let bad = |column: Option<&str>, reason: String| {
            BadRow::new(self.path.clone(), line, column.map(str::to_string), reason, self.records.raw_record())
        };
        if self.records.len() != self.field_to_column.len() {
            return Err(bad(
                None,
                format!("{} fields, the header has {}", self.records.len(), self.field_to_column.len()),
            ));
        }
        let columns = self.catalog.columns();
        for (field, target) in self.records.fields().zip(&self.targets) {
            match *target {
                Target::Skip => {}
                Target::Text { slot, column } => {
                    let slot = &mut row.strs[slot];
                    if field.is_empty() {
                        *slot = None;
                    } else if slot.as_deref().map(str::as_bytes) != Some(field) {
                        let text = std::str::from_utf8(field).map_err(|_| {
                            bad(Some(columns[column].name), format!("`{}` is not valid UTF-8", shown(field)))
                        })?;
                        *slot = Some(text.into());
                    }
                }
                Target::Number { slot, rule, column } => {
                    row.nums[slot] = if field.is_empty() {
                        f64::NAN
                    } else {
                        parse_number_with(field, rule).map_err(|reason| bad(Some(columns[column].name), reason))?
                    };
                }
            }
        }
        for &index in &self.required {
            let col = &columns[index];
            if row.nums[col.slot].is_nan() {
                let field = self.field_to_column.iter().position(|&t| t == Some(index));
                let value = field.and_then(|f| self.records.fields().nth(f)).unwrap_or_default();
                let how =
                    if value.is_empty() { "the field is empty".to_string() } else { format!("`{}`", shown(value)) };
                return Err(bad(Some(col.name), format!("required value is missing ({how})")));
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for TableReader<R> {
    type Item = Result<Row, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_row().transpose()
    }
}

/// Maps header names (already in catalog spelling) to catalog columns, refusing another table's header.
fn map_header(path: &Path, catalog: &'static Catalog, header: &[String]) -> Result<Vec<Option<usize>>, DataError> {
    crate::table_shape::check_columns(catalog.table, "file", header.iter().map(String::as_str)).map_err(|reason| {
        DataError::WrongTable { path: path.to_path_buf(), expected: crate::table_shape::article(catalog.table), reason }
    })?;
    let mut map = Vec::with_capacity(header.len());
    let mut seen = vec![false; catalog.columns().len()];
    let mut unknown = Vec::new();
    for name in header {
        let index = catalog.index(name);
        match index {
            Some(i) if seen[i] => {
                return Err(DataError::DuplicateColumn { path: path.to_path_buf(), column: name.clone() })
            }
            Some(i) => seen[i] = true,
            // pandas writes its index as an unnamed first column ("" or "Unnamed: 0").
            None if name.is_empty() || name.starts_with("Unnamed:") => {}
            None => unknown.push(name.clone()),
        }
        map.push(index);
    }
    if !unknown.is_empty() {
        tracing::warn!(
            "{}: ignoring columns not in the {} catalog: {}",
            path.display(),
            catalog.table.name(),
            unknown.join(", ")
        );
    }
    if let Some((col, _)) = catalog.columns().iter().zip(&seen).find(|(c, seen)| c.required && !**seen) {
        return Err(DataError::MissingColumn {
            path: path.to_path_buf(),
            column: col.name,
            table: catalog.table.name(),
            found: header.iter().take(8).cloned().collect::<Vec<_>>().join(","),
        });
    }
    Ok(map)
}

/// What parsing does with one field of the file.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Not a catalog column, or not read by the projection.
    Skip,
    /// A text column: its slot in `Row::strs` and its catalog index (for messages).
    Text { slot: usize, column: usize },
    /// A numeric column: its slot in `Row::nums`, the rule its values follow, its catalog index.
    Number { slot: usize, rule: NumberRule, column: usize },
}

/// Resolves each field's catalog column to what parsing does with it, so the per-row loop looks nothing up.
fn targets(catalog: &Catalog, field_to_column: &[Option<usize>]) -> Vec<Target> {
    let columns = catalog.columns();
    field_to_column
        .iter()
        .map(|t| match *t {
            None => Target::Skip,
            Some(column) => {
                let col = &columns[column];
                match NumberRule::of(catalog.table, col) {
                    None => Target::Text { slot: col.slot, column },
                    Some(rule) => Target::Number { slot: col.slot, rule, column },
                }
            }
        })
        .collect()
}

/// How many leading fields of a record must be located to reach every column read; the rest are only counted.
fn located_fields(field_to_column: &[Option<usize>]) -> usize {
    field_to_column.iter().rposition(Option::is_some).map_or(1, |last| last + 1)
}

/// Appends the CSV header line of a table (Kaggle order, `\n` line end).
pub fn write_header(catalog: &Catalog, out: &mut Vec<u8>) {
    for (i, name) in catalog.names().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
}

/// Appends one row as a Kaggle-format CSV line. Formatting into a buffer lets writers format rows in parallel.
pub fn write_row(catalog: &Catalog, row: &Row, out: &mut Vec<u8>) {
    let mut float_buf = ryu::Buffer::new();
    let mut int_buf = itoa::Buffer::new();
    for (i, col) in catalog.columns().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match col.ty {
            ColumnType::Str => {
                if let Some(s) = &row.strs[col.slot] {
                    write_text(s, out);
                }
            }
            ColumnType::Int => {
                let v = row.nums[col.slot];
                if !v.is_nan() {
                    out.extend_from_slice(int_buf.format(v as i64).as_bytes());
                }
            }
            ColumnType::Float => {
                let v = row.nums[col.slot];
                if !v.is_nan() {
                    write_float(v, &mut float_buf, out);
                }
            }
        }
    }
    out.push(b'\n');
}

/// Writes a float as Python's `repr` (what pandas writes) does in the value range of this data: shortest
/// round-trip digits, always with a decimal point (`150.0`, `68.5`, `0.0`).
fn write_float(v: f64, buf: &mut ryu::Buffer, out: &mut Vec<u8>) {
    // The common case in this data: small whole numbers (counts, V-columns, codes).
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let mut ib = itoa::Buffer::new();
        if v == 0.0 && v.is_sign_negative() {
            out.push(b'-');
        }
        out.extend_from_slice(ib.format(v as i64).as_bytes());
        out.extend_from_slice(b".0");
        return;
    }
    out.extend_from_slice(buf.format_finite(v).as_bytes());
}

fn write_text(s: &str, out: &mut Vec<u8>) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A buffered file writer of one table: header first, then rows.
pub struct TableWriter {
    path: PathBuf,
    catalog: &'static Catalog,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl TableWriter {
    pub fn create(path: impl AsRef<Path>, table: Table) -> Result<Self, DataError> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| DataError::io(&path, e))?;
        let catalog = table.catalog();
        let mut w = TableWriter { path, catalog, out: BufWriter::with_capacity(1 << 20, file), line: Vec::new() };
        write_header(catalog, &mut w.line);
        w.flush_line()?;
        Ok(w)
    }

    pub fn write(&mut self, row: &Row) -> Result<(), DataError> {
        write_row(self.catalog, row, &mut self.line);
        self.flush_line()
    }

    /// Writes bytes already formatted with [`write_row`] (e.g. by worker threads).
    pub fn write_formatted(&mut self, lines: &[u8]) -> Result<(), DataError> {
        self.out.write_all(lines).map_err(|e| DataError::io(&self.path, e))
    }

    fn flush_line(&mut self) -> Result<(), DataError> {
        let r = self.out.write_all(&self.line);
        self.line.clear();
        r.map_err(|e| DataError::io(&self.path, e))
    }

    pub fn finish(mut self) -> Result<(), DataError> {
        self.out.flush().map_err(|e| DataError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{IDENTITY, TRANSACTION};

    fn read_all(text: &str, table: Table, max_bad: u64) -> (Vec<Row>, Vec<BadRow>) {
        let mut r = TableReader::new(text.as_bytes(), "mem.csv", table, max_bad).expect("header");
        let rows: Vec<Row> = r.by_ref().collect::<Result<_, _>>().expect("rows");
        (rows, r.bad_rows().to_vec())
    }

    #[test]
    fn columns_are_mapped_by_name_in_any_order_with_crlf() {
        let text = "TransactionDT,ProductCD,TransactionID\r\n86400,W,7\r\n86401,,8\r\n";
        let (rows, _) = read_all(text, Table::Transaction, 0);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].num(TRANSACTION.col("TransactionID")), Some(7.0));
        assert_eq!(rows[0].str(TRANSACTION.col("ProductCD")), Some("W"));
        assert_eq!(rows[1].str(TRANSACTION.col("ProductCD")), None);
        assert_eq!(rows[1].num(TRANSACTION.col("card1")), None);
    }

    #[test]
    fn a_projection_parses_only_the_kept_columns_and_the_required_ones() {
        let text = "TransactionID,TransactionDT,TransactionAmt,ProductCD,card1\n1,86400,10.5,W,1234\n\
                    2,86401,1,W,1,9\n3,86402,1,W\n4,86403,x,C,y\n";
        let mut r = TableReader::new(text.as_bytes(), "p.csv", Table::Transaction, 5).expect("header");
        r.project(&["ProductCD".to_string(), "id_01".to_string()]);
        let rows: Vec<Row> = r.by_ref().collect::<Result<_, _>>().expect("rows");
        // Fields after the last kept one are not parsed (junk there passes), but they are counted.
        assert_eq!(rows.len(), 2);
        let bad: Vec<String> = r.bad_rows().iter().map(ToString::to_string).collect();
        assert_eq!(bad, ["p.csv:3: 6 fields, the header has 5", "p.csv:4: 4 fields, the header has 5"]);
        assert_eq!(rows[1].str(TRANSACTION.col("ProductCD")), Some("C"));
        let row = &rows[0];
        assert_eq!(row.str(TRANSACTION.col("ProductCD")), Some("W"));
        assert_eq!(row.num(TRANSACTION.col("TransactionID")), Some(1.0));
        assert_eq!(row.num(TRANSACTION.col("TransactionDT")), Some(86400.0));
        assert_eq!(row.num(TRANSACTION.col("TransactionAmt")), None);
        assert_eq!(row.num(TRANSACTION.col("card1")), None);
    }

    #[test]
    fn pandas_index_column_and_hyphenated_test_names_are_accepted() {
        let text = ",TransactionID,id-01,id-30\n0,7,-5.0,iOS 11.1.2\n";
        let (rows, _) = read_all(text, Table::Identity, 0);
        assert_eq!(rows[0].num(IDENTITY.col("id_01")), Some(-5.0));
        assert_eq!(rows[0].str(IDENTITY.col("id_30")), Some("iOS 11.1.2"));
    }

    #[test]
    fn missing_required_column_is_named() {
        let err = TableReader::new("TransactionID,isFraud\n1,0\n".as_bytes(), "t.csv", Table::Transaction, 0)
            .err()
            .expect("must fail");
        let msg = err.to_string();
        assert!(msg.contains("t.csv") && msg.contains("TransactionDT"), "{msg}");
    }

    #[test]
    fn malformed_row_is_reported_with_line_and_column_and_skipped() {
        let text = "TransactionID,TransactionDT,TransactionAmt\n1,86400,10.5\n2,86401,abc\n3,86402,7\n";
        let (rows, bad) = read_all(text, Table::Transaction, 5);
        assert_eq!(rows.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].to_string(), "mem.csv:3:TransactionAmt: `abc` is not a number");
    }

    #[test]
    fn too_many_bad_rows_stops_with_a_summary() {
        let text = "TransactionID,TransactionDT\n1,x\n2,y\n3,86400\n";
        let mut r = TableReader::new(text.as_bytes(), "t.csv", Table::Transaction, 1).expect("header");
        let err = r.by_ref().find_map(Result::err).expect("must fail");
        assert!(err.to_string().contains("2 malformed rows"), "{err}");
    }

    #[test]
    fn a_missing_required_value_says_how_it_is_missing() {
        let text = "ProductCD,TransactionID,TransactionDT\nW,,86400\nW,NaN,86400\nW,7,nan\n";
        let (rows, bad) = read_all(text, Table::Transaction, 5);
        assert!(rows.is_empty());
        let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            bad,
            [
                "mem.csv:2:TransactionID: required value is missing (the field is empty)",
                "mem.csv:3:TransactionID: required value is missing (`NaN`)",
                "mem.csv:4:TransactionDT: required value is missing (`nan`)",
            ]
        );
    }

    #[test]
    fn rows_with_wrong_field_count_or_missing_id_are_bad() {
        let text = "TransactionID,TransactionDT\n1,86400,9\n,86400\n2,86401\n";
        let (rows, bad) = read_all(text, Table::Transaction, 5);
        assert_eq!(rows.len(), 1);
        assert_eq!(bad.len(), 2);
        assert!(bad[1].to_string().contains("TransactionID: required value is missing"));
    }

    #[test]
    fn the_decimal_fast_path_agrees_with_the_standard_parser() {
        let cases = [
            "0",
            "0.0",
            "-0.0",
            "1.0",
            "68.5",
            "12.345",
            "-480.0",
            "31937.391",
            "0.1",
            "0.30000000000000004",
            "123456789.123",
            "9007199254740991",
            "86400",
            "0.000001",
            "-5.0",
            "1.",
        ];
        for c in cases {
            let expected: f64 = c.parse().expect(c);
            let got = parse_number(c.as_bytes(), ColumnType::Float).expect(c);
            assert_eq!(got.to_bits(), expected.to_bits(), "{c}");
        }
        for c in ["1e5", "-1.5E-3", " 7 ", "NaN", "99999999999999999999"] {
            let got = parse_number(c.as_bytes(), ColumnType::Float).expect(c);
            let expected: f64 = c.trim().parse().expect(c);
            assert!(got == expected || (got.is_nan() && expected.is_nan()), "{c}");
        }
        for c in ["", ".", "-", "1.2.3", "abc", "inf", "1-2"] {
            assert!(parse_number(c.as_bytes(), ColumnType::Float).is_err(), "{c} must be rejected");
        }
        assert!(parse_number(b"1.5", ColumnType::Int).is_err());
        assert_eq!(parse_number(b"86400.0", ColumnType::Int), Ok(86400.0));
    }

    #[test]
    fn written_rows_use_kaggle_number_formats_and_read_back_equal() {
        let mut row = Row::empty(&TRANSACTION);
        row.nums[TRANSACTION.col("TransactionID").slot] = 2987000.0;
        row.nums[TRANSACTION.col("TransactionDT").slot] = 86400.0;
        row.nums[TRANSACTION.col("TransactionAmt").slot] = 68.5;
        row.nums[TRANSACTION.col("card3").slot] = 150.0;
        row.nums[TRANSACTION.col("V1").slot] = 0.0;
        row.nums[TRANSACTION.col("C1").slot] = 12.345;
        row.strs[TRANSACTION.col("ProductCD").slot] = Some("W".into());
        row.strs[TRANSACTION.col("P_emaildomain").slot] = Some("a,b\"c".into());
        let mut out = Vec::new();
        write_header(&TRANSACTION, &mut out);
        write_row(&TRANSACTION, &row, &mut out);
        let text = String::from_utf8(out).expect("utf8");
        let line = text.lines().nth(1).expect("row");
        assert!(line.starts_with("2987000,,86400,68.5,W,,,150.0,"), "{line}");
        assert!(line.contains(",\"a,b\"\"c\","));
        assert!(line.contains(",12.345,"));
        let (rows, _) = read_all(&text, Table::Transaction, 0);
        assert_eq!(rows[0], row);
    }
}
