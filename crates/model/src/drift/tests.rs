//! The drift module as a specification: synthetic streams with known shifts.

use fraudstream_data::rng::SplitMix64;

use super::*;

/// A synthetic scored row: three numeric inputs (continuous, a discrete count, half missing), two categorical
/// inputs, and a score that depends on the count only.
#[derive(Debug, Clone)]
struct Row {
    amount: f64,
    count: f64,
    dist: f64,
    product: &'static str,
    email: &'static str,
    score: f64,
}

const PRODUCTS: [&str; 5] = ["W", "C", "R", "H", "S"];
const EMAILS: [&str; 8] =
    ["gmail.com", "yahoo.com", "hotmail.com", "anonymous.com", "aol.com", "outlook.com", "icloud.com", "mail.com"];

/// How a generated stream differs from the reference one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shift {
    None,
    /// Amounts ×3 and product C four times as frequent.
    Major,
    /// Amounts ×1.3.
    Moderate,
}

fn pick<'a>(g: &mut SplitMix64, items: &[&'a str], weights: &[f64]) -> &'a str {
    let total: f64 = weights.iter().sum();
    let mut u = g.unit() * total;
    for (item, w) in items.iter().zip(weights) {
        if u < *w {
            return item;
        }
        u -= w;
    }
    items[items.len() - 1]
}

fn row(g: &mut SplitMix64, shift: Shift) -> Row {
    let normal = {
        let (u1, u2) = (1.0 - g.unit(), g.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let scale = match shift {
        Shift::None => 1.0,
        Shift::Major => 3.0,
        Shift::Moderate => 1.3,
    };
    let amount = scale * 70.0 * (0.9 * normal).exp();
    let count = if g.unit() < 0.7 { 0.0 } else { 1.0 + (g.next_u64() % 5) as f64 };
    let dist = if g.unit() < 0.5 { f64::NAN } else { (g.unit() * 500.0).floor() };
    let product_weights =
        if shift == Shift::Major { [0.45, 0.45, 0.04, 0.04, 0.02] } else { [0.75, 0.11, 0.07, 0.05, 0.02] };
    let product = pick(g, &PRODUCTS, &product_weights);
    let email = if g.unit() < 0.15 { "" } else { pick(g, &EMAILS, &[40.0, 17.0, 8.0, 6.0, 5.0, 3.0, 2.0, 1.0]) };
    let score = (0.01 + 0.05 * count + 0.02 * g.unit()).min(1.0);
    Row { amount, count, dist, product, email, score }
}

fn rows(seed: u64, n: usize, shift: Shift) -> Vec<Row> {
    let mut g = SplitMix64::new(seed);
    (0..n).map(|_| row(&mut g, shift)).collect()
}

fn specs() -> Vec<InputSpec> {
    vec![
        InputSpec::numeric("amount"),
        InputSpec::numeric("count"),
        InputSpec::numeric("dist"),
        InputSpec::categorical("product"),
        InputSpec::categorical("email"),
    ]
}

fn baseline_of(rows: &[Row]) -> Baseline {
    let amount: Vec<f64> = rows.iter().map(|r| r.amount).collect();
    let count: Vec<f64> = rows.iter().map(|r| r.count).collect();
    let dist: Vec<f64> = rows.iter().map(|r| r.dist).collect();
    let product: Vec<&str> = rows.iter().map(|r| r.product).collect();
    let email: Vec<&str> = rows.iter().map(|r| r.email).collect();
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let samples = [
        InputSample { name: "amount", values: SampleValues::Numeric(&amount) },
        InputSample { name: "count", values: SampleValues::Numeric(&count) },
        InputSample { name: "dist", values: SampleValues::Numeric(&dist) },
        InputSample { name: "product", values: SampleValues::Categorical(&product) },
        InputSample { name: "email", values: SampleValues::Categorical(&email) },
    ];
    Baseline::from_samples(&samples, &scores, &BaselineConfig::default()).expect("baseline")
}

fn feed(m: &mut DriftMonitor, rows: &[Row]) {
    for r in rows {
        let mut o = m.row();
        o.num(0, r.amount);
        o.num(1, r.count);
        o.num(2, r.dist);
        o.str(3, r.product);
        o.str(4, r.email);
        o.finish(r.score);
    }
}

fn psi_by_name(report: &DriftReport) -> std::collections::HashMap<String, f64> {
    report.inputs.iter().map(|d| (d.name.clone(), d.psi)).collect()
}

fn config(window: usize) -> DriftConfig {
    DriftConfig { window, ..DriftConfig::default() }
}

#[test]
fn a_shift_in_one_numeric_and_one_categorical_input_drifts_exactly_those() {
    let reference = rows(1, 20_000, Shift::None);
    let mut m = DriftMonitor::new(&specs(), Some(baseline_of(&reference)), config(10_000)).expect("monitor");
    // The stream: first half like the reference, second half shifted; the window ends up on the shifted half.
    feed(&mut m, &rows(2, 10_000, Shift::None));
    let stable = psi_by_name(&m.report());
    assert!(stable.values().all(|&p| p < 0.1), "{stable:?}");
    feed(&mut m, &rows(3, 10_000, Shift::Major));
    let report = m.report();
    let psi = psi_by_name(&report);
    assert!(psi["amount"] > 0.2 && psi["product"] > 0.2, "{psi:?}");
    for stable in ["count", "dist", "email"] {
        assert!(psi[stable] < 0.1, "{stable}: {psi:?}");
    }
    let score = report.score.expect("score drift");
    assert!(score.psi < 0.1, "the score depends on `count` only: {score:?}");
    // Sorted, highest first: the two shifted inputs lead.
    let top: Vec<&str> = report.inputs.iter().take(2).map(|d| d.name.as_str()).collect();
    assert!(top.contains(&"amount") && top.contains(&"product"), "{top:?}");
    assert!(report.inputs.windows(2).all(|w| w[0].psi >= w[1].psi));
    assert_eq!((report.observations, report.window, report.total_observed), (10_000, 10_000, 20_000));
    // Exactly the two shifted inputs alert, once.
    let alerts = m.check();
    let mut names: Vec<Monitored> = alerts.iter().map(|a| a.subject.clone()).collect();
    names.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(names, [Monitored::Input("amount".into()), Monitored::Input("product".into())]);
    assert_eq!(m.report().alerting().count(), 2);
}

#[test]
fn the_window_holds_exactly_the_last_n_rows() {
    let reference = rows(4, 5_000, Shift::None);
    let baseline = baseline_of(&reference);
    let mut m = DriftMonitor::new(&specs(), Some(baseline.clone()), config(1_000)).expect("monitor");
    feed(&mut m, &rows(5, 2_500, Shift::Major));
    let last = rows(6, 1_000, Shift::None);
    feed(&mut m, &last);
    // The PSI of the window equals the PSI of those 1,000 rows binned on their own.
    let amount = &baseline.inputs[0];
    let Bins::Numeric { edges } = &amount.bins else { panic!("numeric") };
    let mut counts = vec![0.0; amount.proportions.len()];
    for r in &last {
        counts[Bins::numeric_bin(edges, r.amount)] += 1.0 / 1_000.0;
    }
    let expected = psi(&amount.proportions, &counts);
    let got = m.psi(0).expect("psi");
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    assert_eq!(m.observations(), 1_000);
}

#[test]
fn an_alert_fires_once_per_crossing_and_rearms_below_the_hysteresis_level() {
    let reference = rows(7, 20_000, Shift::None);
    let cfg = DriftConfig { window: 2_000, alert_psi: 0.25, rearm_psi: 0.05, ..DriftConfig::default() };
    let mut m = DriftMonitor::new(&specs(), Some(baseline_of(&reference)), cfg).expect("monitor");
    let amount_alerts =
        |alerts: &[DriftAlert]| alerts.iter().filter(|a| a.subject == Monitored::Input("amount".into())).count();

    feed(&mut m, &rows(8, 1_000, Shift::Major));
    assert!(m.check().is_empty(), "no alert before the window is full");
    feed(&mut m, &rows(9, 1_000, Shift::Major));
    assert_eq!(amount_alerts(&m.check()), 1, "crossing");
    feed(&mut m, &rows(10, 2_000, Shift::Major));
    assert_eq!(amount_alerts(&m.check()), 0, "still above: no second alert");

    // Between the re-arm and alert levels: still alerting, no new alert.
    feed(&mut m, &rows(11, 2_000, Shift::Moderate));
    let moderate = m.psi(0).expect("psi");
    assert!(moderate > 0.05 && moderate < 0.25, "the moderate shift must land in the hysteresis band: {moderate}");
    assert!(m.check().is_empty());
    assert!(m.report().inputs.iter().any(|d| d.name == "amount" && d.alerting));

    // Back to normal: re-armed, silently.
    feed(&mut m, &rows(12, 2_000, Shift::None));
    assert!(m.check().is_empty());
    assert_eq!(m.report().alerting().count(), 0);

    // A new crossing alerts again.
    feed(&mut m, &rows(13, 2_000, Shift::Major));
    assert_eq!(amount_alerts(&m.check()), 1);
}

#[test]
fn without_a_baseline_the_first_window_becomes_it() {
    let mut m = DriftMonitor::new(&specs(), None, config(1_000)).expect("monitor");
    assert_eq!(m.tracked_inputs(), [0, 1, 2, 3, 4]);
    feed(&mut m, &rows(14, 999, Shift::None));
    let r = m.report();
    assert_eq!(r.baseline, BaselineSource::Collecting { observed: 999, needed: 1_000 });
    assert!(r.inputs.is_empty() && r.score.is_none() && m.baseline().is_none());
    assert!(m.check().is_empty());

    feed(&mut m, &rows(15, 1, Shift::None));
    let baseline = m.baseline().expect("built from the first window").clone();
    assert_eq!(baseline.rows, 1_000);
    let names: Vec<&str> = baseline.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["amount", "count", "dist", "product", "email"]);
    assert!(matches!(baseline.inputs[3].bins, Bins::Categorical { .. }));
    assert_eq!(m.report().baseline, BaselineSource::FirstWindow);
    assert_eq!(m.observations(), 0, "the window starts after the baseline's rows");

    feed(&mut m, &rows(16, 1_000, Shift::None));
    let stable = psi_by_name(&m.report());
    assert!(stable.values().all(|&p| p < 0.1), "{stable:?}");
    feed(&mut m, &rows(17, 1_000, Shift::Major));
    let shifted = psi_by_name(&m.report());
    assert!(shifted["amount"] > 0.2 && shifted["product"] > 0.2, "{shifted:?}");
    assert_eq!(m.check().len(), 2);
}

#[test]
fn quantile_bins_split_continuous_values_evenly_and_give_repeated_values_one_bin() {
    let uniform: Vec<f64> = (0..1_000).map(f64::from).collect();
    let b = InputBaseline::numeric("u", &uniform, 10).expect("bins");
    let Bins::Numeric { edges } = &b.bins else { panic!("numeric") };
    assert_eq!(edges, &[99.5, 199.5, 299.5, 399.5, 499.5, 599.5, 699.5, 799.5, 899.5]);
    assert!(b.proportions[..10].iter().all(|&p| p == 0.1) && b.proportions[10] == 0.0);

    // 70 % zeros, then 1..=3, and missing values: one bin for the zeros, edges between the values; 3 holds less
    // than a tenth of the rows, so no cut falls on it and it shares the top bin with the 2s.
    let mut counts = vec![0.0; 700];
    counts.extend([1.0; 100]);
    counts.extend([2.0; 100]);
    counts.extend([3.0; 50]);
    counts.extend([f64::NAN; 50]);
    let b = InputBaseline::numeric("c", &counts, 10).expect("bins");
    let Bins::Numeric { edges } = &b.bins else { panic!("numeric") };
    assert_eq!(edges, &[0.5, 1.5]);
    assert_eq!(b.proportions, [0.7, 0.1, 0.15, 0.05]);

    // One value only: a single value bin.
    let b = InputBaseline::numeric("k", &[5.0; 10], 10).expect("bins");
    assert_eq!(b.bins.count(), 2);
    assert!(InputBaseline::numeric("e", &[], 10).is_err());
}

#[test]
fn categorical_bins_keep_the_top_categories_then_other_then_missing() {
    let values = ["b", "a", "a", "c", "", "b", "a", "d", "c", "b"];
    let b = InputBaseline::categorical("x", &values, 2).expect("bins");
    // a and b both occur 3 times: ties by name.
    assert_eq!(b.bins, Bins::Categorical { categories: vec!["a".into(), "b".into()] });
    assert_eq!(b.proportions, [0.3, 0.3, 0.3, 0.1]);
}

#[test]
fn psi_is_zero_for_equal_distributions_and_finite_for_empty_bins() {
    assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
    // Hand-computed: (0.6-0.5)ln(0.6/0.5) + (0.4-0.5)ln(0.4/0.5).
    let want = 0.1 * (1.2f64).ln() - 0.1 * (0.8f64).ln();
    assert!((psi(&[0.5, 0.5], &[0.6, 0.4]) - want).abs() < 1e-15);
    let empty = psi(&[0.95, 0.05], &[1.0, 0.0]);
    assert!(empty.is_finite() && empty > 0.2, "{empty}");
}

#[test]
fn a_baseline_round_trips_through_json_and_is_checked_when_used() {
    let baseline = baseline_of(&rows(18, 3_000, Shift::None));
    let json = serde_json::to_string(&baseline).expect("json");
    let back: Baseline = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, baseline);
    assert!(json.contains(r#""kind":"numeric""#) && json.contains(r#""kind":"categorical""#), "{json}");

    let mut broken = baseline.clone();
    broken.inputs[0].proportions.pop();
    let err = DriftMonitor::new(&specs(), Some(broken), DriftConfig::default()).unwrap_err();
    assert!(err.to_string().contains("baseline of `amount` is inconsistent"), "{err}");

    let other_model = [InputSpec::numeric("amount"), InputSpec::numeric("count")];
    let err = DriftMonitor::new(&other_model, Some(baseline.clone()), DriftConfig::default()).unwrap_err();
    assert!(matches!(&err, DriftError::UnknownInput { name, .. } if name == "dist"), "{err}");

    let mut kinds = specs();
    kinds[3].kind = InputKind::Numeric;
    let err = DriftMonitor::new(&kinds, Some(baseline), DriftConfig::default()).unwrap_err();
    assert!(err.to_string().contains("product"), "{err}");

    let bad = DriftConfig { rearm_psi: 0.3, ..DriftConfig::default() };
    assert!(DriftMonitor::new(&specs(), None, bad).is_err());
    for window in [0, MAX_WINDOW + 1] {
        let bad = DriftConfig { window, ..DriftConfig::default() };
        assert!(matches!(DriftMonitor::new(&specs(), None, bad), Err(DriftError::BadConfig(_))));
    }
}

#[test]
fn untracked_inputs_and_values_of_the_wrong_kind_are_ignored() {
    // A baseline of two of the five inputs: the other three are never looked at.
    let reference = rows(19, 2_000, Shift::None);
    let mut b = baseline_of(&reference);
    b.inputs.retain(|i| i.name == "amount" || i.name == "product");
    let mut m = DriftMonitor::new(&specs(), Some(b), config(100)).expect("monitor");
    assert_eq!(m.tracked_inputs(), [0, 3]);
    let mut o = m.row();
    o.num(1, 1.0);
    o.str(0, "not a number");
    o.num(3, 2.0);
    o.num(99, 1.0);
    o.finish(0.5);
    assert_eq!(m.observations(), 1);
    assert_eq!(m.psi(1), None);
    // Both tracked inputs counted as missing: a bin the baseline holds (almost) nothing of.
    assert!(m.psi(0).expect("psi") > 1.0);
}

/// A monitor restored from a state saved mid-stream (through JSON) and fed the same rows after it reports exactly
/// what the monitor that never stopped reports — collecting its first window, right after freezing it, with a full
/// window that wrapped, and with a `model.json`-style baseline.
#[test]
fn a_state_saved_and_restored_through_json_goes_on_exactly_as_the_monitor_that_never_stopped() {
    let stream = [rows(41, 700, Shift::None), rows(42, 900, Shift::Major)].concat();
    let provided = baseline_of(&rows(40, 2_000, Shift::None));
    for (baseline, cut) in [(None, 150), (None, 300), (None, 1_100), (Some(provided.clone()), 1_250)] {
        let mut whole = DriftMonitor::new(&specs(), baseline.clone(), config(300)).unwrap();
        let mut before = DriftMonitor::new(&specs(), baseline.clone(), config(300)).unwrap();
        feed(&mut whole, &stream[..cut]);
        feed(&mut before, &stream[..cut]);
        whole.check();
        before.check();
        let saved = serde_json::to_string(&before.state()).unwrap();
        let mut after = DriftMonitor::new(&specs(), baseline.clone(), config(300)).unwrap();
        after.restore(serde_json::from_str(&saved).unwrap()).unwrap();
        assert_eq!(after.state(), before.state(), "cut at {cut}");
        feed(&mut whole, &stream[cut..]);
        feed(&mut after, &stream[cut..]);
        assert_eq!(after.check(), whole.check(), "cut at {cut}");
        assert_eq!(after.report(), whole.report(), "cut at {cut}");
        assert_eq!(after.state(), whole.state(), "cut at {cut}");
    }
    // A state does not go into a monitor over another baseline, nor one of other inputs; the monitor is unchanged.
    let mut other = DriftMonitor::new(&specs(), Some(baseline_of(&rows(43, 500, Shift::Major))), config(300)).unwrap();
    let mut collected = DriftMonitor::new(&specs(), Some(provided), config(300)).unwrap();
    feed(&mut collected, &stream[..400]);
    let untouched = other.state();
    assert!(other.restore(collected.state()).is_err());
    assert_eq!(other.state(), untouched);
    let mut fewer = DriftMonitor::new(&specs()[..3], None, config(300)).unwrap();
    let mut first = DriftMonitor::new(&specs(), None, config(300)).unwrap();
    feed(&mut first, &stream[..100]);
    assert!(fewer.restore(first.state()).is_err());
}
