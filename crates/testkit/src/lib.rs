//! fraudstream-testkit: what integration tests need besides the product itself.
//!
//! - [`schema_registry`]: an in-memory Schema Registry that follows Confluent's REST API (a real one cannot run on
//!   the test machine).
//! - [`broker`]: where the test Kafka-protocol broker is, and unique topic names so tests never share state.
//! - [`foreign`]: Avro records as another team's Python producer writes them.
//! - [`shared_reference`]: the real IEEE-CIS sample and seed model, read from `../shared` (never copied into the repo).

pub mod broker;
pub mod foreign;
pub mod schema_registry;

pub use schema_registry::FakeSchemaRegistry;

use std::path::PathBuf;

/// `../shared/reference` next to the repository. Panics with a clear message when it is missing: tests that need
/// real data must fail, not silently pass, on a machine without it.
pub fn shared_reference() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    assert!(root.is_dir(), "{} is missing: tests read the real IEEE-CIS sample from ../shared", root.display());
    root
}

/// The real sample directory (`train_transaction.csv`, `train_identity.csv`).
pub fn ieee_cis_sample() -> PathBuf {
    shared_reference().join("ieee-cis-sample")
}
