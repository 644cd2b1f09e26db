//! Checkpoints: input offsets are committed only for output that is durable.
//!
//! At each checkpoint the job scores and writes everything that has left the join, the sinks wait until every
//! message is acknowledged, and only then are the input positions committed — no further than the oldest record
//! the join (or the source's ordering) still holds. After a crash nothing that was not durably scored is skipped
//! (at least once); the read-back on restart (`recovery`) removes the duplicates. With Kafka transactions the
//! output written since the previous checkpoint and the input offsets are committed together in one transaction
//! (consume-transform-produce).

use crate::error::EngineError;
use crate::flow::{Origin, SourceEvent};
use crate::job::Job;

use super::driver::{KafkaInput, KafkaStage};
use super::Positions;

/// Notes the input position after `event` (the next offset to read in its topic-partition).
pub(super) fn advance(positions: &mut Positions, event: &SourceEvent) {
    let origin = match event {
        SourceEvent::Record { origin, .. } => origin,
        SourceEvent::Joined(joined) => &joined.origin,
        SourceEvent::DeadLetter(dead) => &dead.origin,
        SourceEvent::PartitionEnd(_) | SourceEvent::Idle | SourceEvent::End => return,
    };
    if let Origin::Kafka { topic, partition, offset } = origin {
        let next = positions.entry((topic.clone(), *partition)).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }
}

/// Makes the output durable, then commits input positions no further than the oldest record still held.
pub(super) fn checkpoint<S: KafkaInput, D: KafkaStage>(
    source: &mut S,
    job: &mut Job<'_, D>,
    positions: &Positions,
) -> Result<(), EngineError> {
    job.drain()?;
    let mut safe = positions.clone();
    source.limit_positions(&mut safe);
    for origin in job.held() {
        if let Origin::Kafka { topic, partition, offset } = origin {
            if let Some(p) = safe.get_mut(&(topic.clone(), *partition)) {
                *p = (*p).min(*offset);
            }
        }
    }
    // Exactly-once mode: output and input offsets in one Kafka transaction.
    if let Some(group) = source.group_metadata() {
        if job.downstream().sinks().commit_transaction(&safe, &group)? {
            return Ok(());
        }
    }
    job.flush()?;
    if safe.is_empty() {
        return Ok(());
    }
    source.commit(&safe)
}
