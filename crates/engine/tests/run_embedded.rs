//! The embedded streaming job on the real sample: every transaction scored exactly once, the same scores as the
//! batch path (so the stream fed the model the same inputs), and what cannot join goes to dead letters.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use fraudstream_engine::backtest::{score_files, ScoreConfig};
use fraudstream_engine::job::{needed_columns, run_embedded, JobConfig, RunConfig};
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::model_stage::OnModelError;
use fraudstream_engine::observe::{RunProgress, RunSummary};
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::scorer::{BreakerConfig, InProcessScorer, RemoteConfig, RemoteProtocol, RemoteScorer};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::source::required::RequiredColumns;
use fraudstream_model::Model;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

fn files(jitter: Duration) -> FileSourceConfig {
    FileSourceConfig {
        identity_jitter: jitter,
        seed: 3,
        ..FileSourceConfig::new(
            ieee_cis_sample().join("train_transaction.csv"),
            Some(ieee_cis_sample().join("train_identity.csv")),
        )
    }
}

fn seed_model() -> Model {
    Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("seed model")
}

fn config(out: &Path, jitter: Duration) -> RunConfig {
    RunConfig {
        files: files(jitter),
        job: JobConfig {
            join: JoinConfig::default(),
            max_out_of_orderness: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(10),
            pacing: Pacing::AsFastAsPossible,
            batch_size: 64,
            batch_timeout: Duration::from_millis(50),
            threshold: 0.5,
            max_in_flight: 1,
            on_model_error: OnModelError::Fail,
            monitor: None,
            client_features: None,
        },
        out_dir: out.to_path_buf(),
        model_name: "pipeline_75".into(),
        score_reasons: 0,
    }
}

/// Runs the stream the way `fraudstream run` does: parsing only the columns the model and the outputs need (the
/// batch side of the parity test below parses everything).
fn run(out: &Path, jitter: Duration, model: &Model) -> RunSummary {
    let mut scorer = InProcessScorer::new(model).expect("scorer");
    let mut config = config(out, jitter);
    let inputs = fraudstream_features::InputMapping::for_model(model).expect("mapping");
    config.files.columns = Some(needed_columns(inputs.names()));
    run_embedded(&config, &mut scorer, &RunProgress::default()).expect("run")
}

/// TransactionID → (score, identity_matched) from a run's scores.csv, checking each ID appears once.
fn scores(path: &Path) -> HashMap<i64, (f64, bool)> {
    let text = std::fs::read_to_string(path).expect("scores.csv");
    let mut lines = text.lines();
    assert!(lines.next().expect("header").starts_with("TransactionID,score,label,identity_matched"));
    let mut out = HashMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let id: i64 = f[0].parse().expect("id");
        assert!(out.insert(id, (f[1].parse().expect("score"), f[3] == "true")).is_none(), "{id} scored twice");
    }
    out
}

#[test]
fn stream_scores_equal_batch_scores_and_every_identity_joins() {
    let model = seed_model();
    let tmp = tempfile::tempdir().expect("tmp");
    let summary = run(tmp.path(), Duration::ZERO, &model);
    assert_eq!(summary.scored, 1500);
    assert_eq!((summary.join.matched, summary.join.unmatched), (348, 1152));
    assert_eq!(summary.dead_letters, 0);
    let stream = scores(&tmp.path().join("scores.csv"));
    assert_eq!(stream.len(), 1500);

    let batch_out = tmp.path().join("batch.csv");
    let config = ScoreConfig {
        files: files(Duration::ZERO),
        out: batch_out.clone(),
        batch_size: 500,
        reasons: 0,
        features_out: None,
    };
    score_files(&config, &model, &AtomicU64::new(0)).expect("batch");
    let batch = std::fs::read_to_string(&batch_out).expect("batch scores");
    for l in batch.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let id: i64 = f[0].parse().expect("id");
        let p: f64 = f[1].parse().expect("p");
        assert_eq!(stream[&id].0, p, "TransactionID {id}: stream and batch scores differ");
    }
    let auc = summary.auc.expect("labelled");
    assert!((auc - 0.934).abs() < 0.0015, "AUC {auc}");
}

/// A shared model scores micro-batches on other threads while the job goes on (`--max-in-flight`): the scores,
/// their order in the output and the reasons are those of scoring each batch on the job thread.
#[test]
fn scoring_batches_on_other_threads_writes_what_scoring_on_the_job_thread_writes() {
    let model = std::sync::Arc::new(seed_model());
    let mut outputs = Vec::new();
    for in_flight in [1, 3] {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut config = config(tmp.path(), Duration::ZERO);
        config.job.max_in_flight = in_flight;
        config.job.batch_size = 16;
        let reasons = fraudstream_engine::reasons::ReasonsConfig {
            top: 2,
            on: fraudstream_engine::reasons::ReasonsOn::Alerts,
            threshold: 0.5,
        };
        let mut scorer =
            InProcessScorer::shared(model.clone()).expect("scorer").with_reasons(reasons).expect("reasons");
        let summary = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("run");
        assert_eq!(summary.scored, 1500);
        let read = |name: &str| std::fs::read_to_string(tmp.path().join(name)).expect(name);
        outputs.push((read("scores.csv"), read("alerts.jsonl")));
    }
    // Every column but the wall-clock ones (the join wait and the latency, last), line for line: the same order.
    let columns = |text: &str| -> Vec<String> {
        text.lines().map(|l| l.split(',').take(5).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(columns(&outputs[0].0), columns(&outputs[1].0), "scores.csv");
    // Alerts carry a processing latency; everything else (reasons included) must match.
    let strip = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
                v.as_object_mut().expect("object").retain(|k, _| !k.contains("latency") && !k.contains("wait"));
                v
            })
            .collect()
    };
    let (one, three) = (strip(&outputs[0].1), strip(&outputs[1].1));
    assert!(
        !one.is_empty()
            && one.iter().all(|a| a.get("reasons").is_some_and(|r| r.as_array().is_some_and(|r| r.len() == 2)))
    );
    assert_eq!(one, three);
}

/// A scorer that panics on every batch, on whichever thread it runs.
struct Panicking;

impl fraudstream_engine::scorer::Scorer for Panicking {
    fn score(
        &mut self,
        _rows: &[fraudstream_engine::flow::Joined],
        _out: &mut fraudstream_engine::scorer::BatchScores,
    ) -> Result<(), fraudstream_engine::error::EngineError> {
        panic!("a bug in the model")
    }

    fn try_clone_send(&self) -> Option<Box<dyn fraudstream_engine::scorer::Scorer + Send>> {
        Some(Box::new(Panicking))
    }
}

/// A model that panics on a scoring thread fails the run with the panic's message instead of leaving the job
/// waiting for that batch forever.
#[test]
fn a_panic_on_a_scoring_thread_fails_the_run_with_its_message() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut config = config(tmp.path(), Duration::ZERO);
    config.job.max_in_flight = 3;
    let error = run_embedded(&config, &mut Panicking, &RunProgress::default()).expect_err("the run fails");
    let message = error.to_string();
    assert!(message.contains("panicked scoring a batch: a bug in the model"), "{message}");
}

#[test]
fn jittered_identities_outside_the_window_are_dead_letters_and_no_transaction_is_lost() {
    let model = seed_model();
    let tmp = tempfile::tempdir().expect("tmp");
    // Identities shifted up to ±150 s: some fall outside the ±60 s window.
    let summary = run(tmp.path(), Duration::from_secs(150), &model);
    assert_eq!(summary.scored, 1500, "every transaction is scored, matched or not");
    let stream = scores(&tmp.path().join("scores.csv"));
    assert_eq!(stream.len(), 1500);
    let matched = stream.values().filter(|(_, m)| *m).count() as u64;
    assert_eq!(matched, summary.join.matched);
    assert!(summary.join.matched > 50 && summary.join.matched < 348, "matched {}", summary.join.matched);
    // Every identity either joined or is a dead letter with a reason.
    let dead = std::fs::read_to_string(tmp.path().join("dead_letters.jsonl")).expect("dead letters");
    let reasons: Vec<serde_json::Value> = dead.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(summary.join.matched + reasons.len() as u64, 348);
    assert!(reasons.iter().all(|r| r["reason"].as_str().is_some_and(|s| s.contains("TransactionID"))));
    assert!(reasons.iter().all(|r| r["origin"].as_str().is_some_and(|s| s.contains("train_identity.csv:"))));
}

fn remote_config(url: String, protocol: RemoteProtocol, attempts: u32) -> RemoteConfig {
    RemoteConfig {
        url,
        protocol,
        api_key: None,
        timeout: Duration::from_secs(10),
        attempts,
        backoff: Duration::from_millis(10),
        breaker: BreakerConfig::default(),
    }
}

#[test]
fn remote_scoring_through_fraudstream_serve_gives_the_in_process_scores() {
    let model = seed_model();
    let model_path = shared_reference().join("seed-model/pipeline_75.onnx");
    let server = fraudstream_serve::start_background(fraudstream_serve::ServeConfig {
        models: vec![("fraud".into(), model_path)],
        addr: "127.0.0.1:0".parse().expect("addr"),
        reload_interval: Duration::ZERO,
        ..Default::default()
    })
    .expect("server");
    let tmp = tempfile::tempdir().expect("tmp");
    let local = run(&tmp.path().join("local"), Duration::ZERO, &model);
    let a = scores(&tmp.path().join("local/scores.csv"));
    // Both request formats, one batch at a time and four in flight (answers written in batch order).
    for (path, in_flight) in [("/score", 1), ("/v2/models/fraud/infer", 4)] {
        let url = server.url(path);
        let mut remote = RemoteScorer::new(remote_config(url.clone(), RemoteProtocol::for_url(&url), 3), &model)
            .expect("remote scorer");
        let out = tmp.path().join(format!("remote-{in_flight}"));
        let mut config = config(&out, Duration::ZERO);
        config.job.max_in_flight = in_flight;
        let remote_summary = run_embedded(&config, &mut remote, &RunProgress::default()).expect("remote run");
        assert_eq!((local.scored, remote_summary.scored), (1500, 1500), "{path}");
        let b = scores(&out.join("scores.csv"));
        for (id, (p, matched)) in &a {
            let (q, m) = b[id];
            assert!((p - q).abs() <= 1e-6, "{path}: TransactionID {id}: in-process {p}, remote {q}");
            assert_eq!(*matched, m);
        }
    }
}

#[test]
fn an_unreachable_model_endpoint_fails_the_run_with_a_clear_error_after_retries() {
    let model = seed_model();
    let tmp = tempfile::tempdir().expect("tmp");
    let remote_config = remote_config("http://127.0.0.1:9/score".into(), RemoteProtocol::AzureMl, 2);
    let mut remote = RemoteScorer::new(remote_config, &model).expect("remote scorer");
    let err = run_embedded(&config(tmp.path(), Duration::ZERO), &mut remote, &RunProgress::default())
        .expect_err("no endpoint");
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:9/score") && msg.contains("failed 2 time(s)"), "{msg}");
}

#[test]
fn with_skip_a_failing_model_gives_null_scores_and_dead_letters_and_the_breaker_stops_calling_it() {
    let model = seed_model();
    let tmp = tempfile::tempdir().expect("tmp");
    let mut remote_config = remote_config("http://127.0.0.1:9/score".into(), RemoteProtocol::AzureMl, 2);
    remote_config.breaker = BreakerConfig { failures: 2, open_for: Duration::from_secs(600) };
    let mut remote = RemoteScorer::new(remote_config, &model).expect("remote scorer");
    let mut config = config(tmp.path(), Duration::ZERO);
    config.job.on_model_error = OnModelError::Skip;
    let summary = run_embedded(&config, &mut remote, &RunProgress::default()).expect("the run goes on");
    assert_eq!((summary.scored, summary.model_errors, summary.alerts), (1500, 1500, 0));
    let text = std::fs::read_to_string(tmp.path().join("scores.csv")).expect("scores");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1500);
    assert!(rows.iter().all(|l| l.split(',').nth(1) == Some("")), "every score is empty");
    let dead = std::fs::read_to_string(tmp.path().join("dead_letters.jsonl")).expect("dead letters");
    let reasons: Vec<String> = dead
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["reason"].to_string())
        .filter(|r| r.contains("model error"))
        .collect();
    assert_eq!(reasons.len(), 1500, "one dead letter per unscored transaction");
    // 1,500 rows in batches of about 64: two batches call (and fail), the breaker fails the rest without a call.
    let called = reasons.iter().filter(|r| r.contains("failed 2 time(s)")).count();
    let open = reasons.iter().filter(|r| r.contains("circuit breaker")).count();
    assert!(called <= 2 * 80 && called + open == 1500, "called {called}, open {open}: {:?}", &reasons[..2]);
}

#[test]
fn the_job_reports_its_counts_and_latencies_as_metrics() {
    let model = seed_model();
    let tmp = tempfile::tempdir().expect("tmp");
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let summary = metrics::with_local_recorder(&recorder, || run(tmp.path(), Duration::from_secs(150), &model));
    let text = handle.render();
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number")
    };
    assert_eq!(value("fraudstream_scored_total"), 1500.0);
    assert_eq!(value("fraudstream_records_in_total{input=\"transactions\"}"), 1500.0);
    assert_eq!(value("fraudstream_records_in_total{input=\"identities\"}"), 348.0);
    assert_eq!(value("fraudstream_join_matched_total"), summary.join.matched as f64);
    assert_eq!(value("fraudstream_dead_letters_total"), summary.dead_letters as f64);
    assert_eq!(value("fraudstream_alerts_total"), summary.alerts as f64);
    assert!(text.contains("fraudstream_end_to_end_latency_seconds"), "{text}");
    assert!(text.contains("fraudstream_inference_seconds"), "{text}");
}

/// The sample's transactions with the given identity rows (a header, then `rows`), in `dir`.
fn with_identities(dir: &Path, rows: &[&str]) -> FileSourceConfig {
    let source = std::fs::read_to_string(ieee_cis_sample().join("train_identity.csv")).expect("identities");
    let header = source.lines().next().expect("header");
    let path = dir.join("identities.csv");
    std::fs::write(&path, format!("{header}\n{}", rows.iter().map(|r| format!("{r}\n")).collect::<String>()))
        .expect("write identities");
    FileSourceConfig { identities: Some(path), ..files(Duration::ZERO) }
}

#[test]
fn a_finished_identity_file_holds_no_transaction_back() {
    // A header-only identity file: its end is the end of that input, so transactions leave the join by the
    // watermark as the transactions file goes on, not all at the end (or after --idle-timeout).
    let tmp = tempfile::tempdir().expect("tmp");
    let mut config = config(&tmp.path().join("out"), Duration::ZERO);
    config.files = with_identities(tmp.path(), &[]);
    let model = seed_model();
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let s = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("run");
    assert_eq!((s.scored, s.join.matched), (1500, 0));
    assert!(
        s.join.unmatched_at_end < 100,
        "{} of 1500 transactions waited for the end of the input",
        s.join.unmatched_at_end
    );
}

#[test]
fn duplicate_transactions_and_orphan_identities_are_counted_and_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let sample = std::fs::read_to_string(ieee_cis_sample().join("train_transaction.csv")).expect("sample");
    let mut lines: Vec<&str> = sample.lines().collect();
    let repeated = lines[2];
    lines.insert(3, repeated);
    let tx = tmp.path().join("transactions.csv");
    std::fs::write(&tx, lines.join("\n") + "\n").expect("write");
    let mut config = config(&tmp.path().join("out"), Duration::ZERO);
    // An identity row of a TransactionID the transactions file does not have.
    let identities = std::fs::read_to_string(ieee_cis_sample().join("train_identity.csv")).expect("identities");
    let orphan = identities.lines().nth(1).expect("a row").replacen(|c: char| c.is_ascii_digit(), "9", 1);
    config.files = FileSourceConfig { transactions: tx, ..with_identities(tmp.path(), &[&orphan]) };
    let model = seed_model();
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let s = metrics::with_local_recorder(&recorder, || run_embedded(&config, &mut scorer, &RunProgress::default()))
        .expect("run");
    assert_eq!(s.scored, 1501, "the repeated transaction is scored again: {s:?}");
    assert_eq!(s.duplicate_transactions, Some(1));
    let text = handle.render();
    assert!(text.lines().any(|l| l == "fraudstream_duplicate_transactions_total 1"), "a metric too:\n{text}");
    let kinds: Vec<(&str, u64)> = s.dead_letters_by_kind.iter().map(|(k, n)| (k.name(), *n)).collect();
    assert_eq!(kinds, [("no_transaction", 1)]);
    let dead = std::fs::read_to_string(tmp.path().join("out/dead_letters.jsonl")).expect("dead letters");
    assert!(dead.contains("\"kind\":\"no_transaction\""), "{dead}");
}

#[test]
fn a_renamed_column_the_model_reads_stops_the_run_at_start_unless_allowed() {
    // The repro: `TransactionAmt` renamed in the header. Read as missing, it changed 1,492 of 1,500 scores while
    // the run exited 0; now the run refuses before a row is scored, naming the file and the column.
    let tmp = tempfile::tempdir().expect("tmp");
    let source = std::fs::read_to_string(ieee_cis_sample().join("train_transaction.csv")).expect("sample");
    let renamed = tmp.path().join("renamed.csv");
    std::fs::write(&renamed, source.replacen("TransactionAmt", "TransactionAmount", 1)).expect("write");
    let model = seed_model();
    let inputs = fraudstream_features::InputMapping::for_model(&model).expect("mapping");
    let mut config = config(&tmp.path().join("out"), Duration::ZERO);
    config.files.transactions = renamed.clone();
    config.files.required = RequiredColumns::for_model(inputs.names());
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let err = run_embedded(&config, &mut scorer, &RunProgress::default()).expect_err("refused").to_string();
    assert!(err.starts_with(&format!("{}: the model reads column `TransactionAmt`", renamed.display())), "{err}");
    assert!(err.contains("--allow-missing-columns"), "{err}");
    assert!(
        !tmp.path().join("out/scores.csv").exists()
            || std::fs::read_to_string(tmp.path().join("out/scores.csv")).expect("scores").lines().count() <= 1,
        "nothing scored"
    );
    // Allowed: every row scored with the amount missing.
    config.files.required.allow_missing = true;
    let s = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("allowed");
    assert_eq!(s.scored, 1500);
}

#[test]
fn a_stray_quote_costs_its_row_only_and_the_dead_letter_carries_the_row() {
    // The repro: one stray quote on line 12 used to swallow the rest of the file (10 of 1,500 scored, exit 0).
    let tmp = tempfile::tempdir().expect("tmp");
    let source = std::fs::read_to_string(ieee_cis_sample().join("train_transaction.csv")).expect("sample");
    let mut lines: Vec<String> = source.lines().map(str::to_string).collect();
    assert!(lines[11].contains("mastercard"), "line 12 pays by mastercard");
    lines[11] = lines[11].replacen("mastercard", "master\"card", 1);
    let broken = tmp.path().join("broken.csv");
    std::fs::write(&broken, lines.join("\n") + "\n").expect("write");
    let model = seed_model();
    let out = tmp.path().join("out");
    let mut config = config(&out, Duration::ZERO);
    config.files.transactions = broken.clone();
    config.files.max_bad_rows = 5;
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let s = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("run");
    assert_eq!(s.scored, 1499, "every other row is scored");
    let dead = std::fs::read_to_string(out.join("dead_letters.jsonl")).expect("dead letters");
    let row: serde_json::Value = dead
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|d| d["origin"].as_str().is_some_and(|o| o.ends_with("broken.csv:12")))
        .expect("a dead letter for line 12");
    assert!(row["reason"].as_str().expect("reason").contains("card4"), "{row}");
    assert_eq!(row["payload"].as_str(), Some(lines[11].as_str()), "the row as it was in the file");
}
