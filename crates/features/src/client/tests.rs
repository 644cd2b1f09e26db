//! Hand-computed cases for the client features: windows and their boundaries, ties, out-of-order arrival, TTL,
//! missing key parts and bounded state.

use std::time::Duration;

use fraudstream_data::record::{AMOUNT_SLOT, DT_SLOT, ID_SLOT};
use fraudstream_data::{EventTime, Identity, Row, Table, Transaction};

use super::*;
use ClientFeature as F;

const NAN: f64 = f64::NAN;
const T0: i64 = 86_400;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// A transaction; `d1`/`addr1`/`card1` NaN for missing.
fn tx(id: i64, dt: i64, amount: f64, card1: f64, addr1: f64, d1: f64, email: Option<&str>) -> Transaction {
    let cat = Table::Transaction.catalog();
    let mut row = Row::empty(cat);
    row.nums[ID_SLOT] = id as f64;
    row.nums[DT_SLOT] = dt as f64;
    row.nums[AMOUNT_SLOT] = amount;
    row.nums[cat.col("card1").slot] = card1;
    row.nums[cat.col("addr1").slot] = addr1;
    row.nums[cat.col("D1").slot] = d1;
    row.strs[cat.col("P_emaildomain").slot] = email.map(Box::from);
    Transaction { row }
}

fn identity(t: &Transaction, device_info: &str) -> Identity {
    let cat = Table::Identity.catalog();
    let mut row = Row::empty(cat);
    row.nums[ID_SLOT] = t.id() as f64;
    row.strs[cat.col("DeviceInfo").slot] = Some(device_info.into());
    Identity { row, event_time: t.event_time() }
}

fn observe(state: &mut ClientFeatures, t: &Transaction, id: Option<&Identity>) -> [f64; ClientFeature::COUNT] {
    let mut out = [0.0; ClientFeature::COUNT];
    state.observe(&FeatureRow::new(t, id), &mut out);
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[track_caller]
fn check(out: &[f64; ClientFeature::COUNT], expected: &[(ClientFeature, f64)]) {
    for (f, want) in expected {
        let got = out[f.index()];
        assert!(same(got, *want), "{}: got {got}, want {want}", f.name());
    }
}

#[track_caller]
fn check_all_equal(a: &[f64; ClientFeature::COUNT], b: &[f64; ClientFeature::COUNT]) {
    for f in ClientFeature::all() {
        assert!(same(a[f.index()], b[f.index()]), "{}: {} vs {}", f.name(), a[f.index()], b[f.index()]);
    }
}

fn sample_std(xs: &[f64]) -> f64 {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)).sqrt()
}

/// Two clients A (addr1 300) and B (addr1 301) sharing card1 1000, both first seen on day 0 (D1 = day).
struct Scenario {
    txs: Vec<Transaction>,
    ids: Vec<Option<Identity>>,
}

fn scenario() -> Scenario {
    let a = |id, dt: i64, amt, email| tx(id, dt, amt, 1000.0, 300.0, (dt / DAY) as f64, email);
    let b = |id, dt: i64, amt, email| tx(id, dt, amt, 1000.0, 301.0, (dt / DAY) as f64, email);
    let mut t1 = a(1, T0, 10.0, Some("gmail.com"));
    let cat = Table::Transaction.catalog();
    t1.row.nums[cat.col("D4").slot] = 5.0;
    t1.row.nums[cat.col("D15").slot] = 0.0;
    let txs = vec![
        t1,
        b(2, T0 + 1_800, 20.0, Some("yahoo.com")),
        a(3, T0 + HOUR, 30.0, Some("gmail.com")),
        a(4, T0 + HOUR + 1, 50.25, Some("hotmail.com")),
        b(5, T0 + HOUR + 1, 40.0, None),
        a(6, T0 + 2 * DAY, 100.0, Some("gmail.com")),
    ];
    let ids = vec![Some(identity(&txs[0], "Windows")), None, Some(identity(&txs[2], "iOS Device")), None, None, None];
    Scenario { txs, ids }
}

impl Scenario {
    fn run(&self, order: &[usize]) -> Vec<[f64; ClientFeature::COUNT]> {
        let mut state = ClientFeatures::default();
        let mut outs = vec![[NAN; ClientFeature::COUNT]; self.txs.len()];
        for &i in order {
            outs[i] = observe(&mut state, &self.txs[i], self.ids[i].as_ref());
        }
        outs
    }
}

#[test]
fn hand_computed_sequence_of_two_clients_sharing_a_card() {
    let s = scenario();
    let out = s.run(&[0, 1, 2, 3, 4, 5]);
    #[rustfmt::skip]
    let first = [
        (F::UidCount1h, 0.0), (F::UidCount24h, 0.0), (F::UidCount7d, 0.0), (F::UidCount30d, 0.0),
        (F::UidAmtMean, NAN), (F::UidAmtStd, NAN), (F::UidAmtRel, NAN), (F::UidSecsSincePrev, NAN),
        (F::UidEmails, 0.0), (F::UidDevices, 0.0),
        (F::Card1Count1h, 0.0), (F::Card1Count30d, 0.0), (F::Card1AmtMean, NAN), (F::Card1SecsSincePrev, NAN),
        (F::Card1Seen, 0.0), (F::Addr1Seen, 0.0), (F::EmailSeen, 0.0),
        (F::Cents, 0.0), (F::D4n, 4.0), (F::D15n, -1.0), (F::D6n, NAN), (F::D10n, NAN),
    ];
    check(&out[0], &first);
    // B's first: nothing of its own, but card1 has A's first (1,800 s earlier).
    #[rustfmt::skip]
    check(&out[1], &[
        (F::UidCount1h, 0.0), (F::UidCount30d, 0.0), (F::UidAmtMean, NAN), (F::UidSecsSincePrev, NAN),
        (F::UidEmails, 0.0),
        (F::Card1Count1h, 1.0), (F::Card1Count24h, 1.0), (F::Card1Count7d, 1.0), (F::Card1Count30d, 1.0),
        (F::Card1AmtMean, 10.0), (F::Card1AmtStd, NAN), (F::Card1AmtRel, 2.0), (F::Card1SecsSincePrev, 1_800.0),
        (F::Card1Seen, 1.0), (F::Addr1Seen, 0.0), (F::EmailSeen, 0.0), (F::D4n, NAN),
    ]);
    // A's second, exactly 1 h after its first: the first is inside the 1 h window.
    #[rustfmt::skip]
    check(&out[2], &[
        (F::UidCount1h, 1.0), (F::UidCount24h, 1.0), (F::UidCount30d, 1.0),
        (F::UidAmtMean, 10.0), (F::UidAmtStd, NAN), (F::UidAmtRel, 3.0), (F::UidSecsSincePrev, 3_600.0),
        (F::UidEmails, 1.0), (F::UidDevices, 1.0),
        (F::Card1Count1h, 2.0), (F::Card1Count30d, 2.0), (F::Card1AmtMean, 15.0),
        (F::Card1AmtStd, sample_std(&[10.0, 20.0])), (F::Card1AmtRel, 2.0), (F::Card1SecsSincePrev, 1_800.0),
        (F::Card1Seen, 2.0), (F::Addr1Seen, 1.0), (F::EmailSeen, 1.0),
    ]);
    // One second later A's first is 3,601 s old: out of the 1 h window.
    #[rustfmt::skip]
    check(&out[3], &[
        (F::UidCount1h, 1.0), (F::UidCount24h, 2.0), (F::UidCount7d, 2.0), (F::UidCount30d, 2.0),
        (F::UidAmtMean, 20.0), (F::UidAmtStd, sample_std(&[10.0, 30.0])), (F::UidAmtRel, 50.25 / 20.0),
        (F::UidSecsSincePrev, 1.0), (F::UidEmails, 1.0), (F::UidDevices, 2.0),
        (F::Card1Count1h, 2.0), (F::Card1Count24h, 3.0), (F::Card1AmtMean, 20.0), (F::Card1AmtStd, 10.0),
        (F::Card1AmtRel, 50.25 / 20.0), (F::Card1SecsSincePrev, 1.0),
        (F::Card1Seen, 3.0), (F::Addr1Seen, 2.0), (F::EmailSeen, 0.0), (F::Cents, 0.25),
    ]);
    // Same second as A's third on the same card: they do not see each other. No e-mail: email_seen missing.
    #[rustfmt::skip]
    check(&out[4], &[
        (F::UidCount1h, 1.0), (F::UidCount30d, 1.0), (F::UidAmtMean, 20.0), (F::UidAmtRel, 2.0),
        (F::UidSecsSincePrev, 1_801.0), (F::UidEmails, 1.0), (F::UidDevices, 0.0),
        (F::Card1Count1h, 2.0), (F::Card1Count24h, 3.0), (F::Card1AmtMean, 20.0), (F::Card1AmtStd, 10.0),
        (F::Card1SecsSincePrev, 1.0), (F::Card1Seen, 3.0), (F::Addr1Seen, 1.0), (F::EmailSeen, NAN),
    ]);
    // Two days later: only the 7 d and 30 d windows reach back.
    let a_amounts = [10.0, 30.0, 50.25];
    let card_amounts = [10.0, 20.0, 30.0, 50.25, 40.0];
    let a_mean = a_amounts.iter().sum::<f64>() / 3.0;
    #[rustfmt::skip]
    check(&out[5], &[
        (F::UidCount1h, 0.0), (F::UidCount24h, 0.0), (F::UidCount7d, 3.0), (F::UidCount30d, 3.0),
        (F::UidAmtMean, a_mean), (F::UidAmtStd, sample_std(&a_amounts)), (F::UidAmtRel, 100.0 / a_mean),
        (F::UidSecsSincePrev, (2 * DAY - HOUR - 1) as f64), (F::UidEmails, 2.0), (F::UidDevices, 2.0),
        (F::Card1Count24h, 0.0), (F::Card1Count7d, 5.0), (F::Card1AmtMean, 30.05),
        (F::Card1AmtStd, sample_std(&card_amounts)), (F::Card1Seen, 5.0), (F::Addr1Seen, 3.0), (F::EmailSeen, 2.0),
    ]);
}

#[test]
fn out_of_order_arrival_neither_leaks_nor_loses_records() {
    let s = scenario();
    let sorted = s.run(&[0, 1, 2, 3, 4, 5]);
    // B's first (t0 + 30 min) arrives after A's second (t0 + 1 h), as a transaction waiting in the join would.
    let late = s.run(&[0, 2, 1, 3, 4, 5]);
    // The later record processed first did not leak into the late one ...
    check_all_equal(&late[1], &sorted[1]);
    // ... the record processed earlier could not see it (card1 count 1 instead of 2) ...
    check(&late[2], &[(F::Card1Count1h, 1.0), (F::Card1AmtMean, 10.0), (F::Card1Seen, 1.0), (F::UidCount1h, 1.0)]);
    // ... and every record processed after it counts it.
    for i in 3..6 {
        check_all_equal(&late[i], &sorted[i]);
    }
    // Fully reversed within the first hour: each record sees nothing of its later-time predecessors.
    let reversed = s.run(&[4, 3, 2, 1, 0, 5]);
    check(&reversed[0], &[(F::UidCount30d, 0.0), (F::Card1Seen, 0.0), (F::Addr1Seen, 0.0), (F::EmailSeen, 0.0)]);
    check(&reversed[2], &[(F::UidCount30d, 0.0), (F::UidEmails, 0.0), (F::Card1Seen, 0.0)]);
    check_all_equal(&reversed[5], &sorted[5]);
}

#[test]
fn window_bounds_include_exactly_the_window_age_and_exclude_one_second_more() {
    let mut state = ClientFeatures::default();
    let now = T0 + 40 * DAY;
    let ages = [HOUR, HOUR + 1, DAY, DAY + 1, 7 * DAY, 7 * DAY + 1, 30 * DAY, 30 * DAY + 1];
    let client = |id, dt: i64, amt| tx(id, dt, amt, 7.0, 100.0, 0.0, None);
    // The 30 d + 1 s old one has a huge amount: it must stay out of the mean.
    for (i, &age) in ages.iter().enumerate().rev() {
        let amount = if age == 30 * DAY + 1 { 1e6 } else { 1.0 + i as f64 };
        // D1 = days since day 0, so every transaction has the same first-seen day.
        let mut t = client(i as i64, now - age, amount);
        t.row.nums[Table::Transaction.catalog().col("D1").slot] = ((now - age) / DAY) as f64;
        observe(&mut state, &t, None);
    }
    let mut t = client(99, now, 1.0);
    t.row.nums[Table::Transaction.catalog().col("D1").slot] = (now / DAY) as f64;
    let out = observe(&mut state, &t, None);
    let mean = (1..=7).sum::<i32>() as f64 / 7.0;
    #[rustfmt::skip]
    check(&out, &[
        (F::UidCount1h, 1.0), (F::UidCount24h, 3.0), (F::UidCount7d, 5.0), (F::UidCount30d, 7.0),
        (F::Card1Count1h, 1.0), (F::Card1Count24h, 3.0), (F::Card1Count7d, 5.0), (F::Card1Count30d, 7.0),
        (F::UidAmtMean, mean), (F::Card1AmtMean, mean), (F::UidSecsSincePrev, HOUR as f64),
        (F::Card1Seen, 8.0), (F::Addr1Seen, 8.0),
    ]);
}

#[test]
fn state_is_forgotten_after_the_ttl_and_pruned_entries_still_count() {
    let mut state = ClientFeatures::default();
    let t = |id, dt: i64| tx(id, dt, 10.0, 55.0, 200.0, (dt / DAY) as f64 - 10.0, Some("aol.com"));
    observe(&mut state, &t(1, T0), None);
    assert_eq!(state.entities(), 4);
    // 30 d + 2 h later: past every window (and pruned), but still the previous transaction and still counted.
    let gap = 30 * DAY + 2 * HOUR;
    let out = observe(&mut state, &t(2, T0 + gap), None);
    #[rustfmt::skip]
    check(&out, &[
        (F::UidCount30d, 0.0), (F::UidAmtMean, NAN), (F::UidSecsSincePrev, gap as f64), (F::UidEmails, 1.0),
        (F::Card1Count30d, 0.0), (F::Card1SecsSincePrev, gap as f64), (F::Card1Seen, 1.0),
        (F::Addr1Seen, 1.0), (F::EmailSeen, 1.0),
    ]);
    // An unrelated record moves the clock 31 d + 1 s past the client's newest: the sweep forgets it.
    observe(&mut state, &tx(3, T0 + gap + 31 * DAY + 1, 5.0, 66.0, 201.0, 0.0, None), None);
    assert_eq!(state.entities(), 3, "only the new record's uid, card1 and addr1 remain");
    let out = observe(&mut state, &t(4, T0 + gap + 31 * DAY + 2), None);
    #[rustfmt::skip]
    check(&out, &[
        (F::UidSecsSincePrev, NAN), (F::UidEmails, 0.0), (F::Card1SecsSincePrev, NAN), (F::Card1Seen, 0.0),
        (F::Addr1Seen, 0.0), (F::EmailSeen, 0.0),
    ]);
}

#[test]
fn a_short_ttl_is_rejected() {
    let config = ClientConfig { ttl: Duration::from_secs(7 * 86_400), ..ClientConfig::default() };
    let err = ClientFeatures::new(config).unwrap_err();
    assert!(matches!(err, ClientConfigError::TtlTooShort { .. }), "{err}");
    assert!(ClientFeatures::new(ClientConfig::default()).is_ok());
}

#[test]
fn missing_card1_means_no_client_while_missing_addr1_or_d1_are_key_values() {
    let mut state = ClientFeatures::default();
    // No card1: uid and card1 features missing; addr1 and e-mail still counted; stateless ones still computed.
    let out = observe(&mut state, &tx(1, T0, 12.5, NAN, 300.0, 0.0, Some("gmail.com")), None);
    for f in ClientFeature::all().take(F::Card1Seen.index() + 1) {
        assert!(out[f.index()].is_nan(), "{} should be missing", f.name());
    }
    check(&out, &[(F::Addr1Seen, 0.0), (F::EmailSeen, 0.0), (F::Cents, 0.5)]);
    let out = observe(&mut state, &tx(2, T0 + 1, 1.0, NAN, 300.0, 0.0, Some("gmail.com")), None);
    check(&out, &[(F::Addr1Seen, 1.0), (F::EmailSeen, 1.0), (F::UidCount1h, NAN)]);

    // Missing addr1: records missing it share the key value; addr1_seen is missing.
    let no_addr = |id, dt| tx(id, dt, 3.0, 42.0, NAN, 1.0, None);
    observe(&mut state, &no_addr(3, T0 + 10), None);
    let out = observe(&mut state, &no_addr(4, T0 + 20), None);
    check(&out, &[(F::UidCount1h, 1.0), (F::UidSecsSincePrev, 10.0), (F::Addr1Seen, NAN), (F::Card1Seen, 1.0)]);
    // A present addr1 is a different client on the same card.
    let out = observe(&mut state, &tx(5, T0 + 30, 3.0, 42.0, 300.0, 1.0, None), None);
    check(&out, &[(F::UidCount1h, 0.0), (F::Card1Count1h, 2.0), (F::Addr1Seen, 2.0)]);

    // Missing D1: likewise one key value, apart from any first-seen day.
    let no_d1 = |id, dt| tx(id, dt, 3.0, 43.0, 300.0, NAN, None);
    observe(&mut state, &no_d1(6, T0 + 40), None);
    let out = observe(&mut state, &no_d1(7, T0 + 50), None);
    check(&out, &[(F::UidCount1h, 1.0), (F::UidSecsSincePrev, 10.0)]);
    let out = observe(&mut state, &tx(8, T0 + 60, 3.0, 43.0, 300.0, 1.0, None), None);
    check(&out, &[(F::UidCount1h, 0.0), (F::Card1Count1h, 2.0)]);

    // A missing amount counts as a transaction but not in amount statistics; cents and rel are missing.
    let out = observe(&mut state, &tx(9, T0 + 70, NAN, 43.0, 300.0, 1.0, None), None);
    check(&out, &[(F::Cents, NAN), (F::UidAmtRel, NAN), (F::UidAmtMean, 3.0)]);
    let out = observe(&mut state, &tx(10, T0 + 80, 6.0, 43.0, 300.0, 1.0, None), None);
    check(&out, &[(F::UidCount1h, 2.0), (F::UidAmtMean, 3.0), (F::UidAmtRel, 2.0), (F::UidAmtStd, NAN)]);
}

#[test]
fn state_stays_bounded_on_an_endless_stream_of_new_keys() {
    let mut state = ClientFeatures::default();
    let cat = Table::Transaction.catalog();
    let mut t = tx(0, T0, 1.0, 0.0, 0.0, 0.0, None);
    let (card1, addr1, d1, email) =
        (cat.col("card1").slot, cat.col("addr1").slot, cat.col("D1").slot, cat.col("P_emaildomain").slot);
    let per_day = 600;
    let days = 400;
    let (mut max_entities, mut max_entries) = (0, 0);
    let mut out = [0.0; ClientFeature::COUNT];
    for i in 0..per_day * days {
        let dt = T0 + i * DAY / per_day;
        // Every key is used for a few hours of traffic, then never again.
        t.row.nums[ID_SLOT] = i as f64;
        t.row.nums[DT_SLOT] = dt as f64;
        t.row.nums[card1] = (i / 100) as f64;
        t.row.nums[addr1] = (i / 300) as f64;
        t.row.nums[d1] = (i % 3) as f64;
        t.row.strs[email] = Some(format!("d{}.com", i / 50).into());
        state.observe(&FeatureRow::new(&t, None), &mut out);
        if i % 1000 == 0 {
            max_entities = max_entities.max(state.entities());
            max_entries = max_entries.max(state.state_entries());
        }
    }
    // Keys alive within one TTL plus one sweep interval (~39 days = 23,400 records): ~234 card1, ~702 uid, ~78
    // addr1 and ~468 e-mail values (measured: at most 1,473 entities). Entries: each of those records in its uid and
    // card1 state, plus up to an hour of records (25) per addr1 and e-mail value (measured: at most 61,888).
    // Unbounded state would hold 2,400 card1 values and 480,000 entries by the end.
    assert!(max_entities < 2 * (234 + 702 + 78 + 468), "{max_entities} entities");
    assert!(max_entries < 3 * 23_400, "{max_entries} entries");
    let last_dt = T0 + (per_day * days - 1) * DAY / per_day;
    assert_eq!(state.clock(), Some(EventTime::from_transaction_dt(last_dt)));
}

#[test]
fn a_restored_snapshot_computes_bit_for_bit_what_the_original_would_have() {
    // Generated traffic: cards shared by several clients, amounts, e-mails, devices, some records out of order.
    let mut g = fraudstream_data::rng::SplitMix64::new(7);
    let emails = ["gmail.com", "yahoo.com", "hotmail.com", "anonymous.com"];
    let rows: Vec<(Transaction, Option<Identity>)> = (0..6_000i64)
        .map(|i| {
            let dt = T0 + i * 600 - (g.next_u64() % 300) as i64;
            let card = (1000 + g.next_u64() % 40) as f64;
            let addr = if g.next_u64().is_multiple_of(5) { NAN } else { (200 + g.next_u64() % 6) as f64 };
            let amount = if g.next_u64().is_multiple_of(7) { NAN } else { (g.next_u64() % 50_000) as f64 / 100.0 };
            let email = (!g.next_u64().is_multiple_of(3)).then(|| emails[(g.next_u64() % 4) as usize]);
            let t = tx(i, dt, amount, card, addr, (g.next_u64() % 30) as f64, email);
            let id =
                g.next_u64().is_multiple_of(4).then(|| identity(&t, ["iOS", "Windows", "MacOS"][(i % 3) as usize]));
            (t, id)
        })
        .collect();
    let mut original = ClientFeatures::default();
    for (t, id) in &rows[..4_000] {
        observe(&mut original, t, id.as_ref());
    }
    let mut bytes = Vec::new();
    original.snapshot(&mut bytes);
    let mut restored = ClientFeatures::default();
    restored.restore(&bytes).expect("restore");
    assert_eq!((restored.entities(), restored.state_entries()), (original.entities(), original.state_entries()));
    for (t, id) in &rows[4_000..] {
        let (a, b) = (observe(&mut original, t, id.as_ref()), observe(&mut restored, t, id.as_ref()));
        let bits = |o: &[f64; ClientFeature::COUNT]| o.map(f64::to_bits);
        assert_eq!(bits(&a), bits(&b), "TransactionID {}", t.id());
    }
}

#[test]
fn a_snapshot_of_other_settings_or_damaged_bytes_is_refused() {
    let mut bytes = Vec::new();
    let mut state = ClientFeatures::default();
    observe(&mut state, &tx(1, T0, 10.0, 1000.0, 200.0, 0.0, Some("gmail.com")), None);
    state.snapshot(&mut bytes);
    let other = ClientConfig { ttl: Duration::from_secs(40 * 86_400), ..ClientConfig::default() };
    let err = ClientFeatures::new(other).expect("config").restore(&bytes).expect_err("other settings");
    assert!(matches!(err, SnapshotError::Settings { .. }), "{err}");
    for cut in [0, 3, 5, 20, bytes.len() - 1] {
        let err = ClientFeatures::default().restore(&bytes[..cut]).expect_err("truncated");
        assert!(matches!(err, SnapshotError::Truncated { .. } | SnapshotError::NotASnapshot(_)), "{cut}: {err}");
    }
    let mut huge_count = bytes.clone();
    huge_count[37..45].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(ClientFeatures::default().restore(&huge_count).is_err(), "a corrupt count is an error, not an allocation");
}
