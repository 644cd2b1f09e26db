//! When transactions happen: the 182-day volume profile (with the Christmas peak) and the hour-of-day profiles.
//!
//! Day 1 is 2017-12-01 (TransactionDT 86,400, see [`crate::event_time`]); the last day, 182, is 2018-05-31. Daily
//! weights follow the real set: ~4,300-6,300 a day in December rising to the peak of ~6,850 on 2017-12-22, dips on
//! Christmas Day and New Year's Day, then ~2,900-3,050 a day until May with a weekly rhythm. Legitimate activity
//! follows a diurnal curve whose trough is hours 5-10 of TransactionDT; fraudsters use a much flatter curve, so the
//! fraud *rate* peaks in the early morning (hour 7), as in the real data.

use std::sync::LazyLock;

use super::rng::Rng;
use crate::event_time::{civil_from_days, days_from_civil, REFERENCE_UNIX_SECS};

/// Number of days covered by the training period.
pub(crate) const DAYS: i64 = 182;
/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;
/// One past the last possible TransactionDT (end of day 182).
pub(crate) const END_DT: i64 = (DAYS + 1) * DAY;

/// Relative volume of legitimate transactions per TransactionDT hour of day.
const LEGIT_HOURS: [f64; 24] = [
    9.0, 7.6, 5.9, 4.2, 2.8, 1.75, 1.05, 0.72, 0.6, 0.62, 0.85, 1.4, 2.4, 3.7, 5.0, 6.2, 7.2, 8.0, 8.6, 9.0, 9.3, 9.5,
    9.6, 9.4,
];

/// Relative volume of fraudsters' transactions per hour: flatter, with relatively more activity at night.
const FRAUD_HOURS: [f64; 24] = [
    7.0, 6.4, 5.6, 4.7, 3.6, 2.6, 1.6, 1.15, 0.85, 0.95, 1.2, 2.0, 3.0, 4.0, 4.8, 5.4, 5.9, 6.3, 6.6, 6.9, 7.1, 7.2,
    7.3, 7.2,
];

/// Relative volume of day `day` (1 = 2017-12-01).
fn day_weight(day: i64) -> f64 {
    let ref_days = REFERENCE_UNIX_SECS.div_euclid(DAY);
    let (y, m, d) = civil_from_days(ref_days + day);
    let weekday = (ref_days + day + 3).rem_euclid(7); // Monday = 0
    let week = [1.02, 1.02, 1.0, 1.0, 1.03, 0.97, 0.96][weekday as usize];
    let base = match (y, m, d) {
        (2017, 12, 1..=14) => 4300.0 + 50.0 * (d as f64 - 1.0),
        (2017, 12, 15..=21) => 5200.0 + 180.0 * (d as f64 - 15.0),
        (2017, 12, 22) => return 7200.0,
        (2017, 12, 23) => 5600.0,
        (2017, 12, 24) => 4200.0,
        (2017, 12, 25) => return 3300.0,
        (2017, 12, _) => 4200.0,
        (2018, 1, 1) => return 3300.0,
        _ => {
            // Slow decline from early January to the end of May.
            let since = (ref_days + day - days_from_civil(2018, 1, 2)) as f64;
            3050.0 - 150.0 * since / 150.0
        }
    };
    base * week
}

/// Cumulative day weights: `CUM_DAYS[i]` is the total weight of days 1..=i (index 0 is 0).
static CUM_DAYS: LazyLock<Vec<f64>> = LazyLock::new(|| {
    let mut cum = Vec::with_capacity(DAYS as usize + 1);
    let mut total = 0.0;
    cum.push(0.0);
    for day in 1..=DAYS {
        total += day_weight(day);
        cum.push(total);
    }
    cum
});

/// Expected share of all transactions that fall on `day`.
#[cfg(test)]
pub(crate) fn day_share(day: i64) -> f64 {
    day_weight(day) / CUM_DAYS[DAYS as usize]
}

/// The day at position `x` in [0, 1) of *volume time*: time stretched so that every stretch of equal length holds the
/// same expected number of transactions. Clients are laid out uniformly in volume time, so the days they transact on
/// follow the volume profile exactly (Christmas peak included), whatever their activity windows.
pub(crate) fn day_at(x: f64) -> i64 {
    let target = x.clamp(0.0, 1.0) * CUM_DAYS[DAYS as usize];
    (CUM_DAYS.partition_point(|&c| c <= target) as i64).clamp(1, DAYS)
}

fn sample_hour(rng: &mut Rng, weights: &[f64; 24]) -> i64 {
    let total: f64 = weights.iter().sum();
    let mut x = rng.f64() * total;
    for (h, w) in weights.iter().enumerate() {
        if x < *w {
            return h as i64;
        }
        x -= w;
    }
    23
}

/// A TransactionDT within `day` at a legitimate (`fraud == false`) or fraudster's time of day.
pub(crate) fn sample_time_in_day(rng: &mut Rng, day: i64, fraud: bool) -> i64 {
    let hour = sample_hour(rng, if fraud { &FRAUD_HOURS } else { &LEGIT_HOURS });
    day * DAY + hour * 3600 + rng.below(3600) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn christmas_peak_is_the_busiest_day_and_days_are_in_range() {
        let peak = (1..=DAYS).max_by(|a, b| day_share(*a).total_cmp(&day_share(*b))).expect("days");
        assert_eq!(peak, 22);
        assert_eq!((day_at(0.0), day_at(0.999_999)), (1, DAYS));
        let mut rng = Rng::new(3);
        for d in [1, 22, DAYS] {
            let t = sample_time_in_day(&mut rng, d, true);
            assert_eq!(t.div_euclid(DAY), d);
        }
    }
}
