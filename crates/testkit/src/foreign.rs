//! A producer in the style of the reference team's Python producers (confluent-kafka's `AvroSerializer`, fastavro,
//! their own `.avsc`), for tests of topics fraudstream did not write: pandas floats for numbers (NaN or null when
//! missing), `""` for a missing category, TransactionID only in the key, a wall-clock `Timestamp`, extra fields, its
//! own field order. Datums are written by apache-avro, an implementation independent of fraudstream's.

use std::collections::HashMap;

use apache_avro::types::Value as Avro;
use fraudstream_data::avro::write_header;
use fraudstream_data::{ColumnType, Row, Table};
use serde_json::{json, Value as Json};

/// How the "Python" producer types a column, and how it writes a row's value of it.
fn python_field(table: Table, name: &str, ty: ColumnType, slot: usize) -> Json {
    let ty = match (ty, name) {
        (_, "TransactionDT") => json!("double"),
        (_, "isFraud") => json!("long"),
        (ColumnType::Int, _) => json!(["null", "long"]),
        (ColumnType::Float, _) if slot & 1 == 0 => json!("double"),
        (ColumnType::Float, _) => json!(["null", "double"]),
        (ColumnType::Str, "DeviceType") if table == Table::Identity => {
            json!(["null", {"type": "enum", "name": "DeviceType", "symbols": ["desktop", "mobile"]}])
        }
        (ColumnType::Str, _) => json!("string"),
    };
    json!({ "name": name, "type": ty })
}

fn python_value(name: &str, ty: &Json, row: &Row, table: Table) -> Avro {
    let col = table.catalog().col(name);
    let num = row.nums.get(col.slot).copied().unwrap_or(f64::NAN);
    match ty {
        Json::String(t) if t == "double" => Avro::Double(num),
        Json::String(t) if t == "long" => Avro::Long(num as i64),
        Json::String(_) => Avro::String(row.strs[col.slot].as_deref().unwrap_or("").to_string()),
        Json::Array(branches) => match (col.ty, &branches[1]) {
            (ColumnType::Str, _) => match row.strs[col.slot].as_deref() {
                None => Avro::Union(0, Box::new(Avro::Null)),
                Some(s) => {
                    let index = if s == "desktop" { 0 } else { 1 };
                    Avro::Union(1, Box::new(Avro::Enum(index, s.to_string())))
                }
            },
            _ if num.is_nan() => Avro::Union(0, Box::new(Avro::Null)),
            (ColumnType::Int, _) => Avro::Union(1, Box::new(Avro::Long(num as i64))),
            _ => Avro::Union(1, Box::new(Avro::Double(num))),
        },
        other => panic!("unexpected type {other}"),
    }
}

/// The producer's value schema for a table: no TransactionID, fields in reverse catalog order, extra fields.
pub fn python_schema(table: Table, with_transaction_dt: bool) -> Json {
    let mut fields: Vec<Json> = table
        .catalog()
        .columns()
        .iter()
        .filter(|c| c.name != "TransactionID")
        .map(|c| python_field(table, c.name, c.ty, c.slot))
        .collect();
    if table == Table::Identity && with_transaction_dt {
        fields.push(json!({ "name": "TransactionDT", "type": "double" }));
    }
    fields.push(json!({ "name": "Timestamp", "type": { "type": "long", "logicalType": "timestamp-millis" } }));
    fields.push(json!({ "name": "producer", "type": "string" }));
    fields.push(json!({ "name": "meta", "type": { "type": "map", "values": { "type": "array", "items": "string" } } }));
    fields.reverse();
    json!({ "type": "record", "name": "Row", "namespace": "reference.python", "fields": fields })
}

/// The producer's datum of one row (`dt`: the identity's TransactionDT, when its schema has one).
pub fn python_datum(schema: &Json, parsed: &apache_avro::Schema, row: &Row, table: Table, dt: f64) -> Vec<u8> {
    let fields = schema["fields"].as_array().expect("fields");
    let values: Vec<(String, Avro)> = fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("name").to_string();
            let value = match name.as_str() {
                "Timestamp" => Avro::TimestampMillis(1_700_000_000_000),
                "producer" => Avro::String("pandas-to-kafka".into()),
                "meta" => Avro::Map(HashMap::from([("tags".to_string(), Avro::Array(vec![Avro::String("x".into())]))])),
                "TransactionDT" if table == Table::Identity => Avro::Double(dt),
                _ => python_value(&name, &f["type"], row, table),
            };
            (name, value)
        })
        .collect();
    apache_avro::to_avro_datum(parsed, Avro::Record(values)).expect("apache-avro encodes")
}

/// `datum` in the Confluent wire format of schema `id`.
pub fn framed(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(id, &mut out);
    out.extend_from_slice(datum);
    out
}
