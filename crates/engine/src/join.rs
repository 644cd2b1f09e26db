//! The event-time LEFT interval join of transactions with identities on TransactionID.
//!
//! # Semantics
//! A transaction at event time `T` joins the identity with the same TransactionID whose event time `I` satisfies
//! `T - lower <= I <= T + upper` (bounds inclusive, `--join-lower` / `--join-upper`, 60 s each by default) — Flink's
//! `i.time BETWEEN t.time - INTERVAL '60' SECOND AND t.time + INTERVAL '60' SECOND`, as a LEFT join:
//! - **Matched**: emitted as soon as both sides are there; the first matching identity wins.
//! - **Unmatched**: a transaction is emitted with no identity once the watermark passes `T + upper` (no identity
//!   that could still join can arrive without being late), or after `max_wait` of processing time, whichever comes
//!   first — a stalled identity stream cannot hold scores back.
//! - **Late transaction** (`T + upper` already behind the watermark on arrival): never dropped; it is joined with an
//!   identity already buffered, if any, and emitted at once. Counted.
//! - **Dead letters**, each with a reason and counted: a second identity for a transaction (duplicate); an identity
//!   arriving after its transaction was emitted; an identity outside the window of its transaction; an identity
//!   whose transaction never came (evicted when the watermark passes `I + lower`); a late identity.
//!
//! # State
//! Pending transactions, buffered identities and recently emitted TransactionIDs are all evicted by the watermark
//! (and pending transactions also by `max_wait`), so state is bounded by the event-time span of the join window plus
//! the out-of-orderness, whatever the input volume or whether identities ever arrive.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use fraudstream_data::csv_table::write_row;
use fraudstream_data::{EventTime, Identity, Table, Transaction};

use crate::flow::{DeadLetter, DeadLetterKind, JoinOutput, Joined, Origin};

/// Join bounds and the processing-time limit on waiting.
#[derive(Debug, Clone, Copy)]
pub struct JoinConfig {
    pub lower: Duration,
    pub upper: Duration,
    pub max_wait: Duration,
}

impl Default for JoinConfig {
    fn default() -> Self {
        JoinConfig { lower: Duration::from_secs(60), upper: Duration::from_secs(60), max_wait: Duration::from_secs(2) }
    }
}

/// Counters for metrics and the final summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinStats {
    pub transactions: u64,
    pub identities: u64,
    pub matched: u64,
    pub unmatched: u64,
    /// Emitted unmatched because `max_wait` ran out before the watermark passed.
    pub unmatched_by_max_wait: u64,
    /// Emitted unmatched because the input ended (not by the watermark or `max_wait`).
    pub unmatched_at_end: u64,
    pub late_transactions: u64,
    /// Transactions whose TransactionID the join still remembers (pending, or emitted within the window): each is
    /// scored again.
    pub duplicate_transactions: u64,
    pub duplicate_identities: u64,
    pub identities_after_emit: u64,
    pub identities_outside_window: u64,
    pub orphan_identities: u64,
    pub late_identities: u64,
}

struct PendingTx {
    tx: Transaction,
    origin: Origin,
    arrived: Instant,
    deadline: i64,
}

struct BufferedIdentity {
    identity: Identity,
    origin: Origin,
    expiry: i64,
}

/// The join operator. Feed it records and watermarks; it appends what it emits to an output vector.
pub struct IntervalJoin {
    config: JoinConfig,
    lower_ms: i64,
    upper_ms: i64,
    watermark: i64,
    pending: HashMap<i64, PendingTx>,
    pending_by_deadline: BTreeSet<(i64, i64)>,
    pending_by_arrival: VecDeque<(Instant, i64)>,
    identities: HashMap<i64, BufferedIdentity>,
    identities_by_expiry: BTreeSet<(i64, i64)>,
    /// TransactionID → (matched, forget-at event time) of transactions already emitted.
    emitted: HashMap<i64, (bool, i64)>,
    emitted_by_expiry: BTreeSet<(i64, i64)>,
    stats: JoinStats,
}

impl IntervalJoin {
    pub fn new(config: JoinConfig) -> IntervalJoin {
        IntervalJoin {
            config,
            lower_ms: config.lower.as_millis() as i64,
            upper_ms: config.upper.as_millis() as i64,
            watermark: i64::MIN,
            pending: HashMap::new(),
            pending_by_deadline: BTreeSet::new(),
            pending_by_arrival: VecDeque::new(),
            identities: HashMap::new(),
            identities_by_expiry: BTreeSet::new(),
            emitted: HashMap::new(),
            emitted_by_expiry: BTreeSet::new(),
            stats: JoinStats::default(),
        }
    }

    /// Forgets all state (pending transactions, buffered identities, emitted IDs, the watermark) and keeps the
    /// counters: after a consumer-group rebalance every record past the committed offsets is delivered again.
    pub fn reset(&mut self) {
        *self = IntervalJoin { stats: std::mem::take(&mut self.stats), ..IntervalJoin::new(self.config) };
    }

    pub fn stats(&self) -> &JoinStats {
        &self.stats
    }

    /// Entries held in state (pending transactions, buffered identities, remembered emitted IDs).
    pub fn state_size(&self) -> usize {
        self.pending.len() + self.identities.len() + self.emitted.len()
    }

    /// Origins of the records held in state (pending transactions, buffered identities): input positions before the
    /// oldest of them must not be committed yet.
    pub fn in_flight(&self) -> impl Iterator<Item = &Origin> {
        self.pending.values().map(|p| &p.origin).chain(self.identities.values().map(|b| &b.origin))
    }

    /// The earliest event time of a transaction still waiting for its identity: the join may emit it later, so a
    /// stage reporting how far it has read must not claim more.
    pub fn oldest_pending(&self) -> Option<EventTime> {
        // Deadlines are event time + the upper bound, so the first one belongs to the earliest transaction.
        self.pending_by_deadline.first().map(|&(deadline, _)| EventTime(deadline.saturating_sub(self.upper_ms)))
    }

    /// The watermark the join has seen.
    pub fn watermark(&self) -> Option<EventTime> {
        (self.watermark != i64::MIN).then_some(EventTime(self.watermark))
    }

    fn in_window(&self, tx_time: i64, identity_time: i64) -> bool {
        tx_time - self.lower_ms <= identity_time && identity_time <= tx_time + self.upper_ms
    }

    /// A transaction arrives.
    pub fn on_transaction(&mut self, tx: Transaction, origin: Origin, now: Instant, out: &mut Vec<JoinOutput>) {
        self.stats.transactions += 1;
        let id = tx.id();
        let t = tx.event_time().millis();
        let late = t.saturating_add(self.upper_ms) < self.watermark;
        if late {
            self.stats.late_transactions += 1;
        }
        if let Some(b) = self.take_identity(id) {
            if self.in_window(t, b.identity.event_time.millis()) {
                self.emit(tx, Some(b.identity), origin, now, now, out);
                return;
            }
            self.stats.identities_outside_window += 1;
            let reason = format!(
                "identity of TransactionID {id} at {} is outside the join window of its transaction at {}",
                b.identity.event_time,
                tx.event_time()
            );
            out.push(JoinOutput::DeadLetter(identity_dead_letter(
                &b.identity,
                b.origin,
                DeadLetterKind::OutsideWindow,
                reason,
            )));
        }
        let repeated = self.emitted.contains_key(&id);
        if repeated || self.pending.contains_key(&id) {
            self.stats.duplicate_transactions += 1;
        }
        if late || repeated {
            // Nothing can join any more (or this is a repeated TransactionID): emit now rather than drop.
            self.emit(tx, None, origin, now, now, out);
            return;
        }
        if let Some(old) = self.remove_pending(id) {
            // Two pending transactions with one ID: emit the older one unmatched rather than lose it. (Removed
            // before the new one is filed: both may have the same deadline, and so the same index entry.)
            self.emit(old.tx, None, old.origin, old.arrived, now, out);
        }
        let deadline = t.saturating_add(self.upper_ms);
        self.pending_by_deadline.insert((deadline, id));
        self.pending_by_arrival.push_back((now, id));
        self.pending.insert(id, PendingTx { tx, origin, arrived: now, deadline });
    }

    /// An identity arrives.
    pub fn on_identity(&mut self, identity: Identity, origin: Origin, now: Instant, out: &mut Vec<JoinOutput>) {
        self.stats.identities += 1;
        let id = identity.id();
        let i = identity.event_time.millis();
        if let Some(p) = self.pending.get(&id) {
            if self.in_window(p.tx.event_time().millis(), i) {
                let p = self.remove_pending(id).expect("checked above");
                self.emit(p.tx, Some(identity), p.origin, p.arrived, now, out);
            } else {
                self.stats.identities_outside_window += 1;
                let reason = format!(
                    "identity of TransactionID {id} at {} is outside the join window of its transaction at {}",
                    identity.event_time,
                    p.tx.event_time()
                );
                out.push(JoinOutput::DeadLetter(identity_dead_letter(
                    &identity,
                    origin,
                    DeadLetterKind::OutsideWindow,
                    reason,
                )));
            }
            return;
        }
        if let Some(&(matched, _)) = self.emitted.get(&id) {
            let kind = if matched { DeadLetterKind::DuplicateIdentity } else { DeadLetterKind::AfterEmit };
            let reason = if matched {
                self.stats.duplicate_identities += 1;
                format!("duplicate identity of TransactionID {id}: the first one was joined")
            } else {
                self.stats.identities_after_emit += 1;
                format!("identity of TransactionID {id} arrived after its transaction was emitted without one")
            };
            out.push(JoinOutput::DeadLetter(identity_dead_letter(&identity, origin, kind, reason)));
            return;
        }
        if self.identities.contains_key(&id) {
            self.stats.duplicate_identities += 1;
            let reason = format!("duplicate identity of TransactionID {id}: the first one is kept");
            out.push(JoinOutput::DeadLetter(identity_dead_letter(
                &identity,
                origin,
                DeadLetterKind::DuplicateIdentity,
                reason,
            )));
            return;
        }
        let expiry = i.saturating_add(self.lower_ms);
        if expiry < self.watermark {
            self.stats.late_identities += 1;
            let reason = format!(
                "late identity of TransactionID {id}: event time {} is behind the watermark {} by more than the join \
                 window",
                identity.event_time,
                EventTime(self.watermark)
            );
            out.push(JoinOutput::DeadLetter(identity_dead_letter(
                &identity,
                origin,
                DeadLetterKind::LateIdentity,
                reason,
            )));
            return;
        }
        self.identities_by_expiry.insert((expiry, id));
        self.identities.insert(id, BufferedIdentity { identity, origin, expiry });
    }

    /// The watermark advanced: emit transactions no identity can join any more and evict expired state.
    pub fn on_watermark(&mut self, watermark: EventTime, now: Instant, out: &mut Vec<JoinOutput>) {
        if watermark.millis() <= self.watermark {
            return;
        }
        self.watermark = watermark.millis();
        while let Some(&(deadline, id)) = self.pending_by_deadline.first() {
            if deadline >= self.watermark {
                break;
            }
            if let Some(p) = self.remove_pending(id) {
                self.emit(p.tx, None, p.origin, p.arrived, now, out);
            }
        }
        while let Some(&(expiry, id)) = self.identities_by_expiry.first() {
            if expiry >= self.watermark {
                break;
            }
            self.identities_by_expiry.pop_first();
            if let Some(b) = self.identities.remove(&id) {
                self.stats.orphan_identities += 1;
                let reason = format!("identity of TransactionID {id} had no transaction within the join window");
                out.push(JoinOutput::DeadLetter(identity_dead_letter(
                    &b.identity,
                    b.origin,
                    DeadLetterKind::NoTransaction,
                    reason,
                )));
            }
        }
        while let Some(&(forget, id)) = self.emitted_by_expiry.first() {
            if forget >= self.watermark {
                break;
            }
            self.emitted_by_expiry.pop_first();
            self.emitted.remove(&id);
        }
    }

    /// Processing time moved on: emit transactions that waited `max_wait` without their identity.
    pub fn on_processing_time(&mut self, now: Instant, out: &mut Vec<JoinOutput>) {
        while let Some(&(arrived, id)) = self.pending_by_arrival.front() {
            if now.duration_since(arrived) < self.config.max_wait {
                break;
            }
            self.pending_by_arrival.pop_front();
            // The entry may be stale (already emitted, or replaced by a newer transaction with the same ID).
            if self.pending.get(&id).is_some_and(|p| p.arrived == arrived) {
                if let Some(p) = self.remove_pending(id) {
                    self.stats.unmatched_by_max_wait += 1;
                    self.emit(p.tx, None, p.origin, p.arrived, now, out);
                }
            }
        }
    }

    /// Drops the arrival entries of transactions that have left the join, from the oldest on, without releasing
    /// anything: what keeps that queue bounded by the transactions in the join while processing time may not
    /// release (the source is behind).
    pub fn forget_departed(&mut self) {
        while let Some(&(arrived, id)) = self.pending_by_arrival.front() {
            if self.pending.get(&id).is_some_and(|p| p.arrived == arrived) {
                break;
            }
            self.pending_by_arrival.pop_front();
        }
    }

    /// End of all input: emit every pending transaction and dead-letter every buffered identity.
    pub fn finish(&mut self, now: Instant, out: &mut Vec<JoinOutput>) {
        self.stats.unmatched_at_end += self.pending.len() as u64;
        self.on_watermark(EventTime(i64::MAX), now, out);
    }

    fn take_identity(&mut self, id: i64) -> Option<BufferedIdentity> {
        let b = self.identities.remove(&id)?;
        self.identities_by_expiry.remove(&(b.expiry, id));
        Some(b)
    }

    fn remove_pending(&mut self, id: i64) -> Option<PendingTx> {
        let p = self.pending.remove(&id)?;
        self.pending_by_deadline.remove(&(p.deadline, id));
        Some(p)
    }

    fn emit(
        &mut self,
        transaction: Transaction,
        identity: Option<Identity>,
        origin: Origin,
        arrived: Instant,
        now: Instant,
        out: &mut Vec<JoinOutput>,
    ) {
        let id = transaction.id();
        let matched = identity.is_some();
        if matched {
            self.stats.matched += 1;
        } else {
            self.stats.unmatched += 1;
        }
        // Any identity that could have joined has I <= T + upper, so it stops mattering once the watermark passes
        // I + lower; until then a late one gets the precise reason.
        let forget = transaction.event_time().millis().saturating_add(self.upper_ms).saturating_add(self.lower_ms);
        if forget >= self.watermark {
            if let Some((_, old)) = self.emitted.insert(id, (matched, forget)) {
                self.emitted_by_expiry.remove(&(old, id));
            }
            self.emitted_by_expiry.insert((forget, id));
        }
        let join_wait = now.saturating_duration_since(arrived);
        out.push(JoinOutput::Joined(Box::new(Joined {
            transaction,
            identity,
            origin,
            arrived,
            join_wait,
            client: Box::default(),
        })));
    }
}

/// A dead letter for an identity that did not join, its row written as a Kaggle CSV line.
fn identity_dead_letter(identity: &Identity, origin: Origin, kind: DeadLetterKind, reason: String) -> DeadLetter {
    let mut payload = Vec::new();
    write_row(Table::Identity.catalog(), &identity.row, &mut payload);
    payload.pop();
    DeadLetter { kind, reason, origin, payload, key: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::record::{DT_SLOT, ID_SLOT};
    use fraudstream_data::Row;
    use std::path::Path;
    use std::sync::Arc;

    fn tx(id: i64, dt: i64) -> Transaction {
        let mut row = Row::empty(Table::Transaction.catalog());
        row.nums[ID_SLOT] = id as f64;
        row.nums[DT_SLOT] = dt as f64;
        Transaction { row }
    }

    fn identity(id: i64, at: EventTime) -> Identity {
        let mut row = Row::empty(Table::Identity.catalog());
        row.nums[ID_SLOT] = id as f64;
        Identity { row, event_time: at }
    }

    fn origin() -> Origin {
        Origin::File { path: Arc::from(Path::new("t.csv")), line: 2 }
    }

    fn t(dt: i64) -> EventTime {
        EventTime::from_transaction_dt(dt)
    }

    /// (TransactionID, matched) of every joined output, and the dead-letter reasons.
    fn split(out: &[JoinOutput]) -> (Vec<(i64, bool)>, Vec<String>) {
        let mut joined = Vec::new();
        let mut dead = Vec::new();
        for o in out {
            match o {
                JoinOutput::Joined(j) => joined.push((j.transaction.id(), j.identity.is_some())),
                JoinOutput::DeadLetter(d) => dead.push(d.reason.clone()),
            }
        }
        (joined, dead)
    }

    #[test]
    fn identity_after_its_transaction_joins_immediately() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_transaction(tx(1, 1000), origin(), now, &mut out);
        assert!(out.is_empty(), "waits for its identity");
        j.on_identity(identity(1, t(1000)), origin(), now, &mut out);
        assert_eq!(split(&out).0, vec![(1, true)]);
    }

    #[test]
    fn identity_before_its_transaction_is_buffered_and_joins() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_identity(identity(1, t(970)), origin(), now, &mut out);
        j.on_transaction(tx(1, 1000), origin(), now, &mut out);
        assert_eq!(split(&out).0, vec![(1, true)]);
        assert_eq!(j.stats().matched, 1);
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let now = Instant::now();
        for (offset, joins) in [(-60, true), (60, true), (-61, false), (61, false)] {
            let mut j = IntervalJoin::new(JoinConfig::default());
            let mut out = Vec::new();
            j.on_transaction(tx(1, 1000), origin(), now, &mut out);
            j.on_identity(identity(1, t(1000 + offset)), origin(), now, &mut out);
            j.finish(now, &mut out);
            let (joined, dead) = split(&out);
            assert_eq!(joined, vec![(1, joins)], "offset {offset}");
            assert_eq!(dead.len(), usize::from(!joins), "offset {offset}: {dead:?}");
        }
    }

    #[test]
    fn unmatched_transaction_waits_until_the_watermark_passes_time_plus_upper() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig { max_wait: Duration::from_secs(3600), ..Default::default() });
        let mut out = Vec::new();
        j.on_transaction(tx(1, 1000), origin(), now, &mut out);
        j.on_watermark(t(1060), now, &mut out);
        assert!(out.is_empty(), "an identity at exactly +60 s could still join");
        j.on_watermark(EventTime(t(1060).millis() + 1), now, &mut out);
        assert_eq!(split(&out).0, vec![(1, false)]);
        assert_eq!(j.state_size(), 1, "only the emitted ID is remembered");
    }

    #[test]
    fn max_wait_releases_a_transaction_when_the_watermark_stalls() {
        let t0 = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_transaction(tx(1, 1000), origin(), t0, &mut out);
        j.on_processing_time(t0 + Duration::from_millis(1999), &mut out);
        assert!(out.is_empty());
        j.on_processing_time(t0 + Duration::from_secs(2), &mut out);
        assert_eq!(split(&out).0, vec![(1, false)]);
        assert_eq!(j.stats().unmatched_by_max_wait, 1);
        // Its identity then arrives: dead-lettered with a reason, not lost.
        out.clear();
        j.on_identity(identity(1, t(1001)), origin(), t0 + Duration::from_secs(3), &mut out);
        assert!(split(&out).1[0].contains("arrived after its transaction was emitted"));
    }

    #[test]
    fn first_identity_wins_and_duplicates_are_dead_letters() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_identity(identity(1, t(1000)), origin(), now, &mut out);
        j.on_identity(identity(1, t(1001)), origin(), now, &mut out);
        j.on_transaction(tx(1, 1000), origin(), now, &mut out);
        j.on_identity(identity(1, t(1002)), origin(), now, &mut out);
        let (joined, dead) = split(&out);
        assert_eq!(joined, vec![(1, true)]);
        assert_eq!(dead.len(), 2);
        assert!(dead.iter().all(|d| d.contains("duplicate identity")), "{dead:?}");
        assert_eq!(j.stats().duplicate_identities, 2);
    }

    #[test]
    fn identity_whose_transaction_never_comes_is_evicted_by_the_watermark() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_identity(identity(9, t(1000)), origin(), now, &mut out);
        j.on_watermark(t(1060), now, &mut out);
        assert!(out.is_empty());
        j.on_watermark(t(1061), now, &mut out);
        let (_, dead) = split(&out);
        assert!(dead[0].contains("no transaction within the join window"), "{dead:?}");
        assert_eq!(j.state_size(), 0);
    }

    #[test]
    fn late_transaction_is_emitted_not_dropped() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_watermark(t(5000), now, &mut out);
        j.on_transaction(tx(1, 1000), origin(), now, &mut out);
        assert_eq!(split(&out).0, vec![(1, false)]);
        assert_eq!(j.stats().late_transactions, 1);
        j.on_identity(identity(2, t(100)), origin(), now, &mut out);
        assert!(split(&out).1[0].contains("late identity"));
    }

    #[test]
    fn a_repeated_transaction_id_at_the_same_time_is_emitted_twice_not_lost() {
        let now = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        j.on_transaction(tx(7, 1000), origin(), now, &mut out);
        j.on_transaction(tx(7, 1000), origin(), now, &mut out);
        j.finish(now, &mut out);
        assert_eq!(split(&out).0, vec![(7, false), (7, false)]);
        assert_eq!(j.stats().duplicate_transactions, 1);
    }

    #[test]
    fn state_stays_bounded_when_identities_never_arrive() {
        let t0 = Instant::now();
        let mut j = IntervalJoin::new(JoinConfig::default());
        let mut out = Vec::new();
        let mut max_state = 0;
        for i in 0..100_000i64 {
            let dt = 86_400 + i; // one transaction per event-time second
            j.on_transaction(tx(i, dt), origin(), t0, &mut out);
            j.on_watermark(t(dt - 20), t0, &mut out);
            max_state = max_state.max(j.state_size());
            out.clear();
        }
        // Pending: 60 s window + 20 s delay; remembered emitted IDs: upper + lower + delay = 140 s.
        assert!(max_state <= 230, "state grew to {max_state}");
        assert_eq!(j.stats().unmatched, 100_000 - 81);
    }
}
