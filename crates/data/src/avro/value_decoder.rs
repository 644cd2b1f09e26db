//! Choosing how to decode a table's values by their writer schema: our own schema (recognised by its Rabin
//! fingerprint, so by canonical form, whatever its id or formatting) keeps the fast serde path of
//! [`decode_value`](crate::avro::decode_value); any other schema is decoded by a [`ValuePlan`] that maps its fields
//! by name. Both apply the same [value rules](crate::value_rules) and give the same [`DecodedValue`].

use std::sync::LazyLock;

use crate::avro::writer_plan::{DecodedValue, PlanError, ValuePlan};
use crate::avro::{decode_value, value_schema, value_schema_json};
use crate::catalog::{Column, Table};
use crate::error::DataError;
use crate::event_time::EventTime;
use crate::record::{DT_SLOT, ID_SLOT};

/// How values of one table written with one schema id are decoded.
#[derive(Debug)]
pub struct ValueDecoder {
    table: Table,
    schema_id: u32,
    how: How,
}

#[derive(Debug)]
enum How {
    /// Our own schema of this table: the serde fast path.
    Own,
    /// Anyone else's.
    Plan(ValuePlan),
}

/// Plans of our own schemas, for precise messages when the fast path fails.
static OWN_PLANS: LazyLock<[Result<ValuePlan, PlanError>; 2]> =
    LazyLock::new(|| [Table::Transaction, Table::Identity].map(|t| ValuePlan::compile_json(t, &value_schema_json(t))));

/// The plan of our own schema of `table`.
pub(crate) fn own_plan(table: Table) -> Option<&'static ValuePlan> {
    OWN_PLANS[table as usize].as_ref().ok()
}

impl ValueDecoder {
    /// A decoder of `table` values written with `writer` (registered as `schema_id`, used in messages). The error
    /// says why the schema cannot be read as this table's (the registry client adds where it is registered).
    pub fn new(table: Table, schema_id: u32, writer: &serde_avro_fast::Schema) -> Result<ValueDecoder, PlanError> {
        let how = if writer.rabin_fingerprint() == value_schema(table).rabin_fingerprint() {
            How::Own
        } else {
            How::Plan(ValuePlan::compile_json(table, writer.json())?)
        };
        Ok(ValueDecoder { table, schema_id, how })
    }

    pub fn table(&self) -> Table {
        self.table
    }

    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }

    /// Whether the writer schema is our own (decoded on the fast path).
    pub fn is_own_schema(&self) -> bool {
        matches!(self.how, How::Own)
    }

    /// Whether the values lack TransactionID, so [`ValueDecoder::decode`] needs the key's id. A caller can skip
    /// decoding keys when this is false (a key given anyway is checked against the value's id).
    pub fn needs_key(&self) -> bool {
        match &self.how {
            How::Own => false,
            How::Plan(p) => p.needs_key(),
        }
    }

    /// Whether the writer schema has a column, like [`TableReader::has_column`](crate::csv_table::TableReader)
    /// for a file: a caller refuses values that lack a column it needs rather than reading it as missing.
    pub fn has_column(&self, column: &Column) -> bool {
        match &self.how {
            How::Own => self.table.catalog().get(column.name).is_some(),
            How::Plan(p) => p.has_column(column),
        }
    }

    /// Decodes one datum (without the Confluent header). `key_id` is the TransactionID of the record's key when
    /// the caller decoded it: it fills a value without TransactionID, and must equal the value's otherwise.
    pub fn decode(&self, datum: &[u8], key_id: Option<i64>) -> Result<DecodedValue, DataError> {
        let context = || format!("decoding a {} value (schema id {})", self.table.name(), self.schema_id);
        match &self.how {
            How::Plan(plan) => {
                plan.decode(datum, key_id).map_err(|message| DataError::Avro { context: context(), message })
            }
            How::Own => {
                let (row, event_time) =
                    decode_value(self.table, datum, value_schema(self.table)).map_err(|e| match e {
                        DataError::Avro { message, .. } => DataError::Avro { context: context(), message },
                        e => e,
                    })?;
                let id = row.nums[ID_SLOT];
                if let Some(k) = key_id.filter(|&k| k as f64 != id) {
                    let message = format!("the value's TransactionID {id} differs from the key's {k}");
                    return Err(DataError::Avro { context: context(), message });
                }
                let event_time = match self.table {
                    Table::Transaction => EventTime::from_transaction_dt(row.nums[DT_SLOT] as i64),
                    Table::Identity => event_time,
                };
                Ok(DecodedValue { row, event_time: Some(event_time) })
            }
        }
    }
}
