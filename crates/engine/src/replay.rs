//! Training data from the stream's own pipeline: the CSV files replayed through the same source, interval join and
//! client-feature stage as `fraudstream run`, each joined record's feature values handed to a callback instead of
//! a model.
//!
//! This is what makes training and serving see identical features: not two implementations kept in step, but one
//! code path. Client features depend on the order records leave the join (a transaction without identity waits
//! for the watermark), so training must see that order too. The replay is made deterministic by letting only event
//! time release records (no processing-time `max_wait`), which is also how an as-fast-as-possible embedded run
//! behaves when the machine keeps up.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fraudstream_features::{ClientConfig, FeatureSet, InputValue};

use crate::error::EngineError;
use crate::flow::{DeadLetter, Joined, Scored};
use crate::job::embedded::run_to_end;
use crate::job::{Job, JobConfig, ScoringStage};
use crate::join::JoinConfig;
use crate::observe::{RunProgress, RunSummary};
use crate::pacing::Pacing;
use crate::scorer::{BatchScores, Scorer};
use crate::sink::Sink;
use crate::source::files::{FileSource, FileSourceConfig};
use crate::source::prefetch::Prefetch;

/// The join settings of a training replay: the stream's defaults, released by event time only.
pub fn replay_join() -> JoinConfig {
    JoinConfig { max_wait: Duration::MAX, ..JoinConfig::default() }
}

/// The job settings of a training replay (and of a stream that must reproduce it exactly).
pub fn replay_job(client_features: Option<ClientConfig>) -> JobConfig {
    JobConfig {
        join: replay_join(),
        max_out_of_orderness: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(10),
        pacing: Pacing::AsFastAsPossible,
        batch_size: 1024,
        batch_timeout: Duration::from_millis(50),
        threshold: 0.5,
        monitor: None,
        client_features,
        max_in_flight: 1,
        on_model_error: Default::default(),
    }
}

/// Hands each batch's feature values to the callback and reports zero scores.
struct Collector<'a, F: FnMut(&Joined, &[InputValue<'_>])> {
    set: &'a FeatureSet,
    on_row: F,
}

impl<F: FnMut(&Joined, &[InputValue<'_>])> Scorer for Collector<'_, F> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        let mut values = Vec::with_capacity(self.set.len());
        for r in rows {
            self.set.extract(&r.feature_row(), &mut values);
            (self.on_row)(r, &values);
        }
        out.p.extend(std::iter::repeat_n(0.0, rows.len()));
        out.labels.extend(std::iter::repeat_n(0, rows.len()));
        Ok(())
    }
}

/// The output of a replay: scores go nowhere (the scorer handles them), dead letters are kept for the caller.
#[derive(Default)]
struct KeepDeadLetters(Vec<DeadLetter>);

impl Sink for KeepDeadLetters {
    fn write_score(&mut self, _s: &Scored<'_>) -> Result<(), EngineError> {
        Ok(())
    }
    fn write_dead_letter(&mut self, d: &DeadLetter) -> Result<(), EngineError> {
        tracing::debug!("replay dead letter: {}", d.reason);
        self.0.push(d.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Replays `files` through the stream's pipeline with the replay's settings ([`replay_job`]), handing each batch of
/// joined records to `scorer` in the order the stream would score them. Returns the run's summary and the dead
/// letters (malformed rows, identities without a transaction).
pub(crate) fn replay(
    files: &FileSourceConfig,
    client_features: Option<ClientConfig>,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
) -> Result<(RunSummary, Vec<DeadLetter>), EngineError> {
    let config = replay_job(client_features);
    let mut source = Prefetch::start(FileSource::open(files)?, Duration::from_millis(100));
    let mut scoring = ScoringStage::new(scorer, KeepDeadLetters::default(), &config, progress, None)?;
    let job = Job::new(&config, progress, &mut scoring);
    let summary = run_to_end(&mut source, job, &AtomicBool::new(false))?;
    Ok((summary, std::mem::take(&mut scoring.sink().0)))
}

/// Replays `files` through the stream's pipeline, calling `on_row` with every joined record and its values of
/// `set`, in the order the stream would score them. Client features are computed when `set` uses them.
pub fn replay_features(
    files: &FileSourceConfig,
    set: &FeatureSet,
    progress: &RunProgress,
    on_row: impl FnMut(&Joined, &[InputValue<'_>]),
) -> Result<RunSummary, EngineError> {
    let mut scorer = Collector { set, on_row };
    let client_features = set.uses_client_features().then(ClientConfig::default);
    replay(files, client_features, &mut scorer, progress).map(|(summary, _)| summary)
}
