//! `fraudstream generate`: synthetic IEEE-CIS data.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use fraudstream_data::generate::{generate_with_progress, GenerateConfig};
use fraudstream_data::labels::{generate_labels, LabelFeedConfig};

/// The labels feed's file name in the output directory.
pub const LABELS_FILE: &str = "train_labels.csv";

use crate::args::GenerateArgs;
use crate::progress::Progress;

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    if let Some(transactions) = &args.labels_for {
        return write_labels(transactions, &args);
    }
    let config = GenerateConfig::new(args.rows, args.seed, &args.out);
    let done = Arc::new(AtomicU64::new(0));
    let bar = {
        let done = done.clone();
        Progress::start("generating", Some(args.rows), move || done.load(Ordering::Relaxed), args.quiet)
    };
    let started = Instant::now();
    let result = generate_with_progress(&config, &|rows| done.store(rows, Ordering::Relaxed));
    bar.finish();
    let s = result?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {} transactions ({} fraud, {:.2}%) to {} and {} identities to {} in {secs:.1}s ({:.0} rows/s)",
        s.transactions,
        s.frauds,
        100.0 * s.frauds as f64 / s.transactions.max(1) as f64,
        s.transaction_path.display(),
        s.identities,
        s.identity_path.display(),
        s.transactions as f64 / secs.max(1e-9)
    );
    if !args.no_labels {
        write_labels(&s.transaction_path, &args)?;
    }
    Ok(())
}

/// Writes `OUT/train_labels.csv`, the delayed labels feed of `transactions` (see [`fraudstream_data::labels`]).
fn write_labels(transactions: &Path, args: &GenerateArgs) -> anyhow::Result<()> {
    let out = args.out.join(LABELS_FILE);
    let config = LabelFeedConfig { seed: args.seed, ..LabelFeedConfig::default() };
    let s = generate_labels(transactions, &out, config)
        .with_context(|| format!("writing the labels feed of {} to {}", transactions.display(), out.display()))?;
    println!(
        "wrote {} labels to {} ({} fraud: {} chargebacks, median delay {} days; {} analyst reviews; {} legitimate at \
         the dispute horizon, of which {} unconfirmed frauds; {} transactions unlabelled)",
        s.labels,
        out.display(),
        s.fraud_labels,
        s.chargebacks,
        s.median_chargeback_days.map_or("n/a".into(), |d| format!("{d:.1}")),
        s.analyst,
        s.generated,
        s.frauds_labelled_legit,
        s.unlabelled
    );
    Ok(())
}
