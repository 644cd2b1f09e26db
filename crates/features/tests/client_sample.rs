//! Client features over the 1,500 real IEEE-CIS sample rows, arriving slightly out of order, checked against a
//! naive recomputation from the raw rows: for each transaction, scan every record processed before it with a
//! strictly earlier event time.

use std::collections::{HashMap, HashSet};

use fraudstream_data::csv_table::FileTableReader;
use fraudstream_data::{EventTime, Identity, Table, Transaction};
use fraudstream_features::{ClientFeature, ClientFeatures, FeatureRow};
use fraudstream_testkit::ieee_cis_sample;

fn read_sample() -> Vec<(Transaction, Option<Identity>)> {
    let dir = ieee_cis_sample();
    let mut identities = HashMap::new();
    let mut reader = FileTableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).expect("identity");
    while let Some(row) = reader.read_row().expect("identity row") {
        identities.insert(row.nums[0] as i64, row);
    }
    let mut out = Vec::new();
    let mut reader =
        FileTableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).expect("transactions");
    while let Some(row) = reader.read_row().expect("transaction row") {
        let tx = Transaction { row };
        let identity = identities.remove(&tx.id()).map(|row| Identity { row, event_time: tx.event_time() });
        out.push((tx, identity));
    }
    assert_eq!(out.len(), 1_500);
    out
}

/// The raw fields the naive version works from, read by column name.
struct Raw {
    t: i64,
    dt: f64,
    amount: f64,
    card1: f64,
    addr1: f64,
    d: Vec<f64>,
    email: Option<String>,
    device: Option<String>,
}

impl Raw {
    fn of(tx: &Transaction, identity: Option<&Identity>) -> Raw {
        let cat = Table::Transaction.catalog();
        let num = |name: &str| tx.row.nums[cat.col(name).slot];
        Raw {
            t: tx.event_time().millis(),
            dt: num("TransactionDT"),
            amount: num("TransactionAmt"),
            card1: num("card1"),
            addr1: num("addr1"),
            d: (1..=15).map(|i| num(&format!("D{i}"))).collect(),
            email: tx.row.str(cat.col("P_emaildomain")).map(str::to_string),
            device: identity.and_then(|i| i.row.str(Table::Identity.catalog().col("DeviceInfo"))).map(str::to_string),
        }
    }

    /// Kaggle's string-concatenated client key, `None` without card1.
    fn uid(&self) -> Option<String> {
        (!self.card1.is_nan())
            .then(|| format!("{}_{}_{}", self.card1, self.addr1, (self.dt / 86_400.0 - self.d[0]).floor()))
    }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Naive values of the windowed block (counts, mean, std, rel, seconds since previous) over `past`.
fn naive_block(me: &Raw, past: &[&Raw]) -> Vec<f64> {
    let mut out: Vec<f64> = [3_600_000i64, 86_400_000, 7 * 86_400_000, 30 * 86_400_000]
        .iter()
        .map(|w| past.iter().filter(|p| me.t - p.t <= *w).count() as f64)
        .collect();
    let amounts: Vec<f64> =
        past.iter().filter(|p| me.t - p.t <= 30 * 86_400_000 && !p.amount.is_nan()).map(|p| p.amount).collect();
    let n = amounts.len() as f64;
    let mean = if amounts.is_empty() { f64::NAN } else { amounts.iter().sum::<f64>() / n };
    let std = if amounts.len() < 2 {
        f64::NAN
    } else {
        (amounts.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    out.extend([mean, std, me.amount / mean]);
    out.push(past.iter().map(|p| p.t).max().map_or(f64::NAN, |prev| (me.t - prev) as f64 / 1000.0));
    out
}

#[test]
fn client_features_match_a_naive_recomputation_on_the_real_sample_arriving_out_of_order() {
    let rows = read_sample();
    // Arrival order: event time plus up to 10 min of delay (the join delays by ~80 s; this is well within the
    // default 1 h lateness and makes far more records overtake each other).
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| rows[i].0.transaction_dt() + (rows[i].0.id() * 7_919) % 600);
    let out_of_order = order.windows(2).filter(|w| rows[w[0]].0.transaction_dt() > rows[w[1]].0.transaction_dt());
    let out_of_order = out_of_order.count();
    assert!(out_of_order > 300, "the arrival order must actually be out of order: {out_of_order}");

    let raws: Vec<Raw> = rows.iter().map(|(t, i)| Raw::of(t, i.as_ref())).collect();
    let mut state = ClientFeatures::default();
    let mut processed: Vec<usize> = Vec::new();
    let mut checked = [0usize; 3];
    for &i in &order {
        let (tx, identity) = &rows[i];
        let mut got = [0.0; ClientFeature::COUNT];
        state.observe(&FeatureRow::new(tx, identity.as_ref()), &mut got);

        let me = &raws[i];
        let past: Vec<&Raw> = processed.iter().map(|&j| &raws[j]).filter(|p| p.t < me.t).collect();
        let mut want = vec![f64::NAN; ClientFeature::COUNT];
        if let Some(uid) = me.uid() {
            let mine: Vec<&Raw> = past.iter().copied().filter(|p| p.uid().as_deref() == Some(uid.as_str())).collect();
            want[..8].copy_from_slice(&naive_block(me, &mine));
            let emails: HashSet<&str> = mine.iter().filter_map(|p| p.email.as_deref()).collect();
            let devices: HashSet<&str> = mine.iter().filter_map(|p| p.device.as_deref()).collect();
            want[8] = emails.len() as f64;
            want[9] = devices.len() as f64;
            let card: Vec<&Raw> = past.iter().copied().filter(|p| p.card1 == me.card1).collect();
            want[10..18].copy_from_slice(&naive_block(me, &card));
            want[18] = card.len() as f64;
            checked[0] += usize::from(!mine.is_empty());
        }
        if !me.addr1.is_nan() {
            want[19] = past.iter().filter(|p| p.addr1 == me.addr1).count() as f64;
        }
        if let Some(email) = &me.email {
            want[20] = past.iter().filter(|p| p.email.as_ref() == Some(email)).count() as f64;
        }
        want[21] = me.amount - me.amount.floor();
        for (k, d) in [4, 6, 7, 8, 10, 11, 12, 13, 14, 15].iter().enumerate() {
            want[22 + k] = me.d[d - 1] - me.dt / 86_400.0;
        }
        checked[1] += usize::from(want[9] > 0.0);
        checked[2] += usize::from(want[0] > 0.0);

        for f in ClientFeature::all() {
            let (g, w) = (got[f.index()], want[f.index()]);
            assert!(same(g, w), "TransactionID {} {}: got {g}, naive {w}", tx.id(), f.name());
        }
        processed.push(i);
    }
    // The sample must exercise the interesting paths: repeat clients, devices, 1 h windows.
    assert!(checked.iter().all(|&c| c > 20), "{checked:?}");
    assert!(state.clock() >= Some(EventTime::from_transaction_dt(134_530)));
}
