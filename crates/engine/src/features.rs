//! The feature step: client (velocity) features computed on each joined record, in the order records leave the
//! join, before the record is batched for the model.
//!
//! Calendar features and raw columns need no state and are read by the model's input mapping straight from the
//! record; only client features depend on what came before, so only they are a step of their own. The step is
//! present when the model reads client features ([`crate::job::JobConfig::client_features`]).

use fraudstream_features::{ClientConfig, ClientFeatures};

use crate::error::EngineError;
use crate::flow::Joined;

/// Client features on every joined record (see [`fraudstream_features::client`]).
pub struct FeatureStep {
    config: ClientConfig,
    client: ClientFeatures,
}

impl FeatureStep {
    pub fn new(config: ClientConfig) -> Result<FeatureStep, EngineError> {
        let client = ClientFeatures::new(config).map_err(|e| EngineError::Config(e.to_string()))?;
        Ok(FeatureStep { config, client })
    }

    /// Fills `joined.client` from the history so far, then adds the record to it.
    pub fn apply(&mut self, joined: &mut Joined) {
        joined.client = self.client.observe_boxed(&joined.feature_row());
    }

    /// Adds a record to the history without computing its features: rebuilding state from records scored before.
    pub fn replay(&mut self, joined: &Joined) {
        self.client.observe_boxed(&joined.feature_row());
    }

    /// Forgets all history (before it is rebuilt from a replay).
    pub fn reset(&mut self) -> Result<(), EngineError> {
        *self = FeatureStep::new(self.config)?;
        Ok(())
    }

    /// Client entities (cards, client keys, …) held in state.
    pub fn entities(&self) -> usize {
        self.client.entities()
    }
}
