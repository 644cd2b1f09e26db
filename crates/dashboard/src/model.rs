//! What the job hands the dashboard: plain serde structs with public fields, so the job fills them from whatever
//! counters it keeps and the browser receives them as JSON without a translation layer in between.

use serde::{Deserialize, Serialize};

/// Fixed facts about the run, shown in the page header. They never change during a run, so they are given once to
/// [`crate::Dashboard::new`] instead of being repeated in every snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardInfo {
    /// Page title, e.g. `fraudstream demo`.
    pub title: String,
    /// Model name as the job loaded it (file stem or registry name).
    pub model_name: String,
    /// Model version label; free text because file-loaded models have no registry version.
    pub model_version: String,
    /// Alert threshold on the score; the page marks it on the score histogram.
    pub threshold: f64,
}

/// The job's numbers at one moment, sent about once per second. Counters are cumulative since the start of the
/// run and rates/latencies are "current" (the job decides the window), so a browser that connects late or misses
/// updates still shows the right totals.
///
/// Floats that are NaN or infinite are sent as JSON `null` and shown as "—".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Seconds since the job started; the x axis of the sparklines.
    pub elapsed_seconds: f64,
    /// Transactions read from the source (before the join).
    pub transactions_in: u64,
    /// Transactions that went through the model.
    pub scored: u64,
    /// Scored transactions at or above the threshold.
    pub alerts: u64,
    /// Inputs that could not be used (bad rows, schema errors, late records).
    pub dead_letters: u64,
    /// Current throughput in scored transactions per second.
    pub throughput_tps: f64,
    /// Arrival → score latency, median, in milliseconds.
    pub latency_p50_ms: f64,
    /// Arrival → score latency, 99th percentile, in milliseconds.
    pub latency_p99_ms: f64,
    /// Arrival → score latency, maximum over the job's window, in milliseconds.
    pub latency_max_ms: f64,
    /// How far the watermark trails the newest event time seen, in seconds of event time.
    pub watermark_lag_seconds: f64,
    /// Counts of scores in equal-width buckets over [0, 1] (bucket `i` covers `[i/n, (i+1)/n)`, the last one
    /// includes 1.0). Any number of buckets works; 20 is what the page is laid out for.
    pub score_histogram: Vec<u64>,
    /// Online model quality from delayed labels.
    pub quality: Quality,
}

/// Online quality: how the model does on transactions whose true label has come back since (chargebacks and
/// analyst decisions arrive days after the payment, so these numbers trail the scores and cover a rolling window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Labels received so far in the whole run.
    pub labels_received: u64,
    /// Number of most recent labelled transactions the rolling measures below are computed over.
    pub window: u64,
    /// Fraudulent transactions in the window.
    pub positives: u64,
    /// Legitimate transactions in the window.
    pub negatives: u64,
    /// Rolling ROC AUC; `None` until the window holds both classes.
    pub roc_auc: Option<f64>,
    /// Share of alerts in the window that were fraud; `None` without any alert in the window.
    pub precision: Option<f64>,
    /// Share of fraud in the window that raised an alert; `None` without any fraud in the window.
    pub recall: Option<f64>,
}

/// One transaction at or above the threshold, with what an analyst looks at first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// IEEE-CIS `TransactionID`.
    pub transaction_id: i64,
    /// Event time as RFC 3339 (what `EventTime`'s `Display` writes), kept as text so the page shows exactly what
    /// the job wrote to `alerts.jsonl`.
    pub event_time: String,
    /// `TransactionAmt` in USD.
    pub amount: f64,
    /// `ProductCD` (W, C, R, H, S).
    pub product: String,
    /// Card network or type (`card4`/`card6`), absent in some rows.
    pub card_type: Option<String>,
    /// Model score in [0, 1].
    pub score: f64,
    /// Reason codes: the model inputs that moved the score most, largest |effect| first; the page shows the first
    /// few as chips.
    pub drivers: Vec<Driver>,
}

/// One model input's contribution to an alert's score (a reason code).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    /// Model input name, e.g. `C13` or `card6`.
    pub feature: String,
    /// The input's value as text (numbers, categories and missing values alike).
    pub value: String,
    /// The input's exact Shapley contribution (TreeSHAP) to the score's margin, in log-odds for a binary
    /// classifier; positive pushes towards fraud.
    pub effect: f64,
}

/// Where the run is; the page header shows it as a badge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// No snapshot yet.
    #[default]
    Waiting,
    /// Snapshots are arriving.
    Running,
    /// A bounded run reached the end of its input.
    Finished,
    /// The job stopped with an error.
    Failed,
}
