//! `POST /score[/{name}[${version}]]`: the Azure ML scoring-script protocol Confluent's `ML_PREDICT` speaks for
//! provider `azureml` (input format `AZUREML-PANDAS-DATAFRAME`).
//!
//! Accepted bodies (`input_data` holds a pandas DataFrame in "split" orientation, one or more rows):
//! - `{"input_data": {"columns": [names…], "index": [..], "data": [[values…], …]}}` — values by column name;
//! - `{"input_data": {"data": [["{\"TransactionID\": 2987000, …}"], …]}}` — one string column, each cell a JSON
//!   object of name → value (also taken when `columns` names a single column that is no model input);
//! - `{"input_data": {"data": [[values…]]}}` without `columns` and as many values as model inputs — positional,
//!   in model input order;
//! - `{"input_data": [{name: value, …}, …]}` — "records" orientation.
//!
//! Names follow [`crate::inputs`]: a column or field that is no model input is a 400 naming it (and the row, for
//! row objects) with the model's input names; an omitted input is a missing value, like `null`; a row must carry
//! at least one input. `index` is ignored. Reply, like the reference scoring script: a JSON array of labels (`[0,1,0]`); with
//! `?output=probability` or header `X-Output: probability`, an array of fraud probabilities (the f32 the model
//! computes, printed as Python prints `float(np.float32)`). With `?reasons=K` each row is instead an object
//! `{"label", "probability", "reasons": [{"feature", "value", "contribution"}]}` with its top K reason codes (see
//! [`crate::reasons`]); ML_PREDICT never sends it, so its replies are unchanged. `/score/fraud$2` addresses version 2 the way
//! Confluent writes model versions; `/score` needs exactly one loaded model.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fraudstream_model::{BinaryScores, InputBatch};
use serde_json::Value;

use crate::error::ApiError;
use crate::inputs::InputPlan;
use crate::inputs::{kind, FieldSet, RowFiller, Slot};
use crate::metrics::Endpoint;
use crate::names::{self, Place};
use crate::registry::{parse_version, LoadedModel};
use crate::scoring::{self, json_bytes};
use crate::AppState;

/// What the reply lists per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Label,
    Probability,
}

/// The reply mode from `?output=` and the `X-Output` header. Each one given must be valid (a bad header is not
/// ignored because the query names a mode); the query wins when both are.
fn output_mode(query: Option<&str>, headers: &HeaderMap) -> Result<Output, ApiError> {
    let from_query = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("output=")));
    let from_query = from_query.map(|v| parse_output("output", v)).transpose()?;
    let from_header = match headers.get("x-output") {
        None => None,
        Some(v) => {
            let text = v.to_str().map_err(|_| ApiError::field("X-Output", None, "is not visible ASCII"))?;
            Some(parse_output("X-Output", text)?)
        }
    };
    Ok(from_query.or(from_header).unwrap_or(Output::Label))
}

fn parse_output(field: &str, value: &str) -> Result<Output, ApiError> {
    match value.trim() {
        "" | "label" | "labels" => Ok(Output::Label),
        "probability" | "probabilities" | "proba" => Ok(Output::Probability),
        other => Err(ApiError::field(field, None, format!("unknown output {other:?}; use `label` or `probability`"))),
    }
}

pub(crate) async fn score_default(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    handle(&state, None, query, &headers, body).await
}

pub(crate) async fn score_named(
    State(state): State<Arc<AppState>>,
    Path(target): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    handle(&state, Some(&target), query, &headers, body).await
}

async fn handle(
    state: &Arc<AppState>,
    target: Option<&str>,
    query: Option<String>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = scoring::body(state, body)?;
    let output = output_mode(query.as_deref(), headers)?;
    let (name, version) = match target {
        None => (None, None),
        Some(t) => match t.rsplit_once('$') {
            Some((n, v)) => (Some(n), Some(parse_version(n, v)?)),
            None => (Some(t), None),
        },
    };
    let reasons = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("reasons=")))
        .map(|v| crate::reasons::parse_count("reasons", v))
        .transpose()?
        .unwrap_or(0);
    let out = scoring::run(state, Endpoint::Score, name, version, body, score, reasons).await?;
    let bytes = match (out.extra, output) {
        // With reasons every row is an object: its label, probability and reasons.
        (Some(reasons), _) => {
            let rows: Vec<Value> = (out.scores.labels.iter().zip(&out.scores.p_positive).zip(reasons))
                .map(|((&label, &p), reasons)| {
                    serde_json::json!({"label": label, "probability": f64::from(p), "reasons": reasons})
                })
                .collect();
            serde_json::to_vec(&rows)
        }
        (None, Output::Label) => serde_json::to_vec(&out.scores.labels),
        (None, Output::Probability) => {
            serde_json::to_vec(&out.scores.p_positive.iter().map(|&p| f64::from(p)).collect::<Vec<f64>>())
        }
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_bytes(bytes))
}

/// Parses an Azure ML body and scores it with `model`, with each row's top `reasons` reason codes when asked.
pub(crate) fn score(
    model: &LoadedModel,
    body: &[u8],
    reasons: usize,
) -> Result<(BinaryScores, Option<Vec<Value>>), ApiError> {
    let request = scoring::parse_json(body)?;
    let Value::Object(mut top) = request else {
        return Err(ApiError::bad("the body must be a JSON object with an `input_data` member"));
    };
    let input = match top.remove("input_data") {
        Some(v) => v,
        // Tolerate the frame at top level (`{"columns": …, "data": …}`), as older Azure ML clients send it.
        None if top.contains_key("data") => Value::Object(top),
        None => {
            return Err(ApiError::field(
                "input_data",
                None,
                "missing: send {\"input_data\": {\"columns\": [...], \"data\": [[...]]}}",
            ))
        }
    };
    let scores = match input {
        Value::Object(frame) => score_split(model, &frame, reasons)?,
        Value::Array(records) => score_records(model, &records, reasons)?,
        other => {
            return Err(ApiError::field(
                "input_data",
                None,
                format!("expected an object or an array, got {}", kind(&other)),
            ))
        }
    };
    Ok(scores)
}

fn score_records(
    model: &LoadedModel,
    records: &[Value],
    reasons: usize,
) -> Result<(BinaryScores, Option<Vec<Value>>), ApiError> {
    model.score_explained(reasons, |batch| {
        let mut filler = RowFiller::new(&model.plan);
        for (r, rec) in records.iter().enumerate() {
            fill_object(&mut filler, rec, r, batch)?;
        }
        Ok(records.len())
    })
}

/// Fills one row given as a JSON object; refuses names the model has no input for (all of them named at once).
pub(crate) fn fill_object<'a>(
    filler: &mut RowFiller<'_, 'a>,
    row: &'a Value,
    r: usize,
    batch: &mut InputBatch,
) -> Result<(), ApiError> {
    let Value::Object(map) = row else {
        return Err(ApiError::row(r, format!("expected an object of name → value, got {}", kind(row))));
    };
    let mut unknown: Vec<&str> = Vec::new();
    for (k, v) in map {
        match filler.set_field(k, v) {
            FieldSet::Used => {}
            FieldSet::Unknown => unknown.push(k),
            FieldSet::Twice => return Err(names::twice(k, Some(r))),
        }
    }
    if !unknown.is_empty() {
        return Err(names::unknown(filler.plan(), &unknown, Place::Row(r)));
    }
    filler.finish_row(r, batch)
}

fn score_split(
    model: &LoadedModel,
    frame: &serde_json::Map<String, Value>,
    reasons: usize,
) -> Result<(BinaryScores, Option<Vec<Value>>), ApiError> {
    let rows = match frame.get("data") {
        Some(Value::Array(rows)) => rows,
        Some(other) => {
            return Err(ApiError::field("data", None, format!("expected an array of rows, got {}", kind(other))))
        }
        None => return Err(ApiError::field("data", None, "missing")),
    };
    // `index` is ignored, but must be what pandas writes: a list (or absent).
    match frame.get("index") {
        None | Some(Value::Null) | Some(Value::Array(_)) => {}
        Some(other) => {
            return Err(ApiError::field("index", None, format!("expected an array of row labels, got {}", kind(other))))
        }
    }
    let columns: Option<Vec<&str>> = match frame.get("columns") {
        None | Some(Value::Null) => None,
        Some(Value::Array(cols)) => Some(
            cols.iter()
                .enumerate()
                .map(|(i, c)| {
                    c.as_str().ok_or_else(|| {
                        ApiError::field("columns", None, format!("entry {i} is {}, not a string", kind(c)))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(other) => {
            return Err(ApiError::field("columns", None, format!("expected an array of names, got {}", kind(other))))
        }
    };
    let mut cells = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        match row {
            Value::Array(c) => cells.push(c.as_slice()),
            other => return Err(ApiError::row(r, format!("expected an array of values, got {}", kind(other)))),
        }
    }
    let plan = &model.plan;
    let one_object_per_row = cells.iter().all(|c| matches!(c, [Value::String(_) | Value::Object(_)]));
    let json_column = match &columns {
        Some(cols) => {
            cols.len() == 1 && plan.lookup(cols[0]).is_none() && !plan.is_dt_field(cols[0]) && one_object_per_row
        }
        None => {
            !cells.is_empty()
                && cells.iter().all(|c| c.len() == 1 && matches!(c[0], Value::String(_) | Value::Object(_)))
                && plan.inputs().len() != 1
        }
    };
    if json_column {
        return score_json_column(model, &cells, reasons);
    }
    let positional;
    let cols: &[&str] = match &columns {
        Some(c) => c,
        None => {
            positional = plan.inputs().iter().map(|p| p.name.as_str()).collect::<Vec<_>>();
            if let Some((r, c)) = cells.iter().enumerate().find(|(_, c)| c.len() != positional.len()) {
                return Err(ApiError::row(
                    r,
                    format!(
                        "has {} values but there are no `columns`; send `columns`, one JSON-object string per row, or all {} model inputs in model order",
                        c.len(),
                        positional.len()
                    ),
                ));
            }
            &positional
        }
    };
    let targets = column_targets(plan, cols)?;
    let dt_col = cols.iter().position(|c| plan.is_dt_field(c));
    model.score_explained(reasons, |batch| {
        let mut filler = RowFiller::new(plan);
        for (r, row) in cells.iter().enumerate() {
            if row.len() != cols.len() {
                return Err(ApiError::row(r, format!("has {} values but there are {} columns", row.len(), cols.len())));
            }
            for (v, target) in row.iter().zip(&targets) {
                if let Some(i) = target {
                    filler.set(*i, Slot::One(v));
                }
            }
            if let Some(d) = dt_col {
                filler.set_dt(&row[d]);
            }
            filler.finish_row(r, batch)?;
        }
        Ok(cells.len())
    })
}

/// The input each column fills (`None`: `TransactionDT` feeding derived inputs only). Refuses unknown columns (all
/// of them named at once) and an input given by two columns.
fn column_targets(plan: &InputPlan, cols: &[&str]) -> Result<Vec<Option<usize>>, ApiError> {
    let mut targets = Vec::with_capacity(cols.len());
    let mut unknown: Vec<&str> = Vec::new();
    let mut seen = vec![false; plan.inputs().len()];
    let mut dt_seen = false;
    for c in cols {
        let target = plan.lookup(c);
        match target {
            Some(i) if std::mem::replace(&mut seen[i], true) => return Err(names::twice(c, None)),
            Some(_) => {}
            None if plan.is_dt_field(c) => {
                if std::mem::replace(&mut dt_seen, true) {
                    return Err(names::twice(c, None));
                }
            }
            None => unknown.push(c),
        }
        targets.push(target);
    }
    if !unknown.is_empty() {
        return Err(names::unknown(plan, &unknown, Place::Columns));
    }
    Ok(targets)
}

/// Rows that are one JSON-object string each (or an object already).
fn score_json_column(
    model: &LoadedModel,
    cells: &[&[Value]],
    reasons: usize,
) -> Result<(BinaryScores, Option<Vec<Value>>), ApiError> {
    let mut parsed: Vec<Option<Value>> = Vec::with_capacity(cells.len());
    for (r, c) in cells.iter().enumerate() {
        match c {
            [Value::String(s)] => {
                let v: Value = serde_json::from_str(s).map_err(|e| {
                    ApiError::row(
                        r,
                        format!(
                            "the cell must be a JSON-object string of name → value (its column is no model input): {e}"
                        ),
                    )
                })?;
                parsed.push(Some(v));
            }
            [Value::Object(_)] => parsed.push(None),
            other => {
                return Err(ApiError::row(r, format!("expected one JSON-object string, got {} values", other.len())));
            }
        }
    }
    model.score_explained(reasons, |batch| {
        let mut filler = RowFiller::new(&model.plan);
        for (r, (p, c)) in parsed.iter().zip(cells).enumerate() {
            let row = p.as_ref().unwrap_or(&c[0]);
            fill_object(&mut filler, row, r, batch)?;
        }
        Ok(cells.len())
    })
}
