//! Bench command for the job on Kafka, every figure in one run against a local broker, beside its anchors:
//!
//! 1. the data set produced to fresh topics (`PARTITIONS` partitions);
//! 2. a plain consumer reading both input topics to their end — the broker's ceiling;
//! 3. the embedded job on the same files — the anchor for catch-up;
//! 4. the Kafka job catching up on the backlog (`--assign all`), tx/s from its first record to its last score, and
//!    its joins and scores compared with the embedded run's, transaction by transaction;
//! 5. restart cost at two history sizes: the scores topic already holds `H` scores when a job whose input is fully
//!    committed restarts; time to recover and peak RSS, measured in a child process;
//! 6. live arrival → score latency with the input produced at a paced rate while the job runs.
//!
//! ```text
//! fraudstream generate --rows 200000 --seed 5 --out /tmp/gen200k
//! tansu broker ... (scripts/broker.sh)
//! cargo run --release -p fraudstream-engine --example kafka_bench -- /tmp/gen200k \
//!     ../shared/reference/seed-model/pipeline_75.onnx [PARTITIONS=4] [HISTORIES=20000,1000000] [LIVE_RATE=5000]
//! ```
//!
//! The broker is `FRAUDSTREAM_TEST_BROKERS` (default 127.0.0.1:9092); the Schema Registry is the testkit's fake,
//! which follows Confluent's REST API. Both jobs score as `fraudstream run` does, with the model shared by
//! `FRAUDSTREAM_BENCH_INFLIGHT` scoring threads (default 4, `--max-in-flight`; 1 scores on the job thread).
//! `FRAUDSTREAM_BENCH_ONLY=catchup` runs step 4 alone, `both` steps 4 and 3, `read` steps 1 and 2, `restart`
//! step 5, `live` step 6;
//! `FRAUDSTREAM_BENCH_REASONS=K` gives the alerts of the catch-up, embedded and live runs their top K reasons
//! (`--reasons K`), to see what explaining them costs a backlog and a stream that is not saturated;
//! `FRAUDSTREAM_BENCH_X=KEY=VALUE,...` adds librdkafka properties, as `-X` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_engine::flow::Scored;
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress};
use fraudstream_engine::kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use fraudstream_engine::kafka::rdkafka::message::Message;
use fraudstream_engine::kafka::rdkafka::{Offset, TopicPartitionList};
use fraudstream_engine::kafka::sink::{decode_score, write_scores, KafkaSinkConfig, ScoreRecord};
use fraudstream_engine::kafka::source::{Assignment, KafkaSourceConfig};
use fraudstream_engine::kafka::topology::{run_kafka, KafkaRunConfig};
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::observe::{RunObserver, RunProgress, RunSummary};
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::reasons::{ReasonsConfig, ReasonsOn};
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::FakeSchemaRegistry;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "restart-probe") {
        return restart_probe(&args[1..]);
    }
    let only = std::env::var("FRAUDSTREAM_BENCH_ONLY").unwrap_or_default();
    // FRAUDSTREAM_LOG=info (an EnvFilter) logs the job as `fraudstream run -v` would.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("FRAUDSTREAM_LOG"))
        .with_writer(std::io::stderr)
        .try_init();
    let dir = PathBuf::from(args.first().map_or("data", String::as_str));
    let model_path =
        PathBuf::from(args.get(1).map_or("../shared/reference/seed-model/pipeline_75.onnx", String::as_str));
    let partitions: i32 = args.get(2).map_or(Ok(4), |p| p.parse())?;
    let histories: Vec<u64> =
        args.get(3).map_or("20000,1000000", String::as_str).split(',').map(str::parse).collect::<Result<_, _>>()?;
    let live_rate: f64 = args.get(4).map_or(Ok(5000.0), |r| r.parse())?;
    let brokers = std::env::var("FRAUDSTREAM_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut kafka = KafkaSettings::new(brokers);
    // Extra librdkafka properties for experiments, as `-X` gives them to the CLI: KEY=VALUE,KEY=VALUE.
    for kv in std::env::var("FRAUDSTREAM_BENCH_X").unwrap_or_default().split(',').filter(|kv| !kv.is_empty()) {
        kafka.properties.push(KafkaSettings::parse_property(kv)?);
    }
    let registry = FakeSchemaRegistry::start();
    let model = std::sync::Arc::new(load(&model_path)?);

    if only == "live" {
        return live_latency(&kafka, &registry, &model, partitions, live_rate);
    }
    if only == "restart" {
        for &history in &histories {
            restart_cost(&kafka, &registry, &model_path, history, partitions)?;
        }
        return Ok(());
    }

    // 1. The backlog.
    let topics = Topics::fresh();
    let produced = produce_files(&kafka, &registry, &topics, &dir, partitions, Pacing::AsFastAsPossible)?;
    println!("produce: {} records to {partitions} partitions per topic in {:.2} s", produced.0, produced.1);

    // 2. The broker's ceiling.
    if only != "catchup" {
        let (read, seconds) = plain_read(&kafka, &[&topics.transactions, &topics.identities])?;
        println!("plain consumer: {read} records in {seconds:.2} s = {:.0} records/s", read as f64 / seconds);
        if only == "read" {
            return Ok(());
        }
    }

    // 3. Embedded, same files.
    if only == "catchup" || only == "both" {
        let config = kafka_config(&kafka, registry.url(), &topics, &unique_topic("bench"));
        let (mut timing, started) = (Timing::default(), Instant::now());
        let s = run_kafka(
            &config,
            &mut scorer(&model, config.job.threshold)?,
            &RunProgress::default(),
            &AtomicBool::new(false),
            Some(&mut timing),
        )?;
        let (busy, body) = timing.spans(started);
        println!(
            "kafka catch-up only: {} transactions, first record to last score {busy:.2} s = {:.0} tx/s; to the last \
             record {body:.2} s = {:.0} tx/s",
            s.scored,
            s.scored as f64 / busy,
            s.scored as f64 / body
        );
        if only == "catchup" {
            return Ok(());
        }
    }
    let embedded_dir = std::env::temp_dir().join("fraudstream-kafka-bench-embedded");
    let embedded = run_embedded(
        &RunConfig {
            files: FileSourceConfig {
                columns: Some(needed_columns(fraudstream_features::InputMapping::for_model(&model)?.names())),
                ..FileSourceConfig::new(dir.join("train_transaction.csv"), Some(dir.join("train_identity.csv")))
            },
            job: job_config(Duration::from_secs(2)),
            out_dir: embedded_dir.clone(),
            model_name: "bench".into(),
            score_reasons: 0,
        },
        &mut scorer(&model, job_config(Duration::from_secs(2)).threshold)?,
        &RunProgress::default(),
    )?;
    let embedded_rate = embedded.scored as f64 / embedded.elapsed.as_secs_f64();
    println!(
        "embedded: {} transactions in {:.2} s = {embedded_rate:.0} tx/s ({} with identity)",
        embedded.scored,
        embedded.elapsed.as_secs_f64(),
        embedded.join.matched
    );
    if only == "both" {
        return Ok(());
    }

    // 4. Kafka catch-up on the backlog, compared with the embedded run.
    let config = kafka_config(&kafka, registry.url(), &topics, &unique_topic("bench"));
    let mut timing = Timing::default();
    let started = Instant::now();
    let summary = run_kafka(
        &config,
        &mut scorer(&model, config.job.threshold)?,
        &RunProgress::default(),
        &AtomicBool::new(false),
        Some(&mut timing),
    )?;
    let (busy, body) = timing.spans(started);
    let (rate, body_rate) = (summary.scored as f64 / busy, summary.scored as f64 / body);
    println!(
        "kafka catch-up: {} transactions, first record to last score {busy:.2} s = {rate:.0} tx/s = {:.2}x embedded; \
         first to last record {body:.2} s = {body_rate:.0} tx/s = {:.2}x embedded \
         ({:.2} s from start, {:.2} s of it recovery; {} with identity, {} released by --max-wait, {} dead letters)",
        summary.scored,
        rate / embedded_rate,
        body_rate / embedded_rate,
        started.elapsed().as_secs_f64() - config.stop_after_idle.map_or(0.0, |d| d.as_secs_f64()),
        summary.recovery.as_secs_f64(),
        summary.join.matched,
        summary.join.unmatched_by_max_wait,
        summary.dead_letters
    );
    let differences = compare(&kafka, &config, &embedded_dir.join("scores.csv"))?;
    println!("kafka vs embedded: {differences}");

    // 5. Restart cost by history size.
    for &history in &histories {
        restart_cost(&kafka, &registry, &model_path, history, partitions)?;
    }

    // 6. Live latency at a paced rate.
    live_latency(&kafka, &registry, &model, partitions, live_rate)?;
    Ok(())
}

/// The columns the model and the outputs read (what `fraudstream run` decodes), set once the model is loaded.
static COLUMNS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

fn seed_columns() -> Vec<String> {
    COLUMNS.get().cloned().unwrap_or_default()
}

/// Loads the model and notes the columns it reads.
fn load(path: impl AsRef<Path>) -> Result<Model, Error> {
    let model = Model::load(path)?;
    let _ = COLUMNS.set(needed_columns(fraudstream_features::InputMapping::for_model(&model)?.names()));
    Ok(model)
}

/// Fresh input and output topic names.
struct Topics {
    transactions: String,
    identities: String,
    scores: String,
}

impl Topics {
    fn fresh() -> Topics {
        Topics { transactions: unique_topic("tx"), identities: unique_topic("id"), scores: unique_topic("scores") }
    }
}

/// Reasons on alerts at or above `threshold`, top `FRAUDSTREAM_BENCH_REASONS` (default 0: none).
fn bench_reasons(threshold: f64) -> ReasonsConfig {
    let top = std::env::var("FRAUDSTREAM_BENCH_REASONS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    ReasonsConfig { top, on: ReasonsOn::Alerts, threshold }
}

/// The model shared by the scoring threads, as `fraudstream run` scores, with the bench's reasons.
fn scorer(model: &Arc<Model>, threshold: f64) -> Result<InProcessScorer<'static>, Error> {
    Ok(InProcessScorer::shared(model.clone())?.with_reasons(bench_reasons(threshold))?)
}

/// The job settings of the bench: the CLI's defaults.
fn job_config(max_wait: Duration) -> JobConfig {
    JobConfig {
        join: JoinConfig { max_wait, ..JoinConfig::default() },
        max_out_of_orderness: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(10),
        pacing: Pacing::AsFastAsPossible,
        batch_size: 1024,
        batch_timeout: Duration::from_millis(20),
        threshold: 0.5,
        monitor: None,
        client_features: None,
        max_in_flight: std::env::var("FRAUDSTREAM_BENCH_INFLIGHT").ok().and_then(|v| v.parse().ok()).unwrap_or(4),
        on_model_error: Default::default(),
    }
}

/// The job on `topics` as `fraudstream run --assign all` runs it with the seed model: decoding only the columns the
/// model and the outputs read.
fn kafka_config(kafka: &KafkaSettings, registry_url: &str, topics: &Topics, group: &str) -> KafkaRunConfig {
    KafkaRunConfig {
        source: KafkaSourceConfig {
            kafka: kafka.clone(),
            group: group.to_string(),
            transactions_topic: topics.transactions.clone(),
            identities_topic: topics.identities.clone(),
            assignment: Assignment::All,
            columns: Some(seed_columns()),
            required: Default::default(),
        },
        sinks: KafkaSinkConfig {
            kafka: kafka.clone(),
            scores_topic: topics.scores.clone(),
            alerts_topic: format!("{}-alerts", topics.scores),
            dead_letters_topic: format!("{}-dead", topics.scores),
            partitions: 4,
            replication: 1,
            model: "bench".into(),
            model_version: "1".into(),
            flush_timeout: Duration::from_secs(60),
            transactional_id: None,
            challenger: None,
        },
        registry_url: registry_url.to_string(),
        registry_auth: None,
        job: job_config(Duration::from_secs(2)),
        commit_interval: Duration::from_secs(1),
        stop_after_idle: Some(Duration::from_secs(3)),
        snapshot_interval: Duration::from_secs(60),
        labels_topic: None,
    }
}

/// Produces `dir`'s files; returns (records, seconds).
fn produce_files(
    kafka: &KafkaSettings,
    registry: &FakeSchemaRegistry,
    topics: &Topics,
    dir: &Path,
    partitions: i32,
    pacing: Pacing,
) -> Result<(u64, f64), Error> {
    let summary = produce(
        &ProduceConfig {
            kafka: kafka.clone(),
            registry_url: registry.url().to_string(),
            registry_auth: None,
            transactions_topic: topics.transactions.clone(),
            identities_topic: topics.identities.clone(),
            partitions,
            replication: 1,
            pacing,
            files: FileSourceConfig::new(dir.join("train_transaction.csv"), Some(dir.join("train_identity.csv"))),
            flush_timeout: Duration::from_secs(120),
        },
        Arc::new(ProduceProgress::default()),
    )?;
    Ok((summary.acked, summary.elapsed.as_secs_f64()))
}

/// Reads every record of `topics` with a plain consumer; returns (records, seconds).
fn plain_read(kafka: &KafkaSettings, topics: &[&str]) -> Result<(u64, f64), Error> {
    // The job's consumer settings (see `CONSUMER_DEFAULTS`), so the anchor reads as the job does.
    let consumer: BaseConsumer = kafka.consumer_config(&[("group.id", "kafka-bench-plain")]).create()?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for topic in topics {
        let count = kafka.partition_counts(&[topic])?[0].unwrap_or(0);
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            let (_, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
            ends.insert((topic.to_string(), p), high);
        }
    }
    let total: i64 = ends.values().sum();
    consumer.assign(&tpl)?;
    let started = Instant::now();
    let mut read = 0i64;
    while read < total && started.elapsed() < Duration::from_secs(300) {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            message?;
            read += 1;
        }
    }
    Ok((read as u64, started.elapsed().as_secs_f64()))
}

/// When the first record arrived, the last one arrived, and the last score was written. After the last record of a
/// backlog, the transactions still in the join wait for `--max-wait` / the idle timeout (no later record moves the
/// watermark), which a live stream's next records would do: "first to last arrival" is the catch-up rate of the
/// backlog itself, "first to last score" includes that wait.
#[derive(Default)]
struct Timing {
    first: Option<Instant>,
    last_arrival: Option<Instant>,
    last: Option<Instant>,
}

impl RunObserver for Timing {
    fn scored(&mut self, scored: &Scored<'_>) {
        let arrived = scored.joined.arrived;
        self.first = Some(self.first.map_or(arrived, |f| f.min(arrived)));
        self.last_arrival = Some(self.last_arrival.map_or(arrived, |l| l.max(arrived)));
        self.last = Some(Instant::now());
    }
}

impl Timing {
    /// (first record to last score, first record to last record), in seconds.
    fn spans(&self, started: Instant) -> (f64, f64) {
        let first = self.first.unwrap_or(started);
        let span = |t: Option<Instant>| t.unwrap_or(started).duration_since(first).as_secs_f64().max(1e-9);
        (span(self.last), span(self.last_arrival))
    }
}

/// Transactions whose score or identity match differ between the scores topic and the embedded `scores.csv`.
fn compare(kafka: &KafkaSettings, config: &KafkaRunConfig, embedded: &Path) -> Result<String, Error> {
    let registry = SchemaRegistry::new(&config.registry_url, None)?;
    let mut topic: HashMap<i64, (Option<f64>, bool)> = HashMap::new();
    let mut duplicates = 0u64;
    kafka.read_to_end(&config.sinks.scores_topic, Duration::from_millis(500), |msg| {
        let score: ScoreRecord = decode_score(&registry, msg.payload().unwrap_or_default())?;
        if topic.insert(score.transaction_id, (score.score, score.identity_matched)).is_some() {
            duplicates += 1;
        }
        Ok(())
    })?;
    let (mut missing, mut scores, mut joins) = (0u64, 0u64, 0u64);
    let text = std::fs::read_to_string(embedded)?;
    let mut rows = 0u64;
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (id, score, matched) = (fields[0].parse::<i64>()?, fields[1].parse::<f64>().ok(), fields[3] == "true");
        rows += 1;
        match topic.get(&id) {
            None => missing += 1,
            Some(&(s, m)) => {
                scores += u64::from(s != score);
                joins += u64::from(m != matched);
            }
        }
    }
    Ok(format!(
        "{rows} transactions: {joins} join differences, {scores} score differences, {missing} missing, {duplicates} \
         duplicates in the topic"
    ))
}

/// Restart cost when the scores topic holds `history` scores: the job scored a 20,000-transaction input (after
/// `history - 20000` older scores were already in the topic), committed everything, and is restarted with no new
/// input. The restart runs in a child process, which reports its recovery time and peak RSS.
fn restart_cost(
    kafka: &KafkaSettings,
    registry: &FakeSchemaRegistry,
    model: &Path,
    history: u64,
    partitions: i32,
) -> Result<(), Error> {
    let input = 20_000u64.min(history);
    let dir = std::env::temp_dir().join(format!("fraudstream-kafka-bench-{input}"));
    if !dir.join("train_transaction.csv").exists() {
        fraudstream_data::generate::generate(&fraudstream_data::generate::GenerateConfig::new(input, 7, &dir))?;
    }
    let topics = Topics::fresh();
    let older = history - input;
    let filled = Instant::now();
    write_old_scores(kafka, registry, &topics.scores, older)?;
    let fill_seconds = filled.elapsed().as_secs_f64();
    produce_files(kafka, registry, &topics, &dir, partitions, Pacing::AsFastAsPossible)?;
    let group = unique_topic("restart");
    let loaded = Model::load(model)?;
    let config = kafka_config(kafka, registry.url(), &topics, &group);
    let first = run_kafka(
        &config,
        &mut InProcessScorer::new(&loaded)?,
        &RunProgress::default(),
        &AtomicBool::new(false),
        None,
    )?;
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["restart-probe", kafka.brokers.as_str(), registry.url(), &topics.transactions, &topics.identities])
        .args([topics.scores.as_str(), group.as_str(), &model.to_string_lossy()])
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    println!(
        "restart with {history} scores in the topic ({older} older ones written in {fill_seconds:.1} s, then \
         {} scored by the job): {}",
        first.scored,
        report.trim()
    );
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// The child side of [`restart_cost`]: restarts the job on committed input and prints its recovery time and peak
/// RSS.
fn restart_probe(args: &[String]) -> Result<(), Error> {
    let [brokers, registry_url, transactions, identities, scores, group, model] = args else {
        return Err("restart-probe BROKERS REGISTRY TX_TOPIC ID_TOPIC SCORES_TOPIC GROUP MODEL".into());
    };
    let kafka = KafkaSettings::new(brokers.clone());
    let model = std::sync::Arc::new(load(model)?);
    let topics = Topics { transactions: transactions.clone(), identities: identities.clone(), scores: scores.clone() };
    let mut config = kafka_config(&kafka, registry_url, &topics, group);
    config.stop_after_idle = Some(Duration::from_secs(1));
    let started = Instant::now();
    let summary: RunSummary = run_kafka(
        &config,
        &mut InProcessScorer::shared(model.clone())?,
        &RunProgress::default(),
        &AtomicBool::new(false),
        None,
    )?;
    println!(
        "recovery {:.2} s ({:.2} s to stop after the 1 s idle stop), {} scored again, peak RSS {:.0} MiB",
        summary.recovery.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        summary.scored,
        peak_rss_mib()
    );
    Ok(())
}

/// Writes `count` scores of transactions the input does not hold (IDs from 10^12 up) to `topic`, as an earlier
/// run would have.
fn write_old_scores(
    kafka: &KafkaSettings,
    registry: &FakeSchemaRegistry,
    topic: &str,
    count: u64,
) -> Result<(), Error> {
    let registry = SchemaRegistry::new(registry.url(), None)?;
    write_scores(kafka, &registry, topic, 4, (0..count).map(old_score))?;
    Ok(())
}

/// The `i`-th score of an earlier run's history.
fn old_score(i: u64) -> ScoreRecord {
    ScoreRecord {
        transaction_id: 1_000_000_000_000 + i as i64,
        event_time: 86_400_000 + i as i64,
        score: Some(0.01),
        label: 0,
        model: "bench".into(),
        model_version: "1".into(),
        identity_matched: false,
        join_wait_ms: 0,
        processing_latency_ms: 1.0,
        reasons: None,
    }
}

/// Live latency: the job runs while the input is produced at `rate` transactions a second.
fn live_latency(
    kafka: &KafkaSettings,
    registry: &FakeSchemaRegistry,
    model: &Model,
    partitions: i32,
    rate: f64,
) -> Result<(), Error> {
    let rows = (rate * 10.0) as u64;
    let live_dir = std::env::temp_dir().join(format!("fraudstream-kafka-bench-live-{rows}"));
    if !live_dir.join("train_transaction.csv").exists() {
        fraudstream_data::generate::generate(&fraudstream_data::generate::GenerateConfig::new(rows, 11, &live_dir))?;
    }
    let topics = Topics::fresh();
    // Topics exist before the job starts, so it reads from the first record on.
    kafka.ensure_topics(&[topics.transactions.as_str(), topics.identities.as_str()], partitions, 1)?;
    let config = kafka_config(kafka, registry.url(), &topics, &unique_topic("live"));
    let summary: Mutex<Option<RunSummary>> = Mutex::new(None);
    let reasons = bench_reasons(config.job.threshold);
    std::thread::scope(|scope| -> Result<(), Error> {
        let job = scope.spawn(|| {
            let result = InProcessScorer::new(model).and_then(|s| s.with_reasons(reasons)).and_then(|mut scorer| {
                run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None)
            });
            *summary.lock().unwrap_or_else(|p| p.into_inner()) = result.ok();
        });
        std::thread::sleep(Duration::from_secs(2));
        // The pacer counts both inputs' records: about 1.24 records per transaction in generated data.
        produce_files(kafka, registry, &topics, &live_dir, partitions, Pacing::Rate(rate * 1.24))?;
        let _ = job.join();
        Ok(())
    })?;
    let summary = summary.into_inner().unwrap_or_else(|p| p.into_inner()).ok_or("the live run failed")?;
    println!(
        "live at {rate:.0} tx/s: {} transactions ({} alerts, reasons: top {}), arrival → score p50 {:.2} ms, p99 \
         {:.2} ms, max {:.2} ms",
        summary.scored, summary.alerts, reasons.top, summary.latency_ms.0, summary.latency_ms.1, summary.latency_ms.2
    );
    Ok(())
}

/// The process's peak resident set size (Linux), 0 where /proc is unavailable.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
