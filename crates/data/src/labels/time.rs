//! `label_time` as text: TransactionDT seconds (an integer, the transactions' own clock) or ISO-8601.

use crate::event_time::{days_from_civil, EventTime, REFERENCE_UNIX_SECS};

/// Parses a `label_time` field.
///
/// - An integer (optionally negative) is TransactionDT seconds, on the reference of
///   [`EventTime::from_transaction_dt`]: `86400` is 2017-12-01T00:00:00Z.
/// - Otherwise ISO-8601 / RFC 3339: `YYYY-MM-DDTHH:MM:SS`, a space allowed for the `T`, optional fraction of a
///   second (milliseconds kept, further digits dropped), then `Z` or an offset `±HH:MM` / `±HHMM`, e.g.
///   `2017-12-20T03:04:05Z`, `2017-12-20 03:04:05.250+01:00`. A time zone is required: a label time without one
///   would silently depend on the reader's machine.
///
/// The error says what is wrong, for a bad-row report.
pub fn parse_label_time(field: &str) -> Result<EventTime, String> {
    let text = field.trim();
    if text.is_empty() {
        return Err("label_time is empty".into());
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        let dt: i64 = text.parse().map_err(|_| format!("`{text}` is out of range for TransactionDT seconds"))?;
        return dt
            .checked_add(REFERENCE_UNIX_SECS)
            .and_then(|s| s.checked_mul(1000))
            .map(EventTime)
            .ok_or_else(|| format!("`{text}` is out of range for TransactionDT seconds"));
    }
    parse_iso(text).ok_or_else(|| {
        format!("`{text}` is neither TransactionDT seconds nor an ISO-8601 time like 2017-12-20T03:04:05Z")
    })
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff…](Z|±HH:MM|±HHMM)`.
fn parse_iso(s: &str) -> Option<EventTime> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0')))
    };
    let year = num(0, 4)?;
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    let two = |a: u8, b: u8| {
                        (a.is_ascii_digit() && b.is_ascii_digit())
                            .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                    };
                    (two(*h1, *h2)?, two(*m1, *m2)?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(EventTime(secs * 1000 + millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_dt_seconds_use_the_transactions_reference() {
        assert_eq!(parse_label_time("86400"), Ok(EventTime::from_transaction_dt(86_400)));
        assert_eq!(parse_label_time(" 0 "), Ok(EventTime::from_transaction_dt(0)));
        assert_eq!(parse_label_time("-60"), Ok(EventTime::from_transaction_dt(-60)));
        assert!(parse_label_time("99999999999999999999").unwrap_err().contains("out of range"));
    }

    #[test]
    fn iso_times_with_zones_and_fractions() {
        let t = |s: &str| parse_label_time(s).map(|t| t.to_string());
        assert_eq!(t("2017-12-01T00:00:00Z"), Ok("2017-12-01T00:00:00.000Z".into()));
        assert_eq!(parse_label_time("2017-12-01T00:00:00Z"), Ok(EventTime::from_transaction_dt(86_400)));
        assert_eq!(t("2017-12-20 03:04:05.25+01:00"), Ok("2017-12-20T02:04:05.250Z".into()));
        assert_eq!(t("2017-12-20T03:04:05.123456-0230"), Ok("2017-12-20T05:34:05.123Z".into()));
        assert_eq!(t("2016-02-29T23:59:59z"), Ok("2016-02-29T23:59:59.000Z".into()));
        // What Display writes reads back.
        let e = EventTime::from_transaction_dt(15_811_131).plus_millis(7);
        assert_eq!(parse_label_time(&e.to_string()), Ok(e));
    }

    #[test]
    fn malformed_times_are_refused_with_a_reason() {
        for bad in [
            "",
            "2017-12-20",
            "2017-12-20T03:04:05",
            "2017-13-01T00:00:00Z",
            "2017-02-29T00:00:00Z",
            "2017-12-20T24:00:00Z",
            "2017-12-20T03:04:05.Z",
            "2017-12-20T03:04:05+1:00",
            "2017/12/20T03:04:05Z",
            "12.5",
            "soon",
        ] {
            let err = parse_label_time(bad).expect_err(bad);
            assert!(err.contains("label_time") || err.contains("ISO-8601"), "{bad}: {err}");
        }
    }
}
