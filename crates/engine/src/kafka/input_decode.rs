//! Decoding messages of the input topics, ahead of the job.
//!
//! Catching up on a backlog, decoding Avro is about a third of the job thread's work, and the join, the model and
//! the writes another half: done one after the other on one thread, with the model's and the decoder's parallel
//! parts in between, the machine sat a third idle. [`DecodeAhead`] decodes the next runs of messages on the rayon
//! pool while the job thread joins and scores the ones before: the source looks up each run's writer schemas on the
//! job thread (registry calls stay there), hands the run over with a shared [`DecodeContext`], and takes the
//! decoded runs back strictly in the order it handed them over, so what reaches the event-time merge is exactly what
//! decoding in place gave.
//!
//! While a run is being decoded its partitions count as having more records (the merge must not pass them), as
//! behind (processing time decisions wait for them), and as held (an idle-looking input is not at its end).

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use fraudstream_data::avro::split_framed;
use fraudstream_data::avro::value_decoder::ValueDecoder;
use fraudstream_data::avro_projected::OwnDecoder;
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::{DataError, Identity, Record, Row, Table, Transaction};

use super::source::{table_of, Raw};
use crate::error::EngineError;
use crate::flow::{DeadLetterKind, SourceEvent};

/// Runs being decoded at most: enough to keep both cores busy while the job works through the runs before.
const DEPTH: usize = 4;

/// How values written with one schema are decoded.
#[derive(Clone)]
pub(super) enum Decoding {
    /// Our own schema of the topic's table: field by field, only the columns the job reads.
    Own,
    /// Anyone else's: by field name.
    Foreign(Arc<ValueDecoder>),
    /// A schema the topic's table cannot be read from: every record is a dead letter with this reason.
    Refused(String),
}

/// Everything decoding a message needs, shared with the decoding threads; the source changes it (copy on write)
/// only when a new writer schema appears.
#[derive(Clone)]
pub(super) struct DecodeContext {
    /// How the values of each (input, schema id) are decoded, looked up once.
    pub decoders: HashMap<(u8, u32), Decoding>,
    /// Our own schemas' decoders, keeping only the columns the job reads (transactions, identities).
    pub own: [OwnDecoder; 2],
    pub registry: SchemaRegistry,
}

/// What a message of the input topics became.
pub(super) enum Decoded {
    /// A record or a dead letter.
    Event(SourceEvent),
    /// An identity whose writer schema gives it no event time (it takes its transaction's).
    Timeless(Row),
}

/// A message of the input topics as a record or a dead letter, decoded into `row` where our own schema wrote it;
/// an error only where the data is not at fault.
pub(super) fn decode_message(ctx: &DecodeContext, raw: &Raw, mut row: Row) -> Result<Decoded, EngineError> {
    let table = table_of(raw.input);
    if raw.payload.is_empty() {
        let reason = "empty message value (tombstone)".to_string();
        return Ok(Decoded::Event(raw.dead_letter(DeadLetterKind::Unreadable, reason)));
    }
    let registry = &ctx.registry;
    let decoded = split_framed(&raw.payload).and_then(|(id, datum)| {
        let unknown = || DataError::UnknownSchemaId { url: registry.url().to_string(), id };
        match ctx.decoders.get(&(raw.input, id)).ok_or_else(unknown)? {
            Decoding::Own => {
                let time = ctx.own[usize::from(raw.input)].decode_into(datum, &mut row)?;
                Ok((row, Some(time)))
            }
            Decoding::Foreign(decoder) => {
                let key_id = match (decoder.needs_key(), &raw.key) {
                    (false, _) => None,
                    (true, Some(key)) => Some(registry.key_transaction_id(key)?),
                    (true, None) => {
                        return Err(DataError::Avro {
                            context: format!("decoding a {} value (schema id {id})", table.name()),
                            message: "the value has no TransactionID field and the message has no key".into(),
                        })
                    }
                };
                let value = decoder.decode(datum, key_id)?;
                Ok((value.row, value.event_time))
            }
            Decoding::Refused(reason) => {
                Err(DataError::Avro { context: format!("decoding a {} value", table.name()), message: reason.clone() })
            }
        }
    });
    let record = match decoded {
        Ok((row, Some(event_time))) => match table {
            Table::Transaction => Record::Transaction(Transaction { row }),
            Table::Identity => Record::Identity(Identity { row, event_time }),
        },
        Ok((row, None)) => return Ok(Decoded::Timeless(row)),
        Err(e @ (DataError::Avro { .. } | DataError::UnknownSchemaId { .. })) => {
            return Ok(Decoded::Event(raw.dead_letter(DeadLetterKind::Unreadable, e.to_string())));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Decoded::Event(SourceEvent::Record { record, origin: raw.origin() }))
}

/// A decoded run: its messages and what each became.
pub(super) type DecodedRun = (Vec<Raw>, Vec<Result<Decoded, EngineError>>);

/// Runs of messages being decoded on the rayon pool, handed back in the order they were handed over (see the
/// module docs).
pub(super) struct DecodeAhead {
    sender: Sender<(u64, DecodedRun)>,
    results: Receiver<(u64, DecodedRun)>,
    next_id: u64,
    next_out: u64,
    /// Runs decoded out of turn, waiting for the ones before them.
    ready: BTreeMap<u64, DecodedRun>,
    /// Messages handed over and not handed back yet, per (input, partition).
    in_flight: HashMap<(u8, i32), usize>,
    /// Message buffers of runs handed back, for the next runs.
    spare: Vec<Vec<Raw>>,
}

impl Default for DecodeAhead {
    fn default() -> DecodeAhead {
        let (sender, results) = channel();
        DecodeAhead {
            sender,
            results,
            next_id: 0,
            next_out: 0,
            ready: BTreeMap::new(),
            in_flight: HashMap::new(),
            spare: Vec::new(),
        }
    }
}

impl DecodeAhead {
    /// Whether another run can be handed over.
    pub fn has_room(&self) -> bool {
        self.running() < DEPTH
    }

    /// Runs handed over and not handed back yet.
    pub fn running(&self) -> usize {
        (self.next_id - self.next_out) as usize
    }

    /// Whether messages of this partition are being decoded.
    pub fn holds(&self, partition: (u8, i32)) -> bool {
        self.in_flight.get(&partition).is_some_and(|&n| n > 0)
    }

    /// The partitions with messages being decoded.
    pub fn partitions(&self) -> impl Iterator<Item = (u8, i32)> + '_ {
        self.in_flight.iter().filter(|(_, &n)| n > 0).map(|(&p, _)| p)
    }

    /// An empty message buffer for the next run (one handed back earlier, when there is one).
    pub fn buffer(&mut self) -> Vec<Raw> {
        self.spare.pop().unwrap_or_default()
    }

    /// Gives a run's message buffer back for reuse.
    pub fn reuse(&mut self, buffer: Vec<Raw>) {
        if self.spare.len() <= DEPTH {
            self.spare.push(buffer);
        }
    }

    /// Starts decoding `batch`, each message into its row of `rows`.
    pub fn submit(&mut self, ctx: Arc<DecodeContext>, batch: Vec<Raw>, rows: Vec<Row>) {
        for raw in &batch {
            *self.in_flight.entry((raw.input, raw.partition)).or_default() += 1;
        }
        let (id, sender) = (self.next_id, self.sender.clone());
        self.next_id += 1;
        rayon::spawn(move || {
            // A panic here would abort the process (and the run would never come back): it becomes the run's error.
            let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                batch.iter().zip(rows).map(|(raw, row)| decode_message(&ctx, raw, row)).collect()
            }))
            .unwrap_or_else(|panic| vec![Err(crate::model_stage::panicked("decoding messages", panic.as_ref()))]);
            // The receiver is gone only when the source is: nothing waits for this run any more.
            let _ = sender.send((id, (batch, decoded)));
        });
    }

    /// The next run in the order handed over: waiting for it with `block`, else only when it is already decoded.
    pub fn next(&mut self, block: bool) -> Option<DecodedRun> {
        if self.running() == 0 {
            return None;
        }
        while !self.ready.contains_key(&self.next_out) {
            let received = if block { self.results.recv().ok() } else { self.results.try_recv().ok() };
            let (id, run) = received?;
            self.ready.insert(id, run);
        }
        let run = self.ready.remove(&self.next_out)?;
        self.next_out += 1;
        for raw in &run.0 {
            if let Some(n) = self.in_flight.get_mut(&(raw.input, raw.partition)) {
                *n = n.saturating_sub(1);
            }
        }
        Some(run)
    }

    /// Forgets every run (a new assignment reads them again), once their decoding has finished.
    pub fn clear(&mut self) {
        while self.next(true).is_some() {}
        self.in_flight.clear();
    }
}
