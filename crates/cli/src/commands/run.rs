//! `fraudstream run`: the streaming job, embedded (CSV files) or on Kafka (`--brokers`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::run::{
    needed_columns, run_embedded_until, run_kafka, JobConfig, KafkaRunConfig, RunConfig, RunProgress, RunSummary,
};
use fraudstream_engine::scorer::{BreakerConfig, InProcessScorer, RemoteConfig, RemoteProtocol, RemoteScorer, Scorer};
use fraudstream_engine::sink::kafka::KafkaSinkConfig;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::source::kafka::{Assignment, KafkaSourceConfig};
use fraudstream_features::InputMapping;
use fraudstream_model::Model;

use crate::args::{ProcessingGuarantee, RunArgs};
use crate::commands::produce::kafka_settings;
use crate::progress::{count_data_lines, Progress};

pub fn run(args: RunArgs) -> anyhow::Result<()> {
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
    let model = Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?;
    let model_name = args.model.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let job = JobConfig {
        join: JoinConfig { lower: args.join_lower, upper: args.join_upper, max_wait: args.max_wait },
        max_out_of_orderness: args.max_out_of_orderness,
        idle_timeout: args.idle_timeout,
        pacing,
        batch_size: args.batch_size,
        batch_timeout: args.batch_timeout,
        threshold: args.threshold,
        max_in_flight: args.max_in_flight,
        on_model_error: args.on_model_error,
    };
    let mut scorer: Box<dyn Scorer + '_> = match &args.model_url {
        None => Box::new(InProcessScorer::new(&model)?),
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
    let scorer = scorer.as_mut();
    let progress = Arc::new(RunProgress::default());
    let stop = crate::interrupt::stop_on_ctrl_c();
    let summary = match (&args.brokers, &args.transactions) {
        (Some(brokers), _) => run_on_kafka(&args, brokers, job, model_name, scorer, &progress, &stop)?,
        (None, Some(transactions)) => {
            let config = RunConfig {
                files: FileSourceConfig {
                    max_bad_rows: args.max_bad_rows,
                    identity_jitter: args.identity_jitter,
                    seed: args.seed,
                    columns: Some(needed_columns(InputMapping::for_model(&model)?.names())),
                    ..FileSourceConfig::new(transactions.clone(), args.identities.clone())
                },
                job,
                out_dir: args.out.clone(),
                model_name,
            };
            let total =
                count_data_lines(transactions).with_context(|| format!("reading {}", transactions.display()))?;
            let bar = status_bar(&progress, Some(total), args.quiet);
            let result = run_embedded_until(&config, scorer, &progress, &stop);
            bar.finish();
            result?
        }
        (None, None) => anyhow::bail!("give --transactions (embedded mode) or --brokers (Kafka mode)"),
    };
    print_summary(&summary, &args);
    Ok(())
}

fn run_on_kafka(
    args: &RunArgs,
    brokers: &str,
    job: JobConfig,
    model_name: String,
    scorer: &mut dyn Scorer,
    progress: &Arc<RunProgress>,
    stop: &AtomicBool,
) -> anyhow::Result<RunSummary> {
    let kafka = kafka_settings(brokers, &args.client)?;
    let config = KafkaRunConfig {
        source: KafkaSourceConfig {
            kafka: kafka.clone(),
            group: args.group.clone(),
            transactions_topic: args.client.transactions_topic.clone(),
            identities_topic: args.client.identities_topic.clone(),
            assignment: args.assign.clone(),
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
            transactional_id: (args.processing_guarantee == ProcessingGuarantee::ExactlyOnce).then(|| {
                args.transactional_id.clone().unwrap_or_else(|| {
                    let assign = match &args.assign {
                        Assignment::Group => "group".to_string(),
                        Assignment::All => "all".to_string(),
                        Assignment::Static(list) => list.iter().map(i32::to_string).collect::<Vec<_>>().join("_"),
                    };
                    format!("fraudstream-{}-{assign}", args.group)
                })
            }),
        },
        registry_url: args.client.schema_registry.clone(),
        registry_auth: args.client.schema_registry_auth.clone(),
        job,
        commit_interval: args.commit_interval,
        stop_after_idle: args.stop_after_idle,
    };
    let bar = status_bar(progress, None, args.quiet);
    let result = run_kafka(&config, scorer, progress, stop);
    bar.finish();
    Ok(result?)
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
        println!("ROC AUC against isFraud: {auc:.4}");
    }
    if s.model_errors > 0 {
        println!("model errors: {} transactions written with an empty score (see dead letters)", s.model_errors);
    }
    println!(
        "dead letters: {} (duplicate identities {}, after emit {}, outside window {}, no transaction {}, late {})",
        s.dead_letters,
        s.join.duplicate_identities,
        s.join.identities_after_emit,
        s.join.identities_outside_window,
        s.join.orphan_identities,
        s.join.late_identities,
    );
}
