//! Batch scoring for offline backtests: both CSVs → joined records → model → `TransactionID,score,label` (and, when
//! asked, reason codes: see [`crate::reasons`]).
//!
//! Records are read through the same [`FileSource`] as the embedded stream and mapped to model inputs by the same
//! input mapping ([`InProcessScorer`]), so a backtest scores exactly what the stream would. Each transaction is
//! joined with its identity row by TransactionID (the first one wins; further duplicates are counted). Output keeps
//! input order.
//!
//! A model that reads client (velocity) features is different: those depend on the order records leave the join (a
//! transaction without identity waits for the watermark). Its files are replayed through the stream's own pipeline
//! instead, with the training replay's settings ([`crate::replay::replay_job`]), and the output lines follow that
//! order — so a backtest gives each transaction the inputs, hence the score, the stream and training gave it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fraudstream_data::{Identity, Record, Transaction};
use fraudstream_features::{ClientFeatures, InputValue};
use fraudstream_model::Model;

use crate::error::EngineError;
use crate::flow::{DeadLetter, Joined, Origin, SourceEvent};
use crate::observe::RunProgress;
use crate::quality::roc_auc;
use crate::reasons::{self, ReasonsConfig, ReasonsOn};
use crate::scorer::{BatchScores, InProcessScorer, Scorer};
use crate::source::files::{FileSource, FileSourceConfig};
use crate::source::Source;

/// What to score and where to write.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    pub files: FileSourceConfig,
    pub out: PathBuf,
    /// Rows per model call.
    pub batch_size: usize,
    /// Reason codes per row as extra columns (0: none; see [`crate::reasons`]).
    pub reasons: usize,
    /// Also write, per scored row, the TransactionID and every model input's value exactly as the model is fed it
    /// (see [`write_feature_fields`]): the reference other implementations of the pipeline (the exported Flink SQL)
    /// are compared against.
    pub features_out: Option<PathBuf>,
}

/// The outcome of a scoring run.
#[derive(Debug, Clone)]
pub struct ScoreSummary {
    pub rows: u64,
    pub with_identity: u64,
    pub duplicate_identities: u64,
    /// ROC AUC against `isFraud`, when the file has labels of both classes.
    pub auc: Option<f64>,
    pub elapsed: Duration,
    pub dead_letters: Vec<DeadLetter>,
}

/// Collects joined rows, scores them a batch at a time and writes the output lines.
struct BatchWriter<'m> {
    scorer: InProcessScorer<'m>,
    /// Client features, computed in file (event-time) order, when the model uses them.
    client: Option<ClientFeatures>,
    rows: Vec<Joined>,
    batch: BatchScores,
    out: BufWriter<File>,
    out_path: PathBuf,
    scores: Vec<f64>,
    labels: Vec<bool>,
    all_labelled: bool,
    line: Vec<u8>,
    feature_line: Vec<u8>,
    /// Reason columns per line.
    reasons: usize,
    /// The model-input dump, when asked for (`ScoreConfig::features_out`).
    features: Option<(BufWriter<File>, PathBuf)>,
}

impl BatchWriter<'_> {
    fn add(&mut self, transaction: Transaction, identity: Option<Identity>, origin: Origin) {
        let arrived = Instant::now();
        let mut joined =
            Joined { transaction, identity, origin, arrived, join_wait: Duration::ZERO, client: Box::default() };
        if let Some(c) = &mut self.client {
            joined.client = c.observe_boxed(&joined.feature_row());
        }
        self.rows.push(joined);
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        self.write_scored(&rows)?;
        self.rows = rows;
        self.rows.clear();
        Ok(())
    }

    /// Scores `rows` and writes their output lines.
    fn write_scored(&mut self, rows: &[Joined]) -> Result<(), EngineError> {
        self.batch.clear();
        self.scorer.score(rows, &mut self.batch)?;
        self.line.clear();
        let mut ryu = ryu::Buffer::new();
        let mut ints = itoa::Buffer::new();
        for (i, ((row, &p), &label)) in rows.iter().zip(&self.batch.p).zip(&self.batch.labels).enumerate() {
            let tx = &row.transaction;
            self.line.extend_from_slice(ints.format(tx.id()).as_bytes());
            self.line.push(b',');
            self.line.extend_from_slice(ryu.format(p).as_bytes());
            self.line.push(b',');
            self.line.extend_from_slice(ints.format(label).as_bytes());
            reasons::write_csv_fields(&mut self.line, self.batch.reasons_of(i), self.reasons);
            self.line.push(b'\n');
            if self.features.is_some() {
                self.feature_line.extend_from_slice(ints.format(tx.id()).as_bytes());
                write_feature_fields(&mut self.feature_line, &self.scorer.mapping().values(&row.feature_row()));
                self.feature_line.push(b'\n');
            }
            match tx.is_fraud() {
                Some(l) => {
                    self.scores.push(p);
                    self.labels.push(l);
                }
                None => self.all_labelled = false,
            }
        }
        if let Some((out, path)) = &mut self.features {
            out.write_all(&self.feature_line).map_err(|e| EngineError::Io { path: path.clone(), source: e })?;
            self.feature_line.clear();
        }
        self.out.write_all(&self.line).map_err(|e| EngineError::Io { path: self.out_path.clone(), source: e })
    }
}

/// The model stage of a client-feature backtest: scores what the stream's pipeline emits, in its order, and writes
/// the output lines.
struct InStreamOrder<'w, 'm> {
    writer: &'w mut BatchWriter<'m>,
    progress: &'w AtomicU64,
}

impl Scorer for InStreamOrder<'_, '_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        self.writer.write_scored(rows)?;
        out.p.extend_from_slice(&self.writer.batch.p);
        out.labels.extend_from_slice(&self.writer.batch.labels);
        self.progress.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Scores a client-feature model in the stream's emission order (see the module docs).
fn score_in_stream_order(
    config: &ScoreConfig,
    writer: &mut BatchWriter<'_>,
    progress: &AtomicU64,
) -> Result<(u64, u64, u64, Vec<DeadLetter>), EngineError> {
    let mut scorer = InStreamOrder { writer, progress };
    let client_features = Some(fraudstream_features::ClientConfig::default());
    let (summary, dead_letters) =
        crate::replay::replay(&config.files, client_features, &mut scorer, &RunProgress::default())?;
    let join = summary.join;
    Ok((summary.scored, join.matched, join.duplicate_identities, dead_letters))
}

/// Scores both files with `model`, writing `config.out`. `progress` counts scored rows.
pub fn score_files(config: &ScoreConfig, model: &Model, progress: &AtomicU64) -> Result<ScoreSummary, EngineError> {
    let started = Instant::now();
    let file = File::create(&config.out).map_err(|e| EngineError::Io { path: config.out.clone(), source: e })?;
    let reasons = ReasonsConfig { top: config.reasons, on: ReasonsOn::All, threshold: 0.5 };
    let in_process = InProcessScorer::new(model)?.with_reasons(reasons)?;
    let mut scorer = BatchWriter {
        client: in_process.uses_client_features().then(ClientFeatures::default),
        scorer: in_process,
        rows: Vec::with_capacity(config.batch_size),
        batch: BatchScores::default(),
        out: BufWriter::new(file),
        out_path: config.out.clone(),
        scores: Vec::new(),
        labels: Vec::new(),
        all_labelled: true,
        line: Vec::new(),
        feature_line: Vec::new(),
        reasons: config.reasons,
        features: None,
    };
    if let Some(path) = &config.features_out {
        let mut out =
            BufWriter::new(File::create(path).map_err(|e| EngineError::Io { path: path.clone(), source: e })?);
        let mut header = b"TransactionID".to_vec();
        for name in scorer.scorer.mapping().names() {
            header.push(b',');
            write_csv_text(&mut header, name);
        }
        header.push(b'\n');
        out.write_all(&header).map_err(|e| EngineError::Io { path: path.clone(), source: e })?;
        scorer.features = Some((out, path.clone()));
    }
    scorer
        .out
        .write_all(format!("TransactionID,score,label{}\n", reasons::csv_header(config.reasons)).as_bytes())
        .map_err(|e| EngineError::Io { path: config.out.clone(), source: e })?;
    if scorer.client.is_some() {
        let (rows, with_identity, duplicates, dead_letters) = score_in_stream_order(config, &mut scorer, progress)?;
        return scorer.finish(config, rows, with_identity, duplicates, dead_letters, started);
    }
    let mut source = FileSource::open(&config.files)?;
    let (mut rows, mut with_identity, mut duplicates) = (0u64, 0u64, 0u64);
    let mut dead_letters = Vec::new();
    // The transaction waiting to see whether its identity follows (the source emits it right after).
    let mut pending: Option<(Transaction, Origin)> = None;
    loop {
        let event = source.poll(Duration::ZERO)?;
        let (identity, done) = match event {
            SourceEvent::Record { record: Record::Identity(i), .. } => (Some(i), false),
            SourceEvent::Record { record: Record::Transaction(t), origin } => {
                if let Some((prev, prev_origin)) = pending.replace((t, origin)) {
                    scorer.add(prev, None, prev_origin);
                    rows += 1;
                }
                (None, false)
            }
            SourceEvent::DeadLetter(d) => {
                dead_letters.push(d);
                (None, false)
            }
            SourceEvent::End => (None, true),
            SourceEvent::Idle | SourceEvent::PartitionEnd(_) => (None, false),
            SourceEvent::Joined(_) | SourceEvent::Seen(_) => {
                return Err(EngineError::Config("CSV files do not hold joined records".into()))
            }
        };
        if let Some(identity) = identity {
            match pending.take() {
                Some((tx, origin)) if tx.id() == identity.id() => {
                    scorer.add(tx, Some(identity), origin);
                    rows += 1;
                    with_identity += 1;
                }
                other => {
                    // Not right after its transaction: a duplicate of an identity already joined.
                    pending = other;
                    duplicates += 1;
                }
            }
        }
        if done {
            if let Some((tx, origin)) = pending.take() {
                scorer.add(tx, None, origin);
                rows += 1;
            }
        }
        if scorer.rows.len() >= config.batch_size || (done && !scorer.rows.is_empty()) {
            scorer.flush()?;
            progress.store(rows, Ordering::Relaxed);
        }
        if done {
            break;
        }
    }
    scorer.finish(config, rows, with_identity, duplicates, dead_letters, started)
}

/// Appends `,value` per model input: numbers in the shortest text that reads back as the same `f64` (ryu), a
/// missing number (NaN) as an empty field; text as is, a missing string being the empty string the model is fed,
/// quoted only when it holds a comma, quote or line break.
pub fn write_feature_fields(line: &mut Vec<u8>, values: &[InputValue<'_>]) {
    let mut ryu = ryu::Buffer::new();
    for v in values {
        line.push(b',');
        match v {
            InputValue::Num(x) if x.is_nan() => {}
            InputValue::Num(x) => line.extend_from_slice(ryu.format(*x).as_bytes()),
            InputValue::Str(s) => write_csv_text(line, s),
        }
    }
}

/// One CSV field, quoted (RFC 4180) only when it must be.
fn write_csv_text(line: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        line.push(b'"');
        line.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        line.push(b'"');
    } else {
        line.extend_from_slice(s.as_bytes());
    }
}

impl BatchWriter<'_> {
    /// Flushes the output file and sums up.
    fn finish(
        mut self,
        config: &ScoreConfig,
        rows: u64,
        with_identity: u64,
        duplicate_identities: u64,
        dead_letters: Vec<DeadLetter>,
        started: Instant,
    ) -> Result<ScoreSummary, EngineError> {
        self.out.flush().map_err(|e| EngineError::Io { path: config.out.clone(), source: e })?;
        if let Some((out, path)) = &mut self.features {
            out.flush().map_err(|e| EngineError::Io { path: path.clone(), source: e })?;
        }
        let auc = if self.all_labelled { roc_auc(&self.scores, &self.labels) } else { None };
        Ok(ScoreSummary { rows, with_identity, duplicate_identities, auc, elapsed: started.elapsed(), dead_letters })
    }
}
