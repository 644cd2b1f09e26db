//! Reason codes through the embedded job on the real sample and the seed model: explained on every score, the
//! contributions written to `scores.csv` add up to each score's logit; the batch backtest writes the same reasons;
//! and by default only alerts are explained, with the top three of the same contributions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use fraudstream_engine::backtest::{score_files, ScoreConfig};
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::reasons::{ReasonsConfig, ReasonsOn};
use fraudstream_engine::replay::replay_job;
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_model::Model;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

/// Low enough that the 1,500 sample rows raise a few dozen alerts.
const THRESHOLD: f64 = 0.2;

fn files() -> FileSourceConfig {
    FileSourceConfig::new(
        ieee_cis_sample().join("train_transaction.csv"),
        Some(ieee_cis_sample().join("train_identity.csv")),
    )
}

/// Runs the embedded job with `reasons`, writing reason columns to scores.csv when they are on every score.
fn run(out: &Path, model: &Model, reasons: ReasonsConfig) {
    let mut scorer = InProcessScorer::new(model).expect("scorer").with_reasons(reasons).expect("explainable");
    let inputs = fraudstream_features::InputMapping::for_model(model).expect("mapping");
    let config = RunConfig {
        files: FileSourceConfig { columns: Some(needed_columns(inputs.names())), ..files() },
        job: JobConfig { join: JoinConfig::default(), batch_size: 128, threshold: THRESHOLD, ..replay_job(None) },
        out_dir: out.to_path_buf(),
        model_name: "pipeline_75".into(),
        score_reasons: if reasons.on == ReasonsOn::All { reasons.top } else { 0 },
    };
    let summary = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("run");
    assert_eq!(summary.scored, 1500);
}

/// One explained row: the score and its reasons as (feature, value as written, contribution).
type Explained = (f64, Vec<(String, String, f64)>);

/// TransactionID → explained row, from a CSV whose columns after `skip` are reason triples.
fn read_reasons(path: &Path, skip: usize) -> HashMap<i64, Explained> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut rows = HashMap::new();
    for line in text.lines().skip(1) {
        // Reason values of the seed model's inputs hold no commas or quotes, so a plain split reads them.
        let f: Vec<&str> = line.split(',').collect();
        let reasons = f[skip..]
            .chunks(3)
            .filter(|t| !t[0].is_empty())
            .map(|t| (t[0].to_string(), t[1].to_string(), t[2].parse().expect("contribution")))
            .collect();
        rows.insert(f[0].parse().expect("id"), (f[1].parse().expect("score"), reasons));
    }
    rows
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[test]
fn reasons_on_every_score_add_up_to_its_logit_and_the_backtest_writes_the_same() {
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");
    let expected = model.explainer().expect("explainable").expected();
    let tmp = tempfile::tempdir().expect("tmp");
    let all = ReasonsConfig { top: 75, on: ReasonsOn::All, threshold: THRESHOLD };
    run(tmp.path(), &model, all);
    let stream = read_reasons(&tmp.path().join("scores.csv"), 7);
    assert_eq!(stream.len(), 1500);
    for (id, (p, reasons)) in &stream {
        let sum: f64 = expected + reasons.iter().map(|r| r.2).sum::<f64>();
        // The score is a float32 probability written in full: its logit is exact to about 1e-7 / (p (1 - p)).
        let tolerance = 1e-5 + 1.2e-7 / (p * (1.0 - p));
        assert!((sum - logit(*p)).abs() <= tolerance, "TransactionID {id}: {sum} vs logit {}", logit(*p));
        let magnitudes: Vec<f64> = reasons.iter().map(|r| r.2.abs()).collect();
        assert!(magnitudes.windows(2).all(|w| w[0] >= w[1]), "TransactionID {id}: largest first");
    }
    let batch_out = tmp.path().join("batch.csv");
    let config =
        ScoreConfig { files: files(), out: batch_out.clone(), batch_size: 500, reasons: 75, features_out: None };
    score_files(&config, &model, &AtomicU64::new(0)).expect("backtest");
    let batch = read_reasons(&batch_out, 3);
    assert_eq!(batch, stream, "the backtest explains exactly as the stream does");
}

#[test]
fn by_default_alerts_carry_the_top_three_reasons_with_the_values_the_model_saw() {
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");
    let tmp = tempfile::tempdir().expect("tmp");
    let all = tmp.path().join("all");
    run(&all, &model, ReasonsConfig { top: 75, on: ReasonsOn::All, threshold: THRESHOLD });
    let full = read_reasons(&all.join("scores.csv"), 7);
    let alerts_dir = tmp.path().join("alerts");
    run(&alerts_dir, &model, ReasonsConfig { top: 3, on: ReasonsOn::Alerts, threshold: THRESHOLD });
    let header = std::fs::read_to_string(alerts_dir.join("scores.csv")).expect("scores");
    assert!(header.lines().next().expect("header").ends_with("latency_ms"), "no reason columns on scores");
    let alerts = std::fs::read_to_string(alerts_dir.join("alerts.jsonl")).expect("alerts");
    let alerts: Vec<serde_json::Value> = alerts.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert!(alerts.len() >= 10, "the sample raises alerts ({})", alerts.len());
    for alert in &alerts {
        let id = alert["TransactionID"].as_i64().expect("id");
        let reasons = alert["reasons"].as_array().expect("reasons");
        assert_eq!(reasons.len(), 3, "TransactionID {id}");
        for (r, want) in reasons.iter().zip(&full[&id].1) {
            assert_eq!(r["feature"].as_str(), Some(want.0.as_str()), "TransactionID {id}");
            // The same row explained in another batch may differ in the last bit of a sum.
            let got = r["contribution"].as_f64().expect("contribution");
            assert!((got - want.2).abs() <= 1e-9, "TransactionID {id}: {got} vs {}", want.2);
            // A raw column's value is the transaction's own.
            if let Some(own) = alert.get(want.0.as_str()) {
                assert_eq!(&r["value"], own, "TransactionID {id}: {}", want.0);
            }
        }
    }
}
