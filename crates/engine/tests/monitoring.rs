//! Model monitoring through the embedded job:
//! - a labels feed (the real sample's own, generated with chargeback delays) drives the online quality, and the
//!   figures equal an offline computation over the same scores and labels under the horizon rule;
//! - a stream whose second half shifts `TransactionAmt` and concentrates payments on five cards (so the client
//!   feature `card1_count_24h`, payments per card in the past day) raises drift on exactly those inputs of a model
//!   trained on the unshifted distribution;
//! - a challenger's scores equal what that model writes as a champion on its own, and raise no alerts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::generate::{generate, GenerateConfig};
use fraudstream_data::labels::{generate_labels, LabelFeedConfig, LabelReader};
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::monitor::drift::baseline_beside;
use fraudstream_engine::monitor::{DriftSpec, LabelFeed, MonitorConfig, MonitorSetup, Role, WatchSpec};
use fraudstream_engine::observe::{RunProgress, RunSummary};
use fraudstream_engine::quality::{average_precision, roc_auc};
use fraudstream_engine::replay::{replay_features, replay_job};
use fraudstream_engine::scorer::{InProcessScorer, Scorer, WithChallenger};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_features::{ClientConfig, FeatureSet, InputMapping};
use fraudstream_model::drift::DriftConfig;
use fraudstream_model::Model;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};
use fraudstream_train::{train, DatasetBuilder, TrainParams};

const DAY_SECS: i64 = 86_400;

fn sample_files() -> FileSourceConfig {
    FileSourceConfig::new(
        ieee_cis_sample().join("train_transaction.csv"),
        Some(ieee_cis_sample().join("train_identity.csv")),
    )
}

fn seed_model() -> Model {
    Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model")
}

/// An embedded run of `files` into `out` with `job`, scored by `scorer`, parsing the columns `models` read.
fn run(files: &FileSourceConfig, job: JobConfig, models: &[&Model], scorer: &mut dyn Scorer, out: &Path) -> RunSummary {
    let inputs: Vec<String> =
        models.iter().flat_map(|m| InputMapping::for_model(m).expect("mapping").names().to_vec()).collect();
    let config = RunConfig {
        files: FileSourceConfig { columns: Some(needed_columns(&inputs)), ..files.clone() },
        job,
        out_dir: out.to_path_buf(),
        model_name: "model".into(),
        score_reasons: 0,
    };
    run_embedded(&config, scorer, &RunProgress::default()).expect("run")
}

/// TransactionID → score, from a scores CSV (first two columns).
fn scores(path: &Path) -> HashMap<i64, f64> {
    let text = std::fs::read_to_string(path).expect("scores");
    text.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            let id = f.next().and_then(|v| v.parse().ok()).expect("id");
            (id, f.next().and_then(|v| v.parse().ok()).expect("score"))
        })
        .collect()
}

/// TransactionID → TransactionDT of a transactions CSV.
fn transaction_times(path: &Path) -> HashMap<i64, i64> {
    let text = std::fs::read_to_string(path).expect("transactions");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let (id, dt) = (col(&header, "TransactionID"), col(&header, "TransactionDT"));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[id].parse().expect("id"), f[dt].parse::<f64>().expect("dt") as i64)
        })
        .collect()
}

fn col(header: &[&str], name: &str) -> usize {
    header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"))
}

fn labels_job(horizon_days: u64, labels: Vec<fraudstream_data::labels::Label>, threshold: f64) -> JobConfig {
    JobConfig {
        threshold,
        monitor: Some(MonitorSetup {
            config: MonitorConfig {
                labels: LabelFeed::Feed,
                horizon: Duration::from_secs(horizon_days * DAY_SECS as u64),
                quality_window: 1_000_000,
                threshold,
                quality_from: None,
            },
            models: vec![WatchSpec { name: "seed".into(), role: Role::Champion, drift: None }],
            labels: Arc::new(labels),
            live: None,
        }),
        ..replay_job(None)
    }
}

#[test]
fn online_quality_from_a_labels_feed_equals_the_offline_computation_over_the_same_labels() {
    let tmp = tempfile::tempdir().expect("tmp");
    let labels_path = tmp.path().join("labels.csv");
    let transactions = ieee_cis_sample().join("train_transaction.csv");
    generate_labels(&transactions, &labels_path, LabelFeedConfig::default()).expect("labels");
    let mut reader = LabelReader::open(&labels_path, 0).expect("open labels");
    let mut labels = Vec::new();
    while let Some(l) = reader.read_label().expect("label") {
        labels.push(l);
    }
    assert_eq!(labels.len(), 1500);
    let times = transaction_times(&transactions);
    let model = seed_model();
    let threshold = 0.2;
    // 125 days joins every label of the feed; 30 days leaves the legitimate ones (labelled at 120 days) and the
    // later chargebacks outside.
    for horizon_days in [125u64, 30] {
        let out = tmp.path().join(format!("out-{horizon_days}"));
        let mut scorer = InProcessScorer::new(&model).expect("scorer");
        let summary =
            run(&sample_files(), labels_job(horizon_days, labels.clone(), threshold), &[&model], &mut scorer, &out);
        let written = scores(&out.join("scores.csv"));
        // Offline: a label joins when it came within the horizon of its transaction; in label-time order.
        let horizon_secs = horizon_days as i64 * DAY_SECS;
        let mut joined: Vec<(i64, i64, f64, bool)> = labels
            .iter()
            .filter_map(|l| {
                let label_secs = l.label_time.to_transaction_dt();
                let score = *written.get(&l.transaction_id)?;
                (label_secs - times[&l.transaction_id] <= horizon_secs).then_some((
                    label_secs,
                    l.transaction_id,
                    score,
                    l.is_fraud,
                ))
            })
            .collect();
        joined.sort_by_key(|j| (j.0, j.1));
        let (s, y): (Vec<f64>, Vec<bool>) = joined.iter().map(|j| (j.2, j.3)).unzip();
        let q = summary.models[0].quality.expect("quality");
        let counts = summary.labels.expect("label counts");
        assert_eq!(counts.received, 1500);
        assert_eq!(counts.joined, joined.len() as u64, "horizon {horizon_days} d");
        assert_eq!(counts.unmatched, 1500 - joined.len() as u64);
        assert_eq!(counts.expired, summary.scored - joined.len() as u64);
        assert_eq!(q.labels_received, joined.len() as u64);
        assert_eq!(q.positives, y.iter().filter(|&&f| f).count() as u64);
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
            (a, b) => a == b,
        };
        assert!(close(q.roc_auc, roc_auc(&s, &y)), "ROC AUC {:?} vs {:?}", q.roc_auc, roc_auc(&s, &y));
        assert!(close(q.pr_auc, average_precision(&s, &y)), "PR AUC {:?}", q.pr_auc);
        let alerts: Vec<bool> = s.iter().map(|&p| p >= threshold).collect();
        let tp = alerts.iter().zip(&y).filter(|(a, f)| **a && **f).count() as f64;
        let n_alerts = alerts.iter().filter(|a| **a).count() as f64;
        let n_fraud = y.iter().filter(|f| **f).count() as f64;
        assert!(close(q.precision, (n_alerts > 0.0).then(|| tp / n_alerts)));
        assert!(close(q.recall, (n_fraud > 0.0).then(|| tp / n_fraud)));
        if horizon_days == 125 {
            assert_eq!(joined.len(), 1500, "every label of the feed falls within 125 days");
        } else {
            assert!(joined.len() < 200, "a 30-day horizon keeps only early labels ({})", joined.len());
        }
    }
}

/// Rewrites a transactions CSV: from the row at `from` on, `TransactionAmt` × 4 and `card1` one of five values.
fn shift_second_half(src: &Path, dst: &Path, from: usize) {
    let text = std::fs::read_to_string(src).expect("transactions");
    let mut lines = text.lines();
    let header_line = lines.next().expect("header");
    let header: Vec<&str> = header_line.split(',').collect();
    let (amt, card1) = (col(&header, "TransactionAmt"), col(&header, "card1"));
    let mut out = String::with_capacity(text.len() + text.len() / 10);
    out.push_str(header_line);
    out.push('\n');
    for (i, line) in lines.enumerate() {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        if i >= from {
            f[amt] = format!("{:.3}", f[amt].parse::<f64>().expect("amount") * 4.0);
            f[card1] = (1000 + i % 5).to_string();
        }
        out.push_str(&f.join(","));
        out.push('\n');
    }
    std::fs::write(dst, out).expect("write shifted");
}

#[test]
fn a_shift_in_the_amount_and_one_client_feature_raises_drift_on_exactly_those_inputs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rows = 16_000;
    let data = generate(&GenerateConfig::new(rows, 11, tmp.path())).expect("generate");
    let files = FileSourceConfig::new(data.transaction_path.clone(), Some(data.identity_path.clone()));
    // A model on a few raw columns and client features, trained on the unshifted stream; its baseline (in
    // model.json) is the held-out rows' distribution.
    // Not card1 itself: the test shifts a client feature, not the column it is computed from. Not the `D…n`
    // features either: points in time drift by construction.
    let names = ["TransactionAmt", "ProductCD", "card4", "addr1", "C1", "C13", "D1", "card1_count_24h"];
    let set = FeatureSet::new(&names).expect("feature set");
    let mut builder = DatasetBuilder::new(&set);
    replay_features(&files, &set, &RunProgress::default(), |joined, values| {
        builder.push(values, joined.transaction.is_fraud() == Some(true)).expect("push");
    })
    .expect("replay");
    let params = TrainParams { rounds: 20, threads: 2, ..TrainParams::default() };
    let model_dir = tmp.path().join("model");
    train(&builder.build().expect("dataset"), &params).expect("train").save(&model_dir).expect("save");
    let model_path = model_dir.join("model.onnx");
    let model = Model::load(&model_path).expect("model");
    let baseline = baseline_beside(&model_path).expect("model.json").expect("a baseline");
    assert_eq!(baseline.inputs.len(), names.len(), "a small model keeps every input in its baseline");

    let shifted = tmp.path().join("shifted.csv");
    shift_second_half(&data.transaction_path, &shifted, rows as usize / 2);
    let drift = DriftSpec {
        mapping: InputMapping::for_model(&model).expect("mapping"),
        baseline: Some(baseline),
        config: DriftConfig { window: 4000, alert_psi: 0.2, rearm_psi: 0.15, ..DriftConfig::default() },
    };
    let job = |monitor_challenger: bool| JobConfig {
        monitor: Some(MonitorSetup {
            config: MonitorConfig {
                labels: LabelFeed::None,
                horizon: Duration::from_secs(86_400),
                quality_window: 1000,
                threshold: 0.5,
                quality_from: None,
            },
            models: std::iter::once(WatchSpec {
                name: "model".into(),
                role: Role::Champion,
                drift: Some(drift.clone()),
            })
            .chain(monitor_challenger.then(|| WatchSpec { name: "seed".into(), role: Role::Challenger, drift: None }))
            .collect(),
            labels: Arc::new(Vec::new()),
            live: None,
        }),
        ..replay_job(Some(ClientConfig::default()))
    };
    let stream = FileSourceConfig::new(shifted.clone(), Some(data.identity_path.clone()));

    // The first half alone: nothing drifts.
    let half = tmp.path().join("half.csv");
    let text = std::fs::read_to_string(&shifted).expect("shifted");
    let first_half: Vec<&str> = text.lines().take(rows as usize / 2 + 1).collect();
    std::fs::write(&half, first_half.join("\n") + "\n").expect("half");
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let before = run(
        &FileSourceConfig::new(half, Some(data.identity_path.clone())),
        job(false),
        &[&model],
        &mut scorer,
        &tmp.path().join("out-half"),
    );
    let report = before.models[0].drift.as_ref().expect("drift report");
    assert_eq!(before.models[0].drift_alerts, 0, "no drift alert on the unshifted half: {:?}", report.inputs);
    assert!(report.inputs.iter().all(|i| i.psi < 0.1), "{:?}", report.inputs);

    // The whole stream, with the seed model as a challenger beside it.
    let seed = seed_model();
    let mut champion = InProcessScorer::new(&model).expect("scorer");
    let mut scorer = WithChallenger::new(&mut champion, InProcessScorer::new(&seed).expect("challenger"));
    let out = tmp.path().join("out");
    let after = run(&stream, job(true), &[&model, &seed], &mut scorer, &out);
    let report = after.models[0].drift.as_ref().expect("drift report");
    let mut alerting: Vec<&str> = report.inputs.iter().filter(|i| i.alerting).map(|i| i.name.as_str()).collect();
    alerting.sort_unstable();
    assert_eq!(alerting, ["TransactionAmt", "card1_count_24h"], "{:?}", report.inputs);
    assert!(after.models[0].drift_alerts >= 2);
    let stable = report.inputs.iter().filter(|i| !i.alerting);
    assert!(stable.clone().all(|i| i.psi < 0.1), "{:?}", stable.collect::<Vec<_>>());
    assert_eq!(after.models[1].role, Role::Challenger);

    // The challenger wrote what the seed model writes as a champion, and raised no alert.
    let mut alone = InProcessScorer::new(&seed).expect("seed scorer");
    let seed_out = tmp.path().join("out-seed");
    run(&stream, replay_job(Some(ClientConfig::default())), &[&seed], &mut alone, &seed_out);
    assert_eq!(scores(&out.join("scores_challenger.csv")), scores(&seed_out.join("scores.csv")));
    let alerts = std::fs::read_to_string(out.join("alerts.jsonl")).expect("alerts");
    let champion_alerts = alerts.lines().count() as u64;
    assert_eq!(champion_alerts, after.alerts, "alerts come from the champion only");
    assert!(alerts.lines().all(|l| l.contains("\"model\":\"model\"")));
}
