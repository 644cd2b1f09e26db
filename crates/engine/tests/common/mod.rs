//! Shared setup of the Kafka integration tests: produce files to fresh topics, consume them back.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::Record;
use fraudstream_engine::flow::{Origin, SourceEvent};
use fraudstream_engine::job::JobConfig;
use fraudstream_engine::join::JoinConfig;
use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress, ProduceSummary};
use fraudstream_engine::kafka::sink::KafkaSinkConfig;
use fraudstream_engine::kafka::source::{KafkaSource, KafkaSourceConfig};
use fraudstream_engine::kafka::topology::KafkaRunConfig;
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::source::Source;
use fraudstream_testkit::broker::{require_broker, unique_topic};
use fraudstream_testkit::FakeSchemaRegistry;

pub struct Run {
    pub registry: FakeSchemaRegistry,
    pub kafka: KafkaSettings,
    pub tx_topic: String,
    pub id_topic: String,
    pub summary: ProduceSummary,
}

pub fn produce_files(transactions: &Path, identities: &Path, partitions: i32) -> Run {
    produce_files_to(KafkaSettings::new(require_broker()), transactions, identities, partitions, |_| {})
}

/// [`produce_files`] to a given cluster (e.g. librdkafka's mock cluster); `prepare` sees each input topic's name
/// first (to create it where the admin API is missing).
pub fn produce_files_to(
    kafka: KafkaSettings,
    transactions: &Path,
    identities: &Path,
    partitions: i32,
    prepare: impl Fn(&str),
) -> Run {
    let registry = FakeSchemaRegistry::start();
    let (tx_topic, id_topic) = (unique_topic("tx"), unique_topic("id"));
    prepare(&tx_topic);
    prepare(&id_topic);
    let config = ProduceConfig {
        kafka: kafka.clone(),
        registry_url: registry.url().to_string(),
        registry_auth: None,
        transactions_topic: tx_topic.clone(),
        identities_topic: id_topic.clone(),
        partitions,
        replication: 1,
        pacing: Pacing::AsFastAsPossible,
        files: FileSourceConfig {
            max_bad_rows: 5,
            ..FileSourceConfig::new(transactions.to_path_buf(), Some(identities.to_path_buf()))
        },
        flush_timeout: Duration::from_secs(60),
    };
    let summary = produce(&config, Arc::new(ProduceProgress::default())).expect("produce");
    Run { registry, kafka, tx_topic, id_topic, summary }
}

/// Consumes both topics until `expected` records arrived (or 60 s passed).
pub fn consume(run: &Run, expected: usize) -> Vec<(Record, Origin)> {
    let registry = SchemaRegistry::new(run.registry.url(), None).expect("registry client");
    let config = KafkaSourceConfig {
        kafka: run.kafka.clone(),
        group: unique_topic("group"),
        transactions_topic: run.tx_topic.clone(),
        identities_topic: run.id_topic.clone(),
        assignment: Default::default(),
        columns: None,
        required: Default::default(),
    };
    let mut source = KafkaSource::new(&config, registry).expect("consumer");
    let mut out = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < expected && Instant::now() < deadline {
        let event = source.poll(Duration::from_millis(200)).expect("poll");
        // As the job does: acknowledge assignments (the source reads nothing new until then).
        source.take_reassigned();
        match event {
            SourceEvent::Record { record, origin } => out.push((record, origin)),
            SourceEvent::DeadLetter(d) => panic!("unexpected dead letter: {d:?}"),
            SourceEvent::Joined(j) | SourceEvent::Seen(j) => panic!("the input topics hold no joined records: {j:?}"),
            SourceEvent::Idle | SourceEvent::End | SourceEvent::PartitionEnd(_) => {}
        }
    }
    out
}

/// The job on `run`'s topics as the Kafka tests run it; tests change the fields they are about.
pub fn job_config(run: &Run, group: &str, scores_topic: &str) -> KafkaRunConfig {
    KafkaRunConfig {
        source: KafkaSourceConfig {
            kafka: run.kafka.clone(),
            group: group.to_string(),
            transactions_topic: run.tx_topic.clone(),
            identities_topic: run.id_topic.clone(),
            assignment: Default::default(),
            columns: None,
            required: Default::default(),
        },
        sinks: KafkaSinkConfig {
            kafka: run.kafka.clone(),
            scores_topic: scores_topic.to_string(),
            alerts_topic: format!("{scores_topic}-alerts"),
            dead_letters_topic: format!("{scores_topic}-dead"),
            partitions: 3,
            replication: 1,
            model: "pipeline_75".into(),
            model_version: "1".into(),
            transactional_id: None,
            challenger: None,
            flush_timeout: Duration::from_secs(30),
        },
        registry_url: run.registry.url().to_string(),
        registry_auth: None,
        // Generous processing-time limits: on a loaded test machine a partition may lag by seconds, and this test
        // is about where every score ends up, not about timeouts.
        job: JobConfig {
            join: JoinConfig { max_wait: Duration::from_secs(30), ..JoinConfig::default() },
            max_out_of_orderness: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(30),
            pacing: Pacing::AsFastAsPossible,
            batch_size: 128,
            batch_timeout: Duration::from_millis(20),
            threshold: 0.5,
            max_in_flight: 1,
            on_model_error: Default::default(),
            monitor: None,
            client_features: None,
        },
        commit_interval: Duration::from_millis(200),
        stop_after_idle: Some(Duration::from_secs(4)),
        snapshot_interval: Duration::from_secs(1),
        labels_topic: None,
    }
}
