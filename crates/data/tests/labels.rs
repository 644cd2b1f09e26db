//! The labels feed: generated from the real sample and from a larger synthetic file, read back from CSV in both
//! time forms, and carried as Avro that an independent implementation reads.
//! To refresh docs/schemas/labels-value.avsc: `FRAUDSTREAM_WRITE_SCHEMAS=1 cargo test -p fraudstream-data --test labels`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fraudstream_data::avro::{decode_key, encode_key, key_schema, parse_schema, split_framed, write_header};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::labels::{
    decode_label, encode_label, generate_labels, FileLabelReader, Label, LabelFeedConfig, LabelSource, LabelTimeFormat,
    LabelWriter, LABEL_VALUE_SCHEMA,
};
use fraudstream_data::rng::SplitMix64;
use fraudstream_data::{EventTime, Table};
use fraudstream_testkit::ieee_cis_sample;

const DAY_MS: i64 = 86_400_000;

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("labels");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

fn read_labels(path: &Path) -> Vec<Label> {
    let mut r = FileLabelReader::open(path, 0).expect("open labels");
    let labels: Vec<Label> = r.by_ref().collect::<Result<_, _>>().expect("well-formed labels");
    assert_eq!(r.bad_count(), 0);
    labels
}

/// TransactionID → (event time, isFraud) of a transactions file.
fn transactions(path: &Path) -> HashMap<i64, (EventTime, bool)> {
    let catalog = Table::Transaction.catalog();
    let (id, dt, fraud) = (catalog.col("TransactionID"), catalog.col("TransactionDT"), catalog.col("isFraud"));
    let mut r = TableReader::open(path, Table::Transaction, 0).expect("open transactions");
    let mut out = HashMap::new();
    while let Some(row) = r.read_row().expect("row") {
        let t = EventTime::from_transaction_dt(row.num(dt).expect("dt") as i64);
        out.insert(row.num(id).expect("id") as i64, (t, row.num(fraud) == Some(1.0)));
    }
    out
}

/// Every label is about a transaction of the file, at most one per transaction, in label-time order, and says what
/// its source can know at that delay.
fn check_feed(labels: &[Label], txs: &HashMap<i64, (EventTime, bool)>, config: &LabelFeedConfig) {
    assert!(labels.windows(2).all(|w| w[0].label_time <= w[1].label_time), "sorted by label time");
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        assert!(seen.insert(l.transaction_id), "one label per transaction: {}", l.transaction_id);
        let &(tx_time, truth) = txs.get(&l.transaction_id).expect("a transaction of the file");
        let delay_days = (l.label_time.millis() - tx_time.millis()) as f64 / DAY_MS as f64;
        match l.source {
            LabelSource::Chargeback => {
                assert!(truth && l.is_fraud, "only frauds are charged back: {l:?}");
                assert!((config.min_delay_days..=config.max_delay_days).contains(&delay_days), "{delay_days}");
            }
            LabelSource::Analyst => {
                assert_eq!(l.is_fraud, truth, "analysts are right: {l:?}");
                assert!((config.review_min_days..=config.review_max_days).contains(&delay_days), "{delay_days}");
            }
            LabelSource::Generated => {
                assert!(!l.is_fraud, "no chargeback means legitimate: {l:?}");
                assert_eq!(delay_days, config.legit_horizon_days);
            }
            ref other => panic!("unexpected source {other}"),
        }
    }
}

#[test]
fn the_real_sample_gets_a_consistent_deterministic_feed() {
    let sample = ieee_cis_sample().join("train_transaction.csv");
    let out = tmp("sample-labels.csv");
    let config = LabelFeedConfig::default();
    let summary = generate_labels(&sample, &out, config.clone()).expect("generates");
    assert_eq!((summary.transactions, summary.frauds, summary.bad_rows), (1500, 31, 0));
    assert_eq!(summary.labels + summary.unlabelled, 1500);
    assert_eq!(summary.chargebacks + summary.analyst + summary.generated, summary.labels);
    let labels = read_labels(&out);
    assert_eq!(labels.len() as u64, summary.labels);
    check_feed(&labels, &transactions(&sample), &config);
    // Most frauds are confirmed by chargebacks, and every legitimate payment gets a label.
    assert!(summary.chargebacks >= 20 && summary.fraud_labels <= 31, "{summary:?}");
    assert_eq!(summary.unlabelled, 0, "defaults label unconfirmed frauds legitimate too");
    assert_eq!(summary.first_label, labels.first().map(|l| l.label_time));

    let again = tmp("sample-labels-again.csv");
    generate_labels(&sample, &again, config.clone()).expect("generates");
    assert_eq!(std::fs::read(&out).expect("read"), std::fs::read(&again).expect("read"), "same seed, same bytes");
    let other = tmp("sample-labels-other.csv");
    generate_labels(&sample, &other, LabelFeedConfig { seed: 43, ..config }).expect("generates");
    assert_ne!(std::fs::read(&out).expect("read"), std::fs::read(&other).expect("read"));
}

#[test]
fn a_larger_feed_follows_the_documented_distributions() {
    // 100,000 transactions over 182 days, 3.5 % fraud: only the columns the generator needs.
    let path = tmp("synthetic-transactions.csv");
    let mut g = SplitMix64::new(5);
    let mut text = String::from("TransactionID,isFraud,TransactionDT\n");
    for i in 0..100_000i64 {
        text.push_str(&format!("{},{},{}\n", 3_000_000 + i, u8::from(g.unit() < 0.035), 86_400 + i * 157));
    }
    std::fs::write(&path, text).expect("write transactions");
    let out = tmp("synthetic-labels.csv");
    let config = LabelFeedConfig::default();
    let s = generate_labels(&path, &out, config.clone()).expect("generates");
    let labels = read_labels(&out);
    let txs = transactions(&path);
    check_feed(&labels, &txs, &config);

    // 2 % reviewed early; 10 % of the other frauds never charged back; the median chargeback after 28 days.
    let review = s.analyst as f64 / s.transactions as f64;
    assert!((review - 0.02).abs() < 0.002, "review share {review}");
    let unreviewed_frauds =
        s.frauds - labels.iter().filter(|l| l.source == LabelSource::Analyst && l.is_fraud).count() as u64;
    let unconfirmed = s.unconfirmed_frauds as f64 / unreviewed_frauds as f64;
    assert!((unconfirmed - 0.10).abs() < 0.02, "unconfirmed share {unconfirmed}");
    assert_eq!(s.frauds_labelled_legit, s.unconfirmed_frauds);
    let median = s.median_chargeback_days.expect("median");
    assert!((median - 28.0).abs() < 2.0, "median chargeback delay {median} days");
    let mut delays: Vec<f64> = labels
        .iter()
        .filter(|l| l.source == LabelSource::Chargeback)
        .map(|l| (l.label_time.millis() - txs[&l.transaction_id].0.millis()) as f64 / DAY_MS as f64)
        .collect();
    delays.sort_by(f64::total_cmp);
    let p90 = delays[delays.len() * 9 / 10];
    assert!((50.0..72.0).contains(&p90), "90th percentile {p90} days (log-normal: 60)");

    // Online ROC AUC needs both classes early: within the first 30 days of the stream, labels of both kinds arrive.
    let start = EventTime::from_transaction_dt(86_400).millis();
    let early: Vec<&Label> = labels.iter().filter(|l| l.label_time.millis() < start + 30 * DAY_MS).collect();
    assert!(early.iter().any(|l| l.is_fraud) && early.iter().filter(|l| !l.is_fraud).count() > 100, "{}", early.len());
}

#[test]
fn csv_round_trips_in_both_time_forms() {
    let labels = vec![
        Label {
            transaction_id: 1,
            is_fraud: true,
            label_time: EventTime::from_transaction_dt(90_000),
            source: LabelSource::Chargeback,
        },
        Label {
            transaction_id: 2,
            is_fraud: false,
            label_time: EventTime::from_transaction_dt(-5),
            source: LabelSource::Generated,
        },
        Label {
            transaction_id: 3,
            is_fraud: false,
            label_time: EventTime::from_transaction_dt(86_400),
            source: LabelSource::Other("bank, \"B\"".into()),
        },
    ];
    for format in [LabelTimeFormat::TransactionDt, LabelTimeFormat::Iso8601] {
        let path = tmp(&format!("round-trip-{format:?}.csv"));
        let mut w = LabelWriter::create(&path, format).expect("create");
        for l in &labels {
            w.write(l).expect("write");
        }
        w.finish().expect("finish");
        assert_eq!(read_labels(&path), labels, "{format:?}");
    }
    let iso = std::fs::read_to_string(tmp("round-trip-Iso8601.csv")).expect("read");
    assert!(iso.contains("\n1,1,2017-12-01T01:00:00.000Z,chargeback\n"), "{iso}");
    // Milliseconds survive the ISO form.
    let path = tmp("round-trip-millis.csv");
    let precise = Label { label_time: EventTime::from_transaction_dt(86_400).plus_millis(250), ..labels[0].clone() };
    let mut w = LabelWriter::create(&path, LabelTimeFormat::Iso8601).expect("create");
    w.write(&precise).expect("write");
    w.finish().expect("finish");
    assert_eq!(read_labels(&path), [precise]);
}

#[test]
fn avro_messages_are_keyed_like_the_input_topics_and_read_by_apache_avro() {
    let label = Label {
        transaction_id: 2_987_004,
        is_fraud: true,
        label_time: EventTime(1_514_000_000_123),
        source: LabelSource::Analyst,
    };
    // A framed message as a producer writes it: key and value, each behind its schema id.
    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_header(1, &mut key);
    encode_key(label.transaction_id, &mut key).expect("key");
    write_header(7, &mut value);
    encode_label(&label, &mut value).expect("value");
    let (key_id, key_datum) = split_framed(&key).expect("framed key");
    assert_eq!((key_id, decode_key(key_datum, key_schema()).expect("key")), (1, 2_987_004));
    let (value_id, datum) = split_framed(&value).expect("framed value");
    assert_eq!(value_id, 7);
    let registry_copy = parse_schema(&std::fs::read_to_string(schema_doc()).expect("avsc")).expect("schema");
    assert_eq!(decode_label(datum, &registry_copy).expect("decode"), label);

    // An independent implementation reads the same bytes with the documented schema.
    use apache_avro::types::Value;
    let schema = apache_avro::Schema::parse_str(LABEL_VALUE_SCHEMA).expect("apache schema");
    let read = apache_avro::from_avro_datum(&schema, &mut &datum[..], None).expect("apache decode");
    let Value::Record(fields) = read else { panic!("a record") };
    assert_eq!(
        fields,
        [
            ("TransactionID".to_string(), Value::Long(2_987_004)),
            ("isFraud".to_string(), Value::Boolean(true)),
            ("label_time".to_string(), Value::TimestampMillis(1_514_000_000_123)),
            ("source".to_string(), Value::String("analyst".into())),
        ]
    );
}

fn schema_doc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas/labels-value.avsc")
}

#[test]
fn the_documented_label_schema_matches_the_code() {
    let v: serde_json::Value = serde_json::from_str(LABEL_VALUE_SCHEMA).expect("valid JSON");
    let text = serde_json::to_string_pretty(&v).expect("pretty") + "\n";
    if std::env::var_os("FRAUDSTREAM_WRITE_SCHEMAS").is_some() {
        std::fs::write(schema_doc(), &text).expect("write schema doc");
    }
    let on_disk = std::fs::read_to_string(schema_doc()).unwrap_or_else(|e| panic!("{}: {e}", schema_doc().display()));
    assert_eq!(on_disk, text, "{} is stale; see this file's doc comment", schema_doc().display());
}
