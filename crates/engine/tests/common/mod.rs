//! Shared setup of the Kafka integration tests: produce files to fresh topics, consume them back.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::Record;
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::produce::{produce, ProduceConfig, ProduceProgress, ProduceSummary};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::source::kafka::{KafkaSource, KafkaSourceConfig};
use fraudstream_engine::source::{Origin, Source, SourceEvent};
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
    };
    let mut source = KafkaSource::new(&config, registry).expect("consumer");
    let mut out = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < expected && Instant::now() < deadline {
        match source.poll(Duration::from_millis(200)).expect("poll") {
            SourceEvent::Record { record, origin } => out.push((record, origin)),
            SourceEvent::DeadLetter(d) => panic!("unexpected dead letter: {d:?}"),
            SourceEvent::Idle | SourceEvent::End => {}
        }
    }
    out
}
