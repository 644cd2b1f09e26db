//! A Confluent Schema Registry client: register schemas under TopicNameStrategy subjects and look schemas up by id.
//!
//! Both directions are cached, so a producer registers each schema once and a consumer fetches each writer schema
//! once, however many records carry it. Works with Confluent Cloud (`--schema-registry-auth KEY:SECRET` becomes HTTP
//! basic auth) and with any server that follows the public REST API.
//!
//! For consumers of other producers' topics it also caches, per schema id, how to decode values
//! ([`SchemaRegistry::value_decoder`]) and keys ([`SchemaRegistry::key_transaction_id`]). A schema that cannot be a
//! table's values is reported with where it is registered (`GET /schemas/ids/{id}/versions`), e.g. "schema id 3 is
//! registered under subject `identities-value` (version 1), not a transaction schema: …".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::avro::key::{id_from_digits, KeyPlan};
use crate::avro::value_decoder::ValueDecoder;
use crate::catalog::Table;
use crate::error::DataError;
use crate::table_shape::article;

/// The media type the Schema Registry API speaks.
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The subject of a topic's key or value schema under Confluent's default TopicNameStrategy.
pub fn subject(topic: &str, is_key: bool) -> String {
    format!("{topic}-{}", if is_key { "key" } else { "value" })
}

/// A cached Schema Registry client. Cloning shares the cache.
#[derive(Clone)]
pub struct SchemaRegistry {
    base: String,
    auth: Option<(String, String)>,
    http: reqwest::blocking::Client,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Default)]
struct Cache {
    ids: HashMap<(String, String), u32>,
    schemas: HashMap<u32, Arc<serde_avro_fast::Schema>>,
    /// Value decoders by (schema id, table); a schema that cannot be decoded keeps its reason, so each record
    /// carrying it is refused without asking the registry again.
    decoders: HashMap<(u32, Table), Result<Arc<ValueDecoder>, String>>,
    /// Key plans by schema id, likewise.
    keys: HashMap<u32, Result<Arc<KeyPlan>, String>>,
}

/// One subject and version a schema id is registered under (`GET /schemas/ids/{id}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
}

#[derive(serde::Deserialize)]
struct RegisterResponse {
    id: u32,
}

#[derive(serde::Deserialize)]
struct SchemaResponse {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
}

#[derive(serde::Deserialize)]
struct ErrorResponse {
    error_code: i64,
    message: String,
}

impl SchemaRegistry {
    /// `url` is the registry's base URL; `auth` is `KEY:SECRET` (Confluent Cloud API key) for basic auth.
    pub fn new(url: &str, auth: Option<&str>) -> Result<SchemaRegistry, DataError> {
        let auth = match auth {
            None => None,
            Some(a) => {
                let (user, pass) = a.split_once(':').ok_or_else(|| DataError::Registry {
                    url: url.to_string(),
                    message: "credentials must be given as KEY:SECRET".into(),
                })?;
                Some((user.to_string(), pass.to_string()))
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DataError::Registry { url: url.to_string(), message: e.to_string() })?;
        Ok(SchemaRegistry { base: url.trim_end_matches('/').to_string(), auth, http, cache: Default::default() })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds plain data; a panic elsewhere cannot leave it half-written.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `schema` (Avro JSON) under `subject`, returning its global id (the existing id if already there).
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, DataError> {
        let key = (subject.to_string(), schema.to_string());
        if let Some(&id) = self.cache().ids.get(&key) {
            return Ok(id);
        }
        let url = format!("{}/subjects/{}/versions", self.base, encode_path(subject));
        let body = serde_json::json!({ "schema": schema }).to_string();
        let resp: RegisterResponse = self.send(self.http.post(&url).body(body), &url)?;
        self.cache().ids.insert(key, resp.id);
        Ok(resp.id)
    }

    /// The schema with a global id, parsed for decoding.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<serde_avro_fast::Schema>, DataError> {
        if let Some(s) = self.cache().schemas.get(&id) {
            return Ok(s.clone());
        }
        let url = format!("{}/schemas/ids/{id}", self.base);
        let resp: SchemaResponse = self.send(self.http.get(&url), &url).map_err(|e| match e {
            DataError::Registry { ref message, .. } if message.contains("error_code 40403") => {
                DataError::UnknownSchemaId { url: self.base.clone(), id }
            }
            e => e,
        })?;
        if let Some(t) = resp.schema_type.as_deref().filter(|t| *t != "AVRO") {
            return Err(DataError::Registry { url, message: format!("schema {id} is {t}, not AVRO") });
        }
        let schema = Arc::new(crate::avro::parse_schema(&resp.schema)?);
        self.cache().schemas.insert(id, schema.clone());
        Ok(schema)
    }

    /// The subjects and versions a schema id is registered under (`GET /schemas/ids/{id}/versions`), to say where
    /// a schema that does not fit came from. Not cached: it is asked only when something is already wrong.
    pub fn subject_versions(&self, id: u32) -> Result<Vec<SubjectVersion>, DataError> {
        let url = format!("{}/schemas/ids/{id}/versions", self.base);
        self.send(self.http.get(&url), &url).map_err(|e| match e {
            DataError::Registry { ref message, .. } if message.contains("error_code 40403") => {
                DataError::UnknownSchemaId { url: self.base.clone(), id }
            }
            e => e,
        })
    }

    /// How to decode values of `table` written with schema `id`, compiled once and cached.
    ///
    /// Our own schema keeps the fast path; any other producer's is mapped by field name (see
    /// [`crate::avro::writer_plan`]). A schema that cannot be this table's (another table's, no TransactionDT, an
    /// incompatible column type) is an [`DataError::Avro`] naming the subjects it is registered under, so a
    /// consumer dead-letters its records with a reason a person can act on. Registry failures are
    /// [`DataError::Registry`] and [`DataError::UnknownSchemaId`], as for [`SchemaRegistry::schema_by_id`].
    pub fn value_decoder(&self, table: Table, id: u32) -> Result<Arc<ValueDecoder>, DataError> {
        let context = || format!("decoding a {} value (schema id {id})", table.name());
        if let Some(cached) = self.cache().decoders.get(&(id, table)) {
            return cached.clone().map_err(|message| DataError::Avro { context: context(), message });
        }
        let schema = self.schema_by_id(id)?;
        let decoder = ValueDecoder::new(table, id, &schema).map(Arc::new).map_err(|why| {
            format!("schema id {id} {}, expected {} schema: {why}", self.where_registered(id), article(table))
        });
        self.cache().decoders.insert((id, table), decoder.clone());
        decoder.map_err(|message| DataError::Avro { context: context(), message })
    }

    /// The TransactionID of a Kafka record key, however its producer wrote it (see [`crate::avro::key`]): a
    /// Confluent-framed Avro key of any id-holding schema, or plain decimal digits. Errors are
    /// [`DataError::Avro`] (the key is unusable) or registry errors.
    pub fn key_transaction_id(&self, key: &[u8]) -> Result<i64, DataError> {
        let avro = |message: String| DataError::Avro { context: "decoding a key".into(), message };
        if key.first() != Some(&crate::avro::MAGIC_BYTE) {
            return id_from_digits(key).map_err(|e| avro(format!("{e}, and it has no Confluent header")));
        }
        let (id, datum) = crate::avro::split_framed(key)?;
        let cached = self.cache().keys.get(&id).cloned();
        let plan = match cached {
            Some(plan) => plan,
            None => {
                let schema = self.schema_by_id(id)?;
                let plan = KeyPlan::compile_json(schema.json())
                    .map(Arc::new)
                    .map_err(|why| format!("key schema id {id} {}: {why}", self.where_registered(id)));
                self.cache().keys.insert(id, plan.clone());
                plan
            }
        };
        plan.map_err(avro)?.decode(datum).map_err(|e| avro(format!("key schema id {id}: {e}")))
    }

    /// "is registered under subject `identities-value` (version 1)", for messages about a schema id.
    fn where_registered(&self, id: u32) -> String {
        match self.subject_versions(id) {
            Ok(list) if list.is_empty() => "is registered under no subject".to_string(),
            Ok(list) => {
                let each: Vec<String> =
                    list.iter().map(|sv| format!("`{}` (version {})", sv.subject, sv.version)).collect();
                let s = if list.len() == 1 { "" } else { "s" };
                format!("is registered under subject{s} {}", each.join(", "))
            }
            Err(e) => format!("(its subjects could not be listed: {e})"),
        }
    }

    fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<T, DataError> {
        let mut req =
            req.header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE).header(reqwest::header::ACCEPT, CONTENT_TYPE);
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        let err = |message: String| DataError::Registry { url: url.to_string(), message };
        let resp = req.send().map_err(|e| err(format!("request failed: {e}")))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| err(format!("reading the response failed: {e}")))?;
        if !status.is_success() {
            let detail = match serde_json::from_str::<ErrorResponse>(&text) {
                Ok(e) => format!("{} (error_code {})", e.message, e.error_code),
                Err(_) => text.chars().take(200).collect(),
            };
            return Err(err(format!("HTTP {status}: {detail}")));
        }
        serde_json::from_str(&text).map_err(|e| err(format!("unexpected response {text:.200}: {e}")))
    }
}

/// Percent-encodes a subject for use as one URL path segment.
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_name_strategy_subjects() {
        assert_eq!(subject("transactions", true), "transactions-key");
        assert_eq!(subject("identities", false), "identities-value");
    }

    #[test]
    fn subjects_are_encoded_as_one_path_segment() {
        assert_eq!(encode_path("a b/c-value"), "a%20b%2Fc-value");
    }

    #[test]
    fn credentials_need_a_colon() {
        assert!(SchemaRegistry::new("http://x", Some("nocolon")).is_err());
        assert!(SchemaRegistry::new("http://x/", Some("k:s")).is_ok_and(|r| r.url() == "http://x"));
    }
}
