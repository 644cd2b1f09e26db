//! An in-memory Schema Registry that follows Confluent's public REST API, for tests only.
//!
//! A real Confluent Schema Registry (a JVM service) cannot run on the test machine, so this fake implements the part
//! of the API producers and consumers use, with Confluent's semantics:
//! - `POST /subjects/{subject}/versions` registers a schema and returns `{"id": N}`. Ids are global: the same schema
//!   under another subject gets the same id; registering the same schema twice under one subject is idempotent.
//! - `POST /subjects/{subject}` looks a schema up in a subject (`{"subject","id","version","schema"}`).
//! - `GET /schemas/ids/{id}`, `GET /subjects`, `GET /subjects/{subject}/versions`,
//!   `GET /subjects/{subject}/versions/{version|latest}`.
//! - `GET /schemas/ids/{id}/versions`: the `[{"subject","version"}]` pairs the id is registered under, with the
//!   `subject` filter and `offset`/`limit` paging of the API (`deleted` is accepted; nothing is ever deleted here).
//! - Errors are `{"error_code": 40401|40402|40403|42201|401, "message": "..."}` with the matching HTTP status.
//! - Optional HTTP basic auth, as Confluent Cloud uses it.
//!
//! Schemas are compared by their parsed JSON, a close stand-in for Confluent's canonical form.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

#[derive(Default)]
struct Store {
    /// Global id → (schema text as first registered, parsed form).
    schemas: Vec<(String, Value)>,
    /// Subject → schema ids in version order.
    subjects: BTreeMap<String, Vec<u32>>,
    /// Number of register calls served, for tests that check caching.
    register_calls: u64,
}

struct Shared {
    store: Mutex<Store>,
    /// `Basic <base64>` expected in `Authorization`, when auth is on.
    auth: Option<String>,
}

/// A running fake registry; it stops when the test process ends.
pub struct FakeSchemaRegistry {
    url: String,
    shared: Arc<Shared>,
}

impl FakeSchemaRegistry {
    /// Starts a registry on an ephemeral loopback port, without authentication.
    pub fn start() -> FakeSchemaRegistry {
        Self::start_inner(None)
    }

    /// Starts a registry that requires HTTP basic auth with `key:secret`.
    pub fn start_with_auth(key: &str, secret: &str) -> FakeSchemaRegistry {
        Self::start_inner(Some(format!("Basic {}", base64(format!("{key}:{secret}").as_bytes()))))
    }

    fn start_inner(auth: Option<String>) -> FakeSchemaRegistry {
        let shared = Arc::new(Shared { store: Mutex::default(), auth });
        let app = Router::new()
            .route("/subjects", get(list_subjects))
            .route("/subjects/{subject}", post(lookup))
            .route("/subjects/{subject}/versions", post(register).get(list_versions))
            .route("/subjects/{subject}/versions/{version}", get(get_version))
            .route("/schemas/ids/{id}", get(get_by_id))
            .route("/schemas/ids/{id}/versions", get(get_versions_by_id))
            .with_state(shared.clone());
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("test runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
                tx.send(listener.local_addr().expect("addr")).expect("report addr");
                axum::serve(listener, app).await.expect("serve");
            });
        });
        let addr = rx.recv().expect("fake registry failed to start");
        FakeSchemaRegistry { url: format!("http://{addr}"), shared }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many register requests reached the server.
    pub fn register_calls(&self) -> u64 {
        self.shared.store.lock().unwrap_or_else(PoisonError::into_inner).register_calls
    }

    /// The subjects registered so far.
    pub fn subjects(&self) -> Vec<String> {
        self.shared.store.lock().unwrap_or_else(PoisonError::into_inner).subjects.keys().cloned().collect()
    }
}

fn response(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn reply(status: StatusCode, body: Value) -> Answer {
    Ok(response(status, body))
}

/// An error answer in Confluent's shape: `{"error_code": N, "message": "..."}`.
struct ApiError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        response(self.status, json!({ "error_code": self.code, "message": self.message }))
    }
}

fn error(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
    ApiError { status, code, message: message.into() }
}

type Answer = Result<Response, ApiError>;

fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    match &shared.auth {
        None => Ok(()),
        Some(expected) if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected) => Ok(()),
        Some(_) => Err(error(StatusCode::UNAUTHORIZED, 401, "Unauthorized")),
    }
}

/// Parses a request body `{"schema": "...", "schemaType"?: "AVRO"}` into (text, parsed schema).
fn parse_request(body: &str) -> Result<(String, Value), ApiError> {
    let req: Value =
        serde_json::from_str(body).map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, 42201, e.to_string()))?;
    if let Some(t) = req.get("schemaType").and_then(Value::as_str).filter(|t| *t != "AVRO") {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("schema type {t} not supported here")));
    }
    let text = req
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Empty schema"))?;
    let parsed: Value = serde_json::from_str(text)
        .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema: {e}")))?;
    Ok((text.to_string(), parsed))
}

fn locked(shared: &Shared) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn register(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Answer {
    check_auth(&shared, &headers)?;
    let (text, parsed) = parse_request(&body)?;
    let mut store = locked(&shared);
    store.register_calls += 1;
    let id = match store.schemas.iter().position(|(_, p)| *p == parsed) {
        Some(i) => i as u32 + 1,
        None => {
            store.schemas.push((text, parsed));
            store.schemas.len() as u32
        }
    };
    let versions = store.subjects.entry(subject).or_default();
    if !versions.contains(&id) {
        versions.push(id);
    }
    reply(StatusCode::OK, json!({ "id": id }))
}

async fn lookup(
    State(shared): State<Arc<Shared>>,
    Path(subject): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Answer {
    check_auth(&shared, &headers)?;
    let (_, parsed) = parse_request(&body)?;
    let store = locked(&shared);
    let Some(versions) = store.subjects.get(&subject) else {
        return Err(error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found.")));
    };
    for (v, &id) in versions.iter().enumerate() {
        let (text, p) = &store.schemas[id as usize - 1];
        if *p == parsed {
            return reply(StatusCode::OK, json!({ "subject": subject, "id": id, "version": v + 1, "schema": text }));
        }
    }
    Err(error(StatusCode::NOT_FOUND, 40403, "Schema not found"))
}

async fn get_by_id(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    check_auth(&shared, &headers)?;
    let store = locked(&shared);
    match id.parse::<usize>().ok().and_then(|i| i.checked_sub(1)).and_then(|i| store.schemas.get(i)) {
        Some((text, _)) => reply(StatusCode::OK, json!({ "schema": text })),
        None => Err(error(StatusCode::NOT_FOUND, 40403, format!("Schema {id} not found"))),
    }
}

/// Query parameters of `GET /schemas/ids/{id}/versions`.
#[derive(serde::Deserialize)]
struct VersionsByIdQuery {
    /// Only pairs of this subject.
    subject: Option<String>,
    /// Include soft-deleted versions; the fake never deletes, so it changes nothing.
    #[allow(dead_code)]
    deleted: Option<bool>,
    /// Pagination offset (default 0).
    offset: Option<i64>,
    /// Pagination size; negative (the default, -1) means all.
    limit: Option<i64>,
}

async fn get_versions_by_id(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<VersionsByIdQuery>,
    headers: HeaderMap,
) -> Answer {
    check_auth(&shared, &headers)?;
    let store = locked(&shared);
    let known = id.parse::<usize>().ok().filter(|&i| i >= 1 && i <= store.schemas.len());
    let Some(id) = known else {
        return Err(error(StatusCode::NOT_FOUND, 40403, format!("Schema {id} not found")));
    };
    let pairs: Vec<Value> = store
        .subjects
        .iter()
        .filter(|(subject, _)| query.subject.as_ref().is_none_or(|s| s == *subject))
        .flat_map(|(subject, ids)| {
            ids.iter()
                .enumerate()
                .filter(|(_, &sid)| sid as usize == id)
                .map(move |(v, _)| json!({ "subject": subject, "version": v + 1 }))
        })
        .skip(query.offset.unwrap_or(0).max(0) as usize)
        .take(usize::try_from(query.limit.unwrap_or(-1)).unwrap_or(usize::MAX))
        .collect();
    reply(StatusCode::OK, json!(pairs))
}

async fn list_subjects(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    check_auth(&shared, &headers)?;
    let subjects: Vec<String> = locked(&shared).subjects.keys().cloned().collect();
    reply(StatusCode::OK, json!(subjects))
}

async fn list_versions(State(shared): State<Arc<Shared>>, Path(subject): Path<String>, headers: HeaderMap) -> Answer {
    check_auth(&shared, &headers)?;
    match locked(&shared).subjects.get(&subject) {
        Some(v) => reply(StatusCode::OK, json!((1..=v.len()).collect::<Vec<_>>())),
        None => Err(error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."))),
    }
}

async fn get_version(
    State(shared): State<Arc<Shared>>,
    Path((subject, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    check_auth(&shared, &headers)?;
    let store = locked(&shared);
    let Some(versions) = store.subjects.get(&subject) else {
        return Err(error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found.")));
    };
    let index = match version.as_str() {
        "latest" | "-1" => versions.len().checked_sub(1),
        v => match v.parse::<usize>() {
            Ok(n) => n.checked_sub(1).filter(|&i| i < versions.len()),
            Err(_) => return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42202, format!("Invalid version {v}"))),
        },
    };
    match index {
        Some(i) => {
            let id = versions[i];
            let text = &store.schemas[id as usize - 1].0;
            reply(StatusCode::OK, json!({ "subject": subject, "version": i + 1, "id": id, "schema": text }))
        }
        None => Err(error(StatusCode::NOT_FOUND, 40402, "Version not found.")),
    }
}

/// Standard base64 (RFC 4648) with padding, for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"key:secret"), "a2V5OnNlY3JldA==");
    }
}
