//! Bench command: `produce` throughput to a real broker, next to the same files read and encoded without Kafka.
//!
//! ```text
//! fraudstream generate --rows 590540 --out data
//! scripts/broker.sh   # tansu on 127.0.0.1:9092
//! cargo run --release -p fraudstream-engine --example produce_bench -- data 127.0.0.1:9092 6
//! ```
//! The Schema Registry is the in-process fake (a Confluent registry cannot run here); it is hit once per schema.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::avro::{encode_value, write_header};
use fraudstream_data::Record;
use fraudstream_engine::flow::SourceEvent;
use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress};
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::source::files::{FileSource, FileSourceConfig};
use fraudstream_engine::source::Source;
use fraudstream_testkit::broker::unique_topic;
use fraudstream_testkit::FakeSchemaRegistry;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("data", String::as_str));
    let brokers = args.get(1).cloned().unwrap_or_else(|| "127.0.0.1:9092".into());
    let partitions: i32 = args.get(2).map_or(Ok(6), |p| p.parse())?;
    let files = FileSourceConfig::new(dir.join("train_transaction.csv"), Some(dir.join("train_identity.csv")));

    // Anchor: the same source and encoding, no Kafka.
    let started = Instant::now();
    let mut source = FileSource::open(&files)?;
    let (mut rows, mut bytes, mut buf) = (0u64, 0usize, Vec::with_capacity(8192));
    loop {
        match source.poll(Duration::ZERO)? {
            SourceEvent::Record { record, .. } => {
                buf.clear();
                write_header(1, &mut buf);
                let (table, row) = match &record {
                    Record::Transaction(t) => (fraudstream_data::Table::Transaction, &t.row),
                    Record::Identity(i) => (fraudstream_data::Table::Identity, &i.row),
                };
                encode_value(table, row, record.event_time(), &mut buf)?;
                bytes += buf.len();
                rows += 1;
            }
            SourceEvent::End => break,
            _ => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "read+encode (no Kafka): {rows} rows, {:.1} MB Avro in {secs:.2}s = {:.0} rows/s",
        bytes as f64 / 1e6,
        rows as f64 / secs
    );

    let registry = FakeSchemaRegistry::start();
    let config = ProduceConfig {
        kafka: KafkaSettings::new(brokers),
        registry_url: registry.url().to_string(),
        registry_auth: None,
        transactions_topic: unique_topic("bench-tx"),
        identities_topic: unique_topic("bench-id"),
        partitions,
        replication: 1,
        pacing: Pacing::AsFastAsPossible,
        files,
        flush_timeout: Duration::from_secs(300),
    };
    let summary = produce(&config, Arc::new(ProduceProgress::default()))?;
    println!(
        "produce to broker: {} rows acknowledged in {:.2}s = {:.0} rows/s ({} partitions)",
        summary.acked,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_sec(),
        summary.partitions
    );
    Ok(())
}
