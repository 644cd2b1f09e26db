//! Model monitoring on Kafka (a real broker): a labels topic drives the online quality, and a challenger writes
//! its own scores topic, once per transaction.
//!
//! The sample covers one day of event time and a Kafka job never sees its input end, so labels here come 30 s
//! after their transaction: every label due before the stream's newest event time must be joined to its score,
//! with the figures an offline computation over the same scores and labels gives.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A run of the sample on a fresh broker with a labels topic (every label 30 s after its transaction) and a
/// challenger (the seed model again, as "seed"), configured but not started.
struct Setup {
    run: common::Run,
    config: fraudstream_engine::kafka::topology::KafkaRunConfig,
    transactions: HashMap<i64, (i64, bool)>,
    scores_topic: String,
    challenger_topic: String,
}

fn setup() -> Setup {
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
    Setup { run, config, transactions, scores_topic, challenger_topic }
}

/// Runs the job until its input is idle, or until `stop_after` transactions are scored.
fn run_job(setup: &Setup, stop_after: Option<u64>) -> fraudstream_engine::observe::RunSummary {
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let mut champion = InProcessScorer::new(&model).expect("scorer");
    let mut scorer = WithChallenger::new(&mut champion, InProcessScorer::new(&model).expect("challenger"));
    let (progress, stop) = (RunProgress::default(), AtomicBool::new(false));
    std::thread::scope(|scope| {
        if let Some(n) = stop_after {
            let (progress, stop) = (&progress, &stop);
            scope.spawn(move || {
                while progress.scored.load(Ordering::Relaxed) < n {
                    std::thread::sleep(Duration::from_millis(5));
                }
                stop.store(true, Ordering::Relaxed);
            });
        }
        let summary = run_kafka(&setup.config, &mut scorer, &progress, &stop, None).expect("run");
        stop.store(true, Ordering::Relaxed);
        // The watcher ends once the run has scored its share (a run that stops earlier fails below).
        progress.scored.fetch_max(stop_after.unwrap_or(0), Ordering::Relaxed);
        summary
    })
}

/// The labels due by the sample's newest event time, joined offline to the champion's written scores.
fn offline(setup: &Setup, champion_scores: &HashMap<i64, Vec<(Option<f64>, String)>>) -> (Vec<f64>, Vec<bool>) {
    let newest = setup.transactions.values().map(|&(dt, _)| dt).max().expect("rows");
    setup
        .transactions
        .iter()
        .filter(|(_, &(dt, _))| dt + 30 <= newest)
        .map(|(id, &(_, fraud))| (champion_scores[id][0].0.expect("score"), fraud))
        .unzip()
}

/// The run's online figures equal the offline computation over every label due: each joined once, the rolling
/// ROC AUC of both models the offline one.
fn assert_quality_matches_offline(summary: &fraudstream_engine::observe::RunSummary, s: &[f64], y: &[bool]) {
    let counts = summary.labels.expect("label counts");
    assert_eq!(counts.joined, s.len() as u64, "{counts:?}");
    for model in &summary.models {
        let q = model.quality.expect("quality");
        assert_eq!(q.labels_received, s.len() as u64, "{}", model.name);
        let (got, want) = (q.roc_auc.expect("auc"), roc_auc(s, y).expect("auc"));
        assert!((got - want).abs() < 1e-12, "{}: ROC AUC {got} vs offline {want}", model.name);
    }
}

#[test]
fn a_labels_topic_drives_online_quality_and_a_challenger_writes_its_own_topic_once_per_transaction() {
    let setup = setup();
    let summary = run_job(&setup, None);
    assert_eq!(summary.scored, 1500);

    let champion_scores = read_scores(&setup.run, &setup.scores_topic);
    let challenger_scores = read_scores(&setup.run, &setup.challenger_topic);
    assert_eq!(challenger_scores.len(), 1500);
    for (id, written) in &challenger_scores {
        assert_eq!(written.len(), 1, "TransactionID {id}: one challenger score");
        assert_eq!(written[0].1, "seed");
        assert_eq!(written[0].0, champion_scores[id][0].0, "TransactionID {id}: same model, same score");
    }
    let (s, y) = offline(&setup, &champion_scores);
    assert_quality_matches_offline(&summary, &s, &y);
}

/// Stopped part-way (after a monitoring snapshot, with scores written after it) and started again, the job
/// restores the scores awaiting labels, the quality windows and the labels feed's position: its final figures
/// are those of a run that never stopped.
#[test]
fn a_restarted_job_goes_on_with_its_monitoring_state_and_ends_with_the_figures_of_an_uninterrupted_run() {
    let mut setup = setup();
    // Snapshots often enough that the first run takes several, and rarely enough that scores follow the last.
    setup.config.snapshot_interval = Duration::from_millis(300);
    setup.config.commit_interval = Duration::from_millis(100);
    let first = run_job(&setup, Some(700));
    assert!(first.scored >= 700 && first.scored < 1500, "the first run stopped part-way: {}", first.scored);
    let second = run_job(&setup, None);
    assert_eq!(first.scored + second.scored, 1500, "each transaction scored once");
    let champion_scores = read_scores(&setup.run, &setup.scores_topic);
    assert!(champion_scores.values().all(|w| w.len() == 1));
    let (s, y) = offline(&setup, &champion_scores);
    assert_quality_matches_offline(&second, &s, &y);
    let counts = second.labels.expect("label counts");
    assert_eq!(counts.unmatched, 0, "no label read twice or lost its score: {counts:?}");
}
