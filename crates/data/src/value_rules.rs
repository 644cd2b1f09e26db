//! What a value must be to enter a [`Row`](crate::Row): the rules shared by the CSV reader and every Avro decoder,
//! so a value refused in one format is refused in the other and nothing is silently changed on the way in.
//!
//! - Numbers are finite. `NaN` means missing (it is how a row stores a missing number, and pandas' spelling of one);
//!   `inf` and overflowing exponents are errors.
//! - Integer columns (`TransactionID`, `isFraud`, `TransactionDT`, `card1`) hold integers of magnitude at most
//!   2^53: rows keep numbers as `f64`, which represents every integer up to 2^53 exactly and no longer all of them
//!   beyond. A larger value would be stored as a different number (`99999999999999999999` as
//!   `100000000000000000000`, or saturated to `i64::MAX` on the way out).
//! - `TransactionDT` is within `0..=`[`MAX_TRANSACTION_DT`]: seconds after the 2017-11-30 reference, up to the last
//!   second of year 9999. Below 0 it is before the data's reference; above, the event time is no longer a 4-digit
//!   year (RFC 3339 output) and arithmetic on event-time milliseconds approaches `i64` overflow.

use crate::catalog::{Column, ColumnType, Table};
use crate::event_time::MAX_TRANSACTION_DT;
use crate::record::DT_SLOT;

/// 2^53, the largest magnitude an integer column may hold (see the module docs).
pub const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// What a numeric column's present values must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberRule {
    /// Any finite number.
    Float,
    /// An integer of magnitude at most 2^53.
    Integer,
    /// An integer in `0..=MAX_TRANSACTION_DT`.
    TransactionDt,
}

impl NumberRule {
    /// The rule of a column of `table`; `None` for text columns.
    pub fn of(table: Table, col: &Column) -> Option<NumberRule> {
        match col.ty {
            ColumnType::Str => None,
            ColumnType::Float => Some(NumberRule::Float),
            ColumnType::Int if table == Table::Transaction && col.slot == DT_SLOT => Some(NumberRule::TransactionDt),
            ColumnType::Int => Some(NumberRule::Integer),
        }
    }

    /// Whether values must be integers.
    pub fn is_integer(self) -> bool {
        self != NumberRule::Float
    }

    /// Checks a present value (not NaN). The error completes a sentence whose subject is the value, e.g.
    /// "`1e20` is outside …", so each decoder can show the value as it was written.
    pub fn check(self, v: f64) -> Result<(), &'static str> {
        if !v.is_finite() {
            return Err("is not a finite number");
        }
        if self == NumberRule::Float {
            return Ok(());
        }
        if v.fract() != 0.0 {
            return Err("is not an integer");
        }
        if v.abs() > MAX_EXACT_INTEGER {
            return Err(OUT_OF_INTEGER_RANGE);
        }
        if self == NumberRule::TransactionDt {
            if v < 0.0 {
                return Err("is negative: TransactionDT counts seconds after the 2017-11-30 reference");
            }
            if v > MAX_TRANSACTION_DT as f64 {
                return Err("is after 251890300799, the last TransactionDT with an event time (9999-12-31T23:59:59Z)");
            }
        }
        Ok(())
    }

    /// Checks an integer as written by an integer encoding (Avro `int`/`long`, a key), before it becomes an `f64`.
    pub fn check_integer(self, v: i64) -> Result<(), &'static str> {
        if v.unsigned_abs() > MAX_EXACT_INTEGER as u64 {
            return Err(if self == NumberRule::Float { OUT_OF_FLOAT_RANGE } else { OUT_OF_INTEGER_RANGE });
        }
        self.check(v as f64)
    }
}

const OUT_OF_INTEGER_RANGE: &str =
    "is outside the integers a row holds exactly (magnitude at most 2^53 = 9007199254740992)";
const OUT_OF_FLOAT_RANGE: &str =
    "is an integer beyond 2^53 = 9007199254740992, which a number column cannot hold exactly";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_must_be_whole_and_at_most_2_pow_53() {
        assert_eq!(NumberRule::Integer.check(9_007_199_254_740_992.0), Ok(()));
        assert_eq!(NumberRule::Integer.check(-9_007_199_254_740_992.0), Ok(()));
        assert!(NumberRule::Integer.check(1e20).is_err());
        assert!(NumberRule::Integer.check(1.5).is_err());
        assert!(NumberRule::Integer.check_integer(i64::MAX).is_err());
        assert!(NumberRule::Float.check_integer(1 << 60).is_err());
        assert_eq!(NumberRule::Float.check(1e300), Ok(()));
        assert!(NumberRule::Float.check(f64::INFINITY).is_err());
    }

    #[test]
    fn transaction_dt_is_between_the_reference_and_year_9999() {
        assert_eq!(NumberRule::TransactionDt.check(0.0), Ok(()));
        assert_eq!(NumberRule::TransactionDt.check(MAX_TRANSACTION_DT as f64), Ok(()));
        assert!(NumberRule::TransactionDt.check(-1.0).is_err());
        assert!(NumberRule::TransactionDt.check(MAX_TRANSACTION_DT as f64 + 1.0).is_err());
        assert!(NumberRule::TransactionDt.check(86_555.5).is_err());
    }
}
