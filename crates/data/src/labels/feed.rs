//! A realistic labels feed generated from a transactions file's `isFraud`.
//!
//! How labels reach a fraud system, and the distributions used here (all in [`LabelFeedConfig`]):
//! - **Chargebacks** confirm most frauds. The cardholder notices the payment on a statement, disputes it, the
//!   issuer files the chargeback: weeks, sometimes months. Card networks give the cardholder about 120 days from
//!   the transaction to dispute (Visa's limit), and practitioners report chargebacks typically arriving 30 to 90
//!   days after the payment. Delays are log-normal (right-skewed, like most reporting delays) with a median of
//!   28 days and log-space σ 0.6 — 10 % of chargebacks within 13 days, 90 % within 60, 97.5 % within 91 — clamped
//!   to [1, 120] days (0.8 % of draws hit the 120-day cap: disputes filed at the deadline).
//! - **Unconfirmed fraud**: 10 % of frauds never produce a chargeback (the cardholder never notices, the card was
//!   a prepaid or synthetic identity). A production system cannot tell them from legitimate payments: like those
//!   they are labelled legitimate once the dispute window closes. That label noise is deliberate — it is what a
//!   model monitored on production labels sees. Turn it off with `unconfirmed_as_legit = false` (then they get no
//!   label at all).
//! - **No chargeback = legitimate**: legitimate payments are labelled non-fraud (source `generated`) when the
//!   120-day dispute window has closed, since only then is the absence of a dispute final. All of them by default
//!   (`legit_sample = 1.0`), so precision measured on the feed is unbiased; a smaller sample cuts the feed's volume
//!   without moving ROC AUC in expectation (AUC does not depend on the class ratio) but inflates precision.
//! - **Analyst reviews**: a uniform 2 % sample of all transactions is reviewed 1 to 3 days after the payment
//!   (uniform), which labels it correctly (source `analyst`) and first. Online ROC AUC needs both classes in its
//!   window; with chargebacks weeks late and legitimate labels four months late, these early labels of both
//!   classes are what makes online quality measurable in the first months of a stream.
//!
//! Each transaction gets at most one label, from the first source that applies. Draws come from a SplitMix64
//! stream keyed by (seed, TransactionID), so a transaction's label does not depend on which other rows the file
//! holds or in which order. Labels are written sorted by label time (ties by TransactionID).

use std::path::Path;

use super::csv::{LabelTimeFormat, LabelWriter};
use super::{Label, LabelSource};
use crate::csv_table::TableReader;
use crate::error::DataError;
use crate::event_time::EventTime;
use crate::record::{Row, DT_SLOT, ID_SLOT, IS_FRAUD_SLOT};
use crate::rng::{splitmix64, SplitMix64};
use crate::Table;

const DAY_SECS: f64 = 86_400.0;

/// The distributions of [`generate_labels`]; the defaults are documented in the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFeedConfig {
    /// Seed of every draw.
    pub seed: u64,
    /// Median chargeback delay in days (28).
    pub chargeback_median_days: f64,
    /// Log-space standard deviation of the chargeback delay (0.6).
    pub chargeback_sigma: f64,
    /// Shortest chargeback delay in days (1).
    pub min_delay_days: f64,
    /// Longest chargeback delay in days: the dispute window (120).
    pub max_delay_days: f64,
    /// Share of frauds never confirmed by a chargeback (0.10).
    pub unconfirmed_fraud_share: f64,
    /// Whether unconfirmed frauds are labelled legitimate at the horizon, as production would (true).
    pub unconfirmed_as_legit: bool,
    /// Days after a payment without chargeback when it is labelled legitimate (120).
    pub legit_horizon_days: f64,
    /// Share of legitimate payments (and unconfirmed frauds) that get that label (1.0).
    pub legit_sample: f64,
    /// Share of all transactions an analyst reviews early (0.02).
    pub review_share: f64,
    /// Review delay, uniform between these, in days (1 to 3).
    pub review_min_days: f64,
    /// See `review_min_days`.
    pub review_max_days: f64,
    /// Malformed transaction rows skipped before giving up (as the transaction reader's `max_bad_rows`).
    pub max_bad_rows: u64,
    /// How `label_time` is written.
    pub time_format: LabelTimeFormat,
}

impl Default for LabelFeedConfig {
    fn default() -> LabelFeedConfig {
        LabelFeedConfig {
            seed: 42,
            chargeback_median_days: 28.0,
            chargeback_sigma: 0.6,
            min_delay_days: 1.0,
            max_delay_days: 120.0,
            unconfirmed_fraud_share: 0.10,
            unconfirmed_as_legit: true,
            legit_horizon_days: 120.0,
            legit_sample: 1.0,
            review_share: 0.02,
            review_min_days: 1.0,
            review_max_days: 3.0,
            max_bad_rows: 0,
            time_format: LabelTimeFormat::TransactionDt,
        }
    }
}

/// What [`generate_labels`] read and wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelFeedSummary {
    /// Transactions read.
    pub transactions: u64,
    /// Of which fraud (`isFraud = 1`).
    pub frauds: u64,
    /// Transactions without a 0/1 `isFraud` (e.g. Kaggle's test files): skipped.
    pub without_label: u64,
    /// Malformed transaction rows skipped.
    pub bad_rows: u64,
    /// Labels written.
    pub labels: u64,
    /// Labels saying fraud.
    pub fraud_labels: u64,
    /// Labels by source: chargebacks.
    pub chargebacks: u64,
    /// Labels by source: analyst reviews.
    pub analyst: u64,
    /// Labels by source: generated ("no chargeback within the horizon").
    pub generated: u64,
    /// Frauds no chargeback confirmed (and no analyst reviewed).
    pub unconfirmed_frauds: u64,
    /// Frauds labelled legitimate at the horizon (label noise).
    pub frauds_labelled_legit: u64,
    /// Transactions that got no label.
    pub unlabelled: u64,
    /// Median chargeback delay in days, over the chargebacks written.
    pub median_chargeback_days: Option<f64>,
    /// Earliest and latest label time.
    pub first_label: Option<EventTime>,
    /// See `first_label`.
    pub last_label: Option<EventTime>,
}

/// Reads `transactions` (a Kaggle-format transactions CSV: `TransactionID`, `TransactionDT`, `isFraud`) and writes
/// its labels feed to `out` as CSV, sorted by label time. Deterministic per `config.seed`.
pub fn generate_labels(
    transactions: &Path,
    out: &Path,
    config: LabelFeedConfig,
) -> Result<LabelFeedSummary, DataError> {
    let mut reader = TableReader::open(transactions, Table::Transaction, config.max_bad_rows)?;
    reader.project(&["isFraud".to_string()]);
    let mut row = Row::empty(Table::Transaction.catalog());
    let mut summary = LabelFeedSummary::default();
    let mut labels: Vec<Label> = Vec::new();
    let mut chargeback_delays: Vec<i64> = Vec::new();
    while reader.read_row_into(&mut row)? {
        summary.transactions += 1;
        let is_fraud = row.nums[IS_FRAUD_SLOT];
        if is_fraud != 0.0 && is_fraud != 1.0 {
            summary.without_label += 1;
            continue;
        }
        let is_fraud = is_fraud == 1.0;
        let id = row.nums[ID_SLOT] as i64;
        let dt = row.nums[DT_SLOT] as i64;
        summary.frauds += u64::from(is_fraud);
        match draw(&config, id, is_fraud) {
            Outcome::Label { delay_secs, is_fraud: said, source } => {
                let Some(label_dt) = dt.checked_add(delay_secs) else { continue };
                if source == LabelSource::Chargeback {
                    chargeback_delays.push(delay_secs);
                }
                if is_fraud && !said {
                    summary.unconfirmed_frauds += 1;
                    summary.frauds_labelled_legit += 1;
                }
                labels.push(Label {
                    transaction_id: id,
                    is_fraud: said,
                    label_time: EventTime::from_transaction_dt(label_dt),
                    source,
                });
            }
            Outcome::None => {
                summary.unlabelled += 1;
                summary.unconfirmed_frauds += u64::from(is_fraud);
            }
        }
    }
    summary.bad_rows = reader.bad_count();
    labels.sort_unstable_by_key(|l| (l.label_time, l.transaction_id));

    let mut writer = LabelWriter::create(out, config.time_format)?;
    for l in &labels {
        writer.write(l)?;
        summary.fraud_labels += u64::from(l.is_fraud);
        match l.source {
            LabelSource::Chargeback => summary.chargebacks += 1,
            LabelSource::Analyst => summary.analyst += 1,
            _ => summary.generated += 1,
        }
    }
    writer.finish()?;
    summary.labels = labels.len() as u64;
    summary.first_label = labels.first().map(|l| l.label_time);
    summary.last_label = labels.last().map(|l| l.label_time);
    if !chargeback_delays.is_empty() {
        let mid = chargeback_delays.len() / 2;
        let (_, median, _) = chargeback_delays.select_nth_unstable(mid);
        summary.median_chargeback_days = Some(*median as f64 / DAY_SECS);
    }
    Ok(summary)
}

/// What happens to one transaction.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Label { delay_secs: i64, is_fraud: bool, source: LabelSource },
    None,
}

/// The outcome for transaction `id`: every draw comes from its own stream, in a fixed order, so changing one share
/// does not reshuffle the other draws.
fn draw(config: &LabelFeedConfig, id: i64, is_fraud: bool) -> Outcome {
    let mut g = SplitMix64::new(splitmix64(config.seed ^ splitmix64(id as u64)));
    let (review, review_at) = (g.unit(), g.unit());
    let unconfirmed = g.unit();
    let (u1, u2) = (1.0 - g.unit(), g.unit());
    let sampled = g.unit();
    let days = |d: f64| (d * DAY_SECS).round() as i64;

    if review < config.review_share {
        let delay = config.review_min_days + review_at * (config.review_max_days - config.review_min_days);
        return Outcome::Label { delay_secs: days(delay), is_fraud, source: LabelSource::Analyst };
    }
    if is_fraud && unconfirmed >= config.unconfirmed_fraud_share {
        // Box–Muller: a standard normal from two uniforms.
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let delay = (config.chargeback_median_days * (config.chargeback_sigma * z).exp())
            .clamp(config.min_delay_days, config.max_delay_days);
        return Outcome::Label { delay_secs: days(delay), is_fraud: true, source: LabelSource::Chargeback };
    }
    if (is_fraud && !config.unconfirmed_as_legit) || sampled >= config.legit_sample {
        return Outcome::None;
    }
    Outcome::Label { delay_secs: days(config.legit_horizon_days), is_fraud: false, source: LabelSource::Generated }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transactions_outcome_depends_on_its_id_and_the_seed_only() {
        let c = LabelFeedConfig::default();
        assert_eq!(draw(&c, 2_987_000, true), draw(&c, 2_987_000, true));
        let other_seed = LabelFeedConfig { seed: 7, ..c.clone() };
        let differs = (0..50).any(|id| draw(&c, id, true) != draw(&other_seed, id, true));
        assert!(differs);
    }

    #[test]
    fn legitimate_payments_are_labelled_at_the_horizon_unless_reviewed() {
        let c = LabelFeedConfig::default();
        for id in 0..2_000 {
            match draw(&c, id, false) {
                Outcome::Label { delay_secs, is_fraud: false, source: LabelSource::Generated } => {
                    assert_eq!(delay_secs, 120 * 86_400)
                }
                Outcome::Label { delay_secs, is_fraud: false, source: LabelSource::Analyst } => {
                    assert!((86_400..=3 * 86_400).contains(&delay_secs))
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        let none = LabelFeedConfig { legit_sample: 0.0, review_share: 0.0, ..c };
        assert!((0..100).all(|id| draw(&none, id, false) == Outcome::None));
    }
}
