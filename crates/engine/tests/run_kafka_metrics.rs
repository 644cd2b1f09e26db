//! The job's Kafka-mode metrics through a process-wide recorder (the consumer-lag gauge is set on librdkafka's
//! statistics thread, so a thread-local recorder would not see it): its own test binary, against tansu over TCP.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::kafka::source::Assignment;
use fraudstream_engine::kafka::topology::run_kafka;
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::scorer::InProcessScorer;
use fraudstream_model::Model;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::{ieee_cis_sample, shared_reference};

mod common;
use common::{job_config, produce_files};

#[test]
fn consumer_lag_per_partition_is_exported_while_the_job_reads() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");

    let sample = ieee_cis_sample();
    let run = produce_files(&sample.join("train_transaction.csv"), &sample.join("train_identity.csv"), 2);
    let mut config = job_config(&run, &unique_topic("group"), &unique_topic("scores"));
    for kafka in [&mut config.source.kafka, &mut config.sinks.kafka] {
        kafka.properties.push(("statistics.interval.ms".into(), "200".into()));
    }
    config.source.assignment = Assignment::All;
    config.sinks.partitions = 2;
    config.job.join = JoinConfig::default();
    config.job.idle_timeout = Duration::from_secs(5);
    // Slow enough (about 3 s for the sample) for several statistics reports while input is pending.
    config.job.pacing = Pacing::Rate(600.0);
    config.job.batch_size = 64;
    config.stop_after_idle = Some(Duration::from_secs(2));
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
