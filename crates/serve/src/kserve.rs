//! KServe v2 / Open Inference Protocol: health, model metadata and readiness, `infer`.
//!
//! Contract:
//! - `GET /v2/health/live` → 200 `{"live": true}`; `GET /v2/health/ready` → 200 `{"ready": true}` when every
//!   model has a ready default version, else 503 `{"ready": false}`.
//! - `GET /v2/models/{name}[/versions/{v}]` → `{"name", "versions", "platform": "onnx", "inputs", "outputs"}`
//!   (datatypes FP32/FP64/INT64/BYTES, shapes with -1 for the batch dimension); `…/ready` → 200 `{"name",
//!   "version", "ready": true}` or 503 with the load error.
//! - `POST …/infer` with `{"id"?, "inputs": [{"name", "shape", "datatype", "data"}], "outputs"?: [{"name"}]}`:
//!   one tensor per model input (or `TransactionDT` for derived calendar inputs), `data` flat or nested row-major,
//!   `shape[0]` rows. An input name the model lacks is a 400 that names it and the model's inputs; inputs not
//!   sent follow the row rules in [`crate::inputs`] (derived or missing, as if sent as `null`). The reply
//!   has outputs `label` (INT64) and `probability` (FP32, class 1). Requesting the output `reasons` (optionally
//!   `"parameters": {"top": K}`, default 3) adds a BYTES tensor of shape `[rows]`, each element the row's top K
//!   reason codes as a JSON array `[{"feature", "value", "contribution"}]` (see [`crate::reasons`]). Requesting
//!   `expected_value` adds an FP64 tensor of shape `[rows]` holding the explainer's expected margin (log-odds, the
//!   same for every row) of the version that scored: with all reasons, a row's contributions plus it are the
//!   row's logit. Either on a model that cannot be explained (not a tree ensemble) is a 400 naming the output.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use fraudstream_model::{BinaryScores, ElemType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::inputs::{kind, RowFiller, Slot};
use crate::metrics::Endpoint;
use crate::names::{self, Place};
use crate::registry::{parse_version, LoadedModel, VersionState};
use crate::scoring::{self, json_bytes};
use crate::AppState;

pub(crate) async fn server_metadata() -> Json<Value> {
    Json(json!({"name": "fraudstream-serve", "version": env!("CARGO_PKG_VERSION"), "extensions": []}))
}

pub(crate) async fn live() -> Json<Value> {
    Json(json!({"live": true}))
}

pub(crate) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let ready = state.registry().all_ready();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"ready": ready}))).into_response()
}

/// The v2 datatype of a model element type.
pub(crate) fn datatype(e: ElemType) -> &'static str {
    match e {
        ElemType::Float => "FP32",
        ElemType::Double => "FP64",
        ElemType::Int64 => "INT64",
        ElemType::String => "BYTES",
    }
}

fn metadata(model: &LoadedModel, versions: Vec<String>) -> Value {
    let inputs: Vec<Value> = model
        .plan
        .inputs()
        .iter()
        .map(|p| json!({"name": p.name, "datatype": datatype(p.elem), "shape": p.shape}))
        .collect();
    let mut doc = json!({
        "name": model.name,
        "versions": versions,
        "platform": "onnx",
        "inputs": inputs,
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probability", "datatype": "FP32", "shape": [-1]},
        ],
    });
    if let (Some(meta), Value::Object(o)) = (&model.metadata, &mut doc) {
        o.insert("parameters".into(), json!({"version": model.version.to_string(), "metadata": meta}));
    } else if let Value::Object(o) = &mut doc {
        o.insert("parameters".into(), json!({"version": model.version.to_string()}));
    }
    doc
}

fn model_metadata(state: &AppState, name: &str, version: Option<&str>) -> Result<Json<Value>, ApiError> {
    let version = version.map(|v| parse_version(name, v)).transpose()?;
    let registry = state.registry();
    let mv = registry.get(name)?;
    let versions: Vec<String> = mv.versions().map(|(v, _)| v.to_string()).collect();
    let (model, _) = registry.resolve(Some(name), version)?;
    Ok(Json(metadata(&model, versions)))
}

pub(crate) async fn metadata_default(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    model_metadata(&state, &name, None)
}

pub(crate) async fn metadata_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    model_metadata(&state, &name, Some(&version))
}

/// Readiness of one version (or the default): 200 when ready, 503 with the reason when it failed to load.
pub(crate) fn model_ready(state: &AppState, name: &str, version: Option<&str>) -> Result<Response, ApiError> {
    let registry = state.registry();
    let mv = registry.get(name)?;
    let v = match version {
        Some(v) => parse_version(name, v)?,
        None => match mv.default_version() {
            Some(v) => v,
            None => {
                let body = json!({"name": name, "ready": false, "error": "no ready version"});
                return Ok((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response());
            }
        },
    };
    match mv.state(v) {
        Some(VersionState::Ready(_)) => {
            Ok(Json(json!({"name": name, "version": v.to_string(), "ready": true})).into_response())
        }
        Some(VersionState::Failed { error, .. }) => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"name": name, "version": v.to_string(), "ready": false, "error": error})),
        )
            .into_response()),
        None => Err(ApiError::UnknownVersion { name: name.to_string(), version: v.to_string() }),
    }
}

pub(crate) async fn ready_default(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    model_ready(&state, &name, None)
}

pub(crate) async fn ready_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    model_ready(&state, &name, Some(&version))
}

#[derive(Debug, Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<InferInput>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
    /// Not used, but read so that a `parameters` that is no object is refused as the protocol defines it.
    #[serde(default, rename = "parameters", deserialize_with = "parameters")]
    _parameters: (),
}

#[derive(Debug, Deserialize)]
struct InferInput {
    name: String,
    shape: Vec<u64>,
    datatype: String,
    data: Value,
    #[serde(default, rename = "parameters", deserialize_with = "parameters")]
    _parameters: (),
}

/// Accepts a `parameters` member only as an object (or `null`), naming it otherwise: the protocol defines it as
/// an object, and a malformed one means the client is not speaking v2 as it thinks.
fn parameters<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    match Value::deserialize(d)? {
        Value::Object(_) | Value::Null => Ok(()),
        other => Err(serde::de::Error::custom(format!("`parameters` must be an object, got {}", kind(&other)))),
    }
}

#[derive(Debug, Deserialize)]
struct RequestedOutput {
    name: String,
    /// For `reasons`: `{"top": K}` (default [`DEFAULT_REASONS`]).
    #[serde(default)]
    parameters: Option<Value>,
}

/// Reasons per row when the `reasons` output is requested without `parameters.top`.
const DEFAULT_REASONS: usize = 3;

/// Which outputs the reply carries, and the request id to echo.
pub(crate) struct InferExtra {
    id: Option<String>,
    label: bool,
    probability: bool,
    /// Per row, its reason codes as a JSON array (the `reasons` output), when requested.
    reasons: Option<Vec<Value>>,
    /// The explainer's expected margin (log-odds) of the version that scored (the `expected_value` output), when
    /// requested: a client adds it to a row's contributions to get the row's logit, and needs it from that version.
    expected: Option<f64>,
}

pub(crate) async fn infer_default(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    infer(&state, &name, None, body).await
}

pub(crate) async fn infer_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    infer(&state, &name, Some(&version), body).await
}

async fn infer(
    state: &Arc<AppState>,
    name: &str,
    version: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = scoring::body(state, body)?;
    let version = version.map(|v| parse_version(name, v)).transpose()?;
    let out = scoring::run(state, Endpoint::V2Infer, Some(name), version, body, score, 0).await?;
    let n = out.scores.labels.len();
    let mut outputs = Vec::with_capacity(3);
    if out.extra.label {
        outputs.push(json!({"name": "label", "datatype": "INT64", "shape": [n], "data": out.scores.labels}));
    }
    if out.extra.probability {
        let p: Vec<f64> = out.scores.p_positive.iter().map(|&p| f64::from(p)).collect();
        outputs.push(json!({"name": "probability", "datatype": "FP32", "shape": [n], "data": p}));
    }
    if let Some(reasons) = &out.extra.reasons {
        // BYTES: one element per row, each the row's reasons as a JSON array (v2 has no nested tensor type).
        let data: Vec<String> = reasons.iter().map(Value::to_string).collect();
        outputs.push(json!({"name": "reasons", "datatype": "BYTES", "shape": [n], "data": data}));
    }
    if let Some(expected) = out.extra.expected {
        // Repeated per row so that, like every other output, its first dimension is the batch.
        outputs.push(json!({"name": "expected_value", "datatype": "FP64", "shape": [n], "data": vec![expected; n]}));
    }
    let mut reply = json!({
        "model_name": out.model.name,
        "model_version": out.model.version.to_string(),
        "outputs": outputs,
    });
    if let (Some(id), Value::Object(o)) = (out.extra.id, &mut reply) {
        o.insert("id".into(), Value::String(id));
    }
    let bytes = serde_json::to_vec(&reply).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_bytes(bytes))
}

/// The reason count of a requested `reasons` output: `parameters.top`, a whole number (default
/// [`DEFAULT_REASONS`]).
fn requested_reasons(parameters: Option<&Value>) -> Result<usize, ApiError> {
    let top = match parameters {
        None | Some(Value::Null) => return Ok(DEFAULT_REASONS),
        Some(Value::Object(p)) => p.get("top"),
        Some(other) => {
            return Err(ApiError::field(
                "outputs.reasons.parameters",
                None,
                format!("must be an object, got {}", kind(other)),
            ))
        }
    };
    match top {
        None | Some(Value::Null) => Ok(DEFAULT_REASONS),
        Some(Value::Number(n)) => crate::reasons::parse_count("outputs.reasons.parameters.top", &n.to_string()),
        Some(other) => Err(ApiError::field(
            "outputs.reasons.parameters.top",
            None,
            format!("must be a whole number, got {}", kind(other)),
        )),
    }
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("data is nested too deeply".into());
    }
    match v {
        Value::Array(items) => {
            for item in items {
                flatten(item, out, depth + 1)?;
            }
        }
        other => out.push(other),
    }
    Ok(())
}

const NUMERIC_TYPES: &[&str] =
    &["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"];

/// Parses a v2 infer body and scores it with `model`.
pub(crate) fn score(model: &LoadedModel, body: &[u8], _: usize) -> Result<(BinaryScores, InferExtra), ApiError> {
    let req: InferRequest = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::MalformedJson(e.to_string())
        } else {
            ApiError::bad(format!("not a v2 inference request: {e}"))
        }
    })?;
    let (mut label, mut probability, mut reasons, mut expected) = (true, true, 0, false);
    if let Some(outs) = &req.outputs {
        if !outs.is_empty() {
            (label, probability) = (false, false);
        }
        for o in outs {
            match o.name.as_str() {
                "label" | "output_label" => label = true,
                "probability" | "output_probability" | "probabilities" => probability = true,
                "reasons" => reasons = requested_reasons(o.parameters.as_ref())?,
                "expected_value" => expected = true,
                other => {
                    return Err(ApiError::field(
                        "outputs",
                        None,
                        format!(
                            "unknown output `{other}`; this model has `label`, `probability`, `reasons` and \
                             `expected_value`"
                        ),
                    ))
                }
            }
        }
    }
    let plan = &model.plan;
    // Per input tensor: target (model input index, or None for TransactionDT only), width, flattened values.
    let mut tensors: Vec<(Option<usize>, bool, usize, Vec<&Value>)> = Vec::with_capacity(req.inputs.len());
    let mut rows: Option<(usize, &str)> = None;
    let mut seen = vec![false; plan.inputs().len()];
    let unknown: Vec<&str> = req
        .inputs
        .iter()
        .filter(|t| plan.lookup(&t.name).is_none() && !plan.is_dt_field(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(names::unknown(plan, &unknown, Place::Tensors));
    }
    for t in &req.inputs {
        let target = plan.lookup(&t.name);
        let is_dt = plan.is_dt_field(&t.name);
        if let Some(i) = target {
            if std::mem::replace(&mut seen[i], true) {
                return Err(ApiError::field(&t.name, None, "given twice"));
            }
            let p = &plan.inputs()[i];
            let ok = if p.is_numeric() { NUMERIC_TYPES.contains(&t.datatype.as_str()) } else { t.datatype == "BYTES" };
            if !ok {
                return Err(ApiError::field(
                    &t.name,
                    None,
                    format!("datatype {} does not fit this {} input", t.datatype, crate::kserve::datatype(p.elem)),
                ));
            }
        } else if !NUMERIC_TYPES.contains(&t.datatype.as_str()) {
            return Err(ApiError::field(&t.name, None, format!("datatype {} is not numeric", t.datatype)));
        }
        let n_rows = usize::try_from(t.shape.first().copied().unwrap_or(1))
            .map_err(|_| ApiError::field(&t.name, None, "shape is too large"))?;
        let per_row =
            t.shape.iter().skip(1).try_fold(1usize, |acc, &d| usize::try_from(d).ok().and_then(|d| acc.checked_mul(d)));
        let per_row = per_row.ok_or_else(|| ApiError::field(&t.name, None, "shape is too large"))?;
        let width = target.map_or(1, |i| plan.inputs()[i].width);
        if per_row != width {
            return Err(ApiError::field(
                &t.name,
                None,
                format!("shape {:?} gives {per_row} value(s) per row, the model input takes {width}", t.shape),
            ));
        }
        let mut flat = Vec::new();
        flatten(&t.data, &mut flat, 0).map_err(|m| ApiError::field(&t.name, None, m))?;
        if n_rows.checked_mul(width) != Some(flat.len()) {
            return Err(ApiError::field(
                &t.name,
                None,
                format!("shape {:?} needs {} values, data has {}", t.shape, n_rows.saturating_mul(width), flat.len()),
            ));
        }
        match rows {
            None => rows = Some((n_rows, &t.name)),
            Some((r, first)) if r != n_rows => {
                return Err(ApiError::field(&t.name, None, format!("has {n_rows} rows but `{first}` has {r}")));
            }
            _ => {}
        }
        tensors.push((target, is_dt, width, flat));
    }
    let n_rows = rows.map_or(0, |(r, _)| r);
    let (scores, reasons) = model.score_explained(reasons, |batch| {
        let mut filler = RowFiller::new(plan);
        for r in 0..n_rows {
            for (target, is_dt, width, flat) in &tensors {
                let w = *width;
                if let Some(i) = target {
                    let slot = if w == 1 { Slot::One(flat[r]) } else { Slot::Refs(&flat[r * w..(r + 1) * w]) };
                    filler.set(*i, slot);
                }
                if *is_dt {
                    filler.set_dt(flat[r * w]);
                }
            }
            filler.finish_row(r, batch)?;
        }
        Ok(n_rows)
    })?;
    let expected = match expected {
        false => None,
        true => Some(
            model
                .model
                .explainer()
                .map_err(|e| {
                    ApiError::field("outputs.expected_value", None, format!("this model cannot give reason codes: {e}"))
                })?
                .expected(),
        ),
    };
    Ok((scores, InferExtra { id: req.id, label, probability, reasons, expected }))
}
