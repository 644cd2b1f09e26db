//! The job on Kafka joins and scores exactly as the embedded job on the same files: over a backlog read as fast as
//! the broker delivers it, and through restarts at random moments. Processing time (`--max-wait`, idleness) may
//! only release what waits for input that is caught up and silent, never while the consumer is merely behind, so
//! how fast the machine or the broker is must not change a single join. Runs against the tansu broker over TCP.
//!
//! To make that a test that can fail, the Kafka runs get processing-time limits far below the stalls a catch-up
//! has (`--max-wait 50ms`, `--idle-timeout 200ms`) and fetches the broker holds for 200 ms; the reference is the
//! embedded run with event time alone releasing transactions (as a training replay runs).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fraudstream_data::generate::{generate, GenerateConfig};
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::kafka::sink::decode_score;
use fraudstream_engine::kafka::source::Assignment;
use fraudstream_engine::kafka::topology::{run_kafka, KafkaRunConfig};
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_features::InputMapping;
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::shared_reference;
use rdkafka::message::Message;

use common::{job_config, produce_files, Run};

/// TransactionID → (score bits, identity matched).
type Outcomes = HashMap<i64, (Option<u64>, bool)>;

/// The job settings of the runs, with these processing-time limits.
fn job(max_wait: Duration, idle_timeout: Duration) -> JobConfig {
    JobConfig {
        join: JoinConfig { max_wait, ..JoinConfig::default() },
        max_out_of_orderness: Duration::from_secs(20),
        idle_timeout,
        pacing: fraudstream_engine::pacing::Pacing::AsFastAsPossible,
        batch_size: 256,
        batch_timeout: Duration::from_millis(20),
        threshold: 0.5,
        monitor: None,
        client_features: None,
        max_in_flight: 1,
        on_model_error: Default::default(),
    }
}

fn embedded(files: &FileSourceConfig, model: &Model, out: &std::path::Path) -> Outcomes {
    let config = RunConfig {
        files: FileSourceConfig {
            columns: Some(needed_columns(InputMapping::for_model(model).expect("mapping").names())),
            ..files.clone()
        },
        job: job(Duration::MAX, Duration::from_secs(10)),
        out_dir: out.to_path_buf(),
        model_name: "m".into(),
        score_reasons: 0,
    };
    let mut scorer = InProcessScorer::new(model).expect("scorer");
    run_embedded(&config, &mut scorer, &RunProgress::default()).expect("embedded run");
    let text = std::fs::read_to_string(out.join("scores.csv")).expect("scores.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let id = f[0].parse().expect("id");
            (id, (f[1].parse::<f64>().ok().map(f64::to_bits), f[3] == "true"))
        })
        .collect()
}

/// Every score in the topic; a TransactionID written twice fails the test.
fn from_topic(run: &Run, topic: &str) -> Outcomes {
    let registry = SchemaRegistry::new(run.registry.url(), None).expect("registry");
    let mut out = Outcomes::new();
    run.kafka
        .read_to_end(topic, Duration::from_secs(1), |msg| {
            let r = decode_score(&registry, msg.payload().unwrap_or_default())?;
            let before = out.insert(r.transaction_id, (r.score.map(f64::to_bits), r.identity_matched));
            assert!(before.is_none(), "TransactionID {} scored twice", r.transaction_id);
            Ok(())
        })
        .expect("read scores");
    out
}

/// Where the two runs differ: (different joins, different scores, missing from the topic).
fn differences(embedded: &Outcomes, kafka: &Outcomes) -> (usize, usize, usize) {
    let (mut joins, mut scores, mut missing) = (0, 0, 0);
    for (id, (score, matched)) in embedded {
        match kafka.get(id) {
            None => missing += 1,
            Some((s, m)) => {
                joins += usize::from(m != matched);
                scores += usize::from(s != score);
            }
        }
    }
    (joins, scores, missing)
}

fn config(run: &Run, group: &str, scores: &str) -> KafkaRunConfig {
    let mut config = job_config(run, group, scores);
    config.job = job(Duration::from_millis(50), Duration::from_millis(200));
    config.source.assignment = Assignment::All;
    // Fetches held for 200 ms (as tansu holds every one for the wait): a catch-up full of stalls.
    for c in [&mut config.source.kafka, &mut config.sinks.kafka] {
        c.properties.push(("fetch.wait.max.ms".into(), "200".into()));
    }
    config.commit_interval = Duration::from_millis(300);
    config
}

fn setup(rows: u64, dir: &std::path::Path) -> (FileSourceConfig, Run, Model, Outcomes) {
    let data = generate(&GenerateConfig::new(rows, 5, dir)).expect("generate");
    let files = FileSourceConfig::new(data.transaction_path.clone(), Some(data.identity_path.clone()));
    let run = produce_files(&data.transaction_path, &data.identity_path, 4);
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let expected = embedded(&files, &model, &dir.join("embedded"));
    assert_eq!(expected.len() as u64, rows);
    (files, run, model, expected)
}

#[test]
fn a_backlog_on_kafka_joins_and_scores_exactly_as_embedded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_, run, model, expected) = setup(20_000, tmp.path());
    let scores = unique_topic("scores");
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let config = config(&run, &unique_topic("group"), &scores);
    let summary =
        run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("kafka run");
    assert_eq!(summary.scored, 20_000);
    let kafka = from_topic(&run, &scores);
    assert_eq!(differences(&expected, &kafka), (0, 0, 0), "joins, scores, missing");
    assert_eq!(summary.join.identities_after_emit, 0, "no identity came after its transaction left unmatched");
}

#[test]
fn a_job_stopped_and_restarted_again_and_again_still_scores_exactly_as_embedded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_, run, model, expected) = setup(20_000, tmp.path());
    let scores = unique_topic("scores");
    let group = unique_topic("group");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    // Stopped after 0.2-1.7 s each time (a clean stop: the cli kill tests do SIGKILL), restarted under the group.
    for _ in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let stop = AtomicBool::new(false);
        let until = Instant::now() + Duration::from_millis(200 + seed % 1_500);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                stop.store(true, Ordering::Relaxed);
            });
            let mut scorer = InProcessScorer::new(&model).expect("scorer");
            run_kafka(&config(&run, &group, &scores), &mut scorer, &RunProgress::default(), &stop, None)
                .expect("interrupted run");
        });
    }
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    run_kafka(&config(&run, &group, &scores), &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None)
        .expect("final run");
    let kafka = from_topic(&run, &scores);
    assert_eq!(differences(&expected, &kafka), (0, 0, 0), "joins, scores, missing");
}
