//! The scoring step of the model stage: a micro-batch of joined records in, one fraud probability per record out.
//!
//! The stage around it (micro-batching, timeouts, sinks) is the same whatever does the scoring; [`Scorer`] is the
//! seam. [`InProcessScorer`] runs an ONNX model in this process through the shared [`InputMapping`], so the stream
//! feeds the model exactly what `fraudstream score` feeds it; [`RemoteScorer`] sends the same inputs to an HTTP
//! endpoint in the Azure ML / Confluent `ML_PREDICT` format (e.g. `fraudstream serve`).

use fraudstream_features::InputMapping;
use fraudstream_model::{InputBatch, Model};

use crate::error::EngineError;
use crate::join::Joined;

/// The scores of one micro-batch, row for row.
#[derive(Debug, Default, Clone)]
pub struct BatchScores {
    /// Probability of fraud.
    pub p: Vec<f64>,
    /// The model's own label (its argmax class), where it has one.
    pub labels: Vec<i64>,
}

impl BatchScores {
    pub fn clear(&mut self) {
        self.p.clear();
        self.labels.clear();
    }
}

/// Scores micro-batches of joined records.
pub trait Scorer {
    /// Appends one score per row of `rows` to `out`, in order.
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError>;
}

/// An ONNX model run in-process; input buffers are reused from batch to batch.
pub struct InProcessScorer<'m> {
    model: &'m Model,
    mapping: InputMapping,
    inputs: InputBatch,
}

impl<'m> InProcessScorer<'m> {
    /// Resolves the model's inputs once; an input nothing can fill is an error naming it.
    pub fn new(model: &'m Model) -> Result<InProcessScorer<'m>, EngineError> {
        Ok(InProcessScorer { model, mapping: InputMapping::for_model(model)?, inputs: InputBatch::new(model)? })
    }

    /// Fills the model's input buffers for `rows` (the feature step alone, without running the model).
    pub fn fill_inputs(&mut self, rows: &[Joined]) -> Result<&mut InputBatch, EngineError> {
        self.inputs.clear();
        for r in rows {
            self.mapping.push(&r.feature_row(), &mut self.inputs)?;
        }
        Ok(&mut self.inputs)
    }
}

impl Scorer for InProcessScorer<'_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let model = self.model;
        let result = model.predict_proba(self.fill_inputs(rows)?)?;
        out.p.extend(result.p_positive.iter().map(|&p| p as f64));
        out.labels.extend_from_slice(&result.labels);
        Ok(())
    }
}

/// How a [`RemoteScorer`] calls its endpoint.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The scoring URL, e.g. `http://127.0.0.1:8000/score` (fraudstream serve) or an Azure ML endpoint.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: std::time::Duration,
    /// Attempts per batch before the batch fails.
    pub attempts: u32,
    /// First retry delay; doubled per attempt, with ±50% jitter.
    pub backoff: std::time::Duration,
}

/// A model behind an HTTP endpoint speaking the Azure ML request format that Confluent's `ML_PREDICT` sends:
/// `{"input_data":{"columns":[...],"index":[...],"data":[[...],...]}}`, answered with one probability per row
/// (`?output=probability`). The input columns are the model's input names, filled by the same [`InputMapping`] as
/// in-process scoring, so remote and local scores agree. Missing numbers are sent as `null`.
pub struct RemoteScorer {
    config: RemoteConfig,
    http: reqwest::blocking::Client,
    mapping: InputMapping,
    url: String,
    attempt_seed: u64,
}

impl RemoteScorer {
    /// `schema` is the model file whose input names and types the endpoint expects (it is not run locally).
    pub fn new(config: RemoteConfig, schema: &Model) -> Result<RemoteScorer, EngineError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EngineError::Config(format!("creating the HTTP client for {}: {e}", config.url)))?;
        let sep = if config.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}output=probability", config.url);
        Ok(RemoteScorer { http, mapping: InputMapping::for_model(schema)?, url, config, attempt_seed: 0x2545_f491 })
    }

    fn request_body(&self, rows: &[Joined]) -> serde_json::Value {
        use fraudstream_features::mapping::InputValue;
        let data: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let values = self.mapping.values(&r.feature_row());
                serde_json::Value::Array(
                    values
                        .into_iter()
                        .map(|v| match v {
                            InputValue::Num(x) => {
                                serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, Into::into)
                            }
                            InputValue::Str(s) => serde_json::Value::String(s.to_string()),
                        })
                        .collect(),
                )
            })
            .collect();
        serde_json::json!({ "input_data": {
            "columns": self.mapping.names(),
            "index": (0..rows.len()).collect::<Vec<_>>(),
            "data": data,
        }})
    }

    fn call(&self, body: &serde_json::Value, rows: usize) -> Result<Vec<f64>, String> {
        let mut req = self.http.post(&self.url).json(body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| format!("reading the answer failed: {e}"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", text.chars().take(300).collect::<String>()));
        }
        let scores: Vec<f64> = serde_json::from_str(&text)
            .map_err(|e| format!("expected a JSON array of probabilities, got {:.200}: {e}", text))?;
        if scores.len() != rows {
            return Err(format!("sent {rows} rows, got {} scores", scores.len()));
        }
        Ok(scores)
    }
}

impl Scorer for RemoteScorer {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let body = self.request_body(rows);
        let mut delay = self.config.backoff;
        let mut last_error = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            match self.call(&body, rows.len()) {
                Ok(scores) => {
                    out.labels.extend(scores.iter().map(|&p| i64::from(p > 0.5)));
                    out.p.extend(scores);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!("scoring call {attempt} to {} failed: {e}", self.config.url);
                    last_error = e;
                }
            }
            if attempt < self.config.attempts {
                // Exponential backoff with ±50% jitter, so many clients do not retry in lockstep.
                self.attempt_seed ^= self.attempt_seed << 13;
                self.attempt_seed ^= self.attempt_seed >> 7;
                self.attempt_seed ^= self.attempt_seed << 17;
                let jitter = 0.5 + (self.attempt_seed % 1000) as f64 / 1000.0;
                std::thread::sleep(delay.mul_f64(jitter));
                delay *= 2;
            }
        }
        Err(EngineError::Config(format!(
            "the model endpoint {} failed {} times for a batch of {} rows; last error: {last_error}",
            self.config.url,
            self.config.attempts.max(1),
            rows.len()
        )))
    }
}
