//! Client (velocity) features: what a card and its client did before this transaction.
//!
//! In IEEE-CIS, fraud clusters by client (a compromised card's later transactions are fraud too), so what catches
//! it is client history. The winning solutions keyed a client as `uid = card1 + addr1 + floor(TransactionDT/86400 −
//! D1)` (the card, its address, and the day it was first seen) and aggregated over it; in production the same
//! aggregations are velocity features computed from the past only. Both the stream and training compute them with
//! [`ClientFeatures`], record by record, so the model sees identical values in both.
//!
//! # Features
//! See [`ClientFeature`] for the list and canonical order. Exactly:
//! - `uid_count_{1h,24h,7d,30d}`, `card1_count_…`: past transactions of the client key / card1 value whose age
//!   `a = t − t_past` satisfies `0 < a <= window` (one exactly 1 h old is in the 1 h window).
//! - `uid_amt_mean`, `uid_amt_std`, `card1_…`: mean and sample standard deviation (divisor n − 1, as pandas) of
//!   the past transactions' TransactionAmt within the 30-day window (same age rule). Mean missing without a past
//!   amount, standard deviation missing with fewer than two. Missing amounts count in the counts, not here.
//! - `uid_amt_rel`, `card1_amt_rel`: this TransactionAmt / that mean (missing if either is, or the mean is 0).
//! - `uid_secs_since_prev`, `card1_secs_since_prev`: `t − t_prev` in seconds, `t_prev` the newest past transaction
//!   of the key; missing when there is none within the state TTL (see [`ClientConfig::ttl`]).
//! - `uid_emails`, `uid_devices`: distinct P_emaildomain values / identity DeviceInfo values among the client's
//!   past transactions since its state was created (at most 64 are tracked). A missing e-mail, a missing identity or
//!   a missing DeviceInfo adds nothing.
//! - `card1_seen`, `addr1_seen`, `email_seen`: past transactions with this card1 / addr1 / P_emaildomain value
//!   since that value's state was created — a running frequency encoding. Missing when the value is.
//! - `cents`: `TransactionAmt − floor(TransactionAmt)` (raw f64, so `57.95` gives `0.950000000000003`).
//! - `D4n`, `D6n`, `D7n`, `D8n`, `D10n` … `D15n`: `D_i − TransactionDT / 86400` with a fractional day, the winning
//!   solution's "normalise D columns" (it used float32, we use f64). D1, D2, D3, D5 and D9 are left out as it left
//!   them out: D1n is minus the first-seen day (already in the key, and for new cards just the clock), D2/D3/D5 are
//!   gaps since an earlier transaction and D9 a time of day, which normalisation would turn into clocks.
//!
//! # Keys
//! `uid` needs card1; a missing addr1 or D1 is a valid key part (Kaggle concatenated the string `nan`). Without
//! card1 every `uid_*` and `card1_*` feature is missing and the record enters no client or card1 state.
//!
//! # Past only, by event time
//! A transaction at event time `t` sees exactly the transactions already processed whose event time is strictly
//! earlier than `t`; transactions at the same time (same second) never see each other, whichever came first. It is
//! then added to the state. Records may arrive out of event-time order (the join emits a transaction without
//! identity up to ~80 s after later ones): a record processed late is inserted at its time, so later transactions
//! processed after it count it, and a later-time record processed earlier never leaks into an earlier one's features.
//! This is exact for records at most [`ClientConfig::max_lateness`] behind the newest event time seen.
//!
//! Features therefore depend on processing order, not only on event times: training that feeds records sorted by
//! event time lets a transaction see a slightly earlier one that the stream's join emitted after it. The difference
//! is confined to pairs of records less than the join's delay (~80 s) apart.
//!
//! # State
//! Keyed by entity (client key, card1, addr1, e-mail domain), each a time-sorted list of entries with running amount
//! totals. Entries older than the 30-day window plus `max_lateness` are pruned (still counted by `*_seen`, still
//! the previous transaction); an entity whose newest entry is older than the newest event time seen minus
//! [`ClientConfig::ttl`] is forgotten — on access, and physically by a sweep every quarter TTL of event time — so
//! memory is bounded by the traffic of about 1.25 TTL, however long the stream runs.

mod config;
mod distinct;
mod feature;
mod hash;
mod history;
mod inline_vec;
mod keys;
mod snapshot;

#[cfg(test)]
mod tests;

pub use config::{ClientConfig, ClientConfigError, LONGEST_WINDOW};
pub use feature::ClientFeature;
pub use keys::{partition_key, SOURCE_COLUMNS};
pub use snapshot::SnapshotError;

use distinct::{Distinct, Kind};
use fraudstream_data::EventTime;
use hash::{hash_str, FastMap};
use history::History;
use keys::{num_key, Slots, UidKey};

use crate::row::FeatureRow;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The count windows, in the order of the `*_count_*` features.
const WINDOWS_MS: [i64; 4] = [HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS];
const LONGEST_MS: i64 = WINDOWS_MS[WINDOWS_MS.len() - 1];

// The uid and card1 blocks share one layout, filled by `fill_history`.
const UID_BLOCK: usize = ClientFeature::UidCount1h as usize;
const CARD1_BLOCK: usize = ClientFeature::Card1Count1h as usize;
const MEAN: usize = ClientFeature::UidAmtMean as usize - UID_BLOCK;
const STD: usize = ClientFeature::UidAmtStd as usize - UID_BLOCK;
const REL: usize = ClientFeature::UidAmtRel as usize - UID_BLOCK;
const PREV: usize = ClientFeature::UidSecsSincePrev as usize - UID_BLOCK;
const _: () = {
    assert!(ClientFeature::UidCount30d as usize - UID_BLOCK == 3 && MEAN == 4);
    assert!(ClientFeature::Card1Count30d as usize - CARD1_BLOCK == 3);
    assert!(ClientFeature::Card1AmtMean as usize - CARD1_BLOCK == MEAN);
    assert!(ClientFeature::Card1AmtStd as usize - CARD1_BLOCK == STD);
    assert!(ClientFeature::Card1AmtRel as usize - CARD1_BLOCK == REL);
    assert!(ClientFeature::Card1SecsSincePrev as usize - CARD1_BLOCK == PREV);
};

/// Milliseconds of a duration, saturating (durations here are days, far below the limit).
fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// State that is forgotten as a whole once its newest entry is older than the TTL.
trait Expiring: Default {
    fn newest(&self) -> i64;
    fn reset(&mut self);
    fn entries(&self) -> usize;
}

impl Expiring for History {
    fn newest(&self) -> i64 {
        History::newest(self)
    }
    fn reset(&mut self) {
        History::reset(self)
    }
    fn entries(&self) -> usize {
        self.len()
    }
}

/// One client key's state: its transactions plus the distinct e-mails and devices it used.
#[derive(Debug, Default)]
struct ClientState {
    history: History,
    distinct: Distinct,
}

impl Expiring for ClientState {
    fn newest(&self) -> i64 {
        self.history.newest()
    }
    fn reset(&mut self) {
        self.history.reset();
        self.distinct.clear();
    }
    fn entries(&self) -> usize {
        self.history.len() + self.distinct.len()
    }
}

/// `state`, reset first if it expired (newest entry before `expire_before`): forgetting happens on access too, so
/// features never depend on when the sweep last ran.
fn fresh<V: Expiring>(state: &mut V, expire_before: i64) -> &mut V {
    if state.newest() < expire_before {
        state.reset();
    }
    state
}

/// Client state plus the computation of client features. See the [module doc](self).
#[derive(Debug)]
pub struct ClientFeatures {
    slots: Slots,
    ttl_ms: i64,
    lateness_ms: i64,
    sweep_every_ms: i64,
    /// Newest event time seen (ms), `i64::MIN` before the first record.
    clock: i64,
    next_sweep: i64,
    uids: FastMap<UidKey, ClientState>,
    cards: FastMap<u64, History>,
    addrs: FastMap<u64, History>,
    emails: FastMap<Box<str>, History>,
}

impl Default for ClientFeatures {
    fn default() -> ClientFeatures {
        ClientFeatures::build(ClientConfig::default())
    }
}

impl ClientFeatures {
    /// Empty state with `config`; fails when the TTL is too short for the 30-day features to be exact.
    pub fn new(config: ClientConfig) -> Result<ClientFeatures, ClientConfigError> {
        config.validate()?;
        Ok(ClientFeatures::build(config))
    }

    fn build(config: ClientConfig) -> ClientFeatures {
        let ttl_ms = millis(config.ttl);
        ClientFeatures {
            slots: Slots::resolve(),
            ttl_ms,
            lateness_ms: millis(config.max_lateness),
            sweep_every_ms: (ttl_ms / 4).max(1),
            clock: i64::MIN,
            next_sweep: i64::MIN,
            uids: FastMap::default(),
            cards: FastMap::default(),
            addrs: FastMap::default(),
            emails: FastMap::default(),
        }
    }

    /// Computes the client features of `row` from the past only into `out` (canonical order, NaN = missing), then
    /// adds the record to the state. `row.client` is not read.
    pub fn observe(&mut self, row: &FeatureRow<'_>, out: &mut [f64; ClientFeature::COUNT]) {
        out.fill(f64::NAN);
        let t = row.transaction.event_time().millis();
        self.advance(t);
        let p = self.slots.parts(row.transaction, row.identity);

        out[ClientFeature::Cents.index()] = p.amount.map_or(f64::NAN, |a| a - a.floor());
        for (i, d) in ClientFeature::NORMALISED_D.iter().enumerate() {
            out[ClientFeature::D4n.index() + i] = p.d[*d as usize - 1] - p.day;
        }

        let expire_before = self.clock.saturating_sub(self.ttl_ms);
        let window_cutoff = self.clock.saturating_sub(LONGEST_MS + self.lateness_ms);
        let seen_cutoff = self.clock.saturating_sub(self.lateness_ms);
        if let Some(uid) = p.uid() {
            let state = fresh(self.uids.entry(uid).or_default(), expire_before);
            state.history.prune(window_cutoff);
            fill_history(&state.history, t, p.amount, &mut out[UID_BLOCK..]);
            out[ClientFeature::UidEmails.index()] = state.distinct.count_before(Kind::Email, t) as f64;
            out[ClientFeature::UidDevices.index()] = state.distinct.count_before(Kind::Device, t) as f64;
            state.history.insert(t, p.amount);
            if let Some(email) = p.email {
                state.distinct.insert(Kind::Email, hash_str(email), t);
            }
            if let Some(device) = p.device {
                state.distinct.insert(Kind::Device, device, t);
            }
        }
        if let Some(card1) = p.card1 {
            let history = fresh(self.cards.entry(num_key(card1)).or_default(), expire_before);
            history.prune(window_cutoff);
            let hi = fill_history(history, t, p.amount, &mut out[CARD1_BLOCK..]);
            out[ClientFeature::Card1Seen.index()] = history.seen(hi) as f64;
            history.insert(t, p.amount);
        }
        if let Some(addr1) = p.addr1 {
            let history = fresh(self.addrs.entry(num_key(addr1)).or_default(), expire_before);
            out[ClientFeature::Addr1Seen.index()] = seen_then_insert(history, t, seen_cutoff);
        }
        if let Some(email) = p.email {
            // Look up by &str; allocate the key only for a value never seen before.
            let value = match self.emails.get_mut(email) {
                Some(history) => seen_then_insert(fresh(history, expire_before), t, seen_cutoff),
                None => {
                    let mut history = History::default();
                    let value = seen_then_insert(&mut history, t, seen_cutoff);
                    self.emails.insert(email.into(), history);
                    value
                }
            };
            out[ClientFeature::EmailSeen.index()] = value;
        }
    }

    /// [`observe`](Self::observe) into a new boxed slice, the form [`FeatureRow::client`] is usually kept in.
    pub fn observe_boxed(&mut self, row: &FeatureRow<'_>) -> Box<[f64]> {
        let mut out = [f64::NAN; ClientFeature::COUNT];
        self.observe(row, &mut out);
        Box::from(out.as_slice())
    }

    /// Entities in state (client keys, card1, addr1 and e-mail values), for metrics.
    pub fn entities(&self) -> usize {
        self.uids.len() + self.cards.len() + self.addrs.len() + self.emails.len()
    }

    /// Entries held across all entities (live transaction entries and distinct values), for metrics and memory
    /// bounds. Walks the state: call it for a gauge, not per record.
    pub fn state_entries(&self) -> usize {
        fn sum<K, V: Expiring>(map: &FastMap<K, V>) -> usize {
            map.values().map(Expiring::entries).sum()
        }
        sum(&self.uids) + sum(&self.cards) + sum(&self.addrs) + sum(&self.emails)
    }

    /// The newest event time seen, the state's notion of "now".
    pub fn clock(&self) -> Option<EventTime> {
        (self.clock != i64::MIN).then_some(EventTime(self.clock))
    }

    /// Moves the clock to `t` if it is newer, sweeping expired entities every quarter TTL of event time.
    fn advance(&mut self, t: i64) {
        self.clock = self.clock.max(t);
        if self.clock >= self.next_sweep {
            let expire_before = self.clock.saturating_sub(self.ttl_ms);
            sweep(&mut self.uids, expire_before);
            sweep(&mut self.cards, expire_before);
            sweep(&mut self.addrs, expire_before);
            sweep(&mut self.emails, expire_before);
            self.next_sweep = self.clock.saturating_add(self.sweep_every_ms);
        }
    }
}

fn sweep<K: Eq + std::hash::Hash, V: Expiring>(map: &mut FastMap<K, V>, expire_before: i64) {
    map.retain(|_, v| v.newest() >= expire_before);
    if map.capacity() > 1024 && map.capacity() > 4 * map.len() {
        map.shrink_to(2 * map.len());
    }
}

/// Fills one uid/card1 block (counts, amount mean/std/rel, seconds since previous) for a transaction at `t`; returns
/// how many live entries are in its past.
fn fill_history(history: &History, t: i64, amount: Option<f64>, out: &mut [f64]) -> usize {
    let hi = history.before(t);
    // Windows grow, so each starts at or before the previous one's start: search only up to it.
    let mut lo = hi;
    for (slot, window) in out.iter_mut().zip(WINDOWS_MS) {
        lo = history.start(t - window, lo);
        *slot = (hi - lo) as f64;
    }
    // `lo` now starts the 30-day window, which the amount statistics share.
    let stats = history.amount_stats(lo, hi);
    out[MEAN] = stats.mean;
    out[STD] = stats.std;
    out[REL] = match amount {
        Some(a) if stats.mean != 0.0 => a / stats.mean,
        _ => f64::NAN,
    };
    out[PREV] = history.prev_time(hi).map_or(f64::NAN, |prev| (t - prev) as f64 / 1000.0);
    hi
}

/// A `*_seen` count: transactions of the value before `t`; then records this one.
fn seen_then_insert(history: &mut History, t: i64, cutoff: i64) -> f64 {
    history.prune(cutoff);
    let seen = history.seen(history.before(t));
    history.insert(t, None);
    seen as f64
}
