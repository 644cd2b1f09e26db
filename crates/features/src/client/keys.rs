//! What the client features read from a record, and the keys their state is grouped by.
//!
//! The client key follows the winning IEEE-CIS solutions: `uid = card1 + addr1 + floor(TransactionDT / 86400 − D1)`,
//! where the last part is the day the card was first seen. Kaggle built it by string concatenation, so a missing
//! addr1 or D1 was the string `nan` — a valid key part shared by all records missing it. Here the same holds: a
//! missing addr1 or D1 is one distinct key value. A missing card1 gives no key at all (the uid and card1 features
//! are missing then), since a client without a card is not a client.

use fraudstream_data::record::DT_SLOT;
use fraudstream_data::{Identity, Table, Transaction};

use super::hash::hash_str;

/// Seconds per day, for the first-seen day and the normalised D columns.
pub(crate) const DAY_SECS: f64 = 86_400.0;

/// Map key bits of a numeric value: one value for every NaN and for ±0, so equal values always group together.
pub(crate) fn num_key(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        (v + 0.0).to_bits()
    }
}

/// The client key. Parts are [`num_key`] bits; `first_day` is `i64::MIN` when D1 is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct UidKey {
    pub(crate) card1: u64,
    pub(crate) addr1: u64,
    pub(crate) first_day: i64,
}

/// Catalog slots of the columns the client features read, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    card1: usize,
    addr1: usize,
    d: [usize; 15],
    email: usize,
    device_info: usize,
}

/// The parts of one record the client features use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    /// TransactionDT / 86400, fractional.
    pub(crate) day: f64,
    pub(crate) amount: Option<f64>,
    pub(crate) card1: Option<f64>,
    pub(crate) addr1: Option<f64>,
    pub(crate) email: Option<&'a str>,
    /// Hash of the identity's DeviceInfo; `None` when there is no identity or it has no DeviceInfo.
    pub(crate) device: Option<u64>,
    /// D1 … D15 (NaN when missing).
    pub(crate) d: [f64; 15],
}

/// The input columns client features are computed from (besides TransactionID, TransactionDT and
/// TransactionAmt): a job that parses only what it needs must parse these when its model reads client features.
pub const SOURCE_COLUMNS: &[&str] = &[
    "TransactionAmt",
    "card1",
    "addr1",
    "P_emaildomain",
    "DeviceInfo",
    "D1",
    "D2",
    "D3",
    "D4",
    "D5",
    "D6",
    "D7",
    "D8",
    "D9",
    "D10",
    "D11",
    "D12",
    "D13",
    "D14",
    "D15",
];

/// The key that keeps a card's state together when records are partitioned: card1 as [`num_key`] bits, `None`
/// without card1.
///
/// Every client key (`uid`) contains card1, so records with equal partition keys carry all the state of their
/// `uid_*` and `card1_*` features: a stream partitioned by this key computes those features per partition exactly
/// as one process computing them over everything would.
pub fn partition_key(tx: &Transaction) -> Option<u64> {
    static CARD1: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let slot = *CARD1.get_or_init(|| Table::Transaction.catalog().col("card1").slot);
    let card1 = tx.row.nums[slot];
    (!card1.is_nan()).then(|| num_key(card1))
}

impl Slots {
    pub(crate) fn resolve() -> Slots {
        let tx = Table::Transaction.catalog();
        let id = Table::Identity.catalog();
        Slots {
            card1: tx.col("card1").slot,
            addr1: tx.col("addr1").slot,
            d: std::array::from_fn(|i| tx.col(&format!("D{}", i + 1)).slot),
            email: tx.col("P_emaildomain").slot,
            device_info: id.col("DeviceInfo").slot,
        }
    }

    pub(crate) fn parts<'a>(&self, tx: &'a Transaction, identity: Option<&Identity>) -> Parts<'a> {
        let nums = &tx.row.nums;
        let present = |v: f64| (!v.is_nan()).then_some(v);
        Parts {
            day: nums[DT_SLOT] / DAY_SECS,
            amount: tx.amount(),
            card1: present(nums[self.card1]),
            addr1: present(nums[self.addr1]),
            email: tx.row.strs[self.email].as_deref(),
            device: identity.and_then(|i| i.row.strs[self.device_info].as_deref()).map(hash_str),
            d: std::array::from_fn(|i| nums[self.d[i]]),
        }
    }
}

impl Parts<'_> {
    /// The client key, when the record has a card1.
    pub(crate) fn uid(&self) -> Option<UidKey> {
        let card1 = self.card1?;
        let first = (self.day - self.d[0]).floor();
        let first_day = if first.is_finite() { first as i64 } else { i64::MIN };
        Some(UidKey { card1: num_key(card1), addr1: num_key(self.addr1.unwrap_or(f64::NAN)), first_day })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::Row;

    #[test]
    fn uid_takes_card1_addr1_and_first_seen_day_with_missing_parts_as_values() {
        let slots = Slots::resolve();
        let cat = Table::Transaction.catalog();
        let mut row = Row::empty(cat);
        row.nums[DT_SLOT] = 10.0 * 86_400.0 + 3_600.0;
        row.nums[cat.col("card1").slot] = 4497.0;
        row.nums[cat.col("D1").slot] = 3.0;
        let tx = Transaction { row };
        let key = slots.parts(&tx, None).uid().expect("card1 present");
        assert_eq!(key, UidKey { card1: 4497f64.to_bits(), addr1: f64::NAN.to_bits(), first_day: 7 });

        let mut other = tx.clone();
        other.row.nums[cat.col("D1").slot] = f64::NAN;
        other.row.nums[cat.col("addr1").slot] = -0.0;
        let key = slots.parts(&other, None).uid().expect("card1 present");
        assert_eq!((key.addr1, key.first_day), (0f64.to_bits(), i64::MIN));

        other.row.nums[cat.col("card1").slot] = f64::NAN;
        assert_eq!(slots.parts(&other, None).uid(), None);
    }
}
