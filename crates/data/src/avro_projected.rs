//! Decoding values written with our own schema — what `produce` writes — fast, and only the columns a job reads.
//!
//! A consumer of the input topics decodes every record; through serde a 395-field record costs a name lookup and a
//! visitor call per field, which made decoding most of a Kafka catch-up's time. Our own schema is known field by
//! field (the catalog's columns in order, each a `["null", T]` union except the required ones, then `event_time`),
//! so [`OwnDecoder`] walks the datum in that order: the columns the caller wants are written into its row, every
//! other field is skipped by its length alone. The job needs about 90 of the 394 transaction columns. Kept values
//! obey [`crate::value_rules`] as every decoder's do (required columns, TransactionDT among them, are always kept),
//! so a record decodes to the same row either way (a test checks it on the real sample).

use crate::catalog::{ColumnType, Table};
use crate::error::DataError;
use crate::event_time::EventTime;
use crate::record::Row;
use crate::value_rules::NumberRule;

/// Decodes values of one table written with our own value schema ([`crate::avro::value_schema`]).
#[derive(Debug, Clone)]
pub struct OwnDecoder {
    table: Table,
    /// Per catalog column: whether to keep its value.
    keep: Vec<bool>,
}

impl OwnDecoder {
    /// A decoder keeping the named columns (and the required ones), or every column with `None`. Names that are no
    /// column of the table are ignored, as a CSV reader's projection ignores them.
    pub fn new(table: Table, keep: Option<&[String]>) -> OwnDecoder {
        let catalog = table.catalog();
        let keep = catalog
            .columns()
            .iter()
            .map(|col| col.required || keep.is_none_or(|names| names.iter().any(|n| n == col.name)))
            .collect();
        OwnDecoder { table, keep }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// Decodes `datum` into `row` (whose kept columns are overwritten; the others keep whatever they held, so pass
    /// a row that came from this decoder or [`Row::empty`]) and returns the record's `event_time` field.
    pub fn decode_into(&self, datum: &[u8], row: &mut Row) -> Result<EventTime, DataError> {
        let catalog = self.table.catalog();
        let mut r = Datum { bytes: datum, at: 0, table: self.table };
        for (col, &keep) in catalog.columns().iter().zip(&self.keep) {
            let present = if col.required {
                true
            } else {
                match r.long(col.name)? {
                    0 => false,
                    1 => true,
                    other => return Err(r.error(col.name, format!("union branch {other}, expected 0 (null) or 1"))),
                }
            };
            match (col.ty, present, keep) {
                (ColumnType::Str, false, true) => row.strs[col.slot] = None,
                (ColumnType::Str, true, true) => {
                    let text = r.bytes(col.name)?;
                    let text = std::str::from_utf8(text)
                        .map_err(|_| r.error(col.name, "text that is not UTF-8".to_string()))?;
                    if row.strs[col.slot].as_deref() != Some(text) {
                        row.strs[col.slot] = Some(text.into());
                    }
                }
                (ColumnType::Str, true, false) => {
                    r.bytes(col.name)?;
                }
                (_, false, true) => row.nums[col.slot] = f64::NAN,
                (ColumnType::Float, true, keep) => {
                    let v = r.double(col.name)?;
                    if keep {
                        // NaN is how a row holds a missing number; infinities are refused (value_rules).
                        if !v.is_nan() {
                            NumberRule::Float.check(v).map_err(|why| r.error(col.name, format!("{v} {why}")))?;
                        }
                        row.nums[col.slot] = v;
                    }
                }
                (ColumnType::Int, true, keep) => {
                    let v = r.long(col.name)?;
                    if keep {
                        let rule = NumberRule::of(self.table, col).unwrap_or(NumberRule::Integer);
                        rule.check_integer(v).map_err(|why| r.error(col.name, format!("{v} {why}")))?;
                        row.nums[col.slot] = v as f64;
                    }
                }
                (_, false, false) => {}
            }
        }
        let event_time = EventTime(r.long("event_time")?);
        if r.at != datum.len() {
            return Err(r.error("event_time", format!("{} bytes follow the last field", datum.len() - r.at)));
        }
        Ok(event_time)
    }
}

fn context(table: Table) -> String {
    format!("decoding a {} value", table.name())
}

/// A datum being read.
struct Datum<'a> {
    bytes: &'a [u8],
    at: usize,
    table: Table,
}

impl<'a> Datum<'a> {
    fn error(&self, field: &str, what: String) -> DataError {
        DataError::Avro {
            context: context(self.table),
            message: format!("field {field} (byte {} of {}): {what}", self.at, self.bytes.len()),
        }
    }

    fn truncated(&self, field: &str) -> DataError {
        self.error(field, "the value ends inside this field (truncated)".to_string())
    }

    /// A zig-zag varint `long` (or `int`).
    fn long(&mut self, field: &str) -> Result<i64, DataError> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else { return Err(self.truncated(field)) };
            self.at += 1;
            if shift == 63 && b > 1 {
                return Err(self.error(field, "a varint longer than 64 bits".to_string()));
            }
            z |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(self.error(field, "a varint longer than 64 bits".to_string()))
    }

    fn double(&mut self, field: &str) -> Result<f64, DataError> {
        let end = self.at + 8;
        let bytes = self.bytes.get(self.at..end).ok_or_else(|| self.truncated(field))?;
        self.at = end;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(f64::from_le_bytes(word))
    }

    /// A `string` or `bytes`: a length, then that many bytes.
    fn bytes(&mut self, field: &str) -> Result<&'a [u8], DataError> {
        let len = self.long(field)?;
        let len = usize::try_from(len).map_err(|_| self.error(field, format!("a negative length {len}")))?;
        let end =
            self.at.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or_else(|| self.truncated(field))?;
        let bytes = &self.bytes[self.at..end];
        self.at = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::{decode_value, encode_value, value_schema};
    use crate::csv_table::TableReader;

    /// The real sample's rows of `table`, each with an event time.
    fn sample(table: Table, file: &str) -> Vec<Row> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/ieee-cis-sample")
            .join(file);
        let mut reader = TableReader::open(path, table, 0).expect(file);
        std::iter::from_fn(move || reader.read_row().expect("row")).collect()
    }

    #[test]
    fn every_sample_row_decodes_to_the_row_the_serde_path_gives() {
        for (table, file) in [(Table::Transaction, "train_transaction.csv"), (Table::Identity, "train_identity.csv")] {
            let all = OwnDecoder::new(table, None);
            let mut row = Row::empty(table.catalog());
            for (i, original) in sample(table, file).iter().enumerate() {
                let mut datum = Vec::new();
                encode_value(table, original, EventTime(86_400_000 + i as i64), &mut datum).expect("encode");
                let (expected, time) = decode_value(table, &datum, value_schema(table)).expect("serde decode");
                assert_eq!(all.decode_into(&datum, &mut row).expect("decode"), time);
                let bits = |r: &Row| r.nums.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&row), bits(&expected), "{file} row {i}");
                assert_eq!(row.strs, expected.strs, "{file} row {i}");
            }
        }
    }

    #[test]
    fn a_projection_fills_only_the_columns_asked_for() {
        let rows = sample(Table::Transaction, "train_transaction.csv");
        let keep = ["TransactionAmt".to_string(), "card4".to_string()];
        let decoder = OwnDecoder::new(Table::Transaction, Some(&keep));
        let catalog = Table::Transaction.catalog();
        let mut datum = Vec::new();
        encode_value(Table::Transaction, &rows[0], EventTime(0), &mut datum).expect("encode");
        let mut row = Row::empty(catalog);
        decoder.decode_into(&datum, &mut row).expect("decode");
        for name in ["TransactionID", "TransactionDT", "TransactionAmt"] {
            let col = catalog.col(name);
            assert_eq!(row.nums[col.slot].to_bits(), rows[0].nums[col.slot].to_bits(), "{name}");
        }
        assert_eq!(row.strs[catalog.col("card4").slot], rows[0].strs[catalog.col("card4").slot]);
        assert!(row.num(catalog.col("card1")).is_none(), "not asked for: missing");
    }

    #[test]
    fn damaged_values_are_errors_naming_the_field() {
        let rows = sample(Table::Transaction, "train_transaction.csv");
        let decoder = OwnDecoder::new(Table::Transaction, None);
        let mut datum = Vec::new();
        encode_value(Table::Transaction, &rows[0], EventTime(0), &mut datum).expect("encode");
        let mut row = Row::empty(Table::Transaction.catalog());
        let truncated = decoder.decode_into(&datum[..40], &mut row).expect_err("truncated").to_string();
        assert!(truncated.contains("truncated") && truncated.contains("field "), "{truncated}");
        let mut longer = datum.clone();
        longer.push(0);
        assert!(decoder.decode_into(&longer, &mut row).is_err(), "a byte after the last field");
        let mut bad_branch = datum.clone();
        // The second field's union branch, right after TransactionID's varint.
        let after_id = datum.iter().position(|b| b & 0x80 == 0).expect("a varint") + 1;
        bad_branch[after_id] = 8;
        assert!(decoder.decode_into(&bad_branch, &mut row).is_err());
    }
}
