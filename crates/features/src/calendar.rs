//! Calendar features derived from event time, as the reference model was trained on them.
//!
//! Definitions (UTC, reference 2017-11-30T00:00:00Z + TransactionDT seconds): `DT_D = (year-2017)*365 + day of
//! year`, `DT_W = (year-2017)*52 + ISO week`, `DT_M = (year-2017)*12 + month`, hour of day 0-23, day of week with
//! Monday = 0. The date arithmetic itself lives in [`fraudstream_data::Calendar`].

use fraudstream_data::{Calendar, EventTime};

/// A derived time feature a model input can ask for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarFeature {
    DtD,
    DtW,
    DtM,
    Hour,
    DayOfWeek,
}

impl CalendarFeature {
    /// Every feature with the input names it answers to (first = canonical).
    pub const NAMES: &'static [(CalendarFeature, &'static [&'static str])] = &[
        (CalendarFeature::DtD, &["DT_D"]),
        (CalendarFeature::DtW, &["DT_W"]),
        (CalendarFeature::DtM, &["DT_M"]),
        (CalendarFeature::Hour, &["DT_hour", "hour", "Transaction_hour"]),
        (CalendarFeature::DayOfWeek, &["DT_day_week", "day_of_week", "Transaction_day_of_week"]),
    ];

    /// The feature a model input name refers to, if any.
    pub fn by_name(name: &str) -> Option<CalendarFeature> {
        Self::NAMES.iter().find(|(_, names)| names.contains(&name)).map(|(f, _)| *f)
    }

    /// The feature's value at an event time.
    pub fn value(self, calendar: &Calendar) -> f64 {
        match self {
            CalendarFeature::DtD => calendar.dt_d() as f64,
            CalendarFeature::DtW => calendar.dt_w() as f64,
            CalendarFeature::DtM => calendar.dt_m() as f64,
            CalendarFeature::Hour => calendar.hour as f64,
            CalendarFeature::DayOfWeek => calendar.weekday as f64,
        }
    }

    /// Convenience for one value at one time.
    pub fn at(self, t: EventTime) -> f64 {
        self.value(&Calendar::of(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_features() {
        assert_eq!(CalendarFeature::by_name("DT_M"), Some(CalendarFeature::DtM));
        assert_eq!(CalendarFeature::by_name("hour"), Some(CalendarFeature::Hour));
        assert_eq!(CalendarFeature::by_name("card1"), None);
    }

    #[test]
    fn values_follow_the_kaggle_definitions() {
        // 2017-12-01 07:30 UTC, a Friday.
        let t = EventTime::from_transaction_dt(86_400 + 7 * 3600 + 1800);
        assert_eq!(CalendarFeature::DtD.at(t), 335.0);
        assert_eq!(CalendarFeature::DtW.at(t), 48.0);
        assert_eq!(CalendarFeature::DtM.at(t), 12.0);
        assert_eq!(CalendarFeature::Hour.at(t), 7.0);
        assert_eq!(CalendarFeature::DayOfWeek.at(t), 4.0);
    }
}
