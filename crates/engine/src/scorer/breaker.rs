//! A circuit breaker for the model endpoint.
//!
//! When a remote model keeps failing, retrying every batch with backoff only stalls the job for
//! `attempts × timeout` per batch. After `failures` consecutive failed batches the breaker opens: batches fail at
//! once, without a request, for `open_for`; then one trial batch is let through (half-open) and its outcome
//! closes or re-opens the breaker. Shared by every copy of a scorer, so concurrent batches see one state.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failed batches that open the breaker (0 disables it).
    pub failures: u32,
    /// How long it stays open before a trial batch.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { failures: 5, open_for: Duration::from_secs(10) }
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

/// The breaker's shared state.
#[derive(Debug, Default)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker { config, state: Mutex::new(State::default()) }
    }

    /// Whether a batch may call the endpoint now; `Err` says how long the breaker stays open.
    pub fn allow(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.open_until {
            None => Ok(()),
            Some(until) if now < until => Err(until - now),
            // Half-open: exactly one trial batch at a time.
            Some(_) if s.trial_in_flight => Err(Duration::ZERO),
            Some(_) => {
                s.trial_in_flight = true;
                Ok(())
            }
        }
    }

    /// Records the outcome of a batch that was allowed through.
    pub fn record(&self, ok: bool, now: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.trial_in_flight = false;
        if ok {
            s.consecutive_failures = 0;
            s.open_until = None;
            return;
        }
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        let trial_failed = s.open_until.is_some();
        if self.config.failures > 0 && (trial_failed || s.consecutive_failures >= self.config.failures) {
            if !trial_failed {
                tracing::warn!(
                    "model endpoint failed {} batches in a row: circuit open for {:?}",
                    s.consecutive_failures,
                    self.config.open_for
                );
            }
            s.open_until = Some(now + self.config.open_for);
        }
    }

    /// Whether the breaker is open (for metrics).
    pub fn is_open(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).open_until.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_then_lets_one_trial_through() {
        let b = CircuitBreaker::new(BreakerConfig { failures: 3, open_for: Duration::from_secs(10) });
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(b.allow(t0).is_ok());
            b.record(false, t0);
        }
        assert!(b.allow(t0).is_ok(), "two failures keep it closed");
        b.record(true, t0);
        for _ in 0..3 {
            assert!(b.allow(t0).is_ok());
            b.record(false, t0);
        }
        assert!(b.is_open());
        assert!(b.allow(t0 + Duration::from_secs(5)).is_err(), "open: fail fast");
        let later = t0 + Duration::from_secs(11);
        assert!(b.allow(later).is_ok(), "half-open: one trial");
        assert!(b.allow(later).is_err(), "only one trial at a time");
        b.record(false, later);
        assert!(b.allow(later + Duration::from_secs(1)).is_err(), "failed trial re-opens");
        let much_later = later + Duration::from_secs(11);
        assert!(b.allow(much_later).is_ok());
        b.record(true, much_later);
        assert!(!b.is_open() && b.allow(much_later).is_ok(), "successful trial closes");
    }

    #[test]
    fn zero_failures_disables_it() {
        let b = CircuitBreaker::new(BreakerConfig { failures: 0, open_for: Duration::from_secs(10) });
        let t0 = Instant::now();
        for _ in 0..100 {
            b.record(false, t0);
        }
        assert!(b.allow(t0).is_ok());
    }
}
