//! Labels as Avro, for a `labels` Kafka topic in the Confluent wire format.
//!
//! Value schema [`LABEL_VALUE_SCHEMA`] (record `io.fraudstream.ieee.Label`); the key is the input topics' key,
//! `TransactionKey { TransactionID: long }` ([`crate::avro::encode_key`], [`crate::avro::KEY_SCHEMA`]), so with the
//! same partition count a label lands on the partition of its transaction. Framing (magic byte, schema id) is
//! [`crate::avro::write_header`] / [`crate::avro::split_framed`], as for the other topics.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::{Label, LabelSource};
use crate::error::DataError;
use crate::event_time::EventTime;

/// The value schema of the labels topic.
pub const LABEL_VALUE_SCHEMA: &str = r#"{"type":"record","name":"Label","namespace":"io.fraudstream.ieee","doc":"The truth about one transaction, known some time after it was scored.","fields":[{"name":"TransactionID","type":"long"},{"name":"isFraud","type":"boolean"},{"name":"label_time","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"When the label became known (not the transaction's time)."},{"name":"source","type":"string","doc":"Who or what decided: chargeback, analyst, generated, ..."}]}"#;

static SCHEMA: LazyLock<serde_avro_fast::Schema> = LazyLock::new(|| {
    // Our own constant; a failure here is a bug caught by the unit tests, not an input error.
    LABEL_VALUE_SCHEMA.parse().unwrap_or_else(|e| panic!("built-in label schema does not parse: {e}"))
});

/// [`LABEL_VALUE_SCHEMA`], parsed (for decoding what we wrote ourselves).
pub fn label_value_schema() -> &'static serde_avro_fast::Schema {
    &SCHEMA
}

#[derive(Serialize)]
struct WireOut<'a> {
    #[serde(rename = "TransactionID")]
    transaction_id: i64,
    #[serde(rename = "isFraud")]
    is_fraud: bool,
    label_time: i64,
    source: &'a str,
}

#[derive(Deserialize)]
struct WireIn {
    #[serde(rename = "TransactionID")]
    transaction_id: i64,
    #[serde(rename = "isFraud")]
    is_fraud: bool,
    label_time: i64,
    #[serde(default)]
    source: Option<String>,
}

/// Appends the Avro datum (no framing) of `label` in [`LABEL_VALUE_SCHEMA`] to `out`.
pub fn encode_label(label: &Label, out: &mut Vec<u8>) -> Result<(), DataError> {
    let wire = WireOut {
        transaction_id: label.transaction_id,
        is_fraud: label.is_fraud,
        label_time: label.label_time.millis(),
        source: label.source.as_str(),
    };
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&SCHEMA);
    serde_avro_fast::to_datum(&wire, &mut *out, &mut config)
        .map(|_| ())
        .map_err(|e| DataError::Avro { context: "encoding a label".into(), message: e.to_string() })
}

/// Decodes a label datum written with `writer_schema` (the registry's copy of ours, or any record with the same
/// field names; a missing `source` reads as [`LabelSource::Unknown`], unknown fields are skipped).
pub fn decode_label(datum: &[u8], writer_schema: &serde_avro_fast::Schema) -> Result<Label, DataError> {
    let wire: WireIn = serde_avro_fast::from_datum_slice(datum, writer_schema)
        .map_err(|e| DataError::Avro { context: "decoding a label".into(), message: e.to_string() })?;
    Ok(Label {
        transaction_id: wire.transaction_id,
        is_fraud: wire.is_fraud,
        label_time: EventTime(wire.label_time),
        source: wire.source.as_deref().map_or(LabelSource::Unknown, LabelSource::parse),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::parse_schema;

    fn label(source: LabelSource) -> Label {
        Label {
            transaction_id: 2_987_004,
            is_fraud: true,
            label_time: EventTime::from_transaction_dt(1_900_000),
            source,
        }
    }

    #[test]
    fn labels_round_trip_through_the_registrys_copy_of_the_schema() {
        // A registry returns the schema as JSON text; decoding must accept its parse as the writer schema.
        let registry_copy = parse_schema(LABEL_VALUE_SCHEMA).expect("schema");
        for source in [
            LabelSource::Chargeback,
            LabelSource::Analyst,
            LabelSource::Generated,
            LabelSource::Other("bank-feed".into()),
        ] {
            let l = label(source);
            let mut out = Vec::new();
            encode_label(&l, &mut out).expect("encode");
            assert_eq!(decode_label(&out, &registry_copy).expect("decode"), l);
        }
    }

    #[test]
    fn the_datum_is_the_plain_avro_encoding() {
        let mut out = Vec::new();
        let l = Label { transaction_id: 7, is_fraud: false, label_time: EventTime(-1), source: LabelSource::Analyst };
        encode_label(&l, &mut out).expect("encode");
        // long 7 → 14, boolean false → 0, long -1 → 1, string "analyst" → length 7 (14) + bytes.
        assert_eq!(out, [&[14u8, 0, 1, 14][..], b"analyst"].concat());
    }

    #[test]
    fn other_writer_schemas_decode_by_field_name() {
        let writer = parse_schema(
            r#"{"type":"record","name":"L","fields":[{"name":"label_time","type":"long"},
               {"name":"note","type":"string"},{"name":"isFraud","type":"boolean"},{"name":"TransactionID","type":"long"}]}"#,
        )
        .expect("schema");
        // label_time=5, note="x", isFraud=true, TransactionID=7.
        let l = decode_label(&[10, 2, b'x', 1, 14], &writer).expect("decode");
        assert_eq!(
            (l.transaction_id, l.is_fraud, l.label_time, l.source),
            (7, true, EventTime(5), LabelSource::Unknown)
        );
        assert!(decode_label(&[10], &writer).is_err());
    }
}
