//! Avro schemas and codecs for the two topics, and the Confluent wire format around them.
//!
//! Schemas are derived from the catalog: every column is a nullable union `["null", T]` with default `null`
//! (TransactionID and TransactionDT are required), plus `event_time` as `timestamp-millis`. Keys of both topics use
//! one schema, `TransactionKey { TransactionID: long }`; since Schema Registry ids are global per schema, both topics
//! carry byte-identical keys, so they are co-partitioned by any key-hashing partitioner. The schemas are documented
//! in `docs/avro-schemas.md`.
//!
//! Confluent framing: byte 0 is the magic `0`, bytes 1..5 the schema id (big-endian), then the Avro datum.
//!
//! Values written by other producers, with their own schemas, are decoded by [`value_decoder::ValueDecoder`] (our
//! own schema keeps the fast path here), and their keys by [`key::KeyPlan`]; the registry client caches both per
//! schema id. Every decoder applies the [value rules](crate::value_rules): a value out of range is an error, never a
//! wrapped or rounded number.

mod datum;
pub mod key;
pub mod value_decoder;
pub mod writer_plan;

use std::sync::LazyLock;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};

use crate::catalog::{Catalog, ColumnType, Table};
use crate::error::DataError;
use crate::event_time::{EventTime, EVENT_TIME_MILLIS};
use crate::record::{Row, DT_SLOT};
use crate::value_rules::NumberRule;

/// Avro namespace of our record schemas.
pub const NAMESPACE: &str = "io.fraudstream.ieee";
/// Name of the extra field holding the record's event time.
pub const EVENT_TIME_FIELD: &str = "event_time";
/// The Confluent wire-format magic byte.
pub const MAGIC_BYTE: u8 = 0;

/// Schema of the key of both topics.
pub const KEY_SCHEMA: &str = r#"{"type":"record","name":"TransactionKey","namespace":"io.fraudstream.ieee","fields":[{"name":"TransactionID","type":"long"}]}"#;

/// The Avro type name used for a catalog column type.
fn avro_type(table: Table, name: &str, ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Int if table == Table::Transaction && name == "isFraud" => "int",
        ColumnType::Int => "long",
        ColumnType::Float => "double",
        ColumnType::Str => "string",
    }
}

/// The value schema of a table's topic, as JSON.
pub fn value_schema_json(table: Table) -> String {
    let catalog = table.catalog();
    let mut fields = Vec::with_capacity(catalog.columns().len() + 1);
    for col in catalog.columns() {
        let ty = avro_type(table, col.name, col.ty);
        fields.push(if col.required {
            serde_json::json!({ "name": col.name, "type": ty })
        } else {
            serde_json::json!({ "name": col.name, "type": ["null", ty], "default": null })
        });
    }
    fields.push(serde_json::json!({
        "name": EVENT_TIME_FIELD,
        "type": { "type": "long", "logicalType": "timestamp-millis" },
        "doc": "Event time: 2017-11-30T00:00:00Z + TransactionDT seconds (an identity takes its transaction's)."
    }));
    let name = match table {
        Table::Transaction => "Transaction",
        Table::Identity => "Identity",
    };
    serde_json::json!({ "type": "record", "name": name, "namespace": NAMESPACE, "fields": fields }).to_string()
}

static TRANSACTION_SCHEMA: LazyLock<serde_avro_fast::Schema> = LazyLock::new(|| parse_own(Table::Transaction));
static IDENTITY_SCHEMA: LazyLock<serde_avro_fast::Schema> = LazyLock::new(|| parse_own(Table::Identity));
static KEY: LazyLock<serde_avro_fast::Schema> =
    LazyLock::new(|| KEY_SCHEMA.parse().unwrap_or_else(|e| panic!("built-in key schema does not parse: {e}")));

fn parse_own(table: Table) -> serde_avro_fast::Schema {
    // Our own generated schema; a failure here is a bug caught by the unit tests, not an input error.
    value_schema_json(table).parse().unwrap_or_else(|e| panic!("built-in {} schema does not parse: {e}", table.name()))
}

fn own_schema(table: Table) -> &'static serde_avro_fast::Schema {
    match table {
        Table::Transaction => &TRANSACTION_SCHEMA,
        Table::Identity => &IDENTITY_SCHEMA,
    }
}

/// Encodes the Avro datum (no framing) of a row of `table` with its event time, appending to `out`.
///
/// This writes the binary encoding of our own schema directly (union branch index, then the value) instead of
/// going through serde: about ten times faster on 395-field rows, which is what lets `produce` reach its rate. A
/// unit test checks the bytes against `serde_avro_fast`'s encoding and an integration test decodes them with
/// `apache-avro`. Decoding still goes through `serde_avro_fast`, because writer schemas may be anyone's.
pub fn encode_value(table: Table, row: &Row, event_time: EventTime, out: &mut Vec<u8>) -> Result<(), DataError> {
    let catalog = table.catalog();
    out.reserve(catalog.columns().len() * 3 + 16);
    for col in catalog.columns() {
        match col.ty {
            ColumnType::Str => match &row.strs[col.slot] {
                None => out.push(UNION_NULL),
                Some(s) => {
                    out.push(UNION_VALUE);
                    put_long(out, s.len() as i64);
                    out.extend_from_slice(s.as_bytes());
                }
            },
            ColumnType::Float => {
                let v = row.nums[col.slot];
                if v.is_nan() {
                    out.push(UNION_NULL);
                } else {
                    out.push(UNION_VALUE);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            ColumnType::Int => {
                let v = row.nums[col.slot];
                if col.required {
                    if v.is_nan() {
                        return Err(DataError::Avro {
                            context: format!("encoding a {} row", table.name()),
                            message: format!("required field {} is missing", col.name),
                        });
                    }
                    put_long(out, v as i64);
                } else if v.is_nan() {
                    out.push(UNION_NULL);
                } else {
                    // `int` and `long` share the zig-zag varint encoding.
                    out.push(UNION_VALUE);
                    put_long(out, v as i64);
                }
            }
        }
    }
    put_long(out, event_time.millis());
    Ok(())
}

/// Union branch 0 (`null`) as a zig-zag varint.
const UNION_NULL: u8 = 0;
/// Union branch 1 (the value) as a zig-zag varint.
const UNION_VALUE: u8 = 2;

/// Appends an Avro `long`: zig-zag, then a little-endian base-128 varint.
fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Encodes the key datum (no framing) of a TransactionID.
pub fn encode_key(transaction_id: i64, out: &mut Vec<u8>) -> Result<(), DataError> {
    #[derive(serde::Serialize)]
    struct Key {
        #[serde(rename = "TransactionID")]
        id: i64,
    }
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&KEY);
    serde_avro_fast::to_datum(&Key { id: transaction_id }, &mut *out, &mut config)
        .map(|_| ())
        .map_err(|e| DataError::Avro { context: "encoding a key".into(), message: e.to_string() })
}

/// Decodes a key datum written with any schema that has a `TransactionID` long field.
pub fn decode_key(datum: &[u8], writer_schema: &serde_avro_fast::Schema) -> Result<i64, DataError> {
    #[derive(serde::Deserialize)]
    struct Key {
        #[serde(rename = "TransactionID")]
        id: i64,
    }
    serde_avro_fast::from_datum_slice::<Key>(datum, writer_schema)
        .map(|k| k.id)
        .map_err(|e| DataError::Avro { context: "decoding a key".into(), message: e.to_string() })
}

/// Parses a writer schema fetched from a registry.
pub fn parse_schema(json: &str) -> Result<serde_avro_fast::Schema, DataError> {
    json.parse().map_err(|e: serde_avro_fast::schema::SchemaError| DataError::Avro {
        context: "parsing a writer schema".into(),
        message: e.to_string(),
    })
}

/// The built-in value schema of a table, parsed (for decoding data we wrote ourselves).
pub fn value_schema(table: Table) -> &'static serde_avro_fast::Schema {
    own_schema(table)
}

/// The built-in key schema, parsed.
pub fn key_schema() -> &'static serde_avro_fast::Schema {
    &KEY
}

/// Decodes a value datum of `table` written with `writer_schema` into a row and its event time.
///
/// Fields are matched by name, so a writer schema with fewer, more or reordered fields still decodes: unknown fields
/// are skipped and absent columns stay missing. The required columns and `event_time` must be present. Values
/// follow the [value rules](crate::value_rules): an integer beyond 2^53, a TransactionDT out of range or an
/// infinite double is an error, a NaN double is missing.
///
/// This is the fast path for our own schemas. When it fails, the datum is read again by a
/// [`ValuePlan`](writer_plan::ValuePlan) of the same schema to say where and why (e.g. "field `V12`: truncated: the
/// datum ended after 120 bytes …" rather than the decoder's "All bytes have MSB set when decoding varint"). For
/// other producers' schemas use [`value_decoder::ValueDecoder`], which maps numeric types, takes the id from the
/// key and the event time from TransactionDT.
pub fn decode_value(
    table: Table,
    datum: &[u8],
    writer_schema: &serde_avro_fast::Schema,
) -> Result<(Row, EventTime), DataError> {
    let mut state = serde_avro_fast::de::DeserializerState::from_slice(datum, writer_schema);
    RowSeed { catalog: table.catalog() }.deserialize(state.deserializer()).map_err(|e| DataError::Avro {
        context: format!("decoding a {} value", table.name()),
        message: precise_error(table, datum, writer_schema).unwrap_or_else(|| e.to_string()),
    })
}

/// Why a datum does not decode, as a [`ValuePlan`](writer_plan::ValuePlan) of its writer schema says it.
fn precise_error(table: Table, datum: &[u8], writer_schema: &serde_avro_fast::Schema) -> Option<String> {
    let compiled;
    let plan = if writer_schema.rabin_fingerprint() == value_schema(table).rabin_fingerprint() {
        value_decoder::own_plan(table)?
    } else {
        compiled = writer_plan::ValuePlan::compile_json(table, writer_schema.json()).ok()?;
        &compiled
    };
    plan.decode(datum, None).err()
}

struct RowSeed {
    catalog: &'static Catalog,
}

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = (Row, EventTime);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct("Row", &[], self)
    }
}

impl<'de> Visitor<'de> for RowSeed {
    type Value = (Row, EventTime);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a {} record", self.catalog.table.name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let columns = self.catalog.columns();
        let is_transaction = self.catalog.table == Table::Transaction;
        let mut row = Row::empty(self.catalog);
        let mut event_time = None;
        // Fields normally arrive in catalog order: the key seed tries the expected position before a hash lookup.
        let mut expected = 0usize;
        while let Some(field) = map.next_key_seed(FieldSeed { catalog: self.catalog, expected })? {
            let index = match field {
                Field::EventTime => {
                    let ms = map.next_value::<i64>()?;
                    if !EVENT_TIME_MILLIS.contains(&ms) {
                        return Err(A::Error::custom(format_args!(
                            "field `{EVENT_TIME_FIELD}`: {ms} ms is outside the event times a record may carry (1970 \
                             to the end of 9999)"
                        )));
                    }
                    event_time = Some(EventTime(ms));
                    continue;
                }
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Field::Column(index) => index,
            };
            expected = index + 1;
            let col = &columns[index];
            match col.ty {
                ColumnType::Str => row.strs[col.slot] = map.next_value::<Option<String>>()?.map(String::into_boxed_str),
                ColumnType::Int => {
                    row.nums[col.slot] = match map.next_value::<Option<i64>>()? {
                        None => f64::NAN,
                        Some(v) => {
                            let rule = if is_transaction && col.slot == DT_SLOT {
                                NumberRule::TransactionDt
                            } else {
                                NumberRule::Integer
                            };
                            rule.check_integer(v)
                                .map_err(|e| A::Error::custom(format_args!("field `{}`: {v} {e}", col.name)))?;
                            v as f64
                        }
                    };
                }
                ColumnType::Float => {
                    row.nums[col.slot] = match map.next_value::<Option<f64>>()? {
                        Some(v) if v.is_infinite() => {
                            return Err(A::Error::custom(format_args!(
                                "field `{}`: {v} is not a finite number",
                                col.name
                            )))
                        }
                        // NaN stays NaN: a missing value, as everywhere.
                        v => v.unwrap_or(f64::NAN),
                    }
                }
            }
        }
        for col in columns.iter().filter(|c| c.required) {
            if row.nums[col.slot].is_nan() {
                return Err(A::Error::custom(format_args!("required field {} is missing", col.name)));
            }
        }
        let event_time = event_time.ok_or_else(|| A::Error::missing_field(EVENT_TIME_FIELD))?;
        Ok((row, event_time))
    }
}

/// What a record field of the writer schema is to us.
enum Field {
    Column(usize),
    EventTime,
    Unknown,
}

/// Resolves a field name to a catalog column without allocating.
struct FieldSeed {
    catalog: &'static Catalog,
    expected: usize,
}

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Field, E> {
        if name == EVENT_TIME_FIELD {
            return Ok(Field::EventTime);
        }
        if self.catalog.columns().get(self.expected).is_some_and(|c| c.name == name) {
            return Ok(Field::Column(self.expected));
        }
        Ok(self.catalog.index(name).map_or(Field::Unknown, Field::Column))
    }
}

/// Prepends the Confluent wire-format header (magic byte + big-endian schema id) to an empty buffer.
pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits a Confluent-framed message into its schema id and Avro datum.
pub fn split_framed(bytes: &[u8]) -> Result<(u32, &[u8]), DataError> {
    match bytes {
        [MAGIC_BYTE, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        [m, ..] if *m != MAGIC_BYTE => Err(DataError::Avro {
            context: "reading the Confluent header".into(),
            message: format!("magic byte is {m}, expected 0 (not written by a Confluent serializer)"),
        }),
        _ => Err(DataError::Avro {
            context: "reading the Confluent header".into(),
            message: format!("message of {} bytes is shorter than the 5-byte header", bytes.len()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{IDENTITY, TRANSACTION};
    use crate::record::IS_FRAUD_SLOT;
    use serde::ser::{Serialize, SerializeStruct, Serializer};

    /// A row together with its event time, serialized field by field in schema order (no per-field lookups).
    struct AvroRow<'a> {
        catalog: &'static Catalog,
        row: &'a Row,
        event_time: EventTime,
    }

    impl Serialize for AvroRow<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("Row", self.catalog.columns().len() + 1)?;
            let is_transaction = self.catalog.table == Table::Transaction;
            for col in self.catalog.columns() {
                match col.ty {
                    ColumnType::Str => st.serialize_field(col.name, &self.row.strs[col.slot].as_deref())?,
                    ColumnType::Float => {
                        let v = self.row.nums[col.slot];
                        st.serialize_field(col.name, &(!v.is_nan()).then_some(v))?
                    }
                    ColumnType::Int => {
                        let v = self.row.nums[col.slot];
                        if col.required {
                            st.serialize_field(col.name, &(v as i64))?
                        } else if is_transaction && col.slot == IS_FRAUD_SLOT {
                            st.serialize_field(col.name, &(!v.is_nan()).then_some(v as i32))?
                        } else {
                            st.serialize_field(col.name, &(!v.is_nan()).then_some(v as i64))?
                        }
                    }
                }
            }
            st.serialize_field(EVENT_TIME_FIELD, &self.event_time.millis())?;
            st.end()
        }
    }

    #[test]
    fn direct_encoding_equals_serde_avro_fast_encoding() {
        let mut rows = vec![(Table::Transaction, sample_transaction()), (Table::Identity, Row::empty(&IDENTITY))];
        rows[1].1.nums[0] = 7.0;
        rows[1].1.nums[IDENTITY.col("id_14").slot] = -480.0;
        rows[1].1.strs[IDENTITY.col("DeviceInfo").slot] = Some("SM-G892A Build/NRD90M".into());
        for (table, row) in rows {
            for t in [EventTime(0), EventTime(-1), EventTime::from_transaction_dt(15_811_131)] {
                let mut direct = Vec::new();
                encode_value(table, &row, t, &mut direct).expect("direct");
                let mut config = serde_avro_fast::ser::SerializerConfig::new(value_schema(table));
                let via_serde = serde_avro_fast::to_datum_vec(
                    &AvroRow { catalog: table.catalog(), row: &row, event_time: t },
                    &mut config,
                )
                .expect("serde");
                assert_eq!(direct, via_serde);
            }
        }
    }

    fn sample_transaction() -> Row {
        let mut row = Row::empty(&TRANSACTION);
        row.nums[TRANSACTION.col("TransactionID").slot] = 2_987_000.0;
        row.nums[TRANSACTION.col("isFraud").slot] = 1.0;
        row.nums[TRANSACTION.col("TransactionDT").slot] = 86_400.0;
        row.nums[TRANSACTION.col("TransactionAmt").slot] = 68.5;
        row.nums[TRANSACTION.col("V339").slot] = 3.0;
        row.strs[TRANSACTION.col("ProductCD").slot] = Some("W".into());
        row
    }

    #[test]
    fn value_round_trips_through_our_schema() {
        let row = sample_transaction();
        let t = EventTime::from_transaction_dt(86_400);
        let mut out = Vec::new();
        encode_value(Table::Transaction, &row, t, &mut out).expect("encode");
        let (back, t2) = decode_value(Table::Transaction, &out, value_schema(Table::Transaction)).expect("decode");
        assert_eq!(back, row);
        assert_eq!(t2, t);
    }

    #[test]
    fn apache_avro_reads_what_we_write() {
        // apache-avro is an independent implementation of the spec; Confluent's Java deserializer reads the same
        // bytes with the same schema.
        let row = sample_transaction();
        let mut out = Vec::new();
        encode_value(Table::Transaction, &row, EventTime(1), &mut out).expect("encode");
        let schema = apache_avro::Schema::parse_str(&value_schema_json(Table::Transaction)).expect("schema");
        let value = apache_avro::from_avro_datum(&schema, &mut out.as_slice(), None).expect("apache decode");
        let apache_avro::types::Value::Record(fields) = value else { panic!("not a record") };
        assert_eq!(fields.len(), 395);
        assert_eq!(fields[0], ("TransactionID".into(), apache_avro::types::Value::Long(2_987_000)));
        let is_fraud = apache_avro::types::Value::Union(1, Box::new(apache_avro::types::Value::Int(1)));
        assert_eq!(fields[1], ("isFraud".into(), is_fraud));
        assert_eq!(fields[394], ("event_time".into(), apache_avro::types::Value::TimestampMillis(1)));
        assert_eq!(fields[5].1, apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)));
    }

    #[test]
    fn decoding_matches_fields_by_name_for_other_writer_schemas() {
        let writer = r#"{"type":"record","name":"Identity","fields":[
            {"name":"event_time","type":"long"},
            {"name":"extra","type":"string"},
            {"name":"id_30","type":["null","string"]},
            {"name":"TransactionID","type":"long"}]}"#;
        let writer: serde_avro_fast::Schema = writer.parse().expect("schema");
        // event_time=5, extra="x", id_30=Some("iOS"), TransactionID=7 (zig-zag varints).
        let datum = [10u8, 2, b'x', 2, 6, b'i', b'O', b'S', 14];
        let (row, t) = decode_value(Table::Identity, &datum, &writer).expect("decode");
        assert_eq!(t, EventTime(5));
        assert_eq!(row.str(IDENTITY.col("id_30")), Some("iOS"));
        assert_eq!(row.num(IDENTITY.col("TransactionID")), Some(7.0));
        assert_eq!(row.num(IDENTITY.col("id_01")), None);
    }

    #[test]
    fn key_bytes_are_the_same_for_both_topics_and_decode() {
        let mut k = Vec::new();
        encode_key(2_987_004, &mut k).expect("key");
        assert_eq!(decode_key(&k, key_schema()).expect("decode"), 2_987_004);
    }

    #[test]
    fn confluent_header_round_trips_and_rejects_foreign_bytes() {
        let mut buf = Vec::new();
        write_header(258, &mut buf);
        buf.push(42);
        assert_eq!(buf[..5], [0, 0, 0, 1, 2]);
        assert_eq!(split_framed(&buf).expect("framed"), (258, &[42u8][..]));
        assert!(split_framed(&[1, 0, 0, 0, 1]).unwrap_err().to_string().contains("magic byte is 1"));
        assert!(split_framed(&[0, 0]).unwrap_err().to_string().contains("shorter than"));
    }

    #[test]
    fn missing_event_time_is_an_error() {
        let writer: serde_avro_fast::Schema =
            r#"{"type":"record","name":"I","fields":[{"name":"TransactionID","type":"long"}]}"#.parse().expect("s");
        let err = decode_value(Table::Identity, &[14], &writer).unwrap_err();
        assert!(err.to_string().contains("event_time"), "{err}");
    }
}
