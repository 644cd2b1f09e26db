//! `fraudstream run`: the streaming job, embedded.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::run::{run_embedded, RunConfig, RunProgress};
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_model::Model;

use crate::args::RunArgs;
use crate::progress::{count_data_lines, Progress};

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let pacing = match args.speedup {
        None => Pacing::AsFastAsPossible,
        Some(x) if x > 0.0 => Pacing::Speedup(x),
        Some(_) => anyhow::bail!("--speedup must be positive"),
    };
    let model = Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?;
    let model_name = args.model.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let config = RunConfig {
        files: FileSourceConfig {
            transactions: args.input.transactions.clone(),
            identities: args.input.identities.clone(),
            max_bad_rows: args.input.max_bad_rows,
            identity_jitter: args.identity_jitter,
            seed: args.seed,
        },
        join: JoinConfig { lower: args.join_lower, upper: args.join_upper, max_wait: args.max_wait },
        max_out_of_orderness: args.max_out_of_orderness,
        idle_timeout: args.idle_timeout,
        pacing,
        batch_size: args.batch_size,
        batch_timeout: args.batch_timeout,
        threshold: args.threshold,
        out_dir: args.out.clone(),
        model_name,
    };
    let total = count_data_lines(&args.input.transactions)
        .with_context(|| format!("reading {}", args.input.transactions.display()))?;
    let progress = Arc::new(RunProgress::default());
    let bar = {
        let p = progress.clone();
        Progress::start("scoring", Some(total), move || p.scored.load(Ordering::Relaxed), args.quiet)
    };
    let mut scorer = InProcessScorer::new(&model)?;
    let result = run_embedded(&config, &mut scorer, &progress);
    bar.finish();
    let s = result?;
    let secs = s.elapsed.as_secs_f64();
    println!(
        "scored {} transactions in {secs:.2}s ({:.0} tx/s): {} with identity, {} without ({} released by --max-wait), \
         {} late",
        s.scored,
        s.scored as f64 / secs.max(1e-9),
        s.join.matched,
        s.join.unmatched,
        s.join.unmatched_by_max_wait,
        s.join.late_transactions
    );
    println!(
        "latency arrival→score p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} alerts at threshold {}",
        s.latency_ms.0, s.latency_ms.1, s.latency_ms.2, s.alerts, args.threshold
    );
    if let Some(auc) = s.auc {
        println!("ROC AUC against isFraud: {auc:.4}");
    }
    println!(
        "dead letters: {} (duplicate identities {}, after emit {}, outside window {}, no transaction {}, late {}) -> {}",
        s.dead_letters,
        s.join.duplicate_identities,
        s.join.identities_after_emit,
        s.join.identities_outside_window,
        s.join.orphan_identities,
        s.join.late_identities,
        args.out.join("dead_letters.jsonl").display()
    );
    Ok(())
}
