//! The job's Kafka-mode metrics through a process-wide recorder (the consumer-lag gauge is set on librdkafka's
//! statistics thread, so a thread-local recorder would not see it): its own test binary, against tansu over TCP.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::run::{run_kafka, JobConfig, KafkaRunConfig, RunProgress};
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_engine::sink::kafka::KafkaSinkConfig;
use fraudstream_engine::source::kafka::{Assignment, KafkaSourceConfig};
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

mod common;
use common::produce_files;

#[test]
fn consumer_lag_per_partition_is_exported_while_the_job_reads() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");

    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 2);
    let mut kafka = run.kafka.clone();
    kafka.properties.push(("statistics.interval.ms".into(), "200".into()));
    let scores = unique_topic("scores");
    let config = KafkaRunConfig {
        source: KafkaSourceConfig {
            kafka: kafka.clone(),
            group: unique_topic("group"),
            transactions_topic: run.tx_topic.clone(),
            identities_topic: run.id_topic.clone(),
            assignment: Assignment::All,
        },
        sinks: KafkaSinkConfig {
            kafka,
            scores_topic: scores.clone(),
            alerts_topic: format!("{scores}-alerts"),
            dead_letters_topic: format!("{scores}-dead"),
            partitions: 2,
            replication: 1,
            model: "pipeline_75".into(),
            model_version: "1".into(),
            flush_timeout: Duration::from_secs(30),
            transactional_id: None,
        },
        registry_url: run.registry.url().to_string(),
        registry_auth: None,
        job: JobConfig {
            join: JoinConfig::default(),
            max_out_of_orderness: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(5),
            // Slow enough (about 3 s for the sample) for several statistics reports while input is pending.
            pacing: Pacing::Rate(600.0),
            batch_size: 64,
            batch_timeout: Duration::from_millis(20),
            threshold: 0.5,
            quality: None,
            client_features: None,
            max_in_flight: 1,
            on_model_error: Default::default(),
        },
        commit_interval: Duration::from_millis(200),
        stop_after_idle: Some(Duration::from_secs(2)),
    };
    let model = Model::load(shared_reference().join("seed-model/pipeline_75.onnx")).expect("model");
    let mut scorer = InProcessScorer::new(&model).expect("scorer");
    let summary = run_kafka(&config, &mut scorer, &RunProgress::default(), &AtomicBool::new(false), None).expect("run");
    assert_eq!(summary.scored, 1500);

    let text = handle.render();
    let lags: Vec<&str> = text.lines().filter(|l| l.starts_with("fraudstream_consumer_lag{")).collect();
    for (topic, partition) in [(&run.tx_topic, 0), (&run.tx_topic, 1), (&run.id_topic, 0), (&run.id_topic, 1)] {
        let label = format!("partition=\"{partition}\",topic=\"{topic}\"");
        let alt = format!("topic=\"{topic}\",partition=\"{partition}\"");
        assert!(lags.iter().any(|l| l.contains(&label) || l.contains(&alt)), "no lag for {topic}/{partition}:\n{text}");
    }
    assert_eq!(
        text.lines().find(|l| l.starts_with("fraudstream_scored_total")).and_then(|l| l.rsplit(' ').next()),
        Some("1500")
    );
}
