//! The model stage: collects joined records into micro-batches, scores them (in process, or remotely with several
//! batches in flight), applies the model-error policy, and writes scores and alerts.
//!
//! Batches are written in the order they were formed, whatever order remote answers arrive in. The number of
//! batches in flight is bounded (`max_in_flight`): when it is reached, forming the next batch waits for the oldest
//! answer, so a slow model slows intake (backpressure) instead of growing memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::EngineError;
use crate::join::Joined;
use crate::metrics::JobMetrics;
use crate::reservoir::{Reservoir, SUMMARY_CAPACITY};
use crate::run::RunProgress;
use crate::scorer::{BatchScores, Scorer};
use crate::sink::{Scored, Sink};
use crate::source::DeadLetter;

/// What to do with a batch the model could not score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnModelError {
    /// Stop the run with the error (nothing is committed past the batch, so a restart retries it).
    #[default]
    Fail,
    /// Write the batch's transactions with a null score and send each to the dead letters with the error.
    Skip,
}

impl std::str::FromStr for OnModelError {
    type Err = String;

    fn from_str(s: &str) -> Result<OnModelError, String> {
        match s {
            "fail" => Ok(OnModelError::Fail),
            "skip" => Ok(OnModelError::Skip),
            other => Err(format!("unknown model-error policy `{other}` (expected `fail` or `skip`)")),
        }
    }
}

type Outcome = (u64, Vec<Joined>, Result<BatchScores, EngineError>);

/// Worker threads that each own a copy of a remote scorer.
struct Workers {
    jobs: Option<Sender<(u64, Vec<Joined>)>>,
    results: Receiver<Outcome>,
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
    next_to_write: u64,
    in_flight: usize,
    max_in_flight: usize,
    ready: BTreeMap<u64, (Vec<Joined>, Result<BatchScores, EngineError>)>,
}

impl Workers {
    fn start(scorer: &dyn Scorer, max_in_flight: usize, inference: &metrics::Histogram) -> Option<Workers> {
        if max_in_flight < 2 {
            return None;
        }
        let (jobs, job_rx) = channel::<(u64, Vec<Joined>)>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (result_tx, results) = channel::<Outcome>();
        let mut threads = Vec::with_capacity(max_in_flight);
        for i in 0..max_in_flight {
            let mut scorer = scorer.try_clone_send()?;
            let (job_rx, result_tx, inference) = (job_rx.clone(), result_tx.clone(), inference.clone());
            let spawned = std::thread::Builder::new().name(format!("model-call-{i}")).spawn(move || loop {
                let job = job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((id, rows)) = job else { return };
                let mut scores = BatchScores::default();
                let started = Instant::now();
                let result = scorer.score(&rows, &mut scores).map(|()| scores);
                inference.record(started.elapsed().as_secs_f64());
                if result_tx.send((id, rows, result)).is_err() {
                    return;
                }
            });
            threads.push(spawned.ok()?);
        }
        Some(Workers {
            jobs: Some(jobs),
            results,
            threads,
            next_id: 0,
            next_to_write: 0,
            in_flight: 0,
            max_in_flight,
            ready: BTreeMap::new(),
        })
    }

    fn submit(&mut self, rows: Vec<Joined>) -> Result<(), EngineError> {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send((self.next_id, rows)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(EngineError::Config("the model call threads stopped".into()));
        }
        self.next_id += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// Collects answers: blocking until fewer than `limit` batches are in flight, then whatever else is ready.
    fn collect(&mut self, limit: usize) -> Result<(), EngineError> {
        while self.in_flight > 0 && self.in_flight >= limit {
            let outcome =
                self.results.recv().map_err(|_| EngineError::Config("the model call threads stopped".into()))?;
            self.accept(outcome);
        }
        while let Ok(outcome) = self.results.try_recv() {
            self.accept(outcome);
        }
        Ok(())
    }

    fn accept(&mut self, (id, rows, result): Outcome) {
        self.in_flight -= 1;
        self.ready.insert(id, (rows, result));
    }

    /// The next batch in formation order, if its answer is in.
    fn next_ready(&mut self) -> Option<(Vec<Joined>, Result<BatchScores, EngineError>)> {
        let batch = self.ready.remove(&self.next_to_write)?;
        self.next_to_write += 1;
        Some(batch)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Counters the run summary reports.
#[derive(Debug)]
pub(crate) struct StageTotals {
    /// Transactions written (scored or, with `OnModelError::Skip`, written with a null score).
    pub written: u64,
    /// Arrival → score latencies in ms, sampled.
    pub latencies: Reservoir<f32>,
    /// (score, isFraud) of labelled transactions, sampled, for the summary's ROC AUC.
    pub labelled: Reservoir<(f64, bool)>,
    pub all_labelled: bool,
    pub alerts: u64,
    pub skipped_already_scored: u64,
    /// Transactions written with a null score because the model failed (`OnModelError::Skip`).
    pub model_errors: u64,
}

/// The model stage of one run.
pub(crate) struct ModelStage<'s, 'o> {
    scorer: &'s mut dyn Scorer,
    workers: Option<Workers>,
    rows: Vec<Joined>,
    batch_size: usize,
    batch_scores: BatchScores,
    oldest: Option<Instant>,
    threshold: f64,
    on_error: OnModelError,
    /// TransactionIDs the output already holds, with the score written (recovered on start in Kafka mode; `None`:
    /// a null score, or one not known — the join stage's forwarded records, IDs given at start).
    pub already_scored: HashMap<i64, Option<f64>>,
    /// TransactionIDs whose alert the output already holds, with the alert's score.
    pub already_alerted: HashMap<i64, Option<f64>>,
    pub totals: StageTotals,
    pub metrics: JobMetrics,
    pub observer: Option<&'o mut dyn crate::run::RunObserver>,
    pub quality: Option<crate::quality::OnlineQuality>,
    /// Client (velocity) features computed on each joined record before it is batched, in emission order.
    pub client: Option<fraudstream_features::ClientFeatures>,
    /// Where written records' rows go back to the source for reuse (embedded mode).
    pub recycler: Option<crate::source::recycle::Recycler>,
}

/// How the model stage batches and reacts to failures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageConfig {
    pub batch_size: usize,
    pub threshold: f64,
    pub max_in_flight: usize,
    pub on_error: OnModelError,
}

impl<'s, 'o> ModelStage<'s, 'o> {
    pub fn new(scorer: &'s mut dyn Scorer, config: StageConfig, already_scored: HashSet<i64>) -> ModelStage<'s, 'o> {
        let metrics = JobMetrics::new();
        let workers = Workers::start(scorer, config.max_in_flight, &metrics.inference_seconds);
        ModelStage {
            scorer,
            workers,
            rows: Vec::with_capacity(config.batch_size),
            batch_size: config.batch_size,
            batch_scores: BatchScores::default(),
            oldest: None,
            threshold: config.threshold,
            on_error: config.on_error,
            already_scored: already_scored.into_iter().map(|id| (id, None)).collect(),
            already_alerted: HashMap::new(),
            totals: StageTotals {
                written: 0,
                latencies: Reservoir::new(SUMMARY_CAPACITY),
                labelled: Reservoir::new(SUMMARY_CAPACITY),
                all_labelled: true,
                alerts: 0,
                skipped_already_scored: 0,
                model_errors: 0,
            },
            metrics,
            observer: None,
            quality: None,
            client: None,
            recycler: None,
        }
    }

    pub fn push(&mut self, mut joined: Joined) {
        if let Some(c) = &mut self.client {
            joined.client = c.observe_boxed(&joined.feature_row());
        }
        self.oldest.get_or_insert(joined.arrived);
        self.rows.push(joined);
    }

    /// Whether the forming batch is full or its oldest row has waited `timeout`.
    pub fn due(&self, timeout: Duration, now: Instant) -> bool {
        self.rows.len() >= self.batch_size || self.oldest.is_some_and(|t| now.duration_since(t) >= timeout)
    }

    /// Sends the forming batch to the model; writes every batch whose answer is in, in order.
    pub fn flush(&mut self, sinks: &mut dyn Sink, progress: &RunProgress) -> Result<(), EngineError> {
        if !self.rows.is_empty() {
            let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(self.batch_size));
            self.oldest = None;
            match &mut self.workers {
                Some(w) => w.submit(rows)?,
                None => {
                    self.batch_scores.clear();
                    let started = Instant::now();
                    let result = self.scorer.score(&rows, &mut self.batch_scores);
                    self.metrics.inference_seconds.record(started.elapsed().as_secs_f64());
                    let scores = std::mem::take(&mut self.batch_scores);
                    self.write(rows, result.map(|()| scores), sinks, progress)?;
                }
            }
        }
        self.write_ready(None, sinks, progress)
    }

    /// Writes the answers that are in; with `limit`, first waits until fewer than `limit` batches are in flight
    /// (`Some(1)`: all of them).
    fn write_ready(
        &mut self,
        limit: Option<usize>,
        sinks: &mut dyn Sink,
        progress: &RunProgress,
    ) -> Result<(), EngineError> {
        let Some(w) = &mut self.workers else { return Ok(()) };
        w.collect(limit.unwrap_or(w.max_in_flight))?;
        while let Some((rows, result)) = self.workers.as_mut().and_then(Workers::next_ready) {
            self.write(rows, result, sinks, progress)?;
        }
        Ok(())
    }

    /// Scores everything pending and waits for every answer (before a checkpoint or at the end).
    pub fn drain(&mut self, sinks: &mut dyn Sink, progress: &RunProgress) -> Result<(), EngineError> {
        self.flush(sinks, progress)?;
        self.write_ready(Some(1), sinks, progress)
    }

    /// Writes answers that arrived since the last call, without waiting.
    pub fn poll(&mut self, sinks: &mut dyn Sink, progress: &RunProgress) -> Result<(), EngineError> {
        let limit = self.workers.as_ref().map(|w| w.max_in_flight + 1);
        self.write_ready(limit, sinks, progress)
    }

    fn write(
        &mut self,
        rows: Vec<Joined>,
        result: Result<BatchScores, EngineError>,
        sinks: &mut dyn Sink,
        progress: &RunProgress,
    ) -> Result<(), EngineError> {
        let scores = match result {
            Ok(scores) => Some(scores),
            Err(e) if self.on_error == OnModelError::Skip => {
                let reason = format!("model error: {e}");
                for joined in &rows {
                    sinks.write_dead_letter(&DeadLetter {
                        reason: reason.clone(),
                        origin: joined.origin.clone(),
                        payload: Vec::new(),
                    })?;
                }
                self.totals.model_errors += rows.len() as u64;
                self.metrics.model_errors.increment(rows.len() as u64);
                progress.dead_letters.fetch_add(rows.len() as u64, Ordering::Relaxed);
                None
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let alerts_before = self.totals.alerts;
        let mut written = 0u64;
        for (i, joined) in rows.iter().enumerate() {
            let id = joined.transaction.id();
            let (scored_before, alerted_before) = (self.already_scored.remove(&id), self.already_alerted.remove(&id));
            // The first decision that reached the output is final: after a restart the score can come out
            // differently (client state rebuilt from a replay), and must not contradict what was already sent.
            let score = match (scored_before, alerted_before) {
                (Some(before), _) | (None, Some(before @ Some(_))) => before,
                _ => scores.as_ref().map(|s| s.p[i]),
            };
            let latency_ms = now.duration_since(joined.arrived).as_secs_f64() * 1000.0;
            let label = score.is_some_and(|s| s >= self.threshold);
            let (score_written, alert_written) = (scored_before.is_some(), alerted_before.is_some());
            if score_written {
                // Written before a restart: the output already has it (exactly once per TransactionID) — unless the
                // crash came between the score and its alert, which is then written now.
                self.totals.skipped_already_scored += 1;
                if label && !alert_written {
                    tracing::info!("TransactionID {id}: its score was written before the restart, its alert was not");
                    self.totals.alerts += 1;
                    sinks.write_score(&Scored { joined, score, label, latency_ms, score_written, alert_written })?;
                }
                continue;
            }
            self.totals.alerts += u64::from(label);
            self.totals.written += 1;
            self.totals.latencies.push(latency_ms as f32);
            match (joined.transaction.is_fraud(), score) {
                (Some(l), Some(s)) => {
                    self.totals.labelled.push((s, l));
                    if let Some(q) = &mut self.quality {
                        q.scored(joined.transaction.event_time(), s, l);
                    }
                }
                (None, _) => self.totals.all_labelled = false,
                (Some(_), None) => {}
            }
            let scored = Scored { joined, score, label, latency_ms, score_written, alert_written };
            sinks.write_score(&scored)?;
            if let Some(observer) = self.observer.as_deref_mut() {
                observer.scored(&scored);
            }
            self.metrics.end_to_end_seconds.record(latency_ms / 1000.0);
            written += 1;
        }
        self.metrics.scored.increment(written);
        self.metrics.alerts.increment(self.totals.alerts - alerts_before);
        progress.scored.fetch_add(rows.len() as u64, Ordering::Relaxed);
        progress.alerts.store(self.totals.alerts, Ordering::Relaxed);
        if let Some(recycler) = &mut self.recycler {
            rows.into_iter().for_each(|joined| recycler.recycle(joined));
        }
        Ok(())
    }
}
