//! Small synthetic datasets for the trainer's tests, built in memory from a fixed-seed generator.

#![allow(dead_code)]

use fraudstream_data::rng::SplitMix64;
use fraudstream_features::{FeatureSet, InputValue};
use fraudstream_train::{Dataset, DatasetBuilder};

/// A tiny deterministic generator (SplitMix64), so test data never depends on another crate's RNG.
pub struct Gen(SplitMix64);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(SplitMix64::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// Feature names used by the synthetic rows: two numeric with missing values, one integer, two categorical.
pub const FEATURES: &[&str] = &["TransactionAmt", "dist1", "card1", "ProductCD", "P_emaildomain"];

/// One synthetic row's values (owned strings).
#[derive(Debug, Clone)]
pub struct Row {
    pub amt: f64,
    pub dist1: f64,
    pub card1: f64,
    pub product: String,
    pub email: String,
}

impl Row {
    pub fn values(&self) -> Vec<InputValue<'_>> {
        vec![
            InputValue::Num(self.amt),
            InputValue::Num(self.dist1),
            InputValue::Num(self.card1),
            InputValue::Str(&self.product),
            InputValue::Str(&self.email),
        ]
    }
}

/// `n` rows: amounts 0-200 (8 % missing), dist1 0-100 (30 % missing), card1 1000-1999, a product code (5 % missing,
/// a rare "Z"), an e-mail domain. Rows after `unseen_after` also use categories never seen before.
pub fn rows(seed: u64, n: usize, unseen_after: usize) -> Vec<Row> {
    let mut g = Gen::new(seed);
    (0..n)
        .map(|i| {
            let amt = if g.unit() < 0.08 { f64::NAN } else { (g.unit() * 20_000.0).round() / 100.0 };
            let dist1 = if g.unit() < 0.3 { f64::NAN } else { (g.unit() * 100.0).floor() };
            let card1 = 1000.0 + (g.next_u64() % 1000) as f64;
            let u = g.unit();
            let product = if u < 0.05 {
                ""
            } else if u < 0.051 {
                "Z"
            } else if i > unseen_after && u < 0.08 {
                "NEW"
            } else {
                g.pick(&["W", "W", "W", "C", "H", "R", "S"])
            };
            let email = if i > unseen_after && g.unit() < 0.05 {
                "never-seen.example"
            } else {
                g.pick(&["gmail.com", "yahoo.com", "hotmail.com", "anonymous.com", ""])
            };
            Row { amt, dist1, card1, product: product.into(), email: email.into() }
        })
        .collect()
}

/// A dataset of `rows` labelled by `label`.
pub fn dataset(rows: &[Row], label: impl Fn(&Row, usize) -> bool) -> Dataset {
    let set = FeatureSet::new(FEATURES).expect("features resolve");
    let mut b = DatasetBuilder::new(&set);
    for (i, r) in rows.iter().enumerate() {
        b.push(&r.values(), label(r, i)).expect("row");
    }
    b.build().expect("dataset")
}

/// Fraud by a rule the trees can learn exactly: large amounts, or product C above 60, or missing dist1 with
/// anonymous e-mail.
pub fn rule(r: &Row) -> bool {
    r.amt > 150.0 || (r.product == "C" && r.amt > 60.0) || (r.dist1.is_nan() && r.email == "anonymous.com")
}

/// The rule with `noise` of labels flipped (row-keyed, so it is stable).
pub fn noisy_rule(noise: f64, seed: u64) -> impl Fn(&Row, usize) -> bool {
    move |r, i| {
        let mut g = Gen::new(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        rule(r) ^ (g.unit() < noise)
    }
}
