//! `fraudstream generate`: synthetic IEEE-CIS data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use fraudstream_data::generate::{generate_with_progress, GenerateConfig};

use crate::args::GenerateArgs;
use crate::progress::Progress;

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
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
    Ok(())
}
