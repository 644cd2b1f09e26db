//! The feature step: client (velocity) features computed on each joined record, in the order records leave the
//! join, before the record is batched for the model.
//!
//! Calendar features and raw columns need no state and are read by the model's input mapping straight from the
//! record; only client features depend on what came before, so only they are a step of their own. The step is
//! present when the model reads client features ([`crate::job::JobConfig::client_features`]).
//!
//! For restarts on Kafka the step can be snapshotted ([`FeatureStep::snapshot`]): the client state, and which
//! records at or after the committed positions it already holds (they arrive again after a restart and must not be
//! counted twice). It therefore notes the Kafka position of every record it takes until a commit passes it.

use std::collections::{BTreeSet, HashMap, HashSet};

use fraudstream_features::{ClientConfig, ClientFeatures};

use crate::error::EngineError;
use crate::flow::{Joined, Origin};

/// Client features on every joined record (see [`fraudstream_features::client`]).
pub struct FeatureStep {
    config: ClientConfig,
    client: ClientFeatures,
    /// Per Kafka partition, the offsets of records taken that no commit has passed yet.
    taken: HashMap<i32, BTreeSet<i64>>,
    /// (partition, offset) of records the state already holds, to be passed over when they arrive again.
    held: HashSet<(i32, i64)>,
}

impl FeatureStep {
    pub fn new(config: ClientConfig) -> Result<FeatureStep, EngineError> {
        let client = ClientFeatures::new(config).map_err(|e| EngineError::Config(e.to_string()))?;
        Ok(FeatureStep { config, client, taken: HashMap::new(), held: HashSet::new() })
    }

    /// Fills `joined.client` from the history so far, then adds the record to it. A record the state already holds
    /// (restored from a snapshot) is not added again; its score is already out, so its features are not computed.
    pub fn apply(&mut self, joined: &mut Joined) {
        if self.take(&joined.origin) {
            joined.client = self.client.observe_boxed(&joined.feature_row());
        }
    }

    /// Adds a record to the history without computing its features: rebuilding state from records scored before.
    pub fn replay(&mut self, joined: &Joined) {
        if self.take(&joined.origin) {
            self.client.observe_boxed(&joined.feature_row());
        }
    }

    /// Notes a record's position; false when the state already holds it.
    fn take(&mut self, origin: &Origin) -> bool {
        let Origin::Kafka { partition, offset, .. } = origin else { return true };
        let held = !self.held.is_empty() && self.held.remove(&(*partition, *offset));
        // Held or not, the state holds it from now on: a later snapshot must list it.
        self.taken.entry(*partition).or_default().insert(*offset);
        !held
    }

    /// Forgets the positions of records before `committed` (partition → next offset): no restart reads them again.
    pub fn committed(&mut self, committed: &HashMap<i32, i64>) {
        for (partition, taken) in &mut self.taken {
            if let Some(&at) = committed.get(partition) {
                *taken = taken.split_off(&at);
            }
        }
    }

    /// Forgets all history (before it is rebuilt from a replay or a snapshot).
    pub fn reset(&mut self) -> Result<(), EngineError> {
        *self = FeatureStep::new(self.config)?;
        Ok(())
    }

    /// Client entities (cards, client keys, …) held in state.
    pub fn entities(&self) -> usize {
        self.client.entities()
    }

    /// Appends a snapshot: the records at or after the last [`FeatureStep::committed`] positions that the state
    /// holds, then the client state.
    pub fn snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.taken.len() as u32).to_le_bytes());
        for (partition, offsets) in &self.taken {
            out.extend_from_slice(&partition.to_le_bytes());
            out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
            offsets.iter().for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
        }
        self.client.snapshot(out);
    }

    /// Restores a [`FeatureStep::snapshot`] into an empty step: the records it lists are passed over when they
    /// arrive again.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        let bad = |what: &str| EngineError::Config(format!("a client-state snapshot is damaged: {what}"));
        let mut at = 0usize;
        let mut word = |n: usize| -> Result<&[u8], EngineError> {
            let slice = bytes.get(at..at + n).ok_or_else(|| bad("truncated record list"))?;
            at += n;
            Ok(slice)
        };
        let u32_of = |b: &[u8]| b.try_into().map(u32::from_le_bytes).map_err(|_| bad("truncated record list"));
        let partitions = u32_of(word(4)?)?;
        for _ in 0..partitions {
            let partition = u32_of(word(4)?)? as i32;
            let count = u32_of(word(4)?)?;
            for _ in 0..count {
                let offset = word(8)?.try_into().map(i64::from_le_bytes).map_err(|_| bad("truncated offset"))?;
                self.held.insert((partition, offset));
                self.taken.entry(partition).or_default().insert(offset);
            }
        }
        self.client.restore(&bytes[at..]).map_err(|e| EngineError::Config(e.to_string()))
    }
}
