//! Event time: the single rule that turns `TransactionDT` into a point in time.
//!
//! TransactionDT counts seconds from an undisclosed reference; the community convention (and ours) is
//! 2017-11-30T00:00:00Z, so the first training row (TransactionDT = 86,400) falls on 2017-12-01. Identity rows carry
//! no time of their own: they take the event time of their transaction.

use std::fmt;

/// 2017-11-30T00:00:00Z as seconds since the Unix epoch.
pub const REFERENCE_UNIX_SECS: i64 = 1_512_000_000;

/// Milliseconds since the Unix epoch (the unit of Avro `timestamp-millis` and Kafka record timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime(pub i64);

impl EventTime {
    /// The event time of a transaction (and of its identity row) from its TransactionDT seconds.
    pub const fn from_transaction_dt(transaction_dt: i64) -> EventTime {
        EventTime((REFERENCE_UNIX_SECS + transaction_dt) * 1000)
    }

    /// The inverse of [`EventTime::from_transaction_dt`], truncating sub-second parts.
    pub const fn to_transaction_dt(self) -> i64 {
        self.0.div_euclid(1000) - REFERENCE_UNIX_SECS
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This time shifted by a signed number of milliseconds.
    pub const fn plus_millis(self, delta: i64) -> EventTime {
        EventTime(self.0 + delta)
    }
}

impl fmt::Display for EventTime {
    /// RFC 3339 in UTC with millisecond precision, e.g. `2017-12-01T00:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", sod / 3600, sod / 60 % 60, sod % 60)
    }
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_training_row_falls_on_2017_12_01() {
        assert_eq!(EventTime::from_transaction_dt(86_400).to_string(), "2017-12-01T00:00:00.000Z");
    }

    #[test]
    fn last_training_row_is_about_182_days_later() {
        assert_eq!(EventTime::from_transaction_dt(15_811_131).to_string(), "2018-05-31T23:58:51.000Z");
    }

    #[test]
    fn transaction_dt_round_trips() {
        for dt in [0, 86_400, 15_811_131] {
            assert_eq!(EventTime::from_transaction_dt(dt).to_transaction_dt(), dt);
        }
    }
}
