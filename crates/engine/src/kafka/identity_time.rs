//! Identities without an event time of their own take their transaction's.
//!
//! Kaggle's identity table has no time column: in the files an identity row takes its transaction's event time
//! (see [`crate::source::files`]). Other producers' identity topics are often the same — the writer schema has
//! neither `TransactionDT` nor our `event_time`, only perhaps a wall-clock field, which is never an event time
//! (see `fraudstream_data::avro::writer_plan`), and the Kafka timestamp is processing time too. The rule is the
//! one a Flink user joining such a table on `TransactionID` gets: the identity is joined by TransactionID and
//! stamped with the event time of its transaction, so it always falls inside the join window.
//!
//! [`TimelessIdentities`] does the stamping in the source, before the merge: a timeless identity whose transaction
//! was already read is stamped at once; otherwise it is held until the transaction arrives (a consumer reads the
//! two topics at different speeds, so identities often come first). Transactions' times are remembered for the
//! last [`RECENT`] transactions read, for identities that arrive after theirs. An identity still held once the
//! transactions are caught up and nothing has arrived for it for [`GIVE_UP`] is a `no_transaction` dead letter.
//! Held identities keep their offsets from being committed (see `limit_positions`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use fraudstream_data::{EventTime, Identity, Row};

use crate::flow::{DeadLetter, DeadLetterKind, Origin, SourceEvent};

/// How many transactions' event times are remembered for identities that arrive after their transaction.
const RECENT: usize = 200_000;
/// How long an identity waits for its transaction once the transactions are caught up.
pub(super) const GIVE_UP: Duration = Duration::from_secs(2);

/// A timeless identity waiting for its transaction.
struct Held {
    row: Row,
    origin: Origin,
    payload: Vec<u8>,
    key: Option<Vec<u8>>,
    since: Instant,
}

/// The stamping state of one source (see the module docs).
#[derive(Default)]
pub(super) struct TimelessIdentities {
    /// Whether to remember transactions' times: once a foreign schema (which may bring timeless identities) or a
    /// timeless identity has been seen. Our own schemas give every identity a time, and cost nothing here.
    watching: bool,
    times: HashMap<i64, EventTime>,
    order: VecDeque<i64>,
    held: HashMap<i64, Vec<Held>>,
    count: usize,
}

/// An identity to hand to the merge: the identity partition key, its event time and the event.
pub(super) type Stamped = ((u8, i32), i64, SourceEvent);

impl TimelessIdentities {
    /// Remembers transactions' times from now on.
    pub fn watch(&mut self) {
        self.watching = true;
    }

    /// A transaction was read: remembers its time and hands out the identities that waited for it.
    pub fn transaction(&mut self, id: i64, time: EventTime, out: &mut Vec<Stamped>) {
        if !self.watching {
            return;
        }
        if self.times.insert(id, time).is_none() {
            self.order.push_back(id);
            if self.order.len() > RECENT {
                if let Some(old) = self.order.pop_front() {
                    self.times.remove(&old);
                }
            }
        }
        for h in self.held.remove(&id).unwrap_or_default() {
            self.count -= 1;
            out.push(stamped(h.row, h.origin, time));
        }
    }

    /// A timeless identity was read: stamped at once if its transaction was read, else held.
    pub fn identity(
        &mut self,
        row: Row,
        origin: Origin,
        payload: &[u8],
        key: Option<&[u8]>,
        now: Instant,
    ) -> Option<Stamped> {
        self.watching = true;
        let id = row.nums[fraudstream_data::record::ID_SLOT] as i64;
        if let Some(&time) = self.times.get(&id) {
            return Some(stamped(row, origin, time));
        }
        let held = Held { row, origin, payload: payload.to_vec(), key: key.map(<[u8]>::to_vec), since: now };
        self.held.entry(id).or_default().push(held);
        self.count += 1;
        None
    }

    /// Whether identities are held.
    pub fn holds(&self) -> bool {
        self.count > 0
    }

    /// Offsets of the held identities of identity partition `partition` (positions must not pass them).
    pub fn held_offsets(&self, partition: i32) -> impl Iterator<Item = i64> + '_ {
        self.held.values().flatten().filter_map(move |h| match h.origin {
            Origin::Kafka { partition: p, offset, .. } if p == partition => Some(offset),
            _ => None,
        })
    }

    /// With the transactions caught up: identities held longer than [`GIVE_UP`] become dead letters (their
    /// transaction was not read), each on its own partition.
    pub fn give_up(&mut self, now: Instant, out: &mut Vec<Stamped>) {
        if self.count == 0 {
            return;
        }
        let mut expired = Vec::new();
        self.held.retain(|&id, list| {
            let (old, young): (Vec<Held>, Vec<Held>) =
                std::mem::take(list).into_iter().partition(|h| now.duration_since(h.since) >= GIVE_UP);
            expired.extend(old.into_iter().map(|h| (id, h)));
            *list = young;
            !list.is_empty()
        });
        for (id, h) in expired {
            self.count -= 1;
            let partition = partition_of(&h.origin);
            let reason = format!(
                "identity of TransactionID {id} has no event time of its own (its writer schema has neither \
                 TransactionDT nor event_time) and takes its transaction's, but no transaction with this \
                 TransactionID was read (waited {} s after the transactions caught up)",
                GIVE_UP.as_secs()
            );
            let dead = DeadLetter {
                kind: DeadLetterKind::NoTransaction,
                reason,
                origin: h.origin,
                payload: h.payload,
                key: h.key,
            };
            out.push(((1, partition), i64::MIN, SourceEvent::DeadLetter(dead)));
        }
    }

    /// Forgets everything (a new assignment reads every partition again from its committed offset).
    pub fn clear(&mut self) {
        let watching = self.watching;
        *self = TimelessIdentities { watching, ..TimelessIdentities::default() };
    }
}

fn partition_of(origin: &Origin) -> i32 {
    match origin {
        Origin::Kafka { partition, .. } => *partition,
        Origin::File { .. } => 0,
    }
}

/// The identity with its transaction's time, as the merge takes it.
fn stamped(row: Row, origin: Origin, time: EventTime) -> Stamped {
    let partition = partition_of(&origin);
    let record = fraudstream_data::Record::Identity(Identity { row, event_time: time });
    ((1, partition), time.millis(), SourceEvent::Record { record, origin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::Table;

    fn identity(id: i64, offset: i64) -> (Row, Origin) {
        let mut row = Row::empty(Table::Identity.catalog());
        row.nums[fraudstream_data::record::ID_SLOT] = id as f64;
        (row, Origin::Kafka { topic: "id".into(), partition: 2, offset })
    }

    fn time_of(s: &Stamped) -> Option<EventTime> {
        match &s.2 {
            SourceEvent::Record { record: fraudstream_data::Record::Identity(i), .. } => Some(i.event_time),
            _ => None,
        }
    }

    #[test]
    fn an_identity_takes_the_time_of_its_transaction_whichever_comes_first() {
        let (mut t, now) = (TimelessIdentities::default(), Instant::now());
        let (row, origin) = identity(7, 40);
        assert!(t.identity(row, origin, b"v", None, now).is_none(), "held until its transaction");
        assert_eq!(t.held_offsets(2).collect::<Vec<_>>(), [40]);
        let mut out = Vec::new();
        t.transaction(7, EventTime(86_400_000), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0, out[0].1, time_of(&out[0])), ((1, 2), 86_400_000, Some(EventTime(86_400_000))));
        assert!(!t.holds());
        t.transaction(8, EventTime(90_000_000), &mut out);
        let (row, origin) = identity(8, 41);
        let now_stamped = t.identity(row, origin, b"v", None, now).expect("its transaction was read");
        assert_eq!(time_of(&now_stamped), Some(EventTime(90_000_000)));
    }

    #[test]
    fn an_identity_whose_transaction_never_comes_is_a_dead_letter_after_waiting() {
        let (mut t, now) = (TimelessIdentities::default(), Instant::now());
        let (row, origin) = identity(9, 3);
        assert!(t.identity(row, origin, b"v", Some(b"k"), now).is_none());
        let mut out = Vec::new();
        t.give_up(now + Duration::from_millis(10), &mut out);
        assert!(out.is_empty() && t.holds());
        t.give_up(now + GIVE_UP, &mut out);
        let SourceEvent::DeadLetter(d) = &out[0].2 else { panic!("{:?}", out[0].2) };
        assert_eq!(
            (d.kind, d.key.as_deref(), &d.payload[..]),
            (DeadLetterKind::NoTransaction, Some(&b"k"[..]), &b"v"[..])
        );
        assert!(d.reason.starts_with("identity of TransactionID 9 has no event time"), "{}", d.reason);
        assert!(!t.holds());
    }
}
