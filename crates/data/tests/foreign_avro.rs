//! Values and keys written by other producers decode, through the Schema Registry by schema id, to exactly the rows
//! the CSV reader reads. The producer here writes like the reference team's Python producers (confluent-kafka's
//! `AvroSerializer`, fastavro, their own `.avsc`; see `fraudstream_testkit::foreign`): pandas floats for numbers,
//! `""` for a missing category, TransactionID only in the key, a wall-clock `Timestamp`, extra fields, its own
//! field order, written by apache-avro, an implementation independent of ours.

mod common;

use apache_avro::types::Value as Avro;
use common::{read, sample, IDENTITIES, TRANSACTIONS};
use fraudstream_data::avro::{encode_value, value_schema_json, KEY_SCHEMA};
use fraudstream_data::registry::{SchemaRegistry, SubjectVersion};
use fraudstream_data::{DataError, EventTime, Table, Transaction};
use fraudstream_testkit::foreign::{framed, python_datum, python_schema};
use fraudstream_testkit::FakeSchemaRegistry;
use serde_json::{json, Value as Json};

struct Producer {
    _server: FakeSchemaRegistry,
    registry: SchemaRegistry,
    value_id: u32,
    key_id: u32,
    schema: Json,
    parsed: apache_avro::Schema,
    key_schema: apache_avro::Schema,
}

impl Producer {
    fn new(table: Table, key_schema: &str, with_transaction_dt: bool) -> Producer {
        let server = FakeSchemaRegistry::start();
        let registry = SchemaRegistry::new(server.url(), None).expect("client");
        let schema = python_schema(table, with_transaction_dt);
        let value_id = registry.register("py-value", &schema.to_string()).expect("register value");
        let key_id = registry.register("py-key", key_schema).expect("register key");
        let parsed = apache_avro::Schema::parse_str(&schema.to_string()).expect("apache-avro parses it");
        let key_schema = apache_avro::Schema::parse_str(key_schema).expect("key schema");
        Producer { _server: server, registry, value_id, key_id, schema, parsed, key_schema }
    }
}

#[test]
fn transactions_from_a_python_producer_decode_to_the_rows_of_the_csv() {
    let p = Producer::new(Table::Transaction, r#""long""#, false);
    let decoder = p.registry.value_decoder(Table::Transaction, p.value_id).expect("decoder");
    assert!(!decoder.is_own_schema() && decoder.needs_key());
    let (rows, _) = read(Table::Transaction, TRANSACTIONS, &sample(TRANSACTIONS));
    for row in &rows {
        let id = row.nums[0] as i64;
        let key = framed(p.key_id, &apache_avro::to_avro_datum(&p.key_schema, Avro::Long(id)).expect("key"));
        let value = python_datum(&p.schema, &p.parsed, row, Table::Transaction, f64::NAN);
        let key_id = p.registry.key_transaction_id(&key).expect("key");
        let decoded = decoder.decode(&value, Some(key_id)).expect("value");
        assert_eq!(&decoded.row, row, "TransactionID {id}");
        // The event time is TransactionDT's, not the producer's wall-clock Timestamp.
        assert_eq!(decoded.event_time, Some(Transaction { row: row.clone() }.event_time()));
    }
}

#[test]
fn identities_from_a_python_producer_decode_with_the_key_as_a_string_of_digits() {
    let p = Producer::new(Table::Identity, r#""string""#, true);
    let decoder = p.registry.value_decoder(Table::Identity, p.value_id).expect("decoder");
    let catalog = Table::Identity.catalog();
    assert!(decoder.has_column(catalog.col("DeviceType")) && !decoder.has_column(catalog.col("TransactionID")));
    let (rows, _) = read(Table::Identity, IDENTITIES, &sample(IDENTITIES));
    for (i, row) in rows.iter().enumerate() {
        let id = row.nums[0] as i64;
        let key =
            framed(p.key_id, &apache_avro::to_avro_datum(&p.key_schema, Avro::String(id.to_string())).expect("key"));
        let dt = 86_400.0 + i as f64;
        let value = python_datum(&p.schema, &p.parsed, row, Table::Identity, dt);
        let decoded = decoder.decode(&value, Some(p.registry.key_transaction_id(&key).expect("key"))).expect("value");
        assert_eq!(&decoded.row, row, "TransactionID {id}");
        assert_eq!(decoded.event_time, Some(EventTime::from_transaction_dt(dt as i64)), "from its TransactionDT");
    }
    // Without TransactionDT (or our event_time field), an identity has no event time of its own.
    let p = Producer::new(Table::Identity, r#""string""#, false);
    let decoder = p.registry.value_decoder(Table::Identity, p.value_id).expect("decoder");
    let value = python_datum(&p.schema, &p.parsed, &rows[0], Table::Identity, f64::NAN);
    assert_eq!(decoder.decode(&value, Some(2_987_004)).expect("value").event_time, None);
}

#[test]
fn a_float_transaction_dt_must_be_a_whole_number() {
    let p = Producer::new(Table::Transaction, r#""long""#, false);
    let decoder = p.registry.value_decoder(Table::Transaction, p.value_id).expect("decoder");
    let (mut rows, _) = read(Table::Transaction, TRANSACTIONS, &sample(TRANSACTIONS));
    let row = &mut rows[0];
    row.nums[2] = 86_555.0;
    let value = python_datum(&p.schema, &p.parsed, row, Table::Transaction, f64::NAN);
    assert_eq!(decoder.decode(&value, Some(1)).expect("whole").row.nums[2], 86_555.0);
    row.nums[2] = 86_555.5;
    let value = python_datum(&p.schema, &p.parsed, row, Table::Transaction, f64::NAN);
    let err = decoder.decode(&value, Some(1)).expect_err("fraction").to_string();
    assert_eq!(
        err,
        format!(
            "Avro decoding a transaction value (schema id {}): field `TransactionDT`: 86555.5 is not an integer",
            p.value_id
        )
    );
}

#[test]
fn our_own_schema_is_recognised_by_fingerprint_and_keeps_the_fast_path() {
    let server = FakeSchemaRegistry::start();
    let registry = SchemaRegistry::new(server.url(), None).expect("client");
    // Registered pretty-printed: another text, the same canonical form.
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<Json>(&value_schema_json(Table::Transaction)).expect("json"),
    )
    .expect("pretty");
    let id = registry.register("transactions-value", &pretty).expect("register");
    let decoder = registry.value_decoder(Table::Transaction, id).expect("decoder");
    assert!(decoder.is_own_schema() && !decoder.needs_key());
    let (rows, _) = read(Table::Transaction, TRANSACTIONS, &sample(TRANSACTIONS));
    let row = &rows[3];
    let t = Transaction { row: row.clone() }.event_time();
    let mut datum = Vec::new();
    encode_value(Table::Transaction, row, t, &mut datum).expect("encode");
    let decoded = decoder.decode(&datum, None).expect("decode");
    assert_eq!((&decoded.row, decoded.event_time), (row, Some(t)));
    let err = decoder.decode(&datum, Some(1)).expect_err("the key says otherwise").to_string();
    assert!(err.ends_with("the value's TransactionID 2987003 differs from the key's 1"), "{err}");
}

#[test]
fn a_frame_of_the_other_tables_schema_says_where_that_schema_is_registered() {
    let server = FakeSchemaRegistry::start();
    let registry = SchemaRegistry::new(server.url(), None).expect("client");
    let identity = registry.register("identities-value", &value_schema_json(Table::Identity)).expect("register");
    let err = registry.value_decoder(Table::Transaction, identity).expect_err("identity schema").to_string();
    assert!(
        err.contains(&format!(
            "schema id {identity} is registered under subject `identities-value` (version 1), expected a transaction \
             schema: it looks like an identity schema: it has 40 identity columns (id_01, id_02, id_03, …)"
        )),
        "{err}"
    );
    assert!(matches!(registry.value_decoder(Table::Transaction, identity), Err(DataError::Avro { .. })), "dead letter");
    // A key schema where a value's was expected.
    let key = registry.register("transactions-key", KEY_SCHEMA).expect("register");
    let err = registry.value_decoder(Table::Transaction, key).expect_err("key schema").to_string();
    assert!(
        err.contains(&format!(
            "schema id {key} is registered under subject `transactions-key` (version 1), expected a transaction \
             schema: it has no `TransactionDT` field"
        )),
        "{err}"
    );
    // The reason is kept for the schema id: every record carrying it gets the same one.
    let again = registry.value_decoder(Table::Transaction, key).expect_err("cached").to_string();
    assert_eq!(again, err);
}

#[test]
fn keys_written_with_other_key_schemas_give_the_transaction_id() {
    let server = FakeSchemaRegistry::start();
    let registry = SchemaRegistry::new(server.url(), None).expect("client");
    let record = r#"{"type":"record","name":"Key","namespace":"py","fields":[{"name":"id","type":"long"}]}"#;
    for (schema, value) in [
        (r#""long""#, Avro::Long(2_987_004)),
        (r#""int""#, Avro::Int(2_987_004)),
        (r#""string""#, Avro::String("2987004".into())),
        (r#"["null","long"]"#, Avro::Union(1, Box::new(Avro::Long(2_987_004)))),
        (record, Avro::Record(vec![("id".into(), Avro::Long(2_987_004))])),
        (KEY_SCHEMA, Avro::Record(vec![("TransactionID".into(), Avro::Long(2_987_004))])),
    ] {
        let id = registry.register("k-key", schema).expect("register");
        let parsed = apache_avro::Schema::parse_str(schema).expect("schema");
        let key = framed(id, &apache_avro::to_avro_datum(&parsed, value).expect("encode"));
        assert_eq!(registry.key_transaction_id(&key).expect(schema), 2_987_004, "{schema}");
    }
    // A plain StringSerializer key, without a Confluent header.
    assert_eq!(registry.key_transaction_id(b"2987004").expect("digits"), 2_987_004);
    for (key, reason) in [
        (&b"2987004.5"[..], "not a TransactionID in decimal digits"),
        (b"", "not a TransactionID in decimal digits"),
        (b"\x01\x00\x00\x00\x01", "not a TransactionID in decimal digits"),
    ] {
        let err = registry.key_transaction_id(key).expect_err("refused").to_string();
        assert!(err.contains(reason), "{err}");
    }
    let id = registry.register("k-key", r#""string""#).expect("register");
    let key = framed(
        id,
        &apache_avro::to_avro_datum(&apache_avro::Schema::String, Avro::String("29870O4".into())).expect("e"),
    );
    let err = registry.key_transaction_id(&key).expect_err("letter O").to_string();
    assert!(err.contains(&format!("key schema id {id}: the key `29870O4` is not a TransactionID")), "{err}");
}

#[test]
fn the_registry_lists_the_subjects_and_versions_of_a_schema_id() {
    let server = FakeSchemaRegistry::start();
    let registry = SchemaRegistry::new(server.url(), None).expect("client");
    registry.register("a-value", r#""long""#).expect("register");
    let id = registry.register("a-value", r#""string""#).expect("register");
    assert_eq!(registry.register("b-key", r#""string""#).expect("register"), id, "ids are global");
    let pairs = registry.subject_versions(id).expect("versions");
    let expected = [("a-value", 2), ("b-key", 1)].map(|(s, v)| SubjectVersion { subject: s.into(), version: v });
    assert_eq!(pairs, expected);
    let err = registry.subject_versions(99).expect_err("unknown");
    assert!(matches!(err, DataError::UnknownSchemaId { id: 99, .. }), "{err}");
    // The fake follows the API's filter and paging parameters.
    let url = format!("{}/schemas/ids/{id}/versions", server.url());
    let get =
        |query: &str| -> Json { reqwest::blocking::get(format!("{url}{query}")).expect("get").json().expect("json") };
    assert_eq!(get("?subject=b-key"), json!([{ "subject": "b-key", "version": 1 }]));
    assert_eq!(get("?offset=1&limit=1"), json!([{ "subject": "b-key", "version": 1 }]));
    assert_eq!(get("?limit=1&deleted=true"), json!([{ "subject": "a-value", "version": 2 }]));
}
