//! Threads that each own a copy of a remote scorer, so several micro-batches can be on the wire at once while the
//! answers are still written in the order the batches were formed.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::error::EngineError;
use crate::flow::Joined;
use crate::scorer::{BatchScores, Scorer};

/// A scored batch: its rows and the model's answer.
pub(crate) type Answer = (Vec<Joined>, Result<BatchScores, EngineError>);

type Outcome = (u64, Vec<Joined>, Result<BatchScores, EngineError>);

/// The model-call threads and the answers not yet written.
pub(super) struct Workers {
    jobs: Option<Sender<(u64, Vec<Joined>)>>,
    results: Receiver<Outcome>,
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
    next_to_write: u64,
    in_flight: usize,
    pub(super) max_in_flight: usize,
    ready: BTreeMap<u64, Answer>,
}

impl Workers {
    /// `max_in_flight` threads, each with its own copy of `scorer`; `None` when one batch at a time is asked for
    /// or the scorer cannot be copied to another thread (in-process models use every core per batch already).
    pub(super) fn start(scorer: &dyn Scorer, max_in_flight: usize, inference: &metrics::Histogram) -> Option<Workers> {
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
                // A panic in the model fails the batch like an error instead of leaving it unanswered forever.
                let scored =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scorer.score(&rows, &mut scores)));
                let result =
                    scored.unwrap_or_else(|panic| Err(panicked("scoring a batch", panic.as_ref()))).map(|()| scores);
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

    pub(super) fn submit(&mut self, rows: Vec<Joined>) -> Result<(), EngineError> {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send((self.next_id, rows)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(EngineError::Config("the model call threads stopped".into()));
        }
        self.next_id += 1;
        self.in_flight += 1;
        Ok(())
    }

    /// Collects answers: blocking until fewer than `limit` batches are in flight, then whatever else is ready.
    pub(super) fn collect(&mut self, limit: usize) -> Result<(), EngineError> {
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
    pub(super) fn next_ready(&mut self) -> Option<Answer> {
        let batch = self.ready.remove(&self.next_to_write)?;
        self.next_to_write += 1;
        Some(batch)
    }
}

/// The error of a thread that panicked while doing `what`, with the panic's message.
pub(crate) fn panicked(what: &str, panic: &(dyn std::any::Any + Send)) -> EngineError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    EngineError::Config(format!("a thread panicked {what}: {message}"))
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
