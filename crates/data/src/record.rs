//! Typed IEEE-CIS records, laid out from the [catalog](crate::catalog).
//!
//! A [`Row`] keeps numeric columns in one `f64` slice (NaN means missing, exactly how models read them) and string
//! columns in another, so a record is two allocations rather than hundreds, and a column is reached by a slot index
//! resolved once from the catalog instead of a name lookup per value.

use crate::catalog::{Catalog, Column, ColumnType, Table};
use crate::event_time::EventTime;

/// Slot of `TransactionID` among the numeric values, in both tables.
pub const ID_SLOT: usize = 0;
/// Slot of `isFraud` among a transaction's numeric values.
pub const IS_FRAUD_SLOT: usize = 1;
/// Slot of `TransactionDT` among a transaction's numeric values.
pub const DT_SLOT: usize = 2;
/// Slot of `TransactionAmt` among a transaction's numeric values.
pub const AMOUNT_SLOT: usize = 3;

/// One row of a table; every value is nullable.
#[derive(Debug, Clone)]
pub struct Row {
    /// `Int` and `Float` columns in catalog slot order; NaN is a missing value.
    pub nums: Box<[f64]>,
    /// `Str` columns in catalog slot order.
    pub strs: Box<[Option<Box<str>>]>,
}

impl Row {
    /// A row of the given table with every value missing.
    pub fn empty(catalog: &Catalog) -> Row {
        Row { nums: vec![f64::NAN; catalog.num_count()].into(), strs: vec![None; catalog.str_count()].into() }
    }

    /// The value of a numeric column, `None` when missing.
    pub fn num(&self, col: &Column) -> Option<f64> {
        debug_assert_ne!(col.ty, ColumnType::Str);
        let v = self.nums[col.slot];
        (!v.is_nan()).then_some(v)
    }

    /// The value of a string column, `None` when missing.
    pub fn str(&self, col: &Column) -> Option<&str> {
        debug_assert_eq!(col.ty, ColumnType::Str);
        self.strs[col.slot].as_deref()
    }

    /// Any column as a [`Value`], for generic code (CSV writing, comparisons in tests, JSON).
    pub fn value(&self, col: &Column) -> Value<'_> {
        match col.ty {
            ColumnType::Str => self.str(col).map_or(Value::Null, Value::Str),
            ColumnType::Int => self.num(col).map_or(Value::Null, |v| Value::Int(v as i64)),
            ColumnType::Float => self.num(col).map_or(Value::Null, Value::Float),
        }
    }
}

/// Two rows are equal when every column is, a missing value being equal only to a missing value.
impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.strs == other.strs
            && self.nums.len() == other.nums.len()
            && self.nums.iter().zip(other.nums.iter()).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }
}

/// A borrowed, typed view of one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Str(&'a str),
}

/// A row of `train_transaction.csv`. Its event time comes from its own TransactionDT.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub row: Row,
}

impl Transaction {
    pub fn catalog() -> &'static Catalog {
        Table::Transaction.catalog()
    }

    /// TransactionID (required, so never missing in a record that was read or decoded).
    pub fn id(&self) -> i64 {
        self.row.nums[ID_SLOT] as i64
    }

    /// TransactionDT seconds (required).
    pub fn transaction_dt(&self) -> i64 {
        self.row.nums[DT_SLOT] as i64
    }

    pub fn event_time(&self) -> EventTime {
        EventTime::from_transaction_dt(self.transaction_dt())
    }

    /// The label, where the file has one (training data) — `None` for test files.
    pub fn is_fraud(&self) -> Option<bool> {
        let v = self.row.nums[IS_FRAUD_SLOT];
        (!v.is_nan()).then_some(v != 0.0)
    }

    pub fn amount(&self) -> Option<f64> {
        let v = self.row.nums[AMOUNT_SLOT];
        (!v.is_nan()).then_some(v)
    }
}

/// A row of `train_identity.csv`, stamped with its transaction's event time.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub row: Row,
    pub event_time: EventTime,
}

impl Identity {
    pub fn catalog() -> &'static Catalog {
        Table::Identity.catalog()
    }

    pub fn id(&self) -> i64 {
        self.row.nums[ID_SLOT] as i64
    }
}

/// Either kind of input record, as the sources emit them.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Transaction(Transaction),
    Identity(Identity),
}

impl Record {
    pub fn event_time(&self) -> EventTime {
        match self {
            Record::Transaction(t) => t.event_time(),
            Record::Identity(i) => i.event_time,
        }
    }

    pub fn transaction_id(&self) -> i64 {
        match self {
            Record::Transaction(t) => t.id(),
            Record::Identity(i) => i.id(),
        }
    }

    pub fn table(&self) -> Table {
        match self {
            Record::Transaction(_) => Table::Transaction,
            Record::Identity(_) => Table::Identity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{IDENTITY, TRANSACTION};

    #[test]
    fn fixed_slots_match_the_catalog() {
        assert_eq!(TRANSACTION.col("TransactionID").slot, ID_SLOT);
        assert_eq!(TRANSACTION.col("isFraud").slot, IS_FRAUD_SLOT);
        assert_eq!(TRANSACTION.col("TransactionDT").slot, DT_SLOT);
        assert_eq!(TRANSACTION.col("TransactionAmt").slot, AMOUNT_SLOT);
        assert_eq!(IDENTITY.col("TransactionID").slot, ID_SLOT);
    }

    #[test]
    fn missing_values_compare_equal_only_to_missing() {
        let a = Row::empty(&TRANSACTION);
        let mut b = Row::empty(&TRANSACTION);
        assert_eq!(a, b);
        b.nums[5] = 1.0;
        assert_ne!(a, b);
    }
}
