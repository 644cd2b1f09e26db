//! Bench command for the embedded streaming job, all three figures in one run on the same files:
//! (a) join + features only (the scoring step fills the model's inputs and stops — what Flink's job did),
//! (b) join + features + the model in-process, as fast as possible,
//! (c) the same paced at a fixed transaction rate: arrival → score latency,
//! (d) a soak where identities never arrive: three passes over the transactions alone, reporting the peak join
//!     state and the process's resident memory after each pass (flat = state is evicted by watermark).
//!
//! ```text
//! fraudstream generate --rows 590540 --out data
//! cargo run --release -p fraudstream-engine --example run_bench -- data ../shared/reference/seed-model/pipeline_75.onnx 20000 [REPEATS] [ab]
//! ```
//!
//! (a) and (b) run `REPEATS` times (default 3) and report each run and the median: on a shared 2-core machine single
//! runs vary by ±20 %. A fifth argument `ab` stops after them.
//!
//! A fifth argument `reasons` instead measures what reason codes cost: the same job as (b), scored without
//! reasons and with the top 3 reasons on alerts (threshold 0.5, `run --reasons 3`), alternating `REPEATS` times
//! so machine noise hits both alike; it reports each run, the medians and the tx/s ratio to the run without
//! reasons. `reasons-all` adds a third job with reasons on every score (`run --reasons 3 --reasons-on all`): it
//! explains every transaction, about 1,000 tx/s on 2 cores, so a 200k-row run takes minutes.
//!
//! `monitoring` measures what model monitoring costs the same way: the job without monitoring, with drift on every
//! model input, and with a challenger (the same model scored again beside it; `run --challenger`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fraudstream_engine::flow::Joined;
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::monitor::{DriftSpec, LabelFeed, MonitorConfig, MonitorSetup, Role, WatchSpec};
use fraudstream_engine::observe::{RunProgress, RunSummary};
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::reasons::{ReasonsConfig, ReasonsOn, DEFAULT_REASONS};
use fraudstream_engine::scorer::{BatchScores, InProcessScorer, Scorer, WithChallenger};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::EngineError;
use fraudstream_model::drift::DriftConfig;
use fraudstream_model::Model;

/// Computes every model input (features) for each row, then reports a zero score without running the model.
struct FeaturesOnly<'m>(InProcessScorer<'m>);

impl Scorer for FeaturesOnly<'_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        let filled = self.0.fill_inputs(rows)?.rows();
        out.p.extend(std::iter::repeat_n(0.0, filled));
        out.labels.extend(std::iter::repeat_n(0, filled));
        Ok(())
    }
}

fn config(dir: &std::path::Path, pacing: Pacing, columns: &[String]) -> RunConfig {
    RunConfig {
        files: FileSourceConfig {
            columns: Some(columns.to_vec()),
            ..FileSourceConfig::new(dir.join("train_transaction.csv"), Some(dir.join("train_identity.csv")))
        },
        job: JobConfig {
            join: JoinConfig::default(),
            max_out_of_orderness: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            pacing,
            batch_size: 256,
            batch_timeout: Duration::from_millis(5),
            threshold: 0.5,
            max_in_flight: 1,
            on_model_error: Default::default(),
            monitor: None,
            client_features: None,
        },
        out_dir: std::env::temp_dir().join("fraudstream-run-bench"),
        model_name: "bench".into(),
        score_reasons: 0,
    }
}

fn report(what: &str, s: &RunSummary) {
    println!(
        "{what}: {} transactions in {:.2}s = {:.0} tx/s; latency p50 {:.2} ms p99 {:.2} ms",
        s.scored,
        s.elapsed.as_secs_f64(),
        s.scored as f64 / s.elapsed.as_secs_f64(),
        s.latency_ms.0,
        s.latency_ms.1
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("data", String::as_str));
    let model_path = args.get(1).map_or("../shared/reference/seed-model/pipeline_75.onnx", String::as_str);
    let tx_rate: f64 = args.get(2).map_or(Ok(20_000.0), |r| r.parse())?;
    let model = Model::load(model_path)?;
    let columns = needed_columns(fraudstream_features::InputMapping::for_model(&model)?.names());

    let repeats: usize = args.get(3).map_or(Ok(3), |r| r.parse())?;
    let only_ab = args.get(4).is_some_and(|a| a == "ab");
    match args.get(4).map(String::as_str) {
        Some("reasons") => return reasons_cost(&dir, &model, &columns, repeats, false),
        Some("reasons-all") => return reasons_cost(&dir, &model, &columns, repeats, true),
        Some("monitoring") => return monitoring_cost(&dir, &model, &columns, repeats),
        _ => {}
    }

    let mut features = FeaturesOnly(InProcessScorer::new(&model)?);
    let fast = config(&dir, Pacing::AsFastAsPossible, &columns);
    repeated("(a) join + features", repeats, || run_embedded(&fast, &mut features, &RunProgress::default()))?;
    let mut scorer = InProcessScorer::new(&model)?;
    let b =
        repeated("(b) join + features + model", repeats, || run_embedded(&fast, &mut scorer, &RunProgress::default()))?;
    if only_ab {
        return Ok(());
    }

    // The pacer counts records of both inputs: scale the transaction rate by the identity share.
    let records_per_tx = 1.0 + b.join.identities as f64 / b.join.transactions.max(1) as f64;
    let c = run_embedded(
        &config(&dir, Pacing::Rate(tx_rate * records_per_tx), &columns),
        &mut scorer,
        &RunProgress::default(),
    )?;
    report(&format!("(c) paced at {tx_rate:.0} tx/s"), &c);

    for pass in 1..=3 {
        let mut soak = config(&dir, Pacing::AsFastAsPossible, &columns);
        soak.files.identities = None;
        let progress = std::sync::Arc::new(RunProgress::default());
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (progress, peak, done) = (progress.clone(), peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let state = progress.state_size.load(std::sync::atomic::Ordering::Relaxed);
                    peak.fetch_max(state, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let d = run_embedded(&soak, &mut scorer, &progress)?;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = sampler.join();
        println!(
            "(d) soak pass {pass}, no identities: {} transactions scored, {} unmatched; peak join state {} entries; \
             RSS {:.0} MiB",
            d.scored,
            d.join.unmatched,
            peak.load(std::sync::atomic::Ordering::Relaxed),
            resident_mib()
        );
    }
    Ok(())
}

/// Runs `job` `repeats` times, reporting each run and then the median time; returns the last summary.
fn repeated(
    what: &str,
    repeats: usize,
    mut job: impl FnMut() -> Result<RunSummary, EngineError>,
) -> Result<RunSummary, EngineError> {
    let mut seconds = Vec::new();
    let mut last = None;
    for run in 1..=repeats.max(1) {
        let s = job()?;
        report(&format!("{what}, run {run}"), &s);
        seconds.push(s.elapsed.as_secs_f64());
        last = Some(s);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let last = last.ok_or_else(|| EngineError::Config("no run".into()))?;
    println!(
        "{what}: median {median:.2}s = {:.0} tx/s over {} runs (fastest {:.2}s, slowest {:.2}s)",
        last.scored as f64 / median,
        seconds.len(),
        seconds[0],
        seconds[seconds.len() - 1]
    );
    Ok(last)
}

/// One job of an alternating comparison: its name, its configuration and its scorer.
struct Variant<'s> {
    name: &'static str,
    config: RunConfig,
    scorer: Box<dyn Scorer + 's>,
}

/// Runs every variant once per round, `repeats` rounds, so machine noise hits them alike; prints each run, then
/// each variant's median tx/s and its ratio to the first variant's (the anchor).
fn alternate(variants: &mut [Variant<'_>], repeats: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut rates = vec![Vec::new(); variants.len()];
    for round in 1..=repeats.max(1) {
        for (i, v) in variants.iter_mut().enumerate() {
            let s = run_embedded(&v.config, v.scorer.as_mut(), &RunProgress::default())?;
            report(&format!("{}, round {round}", v.name), &s);
            rates[i].push(s.scored as f64 / s.elapsed.as_secs_f64());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = median(&rates[0]);
    for (i, v) in variants.iter().enumerate() {
        let per_round: Vec<String> = rates[i].iter().zip(&rates[0]).map(|(r, b)| format!("{:.3}", r / b)).collect();
        println!(
            "{}: median {:.0} tx/s = {:.3}x of {} (per-round ratios {})",
            v.name,
            median(&rates[i]),
            median(&rates[i]) / base,
            variants[0].name,
            per_round.join(", ")
        );
    }
    Ok(())
}

/// Tx/s of the scored job without reasons, with reasons on alerts and with reasons on every score, alternating
/// (the issue's goal: reasons on all alerts within 10 % of the tx/s without them).
fn reasons_cost(
    dir: &std::path::Path,
    model: &Model,
    columns: &[String],
    repeats: usize,
    on_all_scores: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let threshold = config(dir, Pacing::AsFastAsPossible, columns).job.threshold;
    let mut kinds = vec![
        ("no reasons", 0, ReasonsOn::Alerts),
        ("reasons on alerts", DEFAULT_REASONS, ReasonsOn::Alerts),
        ("reasons on all scores", DEFAULT_REASONS, ReasonsOn::All),
    ];
    if !on_all_scores {
        kinds.pop();
    }
    let mut variants = Vec::new();
    for (name, top, on) in kinds {
        let mut config = config(dir, Pacing::AsFastAsPossible, columns);
        // As `run` does: reasons on every score are also written to scores.csv.
        config.score_reasons = if on == ReasonsOn::All { top } else { 0 };
        let scorer = InProcessScorer::new(model)?.with_reasons(ReasonsConfig { top, on, threshold })?;
        variants.push(Variant { name, config, scorer: Box::new(scorer) });
    }
    alternate(&mut variants, repeats)
}

/// Tx/s of the scored job without monitoring, with drift on every model input (first-window baseline, as for a
/// model without model.json), and with a challenger (the same model again, scored beside it), alternating (the
/// issue's ask: the cost of a challenger, measured).
fn monitoring_cost(
    dir: &std::path::Path,
    model: &Model,
    columns: &[String],
    repeats: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = config(dir, Pacing::AsFastAsPossible, columns);
    let monitor = |drift: Option<DriftSpec>, challenger: bool| MonitorSetup {
        config: MonitorConfig {
            labels: LabelFeed::None,
            horizon: Duration::from_secs(125 * 86_400),
            quality_window: 20_000,
            threshold: base.job.threshold,
            quality_from: None,
        },
        models: std::iter::once(WatchSpec { name: "model".into(), role: Role::Champion, drift })
            .chain(challenger.then(|| WatchSpec { name: "challenger".into(), role: Role::Challenger, drift: None }))
            .collect(),
        labels: Arc::new(Vec::new()),
        live: None,
    };
    let drift = DriftSpec {
        mapping: fraudstream_features::InputMapping::for_model(model)?,
        baseline: None,
        config: DriftConfig { alert_psi: 0.2, rearm_psi: 0.15, ..DriftConfig::default() },
    };
    let with = |setup: MonitorSetup| {
        let mut c = base.clone();
        c.job.monitor = Some(setup);
        c
    };
    let mut champion = InProcessScorer::new(model)?;
    let mut variants = vec![
        Variant { name: "no monitoring", config: base.clone(), scorer: Box::new(InProcessScorer::new(model)?) },
        Variant {
            name: "drift on every input",
            config: with(monitor(Some(drift), false)),
            scorer: Box::new(InProcessScorer::new(model)?),
        },
        Variant {
            name: "with a challenger",
            config: with(monitor(None, true)),
            scorer: Box::new(WithChallenger::new(&mut champion, InProcessScorer::new(model)?)),
        },
    ];
    alternate(&mut variants, repeats)
}

/// The process's resident set size (Linux), 0 where /proc is unavailable.
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}
