//! Recovery after partitions are assigned (at the start, and when a rebalance moves partitions from a failed
//! instance): the output is made durable, what it already holds is read back so it is not written again, and the
//! client state of the scoring stage is rebuilt from the internal topic.
//!
//! Every record past the committed offsets is delivered again (commits never pass a record the join still holds,
//! see `checkpoint`), and some of them may already have been scored by the previous owner: reading back the
//! `scores` and `alerts` topics is what lets the output hold each transaction once on brokers without Kafka
//! transactions. With transactions, output of a failed attempt is aborted and never visible to `read_committed`
//! readers, so there is nothing to read back (and our own open transaction would hold the read below the end).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use rdkafka::message::Message;

use super::driver::{KafkaInput, KafkaStage};
use super::sink::{decode_score, KafkaSinks};
use super::KafkaSettings;
use crate::error::EngineError;
use crate::job::Job;
use crate::sink::Written;

/// Makes the output durable, reads back what it already holds, and rebuilds client state from the source's
/// history.
pub(super) fn recover<S: KafkaInput, D: KafkaStage>(source: &mut S, job: &mut Job<'_, D>) -> Result<(), EngineError> {
    job.drain()?;
    job.flush()?;
    let stage = job.downstream();
    stage.read_back()?;
    if let Some(features) = stage.features() {
        // Start empty and replay everything before the committed offsets: what this instance observed beyond them
        // is delivered again and observed then, so each record counts once.
        features.reset()?;
        let rebuilding = Instant::now();
        let replayed = source.history(&mut |joined| features.replay(&joined))?;
        if replayed > 0 {
            tracing::info!(
                "rebuilt client state from {replayed} earlier records in {:.1} s ({} entities)",
                rebuilding.elapsed().as_secs_f64(),
                features.entities()
            );
        }
    }
    Ok(())
}

/// The transactions the `scores` and `alerts` topics already hold, with the scores they carry (`None` in
/// exactly-once mode, which needs no read-back).
pub(super) fn read_back_scores(sinks: &KafkaSinks) -> Result<Option<Written>, EngineError> {
    if sinks.transactional() {
        return Ok(None);
    }
    let (config, registry) = (sinks.config(), sinks.registry());
    let reading = Instant::now();
    let written = Written {
        scored: scored_transaction_ids(&config.kafka, registry, &config.scores_topic)?,
        // Alerts carry the same records as their scores.
        alerted: scored_transaction_ids(&config.kafka, registry, &config.alerts_topic)?,
    };
    tracing::info!(
        "the output already holds {} transactions and {} alerts (read back in {:.1} s); they are not written again",
        written.scored.len(),
        written.alerted.len(),
        reading.elapsed().as_secs_f64()
    );
    Ok(Some(written))
}

/// The TransactionIDs already in a `scores` (or `alerts`) topic with their scores, read from the start of every
/// partition to its end.
fn scored_transaction_ids(
    kafka: &KafkaSettings,
    registry: &SchemaRegistry,
    topic: &str,
) -> Result<HashMap<i64, Option<f64>>, EngineError> {
    let mut ids = HashMap::new();
    kafka.read_to_end(topic, Duration::from_millis(500), |msg| {
        let record = decode_score(registry, msg.payload().unwrap_or_default())?;
        ids.entry(record.transaction_id).or_insert(record.score);
        Ok(())
    })?;
    Ok(ids)
}
