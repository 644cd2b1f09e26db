//! The scoring half of a job: features → score → write, as the [`Downstream`] of the join.

use std::time::Instant;

use crate::error::EngineError;
use crate::features::FeatureStep;
use crate::flow::{DeadLetter, Joined};
use crate::model_stage::{ModelStage, StageConfig};
use crate::observe::{JobStatus, RunObserver, RunProgress, RunSummary};
use crate::scorer::Scorer;
use crate::sink::{Sink, Written};
use crate::source::recycle::Recycler;
use crate::write::ScoreWriter;

use super::{Downstream, JobConfig};

/// Client features (when the model reads them), the micro-batching model step, and the write step into `S`.
pub struct ScoringStage<'s, 'o, 'p, S> {
    features: Option<FeatureStep>,
    model: ModelStage<'s>,
    writer: ScoreWriter<'o, 'p, S>,
}

impl<'s, 'o, 'p, S: Sink> ScoringStage<'s, 'o, 'p, S> {
    /// Scores with `scorer` into `sink` as `config` says; `observer` sees every written score and the status.
    pub fn new(
        scorer: &'s mut dyn Scorer,
        sink: S,
        config: &JobConfig,
        progress: &'p RunProgress,
        observer: Option<&'o mut dyn RunObserver>,
    ) -> Result<ScoringStage<'s, 'o, 'p, S>, EngineError> {
        let stage = StageConfig {
            batch_size: config.batch_size,
            batch_timeout: config.batch_timeout,
            max_in_flight: config.max_in_flight,
        };
        let mut writer = ScoreWriter::new(sink, config.threshold, config.on_model_error, progress);
        writer.monitor = config.monitor.as_ref().map(crate::monitor::MonitorSetup::build).transpose()?;
        writer.observer = observer;
        Ok(ScoringStage {
            features: config.client_features.map(FeatureStep::new).transpose()?,
            model: ModelStage::new(scorer, stage),
            writer,
        })
    }

    /// Counts TransactionIDs written twice exactly (bounded inputs, see [`crate::write`]).
    pub fn count_duplicates(&mut self) {
        self.writer.count_duplicates();
    }

    /// Hands written rows back to the source that parsed them (embedded mode, see [`crate::source::recycle`]).
    pub fn recycle_into(&mut self, recycler: Option<Recycler>) {
        self.writer.recycler = recycler;
    }

    pub fn sink(&mut self) -> &mut S {
        self.writer.sink()
    }

    /// What the output already holds (read back after a restart): not written again.
    pub fn note_written(&mut self, written: Written) {
        self.writer.note_written(written);
    }

    /// The client-feature state, when the model reads client features (rebuilt after a restart).
    pub fn features(&mut self) -> Option<&mut FeatureStep> {
        self.features.as_mut()
    }

    /// The models' monitoring, when the job monitors them.
    pub fn monitoring(&mut self) -> Option<&mut crate::monitor::Monitoring> {
        self.writer.monitor.as_mut()
    }
}

impl<S: Sink> Downstream for ScoringStage<'_, '_, '_, S> {
    fn joined(&mut self, mut joined: Box<Joined>, _frontier: &dyn Fn() -> i64) -> Result<(), EngineError> {
        if let Some(features) = &mut self.features {
            features.apply(&mut joined);
        }
        self.model.push(*joined);
        if self.model.full() {
            let writer = &mut self.writer;
            self.model.flush(&mut |answer| writer.write(answer))?;
        }
        Ok(())
    }

    fn seen(&mut self, joined: &Joined) {
        if let Some(features) = &mut self.features {
            features.replay(joined);
        }
    }

    fn dead_letter(&mut self, dead: &DeadLetter) -> Result<(), EngineError> {
        self.writer.dead_letter(dead)
    }

    fn tick(&mut self, now: Instant) -> Result<(), EngineError> {
        let writer = &mut self.writer;
        if self.model.due(now) {
            self.model.flush(&mut |answer| writer.write(answer))
        } else {
            self.model.poll(&mut |answer| writer.write(answer))
        }
    }

    fn drain(&mut self) -> Result<(), EngineError> {
        let writer = &mut self.writer;
        self.model.drain(&mut |answer| writer.write(answer))
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        self.writer.sink().flush()
    }

    fn report(&mut self, status: &mut JobStatus) {
        if let Some(features) = &self.features {
            self.writer.metrics().client_entities.set(features.entities() as f64);
        }
        if let Some(monitor) = &mut self.writer.monitor {
            let models = monitor.report(status.event_time);
            let labels = monitor.label_counts();
            self.writer.metrics().monitoring(&models, labels.as_ref());
            status.quality = models.first().and_then(|m| m.quality);
            status.models = models;
        }
        if let Some(observer) = self.writer.observer.as_deref_mut() {
            observer.status(status);
        }
    }

    fn summarize(&mut self, summary: &mut RunSummary) {
        self.writer.summarize(summary);
    }
}
