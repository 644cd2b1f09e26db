//! Tests of the generator: determinism, the Kaggle format, and the shape of the data (kept to small row counts so
//! they are fast in debug builds).

use std::collections::HashSet;

use super::clients::Population;
use super::*;
use crate::catalog::{Catalog, Column};
use crate::csv_table::TableReader;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fraudstream-generate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read generated file")
}

/// All rows of a small in-memory data set, with the population behind them.
fn rows(seed: u64, n: u64) -> (Population, Vec<(Row, Option<Row>)>) {
    let pop = Population::build(seed, n);
    let mut out = Vec::with_capacity(n as usize);
    each_row(&pop, seed, 0..pop.events.len(), |t, i| out.push((t.clone(), i.cloned())));
    (pop, out)
}

fn col(catalog: &'static Catalog, name: &str) -> &'static Column {
    catalog.col(name)
}

fn num(row: &Row, name: &str) -> Option<f64> {
    row.num(col(&TRANSACTION, name))
}

fn text<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    row.str(col(&TRANSACTION, name))
}

#[test]
fn same_seed_gives_identical_bytes_whatever_the_chunking_and_threads() {
    let (a, b) = (scratch("same-a"), scratch("same-b"));
    let sa = generate(&GenerateConfig::new(3_000, 7, &a)).expect("generate a");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let cfg_b = GenerateConfig { chunk_rows: 333, ..GenerateConfig::new(3_000, 7, &b) };
    let sb = pool.install(|| generate(&cfg_b)).expect("generate b");
    assert_eq!(read(&sa.transaction_path), read(&sb.transaction_path));
    assert_eq!(read(&sa.identity_path), read(&sb.identity_path));
    assert_eq!((sa.transactions, sa.identities, sa.frauds), (sb.transactions, sb.identities, sb.frauds));
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}

#[test]
fn different_seeds_give_different_files() {
    let (a, b) = (scratch("diff-a"), scratch("diff-b"));
    let sa = generate(&GenerateConfig::new(500, 1, &a)).expect("generate a");
    let sb = generate(&GenerateConfig::new(500, 2, &b)).expect("generate b");
    assert_ne!(read(&sa.transaction_path), read(&sb.transaction_path));
    assert_ne!(read(&sa.identity_path), read(&sb.identity_path));
    let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
}

#[test]
fn files_read_back_with_the_kaggle_header_and_no_bad_rows() {
    let dir = scratch("readback");
    let progress = std::cell::Cell::new(0);
    let summary =
        generate_with_progress(&GenerateConfig { chunk_rows: 700, ..GenerateConfig::new(2_000, 3, &dir) }, &|n| {
            assert!(n >= progress.get());
            progress.set(n);
        })
        .expect("generate");
    assert_eq!(progress.get(), 2_000);
    assert_eq!(summary.transactions, 2_000);

    let tx_text = String::from_utf8(read(&summary.transaction_path)).expect("utf8");
    let header: Vec<&str> = tx_text.lines().next().expect("header").split(',').collect();
    assert_eq!(header, TRANSACTION.names().collect::<Vec<_>>());
    let id_text = String::from_utf8(read(&summary.identity_path)).expect("utf8");
    let header: Vec<&str> = id_text.lines().next().expect("header").split(',').collect();
    assert_eq!(header, IDENTITY.names().collect::<Vec<_>>());

    let mut reader = TableReader::open(&summary.transaction_path, Table::Transaction, 0).expect("open");
    let tx: Vec<Row> = reader.by_ref().collect::<Result<_, _>>().expect("transactions");
    assert_eq!(reader.bad_count(), 0);
    assert_eq!(tx.len(), 2_000);
    let ids: Vec<i64> = tx.iter().map(|r| num(r, "TransactionID").expect("id") as i64).collect();
    assert_eq!(ids[0], FIRST_TRANSACTION_ID);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    let dts: Vec<f64> = tx.iter().map(|r| num(r, "TransactionDT").expect("dt")).collect();
    assert_eq!(dts[0], 86_400.0);
    assert!(dts.windows(2).all(|w| w[0] <= w[1]));
    assert!(*dts.last().expect("rows") < 183.0 * 86_400.0);
    let known: HashSet<i64> = ids.into_iter().collect();

    let mut reader = TableReader::open(&summary.identity_path, Table::Identity, 0).expect("open");
    let id: Vec<Row> = reader.by_ref().collect::<Result<_, _>>().expect("identities");
    assert_eq!(reader.bad_count(), 0);
    assert_eq!(id.len() as u64, summary.identities);
    for row in &id {
        let tid = row.num(col(&IDENTITY, "TransactionID")).expect("id") as i64;
        assert!(known.contains(&tid), "identity row for unknown transaction {tid}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn values_use_kaggle_formats() {
    let (_, rows) = rows(11, 3_000);
    for (t, i) in &rows {
        let amount = num(t, "TransactionAmt").expect("amount");
        assert!((0.25..=31_937.391).contains(&amount), "{amount}");
        for k in 1..=14 {
            let c = num(t, &format!("C{k}")).expect("C columns are never missing");
            assert!(c >= 0.0 && c.fract() == 0.0);
        }
        assert!(matches!(text(t, "ProductCD"), Some("W" | "C" | "R" | "H" | "S")));
        assert!(matches!(text(t, "card4"), Some("visa" | "mastercard" | "american express" | "discover")));
        for k in [1, 2, 3, 5, 6, 7, 8, 9] {
            assert!(matches!(text(t, &format!("M{k}")), None | Some("T" | "F")));
        }
        assert!(matches!(text(t, "M4"), None | Some("M0" | "M1" | "M2")));
        if let Some(i) = i {
            let id01 = i.num(col(&IDENTITY, "id_01")).expect("id_01");
            assert!((-100.0..=0.0).contains(&id01) && id01 % 5.0 == 0.0);
            assert!(matches!(i.str(col(&IDENTITY, "DeviceType")), None | Some("mobile" | "desktop")));
            if let Some(tz) = i.num(col(&IDENTITY, "id_14")) {
                assert!((-600.0..=600.0).contains(&tz));
            }
        }
    }
}

#[test]
fn d1_is_days_since_the_client_was_first_seen() {
    let (pop, rows) = rows(5, 5_000);
    for (index, (t, _)) in rows.iter().enumerate() {
        let client = &pop.clients[pop.events[index].client as usize];
        let Some(d1) = num(t, "D1") else { continue };
        let dt = num(t, "TransactionDT").expect("dt");
        assert_eq!((dt / 86_400.0 - d1).floor() as i64, client.first_day, "row {index}");
        assert!(d1 <= 640.0);
        if d1 > 0.0 {
            assert_eq!(num(t, "D2"), Some(d1));
        }
    }
}

#[test]
fn fraud_clusters_by_client_key_after_the_compromise() {
    let (_, rows) = rows(8, 20_000);
    // Client key as the Kaggle community builds it.
    let mut compromised: HashSet<(i64, i64, i64)> = HashSet::new();
    let mut after = (0, 0);
    for (t, _) in &rows {
        let Some(d1) = num(t, "D1") else { continue };
        let dt = num(t, "TransactionDT").expect("dt");
        let key = (
            num(t, "card1").expect("card1") as i64,
            num(t, "addr1").map_or(-1, |a| a as i64),
            (dt / 86_400.0 - d1).floor() as i64,
        );
        let fraud = num(t, "isFraud") == Some(1.0);
        if compromised.contains(&key) {
            after.0 += 1;
            after.1 += fraud as usize;
        } else if fraud {
            compromised.insert(key);
        }
    }
    // Transactions of a key after its first fraud are mostly fraud (keys can collide, so not all).
    assert!(after.0 > 50, "{after:?}");
    assert!(after.1 as f64 / after.0 as f64 > 0.6, "{after:?}");
}

#[test]
fn v_blocks_share_one_mask_lined_up_with_d_and_m_columns() {
    let (_, rows) = rows(13, 4_000);
    let present = |t: &Row, v: usize| num(t, &format!("V{v}")).is_some();
    for (t, _) in &rows {
        for (first, last, _) in vcols::BLOCKS {
            let p = present(t, first);
            assert!((first..=last).all(|v| present(t, v) == p), "V{first}-{last} mask not shared");
        }
        assert_eq!(present(t, 1), num(t, "D11").is_some());
        assert_eq!(present(t, 1), text(t, "M1").is_some());
        assert_eq!(present(t, 12), num(t, "D10").is_some());
        assert_eq!(present(t, 35), num(t, "D4").is_some());
        assert_eq!(present(t, 75), num(t, "D15").is_some());
        assert!(present(t, 95) && present(t, 279));
        assert_eq!(present(t, 138), present(t, 322));
    }
}

#[test]
fn product_drives_missingness_like_the_real_data() {
    let (_, rows) = rows(17, 6_000);
    for (t, i) in &rows {
        match text(t, "ProductCD") {
            Some("W") => {
                assert!(i.is_none() && text(t, "R_emaildomain").is_none());
                // "V138-339" in the facts file: every block there except V279-321, which is never missing.
                assert!((138..=278).chain(322..=339).all(|v| num(t, &format!("V{v}")).is_none()));
            }
            Some("C") => assert!(num(t, "addr1").is_none() && num(t, "addr2").is_none()),
            _ => {
                assert!((1..=9).all(|k| text(t, &format!("M{k}")).is_none()));
                assert!((1..=11).all(|v| num(t, &format!("V{v}")).is_none()));
            }
        }
    }
    let hrs: Vec<_> = rows.iter().filter(|(t, _)| matches!(text(t, "ProductCD"), Some("H" | "R" | "S"))).collect();
    let with_identity = hrs.iter().filter(|(_, i)| i.is_some()).count();
    assert!(with_identity as f64 > 0.9 * hrs.len() as f64);
}

#[test]
fn fraud_rate_identity_share_and_product_mix_match_the_real_data() {
    let (_, rows) = rows(42, 50_000);
    let n = rows.len() as f64;
    let fraud = |t: &Row| num(t, "isFraud") == Some(1.0);
    let frauds = rows.iter().filter(|(t, _)| fraud(t)).count() as f64;
    let identities = rows.iter().filter(|(_, i)| i.is_some()).count() as f64;
    let fraud_with_id = rows.iter().filter(|(t, i)| i.is_some() && fraud(t)).count() as f64;
    let rate = frauds / n;
    assert!((0.025..0.045).contains(&rate), "fraud rate {rate}");
    let share = identities / n;
    assert!((0.20..0.29).contains(&share), "identity share {share}");
    let (with, without) = (fraud_with_id / identities, (frauds - fraud_with_id) / (n - identities));
    assert!(with > 2.0 * without, "fraud with identity {with}, without {without}");
    for (code, target) in [("W", 0.745), ("C", 0.116), ("R", 0.064), ("H", 0.056), ("S", 0.02)] {
        let got = rows.iter().filter(|(t, _)| text(t, "ProductCD") == Some(code)).count() as f64 / n;
        assert!((got - target).abs() < 0.25 * target + 0.01, "ProductCD {code}: {got} vs {target}");
    }
    let mut amounts: Vec<f64> = rows.iter().map(|(t, _)| num(t, "TransactionAmt").expect("amount")).collect();
    amounts.sort_by(f64::total_cmp);
    let median = amounts[amounts.len() / 2];
    assert!((50.0..90.0).contains(&median), "median amount {median}");
}
