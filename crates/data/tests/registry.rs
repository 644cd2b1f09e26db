//! The Schema Registry client against a server that speaks Confluent's REST API over real HTTP.

use fraudstream_data::avro::{value_schema_json, KEY_SCHEMA};
use fraudstream_data::registry::{subject, SchemaRegistry};
use fraudstream_data::Table;
use fraudstream_testkit::FakeSchemaRegistry;

#[test]
fn the_same_key_schema_gets_one_global_id_under_both_topic_subjects() {
    let server = FakeSchemaRegistry::start();
    let client = SchemaRegistry::new(server.url(), None).expect("client");
    let a = client.register(&subject("transactions", true), KEY_SCHEMA).expect("register");
    let b = client.register(&subject("identities", true), KEY_SCHEMA).expect("register");
    assert_eq!(a, b, "co-partitioning needs byte-identical keys, so one schema id");
    let v = client.register(&subject("transactions", false), &value_schema_json(Table::Transaction)).expect("value");
    assert_ne!(v, a);
    assert_eq!(server.subjects(), vec!["identities-key", "transactions-key", "transactions-value"]);
}

#[test]
fn registrations_and_lookups_are_cached() {
    let server = FakeSchemaRegistry::start();
    let client = SchemaRegistry::new(server.url(), None).expect("client");
    let schema = value_schema_json(Table::Identity);
    let id = client.register("identities-value", &schema).expect("register");
    client.register("identities-value", &schema).expect("again");
    assert_eq!(server.register_calls(), 1);
    let fetched = client.schema_by_id(id).expect("by id");
    let again = client.schema_by_id(id).expect("cached");
    assert!(std::sync::Arc::ptr_eq(&fetched, &again));
}

#[test]
fn unknown_schema_id_is_an_error_naming_the_registry_and_code() {
    let server = FakeSchemaRegistry::start();
    let client = SchemaRegistry::new(server.url(), None).expect("client");
    let err = client.schema_by_id(99).unwrap_err().to_string();
    assert!(err.contains(server.url()) && err.contains("40403") && err.contains("schema id 99"), "{err}");
}

#[test]
fn basic_auth_is_sent_and_wrong_credentials_are_rejected() {
    let server = FakeSchemaRegistry::start_with_auth("KEY", "SECRET");
    let good = SchemaRegistry::new(server.url(), Some("KEY:SECRET")).expect("client");
    assert!(good.register("t-key", KEY_SCHEMA).is_ok());
    let bad = SchemaRegistry::new(server.url(), Some("KEY:WRONG")).expect("client");
    let err = bad.register("t-key", KEY_SCHEMA).unwrap_err().to_string();
    assert!(err.contains("401"), "{err}");
}
