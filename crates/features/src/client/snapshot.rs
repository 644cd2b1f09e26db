//! Client state as bytes, and back: what lets a stage that computes client features restart from a snapshot
//! instead of replaying the whole history of its input (the Kafka scoring stage's recovery).
//!
//! The encoding is exact: every entry, running total (as written, not recomputed) and clock is restored bit for
//! bit, so a restored state computes the features the original would have — a recomputed sum could differ in its
//! last bits and flip a window statistic. Layout, little-endian: the magic `FSCS`, a version byte, the settings
//! (TTL, lateness, in ms) and clocks, then the client keys, card1, addr1 and e-mail maps, each a count followed by
//! its entries. Map order is whatever the hash map iterates in; it does not matter for the features.

use super::distinct::Distinct;
use super::hash::FastMap;
use super::history::{Entry, History, Totals};
use super::inline_vec::InlineVec;
use super::keys::UidKey;
use super::{ClientFeatures, ClientState};

const MAGIC: &[u8; 4] = b"FSCS";
const VERSION: u8 = 1;

/// A snapshot that cannot be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("not a client-state snapshot (it starts with {0:?}, not \"FSCS\")")]
    NotASnapshot(Vec<u8>),
    #[error("client-state snapshot format {found}; this build reads {VERSION}")]
    Version { found: u8 },
    #[error("the client-state snapshot is truncated: {what} at byte {at} of {len}")]
    Truncated { what: &'static str, at: usize, len: usize },
    #[error(
        "the client-state snapshot was made with a TTL of {snapshot_ttl_ms} ms and a lateness of {snapshot_lateness_ms} \
         ms; this job uses {ttl_ms} and {lateness_ms}: its features would differ"
    )]
    Settings { snapshot_ttl_ms: i64, snapshot_lateness_ms: i64, ttl_ms: i64, lateness_ms: i64 },
}

impl ClientFeatures {
    /// Appends the whole state to `out` (see the module docs).
    pub fn snapshot(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        for v in [self.ttl_ms, self.lateness_ms, self.clock, self.next_sweep] {
            put_i64(out, v);
        }
        put_u64(out, self.uids.len() as u64);
        for (key, state) in &self.uids {
            put_u64(out, key.card1);
            put_u64(out, key.addr1);
            put_i64(out, key.first_day);
            put_history(out, &state.history);
            put_u64(out, state.distinct.values().len() as u64);
            for &(value, first) in state.distinct.values() {
                put_u64(out, value);
                put_i64(out, first);
            }
        }
        for map in [&self.cards, &self.addrs] {
            put_u64(out, map.len() as u64);
            for (key, history) in map {
                put_u64(out, *key);
                put_history(out, history);
            }
        }
        put_u64(out, self.emails.len() as u64);
        for (key, history) in &self.emails {
            put_u64(out, key.len() as u64);
            out.extend_from_slice(key.as_bytes());
            put_history(out, history);
        }
    }

    /// Restores a [`ClientFeatures::snapshot`] into this (empty or not) state, which must have the snapshot's
    /// settings.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let mut r = Reader { bytes, at: 0 };
        let magic = r.take(4, "the magic")?;
        if magic != MAGIC {
            return Err(SnapshotError::NotASnapshot(magic.to_vec()));
        }
        let version = r.take(1, "the version")?[0];
        if version != VERSION {
            return Err(SnapshotError::Version { found: version });
        }
        let (ttl, lateness) = (r.i64("the TTL")?, r.i64("the lateness")?);
        if (ttl, lateness) != (self.ttl_ms, self.lateness_ms) {
            return Err(SnapshotError::Settings {
                snapshot_ttl_ms: ttl,
                snapshot_lateness_ms: lateness,
                ttl_ms: self.ttl_ms,
                lateness_ms: self.lateness_ms,
            });
        }
        self.clock = r.i64("the clock")?;
        self.next_sweep = r.i64("the next sweep")?;
        self.uids = FastMap::default();
        for _ in 0..r.count("the client key count")? {
            let key = UidKey { card1: r.u64("a card1")?, addr1: r.u64("an addr1")?, first_day: r.i64("a day")? };
            let history = r.history()?;
            let mut distinct = Distinct::default();
            for _ in 0..r.count("a distinct count")? {
                distinct.push_raw(r.u64("a distinct value")?, r.i64("a first time")?);
            }
            self.uids.insert(key, ClientState { history, distinct });
        }
        for map in [&mut self.cards, &mut self.addrs] {
            *map = FastMap::default();
            for _ in 0..r.count("an entity count")? {
                let key = r.u64("an entity key")?;
                map.insert(key, r.history()?);
            }
        }
        self.emails = FastMap::default();
        for _ in 0..r.count("the e-mail count")? {
            let len = r.count("an e-mail length")?;
            let text = String::from_utf8_lossy(r.take(len, "an e-mail domain")?).into_owned();
            self.emails.insert(text.into_boxed_str(), r.history()?);
        }
        if r.at != bytes.len() {
            return Err(SnapshotError::Truncated { what: "nothing (bytes left over)", at: r.at, len: bytes.len() });
        }
        Ok(())
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

fn put_history(out: &mut Vec<u8>, h: &History) {
    let (entries, head, pruned, pruned_newest, newest, shift) = h.parts();
    put_u64(out, entries.len() as u64);
    for e in entries {
        put_i64(out, e.t);
        put_u64(out, e.cum.n);
        put_f64(out, e.cum.sum);
        put_f64(out, e.cum.sq);
    }
    put_u64(out, head as u64);
    put_u64(out, pruned);
    put_i64(out, pruned_newest);
    put_i64(out, newest);
    put_f64(out, shift);
}

/// Reads a snapshot front to back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(SnapshotError::Truncated { what, at: self.at, len: self.bytes.len() })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(word))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, SnapshotError> {
        self.u64(what).map(|v| v as i64)
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, SnapshotError> {
        self.u64(what).map(f64::from_bits)
    }

    /// A count, checked against the bytes left (each counted item takes at least one byte), so a corrupt count
    /// cannot make the reader allocate without bound.
    fn count(&mut self, what: &'static str) -> Result<usize, SnapshotError> {
        let n = self.u64(what)?;
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(SnapshotError::Truncated { what, at: self.at, len: self.bytes.len() });
        }
        Ok(n as usize)
    }

    fn history(&mut self) -> Result<History, SnapshotError> {
        let n = self.count("an entry count")?;
        let mut entries = InlineVec::default();
        for _ in 0..n {
            let t = self.i64("an entry time")?;
            let cum = Totals { n: self.u64("a count")?, sum: self.f64("a sum")?, sq: self.f64("a sum of squares")? };
            entries.push(Entry { t, cum });
        }
        let head = self.u64("a head")? as usize;
        if head > n {
            return Err(SnapshotError::Truncated {
                what: "a head within the entries",
                at: self.at,
                len: self.bytes.len(),
            });
        }
        let (pruned, pruned_newest, newest) = (self.u64("pruned")?, self.i64("pruned newest")?, self.i64("newest")?);
        Ok(History::from_parts(entries, head, pruned, pruned_newest, newest, self.f64("a shift")?))
    }
}
