//! `fraudstream produce`: CSV → Avro → Kafka.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use fraudstream_engine::kafka::produce::{produce, ProduceConfig, ProduceProgress};
use fraudstream_engine::kafka::KafkaSettings;
use fraudstream_engine::pacing::Pacing;
use fraudstream_engine::source::files::FileSourceConfig;

use crate::args::{ClientArgs, ProduceArgs};
use crate::progress::{count_data_lines, Progress};

/// The Kafka settings of the connection flags.
pub fn kafka_settings(brokers: &str, client: &ClientArgs) -> anyhow::Result<KafkaSettings> {
    let mut settings = KafkaSettings::new(brokers);
    for kv in &client.properties {
        settings.properties.push(KafkaSettings::parse_property(kv)?);
    }
    Ok(settings)
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let pacing = match (args.speedup, args.rate) {
        (Some(x), _) if x > 0.0 => Pacing::Speedup(x),
        (_, Some(r)) if r > 0.0 => Pacing::Rate(r),
        (None, None) => Pacing::AsFastAsPossible,
        _ => anyhow::bail!("--speedup and --rate must be positive"),
    };
    let config = ProduceConfig {
        kafka: kafka_settings(&args.kafka.brokers, &args.kafka.client)?,
        registry_url: args.kafka.client.schema_registry.clone(),
        registry_auth: args.kafka.client.schema_registry_auth.clone(),
        transactions_topic: args.kafka.client.transactions_topic.clone(),
        identities_topic: args.kafka.client.identities_topic.clone(),
        partitions: args.partitions,
        replication: args.replication_factor,
        pacing,
        files: FileSourceConfig {
            max_bad_rows: args.input.max_bad_rows,
            identity_jitter: args.identity_jitter,
            seed: args.seed,
            ..FileSourceConfig::new(args.input.transactions.clone(), args.input.identities.clone())
        },
        flush_timeout: args.flush_timeout,
    };
    let mut total = count_data_lines(&args.input.transactions)
        .with_context(|| format!("reading {}", args.input.transactions.display()))?;
    if let Some(p) = &args.input.identities {
        total += count_data_lines(p).with_context(|| format!("reading {}", p.display()))?;
    }
    let counters = Arc::new(ProduceProgress::default());
    let acked = counters.clone();
    let bar = Progress::start("producing", Some(total), move || acked.acked.load(Ordering::Relaxed), args.quiet);
    let result = produce(&config, counters);
    bar.finish();
    let summary = result?;
    println!(
        "produced {} transactions and {} identities to {} / {} ({} partitions) in {:.1}s: {:.0} rows/s, {} acknowledged",
        summary.transactions,
        summary.identities,
        config.transactions_topic,
        config.identities_topic,
        summary.partitions,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_sec(),
        summary.acked
    );
    if summary.bad_rows > 0 || summary.orphan_identities > 0 {
        println!(
            "not produced: {} malformed rows, {} identities without a transaction (each reported above)",
            summary.bad_rows, summary.orphan_identities
        );
    }
    if let Some(path) = &args.labels {
        let labels = crate::labels_file::read_labels(path, args.input.max_bad_rows)?;
        let registry = fraudstream_data::registry::SchemaRegistry::new(
            &args.kafka.client.schema_registry,
            args.kafka.client.schema_registry_auth.as_deref(),
        )?;
        let written = fraudstream_engine::kafka::labels::write_labels(
            &config.kafka,
            &registry,
            &args.labels_topic,
            args.partitions,
            &labels,
        )?;
        println!("produced {written} labels from {} to {}", path.display(), args.labels_topic);
    }
    Ok(())
}
