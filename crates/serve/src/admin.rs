//! Admin endpoints: what is loaded, and switching a model's default version at run time.
//!
//! Contract: `GET /admin/models` → `{"models": [{"name", "default_version", "shadow_version",
//! "default_file_error"?, "versions": [{"version", "ready", "path", "error"?, "stale"?}]}]}`:
//! - `path` is relative to `--model-dir` (or the file name of a `--model` path), and errors name files the same
//!   way: the server's absolute paths are never shown;
//! - `error` says why the version's files on disk do not load; with `"ready": true` the version is `"stale"`: it
//!   serves its last good load until the files load again;
//! - `default_file_error` says why `NAME/default` is not used (the last valid default is kept).
//!
//! `PUT /admin/models/{name}/default` with `{"version": N}` makes N the default (it must be a ready version: 404
//! unknown, 503 failed) until the next PUT or a restart; the override survives reloads. Both need an API key
//! when keys are configured.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::registry::VersionState;
use crate::scoring;
use crate::AppState;

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    let registry = state.registry();
    let models: Vec<Value> = registry
        .models()
        .map(|(name, mv)| {
            let versions: Vec<Value> = mv
                .versions()
                .map(|(v, s)| {
                    let mut entry = json!({
                        "version": v,
                        "ready": matches!(s, VersionState::Ready(_)),
                        "path": mv.shown_path(v),
                    });
                    if let (Some(error), Value::Object(o)) = (mv.load_error(v), &mut entry) {
                        o.insert("error".into(), error.into());
                        if mv.serves_previous_load(v) {
                            o.insert("stale".into(), true.into());
                        }
                    }
                    entry
                })
                .collect();
            let mut model = json!({
                "name": name,
                "default_version": mv.default_version(),
                "shadow_version": mv.shadow_version(),
                "versions": versions,
            });
            if let (Some(error), Value::Object(o)) = (mv.default_file_error(), &mut model) {
                o.insert("default_file_error".into(), error.into());
            }
            model
        })
        .collect();
    Json(json!({ "models": models }))
}

pub(crate) async fn set_default(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = scoring::body(&state, body)?;
    let req = scoring::parse_json(&body)?;
    let v = req.get("version").ok_or_else(|| ApiError::field("version", None, "missing: send {\"version\": N}"))?;
    let version = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::field("version", None, format!("must be a non-negative integer, got {v}")))?;
    state.replace_registry(|current| {
        let mut next = current.clone();
        next.set_default(&name, version)?;
        Ok(next)
    })?;
    tracing::info!(model = %name, version, "default version set by admin");
    Ok(Json(json!({"name": name, "default_version": version})))
}
