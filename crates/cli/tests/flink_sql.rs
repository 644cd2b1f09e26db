//! `fraudstream flink-sql`, run as a user runs it: the real binary on the reference model, its output parsed by
//! Apache Flink's own SQL parser, and clear failures for models Flink SQL cannot feed.
//!
//! What the parser test covers: every statement of the script is parsed by `FlinkSqlParserImpl` from Flink 2.3
//! (the grammar Flink's planner uses; it knows `WATERMARK FOR`, computed columns, `DISTRIBUTED BY`, `ALTER TABLE ...
//! MODIFY WATERMARK`, `CREATE MODEL ... INPUT/OUTPUT`, `LATERAL TABLE(...)`, `INTERVAL`, `JSON_OBJECT`), and the parsed
//! trees are checked: statement kinds and order, table columns and rowtime, the model's INPUT columns in model order
//! with their types, and the number of `ML_PREDICT` arguments. What it does not cover: parsing is syntax only, so
//! names, types, functions and table options are not validated against a catalog, and Confluent Cloud's own
//! extensions (the `azureml` provider, `ML_PREDICT` as a table function) are accepted as syntax, not executed.
//! `sqlparser` (crates.io) was not used: no dialect of it parses `WATERMARK FOR`, computed columns or `CREATE MODEL`.
//!
//! The parser comes from PyPI's apache-flink-libraries via `scripts/setup-flink-parser.sh` (run by scripts/test.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fraudstream_model::{ElemType, Model};
use fraudstream_testkit::shared_reference;

fn seed_model() -> PathBuf {
    shared_reference().join("seed-model/pipeline_75.onnx")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/fixtures").join(name)
}

fn flink_sql(model: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .arg("flink-sql")
        .arg("--model")
        .arg(model)
        .args(extra)
        .output()
        .expect("run fraudstream flink-sql")
}

fn script(model: &Path, extra: &[&str]) -> String {
    let out = flink_sql(model, extra);
    assert!(out.status.success(), "flink-sql failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 script")
}

/// The seed model's inputs as `CREATE MODEL ... INPUT` must declare them, in model order.
fn seed_model_columns() -> Vec<String> {
    let model = Model::load(seed_model()).expect("seed model");
    model
        .inputs()
        .iter()
        .map(|i| {
            let ty = match i.elem_type().expect("tensor input") {
                ElemType::Float => "FLOAT",
                ElemType::Double => "DOUBLE",
                ElemType::Int64 => "BIGINT",
                ElemType::String => "STRING",
            };
            format!("`{}` {ty}", i.name)
        })
        .collect()
}

#[test]
fn seed_model_script_has_every_stage_of_the_pipeline() {
    let sql = script(&seed_model(), &["--endpoint", "https://scoring.example.com/score"]);
    for expected in [
        "--   confluent flink connection create fraudstream-scoring --cloud <CLOUD> --region <REGION> --type azureml",
        "--     --endpoint https://scoring.example.com/score --api-key <API_KEY>",
        "CREATE TABLE `transactions` (",
        "CREATE TABLE `identities` (",
        "  `transaction_time` AS TO_TIMESTAMP_LTZ((1512000000 + `TransactionDT`) * 1000, 3),",
        "  WATERMARK FOR `transaction_time` AS `transaction_time` - INTERVAL '20' SECOND",
        "  WATERMARK FOR `event_time` AS `event_time` - INTERVAL '20' SECOND",
        "  'changelog.mode' = 'append',",
        "  'value.format' = 'avro-registry',",
        "LEFT JOIN `identities` AS i",
        "  AND i.`event_time` BETWEEN t.`transaction_time` - INTERVAL '60' SECOND \
         AND t.`transaction_time` + INTERVAL '60' SECOND;",
        "  (EXTRACT(YEAR FROM t.`transaction_utc`) - 2017) * 52 + EXTRACT(WEEK FROM t.`transaction_utc`) AS `DT_W`,",
        "CREATE MODEL `pipeline_75`",
        "  'provider' = 'azureml',",
        "  'task' = 'classification',",
        "  'azureml.connection' = 'fraudstream-scoring',",
        "  'azureml.input_format' = 'AZUREML-PANDAS-DATAFRAME',",
        "INSERT INTO `scores`",
        "  LATERAL TABLE(ML_PREDICT(",
        "    'pipeline_75',",
    ] {
        assert!(sql.contains(expected), "missing {expected:?} in:\n{sql}");
    }
    let input_block = format!("INPUT (\n  {}\n)", seed_model_columns().join(",\n  "));
    assert!(sql.contains(&input_block), "CREATE MODEL INPUT is not the model's inputs in order");
    assert!(!sql.contains("JSON_OBJECT"), "75 inputs fit in columns");
}

#[test]
fn a_model_with_inputs_that_are_no_columns_fails_naming_them() {
    // pipeline_zipmap takes f0, f1, ...: neither IEEE-CIS columns nor calendar features.
    let out = flink_sql(&fixture("pipeline_zipmap.onnx"), &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no partial script on failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`f0`") && err.contains("`f1`"), "{err}");
    assert!(err.contains("transaction columns, identity columns and the calendar features DT_D"), "{err}");
}

#[test]
fn a_model_taking_a_feature_matrix_fails_with_the_reason() {
    let out = flink_sql(&fixture("xgb_binary.onnx"), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`input`") && err.contains("8 values per row"), "{err}");
}

/// Runs Flink's parser harness on `sql`; one line per statement.
fn parse_with_flink(sql: &str) -> Vec<Vec<String>> {
    let classpath = std::env::var("FRAUDSTREAM_FLINK_PARSER_CLASSPATH").ok().or_else(|| {
        let cache = std::env::var_os("FRAUDSTREAM_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/fraudstream")))?;
        std::fs::read_to_string(cache.join("flink-sql-parser-2.3.0/classpath")).ok().map(|s| s.trim().to_string())
    });
    let classpath = classpath.unwrap_or_else(|| {
        panic!(
            "Flink's SQL parser is not installed: run scripts/setup-flink-parser.sh (scripts/test.sh does), or set \
             FRAUDSTREAM_FLINK_PARSER_CLASSPATH"
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("script.sql");
    std::fs::write(&file, sql).expect("write script");
    let harness = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/flink_sql_parser/ParseFlinkSql.java");
    let out = Command::new("java")
        .arg("-cp")
        .arg(&classpath)
        .arg(&harness)
        .arg(&file)
        .output()
        .expect("run java (scripts/setup-flink-parser.sh installs a JDK)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Flink's parser rejected the script:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

#[test]
fn flink_parses_the_seed_model_script_with_one_column_per_input() {
    let statements = parse_with_flink(&script(&seed_model(), &[]));
    let kinds: Vec<(&str, &str)> = statements.iter().map(|s| (s[0].as_str(), s[1].as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("CREATE_TABLE", "transactions"),
            ("CREATE_TABLE", "identities"),
            ("CREATE_TABLE", "scores"),
            ("CREATE_VIEW", "fraudstream_joined"),
            ("CREATE_MODEL", "pipeline_75"),
            ("INSERT", "scores"),
        ]
    );
    // 395 Avro fields + the two computed time columns; 42 identity fields; rowtime columns as declared.
    assert_eq!(statements[0][2..], ["397", "transaction_time"]);
    assert_eq!(statements[1][2..], ["42", "event_time"]);
    assert_eq!(statements[4][2].split('|').collect::<Vec<_>>(), seed_model_columns());
    // Flink unparses INT as INTEGER.
    assert_eq!(statements[4][3], "`fraud_label` INTEGER");
    // ML_PREDICT('pipeline_75', 75 inputs).
    assert_eq!(statements[5][2], "76");
}

#[test]
fn flink_parses_the_packed_json_alter_table_probability_variant() {
    let sql = script(&seed_model(), &["--tables", "alter", "--json-input", "--output", "probability"]);
    let statements = parse_with_flink(&sql);
    let kinds: Vec<&str> = statements.iter().map(|s| s[0].as_str()).collect();
    assert_eq!(
        kinds,
        ["ALTER_TABLE", "ALTER_TABLE", "ALTER_TABLE", "ALTER_TABLE", "ALTER_TABLE", "ALTER_TABLE"]
            .into_iter()
            .chain(["CREATE_TABLE", "CREATE_VIEW", "CREATE_MODEL", "INSERT"])
            .collect::<Vec<_>>()
    );
    assert_eq!(statements[6][2], "3", "scores: TransactionID, score, label");
    assert_eq!(statements[8][2], "`features_json` STRING");
    assert_eq!(statements[8][3], "`fraud_probability` DOUBLE");
    // ML_PREDICT('pipeline_75', JSON_OBJECT(...)).
    assert_eq!(statements[9][2], "2");
    assert!(sql.contains("--endpoint https://<HOST>/score?output=probability"));
}

#[test]
fn every_sql_block_of_the_confluent_recipe_is_what_the_command_prints() {
    // docs/confluent.md marks its SQL with `<!-- sql: fraudstream flink-sql ARGS -->`; every ```sql block after a
    // marker must appear verbatim in what those ARGS print (paths are relative to the repository root).
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/confluent.md")).expect("docs/confluent.md");
    let mut output: Option<String> = None;
    let mut block: Option<Vec<&str>> = None;
    let mut checked = 0;
    for line in doc.lines() {
        if let Some(b) = block.as_mut() {
            if line == "```" {
                let text = b.join("\n");
                let printed = output.as_deref().expect("a ```sql block before any `<!-- sql: ... -->` marker");
                assert!(printed.contains(&text), "docs/confluent.md block is not in the command's output:\n{text}");
                checked += 1;
                block = None;
            } else {
                b.push(line);
            }
        } else if let Some(args) = line.strip_prefix("<!-- sql: fraudstream ").and_then(|l| l.strip_suffix(" -->")) {
            let out = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
                .args(args.split_whitespace())
                .current_dir(&root)
                .output()
                .expect("run fraudstream");
            assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stderr));
            output = Some(String::from_utf8(out.stdout).expect("utf-8"));
        } else if line == "```sql" {
            block = Some(Vec::new());
        }
    }
    assert!(checked >= 10, "only {checked} SQL blocks found in docs/confluent.md");
}
