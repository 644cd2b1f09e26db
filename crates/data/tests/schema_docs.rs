//! The Avro schemas documented in docs/schemas/ are exactly the ones the code registers.
//! To refresh them after a catalog change: `FRAUDSTREAM_WRITE_SCHEMAS=1 cargo test -p fraudstream-data --test schema_docs`.

use std::path::PathBuf;

use fraudstream_data::avro::{value_schema_json, KEY_SCHEMA};
use fraudstream_data::Table;

fn pretty(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    serde_json::to_string_pretty(&v).expect("serialize") + "\n"
}

#[test]
fn documented_schemas_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas");
    let expected = [
        ("key.avsc", pretty(KEY_SCHEMA)),
        ("transactions-value.avsc", pretty(&value_schema_json(Table::Transaction))),
        ("identities-value.avsc", pretty(&value_schema_json(Table::Identity))),
    ];
    for (file, text) in expected {
        let path = dir.join(file);
        if std::env::var_os("FRAUDSTREAM_WRITE_SCHEMAS").is_some() {
            std::fs::write(&path, &text).expect("write schema doc");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(on_disk, text, "{} is stale; see this test's doc comment", path.display());
    }
}
