//! `score` on the real sample with the reference team's model reproduces onnxruntime's outputs.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use fraudstream_engine::backtest::{score_files, ScoreConfig};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_model::Model;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

#[test]
fn scoring_the_real_sample_reproduces_onnxruntime() {
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model");
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("scores.csv");
    let config = ScoreConfig {
        files: FileSourceConfig::new(
            ieee_cis_sample().join("train_transaction.csv"),
            Some(ieee_cis_sample().join("train_identity.csv")),
        ),
        out: out.clone(),
        batch_size: 256,
        reasons: 0,
        features_out: None,
    };
    let summary = score_files(&config, &model, &AtomicU64::new(0)).expect("score");
    assert_eq!((summary.rows, summary.with_identity, summary.duplicate_identities), (1500, 348, 0));
    assert!(summary.dead_letters.is_empty());

    let reference =
        std::fs::read_to_string(shared_reference().join("seed-model/onnxruntime_outputs.csv")).expect("ref");
    let expected: HashMap<&str, (&str, f64)> = reference
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], (f[1], f[2].parse().expect("p")))
        })
        .collect();
    let ours = std::fs::read_to_string(&out).expect("scores");
    let mut lines = ours.lines();
    assert_eq!(lines.next(), Some("TransactionID,score,label"));
    let mut n = 0;
    for (line, ref_line) in lines.zip(reference.lines().skip(1)) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], ref_line.split(',').next().expect("id"), "output keeps input order");
        let (label, p) = expected[f[0]];
        let score: f64 = f[1].parse().expect("score");
        assert!((score - p).abs() <= 1e-6, "TransactionID {}: {score} vs onnxruntime {p}", f[0]);
        assert_eq!(f[2], label, "label of {}", f[0]);
        n += 1;
    }
    assert_eq!(n, 1500);
    let auc = summary.auc.expect("the sample is labelled");
    assert!((auc - 0.934).abs() < 0.0015, "AUC {auc}, the seed model's README says 0.934");
}
