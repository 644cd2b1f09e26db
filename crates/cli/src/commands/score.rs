//! `fraudstream score`: batch scoring of the CSV files (offline backtests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use fraudstream_engine::backtest::{score_files, ScoreConfig};
use fraudstream_engine::job::needed_columns;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_features::InputMapping;
use fraudstream_model::Model;

use crate::args::ScoreArgs;
use crate::progress::{count_data_lines, Progress};

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let model = Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?;
    let inputs = InputMapping::for_model(&model)?;
    let config = ScoreConfig {
        files: FileSourceConfig {
            max_bad_rows: args.input.max_bad_rows,
            // The columns `run` reads, so both commands refuse the same rows (a column that is read must be valid
            // text; the others are not inspected).
            columns: Some(needed_columns(inputs.names())),
            required: args.columns.required(inputs.names()),
            ..FileSourceConfig::new(args.input.transactions.clone(), args.input.identities.clone())
        },
        out: args.out.clone(),
        batch_size: args.batch_size,
        reasons: args.reasons,
        features_out: args.features_out.clone(),
    };
    let total = count_data_lines(&args.input.transactions)
        .with_context(|| format!("reading {}", args.input.transactions.display()))?;
    let scored = Arc::new(AtomicU64::new(0));
    let bar = {
        let scored = scored.clone();
        Progress::start("scoring", Some(total), move || scored.load(Ordering::Relaxed), args.quiet)
    };
    let result = score_files(&config, &model, &scored);
    bar.finish();
    let summary = result?;
    println!(
        "scored {} transactions ({} with identity) in {:.2}s: {:.0} rows/s -> {}",
        summary.rows,
        summary.with_identity,
        summary.elapsed.as_secs_f64(),
        summary.rows as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        args.out.display()
    );
    if let Some(auc) = summary.auc {
        println!("ROC AUC against isFraud: {auc:.4}");
    }
    if summary.duplicate_identities > 0 {
        println!(
            "{} duplicate identity rows ignored (the first one per transaction is used)",
            summary.duplicate_identities
        );
    }
    for d in &summary.dead_letters {
        eprintln!("not scored: {} ({})", d.reason, d.origin);
    }
    Ok(())
}
