//! A broker that goes away in the middle of `produce`: librdkafka retries, then the run stops with an error that
//! says how many rows were acknowledged. Uses a private tansu process so killing it affects no other test.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress};
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::EngineError;
use fraudstream_testkit::{ieee_cis_sample, FakeSchemaRegistry};

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_private_tansu() -> (Broker, u16) {
    let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let bin = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .args(["broker", "--storage-engine", "memory://tansu/", "--listener-url", &url])
        .args(["--advertised-listener-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin} (scripts/setup.sh installs it): {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Broker(child), port)
}

#[test]
fn broker_loss_mid_run_is_a_clear_error_with_the_acknowledged_count() {
    let (broker, port) = start_private_tansu();
    let registry = FakeSchemaRegistry::start();
    let mut kafka = KafkaSettings::new(format!("127.0.0.1:{port}"));
    kafka.properties.push(("message.timeout.ms".into(), "3000".into()));
    let dir = ieee_cis_sample();
    let config = ProduceConfig {
        kafka,
        registry_url: registry.url().to_string(),
        registry_auth: None,
        transactions_topic: "transactions".into(),
        identities_topic: "identities".into(),
        partitions: 2,
        replication: 1,
        // Slow enough that the broker dies mid-run: 1,848 rows at 1,000 rows/s.
        pacing: Pacing::Rate(1000.0),
        files: FileSourceConfig::new(dir.join("train_transaction.csv"), Some(dir.join("train_identity.csv"))),
        flush_timeout: Duration::from_secs(30),
    };
    let progress = Arc::new(ProduceProgress::default());
    let run = {
        let progress = progress.clone();
        std::thread::spawn(move || produce(&config, progress))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while progress.acked.load(Ordering::Relaxed) < 200 {
        assert!(Instant::now() < deadline, "nothing was acknowledged");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(broker);
    let err = run.join().expect("produce thread").expect_err("a run whose broker died must fail");
    let message = err.to_string();
    let EngineError::Delivery { sent, acked, failed, .. } = err else { panic!("expected a delivery error: {message}") };
    assert!((200..1848).contains(&acked), "acked {acked}");
    assert!(failed > 0, "the failed rows are counted");
    assert_eq!(acked + failed, sent, "every sent row is either acknowledged or reported failed");
    assert!(message.contains(&format!("{acked} of {sent} rows were acknowledged")), "{message}");
}
