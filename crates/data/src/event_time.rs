//! Event time: the single rule that turns `TransactionDT` into a point in time.
//!
//! TransactionDT counts seconds from an undisclosed reference; the community convention (and ours) is
//! 2017-11-30T00:00:00Z, so the first training row (TransactionDT = 86,400) falls on 2017-12-01. Identity rows carry
//! no time of their own: they take the event time of their transaction.

use std::fmt;

/// 2017-11-30T00:00:00Z as seconds since the Unix epoch.
pub const REFERENCE_UNIX_SECS: i64 = 1_512_000_000;

/// The last TransactionDT with a representable event time: 9999-12-31T23:59:59Z, the last second with a 4-digit
/// year (RFC 3339, which the event time's display follows). Its milliseconds (2.5e14) leave event-time arithmetic
/// (jitter, windows, lateness) far from `i64` overflow. Decoders refuse larger values (see
/// [`value_rules`](crate::value_rules)).
pub const MAX_TRANSACTION_DT: i64 = days_from_civil(10_000, 1, 1) * 86_400 - 1 - REFERENCE_UNIX_SECS;

/// The event times (milliseconds) a record may carry: from the Unix epoch to the last millisecond of year 9999. An
/// identity's event time is its transaction's, shifted by at most a few seconds of jitter, so it stays well inside.
pub const EVENT_TIME_MILLIS: std::ops::RangeInclusive<i64> = 0..=(days_from_civil(10_000, 1, 1) * 86_400_000 - 1);

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

/// Calendar fields of an event time in UTC, and the Kaggle-style counters derived from them.
///
/// `DT_D = (year-2017)*365 + day of year`, `DT_W = (year-2017)*52 + ISO week`, `DT_M = (year-2017)*12 + month` —
/// the definitions the reference model was trained with (not Flink's EXTRACT(DOY/DOW/MONTH)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    /// 1-based day of the year.
    pub ordinal: u32,
    /// ISO 8601 week number (1..=53) of the date.
    pub iso_week: u32,
    /// Monday = 0 … Sunday = 6 (Python's `weekday()`).
    pub weekday: u32,
    pub hour: u32,
}

impl Calendar {
    pub fn of(t: EventTime) -> Calendar {
        let secs = t.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let ordinal = (days - days_from_civil(year, 1, 1) + 1) as u32;
        let weekday = (days + 3).rem_euclid(7) as u32;
        let iso_week = iso_week(year, ordinal, weekday);
        let hour = (secs.rem_euclid(86_400) / 3600) as u32;
        Calendar { year, month, day, ordinal, iso_week, weekday, hour }
    }

    pub fn dt_d(&self) -> i64 {
        (self.year - 2017) * 365 + self.ordinal as i64
    }

    pub fn dt_w(&self) -> i64 {
        (self.year - 2017) * 52 + self.iso_week as i64
    }

    pub fn dt_m(&self) -> i64 {
        (self.year - 2017) * 12 + self.month as i64
    }
}

fn iso_week(year: i64, ordinal: u32, weekday: u32) -> u32 {
    let week = (ordinal as i64 - (weekday as i64 + 1) + 10) / 7;
    if week < 1 {
        iso_weeks_in_year(year - 1)
    } else if week > iso_weeks_in_year(year) as i64 {
        1
    } else {
        week as u32
    }
}

fn iso_weeks_in_year(year: i64) -> u32 {
    let p = |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
    if p(year) == 4 || p(year - 1) == 3 {
        53
    } else {
        52
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of [`civil_from_days`]).
pub const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn calendar_counters_match_python_isocalendar() {
        // Values from Python: datetime(2017,11,30) + timedelta(seconds=dt), then the facts-file formulas.
        let c = Calendar::of(EventTime::from_transaction_dt(86_400));
        assert_eq!((c.dt_d(), c.dt_w(), c.dt_m(), c.hour, c.weekday), (335, 48, 12, 0, 4));
        // 2018-01-01 07:30 (Monday): ISO week 1 of 2018.
        let c = Calendar::of(EventTime::from_transaction_dt(32 * 86_400 + 7 * 3600 + 1800));
        assert_eq!((c.year, c.ordinal, c.iso_week, c.weekday, c.hour), (2018, 1, 1, 0, 7));
        assert_eq!((c.dt_d(), c.dt_w(), c.dt_m()), (366, 53, 13));
        // 2017-12-31 (Sunday) is in ISO week 52.
        let c = Calendar::of(EventTime::from_transaction_dt(31 * 86_400));
        assert_eq!((c.iso_week, c.weekday, c.dt_d()), (52, 6, 365));
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [-1000, 0, 17_500, 17_532, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn the_largest_transaction_dt_is_the_last_second_of_year_9999() {
        assert_eq!(MAX_TRANSACTION_DT, 251_890_300_799);
        assert_eq!(EventTime::from_transaction_dt(MAX_TRANSACTION_DT).to_string(), "9999-12-31T23:59:59.000Z");
        assert_eq!(EventTime(*EVENT_TIME_MILLIS.end()).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn transaction_dt_round_trips() {
        for dt in [0, 86_400, 15_811_131] {
            assert_eq!(EventTime::from_transaction_dt(dt).to_transaction_dt(), dt);
        }
    }
}
