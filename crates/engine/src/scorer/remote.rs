//! Scoring through a model server over HTTP, in one of two request formats:
//!
//! - **Azure ML** (`azureml`): what Confluent's `ML_PREDICT` sends for provider `azureml` —
//!   `{"input_data":{"columns":[...],"index":[...],"data":[[...],...]}}`, answered with one probability per row
//!   (`?output=probability` on `fraudstream serve`).
//! - **KServe v2** (`kserve-v2`, the Open Inference Protocol of KServe, Triton, Seldon): one named tensor per model
//!   input, answered with a `probability` output (`[n]`) or an ONNX-style `probabilities` output (`[n, 2]`).
//!
//! The inputs are the model's input names, filled by the same [`InputMapping`] as in-process scoring, so remote and
//! local scores agree. Missing values are sent as JSON `null`. Transport errors, HTTP 5xx and 429 are retried with
//! exponential backoff and jitter; other 4xx answers mean the request itself is wrong and fail at once. A shared
//! [`CircuitBreaker`] stops calling an endpoint that keeps failing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_features::{InputMapping, InputValue};
use fraudstream_model::{ElemType, Model};
use serde_json::{json, Value};

use super::{BatchScores, BreakerConfig, CircuitBreaker, Scorer};
use crate::error::EngineError;
use crate::flow::Joined;

/// Which request format the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteProtocol {
    #[default]
    AzureMl,
    KserveV2,
}

impl std::str::FromStr for RemoteProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<RemoteProtocol, String> {
        match s {
            "azureml" => Ok(RemoteProtocol::AzureMl),
            "kserve-v2" | "v2" => Ok(RemoteProtocol::KserveV2),
            other => Err(format!("unknown model protocol `{other}` (expected `azureml` or `kserve-v2`)")),
        }
    }
}

impl RemoteProtocol {
    /// The protocol a URL implies: KServe v2 for `…/v2/models/{name}[/versions/{v}]/infer`, else Azure ML.
    pub fn for_url(url: &str) -> RemoteProtocol {
        if url.contains("/v2/models/") && url.trim_end_matches('/').ends_with("/infer") {
            RemoteProtocol::KserveV2
        } else {
            RemoteProtocol::AzureMl
        }
    }
}

/// How a [`RemoteScorer`] calls its endpoint.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The scoring URL, e.g. `http://127.0.0.1:8000/score` (fraudstream serve, Azure ML) or
    /// `http://127.0.0.1:8000/v2/models/fraud/infer` (KServe v2).
    pub url: String,
    pub protocol: RemoteProtocol,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per batch before the batch fails.
    pub attempts: u32,
    /// First retry delay; doubled per attempt, with ±50% jitter.
    pub backoff: Duration,
    pub breaker: BreakerConfig,
}

/// A model behind an HTTP endpoint. Cloning shares the HTTP connection pool and the circuit breaker, so several
/// copies can keep batches in flight concurrently (`--max-in-flight`).
#[derive(Clone)]
pub struct RemoteScorer {
    config: Arc<RemoteConfig>,
    http: reqwest::blocking::Client,
    mapping: Arc<InputMapping>,
    /// KServe v2 datatype per model input.
    datatypes: Arc<[&'static str]>,
    url: Arc<str>,
    breaker: Arc<CircuitBreaker>,
    attempt_seed: u64,
}

/// Why one call failed, and whether trying again can help.
struct CallError {
    message: String,
    retryable: bool,
}

impl RemoteScorer {
    /// `schema` is the model file whose input names and types the endpoint expects (it is not run locally).
    pub fn new(config: RemoteConfig, schema: &Model) -> Result<RemoteScorer, EngineError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EngineError::Config(format!("creating the HTTP client for {}: {e}", config.url)))?;
        let url = match config.protocol {
            RemoteProtocol::AzureMl => {
                let sep = if config.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}output=probability", config.url)
            }
            RemoteProtocol::KserveV2 => config.url.clone(),
        };
        let datatypes = schema
            .inputs()
            .iter()
            .map(|i| match i.elem_type() {
                Some(ElemType::String) => "BYTES",
                Some(ElemType::Double) => "FP64",
                Some(ElemType::Int64) => "INT64",
                _ => "FP32",
            })
            .collect();
        Ok(RemoteScorer {
            http,
            mapping: Arc::new(InputMapping::for_model(schema)?),
            datatypes,
            url: url.into(),
            breaker: Arc::new(CircuitBreaker::new(config.breaker)),
            config: Arc::new(config),
            attempt_seed: 0x2545_f491,
        })
    }

    fn request_body(&self, rows: &[Joined]) -> Value {
        let json_value = |v: InputValue<'_>| match v {
            InputValue::Num(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
            InputValue::Str(s) => Value::String(s.to_string()),
        };
        let values: Vec<Vec<InputValue<'_>>> = rows.iter().map(|r| self.mapping.values(&r.feature_row())).collect();
        match self.config.protocol {
            RemoteProtocol::AzureMl => json!({ "input_data": {
                "columns": self.mapping.names(),
                "index": (0..rows.len()).collect::<Vec<_>>(),
                "data": values.into_iter().map(|row| row.into_iter().map(json_value).collect()).collect::<Vec<Value>>(),
            }}),
            RemoteProtocol::KserveV2 => {
                let inputs: Vec<Value> = (0..self.mapping.names().len())
                    .map(|i| {
                        json!({
                            "name": self.mapping.names()[i],
                            "shape": [rows.len(), 1],
                            "datatype": self.datatypes[i],
                            "data": values.iter().map(|row| json_value(row[i].clone())).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({ "inputs": inputs })
            }
        }
    }

    fn call(&self, body: &Value, rows: usize) -> Result<Vec<f64>, CallError> {
        let mut req = self.http.post(&*self.url).json(body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().map_err(|e| CallError { message: format!("request failed: {e}"), retryable: true })?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| CallError { message: format!("reading the answer failed: {e}"), retryable: true })?;
        if !status.is_success() {
            return Err(CallError {
                message: format!("HTTP {status}: {}", text.chars().take(300).collect::<String>()),
                retryable: status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
            });
        }
        let bad = |message: String| CallError { message, retryable: false };
        let scores = match self.config.protocol {
            RemoteProtocol::AzureMl => serde_json::from_str::<Vec<f64>>(&text)
                .map_err(|e| bad(format!("expected a JSON array of probabilities, got {text:.200}: {e}")))?,
            RemoteProtocol::KserveV2 => v2_probabilities(&text, rows).map_err(bad)?,
        };
        if scores.len() != rows {
            return Err(bad(format!("sent {rows} rows, got {} scores", scores.len())));
        }
        Ok(scores)
    }

    fn jitter(&mut self) -> f64 {
        self.attempt_seed ^= self.attempt_seed << 13;
        self.attempt_seed ^= self.attempt_seed >> 7;
        self.attempt_seed ^= self.attempt_seed << 17;
        0.5 + (self.attempt_seed % 1000) as f64 / 1000.0
    }
}

/// The class-1 probabilities of a KServe v2 answer: a `probability` output (`[n]`), or `probabilities` /
/// `output_probability` (`[n, 2]`, class 1 in the second column).
fn v2_probabilities(text: &str, rows: usize) -> Result<Vec<f64>, String> {
    #[derive(serde::Deserialize)]
    struct Output {
        name: String,
        #[serde(default)]
        shape: Vec<i64>,
        data: Vec<f64>,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        outputs: Vec<Output>,
    }
    let answer: Answer =
        serde_json::from_str(text).map_err(|e| format!("expected a KServe v2 answer, got {text:.200}: {e}"))?;
    let names: Vec<&str> = answer.outputs.iter().map(|o| o.name.as_str()).collect();
    for o in &answer.outputs {
        match o.name.as_str() {
            "probability" => return Ok(o.data.clone()),
            "probabilities" | "output_probability" if o.shape.get(1) == Some(&2) || o.data.len() == 2 * rows => {
                return Ok(o.data.iter().skip(1).step_by(2).copied().collect())
            }
            _ => {}
        }
    }
    Err(format!("the answer has no `probability` or two-column `probabilities` output (outputs: {names:?})"))
}

impl Scorer for RemoteScorer {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let config = self.config.clone();
        let failed = |attempts: u32, last: &str| {
            EngineError::ModelEndpoint(format!(
                "the model endpoint {} failed {attempts} time(s) for a batch of {} rows; last error: {last}",
                config.url,
                rows.len()
            ))
        };
        if let Err(open_for) = self.breaker.allow(Instant::now()) {
            return Err(EngineError::ModelEndpoint(format!(
                "the circuit breaker for {} is open (for {open_for:.1?} more) after repeated failures",
                self.config.url
            )));
        }
        let body = self.request_body(rows);
        let mut delay = self.config.backoff;
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            match self.call(&body, rows.len()) {
                Ok(scores) => {
                    self.breaker.record(true, Instant::now());
                    out.labels.extend(scores.iter().map(|&p| i64::from(p > 0.5)));
                    out.p.extend(scores);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!("scoring call {attempt} to {} failed: {}", self.config.url, e.message);
                    if !e.retryable || attempt == attempts {
                        self.breaker.record(false, Instant::now());
                        return Err(failed(attempt, &e.message));
                    }
                }
            }
            // Exponential backoff with ±50% jitter, so many clients do not retry in lockstep.
            let jitter = self.jitter();
            std::thread::sleep(delay.mul_f64(jitter));
            delay *= 2;
        }
        unreachable!("the last attempt returns")
    }

    fn try_clone_send(&self) -> Option<Box<dyn Scorer + Send>> {
        let mut copy = self.clone();
        copy.attempt_seed = self.attempt_seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        Some(Box::new(copy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_from_url() {
        assert_eq!(RemoteProtocol::for_url("http://h:8000/score"), RemoteProtocol::AzureMl);
        assert_eq!(RemoteProtocol::for_url("http://h/v2/models/fraud/infer"), RemoteProtocol::KserveV2);
        assert_eq!(RemoteProtocol::for_url("http://h/v2/models/fraud/versions/2/infer"), RemoteProtocol::KserveV2);
        assert!("grpc".parse::<RemoteProtocol>().unwrap_err().contains("`grpc`"));
    }

    #[test]
    fn v2_answers_in_both_output_layouts() {
        let one = r#"{"outputs":[{"name":"label","shape":[2],"data":[0,1]},{"name":"probability","shape":[2],"data":[0.1,0.9]}]}"#;
        assert_eq!(v2_probabilities(one, 2).expect("probability"), [0.1, 0.9]);
        let two = r#"{"outputs":[{"name":"probabilities","shape":[2,2],"data":[0.8,0.2,0.3,0.7]}]}"#;
        assert_eq!(v2_probabilities(two, 2).expect("probabilities"), [0.2, 0.7]);
        let none = r#"{"outputs":[{"name":"label","shape":[1],"data":[1]}]}"#;
        assert!(v2_probabilities(none, 1).unwrap_err().contains("label"));
    }
}
