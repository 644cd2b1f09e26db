//! fraudstream-data: the IEEE-CIS data layer every other crate stands on.
//!
//! - [`catalog`]: the 394 transaction and 41 identity columns, their order and types — the single definition.
//! - [`record`]: typed, nullable records laid out from the catalog ([`Transaction`], [`Identity`], [`Row`]).
//! - [`csv_table`]: streaming Kaggle CSV reading (by header name, bad rows reported as file:line:column) and
//!   writing in exactly the Kaggle format.
//! - [`avro`]: value and key schemas derived from the catalog, codecs, and the Confluent wire format.
//! - [`registry`]: a cached Confluent Schema Registry client (TopicNameStrategy, basic auth).
//! - [`event_time`]: TransactionDT → event time, the one rule used everywhere.
//! - [`value_rules`], [`number_text`], [`table_shape`]: what a value and a header must be to be read at all, shared by
//!   the CSV reader and the Avro decoders so both refuse the same input.
//!
//! Records are deliberately plain data: no I/O handles, no Kafka types, so the engine, model mapping and trainer can
//! all use them without depending on each other.

pub mod avro;
pub mod avro_projected;
pub mod catalog;
pub mod csv_split;
pub mod csv_table;
pub mod error;
pub mod event_time;
pub mod generate;
pub mod labels;
pub mod number_text;
pub mod record;
pub mod registry;
pub mod rng;
pub mod table_shape;
pub mod value_rules;

pub use catalog::{Catalog, Column, ColumnType, Table};
pub use error::{BadRow, DataError, BAD_ROW_PAYLOAD_LIMIT};
pub use event_time::{Calendar, EventTime};
pub use record::{Identity, Record, Row, Transaction, Value};
