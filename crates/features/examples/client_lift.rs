//! Do the client features carry signal on generated data? Generates a set (default 200,000 rows, seed 42),
//! computes the client features in TransactionID order, and prints per feature its coverage and single-feature ROC
//! AUC against isFraud, plus fraud rates by a few conditions. Also prints how long the client stage took.
//!
//! Run: `cargo run --release -p fraudstream-features --example client_lift [rows] [seed]`.

#[path = "../benches/support/replay.rs"]
mod replay;

use std::time::Instant;

use fraudstream_features::{ClientFeature, ClientFeatures};

/// CPU time of this process so far, from Linux's schedstat (wall time misleads on a shared machine).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// ROC AUC of `score` for `label` (Mann-Whitney U with average ranks for ties), over rows where the score is
/// present; `None` if either class is absent there.
fn auc(values: &[(f64, bool)]) -> Option<f64> {
    let mut v: Vec<(f64, bool)> = values.iter().copied().filter(|(x, _)| !x.is_nan()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = v.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = v.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * v[i..j].iter().filter(|(_, y)| *y).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

fn rate(rows: &[(f64, bool)], keep: impl Fn(f64) -> bool) -> String {
    let sel: Vec<bool> = rows.iter().filter(|(x, _)| keep(*x)).map(|(_, y)| *y).collect();
    let frauds = sel.iter().filter(|y| **y).count();
    format!("{:.2}% of {} rows", 100.0 * frauds as f64 / sel.len().max(1) as f64, sel.len())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let mut data = replay::generated(rows, seed);

    // Timing: the client stage alone, best of three passes with fresh state.
    let mut best = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let mut state = ClientFeatures::default();
        let mut out = [0.0; ClientFeature::COUNT];
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        data.for_each(|row, _| state.observe(row, &mut out));
        drop(state);
        let cpu = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
        best = (best.0.min(wall.elapsed().as_secs_f64()), best.1.min(cpu));
    }
    let n = data.records.len() as f64;
    println!(
        "client stage over {n} rows (best of 3, incl. dropping the state): {:.0} ms wall ({:.2} M rows/s), {:.0} ms \
         CPU ({:.2} M rows/s)",
        best.0 * 1e3,
        n / best.0 / 1e6,
        best.1 * 1e3,
        n / best.1 / 1e6
    );

    let mut state = ClientFeatures::default();
    let mut values: Vec<Vec<(f64, bool)>> =
        (0..ClientFeature::COUNT).map(|_| Vec::with_capacity(rows as usize)).collect();
    let mut out = [0.0; ClientFeature::COUNT];
    let mut max_entities = 0;
    data.for_each(|row, r| {
        state.observe(row, &mut out);
        for (column, v) in values.iter_mut().zip(out) {
            column.push((v, r.is_fraud()));
        }
        max_entities = max_entities.max(state.entities());
    });
    println!("state: at most {max_entities} entities; {} entries at the end", state.state_entries());
    let all = &values[0];
    println!("fraud rate overall: {}", rate(all, |_| true));

    println!("\n{:<24} {:>9} {:>7}", "feature", "coverage", "AUC");
    for f in ClientFeature::all() {
        let column = &values[f.index()];
        let present = column.iter().filter(|(x, _)| !x.is_nan()).count();
        let auc = auc(column).map_or("-".to_string(), |a| format!("{a:.3}"));
        println!("{:<24} {:>8.1}% {:>7}", f.name(), 100.0 * present as f64 / column.len() as f64, auc);
    }

    let by = |f: ClientFeature| &values[f.index()];
    println!("\nfraud rate by condition:");
    for (f, name) in [
        (ClientFeature::UidCount24h, "uid_count_24h"),
        (ClientFeature::UidCount30d, "uid_count_30d"),
        (ClientFeature::Card1Count1h, "card1_count_1h"),
    ] {
        println!("  {name} == 0: {}", rate(by(f), |x| x == 0.0));
        println!("  {name} > 0:  {}", rate(by(f), |x| x > 0.0));
    }
    println!("  uid_count_1h >= 2: {}", rate(by(ClientFeature::UidCount1h), |x| x >= 2.0));
    println!("  uid_devices >= 2: {}", rate(by(ClientFeature::UidDevices), |x| x >= 2.0));
    println!("  uid_emails >= 2: {}", rate(by(ClientFeature::UidEmails), |x| x >= 2.0));
    println!("  uid_amt_rel > 2: {}", rate(by(ClientFeature::UidAmtRel), |x| x > 2.0));
    println!("  uid_secs_since_prev < 3600: {}", rate(by(ClientFeature::UidSecsSincePrev), |x| x < 3600.0));
    println!("  uid_secs_since_prev >= 3600: {}", rate(by(ClientFeature::UidSecsSincePrev), |x| x >= 3600.0));
}
