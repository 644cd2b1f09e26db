//! `fraudstream demo`: the whole product in one command — data, a model trained on it, the scoring server, the
//! streaming job replaying the data at a watchable speed, the live dashboard, and a report at the end.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::Parser;
use fraudstream_dashboard::{Dashboard, DashboardInfo};

use crate::args::{DemoArgs, GenerateArgs, ProduceArgs, RunArgs};

/// Parses one subcommand's flags, so each demo step runs exactly what that command would with those flags.
#[derive(Parser)]
struct Flags<T: clap::Args> {
    #[command(flatten)]
    inner: T,
}

fn flags<T: clap::Args>(argv: &[String]) -> anyhow::Result<T> {
    let all = std::iter::once("fraudstream".to_string()).chain(argv.iter().cloned());
    Ok(Flags::<T>::try_parse_from(all).context("building a step's flags")?.inner)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let stop = crate::interrupt::stop_on_ctrl_c();

    // 1. Data: the user's (real Kaggle files work the same) or generated.
    let (transactions, identities) = match &args.data {
        Some(dir) => data_files(dir)?,
        None => {
            let dir = args.out.join("data");
            step(&format!("generating {} transactions into {}", args.rows, dir.display()));
            let mut argv = strings(&["--rows", &args.rows.to_string(), "--seed", &args.seed.to_string()]);
            argv.extend(["--out".into(), dir.display().to_string()]);
            argv.extend(args.quiet.then(|| "--quiet".to_string()));
            crate::commands::generate::run(flags::<GenerateArgs>(&argv)?)?;
            data_files(&dir)?
        }
    };

    // 2. A model: the user's, or trained on the data by the same feature code the stream runs.
    // Where the rows the model never trained on begin (known for the model trained here).
    let (model_path, held_out_from) = match &args.model {
        Some(path) => (path.clone(), None),
        None => {
            let dir = args.out.join("model");
            step(&format!("training a model on {} (last 20% of time held out)", transactions.display()));
            crate::commands::train::train_for_demo(&transactions, identities.as_deref(), &dir, args.quiet)?
        }
    };

    // 3. The scoring server (what Confluent's ML_PREDICT or `run --model-url` would call).
    let server = if args.in_process {
        None
    } else {
        let config = fraudstream_serve::ServeConfig {
            models: vec![("fraud".into(), model_path.clone())],
            addr: args.serve_addr,
            reload_interval: std::time::Duration::ZERO,
            ..Default::default()
        };
        let server = fraudstream_serve::start_background(config)
            .with_context(|| format!("starting the scoring server on {}", args.serve_addr))?;
        step(&format!("scoring server: {} (POST /score, /v2/models/fraud/infer)", server.url("")));
        Some(server)
    };

    // 4. The dashboard, up before the job starts and after it ends.
    let dashboard = Dashboard::new(DashboardInfo {
        title: "fraudstream demo".into(),
        model_name: model_path
            .parent()
            .and_then(Path::file_name)
            .map_or("model".into(), |n| n.to_string_lossy().into_owned()),
        model_version: "1".into(),
        threshold: args.threshold,
    });
    let running = fraudstream_dashboard::serve(dashboard.clone(), args.dashboard_addr)
        .with_context(|| format!("starting the dashboard on {}", args.dashboard_addr))?;
    step(&format!("dashboard: {}", running.url()));

    // 5. The streaming job, replaying event time at --speedup.
    let mut argv: Vec<String> = vec!["--model".into(), model_path.display().to_string()];
    match &args.brokers {
        Some(brokers) => {
            let registry = args.schema_registry.clone().context("--brokers needs --schema-registry")?;
            step(&format!("producing the data to Kafka at {brokers}"));
            let mut produce = strings(&["--brokers", brokers, "--schema-registry", &registry]);
            produce.extend(["--transactions".into(), transactions.display().to_string()]);
            if let Some(id) = &identities {
                produce.extend(["--identities".into(), id.display().to_string()]);
            }
            produce.extend(args.quiet.then(|| "--quiet".to_string()));
            crate::commands::produce::run(flags::<ProduceArgs>(&produce)?)?;
            argv.extend(["--brokers".into(), brokers.clone(), "--schema-registry".into(), registry]);
            argv.extend(["--group".into(), format!("fraudstream-demo-{}", std::process::id())]);
            argv.extend(["--stop-after-idle".into(), "10s".into()]);
        }
        None => {
            argv.extend(["--transactions".into(), transactions.display().to_string()]);
            if let Some(id) = &identities {
                argv.extend(["--identities".into(), id.display().to_string()]);
            }
            argv.extend(["--out".into(), args.out.join("output").display().to_string()]);
        }
    }
    if let Some(server) = &server {
        argv.extend(["--model-url".into(), server.url("/score")]);
    }
    argv.extend(["--speedup".into(), args.speedup.to_string(), "--threshold".into(), args.threshold.to_string()]);
    argv.extend(["--label-delay".into(), humantime_secs(args.label_delay)]);
    if let Some(dt) = held_out_from {
        // Online quality over the held-out rows only, all of them (the final report's figure).
        argv.extend(["--quality-from".into(), dt.to_string(), "--quality-window".into(), "100000000".into()]);
    }
    if args.quiet {
        argv.push("--quiet".into());
    }
    let run_args = flags::<RunArgs>(&argv)?;
    step(&format!("replaying at {}× event time (Ctrl-C stops with the report so far)", args.speedup));
    let outcome = crate::commands::run::execute(&run_args, Some(dashboard.clone()), &stop)?;

    // 6. The report.
    let s = &outcome.summary;
    let [[tn, fn_], [fp, tp]] = outcome.confusion;
    let ratio = |a: u64, b: u64| if b == 0 { "n/a".to_string() } else { format!("{:.3}", a as f64 / b as f64) };
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    println!("\nfraudstream demo report");
    println!("  transactions scored   {:>10}  ({:.0} tx/s)", s.scored, s.scored as f64 / secs);
    println!("  latency arrival→score p50 {:.2} ms, p99 {:.2} ms", s.latency_ms.0, s.latency_ms.1);
    println!("  alerts raised         {:>10}  (threshold {})", s.alerts, args.threshold);
    let all_rows = match held_out_from {
        Some(_) => "all replayed rows; 80 % of them trained the model",
        None => "all replayed rows; the model may have trained on them",
    };
    println!("  ROC AUC               {:>10}  ({all_rows})", s.auc.map_or("n/a".into(), |a| format!("{a:.4}")));
    println!("  precision / recall    {} / {}  (at the threshold, {all_rows}; {tp} frauds caught, {fn_} missed, {fp} false alarms, {tn} correct passes)", ratio(tp, tp + fp), ratio(tp, tp + fn_));
    if let Some(q) = s.quality {
        let show = |v: Option<f64>| v.map_or("n/a".into(), |a| format!("{a:.4}"));
        let rows = match held_out_from {
            Some(dt) => format!("the {} held-out rows (TransactionDT ≥ {dt}), never trained on", q.window),
            None => format!("the last {} labelled rows", q.window),
        };
        println!(
            "  online (delayed labels) ROC AUC {}, PR AUC {}, precision {}, recall {}  ({rows})",
            show(q.roc_auc),
            show(q.pr_auc),
            show(q.precision),
            show(q.recall)
        );
    }
    if !args.exit_when_done && !stop.load(Ordering::SeqCst) {
        eprintln!("\nthe dashboard stays up at {} — Ctrl-C to exit", running.url());
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    running.shutdown()?;
    if let Some(server) = server {
        server.shutdown()?;
    }
    Ok(())
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

/// `train_transaction.csv` (required) and `train_identity.csv` (optional) in `dir`.
fn data_files(dir: &Path) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let tx = dir.join("train_transaction.csv");
    anyhow::ensure!(tx.is_file(), "{} not found (expected the Kaggle layout: train_transaction.csv)", tx.display());
    let id = dir.join("train_identity.csv");
    Ok((tx, id.is_file().then_some(id)))
}

fn humantime_secs(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}
