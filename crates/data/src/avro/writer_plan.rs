//! Decoding values written with someone else's writer schema (e.g. the reference team's Python producers:
//! confluent-kafka's `AvroSerializer` with their own `.avsc`), mapped onto the catalog by field name.
//!
//! A [`ValuePlan`] is compiled once per writer schema and says, for each writer field in order, what to do with it:
//! - a catalog column of the table: read into its slot, with numeric widening (`int`, `long`, `float`, `double`, or
//!   a `string` holding a number, into any numeric column), and the [value rules](crate::value_rules) (`86555.0`
//!   is a fine TransactionDT, `86555.5` is an error, a `long` beyond 2^53 is an error, `NaN` is missing, `inf` is an
//!   error). `null` (or a union's null branch) and the empty string `""` are missing values. A `float` widens to the
//!   `double` it represents exactly, as Avro schema resolution promotes it.
//! - `TransactionDT` in an identity schema: not an identity column, but the identity's event time.
//! - `event_time` (`long`, `timestamp-millis`, as in our own schemas): the event time when there is no
//!   TransactionDT. A wall-clock field (e.g. a producer's `Timestamp`) is never an event time: like every other
//!   field unknown to the catalog, it is skipped.
//!
//! Compiling refuses what cannot be read faithfully: a schema of the other table (see [`crate::table_shape`]), a
//! transaction schema without TransactionDT, a catalog column of an incompatible type (a record, an array, a
//! `timestamp-millis` TransactionDT, a number for a text column). TransactionID may be absent: it then comes from
//! the record's key.

use crate::avro::datum::{Cursor, DatumError, Graph, Node};
use crate::avro::EVENT_TIME_FIELD;
use crate::catalog::{canonical_name, Table};
use crate::event_time::{EventTime, EVENT_TIME_MILLIS};
use crate::number_text::{parse_number_with, shown};
use crate::record::{Row, DT_SLOT, ID_SLOT};
use crate::value_rules::NumberRule;

/// What to do with one writer field.
#[derive(Debug, Clone)]
enum Target {
    /// Fill a numeric slot under a rule.
    Number {
        slot: usize,
        rule: NumberRule,
    },
    /// Fill a text slot.
    Text {
        slot: usize,
    },
    /// An identity schema's TransactionDT: the event time.
    DtForEventTime,
    /// Our `event_time` field (`timestamp-millis`).
    EventTime,
    Skip,
}

#[derive(Debug, Clone)]
struct PlannedField {
    name: Box<str>,
    node: usize,
    target: Target,
}

/// Why a writer schema cannot be decoded as a table's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The schema is not a record.
    NotARecord { found: String },
    /// The schema's fields are another table's (or both tables'); the reason says what it looks like.
    WrongTable { reason: String },
    /// A field the table needs is not in the schema.
    MissingField { field: &'static str, why: &'static str },
    /// A field of a catalog column has a type that cannot be read as that column.
    Incompatible { field: String, found: String, column: &'static str },
    /// The schema JSON does not parse.
    Unparsable { message: String },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::NotARecord { found } => write!(f, "it is not a record schema but {found}"),
            PlanError::WrongTable { reason } => f.write_str(reason),
            PlanError::MissingField { field, why } => write!(f, "it has no `{field}` field, {why}"),
            PlanError::Incompatible { field, found, column } => {
                write!(f, "field `{field}` is {found}, which cannot be read as the {column} column `{field}`")
            }
            PlanError::Unparsable { message } => write!(f, "it does not parse: {message}"),
        }
    }
}

/// How to decode values of one table written with one writer schema (see the module docs).
#[derive(Debug, Clone)]
pub struct ValuePlan {
    table: Table,
    graph: Graph,
    fields: Vec<PlannedField>,
    /// For each catalog column: whether the writer schema has it.
    present: Vec<bool>,
}

/// A value decoded by a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedValue {
    pub row: Row,
    /// From TransactionDT when the record has one (always, for a transaction); else from an `event_time` field;
    /// `None` for an identity whose writer schema has neither.
    pub event_time: Option<EventTime>,
}

impl ValuePlan {
    /// Compiles a plan from a writer schema's JSON.
    pub fn compile_json(table: Table, json: &str) -> Result<ValuePlan, PlanError> {
        let schema: serde_avro_fast::schema::SchemaMut = json
            .parse()
            .map_err(|e: serde_avro_fast::schema::SchemaError| PlanError::Unparsable { message: e.to_string() })?;
        ValuePlan::compile(table, &Graph::from_schema(&schema))
    }

    fn compile(table: Table, graph: &Graph) -> Result<ValuePlan, PlanError> {
        let Node::Record(writer_fields) = &graph.nodes[0] else {
            return Err(PlanError::NotARecord { found: graph.describe(0) });
        };
        let names: Vec<String> = writer_fields.iter().map(|(n, _)| canonical_name(n).into_owned()).collect();
        crate::table_shape::check_columns(table, "schema", names.iter().map(String::as_str))
            .map_err(|reason| PlanError::WrongTable { reason })?;
        let catalog = table.catalog();
        let mut present = vec![false; catalog.columns().len()];
        let mut fields = Vec::with_capacity(writer_fields.len());
        for ((raw_name, node), name) in writer_fields.iter().zip(&names) {
            let node = *node;
            let target = match catalog.index(name) {
                Some(i) if !present[i] => {
                    present[i] = true;
                    let col = &catalog.columns()[i];
                    match NumberRule::of(table, col) {
                        Some(rule) => {
                            check_branches(graph, node, name, "numeric", |n, logical| {
                                logical.is_none()
                                    && match n {
                                        Node::Int | Node::Long | Node::Float | Node::Double | Node::String => true,
                                        Node::Boolean => rule == NumberRule::Integer,
                                        _ => false,
                                    }
                            })?;
                            Target::Number { slot: col.slot, rule }
                        }
                        None => {
                            check_branches(graph, node, name, "text", |n, _| {
                                matches!(n, Node::String | Node::Enum(_))
                            })?;
                            Target::Text { slot: col.slot }
                        }
                    }
                }
                // Avro forbids two fields of one name; only `id-01` next to `id_01` could get here.
                Some(_) => Target::Skip,
                None if table == Table::Identity && name == "TransactionDT" => {
                    check_branches(graph, node, name, "numeric", |n, logical| {
                        logical.is_none()
                            && matches!(n, Node::Int | Node::Long | Node::Float | Node::Double | Node::String)
                    })?;
                    Target::DtForEventTime
                }
                None if name == EVENT_TIME_FIELD && is_timestamp_millis(graph, node) => Target::EventTime,
                None => Target::Skip,
            };
            fields.push(PlannedField { name: raw_name.clone(), node, target });
        }
        if table == Table::Transaction && !catalog.index("TransactionDT").is_some_and(|i| present[i]) {
            return Err(PlanError::MissingField {
                field: "TransactionDT",
                why: "which a transaction needs for its event time",
            });
        }
        Ok(ValuePlan { table, graph: graph.clone(), fields, present })
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// Whether the writer schema has a column (looked up by name in this plan's table).
    pub fn has_column(&self, column: &crate::Column) -> bool {
        self.table.catalog().index(column.name).is_some_and(|i| self.present[i])
    }

    /// Whether values lack TransactionID, which must then come from the key.
    pub fn needs_key(&self) -> bool {
        // TransactionID is the first catalog column of both tables.
        !self.present[0]
    }

    /// Decodes one datum. `key_id` is the TransactionID decoded from the record's key, if the caller has it: it
    /// fills a value without TransactionID and must equal the value's when both are there.
    pub fn decode(&self, datum: &[u8], key_id: Option<i64>) -> Result<DecodedValue, String> {
        let mut row = Row::empty(self.table.catalog());
        let mut cursor = Cursor::new(datum);
        let mut dt_for_time = None;
        let mut event_time_ms = None;
        // How a TransactionID field was missing, for the message when there is no key to fall back on.
        let mut id_missing = "absent";
        for field in &self.fields {
            let in_field = |e: String| format!("field `{}`: {e}", field.name);
            let at_field = |e: DatumError| in_field(e.to_string());
            match &field.target {
                Target::Skip => cursor.skip(&self.graph, field.node).map_err(at_field)?,
                Target::Number { slot, rule } => {
                    let v = self.number(&mut cursor, field.node, *rule).map_err(in_field)?;
                    if let Missing(how) = v {
                        if *rule == NumberRule::TransactionDt {
                            return Err(in_field(format!("TransactionDT is required, and this value is {how}")));
                        }
                        if *slot == ID_SLOT {
                            id_missing = how;
                        }
                    }
                    row.nums[*slot] = v.value();
                }
                Target::Text { slot } => {
                    row.strs[*slot] = self.text(&mut cursor, field.node).map_err(in_field)?;
                }
                Target::DtForEventTime => {
                    dt_for_time =
                        self.number(&mut cursor, field.node, NumberRule::TransactionDt).map_err(in_field)?.present();
                }
                Target::EventTime => event_time_ms = self.event_time(&mut cursor, field.node).map_err(in_field)?,
            }
        }
        if cursor.remaining() > 0 {
            return Err(format!(
                "the datum has {} more bytes after its last field (byte {} of {}): the writer schema does not \
                 describe them",
                cursor.remaining(),
                cursor.pos(),
                datum.len()
            ));
        }
        let id = row.nums[ID_SLOT];
        match (id.is_nan(), key_id) {
            (true, Some(k)) => {
                NumberRule::Integer.check_integer(k).map_err(|e| format!("the key's TransactionID {k} {e}"))?;
                row.nums[ID_SLOT] = k as f64;
            }
            (true, None) if self.needs_key() => {
                return Err("the value has no TransactionID field and no key id was given".into());
            }
            (true, None) => {
                return Err(format!(
                    "field `TransactionID`: TransactionID is required, and this value is {id_missing} (no key id was \
                     given)"
                ))
            }
            (false, Some(k)) if k as f64 != id => {
                return Err(format!("the value's TransactionID {id} differs from the key's {k}"));
            }
            (false, _) => {}
        }
        let event_time = match self.table {
            Table::Transaction => Some(EventTime::from_transaction_dt(row.nums[DT_SLOT] as i64)),
            Table::Identity => match (dt_for_time, event_time_ms) {
                (Some(dt), _) => Some(EventTime::from_transaction_dt(dt as i64)),
                (None, Some(ms)) => Some(EventTime(ms)),
                (None, None) => None,
            },
        };
        Ok(DecodedValue { row, event_time })
    }

    /// Reads a numeric column's value.
    fn number(&self, cursor: &mut Cursor, node: usize, rule: NumberRule) -> Result<Num, String> {
        let node = self.resolve(cursor, node)?;
        let v = match &self.graph.nodes[node] {
            Node::Null => return Ok(Missing("null")),
            Node::Boolean => f64::from(u8::from(cursor.boolean().map_err(|e| e.to_string())?)),
            Node::Int | Node::Long => {
                let v = match self.graph.nodes[node] {
                    Node::Int => cursor.int(),
                    _ => cursor.long(),
                }
                .map_err(|e| e.to_string())?;
                rule.check_integer(v).map_err(|e| format!("{v} {e}"))?;
                return Ok(Present(v as f64));
            }
            Node::Float => f64::from(cursor.float().map_err(|e| e.to_string())?),
            Node::Double => cursor.double().map_err(|e| e.to_string())?,
            Node::String => {
                let text = cursor.bytes("a string").map_err(|e| e.to_string())?;
                if text.is_empty() {
                    return Ok(Missing("an empty string \"\""));
                }
                let v = parse_number_with(text, rule).map_err(|e| format!("the string {e}"))?;
                return Ok(if v.is_nan() { Missing("the string `NaN`") } else { Present(v) });
            }
            // Compiling accepts nothing else for a numeric column.
            _ => return Err(format!("{} is not a number", self.graph.describe(node))),
        };
        if v.is_nan() {
            return Ok(Missing("NaN"));
        }
        rule.check(v).map_err(|e| format!("{v} {e}"))?;
        Ok(Present(v))
    }

    /// Reads a text column's value: `None` for null and for `""`.
    fn text(&self, cursor: &mut Cursor, node: usize) -> Result<Option<Box<str>>, String> {
        let node = self.resolve(cursor, node)?;
        match &self.graph.nodes[node] {
            Node::Null => Ok(None),
            Node::Enum(symbols) => cursor.symbol(symbols).map(|s| Some(s.into())).map_err(|e| e.to_string()),
            Node::String => {
                let bytes = cursor.bytes("a string").map_err(|e| e.to_string())?;
                if bytes.is_empty() {
                    return Ok(None);
                }
                std::str::from_utf8(bytes)
                    .map(|s| Some(s.into()))
                    .map_err(|_| format!("`{}` is not valid UTF-8", shown(bytes)))
            }
            _ => Err(format!("{} is not text", self.graph.describe(node))),
        }
    }

    /// Reads an `event_time` (`timestamp-millis`) value, checking it is a representable event time.
    fn event_time(&self, cursor: &mut Cursor, node: usize) -> Result<Option<i64>, String> {
        let node = self.resolve(cursor, node)?;
        if matches!(self.graph.nodes[node], Node::Null) {
            return Ok(None);
        }
        let ms = cursor.long().map_err(|e| e.to_string())?;
        if !EVENT_TIME_MILLIS.contains(&ms) {
            return Err(format!("{ms} ms is outside the event times a record may carry (1970 to the end of 9999)"));
        }
        Ok(Some(ms))
    }

    /// Follows a union to the branch this value takes.
    fn resolve(&self, cursor: &mut Cursor, node: usize) -> Result<usize, String> {
        match &self.graph.nodes[node] {
            Node::Union(branches) => cursor.branch(branches).map_err(|e| e.to_string()),
            _ => Ok(node),
        }
    }
}

/// A numeric value read, or how it was missing (for messages that tell null from `""` from NaN).
#[derive(Debug, Clone, Copy)]
enum Num {
    Present(f64),
    Missing(&'static str),
}
use Num::{Missing, Present};

impl Num {
    fn value(self) -> f64 {
        match self {
            Present(v) => v,
            Missing(_) => f64::NAN,
        }
    }

    fn present(self) -> Option<f64> {
        match self {
            Present(v) => Some(v),
            Missing(_) => None,
        }
    }
}

/// Checks every non-null branch of a field's type (the type itself when it is not a union) with `ok`.
fn check_branches(
    graph: &Graph,
    node: usize,
    name: &str,
    column: &'static str,
    ok: impl Fn(&Node, Option<&str>) -> bool,
) -> Result<(), PlanError> {
    let branches = match &graph.nodes[node] {
        Node::Union(b) => b.clone(),
        _ => vec![node],
    };
    for b in branches {
        let n = &graph.nodes[b];
        if !matches!(n, Node::Null) && !ok(n, graph.logical[b].as_deref()) {
            return Err(PlanError::Incompatible { field: name.to_string(), found: graph.describe(node), column });
        }
    }
    Ok(())
}

/// Whether a field is a `timestamp-millis` long (possibly nullable).
fn is_timestamp_millis(graph: &Graph, node: usize) -> bool {
    let branches = match &graph.nodes[node] {
        Node::Union(b) => b.clone(),
        _ => vec![node],
    };
    branches.iter().all(|&b| {
        matches!(graph.nodes[b], Node::Null)
            || (matches!(graph.nodes[b], Node::Long) && graph.logical[b].as_deref() == Some("timestamp-millis"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::put_long;
    use crate::catalog::{IDENTITY, TRANSACTION};

    /// A datum built field by field, as another producer would write it.
    #[derive(Default)]
    struct Datum(Vec<u8>);

    impl Datum {
        fn long(mut self, v: i64) -> Self {
            put_long(&mut self.0, v);
            self
        }
        fn branch(self, i: i64) -> Self {
            self.long(i)
        }
        fn float(mut self, v: f32) -> Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn double(mut self, v: f64) -> Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn string(self, s: &[u8]) -> Self {
            let mut d = self.long(s.len() as i64);
            d.0.extend_from_slice(s);
            d
        }
    }

    fn plan(table: Table, fields: &str) -> ValuePlan {
        let json = format!(r#"{{"type":"record","name":"R","namespace":"py","fields":[{fields}]}}"#);
        ValuePlan::compile_json(table, &json).unwrap_or_else(|e| panic!("{e}"))
    }

    const PY_TRANSACTION: &str = r#"
        {"name":"Timestamp","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"TransactionDT","type":"float"},
        {"name":"TransactionAmt","type":["null","double"]},
        {"name":"card1","type":"int"},
        {"name":"card4","type":"string"},
        {"name":"isFraud","type":"boolean"},
        {"name":"tags","type":{"type":"map","values":{"type":"array","items":"string"}}}"#;

    fn py_transaction(dt: f32, amount: Option<f64>, card4: &[u8]) -> Datum {
        let d = Datum::default().long(1_700_000_000_000).float(dt);
        let d = match amount {
            Some(a) => d.branch(1).double(a),
            None => d.branch(0),
        };
        d.long(13_926).string(card4).long(0).long(1).string(b"k").long(1).string(b"v").long(0).long(0)
    }

    #[test]
    fn fields_map_by_name_with_numeric_widening_and_the_id_from_the_key() {
        let p = plan(Table::Transaction, PY_TRANSACTION);
        assert!(p.needs_key());
        let v = p.decode(&py_transaction(86_555.0, Some(68.5), b"discover").0, Some(2_987_000)).expect("decode");
        let col = |n| TRANSACTION.col(n);
        assert_eq!(v.row.num(col("TransactionID")), Some(2_987_000.0));
        assert_eq!(v.row.num(col("TransactionDT")), Some(86_555.0));
        assert_eq!(v.row.num(col("TransactionAmt")), Some(68.5));
        assert_eq!(v.row.num(col("card1")), Some(13_926.0));
        assert_eq!(v.row.num(col("isFraud")), Some(0.0));
        assert_eq!(v.row.str(col("card4")), Some("discover"));
        assert_eq!(v.row.num(col("V1")), None);
        // The event time is TransactionDT's, never the wall-clock `Timestamp`.
        assert_eq!(v.event_time, Some(EventTime::from_transaction_dt(86_555)));
    }

    #[test]
    fn null_and_the_empty_string_are_missing_values() {
        let p = plan(Table::Transaction, PY_TRANSACTION);
        let v = p.decode(&py_transaction(86_555.0, None, b"").0, Some(1)).expect("decode");
        assert_eq!(v.row.num(TRANSACTION.col("TransactionAmt")), None);
        assert_eq!(v.row.str(TRANSACTION.col("card4")), None);
    }

    #[test]
    fn values_that_cannot_be_held_exactly_are_errors() {
        let p = plan(Table::Transaction, PY_TRANSACTION);
        let err = p.decode(&py_transaction(86_555.5, None, b"x").0, Some(1)).expect_err("fraction");
        assert_eq!(err, "field `TransactionDT`: 86555.5 is not an integer");
        let err = p.decode(&py_transaction(-1.0, None, b"x").0, Some(1)).expect_err("negative");
        assert!(err.starts_with("field `TransactionDT`: -1 is negative"), "{err}");
        let err = p.decode(&py_transaction(1.0, Some(f64::INFINITY), b"x").0, Some(1)).expect_err("inf");
        assert_eq!(err, "field `TransactionAmt`: inf is not a finite number");
        let v = p.decode(&py_transaction(1.0, Some(f64::NAN), b"x").0, Some(1)).expect("NaN is missing");
        assert_eq!(v.row.num(TRANSACTION.col("TransactionAmt")), None);
        let err = p.decode(&py_transaction(1.0, None, b"x").0, Some(1 << 60)).expect_err("key id");
        assert!(err.contains("2^53"), "{err}");

        let p = plan(
            Table::Transaction,
            r#"{"name":"TransactionID","type":"long"},{"name":"TransactionDT","type":"long"}"#,
        );
        let err = p.decode(&Datum::default().long(7).long(99_999_999_999_999_999).0, None).expect_err("dt");
        assert!(err.starts_with("field `TransactionDT`: 99999999999999999 is outside the integers"), "{err}");
        let err = p.decode(&Datum::default().long(i64::MAX).long(1).0, None).expect_err("id");
        assert!(err.starts_with("field `TransactionID`: 9223372036854775807 is outside"), "{err}");
    }

    #[test]
    fn messages_tell_null_from_empty_from_nan() {
        let p = plan(
            Table::Transaction,
            r#"{"name":"TransactionID","type":"long"},
            {"name":"TransactionDT","type":["null","string","double"]}"#,
        );
        let how = |d: Datum| p.decode(&Datum::default().long(7).0.into_iter().chain(d.0).collect::<Vec<_>>(), None);
        assert_eq!(
            how(Datum::default().branch(0)).expect_err("null"),
            "field `TransactionDT`: TransactionDT is required, and this value is null"
        );
        assert!(how(Datum::default().branch(1).string(b""))
            .expect_err("empty")
            .ends_with("this value is an empty string \"\""));
        assert!(how(Datum::default().branch(2).double(f64::NAN)).expect_err("nan").ends_with("this value is NaN"));
        assert!(how(Datum::default().branch(1).string(b"8.6e4")).is_ok());
        let err = how(Datum::default().branch(1).string(b"soon")).expect_err("text");
        assert_eq!(err, "field `TransactionDT`: the string `soon` is not a number");
    }

    #[test]
    fn truncation_says_which_field_and_how_far_the_datum_got() {
        let p = plan(Table::Transaction, PY_TRANSACTION);
        let full = py_transaction(86_555.0, Some(68.5), b"discover").0;
        let err = p.decode(&full[..12], Some(1)).expect_err("cut in TransactionAmt");
        assert_eq!(
            err,
            "field `TransactionAmt`: truncated: the datum ended after 12 bytes: a double at byte 11 needs 8 bytes, 1 remain"
        );
        let err = p.decode(&full[..full.len() - 1], Some(1)).expect_err("cut in tags");
        assert!(err.starts_with("field `tags`: truncated"), "{err}");
        let mut longer = full.clone();
        longer.push(0);
        let err = p.decode(&longer, Some(1)).expect_err("trailing byte");
        assert!(err.starts_with("the datum has 1 more bytes after its last field"), "{err}");
    }

    #[test]
    fn the_key_and_the_value_must_agree_on_the_id() {
        let p = plan(Table::Identity, r#"{"name":"TransactionID","type":"long"},{"name":"id_30","type":"string"}"#);
        let d = Datum::default().long(7).string(b"iOS 11.1.2").0;
        assert!(!p.needs_key());
        assert_eq!(p.decode(&d, Some(7)).expect("same").row.num(IDENTITY.col("TransactionID")), Some(7.0));
        assert_eq!(p.decode(&d, Some(8)).expect_err("differ"), "the value's TransactionID 7 differs from the key's 8");
        let p = plan(Table::Identity, r#"{"name":"id_30","type":"string"}"#);
        let err = p.decode(&Datum::default().string(b"iOS").0, None).expect_err("no id at all");
        assert_eq!(err, "the value has no TransactionID field and no key id was given");
    }

    #[test]
    fn an_identity_takes_its_event_time_from_transaction_dt_or_event_time_or_has_none() {
        let p = plan(
            Table::Identity,
            r#"{"name":"TransactionID","type":"long"},{"name":"TransactionDT","type":"double"},
            {"name":"id_01","type":"double"}"#,
        );
        let v = p.decode(&Datum::default().long(7).double(86_400.0).double(-5.0).0, None).expect("dt");
        assert_eq!(v.event_time, Some(EventTime::from_transaction_dt(86_400)));
        let p = plan(
            Table::Identity,
            r#"{"name":"TransactionID","type":"long"},{"name":"id_01","type":"double"},
            {"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}}"#,
        );
        let v = p.decode(&Datum::default().long(7).double(-5.0).long(5).0, None).expect("et");
        assert_eq!(v.event_time, Some(EventTime(5)));
        let p = plan(
            Table::Identity,
            r#"{"name":"TransactionID","type":"long"},
            {"name":"Timestamp","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"id_01","type":"double"}"#,
        );
        let v = p.decode(&Datum::default().long(7).long(1_700_000_000_000).double(-5.0).0, None).expect("none");
        assert_eq!(v.event_time, None, "a wall-clock Timestamp is not an event time");
        assert_eq!(v.row.num(IDENTITY.col("id_01")), Some(-5.0));
    }

    #[test]
    fn text_that_is_not_utf8_is_an_error_naming_the_field() {
        let p =
            plan(Table::Identity, r#"{"name":"TransactionID","type":"long"},{"name":"DeviceInfo","type":"string"}"#);
        let err = p.decode(&Datum::default().long(7).string(b"SM-G\xe9").0, None).expect_err("latin-1");
        assert_eq!(err, "field `DeviceInfo`: `SM-G\\xe9` is not valid UTF-8");
    }

    #[test]
    fn schemas_that_cannot_be_read_faithfully_are_refused_when_compiled() {
        let compile = |table, fields: &str| {
            let json = format!(r#"{{"type":"record","name":"R","fields":[{fields}]}}"#);
            ValuePlan::compile_json(table, &json).expect_err(fields).to_string()
        };
        let err =
            compile(Table::Transaction, r#"{"name":"TransactionID","type":"long"},{"name":"id_01","type":"double"}"#);
        assert!(err.starts_with("it looks like an identity schema"), "{err}");
        let err =
            compile(Table::Transaction, r#"{"name":"TransactionID","type":"long"},{"name":"card1","type":"long"}"#);
        assert_eq!(err, "it has no `TransactionDT` field, which a transaction needs for its event time");
        let err = compile(
            Table::Transaction,
            r#"{"name":"TransactionDT","type":{"type":"long","logicalType":"timestamp-millis"}}"#,
        );
        assert!(
            err.contains("`TransactionDT` is long (timestamp-millis), which cannot be read as the numeric"),
            "{err}"
        );
        let err = compile(Table::Identity, r#"{"name":"id_30","type":["null","double"]}"#);
        assert!(err.contains("`id_30` is [\"null\",\"double\"], which cannot be read as the text column"), "{err}");
        let err = ValuePlan::compile_json(Table::Identity, r#""long""#).expect_err("not a record").to_string();
        assert_eq!(err, "it is not a record schema but long");
    }

    #[test]
    fn our_own_schema_decodes_by_plan_exactly_as_by_the_fast_path() {
        let mut row = Row::empty(&TRANSACTION);
        row.nums[ID_SLOT] = 2_987_000.0;
        row.nums[DT_SLOT] = 86_400.0;
        row.nums[TRANSACTION.col("TransactionAmt").slot] = 68.5;
        row.strs[TRANSACTION.col("card4").slot] = Some("discover".into());
        let t = EventTime::from_transaction_dt(86_400);
        let mut datum = Vec::new();
        crate::avro::encode_value(Table::Transaction, &row, t, &mut datum).expect("encode");
        let p = ValuePlan::compile_json(Table::Transaction, &crate::avro::value_schema_json(Table::Transaction))
            .expect("own");
        assert_eq!(p.decode(&datum, None).expect("plan"), DecodedValue { row, event_time: Some(t) });
    }
}
