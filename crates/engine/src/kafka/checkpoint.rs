//! Checkpoints: input offsets are committed only for output that is durable, and each commit records where the
//! output that a restart may have to read back begins.
//!
//! At each checkpoint the job scores and writes everything that has left the join, the sinks wait until every
//! message is acknowledged, and only then are the input positions committed — no further than the oldest record
//! the join (or the source's ordering) still holds. After a crash nothing that was not durably scored is skipped
//! (at least once); what the crashed run wrote after its last commit is read back on restart and not written
//! again (`recovery`). With Kafka transactions the output written since the previous checkpoint and the input
//! offsets are committed together in one transaction (consume-transform-produce) and nothing needs reading back.
//!
//! # Bounded read-back
//! After each commit a checkpoint record goes to `<group>-checkpoints` (one partition, JSON): the committed
//! positions, and for every output partition an offset before which nothing was written for input at or after them.
//! A restart reads the newest record of each of its partitions from the tail of that topic and reads the outputs
//! back from there — so its cost depends on the commit interval and the records the join held, not on how much
//! was ever scored.
//!
//! The offset is not simply where the output ended at the commit: a record the join still held (committed
//! positions stop before it) may have been read long before, and records read after it may already be scored. So
//! each checkpoint also remembers what had been read and where the output ended then; a commit's record takes the
//! output ends of the newest earlier checkpoint at which nothing at or after the committed positions had been read
//! yet. Every output this run wrote for such input was written after that checkpoint, hence at or after its ends.
//!
//! Earlier runs matter too: the run before a restart may have scored input past the positions it committed before
//! it died, at output offsets from where this run's read-back began. So after a restart that read-back start stays
//! a floor of every record's offsets until this run's commits have passed the end the input had when it started
//! (as the first fetch responses report it): no earlier run can have read beyond that.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;
use serde::{Deserialize, Serialize};

use super::delivery::OutputEnds;
use super::snapshot::{snapshot_topic, SnapshotRef};
use super::stage::{KafkaInput, KafkaStage, ReadBack};
use super::{KafkaSettings, Positions};
use crate::error::EngineError;
use crate::flow::{Origin, SourceEvent};
use crate::job::Job;

/// The checkpoint topic of consumer group `group`.
pub fn checkpoint_topic(group: &str) -> String {
    format!("{group}-checkpoints")
}

/// One checkpoint record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    /// The input positions committed (topic, partition, next offset).
    positions: Vec<(String, i32, i64)>,
    /// Per output partition (topic, partition, offset): nothing for input at or after `positions` was written
    /// before the offset.
    output_from: Vec<(String, i32, i64)>,
    /// When it was written (ms since the Unix epoch), for people reading the topic.
    written_ms: i64,
    /// The newest client-state snapshot (scoring stages of models with client features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snapshot: Option<SnapshotRef>,
    /// The newest monitoring snapshot (scoring stages that monitor their models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monitor: Option<SnapshotRef>,
}

/// The newest checkpoint record of each input partition.
type Newest = HashMap<(String, i32), Record>;

/// What a restart recovers from: where to read the outputs back, and the snapshot of client state to restore (when
/// every assigned partition's newest record names the same one, taken over exactly these partitions).
pub(super) struct Restart {
    pub read_back: ReadBack,
    pub snapshot: Option<SnapshotRef>,
    /// The monitoring snapshot to restore, by the same rule.
    pub monitor: Option<SnapshotRef>,
}

/// The checkpoints of one stage: its checkpoint topic and what recent checkpoints saw.
pub(super) struct Checkpoints {
    kafka: KafkaSettings,
    topic: String,
    /// At recent checkpoints, oldest first: the input positions read so far, and where the output ended.
    seen: VecDeque<(Positions, OutputEnds)>,
    /// Whether records are written (not in exactly-once mode, which needs no read-back).
    enabled: bool,
    /// Where this run's read-back began, in force until the commits pass `until` (see the module docs).
    floor: Option<OutputEnds>,
    /// The input's end when this run started, once the fetch responses have told it.
    until: Option<Positions>,
    /// The last record written, so an idle job does not write the same one every interval.
    last: Option<Record>,
    /// Where snapshots go, how often, when the last were taken, and the newest of client state and of
    /// monitoring.
    state_topic: String,
    snapshot_every: Duration,
    snapshot_at: Option<Instant>,
    snapshot: Option<SnapshotRef>,
    monitor: Option<SnapshotRef>,
    /// Assignments this run has recovered from (see [`Checkpoints::first_assignment`]).
    assignments: u32,
}

impl Checkpoints {
    /// The checkpoints of `group`, whose topics are created when missing; client state (when there is) is
    /// snapshotted every `snapshot_every`.
    pub fn new(
        kafka: &KafkaSettings,
        group: &str,
        enabled: bool,
        replication: i32,
        snapshot_every: Duration,
    ) -> Result<Checkpoints, EngineError> {
        let topic = checkpoint_topic(group);
        let state_topic = snapshot_topic(group);
        if enabled {
            kafka.ensure_topics(&[topic.as_str(), state_topic.as_str()], 1, replication)?;
        }
        Ok(Checkpoints {
            kafka: kafka.clone(),
            topic,
            seen: VecDeque::new(),
            enabled,
            floor: None,
            until: None,
            last: None,
            state_topic,
            snapshot_every,
            snapshot_at: None,
            snapshot: None,
            monitor: None,
            assignments: 0,
        })
    }

    /// Reading starts over (an assignment): nothing has been read, the output ends at `ends`, and the read-back
    /// began where `from` says — the floor of every record until the commits pass the input's end.
    pub fn restart(&mut self, ends: OutputEnds, from: &ReadBack) {
        self.assignments += 1;
        self.seen.clear();
        self.floor = match from {
            ReadBack::Nothing => None,
            ReadBack::All => Some(ends.keys().map(|key| (key.clone(), 0)).collect()),
            ReadBack::From(starts) => {
                Some(ends.keys().map(|key| (key.clone(), starts.get(key).copied().unwrap_or(0))).collect())
            }
        };
        self.until = None;
        self.seen.push_back((Positions::new(), ends));
    }

    /// The output offsets of a record committing `committed`, from the checkpoint chosen (see the module docs):
    /// lowered to the floor while it is in force; the floor is lifted once the commits pass the input's end at the
    /// start (`input_ends`, when the fetch responses have told it).
    fn output_from(
        &mut self,
        committed: &Positions,
        chosen: &OutputEnds,
        input_ends: impl FnOnce() -> Option<Positions>,
    ) -> OutputEnds {
        if self.floor.is_some() && self.until.is_none() {
            self.until = input_ends();
        }
        if let Some(until) = &self.until {
            if until.iter().all(|(key, &end)| committed.get(key).is_some_and(|&at| at >= end)) {
                self.floor = None;
            }
        }
        let mut from = chosen.clone();
        if let Some(floor) = &self.floor {
            for (key, offset) in from.iter_mut() {
                *offset = (*offset).min(floor.get(key).copied().unwrap_or(0));
            }
        }
        from
    }

    /// What a restart with these committed positions recovers from (see the module docs).
    pub fn restart_from(&self, committed: &Positions) -> Result<Restart, EngineError> {
        let nothing = |read_back| Ok(Restart { read_back, snapshot: None, monitor: None });
        if !self.enabled {
            return nothing(ReadBack::Nothing);
        }
        let wanted: Vec<(String, i32)> = committed.keys().map(|(t, p)| (t.to_string(), *p)).collect();
        let Some(found) = self.newest_records(&wanted)? else {
            tracing::info!("no checkpoint of this group yet: reading the outputs back in full");
            return nothing(ReadBack::All);
        };
        let mut from = OutputEnds::new();
        let (mut snapshots, mut monitors) = (Vec::new(), Vec::new());
        for key in &wanted {
            let Some(record) = found.get(key) else {
                tracing::warn!(
                    "no checkpoint for {}[{}] in {}: reading the outputs back in full",
                    key.0,
                    key.1,
                    self.topic
                );
                return nothing(ReadBack::All);
            };
            for (topic, partition, offset) in &record.output_from {
                let at = from.entry((topic.clone(), *partition)).or_insert(*offset);
                *at = (*at).min(*offset);
            }
            snapshots.push(record.snapshot.clone());
            monitors.push(record.monitor.clone());
        }
        Ok(Restart {
            read_back: ReadBack::From(from),
            snapshot: common_snapshot(&snapshots, &wanted),
            monitor: common_snapshot(&monitors, &wanted),
        })
    }

    /// The topic client-state snapshots go to.
    pub fn state_topic(&self) -> &str {
        &self.state_topic
    }

    /// A client-state snapshot restored at a restart is the newest one until the next is taken.
    pub fn restored(&mut self, snapshot: SnapshotRef) {
        self.snapshot_at = Some(Instant::now());
        self.snapshot = Some(snapshot);
    }

    /// Whether the assignment being recovered is this run's first: state this run has built since (monitoring,
    /// whose labels feed has moved on) must not be replaced by an older snapshot at a later rebalance.
    pub fn first_assignment(&self) -> bool {
        self.assignments <= 1
    }

    /// Likewise a restored monitoring snapshot.
    pub fn restored_monitor(&mut self, snapshot: SnapshotRef) {
        self.monitor = Some(snapshot);
    }

    /// The newest record mentioning each of `wanted`, read from the tail of the checkpoint topic backwards in
    /// growing steps; `None` when the topic holds no record at all.
    fn newest_records(&self, wanted: &[(String, i32)]) -> Result<Option<Newest>, EngineError> {
        let mut found: HashMap<(String, i32), (i64, Record)> = HashMap::new();
        let end = self.kafka.end_offsets(&self.topic, 1)?.first().copied().unwrap_or(0);
        let mut back = 256i64;
        let mut any = false;
        loop {
            let start = (end - back).max(0);
            let starts = HashMap::from([(0, start)]);
            self.kafka.read_from(&self.topic, &starts, |msg| {
                let Ok(record) = serde_json::from_slice::<Record>(msg.payload().unwrap_or_default()) else {
                    return Ok(());
                };
                any = true;
                for (topic, partition, _) in &record.positions {
                    let key = (topic.clone(), *partition);
                    if found.get(&key).is_none_or(|(offset, _)| *offset < msg.offset()) {
                        found.insert(key, (msg.offset(), record.clone()));
                    }
                }
                Ok(())
            })?;
            if start == 0 || wanted.iter().all(|key| found.contains_key(key)) {
                break;
            }
            back *= 4;
        }
        Ok(any.then(|| found.into_iter().map(|(key, (_, record))| (key, record)).collect()))
    }
}

/// The snapshot every assigned partition's newest record names, if they all name the same one and it was taken
/// over exactly the partitions `wanted`: a snapshot holds the state of the partitions it was taken over.
fn common_snapshot(named: &[Option<SnapshotRef>], wanted: &[(String, i32)]) -> Option<SnapshotRef> {
    named.first().cloned().flatten().filter(|s| {
        let mut taken: Vec<(&str, i32)> = s.positions.iter().map(|(t, p, _)| (t.as_str(), *p)).collect();
        let mut now: Vec<(&str, i32)> = wanted.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        taken.sort_unstable();
        now.sort_unstable();
        named.iter().all(|other| other.as_ref() == Some(s)) && taken == now
    })
}

/// Notes the input position after `event` (the next offset to read in its topic-partition).
pub(super) fn advance(positions: &mut Positions, event: &SourceEvent) {
    let origin = match event {
        SourceEvent::Record { origin, .. } => origin,
        SourceEvent::Joined(joined) | SourceEvent::Seen(joined) => &joined.origin,
        SourceEvent::DeadLetter(dead) => &dead.origin,
        SourceEvent::PartitionEnd(_) | SourceEvent::Idle | SourceEvent::End => return,
    };
    if let Origin::Kafka { topic, partition, offset } = origin {
        let next = positions.entry((topic.clone(), *partition)).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }
}

/// Makes the output durable, then commits input positions no further than the oldest record still held, and
/// records the checkpoint.
pub(super) fn checkpoint<S: KafkaInput, D: KafkaStage>(
    source: &mut S,
    job: &mut Job<'_, D>,
    positions: &Positions,
    checkpoints: &mut Checkpoints,
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
    // The client state forgets which records before these positions it took: no restart reads them again.
    if let Some(features) = job.downstream().features() {
        features.committed(&safe.iter().map(|((_, p), &o)| (*p, o)).collect());
    }
    // Exactly-once mode: output and input offsets in one Kafka transaction.
    if let Some(group) = source.group_metadata() {
        if job.downstream().sinks().commit_transaction(&safe, &group)? {
            return Ok(());
        }
    }
    job.flush()?;
    let ends = job.downstream().sinks().output_ends();
    checkpoints.seen.push_back((positions.clone(), ends));
    if safe.is_empty() || !source.commit(&safe)? {
        return Ok(());
    }
    if !checkpoints.enabled {
        return Ok(());
    }
    // The newest checkpoint at which nothing at or after the committed positions had been read.
    let newest = checkpoints
        .seen
        .iter()
        .rposition(|(read, _)| safe.iter().all(|(key, &at)| read.get(key).is_none_or(|&r| r <= at)))
        .unwrap_or(0);
    checkpoints.seen.drain(..newest);
    let Some((_, chosen)) = checkpoints.seen.front() else { return Ok(()) };
    let chosen = chosen.clone();
    let from = checkpoints.output_from(&safe, &chosen, || source.input_ends());
    let mut record = Record {
        positions: safe.iter().map(|((t, p), &o)| (t.to_string(), *p, o)).collect(),
        output_from: from.iter().map(|((t, p), &o)| (t.clone(), *p, o)).collect(),
        written_ms: 0,
        snapshot: None,
        monitor: None,
    };
    record.positions.sort();
    let labels_taken = snapshot_if_due(job, checkpoints, &safe)?;
    record.snapshot = checkpoints.snapshot.clone();
    record.monitor = checkpoints.monitor.clone();
    if checkpoints.last.as_ref() == Some(&record) {
        return Ok(());
    }
    checkpoints.last = Some(record.clone());
    record.written_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64;
    let payload =
        serde_json::to_vec(&record).map_err(|e| EngineError::Config(format!("encoding a checkpoint: {e}")))?;
    // Not waited for: if it is lost, the previous record (older positions, earlier output) is still right...
    let stage = job.downstream();
    stage.sinks().send(BaseRecord::<[u8], [u8]>::to(&checkpoints.topic).payload(&payload[..]))?;
    // ...except for the labels feed, whose positions may move only once a record names the snapshot that took
    // the labels before them.
    if let Some(positions) = labels_taken {
        stage.flush()?;
        if let Some(monitoring) = stage.monitoring() {
            monitoring.commit_labels(&positions);
        }
    }
    Ok(())
}

/// After a commit, when the last snapshots are older than the interval: snapshots the client state (see
/// [`super::snapshot`]) and the monitoring state, as the stage has them. Returns the labels feed's positions the
/// monitoring snapshot took, to be committed once a checkpoint record names it.
fn snapshot_if_due<D: KafkaStage>(
    job: &mut Job<'_, D>,
    checkpoints: &mut Checkpoints,
    committed: &Positions,
) -> Result<Option<Vec<(i32, i64)>>, EngineError> {
    let stage = job.downstream();
    let nothing_to_take = stage.features().is_none() && stage.monitoring().is_none();
    if nothing_to_take || checkpoints.snapshot_at.is_some_and(|at| at.elapsed() < checkpoints.snapshot_every) {
        return Ok(None);
    }
    let mut positions: Vec<(String, i32, i64)> = committed.iter().map(|((t, p), &o)| (t.to_string(), *p, o)).collect();
    positions.sort();
    let mut state = Vec::new();
    let mut taken = None;
    if let Some(features) = stage.features() {
        features.snapshot(&mut state);
        let (id, chunks) = super::snapshot::write(stage.sinks(), &checkpoints.state_topic, &state)?;
        tracing::debug!("client state snapshot {id:016x}: {} bytes in {chunks} chunks", state.len());
        checkpoints.snapshot = Some(SnapshotRef { id, chunks, positions: positions.clone() });
    }
    // Every score written so far is acknowledged (the checkpoint flushed): the output ends cover them all.
    let output_ends = stage.sinks().output_ends().into_iter().map(|((t, p), o)| (t, p, o)).collect();
    if let Some(monitoring) = stage.monitoring() {
        let snapshot = super::snapshot::MonitorSnapshot { output_ends, state: monitoring.state() };
        state.clear();
        serde_json::to_writer(&mut state, &snapshot)
            .map_err(|e| EngineError::Config(format!("encoding the monitoring snapshot: {e}")))?;
        let (id, chunks) = super::snapshot::write(stage.sinks(), &checkpoints.state_topic, &state)?;
        tracing::debug!("monitoring snapshot {id:016x}: {} bytes in {chunks} chunks", state.len());
        checkpoints.monitor = Some(SnapshotRef { id, chunks, positions });
        taken = Some(snapshot.state.label_positions().to_vec());
    }
    // The chunks must be durable before a record names them.
    stage.flush()?;
    checkpoints.snapshot_at = Some(Instant::now());
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_back_starts_are_per_topic() {
        let mut ends = OutputEnds::new();
        ends.insert(("scores".into(), 0), 10);
        ends.insert(("scores".into(), 1), 20);
        ends.insert(("alerts".into(), 0), 3);
        let from = ReadBack::From(ends);
        assert_eq!(from.starts("scores"), Some(HashMap::from([(0, 10), (1, 20)])));
        assert_eq!(from.starts("alerts"), Some(HashMap::from([(0, 3)])));
        assert_eq!(ReadBack::All.starts("scores"), None);
    }

    fn checkpoints() -> Checkpoints {
        Checkpoints {
            kafka: KafkaSettings::new("unused:9092"),
            topic: "g-checkpoints".into(),
            seen: VecDeque::new(),
            enabled: true,
            floor: None,
            until: None,
            last: None,
            state_topic: "g-state".into(),
            snapshot_every: Duration::from_secs(60),
            snapshot_at: None,
            snapshot: None,
            monitor: None,
            assignments: 0,
        }
    }

    fn ends(offset: i64) -> OutputEnds {
        OutputEnds::from([(("scores".to_string(), 0), offset)])
    }

    fn at(offset: i64) -> Positions {
        Positions::from([((std::sync::Arc::from("in"), 0), offset)])
    }

    #[test]
    fn after_a_restart_the_read_back_start_stays_a_floor_until_the_commits_pass_the_inputs_end() {
        let mut c = checkpoints();
        // The run before read input up to an unknown point past its commit; this one read back from 100.
        c.restart(ends(500), &ReadBack::From(ends(100)));
        assert_eq!(c.output_from(&at(40), &ends(500), || None), ends(100), "the end of the input is not known yet");
        assert_eq!(c.output_from(&at(60), &ends(700), || Some(at(80))), ends(100), "not past the input's end yet");
        assert_eq!(c.output_from(&at(80), &ends(900), || None), ends(900), "past it: no earlier run read further");
    }

    #[test]
    fn a_full_read_back_floors_every_record_at_the_start_until_then() {
        let mut c = checkpoints();
        c.restart(ends(500), &ReadBack::All);
        assert_eq!(c.output_from(&at(10), &ends(500), || Some(at(20))), ends(0));
        assert_eq!(c.output_from(&at(20), &ends(600), || None), ends(600));
    }
}
