//! Repartitioning joined records by client, for client features on Kafka.
//!
//! The input topics are keyed by TransactionID, so one instance's partitions hold a random share of every card's
//! transactions: client (velocity) state computed there would see only part of each client's history. With client
//! features the Kafka job therefore runs in two stages, each a consumer group of its own:
//!
//! 1. **join**: `transactions` + `identities` → interval join → the internal topic `<group>-joined`, partitioned by
//!    card1 ([`partition_for`]);
//! 2. **score**: `<group>-joined` → client features → model → `scores` / `alerts` / `dead-letters`.
//!
//! Every transaction of a card, hence of every client key built on it, lands in one partition of the internal topic,
//! so the instance that owns that partition holds the card's whole history, as the embedded job does in-process.
//! (The running counts of addr1 and e-mail domain values, `addr1_seen` and `email_seen`, span cards; with more than
//! one internal partition they count within the partition. See `docs/operations.md`.)
//!
//! The internal topic's values are this module's own binary encoding ([`encode_joined`]), not registered with the
//! Schema Registry: like a Kafka Streams repartition topic, it is the job's private state, read only by the job.
//!
//! **Progress.** With several instances, each internal partition interleaves the output of several join stages,
//! each running at its own pace: replaying a backlog, one may be days of event time ahead of another. So every
//! record also carries its join stage's [`Progress`] (who wrote it, and the latest event time that stage has read),
//! and each join stage writes a progress marker ([`encode_marker`], key [`MARKER_KEY`]) to every partition a few
//! times a second and a final one when it stops. The scoring stage uses them to put each partition back into
//! event-time order (`source::order`), the way a Flink operator aligns the watermarks of its input channels.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fraudstream_data::avro::{decode_value, encode_value, value_schema};
use fraudstream_data::{DataError, Identity, Table, Transaction};

use crate::flow::Joined;
use crate::flow::Origin;
use crate::kafka::partitioner::murmur2;

/// First byte of every internal-topic value, which says what follows; a reader refuses any other.
/// A joined record without progress (written by earlier versions; still read).
const JOINED_V1: u8 = 1;
/// A joined record with its join stage's progress.
const JOINED_V2: u8 = 2;
/// A progress marker.
const MARKER: u8 = 3;

/// The key of progress markers. It is not 8 bytes long, so [`transaction_id_of_key`] never mistakes it for a
/// TransactionID.
pub const MARKER_KEY: &[u8] = b"~progress";

/// Where one join stage stands, as carried by its records and markers in the internal topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Which join stage wrote it: random for every run of a join stage.
    pub producer: u64,
    /// The latest event time (ms) that join stage has read; [`Progress::IDLE`] while it has nothing to read,
    /// [`Progress::FINISHED`] once it has stopped for good.
    pub frontier_ms: i64,
    /// When it was written (wall clock, µs since the Unix epoch).
    pub written_us: i64,
}

impl Progress {
    /// The frontier of a join stage that has stopped: it will write nothing more.
    pub const FINISHED: i64 = i64::MAX;
    /// The frontier of a join stage with no input to read at the moment: nothing of it needs waiting for.
    pub const IDLE: i64 = i64::MAX - 1;

    /// Progress of `producer` at `frontier_ms`, written now.
    pub fn now(producer: u64, frontier_ms: i64) -> Progress {
        Progress { producer, frontier_ms, written_us: wall_clock_us() }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.producer.to_le_bytes());
        out.extend_from_slice(&self.frontier_ms.to_le_bytes());
        out.extend_from_slice(&self.written_us.to_le_bytes());
    }
}

/// What an internal-topic value holds.
#[derive(Debug)]
pub enum Internal {
    /// A joined record, with its join stage's progress when the writer recorded it.
    Joined(Box<Joined>, Option<Progress>),
    /// A join stage's progress marker.
    Marker(Progress),
}

/// The wall clock in µs since the Unix epoch.
fn wall_clock_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as i64
}

/// The partition of the internal topic a transaction goes to: by card1 (all of a card's transactions together),
/// or by TransactionID when card1 is missing (such records have no client state to share).
pub fn partition_for(tx: &Transaction, partitions: i32) -> i32 {
    let key = match fraudstream_features::client::partition_key(tx) {
        Some(card) => card.to_be_bytes(),
        None => tx.id().to_be_bytes(),
    };
    (murmur2(&key) & 0x7fff_ffff) as i32 % partitions.max(1)
}

/// The internal-topic message key: the TransactionID, big-endian (the read-back after a restart needs only this).
pub fn key_of(transaction_id: i64) -> [u8; 8] {
    transaction_id.to_be_bytes()
}

/// The TransactionID of an internal-topic key.
pub fn transaction_id_of_key(key: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(key.try_into().ok()?))
}

/// Encodes a progress marker: the kind byte, then producer, frontier and write time (little-endian, 8 bytes each).
pub fn encode_marker(progress: &Progress, out: &mut Vec<u8>) {
    out.push(MARKER);
    progress.encode(out);
}

/// Encodes a joined record: the kind byte, its join stage's progress, arrival (wall clock, µs since the epoch),
/// join wait (µs), the transaction's Avro datum with its length, then a flag and the identity's Avro datum.
pub fn encode_joined(joined: &Joined, progress: &Progress, out: &mut Vec<u8>) -> Result<(), DataError> {
    let arrived = SystemTime::now()
        .checked_sub(joined.arrived.elapsed())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    out.push(JOINED_V2);
    progress.encode(out);
    out.extend_from_slice(&(arrived.as_micros() as i64).to_le_bytes());
    out.extend_from_slice(&(joined.join_wait.as_micros() as i64).to_le_bytes());
    let length_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let tx = &joined.transaction;
    encode_value(Table::Transaction, &tx.row, tx.event_time(), out)?;
    let length = (out.len() - length_at - 4) as u32;
    out[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
    match &joined.identity {
        None => out.push(0),
        Some(identity) => {
            out.push(1);
            encode_value(Table::Identity, &identity.row, identity.event_time, out)?;
        }
    }
    Ok(())
}

/// Decodes what [`encode_joined`] or [`encode_marker`] wrote. A record's arrival becomes an [`Instant`] as far in
/// the past as the wall clock says, so latency is measured from when the transaction entered the join stage.
pub fn decode_internal(bytes: &[u8], origin: Origin) -> Result<Internal, DataError> {
    let malformed = |what: &str| DataError::Avro { context: "decoding a joined record".into(), message: what.into() };
    let word = |b: &[u8], at: usize| -> Result<i64, DataError> {
        let bytes = b.get(at..at + 8).ok_or_else(|| malformed("truncated header"))?;
        Ok(i64::from_le_bytes(bytes.try_into().map_err(|_| malformed("truncated header"))?))
    };
    let progress = |b: &[u8]| -> Result<Progress, DataError> {
        Ok(Progress { producer: word(b, 0)? as u64, frontier_ms: word(b, 8)?, written_us: word(b, 16)? })
    };
    let (&kind, rest) = bytes.split_first().ok_or_else(|| malformed("empty value"))?;
    let (progress, rest) = match kind {
        MARKER if rest.len() == 24 => return Ok(Internal::Marker(progress(rest)?)),
        MARKER => return Err(malformed("a progress marker of the wrong length")),
        JOINED_V1 => (None, rest),
        JOINED_V2 => (Some(progress(rest)?), rest.get(24..).ok_or_else(|| malformed("truncated header"))?),
        other => {
            return Err(malformed(&format!(
                "unknown format version {other} (this build reads {JOINED_V1}, {JOINED_V2} and {MARKER})"
            )))
        }
    };
    let arrived_us = word(rest, 0)?;
    let join_wait_us = word(rest, 8)?;
    let length_bytes = rest.get(16..20).ok_or_else(|| malformed("truncated header"))?;
    let length = u32::from_le_bytes(length_bytes.try_into().map_err(|_| malformed("truncated header"))?) as usize;
    let tx_datum = rest.get(20..20 + length).ok_or_else(|| malformed("truncated transaction"))?;
    let (row, _) = decode_value(Table::Transaction, tx_datum, value_schema(Table::Transaction))?;
    let identity = match rest.get(20 + length..) {
        Some([0]) => None,
        Some([1, datum @ ..]) => {
            let (row, event_time) = decode_value(Table::Identity, datum, value_schema(Table::Identity))?;
            Some(Identity { row, event_time })
        }
        _ => return Err(malformed("bad identity flag")),
    };
    let age = Duration::from_micros(wall_clock_us().saturating_sub(arrived_us).max(0) as u64);
    let now = Instant::now();
    let joined = Joined {
        transaction: Transaction { row },
        identity,
        origin,
        arrived: now.checked_sub(age).unwrap_or(now),
        join_wait: Duration::from_micros(join_wait_us.max(0) as u64),
        client: Box::default(),
    };
    Ok(Internal::Joined(Box::new(joined), progress))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::csv_table::TableReader;
    use std::sync::Arc;

    /// The shared sample's transactions, and its identities timed at their transaction.
    fn sample() -> (Vec<Transaction>, Vec<Identity>) {
        let dir = fraudstream_testkit::ieee_cis_sample();
        let read = |file: &str, table: Table| {
            let mut reader = TableReader::open(dir.join(file), table, 0).expect(file);
            std::iter::from_fn(move || reader.read_row().expect("row")).collect::<Vec<_>>()
        };
        let txs: Vec<Transaction> =
            read("train_transaction.csv", Table::Transaction).into_iter().map(|row| Transaction { row }).collect();
        let ids = read("train_identity.csv", Table::Identity)
            .into_iter()
            .map(|row| {
                let mut identity = Identity { row, event_time: fraudstream_data::EventTime(0) };
                let tx = txs.iter().find(|t| t.id() == identity.id()).expect("every sample identity has a transaction");
                identity.event_time = tx.event_time();
                identity
            })
            .collect();
        (txs, ids)
    }

    #[test]
    fn joined_records_round_trip_with_and_without_identity() {
        let (txs, ids) = sample();
        let origin = Origin::Kafka { topic: Arc::from("j"), partition: 3, offset: 7 };
        for (i, tx) in txs.iter().take(400).enumerate() {
            let identity = ids.iter().find(|id| id.id() == tx.id()).cloned();
            let joined = Joined {
                transaction: tx.clone(),
                identity: identity.clone(),
                origin: origin.clone(),
                arrived: Instant::now(),
                join_wait: Duration::from_millis(i as u64),
                client: Box::default(),
            };
            let mut bytes = Vec::new();
            let progress = Progress::now(42, tx.event_time().millis() + i as i64);
            encode_joined(&joined, &progress, &mut bytes).expect("encode");
            let Internal::Joined(back, Some(carried)) = decode_internal(&bytes, origin.clone()).expect("decode") else {
                panic!("not a joined record with progress");
            };
            assert_eq!(carried, progress);
            assert_eq!(back.transaction.row, tx.row, "transaction {}", tx.id());
            assert_eq!(
                back.identity.as_ref().map(|i| (&i.row, i.event_time)),
                identity.as_ref().map(|i| (&i.row, i.event_time))
            );
            assert_eq!(back.join_wait, Duration::from_millis(i as u64));
            assert!(back.arrived.elapsed() < Duration::from_secs(5));
        }
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let origin = Origin::Kafka { topic: Arc::from("j"), partition: 0, offset: 0 };
        for bad in [&[][..], &[2, 0, 0], &[1, 0, 0, 0], &[1; 40][..], &[3; 20][..], &[9; 40][..]] {
            assert!(decode_internal(bad, origin.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn markers_round_trip_and_their_key_is_no_transaction_id() {
        let origin = Origin::Kafka { topic: Arc::from("j"), partition: 0, offset: 0 };
        let progress = Progress { producer: u64::MAX - 3, frontier_ms: Progress::FINISHED, written_us: 1_700_000 };
        let mut bytes = Vec::new();
        encode_marker(&progress, &mut bytes);
        assert!(matches!(decode_internal(&bytes, origin).expect("decode"), Internal::Marker(p) if p == progress));
        assert_eq!(transaction_id_of_key(MARKER_KEY), None);
        assert_eq!(transaction_id_of_key(&key_of(2_987_000)), Some(2_987_000));
    }

    #[test]
    fn a_cards_transactions_share_a_partition() {
        let (txs, _) = sample();
        let card1 = Table::Transaction.catalog().col("card1");
        let mut by_card = std::collections::HashMap::new();
        let mut used = std::collections::HashSet::new();
        for tx in &txs {
            let p = partition_for(tx, 8);
            assert!((0..8).contains(&p));
            used.insert(p);
            if let Some(card) = tx.row.num(card1) {
                assert_eq!(*by_card.entry(card.to_bits()).or_insert(p), p, "card {card}");
            }
        }
        assert_eq!(used.len(), 8, "cards spread over every partition");
    }
}
