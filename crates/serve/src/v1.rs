//! KServe v1 (TensorFlow-Serving style): `POST /v1/models/{name}[/versions/{v}]:predict` and
//! `GET /v1/models/{name}[/versions/{v}]`.
//!
//! Contract: body `{"instances": [row, …]}` where a row is an object of name → value (rules in
//! [`crate::inputs`]: unknown names are a 400, omitted inputs are missing values, an instance needs at least one
//! input) or an array of all model inputs in model order; reply `{"predictions": [p, …]}` with the
//! probability of class 1 per row. The status GET answers `{"name", "version", "ready"}` like KServe's v1
//! model status (503 when not ready). The path is parsed by hand because `:predict` is a suffix inside a segment.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use fraudstream_model::BinaryScores;
use serde_json::Value;

use crate::azureml::fill_object;
use crate::error::ApiError;
use crate::inputs::{kind, RowFiller, Slot};
use crate::metrics::Endpoint;
use crate::registry::{parse_version, LoadedModel};
use crate::scoring::{self, json_bytes};
use crate::AppState;

/// `name` or `name/versions/v` → (name, version).
fn split_target(path: &str) -> Result<(&str, Option<&str>), ApiError> {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(n), None, _, _) if !n.is_empty() => Ok((n, None)),
        (Some(n), Some("versions"), Some(v), None) if !n.is_empty() => Ok((n, Some(v))),
        _ => Err(ApiError::NoRoute(format!("/v1/models/{path}"))),
    }
}

/// Every method on `/v1/models/*`: `…:predict` takes POST, the status path GET/HEAD; anything else is a 405
/// whose `Allow` lists exactly what that path takes.
pub(crate) async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    Path(rest): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    match (rest.strip_suffix(":predict"), &method) {
        (Some(target), &Method::POST) => predict(&state, target, body).await,
        (Some(_), _) => Ok(not_allowed("POST")),
        (None, &Method::GET) | (None, &Method::HEAD) => {
            let (name, version) = split_target(&rest)?;
            crate::kserve::model_ready(&state, name, version)
        }
        (None, _) => Ok(not_allowed("GET,HEAD")),
    }
}

fn not_allowed(allow: &'static str) -> Response {
    let mut resp = ApiError::MethodNotAllowed.into_response();
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

async fn predict(
    state: &Arc<AppState>,
    target: &str,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (name, version) = split_target(target)?;
    let version = version.map(|v| parse_version(name, v)).transpose()?;
    let body = scoring::body(state, body)?;
    let out = scoring::run(state, Endpoint::V1Predict, Some(name), version, body, score, 0).await?;
    let p: Vec<f64> = out.scores.p_positive.iter().map(|&p| f64::from(p)).collect();
    let bytes =
        serde_json::to_vec(&serde_json::json!({ "predictions": p })).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_bytes(bytes))
}

pub(crate) fn score(model: &LoadedModel, body: &[u8], _: usize) -> Result<(BinaryScores, ()), ApiError> {
    let req = scoring::parse_json(body)?;
    let instances = match req.get("instances") {
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(ApiError::field("instances", None, format!("expected an array, got {}", kind(other))))
        }
        None => return Err(ApiError::field("instances", None, "missing: send {\"instances\": [{...}, ...]}")),
    };
    let n_inputs = model.plan.inputs().len();
    let dt_input = model.plan.inputs().iter().position(|p| model.plan.is_dt_field(&p.name));
    let scores = model.score(|batch| {
        let mut filler = RowFiller::new(&model.plan);
        for (r, row) in instances.iter().enumerate() {
            match row {
                Value::Array(values) => {
                    if values.len() != n_inputs {
                        return Err(ApiError::row(
                            r,
                            format!(
                                "has {} values; an array instance needs all {n_inputs} model inputs in order",
                                values.len()
                            ),
                        ));
                    }
                    for (i, v) in values.iter().enumerate() {
                        filler.set(i, Slot::One(v));
                    }
                    if let Some(d) = dt_input {
                        filler.set_dt(&values[d]);
                    }
                    filler.finish_row(r, batch)?;
                }
                other => fill_object(&mut filler, other, r, batch)?,
            }
        }
        Ok(instances.len())
    })?;
    Ok((scores, ()))
}
