//! The fraudstream pipeline written as Confluent Cloud for Apache Flink SQL, for one model.
//!
//! `fraudstream flink-sql` prints what a team that keeps its streaming job on Confluent Cloud needs to score with
//! our model and our features: tables over the two input topics with event time and watermarks, the LEFT interval
//! join, the calendar features, a `CREATE MODEL` for the `azureml` provider pointing at `fraudstream serve`, and the
//! `ML_PREDICT` insert into a scores table.
//!
//! Why a module of the CLI crate: generating text for another system is a front-end concern with one caller. It needs
//! the column catalog and Avro schema (data), the input classification (features) and the model's input list
//! (model), but no engine types, and keeping it out of the library crates keeps them free of Flink-specific text.
//!
//! Every definition is taken from the code the embedded pipeline runs, never re-typed:
//! - columns and their types come from the Avro value schema `fraudstream produce` registers;
//! - the event-time reference comes from [`fraudstream_data::event_time`];
//! - which model inputs are columns and which are calendar features is decided by
//!   [`fraudstream_features::mapping::resolve`], so a derived feature added there later (client velocity, say) is
//!   reported as unsupported here instead of being silently sent as a missing column;
//! - the calendar formulas are written against Flink's `EXTRACT` semantics (WEEK is the ISO-8601 week, DOW counts
//!   Sunday = 1, both checked on Flink 2.3) so they equal [`fraudstream_data::Calendar`]'s values, which the unit
//!   tests check date by date.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use fraudstream_data::avro::{value_schema_json, EVENT_TIME_FIELD};
use fraudstream_data::catalog::canonical_name;
use fraudstream_data::event_time::{EventTime, REFERENCE_UNIX_SECS};
use fraudstream_data::Table;
use fraudstream_features::mapping::{resolve, InputSource};
use fraudstream_features::CalendarFeature;
use fraudstream_model::{ElemType, Model};

/// Most columns one `ML_PREDICT` call is given: the reference team saw Confluent Cloud fail beyond about 85 input
/// columns (their notes keep models "with less than 85 features"), so wider models get their inputs packed into one
/// JSON string column.
pub const MAX_ML_PREDICT_COLUMNS: usize = 84;

/// Name of the single `STRING` input column of a packed (JSON) model; `fraudstream serve` treats a lone column that
/// is no model input as one JSON object of name → value per row.
pub const JSON_INPUT_COLUMN: &str = "features_json";

/// Name of the view holding the joined, featured rows the model is called on.
pub const JOINED_VIEW: &str = "fraudstream_joined";

/// Computed column of the transactions table: the event time as an instant (`TIMESTAMP_LTZ(3)`, the rowtime).
pub const TRANSACTION_TIME: &str = "transaction_time";

/// Computed column of the transactions table: the same instant as a zone-less `TIMESTAMP` whose fields read as UTC,
/// so `EXTRACT` gives UTC calendar fields whatever the session time zone is.
pub const TRANSACTION_UTC: &str = "transaction_utc";

#[derive(Debug, thiserror::Error)]
pub enum FlinkSqlError {
    #[error("the model has no inputs")]
    NoInputs,

    #[error(
        "model input `{name}` is {what}; Flink SQL passes one scalar column per model input (tensors shaped [N, 1])"
    )]
    NotOneColumn { name: String, what: String },

    #[error(
        "the model has {count} input(s) that Flink SQL cannot compute:\n{list}\nfraudstream flink-sql can feed a model \
         transaction columns, identity columns and the calendar features {calendar}. Other derived features (such as \
         client velocity features) exist only in fraudstream's own pipeline: score such a model with `fraudstream \
         run`, or let Flink call `fraudstream serve` with a model that does not need them."
    )]
    Unsupported { count: usize, list: String, calendar: String },

    #[error("{flag} {value:?} cannot be written as a Flink interval: {reason}")]
    Interval { flag: &'static str, value: Duration, reason: &'static str },

    #[error("--threshold must be within 0..=1, got {0}")]
    Threshold(f64),

    #[error("the Avro value schema of the {table} topic is not what this generator expects: {detail}")]
    Schema { table: &'static str, detail: String },
}

/// Whether the script creates the input tables or adapts the ones Confluent Cloud inferred from existing topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableMode {
    /// `CREATE TABLE` with every column of our Avro value schemas (Confluent Cloud then creates the topics).
    Create,
    /// `ALTER TABLE` on the tables Confluent Cloud infers from topics `fraudstream produce` already wrote.
    Alter,
}

/// What the scoring endpoint returns per row, and so what the model's OUTPUT and the scores table hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScoreOutput {
    /// The predicted label, 0 or 1 (the server's default reply).
    Label,
    /// The fraud probability (endpoint `.../score?output=probability`); the label is derived with --threshold.
    Probability,
}

/// Everything the script depends on besides the model.
#[derive(Debug, Clone)]
pub struct FlinkSqlConfig {
    /// The model file's name, for the header comment.
    pub model_file: String,
    /// Name of the Confluent model resource.
    pub model_name: String,
    /// Name of the Confluent connection holding the endpoint and API key.
    pub connection: String,
    /// The scoring endpoint, for the commented `confluent flink connection create` line.
    pub endpoint: Option<String>,
    pub transactions_table: String,
    pub identities_table: String,
    pub scores_table: String,
    pub partitions: u32,
    pub tables: TableMode,
    pub join_lower: Duration,
    pub join_upper: Duration,
    pub max_out_of_orderness: Duration,
    /// Pack the inputs into one JSON column even when the model has few enough for one column each.
    pub force_json: bool,
    pub output: ScoreOutput,
    pub threshold: f64,
}

/// The Flink type a model input is declared with in `CREATE MODEL ... INPUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    Float,
    Double,
    Bigint,
    String,
}

impl InputType {
    fn of(elem: ElemType) -> InputType {
        match elem {
            ElemType::Float => InputType::Float,
            ElemType::Double => InputType::Double,
            ElemType::Int64 => InputType::Bigint,
            ElemType::String => InputType::String,
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            InputType::Float => "FLOAT",
            InputType::Double => "DOUBLE",
            InputType::Bigint => "BIGINT",
            InputType::String => "STRING",
        }
    }
}

/// One model input, in model order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInput {
    pub name: String,
    pub ty: InputType,
}

/// The inputs of a loaded model, checked to be one scalar per row each.
pub fn model_inputs(model: &Model) -> Result<Vec<ModelInput>, FlinkSqlError> {
    let mut inputs = Vec::with_capacity(model.inputs().len());
    for info in model.inputs() {
        let Some(elem) = info.elem_type() else {
            return Err(FlinkSqlError::NotOneColumn { name: info.name.clone(), what: "not a tensor".into() });
        };
        match info.row_width() {
            Some(1) => {}
            Some(w) => {
                return Err(FlinkSqlError::NotOneColumn {
                    name: info.name.clone(),
                    what: format!("a tensor of {w} values per row"),
                })
            }
            None => {
                return Err(FlinkSqlError::NotOneColumn {
                    name: info.name.clone(),
                    what: "a tensor without a fixed width per row".into(),
                })
            }
        }
        inputs.push(ModelInput { name: info.name.clone(), ty: InputType::of(elem) });
    }
    Ok(inputs)
}

/// Where the value of one model input comes from in the joined view.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Feed {
    Transaction(&'static str),
    Identity(&'static str),
    Calendar(CalendarFeature),
}

impl Feed {
    /// The view column holding this value.
    fn view_column(&self) -> &'static str {
        match self {
            Feed::Transaction(c) | Feed::Identity(c) => c,
            Feed::Calendar(f) => calendar_name(*f),
        }
    }
}

/// Classifies every input with the pipeline's own resolver; collects all failures so one run names them all.
fn classify(inputs: &[ModelInput]) -> Result<Vec<Feed>, FlinkSqlError> {
    let mut feeds = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for input in inputs {
        let source = match resolve(&input.name, input.ty != InputType::String) {
            Ok(source) => source,
            Err(e) => {
                problems.push(format!("  - {e}"));
                continue;
            }
        };
        let canonical = canonical_name(&input.name);
        let column = |table: Table| table.catalog().get(&canonical).map(|c| c.name);
        // Not a `match`: a source kind added to the resolver later (a client feature, say) has no SQL here and must
        // land in the error below rather than break the build of this command.
        let feed = if let InputSource::Calendar(f) = source {
            Some(Feed::Calendar(f))
        } else if matches!(source, InputSource::TransactionNum(_) | InputSource::TransactionStr(_)) {
            column(Table::Transaction).map(Feed::Transaction)
        } else if matches!(source, InputSource::IdentityNum(_) | InputSource::IdentityStr(_)) {
            column(Table::Identity).map(Feed::Identity)
        } else {
            None
        };
        match feed {
            Some(feed) => feeds.push(feed),
            None => problems.push(format!(
                "  - model input `{}` is a derived feature that is only computed by fraudstream itself",
                input.name
            )),
        }
    }
    if problems.is_empty() {
        Ok(feeds)
    } else {
        Err(FlinkSqlError::Unsupported {
            count: problems.len(),
            list: problems.join("\n"),
            calendar: CalendarFeature::NAMES.iter().map(|(_, names)| names.join("/")).collect::<Vec<_>>().join(", "),
        })
    }
}

/// A unit Flink's `EXTRACT` returns, with Flink's semantics (checked on Flink 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    /// Calendar year.
    Year,
    /// 1..=12.
    Month,
    /// ISO-8601 week number, 1..=53 (2018-12-31 is week 1).
    Week,
    /// Day of the year, 1..=366.
    Doy,
    /// 0..=23.
    Hour,
    /// Day of the week, Sunday = 1 … Saturday = 7.
    Dow,
}

impl Extract {
    fn sql(self) -> &'static str {
        match self {
            Extract::Year => "YEAR",
            Extract::Month => "MONTH",
            Extract::Week => "WEEK",
            Extract::Doy => "DOY",
            Extract::Hour => "HOUR",
            Extract::Dow => "DOW",
        }
    }
}

/// How a calendar feature is computed from `EXTRACT` fields; rendered to SQL and evaluated in the tests from the
/// same value, so the SQL text and the checked arithmetic cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarFormula {
    /// `(YEAR - base_year) * per_year + EXTRACT(unit)`: the Kaggle counters DT_D, DT_W, DT_M.
    Counter { per_year: i64, unit: Extract },
    /// `EXTRACT(unit)` as is.
    Field(Extract),
    /// `MOD(EXTRACT(DOW) + 5, 7)`: Flink's Sunday = 1 numbering moved to Monday = 0 (Python's `weekday()`).
    MondayZeroWeekday,
}

/// The year the Kaggle counters count from (`DT_D = (year-2017)*365 + day of year`).
pub const COUNTER_BASE_YEAR: i64 = 2017;

/// The formula of one calendar feature, matching `fraudstream_data::Calendar` (not the reference team's bare
/// `EXTRACT(DOY/DOW/MONTH)`, which restarted each year and numbered weekdays differently from training).
pub fn calendar_formula(f: CalendarFeature) -> CalendarFormula {
    match f {
        CalendarFeature::DtD => CalendarFormula::Counter { per_year: 365, unit: Extract::Doy },
        CalendarFeature::DtW => CalendarFormula::Counter { per_year: 52, unit: Extract::Week },
        CalendarFeature::DtM => CalendarFormula::Counter { per_year: 12, unit: Extract::Month },
        CalendarFeature::Hour => CalendarFormula::Field(Extract::Hour),
        CalendarFeature::DayOfWeek => CalendarFormula::MondayZeroWeekday,
    }
}

/// The SQL of a formula over the zone-less UTC timestamp expression `ts`.
pub fn calendar_sql(formula: CalendarFormula, ts: &str) -> String {
    let extract = |u: Extract| format!("EXTRACT({} FROM {ts})", u.sql());
    match formula {
        CalendarFormula::Counter { per_year, unit } => {
            format!("({} - {COUNTER_BASE_YEAR}) * {per_year} + {}", extract(Extract::Year), extract(unit))
        }
        CalendarFormula::Field(u) => extract(u),
        CalendarFormula::MondayZeroWeekday => format!("MOD({} + 5, 7)", extract(Extract::Dow)),
    }
}

/// The view column name of a calendar feature: its canonical input name.
fn calendar_name(f: CalendarFeature) -> &'static str {
    CalendarFeature::NAMES.iter().find(|(g, _)| *g == f).and_then(|(_, names)| names.first().copied()).unwrap_or("")
}

/// A Flink identifier, backquoted.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A Flink string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `INTERVAL '20' SECOND`, `INTERVAL '0.5' SECOND`, `INTERVAL '300' SECOND(3)` (Flink's SECOND has two leading
/// digits unless a precision is given).
pub fn interval(flag: &'static str, d: Duration) -> Result<String, FlinkSqlError> {
    if d.subsec_nanos() != d.subsec_millis() * 1_000_000 {
        return Err(FlinkSqlError::Interval { flag, value: d, reason: "Flink time is in whole milliseconds" });
    }
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let digits = secs.to_string();
    if digits.len() > 9 {
        return Err(FlinkSqlError::Interval { flag, value: d, reason: "longer than Flink's SECOND(9) interval" });
    }
    let value =
        if millis == 0 { digits.clone() } else { format!("{digits}.{}", format!("{millis:03}").trim_end_matches('0')) };
    let unit = if digits.len() > 2 { format!("SECOND({})", digits.len()) } else { "SECOND".to_string() };
    Ok(format!("INTERVAL '{value}' {unit}"))
}

/// One column of an Avro value schema as a Flink column definition.
fn flink_column(table: &'static str, field: &serde_json::Value) -> Result<String, FlinkSqlError> {
    let bad = |detail: String| FlinkSqlError::Schema { table, detail };
    let name =
        field.get("name").and_then(|n| n.as_str()).ok_or_else(|| bad(format!("a field has no name: {field}")))?;
    let ty = field.get("type").ok_or_else(|| bad(format!("field {name} has no type")))?;
    let (ty, nullable) = match ty {
        serde_json::Value::Array(branches) => {
            let non_null: Vec<&serde_json::Value> = branches.iter().filter(|b| b.as_str() != Some("null")).collect();
            match non_null.as_slice() {
                [one] if non_null.len() < branches.len() => (*one, true),
                _ => return Err(bad(format!("field {name} is a union other than [\"null\", T]"))),
            }
        }
        other => (other, false),
    };
    let sql = match (ty.as_str(), ty.get("logicalType").and_then(|l| l.as_str())) {
        (Some("long"), _) => "BIGINT",
        (Some("int"), _) => "INT",
        (Some("double"), _) => "DOUBLE",
        (Some("string"), _) => "STRING",
        (None, Some("timestamp-millis")) => "TIMESTAMP_LTZ(3)",
        _ => return Err(bad(format!("field {name} has type {ty}, which has no Flink mapping here"))),
    };
    Ok(format!("{} {sql}{}", ident(name), if nullable { "" } else { " NOT NULL" }))
}

/// The column definitions of a topic's value schema, in schema order.
fn table_columns(table: Table, label: &'static str) -> Result<Vec<String>, FlinkSqlError> {
    let schema: serde_json::Value = serde_json::from_str(&value_schema_json(table))
        .map_err(|e| FlinkSqlError::Schema { table: label, detail: e.to_string() })?;
    let fields = schema
        .get("fields")
        .and_then(|f| f.as_array())
        .ok_or_else(|| FlinkSqlError::Schema { table: label, detail: "no fields".into() })?;
    fields.iter().map(|f| flink_column(label, f)).collect()
}

/// The reference instant as Flink's `TIMESTAMP` literal text (`2017-11-30 00:00:00`).
fn reference_timestamp_literal() -> String {
    let rfc3339 = EventTime(REFERENCE_UNIX_SECS * 1000).to_string();
    format!("{} {}", &rfc3339[..10], &rfc3339[11..19])
}

const HEADER_NOTE: &str = "\
-- Generated by `fraudstream flink-sql`: regenerate it when the model or a flag changes instead of
-- editing it. Run the statements in order in a Flink workspace or the Confluent Flink SQL shell.
--
-- The model is served by `fraudstream serve` behind a TLS-terminating proxy. Create the connection
-- that holds its endpoint and API key once, with the Confluent CLI:";

const EVENT_TIME_NOTE: &str = "\
-- Event time of a transaction: 2017-11-30T00:00:00Z + TransactionDT seconds, computed from
-- TransactionDT rather than read from the Avro `event_time` field. Both hold the same instant when
-- `fraudstream produce` wrote the record, but TransactionDT is what the calendar features and
-- training derive from, so join time and features cannot disagree whoever produced the topic (the
-- reference producers stamped wall-clock time). Identities carry no TransactionDT: their time is
-- the Avro `event_time`, which the producer stamps with their transaction's event time.
-- `transaction_utc` is the same instant without a time zone, so EXTRACT reads UTC fields whatever
-- the session time zone is.";

const ALTER_NOTE: &str = "\
-- The topics exist (written by `fraudstream produce`), so Confluent Cloud has inferred their
-- tables from the registered Avro schemas; these statements add event time and watermarks.";

const CALENDAR_NOTE: &str = "\
-- Calendar features as training computed them: DT_D = (year-2017)*365 + day of year,
-- DT_W = (year-2017)*52 + ISO week, DT_M = (year-2017)*12 + month, hour 0-23, day of week
-- Monday = 0. Flink's EXTRACT(WEEK) is the ISO week and EXTRACT(DOW) counts Sunday = 1, hence
-- MOD(DOW + 5, 7).";

/// The whole script.
pub fn generate(inputs: &[ModelInput], config: &FlinkSqlConfig) -> Result<String, FlinkSqlError> {
    if inputs.is_empty() {
        return Err(FlinkSqlError::NoInputs);
    }
    if !(0.0..=1.0).contains(&config.threshold) {
        return Err(FlinkSqlError::Threshold(config.threshold));
    }
    let feeds = classify(inputs)?;
    let lower = interval("--join-lower", config.join_lower)?;
    let upper = interval("--join-upper", config.join_upper)?;
    let delay = interval("--max-out-of-orderness", config.max_out_of_orderness)?;
    let packed = config.force_json || inputs.len() > MAX_ML_PREDICT_COLUMNS;

    let tx = ident(&config.transactions_table);
    let id = ident(&config.identities_table);
    let scores = ident(&config.scores_table);
    let model = ident(&config.model_name);
    let tx_time = ident(TRANSACTION_TIME);
    let tx_utc = ident(TRANSACTION_UTC);
    let id_time = ident(EVENT_TIME_FIELD);
    let tid = ident("TransactionID");
    let time_expr = format!("TO_TIMESTAMP_LTZ(({REFERENCE_UNIX_SECS} + {}) * 1000, 3)", ident("TransactionDT"));
    let utc_expr = format!(
        "TIMESTAMPADD(SECOND, CAST({} AS INT), TIMESTAMP '{}')",
        ident("TransactionDT"),
        reference_timestamp_literal()
    );

    let mut s = String::new();
    let out = &mut s;
    // Writing to a String cannot fail; the results are ignored through this macro.
    macro_rules! w {
        ($($arg:tt)*) => {{ let _ = writeln!(out, $($arg)*); }};
    }

    w!(
        "-- fraudstream on Confluent Cloud for Apache Flink, for model {} ({} inputs{}).",
        config.model_file,
        inputs.len(),
        if packed { format!(", sent packed as one JSON string column `{JSON_INPUT_COLUMN}`") } else { String::new() }
    );
    w!("{HEADER_NOTE}");
    let endpoint = endpoint_for(config);
    w!(
        "--   confluent flink connection create {} --cloud <CLOUD> --region <REGION> --type azureml \\",
        config.connection
    );
    w!("--     --endpoint {endpoint} --api-key <API_KEY>");
    w!();

    // 1. Input tables.
    w!("{EVENT_TIME_NOTE}");
    match config.tables {
        TableMode::Create => {
            for (table, name, label, rowtime, extra) in [
                (Table::Transaction, &tx, "transactions", &tx_time, true),
                (Table::Identity, &id, "identities", &id_time, false),
            ] {
                w!("CREATE TABLE {name} (");
                for col in table_columns(table, label)? {
                    w!("  {col},");
                }
                if extra {
                    w!("  {tx_time} AS {time_expr},");
                    w!("  {tx_utc} AS {utc_expr},");
                }
                w!("  WATERMARK FOR {rowtime} AS {rowtime} - {delay}");
                w!(") DISTRIBUTED BY HASH({tid}) INTO {} BUCKETS WITH (", config.partitions);
                w!("  'changelog.mode' = 'append',");
                w!("  'key.format' = 'avro-registry',");
                w!("  'value.format' = 'avro-registry',");
                w!("  'value.fields-include' = 'all',");
                w!("  'scan.startup.mode' = 'earliest-offset'");
                w!(");");
                w!();
            }
        }
        TableMode::Alter => {
            w!();
            w!("{ALTER_NOTE}");
            w!("ALTER TABLE {tx} SET ('changelog.mode' = 'append');");
            w!("ALTER TABLE {tx} ADD ({tx_time} AS {time_expr});");
            w!("ALTER TABLE {tx} ADD ({tx_utc} AS {utc_expr});");
            w!("ALTER TABLE {tx} MODIFY WATERMARK FOR {tx_time} AS {tx_time} - {delay};");
            w!("ALTER TABLE {id} SET ('changelog.mode' = 'append');");
            w!("ALTER TABLE {id} MODIFY WATERMARK FOR {id_time} AS {id_time} - {delay};");
            w!();
        }
    }

    // 2. Scores table.
    w!("-- One row per scored transaction.");
    w!("CREATE TABLE {scores} (");
    w!("  {tid} BIGINT NOT NULL,");
    if config.output == ScoreOutput::Probability {
        w!("  {} DOUBLE,", ident("score"));
    }
    w!("  {} INT", ident("label"));
    w!(") DISTRIBUTED BY HASH({tid}) INTO {} BUCKETS WITH (", config.partitions);
    w!("  'changelog.mode' = 'append',");
    w!("  'key.format' = 'avro-registry',");
    w!("  'value.format' = 'avro-registry',");
    w!("  'value.fields-include' = 'all'");
    w!(");");
    w!();

    // 3. Join and features.
    w!("-- LEFT interval join: a transaction takes the identity with its TransactionID whose time lies within");
    w!(
        "-- [transaction time - {}, transaction time + {}]; without one it is still scored, identity fields NULL.",
        humane(config.join_lower),
        humane(config.join_upper)
    );
    w!("{CALENDAR_NOTE}");
    let mut view_columns: Vec<String> = vec![format!("t.{tid}")];
    let mut seen: BTreeSet<&'static str> = BTreeSet::from(["TransactionID"]);
    for feed in &feeds {
        if !seen.insert(feed.view_column()) {
            continue;
        }
        view_columns.push(match feed {
            Feed::Transaction(c) => format!("t.{}", ident(c)),
            Feed::Identity(c) => format!("i.{}", ident(c)),
            Feed::Calendar(f) => {
                format!(
                    "{} AS {}",
                    calendar_sql(calendar_formula(*f), &format!("t.{tx_utc}")),
                    ident(calendar_name(*f))
                )
            }
        });
    }
    w!("CREATE VIEW {} AS", ident(JOINED_VIEW));
    w!("SELECT");
    w!("  {}", view_columns.join(",\n  "));
    w!("FROM {tx} AS t");
    w!("LEFT JOIN {id} AS i");
    w!("  ON i.{tid} = t.{tid}");
    w!("  AND i.{id_time} BETWEEN t.{tx_time} - {lower} AND t.{tx_time} + {upper};");
    w!();

    // 4. The model.
    let (out_col, out_ty) = match config.output {
        ScoreOutput::Label => ("fraud_label", "INT"),
        ScoreOutput::Probability => ("fraud_probability", "DOUBLE"),
    };
    if packed {
        w!("-- The model's {} inputs travel as one JSON object per row: Confluent Cloud's", inputs.len());
        w!("-- ML_PREDICT takes at most {MAX_ML_PREDICT_COLUMNS} columns. `fraudstream serve` reads a single");
        w!("-- column that is no model input as name -> value JSON.");
    } else {
        w!("-- INPUT lists the model's inputs in model order with Flink types from their ONNX types.");
    }
    w!("-- Requests use Azure ML's pandas-dataframe split format; the reply is a JSON array, one value per row.");
    w!("CREATE MODEL {model}");
    if packed {
        w!("INPUT ({} STRING)", ident(JSON_INPUT_COLUMN));
    } else {
        let cols: Vec<String> = inputs.iter().map(|i| format!("{} {}", ident(&i.name), i.ty.sql())).collect();
        w!("INPUT (");
        w!("  {}", cols.join(",\n  "));
        w!(")");
    }
    w!("OUTPUT ({} {out_ty})", ident(out_col));
    w!("WITH (");
    w!("  'provider' = 'azureml',");
    w!("  'task' = 'classification',");
    w!("  'azureml.connection' = {},", literal(&config.connection));
    w!("  'azureml.input_format' = 'AZUREML-PANDAS-DATAFRAME',");
    w!("  'azureml.output_format' = 'JSON-ARRAY'");
    w!(");");
    w!();

    // 5. Scoring.
    let args: Vec<String> = if packed {
        let pairs: Vec<String> = inputs
            .iter()
            .zip(&feeds)
            .map(|(i, f)| format!("KEY {} VALUE j.{}", literal(&i.name), ident(f.view_column())))
            .collect();
        vec![format!("JSON_OBJECT(\n      {}\n    )", pairs.join(",\n      "))]
    } else {
        inputs
            .iter()
            .zip(&feeds)
            .map(|(i, f)| match i.ty {
                InputType::String => format!("j.{}", ident(f.view_column())),
                ty => format!("CAST(j.{} AS {})", ident(f.view_column()), ty.sql()),
            })
            .collect()
    };
    w!("-- Score every joined transaction.");
    w!("INSERT INTO {scores}");
    match config.output {
        ScoreOutput::Label => w!("SELECT j.{tid}, {} AS {}", ident(out_col), ident("label")),
        ScoreOutput::Probability => w!(
            "SELECT j.{tid}, {p} AS {}, CASE WHEN {p} >= {} THEN 1 ELSE 0 END AS {}",
            ident("score"),
            config.threshold,
            ident("label"),
            p = ident(out_col)
        ),
    }
    w!("FROM {} AS j,", ident(JOINED_VIEW));
    w!("  LATERAL TABLE(ML_PREDICT(");
    w!("    {},", literal(&config.model_name));
    w!("    {}", args.join(",\n    "));
    w!("  ));");
    Ok(s)
}

/// The endpoint for the connection line: as given, a placeholder, and with `output=probability` when needed.
fn endpoint_for(config: &FlinkSqlConfig) -> String {
    let base = config.endpoint.clone().unwrap_or_else(|| "https://<HOST>/score".to_string());
    if config.output == ScoreOutput::Probability && !base.contains("output=probability") {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}output=probability")
    } else {
        base
    }
}

/// `60 s`, `1.5 s`, for comments.
fn humane(d: Duration) -> String {
    let s = d.as_secs_f64();
    format!("{s} s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::event_time::days_from_civil;
    use fraudstream_data::Calendar;

    fn config() -> FlinkSqlConfig {
        FlinkSqlConfig {
            model_file: "m.onnx".into(),
            model_name: "m".into(),
            connection: "fraudstream-scoring".into(),
            endpoint: None,
            transactions_table: "transactions".into(),
            identities_table: "identities".into(),
            scores_table: "scores".into(),
            partitions: 6,
            tables: TableMode::Create,
            join_lower: Duration::from_secs(60),
            join_upper: Duration::from_secs(60),
            max_out_of_orderness: Duration::from_secs(20),
            force_json: false,
            output: ScoreOutput::Label,
            threshold: 0.5,
        }
    }

    fn input(name: &str, ty: InputType) -> ModelInput {
        ModelInput { name: name.into(), ty }
    }

    /// Flink's EXTRACT on a zone-less timestamp, written from Flink's documented semantics (YEAR/MONTH/DOY/HOUR as
    /// usual, WEEK = ISO-8601 week, DOW with Sunday = 1), independently of `fraudstream_data::Calendar`.
    fn flink_extract(unit: Extract, y: i64, m: u32, d: u32, h: u32) -> i64 {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let doy = |y: i64, m: u32, d: u32| {
            const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            CUM[(m - 1) as usize] + d as i64 + i64::from(m > 2 && leap(y))
        };
        // Sakamoto's algorithm: 0 = Sunday.
        let sunday0 = |y: i64, m: u32, d: u32| {
            const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
            let y = if m < 3 { y - 1 } else { y };
            (y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + d as i64).rem_euclid(7)
        };
        match unit {
            Extract::Year => y,
            Extract::Month => m as i64,
            Extract::Doy => doy(y, m, d),
            Extract::Hour => h as i64,
            Extract::Dow => sunday0(y, m, d) + 1,
            Extract::Week => {
                // The ISO week is the one holding this week's Thursday; its number counts Thursdays of that year.
                let iso_weekday = (sunday0(y, m, d) + 6) % 7; // Monday = 0
                let thursday = doy(y, m, d) - iso_weekday + 3;
                let days_in = |y: i64| if leap(y) { 366 } else { 365 };
                if thursday < 1 {
                    (thursday + days_in(y - 1) - 1) / 7 + 1
                } else if thursday > days_in(y) {
                    (thursday - days_in(y) - 1) / 7 + 1
                } else {
                    (thursday - 1) / 7 + 1
                }
            }
        }
    }

    fn evaluate(formula: CalendarFormula, y: i64, m: u32, d: u32, h: u32) -> i64 {
        let e = |u| flink_extract(u, y, m, d, h);
        match formula {
            CalendarFormula::Counter { per_year, unit } => (e(Extract::Year) - COUNTER_BASE_YEAR) * per_year + e(unit),
            CalendarFormula::Field(u) => e(u),
            CalendarFormula::MondayZeroWeekday => (e(Extract::Dow) + 5).rem_euclid(7),
        }
    }

    #[test]
    fn calendar_formulas_under_flink_semantics_equal_the_pipeline_calendar() {
        // Year boundaries (2017-12-31 is a Sunday in ISO week 52; 2018-01-01 a Monday in week 1; 2018-12-31 a Monday
        // in week 1 of 2019; 2020-12-31 in week 53; 2021-01-03 a Sunday in week 53 of 2020), Sundays, a leap day, the
        // first and last training days.
        let dates = [
            (2017, 12, 1, 0),
            (2017, 12, 3, 23),
            (2017, 12, 31, 12),
            (2018, 1, 1, 7),
            (2018, 1, 7, 5),
            (2018, 5, 31, 23),
            (2018, 12, 30, 1),
            (2018, 12, 31, 7),
            (2019, 1, 6, 9),
            (2020, 2, 29, 13),
            (2020, 12, 31, 22),
            (2021, 1, 3, 3),
            (2021, 1, 4, 0),
        ];
        for (y, m, d, h) in dates {
            let dt = (days_from_civil(y, m, d) * 86_400 + h as i64 * 3600 + 1234) - REFERENCE_UNIX_SECS;
            let calendar = Calendar::of(EventTime::from_transaction_dt(dt));
            for (feature, _) in CalendarFeature::NAMES {
                let flink = evaluate(calendar_formula(*feature), y, m, d, h);
                assert_eq!(flink as f64, feature.value(&calendar), "{feature:?} on {y}-{m:02}-{d:02} {h:02}h");
            }
        }
    }

    #[test]
    fn flink_extract_model_agrees_with_flink_2_3_on_known_dates() {
        // Values printed by Flink 2.3 for EXTRACT(WEEK / DOW / DOY) on these timestamps.
        assert_eq!(flink_extract(Extract::Week, 2018, 12, 31, 7), 1);
        assert_eq!(flink_extract(Extract::Dow, 2018, 12, 31, 7), 2);
        assert_eq!(flink_extract(Extract::Doy, 2018, 12, 31, 7), 365);
        assert_eq!(flink_extract(Extract::Week, 2017, 12, 31, 23), 52);
        assert_eq!(flink_extract(Extract::Dow, 2017, 12, 31, 23), 1);
        assert_eq!(flink_extract(Extract::Week, 2021, 1, 3, 0), 53);
        assert_eq!(flink_extract(Extract::Week, 2016, 1, 1, 0), 53);
        assert_eq!(flink_extract(Extract::Dow, 2016, 1, 1, 0), 6);
    }

    #[test]
    fn calendar_sql_renders_each_formula() {
        let ts = "t.`transaction_utc`";
        assert_eq!(
            calendar_sql(calendar_formula(CalendarFeature::DtD), ts),
            "(EXTRACT(YEAR FROM t.`transaction_utc`) - 2017) * 365 + EXTRACT(DOY FROM t.`transaction_utc`)"
        );
        assert_eq!(
            calendar_sql(calendar_formula(CalendarFeature::DtW), ts),
            "(EXTRACT(YEAR FROM t.`transaction_utc`) - 2017) * 52 + EXTRACT(WEEK FROM t.`transaction_utc`)"
        );
        assert_eq!(
            calendar_sql(calendar_formula(CalendarFeature::DtM), ts),
            "(EXTRACT(YEAR FROM t.`transaction_utc`) - 2017) * 12 + EXTRACT(MONTH FROM t.`transaction_utc`)"
        );
        assert_eq!(calendar_sql(calendar_formula(CalendarFeature::Hour), ts), "EXTRACT(HOUR FROM t.`transaction_utc`)");
        assert_eq!(
            calendar_sql(calendar_formula(CalendarFeature::DayOfWeek), ts),
            "MOD(EXTRACT(DOW FROM t.`transaction_utc`) + 5, 7)"
        );
    }

    #[test]
    fn the_reference_timestamp_literal_is_the_event_time_reference() {
        assert_eq!(reference_timestamp_literal(), "2017-11-30 00:00:00");
    }

    #[test]
    fn intervals_follow_flink_literal_rules() {
        let iv = |d| interval("--x", d).expect("interval");
        assert_eq!(iv(Duration::from_secs(20)), "INTERVAL '20' SECOND");
        assert_eq!(iv(Duration::from_secs(0)), "INTERVAL '0' SECOND");
        assert_eq!(iv(Duration::from_millis(500)), "INTERVAL '0.5' SECOND");
        assert_eq!(iv(Duration::from_millis(1_250)), "INTERVAL '1.25' SECOND");
        assert_eq!(iv(Duration::from_secs(300)), "INTERVAL '300' SECOND(3)");
        assert!(interval("--x", Duration::from_micros(1_500)).is_err());
    }

    #[test]
    fn columns_come_from_the_avro_value_schemas() {
        let tx = table_columns(Table::Transaction, "transactions").expect("transactions");
        assert_eq!(tx.len(), 395);
        assert_eq!(tx[0], "`TransactionID` BIGINT NOT NULL");
        assert_eq!(tx[1], "`isFraud` INT");
        assert_eq!(tx[2], "`TransactionDT` BIGINT NOT NULL");
        assert_eq!(tx[3], "`TransactionAmt` DOUBLE");
        assert_eq!(tx[4], "`ProductCD` STRING");
        assert_eq!(tx[5], "`card1` BIGINT");
        assert_eq!(tx[394], "`event_time` TIMESTAMP_LTZ(3) NOT NULL");
        let id = table_columns(Table::Identity, "identities").expect("identities");
        assert_eq!(id.len(), 42);
        assert_eq!(id[1], "`id_01` DOUBLE");
        assert_eq!(id[12], "`id_12` STRING");
    }

    #[test]
    fn narrow_models_get_one_typed_column_per_input_in_model_order() {
        let inputs = [
            input("TransactionAmt", InputType::Float),
            input("ProductCD", InputType::String),
            input("id-02", InputType::Double),
            input("DT_W", InputType::Float),
            input("hour", InputType::Bigint),
        ];
        let sql = generate(&inputs, &config()).expect("sql");
        assert!(sql.contains(
            "INPUT (\n  `TransactionAmt` FLOAT,\n  `ProductCD` STRING,\n  `id-02` DOUBLE,\n  `DT_W` FLOAT,\n  \
             `hour` BIGINT\n)"
        ));
        assert!(sql.contains(
            "'m',\n    CAST(j.`TransactionAmt` AS FLOAT),\n    j.`ProductCD`,\n    CAST(j.`id_02` AS DOUBLE),\n    \
             CAST(j.`DT_W` AS FLOAT),\n    CAST(j.`DT_hour` AS BIGINT)\n  ));"
        ));
        assert!(sql.contains("  i.`id_02`,\n"));
        assert!(sql.contains("AS `DT_W`"));
        assert!(sql.contains("AS `DT_hour`"));
        assert!(sql.contains("OUTPUT (`fraud_label` INT)"));
        assert!(!sql.contains("JSON_OBJECT"));
    }

    #[test]
    fn wide_models_are_packed_into_one_json_column() {
        let inputs: Vec<ModelInput> = (1..=90).map(|i| input(&format!("V{i}"), InputType::Float)).collect();
        let sql = generate(&inputs, &config()).expect("sql");
        assert!(sql.contains("INPUT (`features_json` STRING)"));
        assert!(sql.contains("JSON_OBJECT(\n      KEY 'V1' VALUE j.`V1`,"));
        assert!(sql.contains("KEY 'V90' VALUE j.`V90`\n    )"));
        let at_limit: Vec<ModelInput> = (1..=84).map(|i| input(&format!("V{i}"), InputType::Float)).collect();
        assert!(!generate(&at_limit, &config()).expect("sql").contains("JSON_OBJECT"));
        let forced = FlinkSqlConfig { force_json: true, ..config() };
        assert!(generate(&at_limit, &forced).expect("sql").contains("INPUT (`features_json` STRING)"));
    }

    #[test]
    fn inputs_no_column_or_calendar_feature_can_fill_are_all_named() {
        let inputs = [
            input("card1", InputType::Float),
            input("card_velocity_1h", InputType::Float),
            input("card4", InputType::Float),
            input("client_txn_count_24h", InputType::Float),
        ];
        let err = generate(&inputs, &config()).expect_err("unsupported").to_string();
        assert!(err.contains("3 input(s)"), "{err}");
        assert!(err.contains("`card_velocity_1h`") && err.contains("`client_txn_count_24h`"), "{err}");
        assert!(err.contains("`card4` is a numeric tensor"), "{err}");
        assert!(err.contains("DT_D") && err.contains("transaction columns, identity columns"), "{err}");
    }

    #[test]
    fn join_window_watermark_and_tables_follow_the_flags() {
        let cfg = FlinkSqlConfig {
            join_lower: Duration::from_secs(30),
            join_upper: Duration::from_millis(1500),
            max_out_of_orderness: Duration::from_secs(5),
            transactions_table: "tx".into(),
            identities_table: "ids".into(),
            ..config()
        };
        let sql = generate(&[input("card1", InputType::Float)], &cfg).expect("sql");
        assert!(sql.contains(
            "AND i.`event_time` BETWEEN t.`transaction_time` - INTERVAL '30' SECOND AND t.`transaction_time` + \
             INTERVAL '1.5' SECOND;"
        ));
        assert!(sql.contains("WATERMARK FOR `transaction_time` AS `transaction_time` - INTERVAL '5' SECOND"));
        assert!(sql.contains("WATERMARK FOR `event_time` AS `event_time` - INTERVAL '5' SECOND"));
        assert!(sql.contains("CREATE TABLE `tx` (") && sql.contains("CREATE TABLE `ids` ("));
        assert!(sql.contains("`transaction_time` AS TO_TIMESTAMP_LTZ((1512000000 + `TransactionDT`) * 1000, 3)"));
        assert!(sql.contains(
            "`transaction_utc` AS TIMESTAMPADD(SECOND, CAST(`TransactionDT` AS INT), TIMESTAMP '2017-11-30 00:00:00')"
        ));
        let alter = generate(&[input("card1", InputType::Float)], &FlinkSqlConfig { tables: TableMode::Alter, ..cfg })
            .expect("sql");
        assert!(!alter.contains("CREATE TABLE `tx`"));
        assert!(alter.contains("ALTER TABLE `tx` MODIFY WATERMARK FOR `transaction_time`"));
        assert!(alter.contains("ALTER TABLE `ids` SET ('changelog.mode' = 'append');"));
    }

    #[test]
    fn probability_output_derives_the_label_and_asks_the_endpoint_for_probabilities() {
        let cfg = FlinkSqlConfig {
            output: ScoreOutput::Probability,
            threshold: 0.3,
            endpoint: Some("https://scoring.example.com/score".into()),
            ..config()
        };
        let sql = generate(&[input("card1", InputType::Float)], &cfg).expect("sql");
        assert!(sql.contains("--endpoint https://scoring.example.com/score?output=probability"));
        assert!(sql.contains("OUTPUT (`fraud_probability` DOUBLE)"));
        assert!(sql.contains("CASE WHEN `fraud_probability` >= 0.3 THEN 1 ELSE 0 END AS `label`"));
        assert!(sql.contains("  `score` DOUBLE,\n"));
        let bad = FlinkSqlConfig { threshold: 1.5, ..cfg };
        assert!(generate(&[input("card1", InputType::Float)], &bad).is_err());
    }

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
