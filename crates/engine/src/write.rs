//! The write step: scored batches to the sinks, each transaction's score and alert written once.
//!
//! It decides, per transaction, what reaches the output: the score, an alert when the score is at or above the
//! threshold, and — after a restart that re-reads input — nothing that the output already holds
//! ([`ScoreWriter::note_written`]). The first decision that reached the output is final: a transaction scored
//! again after a restart (client state rebuilt from a replay may give another score) keeps the score already sent,
//! and an alert that a crash separated from its score is written then. A batch the model failed goes to the dead
//! letters with a null score under `--on-model-error skip`, or stops the run.
//!
//! It also counts what it wrote for the summary, the metrics, the online quality and the observer, and hands the
//! written rows back to the source for reuse (embedded mode).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::error::EngineError;
use crate::flow::{DeadLetter, DeadLetterKind, Joined, Scored};
use crate::metrics::ScoringMetrics;
use crate::model_stage::{Answer, OnModelError};
use crate::monitor::Monitoring;
use crate::observe::{RunObserver, RunProgress, RunSummary};
use crate::reasons::Reason;
use crate::reservoir::{Reservoir, SUMMARY_CAPACITY};
use crate::sink::{Sink, Written};
use crate::source::recycle::Recycler;

/// Counters the run summary reports.
#[derive(Debug)]
struct Totals {
    /// Transactions written (scored or, with `OnModelError::Skip`, written with a null score).
    written: u64,
    /// Arrival → score latencies in ms, sampled.
    latencies: Reservoir<f32>,
    /// (score, isFraud) of labelled transactions, sampled, for the summary's ROC AUC.
    labelled: Reservoir<(f64, bool)>,
    all_labelled: bool,
    alerts: u64,
    skipped_already_scored: u64,
    /// Transactions written with a null score because the model failed (`OnModelError::Skip`).
    model_errors: u64,
    /// Dead letters written from the source and the join.
    dead_letters: u64,
    /// Every dead letter written, by kind.
    by_kind: std::collections::BTreeMap<DeadLetterKind, u64>,
    /// Every TransactionID written, when the run is bounded (see [`ScoreWriter::count_duplicates`]).
    ids: Option<std::collections::HashSet<i64>>,
    /// Transactions written whose TransactionID was written before in this run.
    duplicates: u64,
}

/// Writes scored batches and dead letters to a sink (see the module docs).
pub(crate) struct ScoreWriter<'o, 'p, S> {
    sink: S,
    threshold: f64,
    on_error: OnModelError,
    /// TransactionIDs the output already holds, with the score written (`None`: a null score, or one not known).
    already_scored: HashMap<i64, Option<f64>>,
    /// TransactionIDs whose alert the output already holds, with the alert's score.
    already_alerted: HashMap<i64, Option<f64>>,
    totals: Totals,
    metrics: ScoringMetrics,
    progress: &'p RunProgress,
    /// Online quality and drift of the models (see [`crate::monitor`]).
    pub(crate) monitor: Option<Monitoring>,
    pub(crate) observer: Option<&'o mut dyn RunObserver>,
    /// Where written records' rows go back to the source for reuse (embedded mode).
    pub(crate) recycler: Option<Recycler>,
}

impl<'o, 'p, S: Sink> ScoreWriter<'o, 'p, S> {
    pub fn new(sink: S, threshold: f64, on_error: OnModelError, progress: &'p RunProgress) -> ScoreWriter<'o, 'p, S> {
        ScoreWriter {
            sink,
            threshold,
            on_error,
            already_scored: HashMap::new(),
            already_alerted: HashMap::new(),
            totals: Totals {
                written: 0,
                latencies: Reservoir::new(SUMMARY_CAPACITY),
                labelled: Reservoir::new(SUMMARY_CAPACITY),
                all_labelled: true,
                alerts: 0,
                skipped_already_scored: 0,
                model_errors: 0,
                dead_letters: 0,
                by_kind: Default::default(),
                ids: None,
                duplicates: 0,
            },
            metrics: ScoringMetrics::new(),
            progress,
            monitor: None,
            observer: None,
            recycler: None,
        }
    }

    /// Counts every TransactionID written twice, exactly (a bounded input: its IDs fit in memory; on Kafka the
    /// join's window-bounded count stands in).
    pub fn count_duplicates(&mut self) {
        self.totals.ids = Some(Default::default());
    }

    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    /// What the output already holds (read back after a restart): not written again. It replaces what an earlier
    /// read-back noted: each covers every record a restart reads again.
    pub fn note_written(&mut self, written: Written) {
        self.already_scored = written.scored;
        self.already_alerted = written.alerted;
    }

    pub fn dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError> {
        self.totals.dead_letters += 1;
        *self.totals.by_kind.entry(d.kind).or_default() += 1;
        self.metrics.dead_letters.increment(1);
        self.progress.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.sink.write_dead_letter(d)
    }

    /// Writes one scored batch (or handles the model's failure on it).
    pub fn write(&mut self, (rows, result): Answer) -> Result<(), EngineError> {
        let scores = match result {
            Ok(scores) => Some(scores),
            Err(e) if self.on_error == OnModelError::Skip => {
                self.model_failed(&rows, &e)?;
                None
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let alerts_before = self.totals.alerts;
        let mut written = 0u64;
        for (i, joined) in rows.iter().enumerate() {
            let (score, reasons, challenger) = match &scores {
                Some(s) => (Some(s.p[i]), s.reasons_of(i), s.challenger_of(i)),
                None => (None, &[][..], None),
            };
            written += u64::from(self.write_one(joined, score, reasons, challenger, now)?);
        }
        self.metrics.scored.increment(written);
        self.metrics.alerts.increment(self.totals.alerts - alerts_before);
        self.progress.scored.fetch_add(rows.len() as u64, Ordering::Relaxed);
        self.progress.alerts.store(self.totals.alerts, Ordering::Relaxed);
        if let Some(recycler) = &mut self.recycler {
            rows.into_iter().for_each(|joined| recycler.recycle(joined));
        }
        Ok(())
    }

    /// Dead-letters every row of a batch the model failed; they are then written with a null score.
    fn model_failed(&mut self, rows: &[Joined], e: &EngineError) -> Result<(), EngineError> {
        let reason = format!("model error: {e}");
        for joined in rows {
            let kind = DeadLetterKind::ModelError;
            let d = DeadLetter {
                kind,
                reason: reason.clone(),
                origin: joined.origin.clone(),
                payload: Vec::new(),
                key: None,
            };
            self.sink.write_dead_letter(&d)?;
        }
        self.totals.model_errors += rows.len() as u64;
        *self.totals.by_kind.entry(DeadLetterKind::ModelError).or_default() += rows.len() as u64;
        self.metrics.model_errors.increment(rows.len() as u64);
        self.metrics.dead_letters.increment(rows.len() as u64);
        self.progress.dead_letters.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Writes what the output still lacks of one transaction; true when its score was written now.
    fn write_one(
        &mut self,
        joined: &Joined,
        score: Option<f64>,
        reasons: &[Reason],
        challenger: Option<f64>,
        now: Instant,
    ) -> Result<bool, EngineError> {
        let id = joined.transaction.id();
        let (scored_before, alerted_before) = (self.already_scored.remove(&id), self.already_alerted.remove(&id));
        // The first decision that reached the output is final: after a restart the score can come out differently
        // (client state rebuilt from a replay), and must not contradict what was already sent.
        let score = match (scored_before, alerted_before) {
            (Some(before), _) | (None, Some(before @ Some(_))) => before,
            _ => score,
        };
        let latency_ms = now.duration_since(joined.arrived).as_secs_f64() * 1000.0;
        let label = score.is_some_and(|s| s >= self.threshold);
        let (score_written, alert_written) = (scored_before.is_some(), alerted_before.is_some());
        let scored = Scored {
            joined,
            score,
            label,
            latency_ms,
            score_written,
            alert_written,
            reasons,
            challenger,
            challenger_label: challenger.is_some_and(|p| p >= self.threshold),
        };
        if score_written {
            // Written before a restart: the output already has it (exactly once per TransactionID) — unless the
            // crash came between the score and its alert, which is then written now.
            self.totals.skipped_already_scored += 1;
            if label && !alert_written {
                tracing::info!("TransactionID {id}: its score was written before the restart, its alert was not");
                self.totals.alerts += 1;
                self.sink.write_score(&scored)?;
            }
            return Ok(false);
        }
        self.totals.alerts += u64::from(label);
        self.totals.written += 1;
        if let Some(ids) = &mut self.totals.ids {
            if !ids.insert(id) {
                if self.totals.duplicates < 5 {
                    tracing::warn!("TransactionID {id} occurs again in the input ({}): scored again", joined.origin);
                }
                self.totals.duplicates += 1;
                self.metrics.duplicate_transactions.increment(1);
            }
        }
        self.totals.latencies.push(latency_ms as f32);
        match (joined.transaction.is_fraud(), score) {
            (Some(l), Some(s)) => self.totals.labelled.push((s, l)),
            (None, _) => self.totals.all_labelled = false,
            (Some(_), None) => {}
        }
        if let Some(monitor) = &mut self.monitor {
            monitor.scored(joined, &[score, challenger]);
        }
        self.sink.write_score(&scored)?;
        if let Some(observer) = self.observer.as_deref_mut() {
            observer.scored(&scored);
        }
        self.metrics.end_to_end_seconds.record(latency_ms / 1000.0);
        Ok(true)
    }

    pub fn metrics(&self) -> &ScoringMetrics {
        &self.metrics
    }

    /// Adds what this step counted to `summary`.
    pub fn summarize(&mut self, summary: &mut RunSummary) {
        let totals = &mut self.totals;
        summary.scored = totals.written;
        summary.skipped_already_scored = totals.skipped_already_scored;
        summary.model_errors = totals.model_errors;
        summary.alerts = totals.alerts;
        summary.dead_letters += totals.dead_letters;
        for (kind, n) in &totals.by_kind {
            *summary.dead_letters_by_kind.entry(*kind).or_default() += n;
        }
        summary.auc = if totals.all_labelled {
            let (scores, labels): (Vec<f64>, Vec<bool>) = totals.labelled.items().iter().copied().unzip();
            crate::quality::roc_auc(&scores, &labels)
        } else {
            None
        };
        summary.latency_ms = percentiles(totals.latencies.items_mut());
        if totals.ids.is_some() {
            summary.duplicate_transactions = Some(totals.duplicates);
        }
        if let Some(monitor) = &mut self.monitor {
            // A bounded run's labels feed is finished with its input (see `Monitoring::finish`).
            let models = if totals.ids.is_some() { monitor.finish() } else { monitor.report(None) };
            summary.quality = models.first().and_then(|m| m.quality);
            summary.labels = monitor.label_counts();
            summary.models = models;
        }
    }
}

/// p50, p99 and max of a sample (zeros when empty).
fn percentiles(v: &mut [f32]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_unstable_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99), at(1.0))
}
