//! The streaming job on Kafka (tansu over TCP): the real sample produced to the input topics, scored once per
//! transaction into the scores topic — also when the job re-reads input it had already scored (a restart that lost
//! its committed offsets), which the job recovers from by reading back the scores topic. Exactly-once mode (Kafka
//! transactions) runs against librdkafka's mock cluster, which has transactions but does not hide aborted records
//! from read_committed consumers: it shows the commit path works (output visible, offsets committed in the
//! transaction), not that aborted output is hidden; against tansu, which rejects EndTxn, the mode fails clearly.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_engine::kafka::sink::{decode_score, ScoreRecord};
use fraudstream_engine::kafka::topology::{run_kafka, KafkaRunConfig};
use fraudstream_engine::observe::{RunProgress, RunSummary};
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};
use rdkafka::message::Message;

mod common;
use common::{job_config, produce_files, produce_files_to, Run};

fn run_job(config: &KafkaRunConfig, model: &Model) -> RunSummary {
    let mut scorer = InProcessScorer::new(model).expect("scorer");
    run_kafka(config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("run")
}

/// Every score message in the topic: TransactionID → how many times, and the records.
fn read_scores(run: &Run, topic: &str) -> (HashMap<i64, u32>, Vec<ScoreRecord>) {
    let registry = SchemaRegistry::new(run.registry.url(), None).expect("registry");
    let mut counts = HashMap::new();
    let mut records = Vec::new();
    run.kafka
        .read_to_end(topic, Duration::from_secs(1), |msg| {
            let r = decode_score(&registry, msg.payload().unwrap_or_default())?;
            *counts.entry(r.transaction_id).or_insert(0) += 1;
            records.push(r);
            Ok(())
        })
        .expect("read scores");
    (counts, records)
}

#[test]
fn every_transaction_is_scored_exactly_once_even_when_input_is_read_again() {
    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 3);
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let scores_topic = unique_topic("scores");

    let first = run_job(&job_config(&run, &unique_topic("group"), &scores_topic), &model);
    assert_eq!(first.scored, 1500);
    assert_eq!(first.join.matched, 348, "every identity joins its transaction across Kafka partitions");
    let (counts, records) = read_scores(&run, &scores_topic);
    assert_eq!(counts.len(), 1500, "every transaction has a score");
    assert!(counts.values().all(|&n| n == 1), "no transaction is scored twice");
    assert_eq!(records.iter().filter(|r| r.identity_matched).count(), 348);

    // A new group re-reads all input from the start, as a restart that lost its offsets would.
    let second = run_job(&job_config(&run, &unique_topic("group"), &scores_topic), &model);
    assert_eq!((second.scored, second.skipped_already_scored), (0, 1500));
    let (counts, _) = read_scores(&run, &scores_topic);
    assert_eq!(counts.len(), 1500);
    assert!(counts.values().all(|&n| n == 1), "the re-read wrote nothing twice");
    let alerted: HashMap<i64, u32> = records.iter().filter(|r| r.label == 1).map(|r| (r.transaction_id, 1)).collect();
    assert!(!alerted.is_empty(), "the sample has alerts at the threshold");
    assert_eq!(read_scores(&run, &format!("{scores_topic}-alerts")).0, alerted, "each alert once, after the re-read");

    // A crash between a score and its alert: the scores are out, the alerts (a new, empty topic here) are not.
    // The re-read writes exactly the missing alerts, and no score again.
    let mut config = job_config(&run, &unique_topic("group"), &scores_topic);
    config.sinks.alerts_topic = unique_topic("alerts-lost");
    let third = run_job(&config, &model);
    assert_eq!((third.scored, third.skipped_already_scored, third.alerts), (0, 1500, alerted.len() as u64));
    assert_eq!(read_scores(&run, &config.sinks.alerts_topic).0, alerted, "every missing alert written once");
    assert_eq!(read_scores(&run, &scores_topic).0, counts, "no score written again");
}

#[test]
fn exactly_once_mode_commits_its_output_in_kafka_transactions() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let kafka = fraudstream_engine::kafka::KafkaSettings::new(cluster.bootstrap_servers());
    let sample = ieee_cis_sample();
    // The mock cluster has no CreateTopics: topics are made through its own API.
    let create = |topic: &str| cluster.create_topic(topic, 3, 1).expect("mock topic");
    let (tx, id) = (sample.join("train_transaction.csv"), sample.join("train_identity.csv"));
    let run = produce_files_to(kafka, &tx, &id, 3, create);
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let scores_topic = unique_topic("scores");
    for suffix in ["", "-alerts", "-dead"] {
        create(&format!("{scores_topic}{suffix}"));
    }
    let group = unique_topic("group");
    let mut config = job_config(&run, &group, &scores_topic);
    config.sinks.transactional_id = Some(format!("{group}-txn"));
    config.source.assignment = fraudstream_engine::kafka::source::Assignment::All;

    let first = run_job(&config, &model);
    assert_eq!(first.scored, 1500);
    let (counts, _) = read_scores(&run, &scores_topic);
    assert_eq!(counts.len(), 1500, "the committed transactions hold every score");
    assert!(counts.values().all(|&n| n == 1));
    // A restart is not exercised here: the mock answers TxnOffsetCommit without storing the offsets (see
    // rd_kafka_mock_handle_TxnOffsetCommit in librdkafka), so a second run would re-read everything, and in this
    // mode the job relies on the committed offsets rather than reading its output back.
}

#[test]
fn exactly_once_mode_on_a_broker_without_transactions_fails_clearly() {
    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 3);
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let mut config = job_config(&run, &unique_topic("group"), &unique_topic("scores"));
    config.sinks.transactional_id = Some(unique_topic("txn"));
    config.sinks.flush_timeout = Duration::from_secs(10);
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let err = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None)
        .expect_err("tansu 0.6.0 rejects EndTxn");
    let msg = err.to_string();
    assert!(msg.contains("transaction"), "{msg}");
}

#[test]
fn an_input_whose_first_thousand_messages_are_unreadable_stops_the_run_before_committing_them() {
    use fraudstream_engine::kafka::rdkafka::consumer::{BaseConsumer, Consumer};
    use fraudstream_engine::kafka::rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    use fraudstream_engine::kafka::rdkafka::TopicPartitionList;
    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 1);
    // Another producer's topic: 1,200 values that are no Confluent-framed Avro at all.
    let garbage = unique_topic("garbage");
    run.kafka.ensure_topics(&[garbage.as_str()], 1, 1).expect("topic");
    let producer: ThreadedProducer<_> = run.kafka.client_config(&[]).create().expect("producer");
    for i in 0..1_200u32 {
        let value = format!("{{\"TransactionID\": {i}, \"TransactionDT\": 86400.0}}");
        producer.send(BaseRecord::<[u8], [u8]>::to(&garbage).payload(value.as_bytes())).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let group = unique_topic("group");
    let mut config = job_config(&run, &group, &unique_topic("scores"));
    config.source.transactions_topic = garbage.clone();
    config.source.assignment = fraudstream_engine::kafka::source::Assignment::All;
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let err = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None)
        .expect_err("an unreadable input stops the run");
    let msg = err.to_string();
    assert!(msg.contains("first 1000 messages") && msg.contains(&garbage), "{msg}");
    // Nothing committed: a fixed job under the same group reads them all again.
    let consumer: BaseConsumer = run.kafka.client_config(&[("group.id", group.as_str())]).create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&garbage, 0);
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed");
    let offset = committed.elements()[0].offset();
    assert!(!matches!(offset, fraudstream_engine::kafka::rdkafka::Offset::Offset(o) if o > 0), "{offset:?}");
}
