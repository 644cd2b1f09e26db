//! `fraudstream train`: a gradient-boosted-tree model trained on the features the stream computes, exported as
//! `model.onnx` + `model.json`.
//!
//! The training rows come from [`replay_features`]: the CSV files go through the stream's own source, interval
//! join and client-feature stage, so every feature value a model learns from is the value `fraudstream run` will
//! feed it for that transaction.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::replay::replay_features;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_features::FeatureSet;
use fraudstream_train::{train_with_progress, DatasetBuilder, TrainParams, TrainedModel};

use crate::args::TrainArgs;
use crate::progress::{count_data_lines, Progress};

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let params = TrainParams {
        learning_rate: args.learning_rate,
        rounds: args.rounds,
        num_leaves: args.num_leaves,
        min_data_in_leaf: args.min_data_in_leaf,
        lambda_l2: args.lambda_l2,
        feature_fraction: args.feature_fraction,
        bagging_fraction: args.bagging_fraction,
        bagging_freq: usize::from(args.bagging_fraction < 1.0),
        early_stopping_rounds: (args.early_stopping_rounds > 0).then_some(args.early_stopping_rounds),
        valid_fraction: args.valid_fraction,
        seed: args.seed,
        threads: args.threads,
        ..TrainParams::default()
    };
    let names = if args.no_client_features { FeatureSet::raw_columns() } else { FeatureSet::raw_and_client_columns() };
    let files = FileSourceConfig {
        max_bad_rows: args.input.max_bad_rows,
        ..FileSourceConfig::new(args.input.transactions.clone(), args.input.identities.clone())
    };
    let (model, _) = train_files(&files, &names, &params, args.quiet)?;
    let (onnx, json) = model.save(&args.out).with_context(|| format!("writing the model to {}", args.out.display()))?;
    report(&model, &onnx, &json);
    Ok(())
}

/// Trains with default parameters (and early stopping) for `fraudstream demo`; returns the `model.onnx` path.
pub fn train_for_demo(
    transactions: &Path,
    identities: Option<&Path>,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<(PathBuf, Option<i64>)> {
    let params = TrainParams {
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        early_stopping_rounds: Some(30),
        ..TrainParams::default()
    };
    let files = FileSourceConfig::new(transactions.to_path_buf(), identities.map(Path::to_path_buf));
    let (model, held_out_from) = train_files(&files, &FeatureSet::raw_and_client_columns(), &params, quiet)?;
    let (onnx, json) = model.save(out).with_context(|| format!("writing the model to {}", out.display()))?;
    report(&model, &onnx, &json);
    Ok((onnx, held_out_from))
}

/// Replays the files into a dataset of `names`, then trains. Also returns the TransactionDT where the held-out
/// rows (the last ones in event time, never trained on) begin, when there are any.
fn train_files(
    files: &FileSourceConfig,
    names: &[String],
    params: &TrainParams,
    quiet: bool,
) -> anyhow::Result<(TrainedModel, Option<i64>)> {
    let set = FeatureSet::new(names)?;
    let total =
        count_data_lines(&files.transactions).with_context(|| format!("reading {}", files.transactions.display()))?;
    let progress = Arc::new(RunProgress::default());
    let bar = {
        let p = progress.clone();
        Progress::start("computing features", Some(total), move || p.scored.load(Ordering::Relaxed), quiet)
    };
    let mut builder = DatasetBuilder::new(&set);
    let (mut unlabelled, mut first_error) = (0u64, None);
    // TransactionDT of each row pushed, in push order: the held-out part is a suffix of it.
    let mut times: Vec<i64> = Vec::new();
    let replayed = replay_features(files, &set, &progress, |joined, values| {
        let Some(label) = joined.transaction.is_fraud() else {
            unlabelled += 1;
            return;
        };
        match builder.push(values, label) {
            Ok(()) => times.push(joined.transaction.event_time().to_transaction_dt()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    });
    bar.finish();
    let replayed = replayed?;
    if let Some(e) = first_error {
        return Err(e).context("building the training set");
    }
    if unlabelled > 0 {
        eprintln!("skipped {unlabelled} transactions without an isFraud label");
    }
    let data = builder.build().context("building the training set")?;
    eprintln!(
        "training on {} transactions ({} with identity) × {} features",
        replayed.scored - unlabelled,
        replayed.join.matched,
        set.len()
    );
    let round = Arc::new(AtomicU64::new(0));
    let bar = {
        let r = round.clone();
        Progress::start("training", Some(params.rounds as u64), move || r.load(Ordering::Relaxed), quiet)
    };
    let model = train_with_progress(&data, params, &mut |p| round.store(p.round as u64, Ordering::Relaxed));
    bar.finish();
    let model = model?;
    let valid = model.report().valid_rows;
    let held_out_from = (valid > 0).then(|| times.get(times.len().saturating_sub(valid)).copied()).flatten();
    Ok((model, held_out_from))
}

fn report(model: &TrainedModel, onnx: &Path, json: &Path) {
    let r = model.report();
    println!(
        "trained {} trees ({} rounds used) on {} rows in {:.1}s; held out the last {} rows by time",
        model.n_trees(),
        r.rounds_used,
        r.train_rows,
        r.train_seconds,
        r.valid_rows
    );
    if let Some(m) = &r.metrics {
        println!(
            "held-out: ROC AUC {:.4}, PR AUC {:.4}, recall {:.3} at 1% FPR, {:.3} at 5% FPR ({} frauds in {} rows)",
            m.valid_auc, m.valid_pr_auc, m.recall_at_1pct_fpr, m.recall_at_5pct_fpr, m.valid_positives, m.valid_rows
        );
    }
    let mut by_gain: Vec<_> = r.importance.iter().filter(|f| f.gain > 0.0).collect();
    by_gain.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    let top: Vec<String> = by_gain.iter().take(8).map(|f| f.feature.clone()).collect();
    println!("most important features (gain): {}", top.join(", "));
    println!("wrote {} and {}", onnx.display(), json.display());
}
