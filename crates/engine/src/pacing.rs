//! Replay pacing: how fast recorded event time is played back in wall-clock time.

use std::time::{Duration, Instant};

use fraudstream_data::EventTime;

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// No waiting at all.
    AsFastAsPossible,
    /// `X` seconds of event time per wall-clock second.
    Speedup(f64),
    /// A fixed number of records per wall-clock second, whatever their event times.
    Rate(f64),
}

/// Tells how long to wait before releasing each record.
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    start: Option<(Instant, EventTime)>,
    released: u64,
}

impl Pacer {
    pub fn new(pacing: Pacing) -> Pacer {
        Pacer { pacing, start: None, released: 0 }
    }

    /// How long to sleep before releasing a record with this event time (zero when it is already due).
    pub fn delay(&mut self, event_time: EventTime, now: Instant) -> Duration {
        let (start, first) = *self.start.get_or_insert((now, event_time));
        self.released += 1;
        let due = match self.pacing {
            Pacing::AsFastAsPossible => return Duration::ZERO,
            Pacing::Speedup(x) => {
                let event_elapsed_s = (event_time.millis() - first.millis()).max(0) as f64 / 1000.0;
                start + Duration::from_secs_f64(event_elapsed_s / x)
            }
            Pacing::Rate(r) => start + Duration::from_secs_f64((self.released - 1) as f64 / r),
        };
        due.saturating_duration_since(now)
    }

    /// Sleeps as [`Pacer::delay`] says; sub-millisecond waits are skipped to keep throughput.
    pub fn wait(&mut self, event_time: EventTime) {
        let d = self.delay(event_time, Instant::now());
        if d >= Duration::from_millis(1) {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speedup_maps_event_seconds_to_wall_seconds() {
        let mut p = Pacer::new(Pacing::Speedup(60.0));
        let t0 = Instant::now();
        assert_eq!(p.delay(EventTime(0), t0), Duration::ZERO);
        // 60 s of event time at 60x is due 1 s after the start.
        assert_eq!(p.delay(EventTime(60_000), t0), Duration::from_secs(1));
        assert_eq!(p.delay(EventTime(60_000), t0 + Duration::from_secs(2)), Duration::ZERO);
    }

    #[test]
    fn rate_spaces_records_evenly() {
        let mut p = Pacer::new(Pacing::Rate(100.0));
        let t0 = Instant::now();
        assert_eq!(p.delay(EventTime(5), t0), Duration::ZERO);
        assert_eq!(p.delay(EventTime(5), t0), Duration::from_millis(10));
        assert_eq!(p.delay(EventTime(0), t0), Duration::from_millis(20));
    }

    #[test]
    fn as_fast_as_possible_never_waits() {
        let mut p = Pacer::new(Pacing::AsFastAsPossible);
        assert_eq!(p.delay(EventTime(1_000_000), Instant::now()), Duration::ZERO);
    }
}
