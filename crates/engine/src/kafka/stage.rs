//! The contracts between the Kafka driver and what it drives: the input it polls ([`KafkaInput`]), the stage it
//! feeds ([`KafkaStage`]), how a stage ends ([`Control`]) and what two stages know of each other ([`Peer`]).
//!
//! They live apart from the driver so that the modules implementing them (the source, the join stage's forwarder,
//! recovery) and the checkpoints that use them depend on this leaf, and the driver depends on them all, one way.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;

use super::delivery::OutputEnds;
use super::sink::KafkaSinks;
use super::Positions;
use crate::error::EngineError;
use crate::features::FeatureStep;
use crate::flow::Joined;
use crate::job::Downstream;
use crate::source::Source;

/// Where a restart reads the outputs back from: per output partition, or everything.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReadBack {
    /// Each output (topic, partition) from this offset on; partitions not listed are read from their start.
    From(OutputEnds),
    /// Every output in full: a group without checkpoints (its first start, offsets lost, or written by a version
    /// without checkpoints) may re-read input whose output any earlier run wrote.
    All,
    /// Nothing: the output is written in Kafka transactions.
    Nothing,
}

impl ReadBack {
    /// Where to start reading `topic` (partition → offset), or `None` to read it from the start.
    pub fn starts(&self, topic: &str) -> Option<HashMap<i32, i64>> {
        match self {
            ReadBack::From(ends) => {
                Some(ends.iter().filter(|((t, _), _)| t == topic).map(|((_, p), &offset)| (*p, offset)).collect())
            }
            ReadBack::All | ReadBack::Nothing => None,
        }
    }
}

/// What the driver needs of a Kafka source beyond [`Source`].
pub(super) trait KafkaInput: Source {
    /// True once after partitions were assigned (see `KafkaSource::take_reassigned`).
    fn take_reassigned(&mut self) -> bool;
    /// The consumer group's identity, for committing offsets inside an output transaction.
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata>;
    /// Whether records are held that later polls will deliver.
    fn holds_records(&self) -> bool;
    /// Commits `positions`; false when the commit failed (it is retried at the next checkpoint).
    fn commit(&mut self, positions: &Positions) -> Result<bool, EngineError>;
    /// The committed positions of the current assignment.
    fn committed(&self) -> Positions;
    /// Where each assigned partition ends, as the fetch responses report it; `None` until they all have.
    fn input_ends(&self) -> Option<Positions>;
    /// Lowers `positions` below records read but not handed out in offset order.
    fn limit_positions(&self, _positions: &mut Positions) {}
    /// Hands every record from `from` (partition → offset; the start where not given) to the committed offsets
    /// to `f` (how client state is rebuilt); sources without such a history hand over nothing.
    fn history(&mut self, _from: &HashMap<i32, i64>, _f: &mut dyn FnMut(Joined)) -> Result<u64, EngineError> {
        Ok(0)
    }
}

/// What the driver needs of a stage's downstream beyond [`Downstream`].
pub(super) trait KafkaStage: Downstream {
    /// The output topics' producer (checkpoints commit through it).
    fn sinks(&mut self) -> &mut KafkaSinks;
    /// Reads back what the output already holds from where `from` says, so it is not written again.
    fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError>;
    /// The client-feature state, rebuilt after an assignment (scoring stages of models with client features).
    fn features(&mut self) -> Option<&mut FeatureStep> {
        None
    }
    /// The models' monitoring, snapshotted with the checkpoints and restored after an assignment (scoring stages
    /// that monitor their models).
    fn monitoring(&mut self) -> Option<&mut crate::monitor::Monitoring> {
        None
    }
    /// After each input event (see `Forward::report_progress`); only a join stage reports.
    fn report_progress(
        &mut self,
        _now: Instant,
        _input_idle: bool,
        _caught_up: bool,
        _waiting: bool,
        _frontier: &dyn Fn() -> i64,
        _done: bool,
    ) -> Result<(), EngineError> {
        Ok(())
    }
}

/// What one stage of the repartitioned topology knows of the other.
#[derive(Debug, Default)]
pub(super) struct Peer {
    /// The other stage has ended. The scoring stage's idle stop waits for this: until the join stage ends, idle
    /// input only means it has not forwarded anything lately.
    pub done: AtomicBool,
    /// The other stage failed: stop too.
    pub failed: AtomicBool,
}

/// How a stage ends and checkpoints.
pub(super) struct Control<'a> {
    /// Set from outside (Ctrl-C) to stop after a final flush and commit.
    pub stop: &'a AtomicBool,
    /// Stop once no input has arrived for this long after the first record or partition assignment.
    pub stop_after_idle: Option<Duration>,
    /// How often to flush the sinks and commit input positions.
    pub commit_interval: Duration,
    /// The other stage of the repartitioned topology, when this run is one of them.
    pub peer: Option<&'a Peer>,
}
