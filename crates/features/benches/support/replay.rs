//! Generated IEEE-CIS data held compactly and replayed through one reusable transaction.
//!
//! A full `Row` is ~3 KB (380 numeric slots), so 590,540 of them would not fit comfortably in memory; the client
//! features read only a few columns. Records keep those columns, and replay writes them into one reusable
//! transaction and identity, swapping the strings in and out, so replaying allocates nothing and measures the
//! client stage, not the loader. Shared by the `client` bench and the `client_lift` example.

// Each includer uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use fraudstream_data::csv_table::FileTableReader;
use fraudstream_data::generate::{generate, output_paths, GenerateConfig};
use fraudstream_data::record::{AMOUNT_SLOT, DT_SLOT, ID_SLOT, IS_FRAUD_SLOT};
use fraudstream_data::{EventTime, Identity, Row, Table, Transaction};
use fraudstream_features::FeatureRow;

/// The columns the client features read, of one transaction.
pub struct Compact {
    nums: [f64; 4],
    card1: f64,
    addr1: f64,
    d: [f64; 15],
    email: Option<Box<str>>,
    device: Option<Box<str>>,
    has_identity: bool,
}

impl Compact {
    /// The label (generated data always has one).
    pub fn is_fraud(&self) -> bool {
        self.nums[IS_FRAUD_SLOT] == 1.0
    }
}

struct Slots {
    card1: usize,
    addr1: usize,
    d: [usize; 15],
    email: usize,
    device: usize,
}

impl Slots {
    fn resolve() -> Slots {
        let tx = Table::Transaction.catalog();
        Slots {
            card1: tx.col("card1").slot,
            addr1: tx.col("addr1").slot,
            d: std::array::from_fn(|i| tx.col(&format!("D{}", i + 1)).slot),
            email: tx.col("P_emaildomain").slot,
            device: Table::Identity.catalog().col("DeviceInfo").slot,
        }
    }
}

/// Records in file order plus the reusable transaction they are replayed through.
pub struct Replay {
    pub records: Vec<Compact>,
    slots: Slots,
    tx: Transaction,
    identity: Identity,
}

/// Generates `rows` transactions with `seed` into a scratch directory, loads them and removes the files.
pub fn generated(rows: u64, seed: u64) -> Replay {
    let dir = std::env::temp_dir().join(format!("fraudstream-client-features-{}", std::process::id()));
    generate(&GenerateConfig::new(rows, seed, &dir)).expect("generate");
    let replay = load(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    replay
}

/// Loads `train_transaction.csv` and `train_identity.csv` from `dir`.
pub fn load(dir: &Path) -> Replay {
    let slots = Slots::resolve();
    let (tx_path, id_path) = output_paths(dir);
    let mut devices: HashMap<i64, Option<Box<str>>> = HashMap::new();
    let mut reader = FileTableReader::open(&id_path, Table::Identity, 0).expect("identity file");
    reader.project(&["DeviceInfo".to_string()]);
    while let Some(row) = reader.read_row().expect("identity row") {
        devices.insert(row.nums[ID_SLOT] as i64, row.strs[slots.device].clone());
    }
    let mut reader = FileTableReader::open(&tx_path, Table::Transaction, 0).expect("transaction file");
    let mut keep: Vec<String> =
        ["isFraud", "TransactionAmt", "card1", "addr1", "P_emaildomain"].map(String::from).into();
    keep.extend((1..=15).map(|i| format!("D{i}")));
    reader.project(&keep);
    let mut records = Vec::new();
    while let Some(row) = reader.read_row().expect("transaction row") {
        let device = devices.remove(&(row.nums[ID_SLOT] as i64));
        records.push(Compact {
            nums: [row.nums[ID_SLOT], row.nums[IS_FRAUD_SLOT], row.nums[DT_SLOT], row.nums[AMOUNT_SLOT]],
            card1: row.nums[slots.card1],
            addr1: row.nums[slots.addr1],
            d: std::array::from_fn(|i| row.nums[slots.d[i]]),
            email: row.strs[slots.email].clone(),
            has_identity: device.is_some(),
            device: device.flatten(),
        });
    }
    let tx = Transaction { row: Row::empty(Table::Transaction.catalog()) };
    let identity = Identity { row: Row::empty(Table::Identity.catalog()), event_time: EventTime(0) };
    Replay { records, slots, tx, identity }
}

impl Replay {
    /// Calls `f` with every record as a [`FeatureRow`], in file (TransactionID) order.
    pub fn for_each(&mut self, mut f: impl FnMut(&FeatureRow<'_>, &Compact)) {
        let Replay { records, slots, tx, identity } = self;
        for r in records.iter_mut() {
            tx.row.nums[..4].copy_from_slice(&r.nums);
            tx.row.nums[slots.card1] = r.card1;
            tx.row.nums[slots.addr1] = r.addr1;
            for (slot, v) in slots.d.iter().zip(r.d) {
                tx.row.nums[*slot] = v;
            }
            std::mem::swap(&mut tx.row.strs[slots.email], &mut r.email);
            std::mem::swap(&mut identity.row.strs[slots.device], &mut r.device);
            identity.event_time = tx.event_time();
            f(&FeatureRow::new(tx, r.has_identity.then_some(&*identity)), r);
            std::mem::swap(&mut tx.row.strs[slots.email], &mut r.email);
            std::mem::swap(&mut identity.row.strs[slots.device], &mut r.device);
        }
    }
}
