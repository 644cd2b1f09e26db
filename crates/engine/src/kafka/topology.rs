//! The job on Kafka as a consumer group: one stage, or — when the model reads client features — a join stage and a
//! scoring stage on two threads, connected by the internal topic (see [`super::repartition`]).
//!
//! # Delivery guarantee
//! Each stage commits its input offsets only after its output is acknowledged, and only up to the oldest record it
//! still holds (`checkpoint`); whenever partitions are assigned it reads back what its output already holds and
//! does not write it again (`recovery`). The scores topic therefore holds each transaction once, on brokers with
//! only an idempotent producer. With Kafka transactions ([`KafkaSinkConfig::transactional_id`]) each checkpoint
//! commits the output written since the previous one together with the input offsets in one transaction; a crash
//! aborts the open transaction, and `read_committed` consumers see every score once without any read-back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fraudstream_data::registry::SchemaRegistry;

use super::checkpoint::Checkpoints;
use super::driver::drive;
use super::forward::Forward;
use super::labels::LabelsReader;
use super::sink::{KafkaSinkConfig, KafkaSinks};
use super::source::{KafkaSource, KafkaSourceConfig};
use super::stage::{Control, Peer};
use crate::error::EngineError;
use crate::job::{Job, JobConfig, ScoringStage};
use crate::monitor::{LiveLabels, MonitorSetup};
use crate::observe::{RunObserver, RunProgress, RunSummary};
use crate::scorer::Scorer;

/// Everything a run on Kafka needs.
#[derive(Debug, Clone)]
pub struct KafkaRunConfig {
    pub source: KafkaSourceConfig,
    pub sinks: KafkaSinkConfig,
    pub registry_url: String,
    pub registry_auth: Option<String>,
    pub job: JobConfig,
    /// How often output is flushed and input offsets committed.
    pub commit_interval: Duration,
    /// Stop once no input arrived for this long (`None`: run until stopped).
    pub stop_after_idle: Option<Duration>,
    /// How often the scoring stage snapshots its client state (models with client features).
    pub snapshot_interval: Duration,
    /// A labels topic to follow for online quality (see [`super::labels`]); needs `job.monitor`.
    pub labels_topic: Option<String>,
}

/// The internal topic of joined records of the consumer group `group` (see [`super::repartition`]).
pub fn internal_topic(group: &str) -> String {
    format!("{group}-joined")
}

/// Runs the job as a member of a consumer group until `stop` is set (or input stays idle, if configured).
///
/// When the job computes client features it runs as two stages on two threads: the join, as `group`, writes
/// joined records to the internal topic `<group>-joined`, partitioned by card1; the scoring stage, as
/// `<group>-score`, reads that topic, computes client features and scores. Each stage commits its own input
/// offsets after its output is durable, so the delivery argument holds for each.
pub fn run_kafka<'a>(
    config: &KafkaRunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
    stop: &'a AtomicBool,
    observer: Option<&'a mut dyn RunObserver>,
) -> Result<RunSummary, EngineError> {
    let registry = SchemaRegistry::new(&config.registry_url, config.registry_auth.as_deref())?;
    // The labels reader follows its topic for as long as the job runs (it stops when dropped).
    let (_labels_reader, with_labels);
    let config = match (&config.labels_topic, &config.job.monitor) {
        (Some(topic), Some(monitor)) => {
            let group = format!("{}-labels", config.source.group);
            // The job commits the feed's positions with its monitoring snapshots, which exist when it checkpoints.
            let job_commits = config.sinks.transactional_id.is_none();
            let (reader, rx, commit) =
                LabelsReader::start(&config.source.kafka, registry.clone(), topic, &group, job_commits)?;
            _labels_reader = reader;
            let monitor = MonitorSetup { live: Some(LiveLabels::new(rx, commit)), ..monitor.clone() };
            with_labels =
                KafkaRunConfig { job: JobConfig { monitor: Some(monitor), ..config.job.clone() }, ..config.clone() };
            &with_labels
        }
        _ => config,
    };
    let control =
        |peer| Control { stop, stop_after_idle: config.stop_after_idle, commit_interval: config.commit_interval, peer };
    if config.job.client_features.is_none() {
        let sinks = KafkaSinks::new(config.sinks.clone(), &registry)?;
        let mut scoring = ScoringStage::new(scorer, sinks, &config.job, progress, observer)?;
        let mut source = KafkaSource::new(&config.source, registry)?;
        scoring.recycle_into(Some(source.recycler()));
        let checkpoints = checkpoints(config, &config.source.group)?;
        return drive(&mut source, Job::new(&config.job, progress, scoring), checkpoints, control(None));
    }
    // What each stage tells the other. The join stage's idle stop does not wait for the scoring stage.
    let join_status = Peer::default();
    let scoring_status = Peer { done: AtomicBool::new(true), failed: AtomicBool::new(false) };
    std::thread::scope(|scope| {
        let join_stage = std::thread::Builder::new()
            .name("join-stage".into())
            .spawn_scoped(scope, || {
                // Tells the scoring stage how this one ended, a panic included (it would otherwise wait for it).
                let mut ended = PeerGuard { peer: &join_status, ok: false };
                let result = run_join_stage(config, &registry, progress, control(Some(&scoring_status)));
                ended.ok = result.is_ok();
                drop(ended);
                result
            })
            .map_err(|e| EngineError::Config(format!("starting the join stage: {e}")))?;
        let scored = run_scoring_stage(config, &registry, scorer, progress, observer, control(Some(&join_status)));
        if scored.is_err() {
            // Stop the join stage too: nothing would score what it forwards.
            scoring_status.failed.store(true, Ordering::Relaxed);
        }
        let joined = join_stage.join().map_err(|_| EngineError::Config("the join stage panicked".into()))?;
        let (mut summary, joined) = (scored?, joined?);
        summary.join = joined.join;
        summary.dead_letters += joined.dead_letters;
        for (kind, n) in joined.dead_letters_by_kind {
            *summary.dead_letters_by_kind.entry(kind).or_default() += n;
        }
        summary.forwarded = joined.forwarded;
        summary.recovery += joined.recovery;
        Ok(summary)
    })
}

/// The join stage: the input topics → the join → the internal topic.
fn run_join_stage(
    config: &KafkaRunConfig,
    registry: &SchemaRegistry,
    progress: &RunProgress,
    control: Control<'_>,
) -> Result<RunSummary, EngineError> {
    // Each stage's producer needs a transactional id of its own: one would fence the other.
    let sinks_config = KafkaSinkConfig {
        transactional_id: config.sinks.transactional_id.as_ref().map(|id| format!("{id}-join")),
        challenger: None,
        ..config.sinks.clone()
    };
    let sinks = KafkaSinks::new(sinks_config, registry)?;
    let partitions = joined_partitions(config)?;
    let forward = Forward::new(sinks, &internal_topic(&config.source.group), partitions, progress)?;
    let mut source = KafkaSource::new(&config.source, registry.clone())?;
    let job_config = JobConfig { client_features: None, ..config.job.clone() };
    let checkpoints = checkpoints(config, &config.source.group)?;
    drive(&mut source, Job::new(&job_config, progress, forward), checkpoints, control)
}

/// The scoring stage: the internal topic → client features → model → the output topics.
fn run_scoring_stage(
    config: &KafkaRunConfig,
    registry: &SchemaRegistry,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
    observer: Option<&mut dyn RunObserver>,
    control: Control<'_>,
) -> Result<RunSummary, EngineError> {
    let sinks = KafkaSinks::new(config.sinks.clone(), registry)?;
    let topic = internal_topic(&config.source.group);
    // The topic may not exist before the join stage has started.
    config.source.kafka.ensure_topics(&[topic.as_str()], joined_partitions(config)?, config.sinks.replication)?;
    let source_config = KafkaSourceConfig { group: format!("{}-score", config.source.group), ..config.source.clone() };
    // Exactly-once mode has no read-back to skip what a restart reads again: offset order there.
    let event_time_order = config.sinks.transactional_id.is_none();
    let mut source = KafkaSource::joined(&source_config, &topic, event_time_order)?;
    let scoring = ScoringStage::new(scorer, sinks, &config.job, progress, observer)?;
    let checkpoints = checkpoints(config, &source_config.group)?;
    drive(&mut source, Job::without_join(&config.job, progress, scoring), checkpoints, control)
}

/// The checkpoints of a stage reading as `group` (none are written in exactly-once mode, which reads nothing back).
fn checkpoints(config: &KafkaRunConfig, group: &str) -> Result<Checkpoints, EngineError> {
    let enabled = config.sinks.transactional_id.is_none();
    Checkpoints::new(&config.source.kafka, group, enabled, config.sinks.replication, config.snapshot_interval)
}

/// The internal topic's partition count: that of the transactions topic (one scoring partition per input one).
fn joined_partitions(config: &KafkaRunConfig) -> Result<i32, EngineError> {
    let counts = config.source.kafka.partition_counts(&[config.source.transactions_topic.as_str()])?;
    Ok(counts[0].unwrap_or(config.sinks.partitions))
}

/// Marks a stage done when it ends, and failed unless it set `ok` (an error or a panic).
struct PeerGuard<'a> {
    peer: &'a Peer,
    ok: bool,
}

impl Drop for PeerGuard<'_> {
    fn drop(&mut self) {
        self.peer.failed.store(!self.ok, Ordering::Relaxed);
        self.peer.done.store(true, Ordering::Relaxed);
    }
}
