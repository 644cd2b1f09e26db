//! The embedded-mode source: both Kaggle CSV files, merged into one event-time-ordered stream.
//!
//! Transactions are read in file order (event-time order in the Kaggle files). Each transaction is followed by its
//! identity row, which takes the transaction's event time. Identities are found by a streaming merge on
//! TransactionID (both Kaggle files are sorted by it), so memory stays bounded; if the identity file turns out not to
//! be sorted, the rest of it is indexed in memory instead (it is the small file), with a warning.
//!
//! Optional identity jitter (`identity_jitter`) shifts each identity's event time by a deterministic pseudo-random
//! offset in `[-J, +J]`, to exercise join windows; records are then released in shifted-time order through a small
//! reorder buffer holding `J` of event time. Identities whose transaction never appears are emitted at the end as
//! dead letters; malformed rows are emitted as dead letters where they occur.
//!
//! The end of the identity file is announced ([`SourceEvent::PartitionEnd`]) as soon as it is read: a finished file
//! is finished input, so it stops holding the watermark back at once rather than after the idle timeout (which kept
//! every transaction of a run with an empty identity file in the join).

use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fraudstream_data::csv_table::{write_row, FileTableReader, TableReader};
use fraudstream_data::{BadRow, EventTime, Identity, Record, Row, Table, Transaction};

use super::recycle::{self, Recycler, RowPool};
use super::required::RequiredColumns;
use super::Source;
use crate::error::EngineError;
use crate::flow::{DeadLetter, DeadLetterKind, InputPartition, Origin, SourceEvent};

/// What to read and how.
#[derive(Debug, Clone)]
pub struct FileSourceConfig {
    pub transactions: PathBuf,
    /// `None` when there is no identity file (every transaction then has no identity).
    pub identities: Option<PathBuf>,
    /// Malformed rows tolerated per file before reading stops with an error.
    pub max_bad_rows: u64,
    /// Maximum shift of an identity's event time from its transaction's (zero: identical times).
    pub identity_jitter: Duration,
    /// Seed of the jitter.
    pub seed: u64,
    /// Parse only these columns (plus the required ones); the others read as missing. `None`: all. Scoring needs a
    /// few dozen of the 394 columns, and skipping the rest is most of the parsing cost.
    pub columns: Option<Vec<String>>,
    /// Columns the run cannot do without (the model's raw inputs): one absent from a file's header stops the run at
    /// open, naming the file and the columns, unless allowed (see [`super::required`]). Empty: nothing required
    /// beyond the catalog's own required columns.
    pub required: RequiredColumns,
}

impl FileSourceConfig {
    /// Both files read in full, strictly (no malformed row tolerated), without jitter.
    pub fn new(transactions: impl Into<PathBuf>, identities: Option<PathBuf>) -> FileSourceConfig {
        FileSourceConfig {
            transactions: transactions.into(),
            identities,
            max_bad_rows: 0,
            identity_jitter: Duration::ZERO,
            seed: 0,
            columns: None,
            required: RequiredColumns::default(),
        }
    }
}

/// Counts for a final summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSourceStats {
    pub transactions: u64,
    pub identities: u64,
    pub bad_rows: u64,
    pub orphan_identities: u64,
}

/// A pending output, ordered by event time and then by read order (a transaction before its identity).
struct Pending {
    time: EventTime,
    seq: u64,
    record: Record,
    origin: Origin,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: reverse for earliest-first.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Identity rows read ahead of the transaction that needs them.
struct IdentityLookahead {
    reader: FileTableReader,
    path: Arc<Path>,
    /// Rows by TransactionID, with their line; more than one when the file has duplicates.
    pending: HashMap<i64, Vec<(Row, u64)>>,
    last_id: i64,
    exhausted: bool,
    /// The end of the file has been announced to the job.
    end_announced: bool,
    indexed_all: bool,
}

impl IdentityLookahead {
    fn read_one(&mut self, pool: &mut RowPool) -> Result<Option<i64>, EngineError> {
        let mut row = pool.take(Table::Identity);
        if !self.reader.read_row_into(&mut row)? {
            pool.put_back(Table::Identity, row);
            self.exhausted = true;
            return Ok(None);
        }
        let id = row.nums[fraudstream_data::record::ID_SLOT] as i64;
        self.pending.entry(id).or_default().push((row, self.reader.last_line()));
        Ok(Some(id))
    }

    /// All identity rows of `tx_id`, reading ahead as far as the sort order requires.
    fn take(&mut self, tx_id: i64, pool: &mut RowPool) -> Result<Vec<(Row, u64)>, EngineError> {
        while !self.exhausted && !self.indexed_all && self.last_id <= tx_id {
            let Some(id) = self.read_one(pool)? else { break };
            if id < self.last_id {
                tracing::warn!(
                    "{} is not sorted by TransactionID (line {}); indexing the rest of it in memory",
                    self.path.display(),
                    self.reader.last_line()
                );
                while self.read_one(pool)?.is_some() {}
                self.indexed_all = true;
            }
            self.last_id = self.last_id.max(id);
        }
        Ok(self.pending.remove(&tx_id).unwrap_or_default())
    }
}

/// Opens one file of `table`: its header is checked (the data crate refuses the other table's), then the columns
/// the run requires of it, then the reader is limited to the columns the run reads.
fn open_table(config: &FileSourceConfig, path: &Path, table: Table) -> Result<FileTableReader, EngineError> {
    let mut reader = TableReader::open(path, table, config.max_bad_rows)?;
    config.required.check(&path.display(), &reader.absent_columns(&config.required.names))?;
    if let Some(keep) = &config.columns {
        reader.project(keep);
    }
    Ok(reader)
}

/// Both CSV files as one event-time-ordered [`Source`].
pub struct FileSource {
    transactions: FileTableReader,
    tx_path: Arc<Path>,
    identities: Option<IdentityLookahead>,
    jitter_ms: i64,
    seed: u64,
    heap: BinaryHeap<Pending>,
    seq: u64,
    dead: std::collections::VecDeque<DeadLetter>,
    tx_done: bool,
    /// The latest transaction event time read so far.
    newest: EventTime,
    stats: FileSourceStats,
    /// Rows handed back by the job, refilled instead of allocated.
    pool: RowPool,
    recycler: Option<Recycler>,
}

impl FileSource {
    pub fn open(config: &FileSourceConfig) -> Result<FileSource, EngineError> {
        let transactions = open_table(config, &config.transactions, Table::Transaction)?;
        let identities = match &config.identities {
            None => None,
            Some(p) => Some(IdentityLookahead {
                reader: open_table(config, p, Table::Identity)?,
                path: Arc::from(p.as_path()),
                pending: HashMap::new(),
                last_id: i64::MIN,
                exhausted: false,
                end_announced: false,
                indexed_all: false,
            }),
        };
        let (recycler, pool) = recycle::pool();
        Ok(FileSource {
            transactions,
            tx_path: Arc::from(config.transactions.as_path()),
            identities,
            jitter_ms: config.identity_jitter.as_millis() as i64,
            seed: config.seed,
            heap: BinaryHeap::new(),
            seq: 0,
            dead: Default::default(),
            tx_done: false,
            newest: EventTime(i64::MIN),
            stats: FileSourceStats::default(),
            pool,
            recycler: Some(recycler),
        })
    }

    pub fn stats(&self) -> &FileSourceStats {
        &self.stats
    }

    fn push(&mut self, time: EventTime, record: Record, origin: Origin) {
        self.seq += 1;
        self.heap.push(Pending { time, seq: self.seq, record, origin });
    }

    /// A deterministic offset in `[-J, +J]` ms for one TransactionID.
    fn jitter_for(&self, id: i64) -> i64 {
        if self.jitter_ms == 0 {
            return 0;
        }
        let r = fraudstream_data::rng::splitmix64(self.seed ^ (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        (r % (2 * self.jitter_ms as u64 + 1)) as i64 - self.jitter_ms
    }

    fn collect_bad_rows(&mut self) {
        let mut bad: Vec<BadRow> = self.transactions.drain_bad_rows();
        if let Some(ids) = &mut self.identities {
            bad.extend(ids.reader.drain_bad_rows());
        }
        for b in bad {
            self.stats.bad_rows += 1;
            let origin = Origin::File { path: Arc::from(b.path.as_path()), line: b.line };
            let reason = b.to_string();
            // The row's bytes as they are in the file, so it can be inspected, fixed and replayed.
            let kind = DeadLetterKind::Unreadable;
            self.dead.push_back(DeadLetter { kind, reason, origin, payload: b.payload, key: None });
        }
    }

    /// Reads the next transaction (and its identities) into the reorder buffer.
    fn read_transaction(&mut self) -> Result<bool, EngineError> {
        let mut row = self.pool.take(Table::Transaction);
        let read = self.transactions.read_row_into(&mut row);
        self.collect_bad_rows();
        if !read? {
            self.pool.put_back(Table::Transaction, row);
            return Ok(false);
        }
        let tx = Transaction { row };
        let time = tx.event_time();
        let id = tx.id();
        let line = self.transactions.last_line();
        self.newest = self.newest.max(time);
        self.stats.transactions += 1;
        let identities = match &mut self.identities {
            Some(ids) => {
                let found = ids.take(id, &mut self.pool);
                self.collect_bad_rows();
                found?
            }
            None => Vec::new(),
        };
        self.push(time, Record::Transaction(tx), Origin::File { path: self.tx_path.clone(), line });
        for (row, line) in identities {
            let shifted = time.plus_millis(self.jitter_for(id));
            self.stats.identities += 1;
            let path = self.identities.as_ref().map_or_else(|| self.tx_path.clone(), |i| i.path.clone());
            self.push(shifted, Record::Identity(Identity { row, event_time: shifted }), Origin::File { path, line });
        }
        Ok(true)
    }

    /// Identities left over when the transactions are exhausted: their transaction never came.
    fn drain_orphans(&mut self) -> Result<(), EngineError> {
        let Some(ids) = &mut self.identities else { return Ok(()) };
        while ids.read_one(&mut self.pool)?.is_some() {}
        let mut orphans: Vec<(i64, Vec<(Row, u64)>)> = ids.pending.drain().collect();
        orphans.sort_by_key(|(id, _)| *id);
        let catalog = Table::Identity.catalog();
        for (id, rows) in orphans {
            for (row, line) in rows {
                self.stats.orphan_identities += 1;
                let mut payload = Vec::new();
                write_row(catalog, &row, &mut payload);
                payload.pop();
                self.dead.push_back(DeadLetter {
                    kind: DeadLetterKind::NoTransaction,
                    reason: format!("identity of TransactionID {id} has no transaction in {}", self.tx_path.display()),
                    origin: Origin::File { path: ids.path.clone(), line },
                    payload,
                    key: None,
                });
            }
        }
        self.collect_bad_rows();
        Ok(())
    }
}

impl FileSource {
    /// The way to hand finished rows back for reuse (see [`recycle`]). There is one: the first call takes it.
    pub fn recycler(&mut self) -> Option<Recycler> {
        self.recycler.take()
    }

    /// The identity file's end, once, as soon as every row of it has been read (the rows still in the reorder
    /// buffer are older than anything the transactions file brings next, so none is behind the watermark it lets
    /// through).
    fn identities_ended(&mut self) -> Option<SourceEvent> {
        let ids = self.identities.as_mut().filter(|ids| ids.exhausted && !ids.end_announced && self.heap.is_empty())?;
        ids.end_announced = true;
        Some(SourceEvent::PartitionEnd((Table::Identity, 0)))
    }
}

impl Source for FileSource {
    fn partitions(&self) -> Vec<InputPartition> {
        let mut p = vec![(Table::Transaction, 0)];
        if self.identities.is_some() {
            p.push((Table::Identity, 0));
        }
        p
    }

    fn poll(&mut self, _timeout: Duration) -> Result<SourceEvent, EngineError> {
        loop {
            if let Some(d) = self.dead.pop_front() {
                return Ok(SourceEvent::DeadLetter(d));
            }
            if let Some(end) = self.identities_ended() {
                return Ok(end);
            }
            // Release what no later input can precede: anything at least J older than the newest transaction.
            if let Some(top) = self.heap.peek() {
                if self.tx_done || top.time.millis() <= self.newest.millis().saturating_sub(self.jitter_ms) {
                    if let Some(p) = self.heap.pop() {
                        return Ok(SourceEvent::Record { record: p.record, origin: p.origin });
                    }
                }
            }
            if self.tx_done {
                return Ok(SourceEvent::End);
            }
            if !self.read_transaction()? {
                self.tx_done = true;
                self.drain_orphans()?;
            }
        }
    }
}
