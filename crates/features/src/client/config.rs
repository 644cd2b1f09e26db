//! How long client state lives and how much out-of-order arrival it absorbs exactly.

use std::time::Duration;

/// The longest feature window (counts and amount statistics): 30 days.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Client-state settings. Stream and training must use the same values, since `ttl` shapes some features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// An entity (client key, card1, addr1 or e-mail value) whose newest transaction is older than the newest event
    /// time seen minus `ttl` is forgotten: its `*_secs_since_prev` becomes missing, its `*_seen` count and distinct
    /// sets start again. Must be at least [`LONGEST_WINDOW`] + `max_lateness`, so forgetting never changes a window
    /// feature. Default 31 days.
    pub ttl: Duration,
    /// How far behind the newest event time seen a record may arrive and still get exact features. The stream emits
    /// joined records up to ~80 s out of event-time order; window entries are kept this long beyond the longest
    /// window for them. Default 1 hour.
    pub max_lateness: Duration,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig { ttl: Duration::from_secs(31 * 86_400), max_lateness: Duration::from_secs(3_600) }
    }
}

/// A [`ClientConfig`] that cannot give correct features.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientConfigError {
    #[error(
        "client state TTL {ttl:?} is shorter than the longest feature window plus the allowed lateness ({min:?}): \
         forgetting a client would change its 30-day features"
    )]
    TtlTooShort { ttl: Duration, min: Duration },
}

impl ClientConfig {
    /// Checks that the settings keep every window feature exact.
    pub fn validate(&self) -> Result<(), ClientConfigError> {
        let min = LONGEST_WINDOW + self.max_lateness;
        if self.ttl < min {
            return Err(ClientConfigError::TtlTooShort { ttl: self.ttl, min });
        }
        Ok(())
    }
}
