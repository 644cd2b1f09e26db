//! Handing finished rows back to the reader that parsed them.
//!
//! In embedded mode one thread parses CSV rows and another joins and scores them. A full-width [`Row`] is a few
//! kilobytes; allocating it on the reader thread and freeing it on the job thread made the allocator's locks and
//! bookkeeping the biggest single cost of a replay (about a third of the reader's time). Instead, the job hands each
//! row back through a [`Recycler`] once its score is written, and the reader refills it from its [`RowPool`]
//! (see `TableReader::read_row_into`). Rows travel in batches, so the hand-back costs one channel operation per few
//! hundred rows. The channel is bounded: when the reader has enough rows in stock, further ones are simply freed.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use fraudstream_data::{Row, Table};

use crate::flow::Joined;

/// Rows per hand-back.
const BATCH: usize = 256;
/// Batches waiting to be reused, per pool (bounds the memory the stock may hold).
const STOCK: usize = 16;

/// Creates a connected pair: the job's end and the reader's end.
pub fn pool() -> (Recycler, RowPool) {
    let (sender, receiver) = sync_channel(STOCK);
    (
        Recycler { sender, transactions: Vec::with_capacity(BATCH), identities: Vec::with_capacity(BATCH) },
        RowPool { receiver, transactions: Vec::new(), identities: Vec::new() },
    )
}

/// The job's end: collects rows it is done with and sends them back in batches.
pub struct Recycler {
    sender: SyncSender<(Table, Vec<Row>)>,
    transactions: Vec<Row>,
    identities: Vec<Row>,
}

impl Recycler {
    /// Takes back the rows of a record whose output is written.
    pub fn recycle(&mut self, joined: Joined) {
        Self::add(&self.sender, Table::Transaction, &mut self.transactions, joined.transaction.row);
        if let Some(identity) = joined.identity {
            Self::add(&self.sender, Table::Identity, &mut self.identities, identity.row);
        }
    }

    fn add(sender: &SyncSender<(Table, Vec<Row>)>, table: Table, rows: &mut Vec<Row>, row: Row) {
        rows.push(row);
        if rows.len() == BATCH {
            // A full stock (or a reader that has stopped) just means these rows are freed here.
            let _ = sender.try_send((table, std::mem::replace(rows, Vec::with_capacity(BATCH))));
        }
    }
}

/// The reader's end: rows to refill, fresh ones when none came back.
pub struct RowPool {
    receiver: Receiver<(Table, Vec<Row>)>,
    transactions: Vec<Row>,
    identities: Vec<Row>,
}

impl RowPool {
    /// A row of `table` to read into: a returned one when there is one, otherwise a new empty row.
    pub fn take(&mut self, table: Table) -> Row {
        if self.stock(table).is_empty() {
            while let Ok((returned, rows)) = self.receiver.try_recv() {
                let stock = self.stock(returned);
                if stock.is_empty() {
                    *stock = rows;
                } else {
                    stock.extend(rows);
                }
            }
        }
        self.stock(table).pop().unwrap_or_else(|| Row::empty(table.catalog()))
    }

    /// Returns a row that was taken but not used (end of input, a malformed row).
    pub fn put_back(&mut self, table: Table, row: Row) {
        self.stock(table).push(row);
    }

    fn stock(&mut self, table: Table) -> &mut Vec<Row> {
        match table {
            Table::Transaction => &mut self.transactions,
            Table::Identity => &mut self.identities,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::{EventTime, Identity, Transaction};
    use std::time::{Duration, Instant};

    fn joined(id: f64, with_identity: bool) -> Joined {
        let mut row = Row::empty(Table::Transaction.catalog());
        row.nums[fraudstream_data::record::ID_SLOT] = id;
        Joined {
            transaction: Transaction { row },
            identity: with_identity
                .then(|| Identity { row: Row::empty(Table::Identity.catalog()), event_time: EventTime(0) }),
            origin: crate::flow::Origin::Kafka { topic: "t".into(), partition: 0, offset: 0 },
            arrived: Instant::now(),
            join_wait: Duration::ZERO,
            client: Box::new([]),
        }
    }

    #[test]
    fn rows_come_back_per_table_in_batches_and_new_ones_are_made_when_none_did() {
        let (mut recycler, mut pool) = pool();
        // Nothing returned yet: a fresh, empty row of the right width.
        let fresh = pool.take(Table::Identity);
        assert_eq!(fresh, Row::empty(Table::Identity.catalog()));
        for i in 0..BATCH {
            recycler.recycle(joined(i as f64, i % 2 == 0));
        }
        // A full batch of transaction rows went back; the identity rows wait for a batch of their own.
        let mut ids = Vec::new();
        for _ in 0..BATCH {
            let row = pool.take(Table::Transaction);
            ids.push(row.nums[fraudstream_data::record::ID_SLOT]);
        }
        ids.sort_by(f64::total_cmp);
        assert_eq!(ids, (0..BATCH).map(|i| i as f64).collect::<Vec<_>>());
        assert!(pool.take(Table::Transaction).nums[fraudstream_data::record::ID_SLOT].is_nan(), "stock is empty");
        assert_eq!(pool.take(Table::Identity).nums.len(), Table::Identity.catalog().num_count());
    }

    #[test]
    fn a_full_stock_or_a_stopped_reader_frees_rows_instead_of_blocking() {
        let (mut recycler, pool) = pool();
        for i in 0..(STOCK + 3) * BATCH {
            recycler.recycle(joined(i as f64, false));
        }
        drop(pool);
        for i in 0..2 * BATCH {
            recycler.recycle(joined(i as f64, true));
        }
    }
}
