//! Recovery after partitions are assigned (at the start, and when a rebalance moves partitions from a failed
//! instance): the output is made durable, what it already holds is read back so it is not written again, and the
//! client state of the scoring stage is rebuilt from the internal topic.
//!
//! Every record past the committed offsets is delivered again (commits never pass a record the join still holds,
//! see `checkpoint`), and some of them may already have been scored by the previous owner: reading back the
//! `scores` and `alerts` topics is what lets the output hold each transaction once on brokers without Kafka
//! transactions. With transactions, output of a failed attempt is aborted and never visible to `read_committed`
//! readers, so there is nothing to read back (and our own open transaction would hold the read below the end).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::EventTime;
use rdkafka::message::Message;

use super::checkpoint::Checkpoints;
use super::delivery::OutputEnds;
use super::sink::{decode_score, KafkaSinks};
use super::stage::ReadBack;
use super::stage::{KafkaInput, KafkaStage};
use super::KafkaSettings;
use crate::error::EngineError;
use crate::features::FeatureStep;
use crate::job::{Job, ScoringStage};
use crate::monitor::MAX_MODELS;
use crate::sink::Written;

/// Makes the output durable, reads back what it already holds (from where the checkpoints of the committed
/// positions say), rebuilds client state from the source's history, and starts the checkpoints over.
pub(super) fn recover<S: KafkaInput, D: KafkaStage>(
    source: &mut S,
    job: &mut Job<'_, D>,
    checkpoints: &mut Checkpoints,
) -> Result<(), EngineError> {
    job.drain()?;
    job.flush()?;
    let committed = source.committed();
    let restart = checkpoints.restart_from(&committed)?;
    let stage = job.downstream();
    checkpoints.restart(stage.sinks().output_ends(), &restart.read_back);
    stage.read_back(&restart.read_back)?;
    // Only at the run's first assignment: at a later rebalance the running state is newer than any snapshot (its
    // labels feed has moved on) and goes on as it is.
    if let (Some(snapshot), true) = (restart.monitor, checkpoints.first_assignment()) {
        restore_monitoring(stage, checkpoints, snapshot)?;
    }
    let kafka = stage.sinks().config().kafka.clone();
    let Some(features) = stage.features() else { return Ok(()) };
    // The client state: the snapshot the checkpoints name, if it is all there, and the records between its
    // positions and the committed ones; else everything before the committed positions. What this instance took
    // beyond them is delivered again and taken then, so each record counts once.
    features.reset()?;
    let rebuilding = Instant::now();
    let mut from = HashMap::new();
    if let Some(snapshot) = restart.snapshot {
        match super::snapshot::read(&kafka, checkpoints.state_topic(), &snapshot)? {
            Some(bytes) => {
                features.restore(&bytes)?;
                from = snapshot.positions.iter().map(|(_, p, o)| (*p, *o)).collect();
                tracing::info!("restored client state from snapshot {:016x} ({} bytes)", snapshot.id, bytes.len());
                checkpoints.restored(snapshot);
            }
            None => tracing::warn!(
                "client state snapshot {:016x} is not complete in {}: replaying the internal topic from its start",
                snapshot.id,
                checkpoints.state_topic()
            ),
        }
    }
    let replayed = source.history(&from, &mut |joined| features.replay(&joined))?;
    tracing::info!(
        "rebuilt client state from {replayed} records of the internal topic in {:.1} s ({} entities)",
        rebuilding.elapsed().as_secs_f64(),
        features.entities()
    );
    Ok(())
}

/// Restores the monitoring snapshot `wanted` (when it is all there and fits the models), then reads the scores
/// written after it back into it (see [`super::snapshot::MonitorSnapshot`]). What cannot be restored is logged and
/// monitoring starts over: it feeds figures, not output.
fn restore_monitoring<D: KafkaStage>(
    stage: &mut D,
    checkpoints: &mut Checkpoints,
    wanted: super::snapshot::SnapshotRef,
) -> Result<(), EngineError> {
    if stage.monitoring().is_none() {
        return Ok(());
    }
    let restoring = Instant::now();
    let kafka = stage.sinks().config().kafka.clone();
    let saved = match super::snapshot::read(&kafka, checkpoints.state_topic(), &wanted)? {
        Some(bytes) => serde_json::from_slice::<super::snapshot::MonitorSnapshot>(&bytes).map_err(|e| e.to_string()),
        None => Err(format!("it is not complete in {}", checkpoints.state_topic())),
    };
    let saved = match saved {
        Ok(saved) => saved,
        Err(reason) => {
            tracing::warn!(
                "monitoring snapshot {:016x} cannot be restored ({reason}): monitoring starts over",
                wanted.id
            );
            return Ok(());
        }
    };
    let since: OutputEnds = saved.output_ends.iter().map(|(t, p, o)| ((t.clone(), *p), *o)).collect();
    let rescored = scores_since(stage.sinks(), &ReadBack::From(since))?;
    let Some(monitoring) = stage.monitoring() else { return Ok(()) };
    if let Err(e) = monitoring.restore(saved.state) {
        tracing::warn!("monitoring snapshot {:016x} cannot be restored ({e}): monitoring starts over", wanted.id);
        return Ok(());
    }
    for &(id, time, scores) in &rescored {
        monitoring.rescored(id, EventTime(time), scores);
    }
    tracing::info!(
        "restored monitoring from snapshot {:016x} and {} scores written after it in {:.1} s",
        wanted.id,
        rescored.len(),
        restoring.elapsed().as_secs_f64()
    );
    checkpoints.restored_monitor(wanted);
    Ok(())
}

/// Each transaction the `scores` topic holds from `from` on, once: (TransactionID, event time, the champion's and
/// the challenger's score, NaN where there is none), the challenger's read from its own topic.
fn scores_since(sinks: &KafkaSinks, from: &ReadBack) -> Result<Vec<(i64, i64, [f64; MAX_MODELS])>, EngineError> {
    let (config, registry) = (sinks.config(), sinks.registry());
    let mut challenger = HashMap::new();
    if let Some(output) = &config.challenger {
        read_back(&config.kafka, &output.topic, from, |msg| {
            let record = decode_score(registry, msg.payload().unwrap_or_default())?;
            challenger.insert(record.transaction_id, record.score.unwrap_or(f64::NAN));
            Ok(())
        })?;
    }
    let (mut seen, mut scores) = (HashSet::new(), Vec::new());
    read_back(&config.kafka, &config.scores_topic, from, |msg| {
        let record = decode_score(registry, msg.payload().unwrap_or_default())?;
        if seen.insert(record.transaction_id) {
            let theirs = challenger.get(&record.transaction_id).copied().unwrap_or(f64::NAN);
            scores.push((record.transaction_id, record.event_time, [record.score.unwrap_or(f64::NAN), theirs]));
        }
        Ok(())
    })?;
    Ok(scores)
}

/// The transactions the `scores` and `alerts` topics hold from `from` on, with the scores they carry.
pub(super) fn read_back_scores(sinks: &KafkaSinks, from: &ReadBack) -> Result<Written, EngineError> {
    if *from == ReadBack::Nothing {
        return Ok(Written::default());
    }
    let (config, registry) = (sinks.config(), sinks.registry());
    let reading = Instant::now();
    let written = Written {
        scored: scored_transaction_ids(&config.kafka, registry, &config.scores_topic, from)?,
        // Alerts carry the same records as their scores.
        alerted: scored_transaction_ids(&config.kafka, registry, &config.alerts_topic, from)?,
    };
    tracing::info!(
        "the output already holds {} transactions and {} alerts (read back in {:.1} s); they are not written again",
        written.scored.len(),
        written.alerted.len(),
        reading.elapsed().as_secs_f64()
    );
    Ok(written)
}

/// The TransactionIDs in a `scores` (or `alerts`) topic from `from` on, with their scores.
fn scored_transaction_ids(
    kafka: &KafkaSettings,
    registry: &SchemaRegistry,
    topic: &str,
    from: &ReadBack,
) -> Result<HashMap<i64, Option<f64>>, EngineError> {
    let mut ids = HashMap::new();
    read_back(kafka, topic, from, |msg| {
        let record = decode_score(registry, msg.payload().unwrap_or_default())?;
        ids.entry(record.transaction_id).or_insert(record.score);
        Ok(())
    })?;
    Ok(ids)
}

/// Reads `topic` from where `from` says (each partition's offset, the start of those it does not list, or all of
/// it) to its end.
pub(super) fn read_back(
    kafka: &KafkaSettings,
    topic: &str,
    from: &ReadBack,
    f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), EngineError>,
) -> Result<u64, EngineError> {
    let Some(starts) = from.starts(topic) else {
        return kafka.read_to_end(topic, Duration::ZERO, f);
    };
    let partitions = kafka.partition_counts(&[topic])?[0].unwrap_or(0);
    let starts = (0..partitions).map(|p| (p, starts.get(&p).copied().unwrap_or(0))).collect();
    kafka.read_from(topic, &starts, f)
}

impl KafkaStage for ScoringStage<'_, '_, '_, KafkaSinks> {
    fn sinks(&mut self) -> &mut KafkaSinks {
        self.sink()
    }

    fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError> {
        let written = read_back_scores(self.sink(), from)?;
        self.note_written(written);
        Ok(())
    }

    fn features(&mut self) -> Option<&mut FeatureStep> {
        ScoringStage::features(self)
    }

    fn monitoring(&mut self) -> Option<&mut crate::monitor::Monitoring> {
        ScoringStage::monitoring(self)
    }
}
