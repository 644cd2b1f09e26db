//! Numbers written as text (CSV fields, and Avro strings from producers that send numbers as text): exact parsing
//! under the [value rules](crate::value_rules).
//!
//! Floats take a fast path for plain decimals and the standard parser otherwise. Integers are parsed exactly from
//! their digits (`86400`, `86400.0`, `8.64e4`), so a value that is not an integer, or beyond 2^53, is refused
//! rather than rounded: parsing `9007199254740993` as an `f64` would silently give `9007199254740992`.

use crate::catalog::ColumnType;
use crate::value_rules::{NumberRule, MAX_EXACT_INTEGER};

/// Parses a present numeric field under `rule`. `Ok(NaN)` is a missing value spelled `NaN` (any case), as pandas
/// writes one with `na_rep="NaN"`. The error is a full sentence naming the text, e.g. "`abc` is not a number".
#[inline]
pub fn parse_number_with(field: &[u8], rule: NumberRule) -> Result<f64, String> {
    if !rule.is_integer() {
        // Both paths give finite numbers or NaN: nothing more to check for a float.
        return match parse_plain_decimal(field) {
            Some(v) => Ok(v),
            None => parse_float_slow(field),
        };
    }
    let v = match parse_exact_integer(field.trim_ascii()) {
        Some(Ok(v)) => v,
        Some(Err(reason)) => return Err(format!("`{}` {reason}", shown(field))),
        None => parse_special(field)?,
    };
    if !v.is_nan() {
        rule.check(v).map_err(|reason| format!("`{}` {reason}", shown(field)))?;
    }
    Ok(v)
}

/// [`parse_number_with`] by column type alone (`Int` columns as [`NumberRule::Integer`]).
pub fn parse_number(field: &[u8], ty: ColumnType) -> Result<f64, String> {
    let rule = if ty == ColumnType::Int { NumberRule::Integer } else { NumberRule::Float };
    parse_number_with(field, rule)
}

/// A field's text for a message: as is when it is UTF-8, with `\xNN` escapes for the bytes that are not.
pub fn shown(field: &[u8]) -> String {
    match std::str::from_utf8(field) {
        Ok(s) => s.to_string(),
        Err(_) => field.escape_ascii().to_string(),
    }
}

/// Exact powers of ten representable in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses plain decimals (`-12.345`, `150.0`, `7`) without going through the general parser.
///
/// Clinger's fast path: when all digits fit in an integer below 2^53 and there are at most 22 fraction digits,
/// `digits / 10^k` is one correctly rounded IEEE division, so the result equals what `str::parse` gives. Anything
/// else (exponents, very long numbers, junk) returns `None` and takes the general path.
#[inline]
fn parse_plain_decimal(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 17 {
        return None;
    }
    let (mut mantissa, mut frac_digits, mut seen_dot, mut seen_digit) = (0u64, 0usize, false, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + (c - b'0') as u64;
                frac_digits += seen_dot as usize;
                seen_digit = true;
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !seen_digit || mantissa >= 1 << 53 {
        return None;
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

fn parse_float_slow(field: &[u8]) -> Result<f64, String> {
    let text = std::str::from_utf8(field).map_err(|_| format!("`{}` is not a number", shown(field)))?;
    let t = text.trim();
    if t.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    let v: f64 = t.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    Ok(v)
}

/// What an integer field that is not decimal notation can still be: `NaN` (missing), or an error.
fn parse_special(field: &[u8]) -> Result<f64, String> {
    let t = field.trim_ascii();
    if t.eq_ignore_ascii_case(b"nan") {
        return Ok(f64::NAN);
    }
    match std::str::from_utf8(t).ok().and_then(|t| t.parse::<f64>().ok()) {
        Some(v) if !v.is_finite() => Err(format!("`{}` is not a finite number", shown(field))),
        _ => Err(format!("`{}` is not a number", shown(field))),
    }
}

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` as an exact integer. `None` when the text is not in that notation;
/// `Some(Err(_))` when it is, but its value is not an integer or its magnitude exceeds 2^53.
fn parse_exact_integer(b: &[u8]) -> Option<Result<f64, &'static str>> {
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let digits_end = |from: usize| b[from..].iter().position(|c| !c.is_ascii_digit()).map_or(b.len(), |p| from + p);
    let int_end = digits_end(0);
    let int_part = &b[..int_end];
    let (frac_part, mut i) = match b.get(int_end) {
        Some(b'.') => {
            let end = digits_end(int_end + 1);
            (&b[int_end + 1..end], end)
        }
        _ => (&b[..0], int_end),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_neg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let end = digits_end(i);
        if end == i {
            return None;
        }
        for &c in &b[i..end] {
            // Saturating: an exponent this large is out of range (or zero) whatever the digits.
            exp = (exp * 10 + (c - b'0') as i64).min(1 << 40);
        }
        if exp_neg {
            exp = -exp;
        }
        i = end;
    }
    if i != b.len() {
        return None;
    }
    // The value is D × 10^(exp − frac_len), D being the digits of both parts.
    let digit = |j: usize| if j < int_part.len() { int_part[j] } else { frac_part[j - int_part.len()] };
    let total = int_part.len() + frac_part.len();
    let Some(first) = (0..total).find(|&j| digit(j) != b'0') else {
        return Some(Ok(0.0));
    };
    let last = (0..total).rev().find(|&j| digit(j) != b'0').unwrap_or(first);
    // Trailing zeros of D move into the exponent.
    let scale = exp - frac_part.len() as i64 + (total - 1 - last) as i64;
    if scale < 0 {
        return Some(Err("is not an integer"));
    }
    let significant = (last - first + 1) as i64;
    if significant + scale > 16 {
        return Some(Err(OUT_OF_RANGE));
    }
    let mut v: u64 = (first..=last).fold(0, |acc, j| acc * 10 + (digit(j) - b'0') as u64);
    for _ in 0..scale {
        v *= 10;
    }
    if v > MAX_EXACT_INTEGER as u64 {
        return Some(Err(OUT_OF_RANGE));
    }
    let v = v as f64;
    Some(Ok(if neg { -v } else { v }))
}

const OUT_OF_RANGE: &str = "is outside the integers a row holds exactly (magnitude at most 2^53 = 9007199254740992)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_parsed_exactly_in_any_decimal_notation() {
        for (text, v) in [
            ("86400", 86_400.0),
            ("86400.0", 86_400.0),
            ("86400.000", 86_400.0),
            ("8.64e4", 86_400.0),
            ("864000E-1", 86_400.0),
            ("-5", -5.0),
            ("+5", 5.0),
            ("0", 0.0),
            ("-0.0", 0.0),
            (" 7 ", 7.0),
            ("9007199254740992", 9_007_199_254_740_992.0),
            ("-9007199254740992", -9_007_199_254_740_992.0),
        ] {
            assert_eq!(parse_number_with(text.as_bytes(), NumberRule::Integer), Ok(v), "{text}");
        }
        for (text, why) in [
            ("9007199254740993", "outside the integers"),
            ("99999999999999999999", "outside the integers"),
            ("1e300", "outside the integers"),
            ("86400.5", "not an integer"),
            ("9007199254740990.6", "not an integer"),
            ("1e-1", "not an integer"),
            ("inf", "not a finite number"),
            ("-Infinity", "not a finite number"),
            ("1e", "not a number"),
            ("abc", "not a number"),
            (".", "not a number"),
            ("1-2", "not a number"),
        ] {
            let err = parse_number_with(text.as_bytes(), NumberRule::Integer).expect_err(text);
            assert!(err.contains(why) && err.contains(text), "{text}: {err}");
        }
        assert!(parse_number_with(b"NaN", NumberRule::Integer).expect("missing").is_nan());
    }

    #[test]
    fn transaction_dt_is_range_checked() {
        assert_eq!(parse_number_with(b"86400", NumberRule::TransactionDt), Ok(86_400.0));
        assert_eq!(parse_number_with(b"86555.0", NumberRule::TransactionDt), Ok(86_555.0));
        let err = parse_number_with(b"-1", NumberRule::TransactionDt).expect_err("negative");
        assert!(err.starts_with("`-1` is negative"), "{err}");
        let err = parse_number_with(b"251890300800", NumberRule::TransactionDt).expect_err("too late");
        assert!(err.contains("9999-12-31"), "{err}");
    }

    #[test]
    fn non_utf8_bytes_are_shown_escaped() {
        let err = parse_number_with(b"12\xe93", NumberRule::Float).expect_err("junk");
        assert_eq!(err, "`12\\xe93` is not a number");
    }
}
