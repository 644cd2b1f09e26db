//! The embedded driver: the CSV files, replayed in event-time order through the same [`FileSource`] the ingest
//! uses (read ahead on its own thread), into `scores.csv`, `alerts.jsonl` and `dead_letters.jsonl` — no broker.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::EngineError;
use crate::flow::SourceEvent;
use crate::observe::{RunObserver, RunProgress, RunSummary};
use crate::scorer::Scorer;
use crate::sink::files::FileSinks;
use crate::source::files::{FileSource, FileSourceConfig};
use crate::source::prefetch::Prefetch;
use crate::source::Source;

use super::{Downstream, Job, JobConfig, ScoringStage};

/// Everything an embedded run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub files: FileSourceConfig,
    pub job: JobConfig,
    pub out_dir: PathBuf,
    /// Model name for the outputs (e.g. the file stem).
    pub model_name: String,
    /// Reason columns in `scores.csv`, when the scorer explains every score (0: none; see [`crate::reasons`]).
    pub score_reasons: usize,
}

/// Runs the job over the files to their end, scoring with `scorer`.
pub fn run_embedded(
    config: &RunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
) -> Result<RunSummary, EngineError> {
    run_embedded_until(config, scorer, progress, &AtomicBool::new(false), None)
}

/// [`run_embedded`] that also ends, with everything read so far scored and written, once `stop` is set (Ctrl-C),
/// and reports to `observer`.
pub fn run_embedded_until<'a>(
    config: &RunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
    stop: &'a AtomicBool,
    observer: Option<&'a mut dyn RunObserver>,
) -> Result<RunSummary, EngineError> {
    // The inputs first: a file the run refuses (a missing column, the wrong table) must not truncate the outputs of
    // an earlier run.
    let mut files = FileSource::open(&config.files)?;
    let mut sinks = FileSinks::create_with_reasons(&config.out_dir, &config.model_name, config.score_reasons)?;
    if config.job.monitor.as_ref().is_some_and(crate::monitor::MonitorSetup::has_challenger) {
        sinks = sinks.with_challenger()?;
    }
    let mut scoring = ScoringStage::new(scorer, sinks, &config.job, progress, observer)?;
    scoring.count_duplicates();
    scoring.recycle_into(files.recycler());
    // Parsing overlaps with the join and the model on the other core.
    let mut source = Prefetch::start(files, Duration::from_millis(100));
    run_to_end(&mut source, Job::new(&config.job, progress, scoring), stop)
}

/// Drives `job` over a bounded `source` to its end, or until `stop` is set: each event is processed, processing
/// time ticks between them, and at the end everything still pending is emitted, scored, written and flushed.
pub(crate) fn run_to_end<D: Downstream>(
    source: &mut dyn Source,
    mut job: Job<'_, D>,
    stop: &AtomicBool,
) -> Result<RunSummary, EngineError> {
    job.register(source.partitions(), Instant::now());
    loop {
        let event = source.poll(Duration::from_millis(50))?;
        let end = matches!(event, SourceEvent::End) || stop.load(Ordering::Relaxed);
        job.process(event)?;
        let now = Instant::now();
        if end {
            job.finish(now)?;
            job.flush()?;
            job.report(now, true);
            return Ok(job.summary());
        }
        job.tick(now)?;
        job.report(now, false);
    }
}
