//! `fraudstream flink-sql --connector filesystem`, executed: the script runs on a real Apache Flink 2.3 local
//! mini-cluster (PyFlink) over the real IEEE-CIS sample, and every row it writes is compared with what our engine
//! feeds the model for the same transaction (`fraudstream score --features-out`).
//!
//! The file form shares every statement but the tables' storage with the Confluent form (see
//! `fraudstream::flink_sql::Connector`), so this checks on Flink itself what `flink_sql.rs` only parses: the event
//! time computed from TransactionDT, the watermarks, the LEFT interval join (±60 s on TransactionID) and the calendar
//! formulas, against our own pipeline.
//!
//! Input files: Flink's `csv` format reads headerless rows by position, in the tables' column order, which is the
//! Avro value schema's (`fraudstream produce` writes those records). The test writes them from the sample, taking
//! each column by its name in the sample's header: the sample's fields as they are, plus `event_time` (a
//! transaction's from its TransactionDT; an identity's is its transaction's, the rule our file source applies).
//!
//! Type mapping in the comparison: numeric model inputs compare as `f64` with exact equality (Flink writes a DOUBLE
//! in Java's shortest round-trip form, a BIGINT as an integer; our dump writes ryu's shortest form); a missing
//! number is NULL in Flink and NaN in our engine, and both are written as an empty field. A missing string is NULL
//! in Flink (`csv.null-literal` = '') and the empty string our engine feeds; both are an empty field, so they are
//! equal, and the CSV sample cannot tell the two apart anyway.
//!
//! Needs PyFlink 2.3.0 in ~/.cache/fraudstream/pyflink-2.3.0 (scripts/setup-flink-runtime.sh, run by
//! scripts/setup.sh) and a Java 17 runtime.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fraudstream_data::event_time::EventTime;
use fraudstream_model::{ElemType, Model};
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

fn seed_model() -> PathBuf {
    shared_reference().join("seed-model/pipeline_75.onnx")
}

/// The PyFlink interpreter; a clear failure naming the setup script when it is not installed.
fn pyflink_python() -> PathBuf {
    let cache = std::env::var_os("FRAUDSTREAM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/fraudstream"));
    let venv = cache.join("pyflink-2.3.0");
    let python = venv.join("bin/python");
    assert!(
        venv.join("installed").is_file() && python.is_file(),
        "PyFlink 2.3.0 is not installed in {}: run scripts/setup.sh (it runs scripts/setup-flink-runtime.sh)",
        venv.display()
    );
    python
}

fn fraudstream(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fraudstream")).args(args).output().expect("run fraudstream");
    assert!(out.status.success(), "fraudstream {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// The column names of `CREATE TABLE <table>` in the script, in order, without computed columns.
fn table_columns(script: &str, table: &str) -> Vec<String> {
    let start = format!("CREATE TABLE `{table}` (");
    script
        .lines()
        .skip_while(|l| *l != start)
        .skip(1)
        .take_while(|l| !l.starts_with(')'))
        .filter(|l| !l.contains(" AS ") && !l.trim_start().starts_with("WATERMARK"))
        .map(|l| l.trim().split('`').nth(1).expect("a backquoted column name").to_string())
        .collect()
}

/// Splits one CSV line (RFC 4180 quoting, as Flink's csv format writes it).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `event_time` as Flink's csv format reads a `TIMESTAMP_LTZ(3)`: `2017-12-01 00:00:00.000Z`.
fn flink_ltz(t: EventTime) -> String {
    t.to_string().replacen('T', " ", 1)
}

/// Writes `<dir>/<table>/part-0.csv`: the sample's rows with the script's columns in the script's order.
fn write_input(
    dir: &Path,
    table: &str,
    columns: &[String],
    sample: &Path,
    event_time: impl Fn(&HashMap<&str, &str>) -> Option<EventTime>,
) -> usize {
    let text = std::fs::read_to_string(sample).expect("sample CSV");
    assert!(!text.contains('"'), "the sample has no quoted fields, so a plain split reads it");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let mut out = String::new();
    let mut rows = 0;
    for line in lines {
        let row: HashMap<&str, &str> = header.iter().copied().zip(line.split(',')).collect();
        let Some(time) = event_time(&row) else { continue };
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "event_time" => flink_ltz(time),
                c => row.get(c).unwrap_or_else(|| panic!("{} has no column {c}", sample.display())).to_string(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
        rows += 1;
    }
    std::fs::create_dir_all(dir.join(table)).expect("table dir");
    std::fs::write(dir.join(table).join("part-0.csv"), out).expect("write input");
    rows
}

/// Rows of the CSV files Flink committed under `dir` (in-progress files start with a dot), keyed by first field.
fn flink_rows(dir: &Path) -> BTreeMap<i64, Vec<String>> {
    let mut rows = BTreeMap::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("Flink wrote no {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("Flink output").lines() {
            let fields = csv_fields(line);
            let id: i64 = fields[0].parse().expect("join_key is a TransactionID");
            assert!(rows.insert(id, fields).is_none(), "Flink wrote TransactionID {id} twice");
        }
    }
    rows
}

/// What one comparison found.
struct Compared {
    transactions: usize,
    with_identity: usize,
    inputs: Vec<String>,
    differences: Vec<String>,
}

/// Runs the file form for `model_path` on Flink over the sample in `dir` and compares its rows with the engine's.
fn run_and_compare(python: &Path, model_path: &Path, dir: &Path) -> Compared {
    let sample = ieee_cis_sample();
    let (tx_csv, id_csv) = (sample.join("train_transaction.csv"), sample.join("train_identity.csv"));

    let script = fraudstream(&[
        "flink-sql".as_ref(),
        "--model".as_ref(),
        model_path.as_os_str(),
        "--connector".as_ref(),
        "filesystem".as_ref(),
        "--path".as_ref(),
        dir.as_os_str(),
    ]);
    let script_path = dir.join("script.sql");
    std::fs::write(&script_path, &script).expect("write script");

    // The inputs, in the column order the script declares.
    let tx_columns = table_columns(&script, "transactions");
    let id_columns = table_columns(&script, "identities");
    assert_eq!((tx_columns.len(), id_columns.len()), (395, 42), "Avro value schema columns");
    let mut tx_time: HashMap<String, EventTime> = HashMap::new();
    let transactions = write_input(dir, "transactions", &tx_columns, &tx_csv, |row| {
        let dt: i64 = row["TransactionDT"].parse().expect("TransactionDT");
        Some(EventTime::from_transaction_dt(dt))
    });
    // A second pass for the identities' times: their transaction's event time.
    for line in std::fs::read_to_string(&tx_csv).expect("sample").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        tx_time.insert(f[0].to_string(), EventTime::from_transaction_dt(f[2].parse().expect("TransactionDT")));
    }
    let identities =
        write_input(dir, "identities", &id_columns, &id_csv, |row| tx_time.get(row["TransactionID"]).copied());
    assert_eq!((transactions, identities), (1500, 348));

    // Flink.
    let started = Instant::now();
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/flink_sql_run/run_flink_sql.py");
    let out = Command::new(python).arg(&runner).arg(&script_path).output().expect("run PyFlink");
    assert!(
        out.status.success(),
        "Flink failed to run the script:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("Flink ran the script in {:.1}s", started.elapsed().as_secs_f64());
    let flink = flink_rows(&dir.join("fraudstream_features"));

    // Our engine: the values `fraudstream score` feeds the model, per transaction.
    let features = dir.join("features.csv");
    fraudstream(&[
        "score".as_ref(),
        "--model".as_ref(),
        model_path.as_os_str(),
        "--transactions".as_ref(),
        tx_csv.as_os_str(),
        "--identities".as_ref(),
        id_csv.as_os_str(),
        "--out".as_ref(),
        dir.join("scores.csv").as_os_str(),
        "--features-out".as_ref(),
        features.as_os_str(),
        "--quiet".as_ref(),
    ]);
    let text = std::fs::read_to_string(&features).expect("features dump");
    let mut lines = text.lines();
    let header = csv_fields(lines.next().expect("header"));
    let model = Model::load(model_path).expect("model");
    let names: Vec<&str> = model.inputs().iter().map(|i| i.name.as_str()).collect();
    assert_eq!(header[1..], names, "the dump's columns are the model inputs in model order");
    let numeric: Vec<bool> = model.inputs().iter().map(|i| i.elem_type() != Some(ElemType::String)).collect();

    let mut compared = 0;
    let mut differences = Vec::new();
    let mut with_identity = 0;
    for line in lines {
        let ours = csv_fields(line);
        let id: i64 = ours[0].parse().expect("TransactionID");
        let Some(theirs) = flink.get(&id) else {
            differences.push(format!("{id}: no row from Flink"));
            continue;
        };
        assert_eq!(theirs.len(), ours.len(), "{id}: column count");
        compared += 1;
        if names.iter().zip(&ours[1..]).any(|(n, v)| (n.starts_with("id_") || n.starts_with("id-")) && !v.is_empty()) {
            with_identity += 1;
        }
        for (k, name) in names.iter().enumerate() {
            let (a, b) = (&ours[k + 1], &theirs[k + 1]);
            let same = if a.is_empty() || b.is_empty() || !numeric[k] {
                a == b
            } else {
                matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
            };
            if !same {
                differences.push(format!("{id} {name}: engine {a:?}, Flink {b:?}"));
            }
        }
    }
    assert_eq!(flink.len(), compared, "Flink wrote rows for transactions the engine does not have");
    Compared {
        transactions: compared,
        with_identity,
        inputs: names.iter().map(|n| n.to_string()).collect(),
        differences,
    }
}

/// Checks one comparison and prints what it covered.
fn check(what: &str, c: &Compared) {
    eprintln!(
        "{what}: compared {} TransactionIDs ({} joined with an identity) x {} model inputs: {} differences",
        c.transactions,
        c.with_identity,
        c.inputs.len(),
        c.differences.len()
    );
    assert_eq!(c.transactions, 1500, "{what}");
    assert!(c.with_identity > 300, "{what}: only {} rows joined an identity", c.with_identity);
    assert!(
        c.differences.is_empty(),
        "{what}: {} differences, first ones:\n{}",
        c.differences.len(),
        c.differences[..c.differences.len().min(30)].join("\n")
    );
}

#[test]
fn flink_runs_the_file_form_and_its_rows_equal_what_the_engine_feeds_the_model() {
    let python = pyflink_python();
    let tmp = tempfile::tempdir().expect("tempdir");

    // The reference model: 75 inputs, among them DT_D, DT_W and DT_M and identity columns.
    let seed_dir = tmp.path().join("seed");
    std::fs::create_dir_all(&seed_dir).expect("dir");
    check("seed model", &run_and_compare(&python, &seed_model(), &seed_dir));

    // A model trained on the raw columns: every transaction and identity column (bar identifiers, label and clock)
    // plus the hour and the day of week, so every joined column and the remaining calendar features are compared.
    let sample = ieee_cis_sample();
    let trained = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .args(["train", "--quiet", "--no-client-features", "--rounds", "3", "--transactions"])
        .arg(sample.join("train_transaction.csv"))
        .arg("--identities")
        .arg(sample.join("train_identity.csv"))
        .arg("--out")
        .arg(tmp.path().join("model"))
        .output()
        .expect("fraudstream train");
    assert!(trained.status.success(), "train: {}", String::from_utf8_lossy(&trained.stderr));
    let raw_dir = tmp.path().join("raw");
    std::fs::create_dir_all(&raw_dir).expect("dir");
    let raw = run_and_compare(&python, &tmp.path().join("model/model.onnx"), &raw_dir);
    assert!(raw.inputs.len() > 400, "the raw-column model has {} inputs", raw.inputs.len());
    for calendar in ["DT_hour", "DT_day_week"] {
        assert!(raw.inputs.iter().any(|n| n == calendar), "the raw-column model does not take {calendar}");
    }
    check("raw-column model", &raw);
}
