//! Model monitoring on Kafka (a real broker): a labels topic drives the online quality, and a challenger writes
//! its own scores topic, once per transaction.
//!
//! The sample covers one day of event time and a Kafka job never sees its input end, so labels here come 30 s
//! after their transaction: every label due before the stream's newest event time must be joined to its score,
//! with the figures an offline computation over the same scores and labels gives.

mod common;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::labels::{Label, LabelSource};
use fraudstream_data::EventTime;
use fraudstream_engine::kafka::labels::write_labels;
use fraudstream_engine::kafka::sink::{decode_score, ChallengerOutput};
use fraudstream_engine::kafka::topology::run_kafka;
use fraudstream_engine::monitor::{LabelFeed, MonitorConfig, MonitorSetup, Role, WatchSpec};
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::quality::roc_auc;
use fraudstream_engine::scorer::{InProcessScorer, WithChallenger};
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

use common::{job_config, produce_files};

/// TransactionID → (TransactionDT, isFraud) of the sample.
fn sample_transactions() -> HashMap<i64, (i64, bool)> {
    let text = std::fs::read_to_string(ieee_cis_sample().join("train_transaction.csv")).expect("sample");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let (id, dt, fraud) = (at("TransactionID"), at("TransactionDT"), at("isFraud"));
    text.lines()
        .skip(1)
        .map(|l| {
            // The first columns hold no quoted commas.
            let f: Vec<&str> = l.splitn(6, ',').collect();
            (f[id].parse().expect("id"), (f[dt].parse().expect("dt"), f[fraud] == "1"))
        })
        .collect()
}

/// TransactionID → (score, model) of a scores topic.
fn read_scores(run: &common::Run, topic: &str) -> HashMap<i64, Vec<(Option<f64>, String)>> {
    let registry = fraudstream_data::registry::SchemaRegistry::new(run.registry.url(), None).expect("registry");
    let mut scores: HashMap<i64, Vec<(Option<f64>, String)>> = HashMap::new();
    run.kafka
        .read_to_end(topic, Duration::from_secs(1), |msg| {
            let r = decode_score(&registry, rdkafka::Message::payload(msg).unwrap_or_default())?;
            scores.entry(r.transaction_id).or_default().push((r.score, r.model));
            Ok(())
        })
        .expect("read scores");
    scores
}

#[test]
fn a_labels_topic_drives_online_quality_and_a_challenger_writes_its_own_topic_once_per_transaction() {
    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 3);
    let transactions = sample_transactions();
    let labels: Vec<Label> = transactions
        .iter()
        .map(|(&id, &(dt, fraud))| Label {
            transaction_id: id,
            is_fraud: fraud,
            label_time: EventTime::from_transaction_dt(dt + 30),
            source: LabelSource::Analyst,
        })
        .collect();
    let labels_topic = unique_topic("labels");
    let registry = fraudstream_data::registry::SchemaRegistry::new(run.registry.url(), None).expect("registry");
    assert_eq!(write_labels(&run.kafka, &registry, &labels_topic, 3, &labels).expect("labels"), 1500);

    let scores_topic = unique_topic("scores");
    let challenger_topic = format!("{scores_topic}-challenger");
    let mut config = job_config(&run, &unique_topic("monitor"), &scores_topic);
    config.labels_topic = Some(labels_topic);
    config.sinks.challenger =
        Some(ChallengerOutput { topic: challenger_topic.clone(), model: "seed".into(), model_version: "2".into() });
    config.job.monitor = Some(MonitorSetup {
        config: MonitorConfig {
            labels: LabelFeed::Feed,
            horizon: Duration::from_secs(86_400),
            quality_window: 1_000_000,
            threshold: 0.5,
            quality_from: None,
        },
        models: vec![
            WatchSpec { name: "pipeline_75".into(), role: Role::Champion, drift: None },
            WatchSpec { name: "seed".into(), role: Role::Challenger, drift: None },
        ],
        labels: Arc::new(Vec::new()),
        live: None,
    });
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let mut champion = InProcessScorer::new(&model).expect("scorer");
    let mut scorer = WithChallenger::new(&mut champion, InProcessScorer::new(&model).expect("challenger"));
    let summary = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("run");
    assert_eq!(summary.scored, 1500);

    let champion_scores = read_scores(&run, &scores_topic);
    let challenger_scores = read_scores(&run, &challenger_topic);
    assert_eq!(challenger_scores.len(), 1500);
    for (id, written) in &challenger_scores {
        assert_eq!(written.len(), 1, "TransactionID {id}: one challenger score");
        assert_eq!(written[0].1, "seed");
        assert_eq!(written[0].0, champion_scores[id][0].0, "TransactionID {id}: same model, same score");
    }

    // Offline: labels due by the newest event time, joined to the written scores.
    let newest = transactions.values().map(|&(dt, _)| dt).max().expect("rows");
    let (s, y): (Vec<f64>, Vec<bool>) = transactions
        .iter()
        .filter(|(_, &(dt, _))| dt + 30 <= newest)
        .map(|(id, &(_, fraud))| (champion_scores[id][0].0.expect("score"), fraud))
        .unzip();
    let counts = summary.labels.expect("label counts");
    assert_eq!(counts.joined, s.len() as u64, "{counts:?}");
    for model in &summary.models {
        let q = model.quality.expect("quality");
        assert_eq!(q.labels_received, s.len() as u64, "{}", model.name);
        let (got, want) = (q.roc_auc.expect("auc"), roc_auc(&s, &y).expect("auc"));
        assert!((got - want).abs() < 1e-12, "{}: ROC AUC {got} vs offline {want}", model.name);
    }
}
