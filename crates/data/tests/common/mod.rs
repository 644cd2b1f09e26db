//! The real IEEE-CIS sample as bytes, and edits of single lines of it, for tests of hostile input.
#![allow(dead_code)]

use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{BadRow, Row, Table};
use fraudstream_testkit::ieee_cis_sample;

pub const TRANSACTIONS: &str = "train_transaction.csv";
pub const IDENTITIES: &str = "train_identity.csv";

/// The bytes of a sample file.
pub fn sample(file: &str) -> Vec<u8> {
    std::fs::read(ieee_cis_sample().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The sample file with its 1-based line `line` (without its line end) replaced by `edit(line)`.
pub fn with_line(file: &str, line: usize, edit: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let text = sample(file);
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let edited = edit(lines[line - 1]);
    lines[line - 1] = &edited;
    lines.join(&b'\n')
}

/// `line` with the first `from` replaced by `to` (panics when `from` is not there, so a test cannot pass vacuously).
pub fn replace(line: &[u8], from: &str, to: &[u8]) -> Vec<u8> {
    let at = line
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("`{from}` not in `{}`", String::from_utf8_lossy(line)));
    [&line[..at], to, &line[at + from.len()..]].concat()
}

/// `line` with its field number `field` (0-based) set to `to`.
pub fn set_field(line: &[u8], field: usize, to: &[u8]) -> Vec<u8> {
    let mut fields: Vec<&[u8]> = line.split(|&b| b == b',').collect();
    fields[field] = to;
    fields.join(&b',')
}

/// Reads `bytes` as `table` (named `name` in messages), allowing many bad rows; returns the rows and the bad ones.
pub fn read(table: Table, name: &str, bytes: &[u8]) -> (Vec<Row>, Vec<BadRow>) {
    let mut reader = TableReader::new(bytes, name, table, 1_000).expect("header");
    let rows: Vec<Row> = reader.by_ref().collect::<Result<_, _>>().expect("rows");
    (rows, reader.bad_rows().to_vec())
}

/// The TransactionIDs of rows.
pub fn ids(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r.nums[fraudstream_data::record::ID_SLOT] as i64).collect()
}
