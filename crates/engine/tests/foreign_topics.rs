//! Topics written by another team's producers, on a real broker: the reference team's Python producers
//! (confluent-kafka's `AvroSerializer` with their own schemas; encoded here as `fraudstream_testkit::foreign`
//! writes them) put TransactionID in the key only (a `long` key schema on transactions, a `string` one on
//! identities), type numbers their own way, write `""` for missing strings, give identities no event time, stamp a
//! wall-clock `Timestamp`, and place records with librdkafka's default partitioner (CRC32 of the key bytes).
//!
//! - One instance reading every partition scores all 1,500 sample transactions, joined with their 348 identities,
//!   exactly as onnxruntime scores the sample (the job decodes by the writer schema, takes TransactionID from the key
//!   and event time from TransactionDT — never the wall clock — and gives each identity its transaction's time).
//! - An instance reading only some partitions refuses to start scoring, saying why and how to fix it: its
//!   transactions' identities may be on another instance.
//! - The same holds for messages the real Python client wrote (`fixtures/foreign/produce_python.py`, pinned in its
//!   `requirements.txt`: confluent-kafka 2.16.1, fastavro): their bytes are replayed as the client framed them.
//! - Dead letters say what came (the schema id and the subject it is registered under, where a truncated value
//!   ended) and keep the original message key, as their key and the `source.key` header.

mod common;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fraudstream_data::csv_table::TableReader;
use fraudstream_data::registry::{subject, SchemaRegistry};
use fraudstream_data::{Row, Table};
use fraudstream_engine::kafka::rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use fraudstream_engine::kafka::sink::decode_score;
use fraudstream_engine::kafka::source::Assignment;
use fraudstream_engine::kafka::topology::run_kafka;
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::observe::{RunProgress, RunSummary};
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_model::Model;
use fraudstream_testkit::broker::{require_broker, unique_topic};
use fraudstream_testkit::foreign::{framed, python_datum, python_schema};
use fraudstream_testkit::{ieee_cis_sample, shared_reference, FakeSchemaRegistry};

use common::{job_config, Run};

const PARTITIONS: i32 = 3;

fn rows(table: Table, file: &str) -> Vec<Row> {
    let mut reader = TableReader::open(ieee_cis_sample().join(file), table, 0).expect("sample");
    let mut rows = Vec::new();
    while let Some(row) = reader.read_row().expect("row") {
        rows.push(row);
    }
    rows
}

/// Produces `rows` to `topic` as the Python producer does: its value schema, TransactionID in a key of
/// `key_schema` (`"long"` or `"string"`), librdkafka's default partitioner, a wall-clock record timestamp.
fn produce_foreign(
    kafka: &KafkaSettings,
    registry: &SchemaRegistry,
    topic: &str,
    table: Table,
    key_schema: &str,
    rows: &[Row],
) {
    let schema = python_schema(table, false);
    let value_id = registry.register(&subject(topic, false), &schema.to_string()).expect("value schema");
    let key_id = registry.register(&subject(topic, true), key_schema).expect("key schema");
    let parsed = apache_avro::Schema::parse_str(&schema.to_string()).expect("parse value schema");
    let parsed_key = apache_avro::Schema::parse_str(key_schema).expect("parse key schema");
    kafka.ensure_topics(&[topic], PARTITIONS, 1).expect("topic");
    let producer: ThreadedProducer<DefaultProducerContext> =
        kafka.client_config(&[("partitioner", "consistent_random")]).create().expect("producer");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    for row in rows {
        let id = row.nums[0] as i64;
        let key = match key_schema {
            "\"long\"" => apache_avro::types::Value::Long(id),
            _ => apache_avro::types::Value::String(id.to_string()),
        };
        let key = framed(key_id, &apache_avro::to_avro_datum(&parsed_key, key).expect("key"));
        let value = framed(value_id, &python_datum(&schema, &parsed, row, table, f64::NAN));
        let record = BaseRecord::to(topic).key(&key[..]).payload(&value[..]).timestamp(now);
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
}

/// The sample on two fresh topics, written the Python producers' way.
fn foreign_run() -> Run {
    let kafka = KafkaSettings::new(require_broker());
    let registry = FakeSchemaRegistry::start();
    let client = SchemaRegistry::new(registry.url(), None).expect("registry");
    let (tx_topic, id_topic) = (unique_topic("py-tx"), unique_topic("py-id"));
    produce_foreign(
        &kafka,
        &client,
        &tx_topic,
        Table::Transaction,
        "\"long\"",
        &rows(Table::Transaction, "train_transaction.csv"),
    );
    produce_foreign(
        &kafka,
        &client,
        &id_topic,
        Table::Identity,
        "\"string\"",
        &rows(Table::Identity, "train_identity.csv"),
    );
    Run { registry, kafka, tx_topic, id_topic, summary: Default::default() }
}

/// TransactionID → (label, probability) that onnxruntime gives the sample.
fn onnxruntime() -> HashMap<i64, (i32, f64)> {
    let text = std::fs::read_to_string(shared_reference().join("seed-model/onnxruntime_outputs.csv")).expect("outputs");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().expect("id"), (f[1].parse().expect("label"), f[2].parse().expect("p")))
        })
        .collect()
}

/// Runs one instance over every partition of `run`'s topics, checks every score the scores topic holds against
/// onnxruntime's (label, and probability within 1e-6), and returns the run's summary and how many scores there are.
fn run_all_and_check(run: &Run, model: &Model, prefix: &str) -> (RunSummary, u64) {
    let scores_topic = unique_topic(&format!("{prefix}-scores"));
    let mut config = job_config(run, &unique_topic(prefix), &scores_topic);
    config.source.assignment = Assignment::All;
    let mut scorer = InProcessScorer::new(model).expect("scorer");
    let summary = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("run");
    let registry = SchemaRegistry::new(run.registry.url(), None).expect("registry");
    let want = onnxruntime();
    let mut seen = 0;
    run.kafka
        .read_to_end(&scores_topic, Duration::from_secs(1), |msg| {
            let score =
                decode_score(&registry, fraudstream_engine::kafka::rdkafka::Message::payload(msg).unwrap_or_default())?;
            let (label, p) = want[&score.transaction_id];
            let got = score.score.expect("a score");
            assert!((got - p).abs() <= 1e-6, "TransactionID {}: {got} vs onnxruntime {p}", score.transaction_id);
            assert_eq!(score.label, label, "TransactionID {}", score.transaction_id);
            seen += 1;
            Ok(())
        })
        .expect("read scores");
    (summary, seen)
}

/// An instance reading partition 0 only must refuse topics that are not co-partitioned, saying how to fix it.
fn refuse_partial(run: &Run, model: &Model, prefix: &str) {
    let mut config = job_config(run, &unique_topic(prefix), &unique_topic(&format!("{prefix}-scores")));
    config.source.assignment = Assignment::Static(vec![0]);
    let mut scorer = InProcessScorer::new(model).expect("scorer");
    let err = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None)
        .expect_err("a partial instance refuses")
        .to_string();
    assert!(err.contains("fraudstream produce"), "says how to fix it: {err}");
}

#[test]
fn topics_of_another_producer_score_as_onnxruntime_and_a_partial_instance_refuses_them() {
    let run = foreign_run();
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");

    let (summary, seen) = run_all_and_check(&run, &model, "py");
    assert_eq!((summary.scored, summary.join.matched, summary.dead_letters), (1500, 348, 0), "{summary:?}");
    assert_eq!(seen, 1500);
    // One instance of several: the CRC32 placement and per-topic key schemas cannot be co-partitioned.
    refuse_partial(&run, &model, "py-part");
}

#[test]
fn dead_letters_say_which_schema_came_and_keep_the_original_key() {
    use fraudstream_data::avro::value_schema_json;
    use fraudstream_engine::kafka::rdkafka::message::Headers;
    let sample = ieee_cis_sample();
    let run = common::produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 1);
    let registry = SchemaRegistry::new(run.registry.url(), None).expect("registry");
    // The identities' own value schema (registering it again returns its id), framed on the transactions topic.
    let identity_id =
        registry.register(&subject(&run.id_topic, false), &value_schema_json(Table::Identity)).expect("identity id");
    let transaction_id = registry
        .register(&subject(&run.tx_topic, false), &value_schema_json(Table::Transaction))
        .expect("transaction id");
    let producer: ThreadedProducer<DefaultProducerContext> = run.kafka.client_config(&[]).create().expect("producer");
    let wrong_table = framed(identity_id, &[0u8; 16]);
    let truncated = framed(transaction_id, &[0x80, 0x80, 0x80]);
    for (key, value) in [(&b"key-wrong-table"[..], &wrong_table), (&b"key-truncated"[..], &truncated)] {
        producer
            .send(BaseRecord::to(&run.tx_topic).key(key).payload(&value[..]).partition(0))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let scores = unique_topic("dl-scores");
    let mut config = job_config(&run, &unique_topic("dl"), &scores);
    config.source.assignment = Assignment::All;
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let summary = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("run");
    assert_eq!(summary.scored, 1500, "the good records are all scored");

    let mut letters: HashMap<Vec<u8>, (String, Vec<u8>)> = HashMap::new();
    run.kafka
        .read_to_end(&format!("{scores}-dead"), Duration::from_secs(1), |msg| {
            use fraudstream_engine::kafka::rdkafka::Message;
            let headers = msg.headers().expect("headers");
            let header = |name: &str| {
                headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(<[u8]>::to_vec).unwrap_or_default()
            };
            let key = msg.key().unwrap_or_default().to_vec();
            letters.insert(key, (String::from_utf8_lossy(&header("reason")).into_owned(), header("source.key")));
            Ok(())
        })
        .expect("read dead letters");
    let (reason, source_key) = &letters[&b"key-wrong-table".to_vec()];
    assert_eq!(source_key, b"key-wrong-table", "the original key, also as a header");
    assert!(
        reason.contains(&format!("schema id {identity_id}")) && reason.contains(&subject(&run.id_topic, false)),
        "names the schema and where it is registered: {reason}"
    );
    let (reason, source_key) = &letters[&b"key-truncated".to_vec()];
    assert_eq!(source_key, b"key-truncated");
    assert!(reason.contains("TransactionID") && reason.contains("truncated"), "says where it ended: {reason}");
}

/// The messages `fixtures/foreign/produce_python.py` wrote with the real Python client (confluent-kafka 2.16.1's
/// `AvroSerializer`, fastavro), on the partitions librdkafka's default partitioner gives their keys.
struct PythonTopics {
    /// Subject → (the Python mock registry's id, schema text).
    schemas: HashMap<String, (u32, String)>,
    /// (topic: `transactions` or `identities`, partition, key bytes, value bytes).
    records: Vec<(String, i32, Vec<u8>, Vec<u8>)>,
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

fn python_topics() -> PythonTopics {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/foreign/python_topics.txt");
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut topics = PythonTopics { schemas: HashMap::new(), records: Vec::new() };
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(5, ' ');
        match parts.next() {
            Some("schema") => {
                let (subject, id, schema) = (parts.next(), parts.next(), parts.collect::<Vec<_>>().join(" "));
                let id = id.and_then(|i| i.parse().ok()).expect("schema id");
                topics.schemas.insert(subject.expect("subject").to_string(), (id, schema));
            }
            Some("record") => {
                let f: Vec<&str> = parts.collect();
                topics.records.push((f[0].to_string(), f[1].parse().expect("partition"), unhex(f[2]), unhex(f[3])));
            }
            other => panic!("unexpected fixture line {other:?}"),
        }
    }
    topics
}

/// Replays the Python client's messages on fresh topics: its schemas registered under the new topics' subjects, each
/// message's schema id rewritten to the id this registry gave (the Avro bytes after it are the client's own).
fn python_run(topics: &PythonTopics) -> Run {
    let kafka = KafkaSettings::new(require_broker());
    let registry = FakeSchemaRegistry::start();
    let client = SchemaRegistry::new(registry.url(), None).expect("registry");
    let (tx_topic, id_topic) = (unique_topic("pyc-tx"), unique_topic("pyc-id"));
    kafka.ensure_topics(&[&tx_topic, &id_topic], PARTITIONS, 1).expect("topics");
    let mut ids: HashMap<u32, u32> = HashMap::new();
    for (subject_name, (python_id, schema)) in &topics.schemas {
        let (topic, is_key) = match subject_name.rsplit_once('-').expect("subject") {
            ("transactions", kind) => (&tx_topic, kind == "key"),
            (_, kind) => (&id_topic, kind == "key"),
        };
        ids.insert(*python_id, client.register(&subject(topic, is_key), schema).expect("register"));
    }
    let reframe = |bytes: &[u8]| {
        let python_id = u32::from_be_bytes(bytes[1..5].try_into().expect("header"));
        framed(ids[&python_id], &bytes[5..])
    };
    let producer: ThreadedProducer<DefaultProducerContext> = kafka.client_config(&[]).create().expect("producer");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    for (topic, partition, key, value) in &topics.records {
        let topic = if topic == "transactions" { &tx_topic } else { &id_topic };
        let (key, value) = (reframe(key), reframe(value));
        let record = BaseRecord::to(topic).key(&key[..]).payload(&value[..]).partition(*partition).timestamp(now);
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    Run { registry, kafka, tx_topic, id_topic, summary: Default::default() }
}

#[test]
fn messages_of_the_python_confluent_kafka_client_score_as_onnxruntime() {
    let topics = python_topics();
    let transactions = topics.records.iter().filter(|r| r.0 == "transactions").count() as u64;
    let identities = topics.records.len() as u64 - transactions;
    let run = python_run(&topics);
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");

    let (summary, seen) = run_all_and_check(&run, &model, "pyc");
    assert_eq!(
        (summary.scored, summary.join.matched, summary.dead_letters),
        (transactions, identities, 0),
        "{summary:?}"
    );
    assert_eq!(seen, transactions);
    refuse_partial(&run, &model, "pyc-part");
}
