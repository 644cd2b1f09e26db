//! `fraudstream run`: the streaming job, embedded (CSV files) or on Kafka (`--brokers`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fraudstream_dashboard::{Dashboard, DashboardInfo};
use fraudstream_engine::flow::Scored;
use fraudstream_engine::job::{needed_columns, run_embedded_until, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::kafka::sink::{ChallengerOutput, KafkaSinkConfig};
use fraudstream_engine::kafka::source::{Assignment, KafkaSourceConfig};
use fraudstream_engine::kafka::topology::{run_kafka, KafkaRunConfig};
use fraudstream_engine::monitor::{DriftSpec, LabelFeed, MonitorConfig, MonitorSetup, Role, WatchSpec};
use fraudstream_engine::observe::{JobStatus, RunObserver, RunProgress, RunSummary};
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::reasons::{ReasonsConfig, ReasonsOn};
use fraudstream_engine::scorer::{
    BreakerConfig, InProcessScorer, RemoteConfig, RemoteProtocol, RemoteScorer, Scorer, WithChallenger,
};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_features::{ClientConfig, InputMapping};
use fraudstream_model::Model;

use crate::args::{ProcessingGuarantee, RunArgs};
use crate::commands::produce::kafka_settings;
use crate::live::LiveView;
use crate::progress::{count_data_lines, Progress};

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let stop = crate::interrupt::stop_on_ctrl_c();
    let outcome = execute(&args, None, &stop)?;
    print_summary(&outcome.summary, &args);
    let [[_, missed], [false_alarms, caught]] = outcome.confusion;
    if caught + missed + false_alarms > 0 {
        let ratio = |a: u64, b: u64| if b == 0 { "n/a".to_string() } else { format!("{:.3}", a as f64 / b as f64) };
        println!(
            "at threshold {}: precision {}, recall {} ({caught} frauds caught, {missed} missed, {false_alarms} false \
             alarms)",
            args.threshold,
            ratio(caught, caught + false_alarms),
            ratio(caught, caught + missed)
        );
    }
    Ok(())
}

/// What a finished run reports.
pub struct RunOutcome {
    pub summary: RunSummary,
    /// Labelled transactions by (alert raised, fraud): [[true negatives, false negatives], [false positives, true
    /// positives]] — precision and recall at the threshold.
    pub confusion: [[u64; 2]; 2],
}

/// Runs the job as `args` say until its input ends or `stop` is set, feeding `dashboard` (or one served at
/// `--dashboard-addr` for the length of the run) as it goes; also the core of `fraudstream demo`.
pub fn execute(args: &RunArgs, dashboard: Option<Dashboard>, stop: &AtomicBool) -> anyhow::Result<RunOutcome> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(args.max_in_flight > 0, "--max-in-flight must be at least 1");
    let pacing = match args.speedup {
        None => Pacing::AsFastAsPossible,
        Some(x) if x > 0.0 => Pacing::Speedup(x),
        Some(_) => anyhow::bail!("--speedup must be positive"),
    };
    if let Some(addr) = args.metrics_addr {
        crate::commands::metrics::serve_prometheus(addr)?;
    }
    // Shared, so in-process scoring can run on other threads (`--max-in-flight`).
    let model = Arc::new(Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?);
    let model_name = model_stem(&args.model);
    let challenger = match &args.challenger {
        Some(path) => Some(Model::load(path).with_context(|| format!("loading challenger model {}", path.display()))?),
        None => None,
    };
    let monitor = monitor_setup(args, &model, challenger.as_ref())?;
    let job = JobConfig {
        join: JoinConfig { lower: args.window.join_lower, upper: args.window.join_upper, max_wait: args.max_wait },
        max_out_of_orderness: args.window.max_out_of_orderness,
        idle_timeout: args.idle_timeout,
        pacing,
        batch_size: args.batch_size,
        batch_timeout: args.batch_timeout,
        threshold: args.threshold,
        max_in_flight: args.max_in_flight,
        on_model_error: args.on_model_error,
        monitor,
        client_features: InputMapping::for_model(&model)?.uses_client_features().then(ClientConfig::default),
    };
    let dashboard = match (dashboard, args.dashboard_addr) {
        (Some(d), _) => Some((d, None)),
        (None, Some(addr)) => {
            let dashboard = Dashboard::new(DashboardInfo {
                title: "fraudstream".into(),
                model_name: model_name.clone(),
                model_version: "1".into(),
                threshold: args.threshold,
            });
            let running = fraudstream_dashboard::serve(dashboard.clone(), addr)
                .with_context(|| format!("starting the dashboard on {addr}"))?;
            eprintln!("dashboard: {}", running.url());
            Some((dashboard, Some(running)))
        }
        (None, None) => None,
    };
    let mut view = dashboard.as_ref().map(|(d, _)| LiveView::new(d.clone()));
    let mut observer = Confusion { confusion: [[0; 2]; 2], observer: view.as_mut().map(|v| v as &mut dyn RunObserver) };
    let reasons = ReasonsConfig { top: args.reasons, on: args.reasons_on, threshold: args.threshold };
    let mut scorer: Box<dyn Scorer + '_> = match &args.model_url {
        None => Box::new(InProcessScorer::shared(model.clone())?.with_reasons(reasons)?),
        Some(url) => Box::new(RemoteScorer::new(
            RemoteConfig {
                url: url.clone(),
                protocol: args.model_protocol.unwrap_or_else(|| RemoteProtocol::for_url(url)),
                api_key: args.model_api_key.clone(),
                timeout: args.model_timeout,
                attempts: args.model_attempts,
                backoff: Duration::from_millis(100),
                breaker: BreakerConfig { failures: args.circuit_failures, open_for: args.circuit_open_for },
            },
            &model,
        )?),
    };
    if args.model_url.is_some() && args.reasons > 0 {
        tracing::info!("reason codes are computed with the model in process; with --model-url scores carry none");
    }
    let score_reasons = if args.reasons_on == ReasonsOn::All && args.model_url.is_none() { args.reasons } else { 0 };
    let mut with_challenger;
    let scorer: &mut dyn Scorer = match &challenger {
        Some(c) => {
            with_challenger = WithChallenger::new(scorer.as_mut(), InProcessScorer::new(c)?);
            &mut with_challenger
        }
        None => scorer.as_mut(),
    };
    let progress = Arc::new(RunProgress::default());
    let result = match (&args.brokers, &args.transactions) {
        (Some(brokers), _) => {
            let config = kafka_config(args, brokers, job, &model, challenger.as_ref(), model_name)?;
            let bar = status_bar(&progress, None, args.quiet);
            let result = run_kafka(&config, scorer, &progress, stop, Some(&mut observer));
            bar.finish();
            result.map_err(anyhow::Error::from)
        }
        (None, Some(transactions)) => {
            let config = RunConfig {
                files: FileSourceConfig {
                    max_bad_rows: args.max_bad_rows,
                    identity_jitter: args.identity_jitter,
                    seed: args.seed,
                    columns: Some(needed_columns(&model_inputs(&model, challenger.as_ref())?)),
                    required: args.columns.required(&model_inputs(&model, challenger.as_ref())?),
                    ..FileSourceConfig::new(transactions.clone(), args.identities.clone())
                },
                job,
                out_dir: args.out.clone(),
                model_name,
                score_reasons,
            };
            // The total is for the progress bar alone: with --quiet the file is not read twice.
            let total = if args.quiet {
                None
            } else {
                Some(count_data_lines(transactions).with_context(|| format!("reading {}", transactions.display()))?)
            };
            let bar = status_bar(&progress, total, args.quiet);
            let result = run_embedded_until(&config, scorer, &progress, stop, Some(&mut observer));
            bar.finish();
            result.map_err(anyhow::Error::from)
        }
        (None, None) => Err(anyhow::anyhow!("give --transactions (embedded mode) or --brokers (Kafka mode)")),
    };
    let confusion = observer.confusion;
    if let Some((dashboard, _)) = &dashboard {
        match &result {
            Ok(s) => dashboard.finish(format!("{} transactions scored, {} alerts", s.scored, s.alerts)),
            Err(e) => dashboard.fail(format!("{e:#}")),
        }
    }
    Ok(RunOutcome { summary: result?, confusion })
}

/// Online quality (from labels) and drift per model, and what became of the labels.
fn print_monitoring(s: &RunSummary) {
    let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    for m in &s.models {
        let who = format!("{} {}", m.role.as_str(), m.name);
        if let Some(q) = m.quality {
            println!(
                "online quality, {who} (last {} of {} labels joined; {} fraud): ROC AUC {}, PR AUC {}, precision {}, \
                 recall {}",
                q.window,
                q.labels_received,
                q.positives,
                show(q.roc_auc),
                show(q.pr_auc),
                show(q.precision),
                show(q.recall)
            );
        }
        if let Some(d) = &m.drift {
            let baseline = if m.baseline_from_model_json { "model.json" } else { "the first window" };
            let top: Vec<String> = d.inputs.iter().take(3).map(|i| format!("{} {:.3}", i.name, i.psi)).collect();
            let score = d.score.as_ref().map_or("n/a".to_string(), |s| format!("{:.3}", s.psi));
            println!(
                "drift, {who} (PSI over the last {} rows vs {baseline}): score {score}; top inputs {}; {} drift \
                 alerts",
                d.observations,
                if top.is_empty() { "n/a".to_string() } else { top.join(", ") },
                m.drift_alerts
            );
        }
    }
    if let Some(c) = s.labels {
        println!(
            "labels: {} received, {} joined to a score, {} without a score within --label-horizon, {} scores never \
             labelled{}",
            c.received,
            c.joined,
            c.unmatched,
            c.expired,
            if c.not_tracked > 0 {
                format!(", {} scores not tracked (state full)", c.not_tracked)
            } else {
                String::new()
            }
        );
    }
}

/// The inputs of the model and of the challenger, if any: the columns the source must parse.
fn model_inputs(model: &Model, challenger: Option<&Model>) -> anyhow::Result<Vec<String>> {
    let mut names = InputMapping::for_model(model)?.names().to_vec();
    if let Some(c) = challenger {
        names.extend(InputMapping::for_model(c)?.names().iter().cloned());
    }
    Ok(names)
}

/// A model's name in outputs and metrics: its file stem.
fn model_stem(path: &std::path::Path) -> String {
    path.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned())
}

/// What model monitoring the flags ask for: labels (a file, or `--label-delay`'s simulation), drift of the
/// champion's (and the challenger's) inputs unless `--no-drift`, a challenger beside the champion.
fn monitor_setup(args: &RunArgs, model: &Model, challenger: Option<&Model>) -> anyhow::Result<Option<MonitorSetup>> {
    anyhow::ensure!(
        args.drift_threshold.is_finite() && args.drift_threshold > 0.0,
        "--drift-threshold must be a positive PSI, not {}",
        args.drift_threshold
    );
    anyhow::ensure!(
        args.labels_topic.is_none() || args.brokers.is_some(),
        "--labels-topic follows a Kafka topic: give --brokers (embedded mode reads --labels FILE)"
    );
    let labels = match (&args.labels, args.label_delay) {
        (Some(path), _) => {
            anyhow::ensure!(
                args.brokers.is_none(),
                "--labels reads a file in embedded mode; with --brokers use --labels-topic"
            );
            Some(crate::labels_file::read_labels(path, args.max_bad_rows)?)
        }
        (None, _) => None,
    };
    let feed = match (&labels, args.label_delay) {
        (Some(_), _) => LabelFeed::Feed,
        (None, _) if args.labels_topic.is_some() => LabelFeed::Feed,
        (None, Some(delay)) => LabelFeed::Simulated(delay),
        (None, None) => LabelFeed::None,
    };
    let drift = |m: &Model, path: &std::path::Path| -> anyhow::Result<Option<DriftSpec>> {
        if args.no_drift {
            return Ok(None);
        }
        let baseline = fraudstream_engine::monitor::drift::baseline_beside(path)?;
        let config = fraudstream_model::drift::DriftConfig {
            window: args.drift_window,
            alert_psi: args.drift_threshold,
            rearm_psi: args.drift_threshold * 0.75,
            ..Default::default()
        };
        Ok(Some(DriftSpec { mapping: InputMapping::for_model(m)?, baseline, config }))
    };
    let mut models = Vec::new();
    // A remote model's inputs are still the local file's (the endpoint serves that model).
    models.push(WatchSpec { name: model_stem(&args.model), role: Role::Champion, drift: drift(model, &args.model)? });
    if let (Some(c), Some(path)) = (challenger, &args.challenger) {
        models.push(WatchSpec { name: model_stem(path), role: Role::Challenger, drift: drift(c, path)? });
    }
    if feed == LabelFeed::None && models.iter().all(|m| m.drift.is_none()) {
        return Ok(None);
    }
    Ok(Some(MonitorSetup {
        config: MonitorConfig {
            labels: feed,
            horizon: args.label_horizon,
            quality_window: args.quality_window,
            threshold: args.threshold,
            quality_from: args.quality_from.map(fraudstream_data::EventTime::from_transaction_dt),
        },
        models,
        labels: Arc::new(labels.unwrap_or_default()),
        live: None,
    }))
}

/// Counts the confusion matrix at the threshold and passes the hooks on to the live view, if any.
struct Confusion<'a> {
    confusion: [[u64; 2]; 2],
    observer: Option<&'a mut dyn RunObserver>,
}

impl RunObserver for Confusion<'_> {
    fn scored(&mut self, s: &Scored<'_>) {
        if let (Some(fraud), Some(_)) = (s.joined.transaction.is_fraud(), s.score) {
            self.confusion[usize::from(s.label)][usize::from(fraud)] += 1;
        }
        if let Some(o) = self.observer.as_deref_mut() {
            o.scored(s);
        }
    }

    fn status(&mut self, status: &JobStatus) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.status(status);
        }
    }
}

/// The Kafka-mode configuration the flags describe.
fn kafka_config(
    args: &RunArgs,
    brokers: &str,
    job: JobConfig,
    model: &Model,
    challenger: Option<&Model>,
    model_name: String,
) -> anyhow::Result<KafkaRunConfig> {
    let kafka = kafka_settings(brokers, &args.client)?;
    Ok(KafkaRunConfig {
        source: KafkaSourceConfig {
            kafka: kafka.clone(),
            group: args.group.clone(),
            transactions_topic: args.client.transactions_topic.clone(),
            identities_topic: args.client.identities_topic.clone(),
            assignment: args.assign.clone(),
            columns: Some(needed_columns(&model_inputs(model, challenger)?)),
            required: args.columns.required(&model_inputs(model, challenger)?),
        },
        sinks: KafkaSinkConfig {
            kafka,
            scores_topic: args.scores_topic.clone(),
            alerts_topic: args.alerts_topic.clone(),
            dead_letters_topic: args.dead_letters_topic.clone(),
            partitions: args.partitions,
            replication: 1,
            model: model_name,
            model_version: "1".into(),
            flush_timeout: Duration::from_secs(60),
            challenger: args.challenger.as_ref().map(|path| ChallengerOutput {
                topic: args.challenger_topic.clone(),
                model: model_stem(path),
                model_version: "1".into(),
            }),
            transactional_id: (args.processing_guarantee == ProcessingGuarantee::ExactlyOnce).then(|| {
                args.transactional_id.clone().unwrap_or_else(|| {
                    // Static assignment: one id per partition set, so a restart fences its predecessor. Group
                    // mode: one id per process (members are fenced through the group generation instead).
                    let member = match &args.assign {
                        Assignment::Group => format!("member-{}", std::process::id()),
                        Assignment::All => "all".to_string(),
                        Assignment::Static(list) => list.iter().map(i32::to_string).collect::<Vec<_>>().join("_"),
                    };
                    format!("fraudstream-{}-{member}", args.group)
                })
            }),
        },
        registry_url: args.client.schema_registry.clone(),
        registry_auth: args.client.schema_registry_auth.clone(),
        job,
        commit_interval: args.commit_interval,
        stop_after_idle: args.stop_after_idle,
        snapshot_interval: args.snapshot_interval,
        labels_topic: args.labels_topic.clone(),
    })
}

/// The progress bar with the job's status: read, alerts, dead letters and join state beside the scored count.
fn status_bar(progress: &Arc<RunProgress>, total: Option<u64>, quiet: bool) -> Progress {
    let (p, q) = (progress.clone(), progress.clone());
    let status = move || {
        format!(
            "read {} | alerts {} | dead letters {} | join state {}",
            q.records_in.load(Ordering::Relaxed),
            q.alerts.load(Ordering::Relaxed),
            q.dead_letters.load(Ordering::Relaxed),
            q.state_size.load(Ordering::Relaxed)
        )
    };
    Progress::start_with_status(
        "scoring",
        total,
        move || p.scored.load(Ordering::Relaxed),
        Some(Box::new(status)),
        quiet,
    )
}

fn print_summary(s: &RunSummary, args: &RunArgs) {
    let secs = s.elapsed.as_secs_f64();
    println!(
        "scored {} transactions in {secs:.2}s ({:.0} tx/s): {} with identity, {} without ({} released by --max-wait), \
         {} late{}",
        s.scored,
        s.scored as f64 / secs.max(1e-9),
        s.join.matched,
        s.join.unmatched,
        s.join.unmatched_by_max_wait,
        s.join.late_transactions,
        if s.skipped_already_scored > 0 {
            format!("; {} already scored before a restart, not written again", s.skipped_already_scored)
        } else {
            String::new()
        }
    );
    println!(
        "latency arrival→score p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} alerts at threshold {}",
        s.latency_ms.0, s.latency_ms.1, s.latency_ms.2, s.alerts, args.threshold
    );
    if let Some(auc) = s.auc {
        match args.quality_from {
            None => println!("ROC AUC against isFraud: {auc:.4}"),
            Some(dt) => {
                println!("ROC AUC against isFraud over every row, including those before --quality-from {dt}: {auc:.4}")
            }
        }
    }
    print_monitoring(s);
    let duplicates = s.duplicate_transactions.unwrap_or(s.join.duplicate_transactions);
    if duplicates > 0 {
        println!(
            "duplicate TransactionIDs: {duplicates} transactions repeat an earlier TransactionID (each scored again)"
        );
    }
    if s.model_errors > 0 {
        println!("model errors: {} transactions written with an empty score (see dead letters)", s.model_errors);
    }
    if s.forwarded > 0 {
        println!(
            "client features: the join stage forwarded {} joined records through {}, partitioned by card1",
            s.forwarded,
            fraudstream_engine::kafka::topology::internal_topic(&args.group)
        );
    }
    let kinds: Vec<String> = s.dead_letters_by_kind.iter().map(|(kind, n)| format!("{} {n}", kind.name())).collect();
    let total: u64 = s.dead_letters_by_kind.values().sum();
    if kinds.is_empty() {
        println!("dead letters: 0");
    } else {
        // Counted here, not printed one by one (a bad file can give thousands): each is in the file or topic.
        let place = match &args.transactions {
            Some(_) => args.out.join("dead_letters.jsonl").display().to_string(),
            None => format!("topic {}", args.dead_letters_topic),
        };
        println!("dead letters: {total} ({}); each with its reason and payload in {place}", kinds.join(", "));
    }
}
