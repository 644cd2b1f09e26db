//! Snapshots of the scoring stage's client state in `<group>-state`, so a restart restores the state and replays
//! only the internal topic's records since the snapshot, instead of all of them; and of its monitoring state
//! ([`MonitorSnapshot`]), so a restart goes on with the scores awaiting labels, the quality and drift windows.
//!
//! A snapshot is the [`FeatureStep::snapshot`](crate::features::FeatureStep::snapshot) bytes cut into chunks of at
//! most [`CHUNK`] bytes (below the 1 MB default message limit), each message `FSNP`, a version byte, the snapshot's
//! random id, the chunk's index and the chunk count (little-endian), then the bytes. A checkpoint record names the
//! newest complete snapshot (see `checkpoint`); a restart reads its chunks from the tail of the topic backwards and
//! falls back to a full replay when they are not all there (the job died between writing the chunks and the record
//! naming them can only name the previous snapshot, so this is a broker losing data, not a normal case).

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;
use serde::{Deserialize, Serialize};

use super::sink::KafkaSinks;
use super::KafkaSettings;
use crate::error::EngineError;

const MAGIC: &[u8; 4] = b"FSNP";
const VERSION: u8 = 1;
/// Bytes of state per message at most.
pub(super) const CHUNK: usize = 512 * 1024;
/// Header bytes: magic, version, id, index, count.
const HEADER: usize = 4 + 1 + 8 + 4 + 4;

/// The snapshot topic of consumer group `group`.
pub fn snapshot_topic(group: &str) -> String {
    format!("{group}-state")
}

/// What a checkpoint record says of the snapshot it relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SnapshotRef {
    /// Random id of the snapshot.
    pub id: u64,
    /// How many chunks it has.
    pub chunks: u32,
    /// The input positions committed when it was taken: a restart replays the internal topic from here.
    pub positions: Vec<(String, i32, i64)>,
}

/// The monitoring state as a snapshot holds it (JSON): the state, and where each output partition ended when it
/// was taken. Scores written after that are in the output topics only: a restart reads them from there back into
/// the restored state (`recovery`), so each written score awaits its label exactly once.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct MonitorSnapshot {
    pub output_ends: Vec<(String, i32, i64)>,
    pub state: crate::monitor::MonitorState,
}

/// Writes `state` as a new snapshot to `topic` through `sinks`' producer; returns its reference (without
/// positions, which the caller knows).
pub(super) fn write(sinks: &KafkaSinks, topic: &str, state: &[u8]) -> Result<(u64, u32), EngineError> {
    let id = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let chunks = state.chunks(CHUNK).count().max(1) as u32;
    let mut value = Vec::with_capacity(HEADER + CHUNK);
    let key = id.to_le_bytes();
    for (index, chunk) in state.chunks(CHUNK).chain((state.is_empty()).then_some(&[][..])).enumerate() {
        value.clear();
        value.extend_from_slice(MAGIC);
        value.push(VERSION);
        value.extend_from_slice(&id.to_le_bytes());
        value.extend_from_slice(&(index as u32).to_le_bytes());
        value.extend_from_slice(&chunks.to_le_bytes());
        value.extend_from_slice(chunk);
        sinks.send(BaseRecord::to(topic).key(&key[..]).payload(&value[..]))?;
    }
    Ok((id, chunks))
}

/// The bytes of snapshot `wanted` (its `chunks` messages), read from the tail of `topic` backwards in growing
/// steps; `None` when they are not all there.
pub(super) fn read(kafka: &KafkaSettings, topic: &str, wanted: &SnapshotRef) -> Result<Option<Vec<u8>>, EngineError> {
    let end = kafka.end_offsets(topic, 1)?.first().copied().unwrap_or(0);
    let mut back = i64::from(wanted.chunks) + 16;
    loop {
        let start = (end - back).max(0);
        let mut parts: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        kafka.read_from(topic, &std::collections::HashMap::from([(0, start)]), |msg| {
            if let Some((id, index, count, bytes)) = parse(msg.payload().unwrap_or_default()) {
                if id == wanted.id && count == wanted.chunks {
                    parts.insert(index, bytes.to_vec());
                }
            }
            Ok(())
        })?;
        if parts.len() as u32 == wanted.chunks {
            return Ok(Some(parts.into_values().flatten().collect()));
        }
        if start == 0 {
            return Ok(None);
        }
        back *= 4;
    }
}

/// (id, index, count, bytes) of a chunk message.
fn parse(value: &[u8]) -> Option<(u64, u32, u32, &[u8])> {
    if value.len() < HEADER || &value[..4] != MAGIC || value[4] != VERSION {
        return None;
    }
    let id = u64::from_le_bytes(value[5..13].try_into().ok()?);
    let index = u32::from_le_bytes(value[13..17].try_into().ok()?);
    let count = u32::from_le_bytes(value[17..21].try_into().ok()?);
    Some((id, index, count, &value[HEADER..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_header_round_trips_and_foreign_bytes_are_not_chunks() {
        let mut value = MAGIC.to_vec();
        value.push(VERSION);
        value.extend_from_slice(&7u64.to_le_bytes());
        value.extend_from_slice(&2u32.to_le_bytes());
        value.extend_from_slice(&3u32.to_le_bytes());
        value.extend_from_slice(b"state");
        assert_eq!(parse(&value), Some((7, 2, 3, &b"state"[..])));
        assert_eq!(parse(b"FSNP"), None);
        value[4] = 9;
        assert_eq!(parse(&value), None, "another version");
    }
}
