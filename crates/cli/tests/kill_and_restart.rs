//! Exactly once through crashes: `fraudstream run --brokers` is killed with SIGKILL at random moments while it
//! scores a replay, restarted each time, and at the end every TransactionID is in the scores topic exactly once.
//! Then scale-out: two instances in one consumer group share the partitions, one is killed, the other finishes.
//! Runs the real binary against a Kafka-protocol broker over TCP.
//!
//! The kill -9 and static scale-out tests read fixed partitions (`--assign`), committing offsets under the group,
//! against tansu; a third kills the two-stage job a model with client features runs (join → `<group>-joined` →
//! scoring). The consumer-group takeover test runs two instances in one group and kills one. tansu 0.6.0 (the
//! broker CI can start) notices a SIGKILLed member only on a later request and then hands the survivor its old
//! assignment back, so the dead member's partitions would never move; the test therefore removes the dead member
//! explicitly (LeaveGroup by member id, what `kafka-consumer-groups --delete --members` does), which makes tansu
//! rebalance as a Kafka broker does by itself when the member's session times out. Everything on the job's side —
//! the survivor's rebalance, read-back and exactly-once output — runs for real. Against a Kafka broker:
//! `FRAUDSTREAM_TEST_BROKERS=host:9092 cargo test -p fraudstream --test kill_and_restart`.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress};
use fraudstream_engine::kafka::sink::decode_score;
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_testkit::broker::{require_broker, unique_topic};
use fraudstream_testkit::{shared_reference, FakeSchemaRegistry};

struct Setup {
    registry: FakeSchemaRegistry,
    kafka: KafkaSettings,
    tx_topic: String,
    id_topic: String,
    scores_topic: String,
    transactions: u64,
    /// The model the jobs run: the seed model, or one that reads client features (two-stage topology).
    model: std::path::PathBuf,
    /// The generated CSV files.
    files: (std::path::PathBuf, std::path::PathBuf),
}

fn setup(rows: u64, dir: &Path) -> Setup {
    let kafka = KafkaSettings::new(require_broker());
    let generated =
        fraudstream_data::generate::generate(&fraudstream_data::generate::GenerateConfig::new(rows, 11, dir))
            .expect("generate");
    let registry = FakeSchemaRegistry::start();
    let (tx_topic, id_topic) = (unique_topic("k9-tx"), unique_topic("k9-id"));
    let config = ProduceConfig {
        kafka: kafka.clone(),
        registry_url: registry.url().to_string(),
        registry_auth: None,
        transactions_topic: tx_topic.clone(),
        identities_topic: id_topic.clone(),
        partitions: 4,
        replication: 1,
        pacing: Pacing::AsFastAsPossible,
        files: FileSourceConfig::new(generated.transaction_path.clone(), Some(generated.identity_path.clone())),
        flush_timeout: Duration::from_secs(120),
    };
    produce(&config, Arc::new(ProduceProgress::default())).expect("produce");
    Setup {
        registry,
        kafka,
        tx_topic,
        id_topic,
        scores_topic: unique_topic("k9-scores"),
        transactions: rows,
        model: shared_reference().join("seed-model/pipeline_75.onnx"),
        files: (generated.transaction_path, generated.identity_path),
    }
}

/// Starts `fraudstream run --brokers`; `assign` is the `--assign` value (`group` for consumer-group membership).
fn start_job(s: &Setup, group: &str, assign: &str, instance: &str, stop_after_idle: &str) -> Child {
    start_job_logged(s, group, assign, instance, stop_after_idle).0
}

/// [`start_job`], also returning the path of the run's log.
fn start_job_logged(
    s: &Setup,
    group: &str,
    assign: &str,
    instance: &str,
    stop_after_idle: &str,
) -> (Child, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("{group}-{}.log", std::process::id() ^ rand_suffix()));
    let log = std::fs::File::create(&path).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .args(["run", "--quiet", "--model"])
        .arg(&s.model)
        .args(["--brokers", &s.kafka.brokers, "--group", group, "--assign", assign])
        .args(["--schema-registry", s.registry.url()])
        .args(["--transactions-topic", &s.tx_topic, "--identities-topic", &s.id_topic])
        .args(["--scores-topic", &s.scores_topic, "--alerts-topic", &format!("{}-alerts", s.scores_topic)])
        .args(["--dead-letters-topic", &format!("{}-dead", s.scores_topic), "--partitions", "4"])
        .args(["--commit-interval", "300ms", "--stop-after-idle", stop_after_idle, "--idle-timeout", "2s"])
        // Client state (the two-stage test) is snapshotted often, so restarts restore snapshots of every age.
        .args(["--snapshot-interval", "1s"])
        // A killed member must leave the group quickly for its partitions to move.
        .args(["-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"])
        // Group members are told apart by their client id, which starts their member id.
        .args(if assign == "group" { vec!["-X".to_string(), format!("client.id={instance}")] } else { vec![] })
        // FRAUDSTREAM_TEST_JOB_LOG=fraudstream_engine=debug also logs every offset commit.
        .env("FRAUDSTREAM_LOG", std::env::var("FRAUDSTREAM_TEST_JOB_LOG").unwrap_or_else(|_| "info".into()))
        // The run's log and its summary (stdout) go to one file per start, kept for diagnosis.
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start fraudstream run");
    (child, path)
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

/// TransactionID → number of score messages.
fn score_counts(s: &Setup) -> HashMap<i64, u32> {
    read_counts(s, &s.scores_topic).0
}

/// TransactionID → number of messages in a topic of score records, and the IDs of those labelled as alerts.
fn read_counts(s: &Setup, topic: &str) -> (HashMap<i64, u32>, std::collections::HashSet<i64>) {
    let registry = SchemaRegistry::new(s.registry.url(), None).expect("registry");
    let (mut counts, mut labelled) = (HashMap::new(), std::collections::HashSet::new());
    s.kafka
        .read_to_end(topic, Duration::from_secs(1), |msg| {
            use fraudstream_engine::kafka::rdkafka::message::Message;
            let record = decode_score(&registry, msg.payload().unwrap_or_default())?;
            if record.label == 1 {
                labelled.insert(record.transaction_id);
            }
            *counts.entry(record.transaction_id).or_insert(0) += 1;
            Ok(())
        })
        .expect("read scores");
    (counts, labelled)
}

/// Every score at or above the threshold has exactly one alert, and nothing else has one (a crash between a score
/// and its alert must not lose the alert, nor a re-read double it).
fn assert_alerts_exactly_once(s: &Setup) {
    let (_, labelled) = read_counts(s, &s.scores_topic);
    let alerts_topic = format!("{}-alerts", s.scores_topic);
    let mut alerts = read_counts(s, &alerts_topic).0;
    for _ in 0..10 {
        if alerts.len() >= labelled.len() {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
        alerts = read_counts(s, &alerts_topic).0;
    }
    assert!(!labelled.is_empty(), "the replay has scores at the threshold");
    let doubled: Vec<_> = alerts.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(doubled.is_empty(), "alerted more than once: {doubled:?}");
    let missing: Vec<_> = labelled.iter().filter(|id| !alerts.contains_key(id)).take(5).collect();
    assert!(
        missing.is_empty(),
        "{} scores at the threshold have no alert, e.g. {missing:?}",
        labelled.len() - alerts.len()
    );
    assert_eq!(alerts.len(), labelled.len(), "alerts for transactions below the threshold");
}

/// TransactionID → (score bits, identity matched) in a topic of score records.
fn read_outcomes(s: &Setup, topic: &str) -> HashMap<i64, (Option<u64>, bool)> {
    let registry = SchemaRegistry::new(s.registry.url(), None).expect("registry");
    let mut out = HashMap::new();
    s.kafka
        .read_to_end(topic, Duration::from_secs(1), |msg| {
            use fraudstream_engine::kafka::rdkafka::message::Message;
            let r = decode_score(&registry, msg.payload().unwrap_or_default())?;
            out.insert(r.transaction_id, (r.score.map(f64::to_bits), r.identity_matched));
            Ok(())
        })
        .expect("read scores");
    out
}

/// The same files scored by `fraudstream run` embedded: TransactionID → (score bits, identity matched).
fn embedded_outcomes(s: &Setup, dir: &Path) -> HashMap<i64, (Option<u64>, bool)> {
    let out = dir.join("embedded");
    let status = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .args(["run", "--quiet", "--model"])
        .arg(&s.model)
        .arg("--transactions")
        .arg(&s.files.0)
        .arg("--identities")
        .arg(&s.files.1)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("fraudstream run embedded");
    assert!(status.success());
    let text = std::fs::read_to_string(out.join("scores.csv")).expect("scores.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f[0].parse().expect("id"), (f[1].parse::<f64>().ok().map(f64::to_bits), f[3] == "true"))
        })
        .collect()
}

/// Every transaction joined as in the embedded run, and (with `scores`) scored exactly as there.
fn assert_as_embedded(s: &Setup, dir: &Path, scores: bool) {
    let expected = embedded_outcomes(s, dir);
    let got = read_outcomes(s, &s.scores_topic);
    let (mut joins, mut differ) = (Vec::new(), Vec::new());
    for (id, (score, matched)) in &expected {
        let Some((s, m)) = got.get(id) else { continue };
        if m != matched {
            joins.push(*id);
        }
        if s != score {
            differ.push(*id);
        }
    }
    assert!(
        joins.is_empty(),
        "{} transactions joined differently from the embedded run, e.g. {:?}",
        joins.len(),
        &joins[..joins.len().min(5)]
    );
    if scores {
        assert!(
            differ.is_empty(),
            "{} scores differ from the embedded run, e.g. {:?}",
            differ.len(),
            &differ[..differ.len().min(5)]
        );
    } else {
        println!("{} of {} scores differ from the embedded run's", differ.len(), expected.len());
    }
}

fn assert_exactly_once(s: &Setup) {
    // The last run's final writes are acknowledged, but tansu's high watermark can lag acknowledged writes, so a
    // read right after the run may end early. Read again until every TransactionID is there (a missing score
    // can still become visible; a doubled one never goes away), for at most 20 s.
    let mut counts = score_counts(s);
    for _ in 0..10 {
        if counts.len() as u64 >= s.transactions {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
        counts = score_counts(s);
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(doubled.is_empty(), "scored more than once: {doubled:?}");
    if counts.len() as u64 != s.transactions {
        panic!(
            "{} of {} transactions have no score. {}",
            s.transactions - counts.len() as u64,
            s.transactions,
            where_missing(s, &counts)
        );
    }
}

/// Where the unscored transactions sit in the input topic, and how far the group committed: enough to tell a run
/// that stopped early (committed offset below the missing records) from output lost after a commit.
fn where_missing(s: &Setup, counts: &HashMap<i64, u32>) -> String {
    use fraudstream_engine::kafka::rdkafka::message::Message;
    let key_schema = fraudstream_data::avro::key_schema();
    let mut missing: Vec<(i32, i64, i64)> = Vec::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    s.kafka
        .read_to_end(&s.tx_topic, Duration::from_secs(1), |msg| {
            let (_, datum) = fraudstream_data::avro::split_framed(msg.key().unwrap_or_default())?;
            let id = fraudstream_data::avro::decode_key(datum, key_schema)?;
            let end = ends.entry(msg.partition()).or_default();
            *end = (*end).max(msg.offset() + 1);
            if !counts.contains_key(&id) {
                missing.push((msg.partition(), msg.offset(), id));
            }
            Ok(())
        })
        .expect("read transactions");
    missing.sort_unstable();
    let mut by_partition: HashMap<i32, (usize, i64, i64)> = HashMap::new();
    for &(p, offset, _) in &missing {
        let e = by_partition.entry(p).or_insert((0, offset, offset));
        e.0 += 1;
        e.2 = offset;
    }
    let mut report: Vec<String> = by_partition
        .iter()
        .map(|(p, (n, first, last))| format!("partition {p}: {n} missing at offsets {first}..={last} of {}", ends[p]))
        .collect();
    report.sort();
    format!(
        "{}; first missing (partition, offset, TransactionID): {:?}",
        report.join("; "),
        &missing[..missing.len().min(10)]
    )
}

/// A small deterministic PRNG for kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// The kill tests run one at a time: each drives several job processes and the broker hard, and on a 2-core
/// machine two at once would mostly measure contention.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn wait_for_exit(job: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while job.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "{what} did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Kills the job `kills` times at random moments, restarting it each time. Every other kill lands anywhere from
/// start-up on (recovery included); the others wait until the run has recovered and is scoring, so the kills also
/// hit steady processing once recovery (which reads the whole scores topic back) takes longer than the kill delay.
fn kill_and_restart(s: &Setup, group: &str, assign: &str, kills: usize, seed: &mut u64) {
    for k in 0..kills {
        let (mut job, log) = start_job_logged(s, group, assign, assign, "60s");
        if k % 2 == 1 {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline
                && !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("the output already holds"))
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let wait = 300 + next(seed) % 3_700;
        std::thread::sleep(Duration::from_millis(wait));
        job.kill().expect("SIGKILL");
        job.wait().expect("reaped");
    }
}

#[test]
fn twenty_kill_9s_during_a_replay_leave_every_score_exactly_once() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let s = setup(100_000, tmp.path());
    let group = unique_topic("k9-group");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    kill_and_restart(&s, &group, "all", 20, &mut seed);
    // The last run stops after 20 s without input: long enough that a partition whose fetch stalls on a loaded
    // machine is not mistaken for the end of the input.
    let mut last = start_job(&s, &group, "all", "all", "20s");
    wait_for_exit(&mut last, "the final run");
    assert_exactly_once(&s);
    assert_alerts_exactly_once(&s);
    assert_as_embedded(&s, tmp.path(), true);
}

#[test]
fn kill_9s_with_a_million_scores_already_in_the_topic_leave_every_score_exactly_once() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let s = setup(30_000, tmp.path());
    // A long history: a million scores of earlier transactions, as a job running for days would have written.
    let registry = SchemaRegistry::new(s.registry.url(), None).expect("registry");
    let history = (0..1_000_000i64).map(|i| fraudstream_engine::kafka::sink::ScoreRecord {
        transaction_id: 10_000_000_000 + i,
        event_time: 86_400_000 + i,
        score: Some(0.01),
        label: 0,
        model: "earlier".into(),
        model_version: "1".into(),
        identity_matched: false,
        join_wait_ms: 0,
        processing_latency_ms: 1.0,
        reasons: None,
    });
    let written = fraudstream_engine::kafka::sink::write_scores(&s.kafka, &registry, &s.scores_topic, 4, history)
        .expect("write the history");
    assert_eq!(written, 1_000_000);
    let group = unique_topic("k9-history");
    let mut seed = 0x5851_f42d_4c95_7f2du64;
    kill_and_restart(&s, &group, "all", 8, &mut seed);
    let mut last = start_job(&s, &group, "all", "all", "20s");
    wait_for_exit(&mut last, "the final run");
    let counts = score_counts(&s);
    assert_eq!(counts.len() as u64, s.transactions + 1_000_000, "the history and every transaction, each once");
    let doubled: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).take(5).collect();
    assert!(doubled.is_empty(), "scored more than once: {doubled:?}");
    assert_alerts_exactly_once(&s);
    assert_as_embedded(&s, tmp.path(), true);
}

#[test]
fn kill_9s_of_the_two_stage_client_feature_job_leave_every_score_exactly_once() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = setup(30_000, tmp.path());
    // A model that reads client features makes the job run as two stages through `<group>-joined`.
    let trained = Command::new(env!("CARGO_BIN_EXE_fraudstream"))
        .args(["train", "--quiet", "--rounds", "10", "--transactions"])
        .arg(&s.files.0)
        .arg("--identities")
        .arg(&s.files.1)
        .arg("--out")
        .arg(tmp.path().join("model"))
        .status()
        .expect("fraudstream train");
    assert!(trained.success());
    s.model = tmp.path().join("model/model.onnx");
    let group = unique_topic("k9-client");
    let mut seed = 0x1234_5678_9abc_def1u64;
    kill_and_restart(&s, &group, "all", 8, &mut seed);
    let mut last = start_job(&s, &group, "all", "all", "20s");
    wait_for_exit(&mut last, "the final run");
    assert_exactly_once(&s);
    assert_alerts_exactly_once(&s);
    // The internal topic holds every joined record once too, so client state counted each transaction once.
    let mut forwarded: HashMap<i64, u32> = HashMap::new();
    s.kafka
        .read_to_end(&fraudstream_engine::kafka::topology::internal_topic(&group), Duration::from_secs(1), |msg| {
            use fraudstream_engine::kafka::rdkafka::message::Message;
            // Keys that are no TransactionID are the join stages' progress markers.
            if let Some(id) = msg.key().and_then(fraudstream_engine::kafka::repartition::transaction_id_of_key) {
                *forwarded.entry(id).or_default() += 1;
            }
            Ok(())
        })
        .expect("read the internal topic");
    assert_eq!(forwarded.len() as u64, s.transactions, "every transaction went through the internal topic");
    assert!(forwarded.values().all(|&n| n == 1), "a joined record was forwarded twice");
    // Client state is rebuilt after each kill; the first score sent is final, so a score may differ from an
    // uninterrupted run's — the joins may not.
    assert_as_embedded(&s, tmp.path(), false);
}

#[test]
fn two_static_instances_split_the_partitions_and_one_recovers_after_kill_9s() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let tmp = tempfile::tempdir().expect("tmp");
    let s = setup(40_000, tmp.path());
    let group = unique_topic("k9-static");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut b = start_job(&s, &group, "2,3", "2,3", "15s");
    kill_and_restart(&s, &group, "0,1", 3, &mut seed);
    let mut a = start_job(&s, &group, "0,1", "0,1", "15s");
    wait_for_exit(&mut a, "instance 0,1");
    wait_for_exit(&mut b, "instance 2,3");
    assert_exactly_once(&s);
    assert_alerts_exactly_once(&s);
    assert_as_embedded(&s, tmp.path(), true);
}

#[test]
fn two_instances_share_the_partitions_and_one_takes_over_when_the_other_dies() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = setup(30_000, tmp.path());
    let group = unique_topic("k9-scale");
    let (mut a, a_log) = start_job_logged(&s, &group, "group", "instance-a", "15s");
    let (mut b, b_log) = start_job_logged(&s, &group, "group", "instance-b", "15s");
    // Both are members and scoring before one dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    let scoring = |log: &Path| std::fs::read_to_string(log).is_ok_and(|l| l.contains("the output already holds"));
    while Instant::now() < deadline && !(scoring(&a_log) && scoring(&b_log)) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let dead = member_id(&s, &group, "instance-a").expect("instance-a is a member of the group");
    std::thread::sleep(Duration::from_millis(1_500));
    a.kill().expect("SIGKILL");
    a.wait().expect("reaped");
    // What a Kafka broker does once the member's session times out (see the module doc).
    let coordinator = s.kafka.brokers.split(',').next().unwrap_or_default().to_string();
    let removed = fraudstream_testkit::broker::remove_group_member(&coordinator, &group, &dead);
    println!("removed the killed member {dead}: {removed:?}");
    wait_for_exit(&mut b, "the surviving instance");
    // The survivor shared the 8 input partitions (4 per topic), then was given all of them.
    let survivor = std::fs::read_to_string(&b_log).unwrap_or_default();
    let assigned: Vec<usize> =
        survivor.lines().filter_map(|l| l.split("assigned ").nth(1)?.split(' ').next()?.parse().ok()).collect();
    let shared = assigned.iter().position(|&n| n < 8);
    assert!(
        shared.is_some_and(|i| assigned[i + 1..].contains(&8)),
        "the survivor never took over the dead member's partitions (assignments {assigned:?}):\n{survivor}"
    );
    assert_exactly_once(&s);
    assert_alerts_exactly_once(&s);
    assert_as_embedded(&s, tmp.path(), true);
}

/// The member id of the group member started with `client.id` `instance` (librdkafka's member ids begin with the
/// client id).
fn member_id(s: &Setup, group: &str, instance: &str) -> Option<String> {
    let coordinator = s.kafka.brokers.split(',').next().unwrap_or_default();
    let ids = fraudstream_testkit::broker::group_member_ids(coordinator, group).expect("describe the group");
    let found = ids.iter().find(|id| id.starts_with(&format!("{instance}-"))).cloned();
    if found.is_none() {
        println!("no member of {group} is instance {instance}: {ids:?}");
    }
    found
}
