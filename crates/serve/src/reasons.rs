//! Reason codes in replies: each row's top K model inputs by exact Shapley contribution (TreeSHAP, in log-odds),
//! computed by the native engine on the batch that was just scored.
//!
//! Shape, the same as `fraudstream run` writes to `alerts.jsonl`: per row a JSON array of
//! `{"feature": name, "value": the value the model saw (number, string, or null when missing), "contribution":
//! log-odds}`, largest |contribution| first; K beyond the model's inputs gives them all.

use fraudstream_model::{BatchValue, InputBatch, Model};
use serde_json::{json, Value};

use crate::error::ApiError;

/// Most reasons a request may ask for (more than any model here has inputs; beyond, a typo is likelier).
pub(crate) const MAX_REASONS: usize = 10_000;

/// Parses a requested reason count: a whole number from 0 (none) to [`MAX_REASONS`]; `field` names it in errors.
pub(crate) fn parse_count(field: &str, value: &str) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(k) if k <= MAX_REASONS => Ok(k),
        _ => Err(ApiError::field(
            field,
            None,
            format!("{value:?} is not a number of reasons: give a whole number from 0 to {MAX_REASONS}"),
        )),
    }
}

/// The top `k` reasons of every row of `batch` (already scored by `model`).
pub(crate) fn explain(model: &Model, batch: &mut InputBatch, k: usize) -> Result<Vec<Value>, ApiError> {
    let contributions = model
        .explain(batch)
        .map_err(|e| ApiError::field("reasons", None, format!("this model cannot give reason codes: {e}")))?;
    Ok((0..contributions.rows())
        .map(|r| {
            let reasons: Vec<Value> = contributions
                .top(r, k)
                .into_iter()
                .map(|(i, contribution)| {
                    let value = match batch.feature_value(i, r) {
                        Some(BatchValue::Num(v)) if v.is_finite() => json!(v),
                        Some(BatchValue::Str(s)) if !s.is_empty() => json!(s),
                        _ => Value::Null,
                    };
                    json!({"feature": contributions.features[i], "value": value, "contribution": contribution})
                })
                .collect();
            Value::Array(reasons)
        })
        .collect())
}
