//! Models, their versions, default versions and hot reload.
//!
//! Contract:
//! - Sources are `--model NAME=PATH` (repeating a NAME adds versions 1, 2, … in order) and `--model-dir DIR`
//!   laid out as `DIR/NAME/VERSION/model.onnx` (+ optional `model.json` metadata) with integer versions.
//! - A model's default version is, in order: the one set by `PUT /admin/models/{name}/default`, the one in the
//!   `DIR/NAME/default` file, the highest ready version — each only if that version is ready.
//! - [`build`] re-scans the sources; versions whose files did not change (mtime + size) are reused as they are,
//!   changed or new ones are (re)loaded, vanished ones are dropped. A new version whose files fail to load becomes
//!   a [`VersionState::Failed`] entry with the reason (reported by `/ready`); a version that was serving keeps
//!   serving its last good load when its files are changed into something that does not load, with the error in
//!   [`ModelVersions::load_error`] (`/admin/models`), the `model_load_failing` gauge and one log line. Either
//!   way the files are retried only when they change again, so a half-copied file is picked up once the copy
//!   completes without log spam in between, and a fixed file is served again.
//! - A `default` file that is not a version number keeps the last valid file default, shows in `/admin/models`
//!   and is logged once per change of its content.
//! - Every loaded version is probed with one all-missing row, so a model that cannot produce binary scores
//!   (a regressor, a 3-class model) is reported at load rather than on the first request.
//! - Requests take an `Arc` snapshot of the whole [`Registry`]; reloads build a new one and swap it, so a
//!   request never sees a half-updated registry and in-flight requests finish on the models they started with.

mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fraudstream_model::{BinaryScores, InputBatch, Model};
use serde_json::Value;

use crate::error::ApiError;
use crate::inputs::InputPlan;
use crate::metrics::ModelMetrics;

use scan::Stamp;
pub(crate) use scan::{build, valid_model_name, Sources};

/// How many spare input batches a model version keeps for reuse (about the number of concurrent scorers).
const POOL_SIZE: usize = 8;

/// One loaded, ready model version.
#[derive(Debug)]
pub struct LoadedModel {
    pub name: String,
    pub version: u64,
    pub model: Model,
    pub plan: InputPlan,
    /// Contents of `model.json`, when present and valid JSON.
    pub metadata: Option<Value>,
    pub path: PathBuf,
    pub(crate) metrics: ModelMetrics,
    pool: Mutex<Vec<InputBatch>>,
}

impl LoadedModel {
    /// Loads, plans and probes one version.
    pub fn load(name: &str, version: u64, path: &Path, metadata_path: Option<&Path>) -> Result<LoadedModel, String> {
        let model = Model::load(path).map_err(|e| e.to_string())?;
        let mut plan = InputPlan::for_model(&model)?;
        plan.set_owner(name, version);
        let mut batch = InputBatch::new(&model).map_err(|e| e.to_string())?;
        plan.push_missing_row(&mut batch).map_err(|e| e.to_string())?;
        let probe = model.predict_proba(&mut batch).map_err(|e| format!("cannot score as a binary classifier: {e}"))?;
        if probe.labels.len() != 1 || probe.p_positive.len() != 1 {
            return Err("the model did not return one label and one probability per row".into());
        }
        let metadata = match metadata_path {
            Some(p) if p.exists() => {
                let text = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Some(serde_json::from_slice(&text).map_err(|e| format!("{}: invalid JSON: {e}", p.display()))?)
            }
            _ => None,
        };
        batch.clear();
        Ok(LoadedModel {
            name: name.to_string(),
            version,
            model,
            plan,
            metadata,
            path: path.to_path_buf(),
            metrics: ModelMetrics::new(name, version),
            pool: Mutex::new(vec![batch]),
        })
    }

    /// Scores the rows `fill` pushes (it returns how many), reusing a pooled [`InputBatch`].
    pub(crate) fn score<F>(&self, fill: F) -> Result<BinaryScores, ApiError>
    where
        F: FnOnce(&mut InputBatch) -> Result<usize, ApiError>,
    {
        self.score_explained(0, fill).map(|(scores, _)| scores)
    }

    /// As [`LoadedModel::score`], and with `reasons` > 0 also each row's top `reasons` reason codes (see
    /// [`crate::reasons`]) from the same model version, on the same filled batch.
    pub(crate) fn score_explained<F>(
        &self,
        reasons: usize,
        fill: F,
    ) -> Result<(BinaryScores, Option<Vec<Value>>), ApiError>
    where
        F: FnOnce(&mut InputBatch) -> Result<usize, ApiError>,
    {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        let mut batch = match pooled {
            Some(b) => b,
            None => InputBatch::new(&self.model).map_err(ApiError::from)?,
        };
        batch.clear();
        let result = fill(&mut batch).and_then(|rows| {
            if rows == 0 {
                return Ok((BinaryScores::default(), (reasons > 0).then(Vec::new)));
            }
            let scores = self.model.predict_proba(&mut batch).map_err(ApiError::from)?;
            let reasons = match reasons {
                0 => None,
                k => Some(crate::reasons::explain(&self.model, &mut batch, k)?),
            };
            Ok((scores, reasons))
        });
        batch.clear();
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < POOL_SIZE {
                p.push(batch);
            }
        }
        result
    }
}

/// A version's state: ready to score, or why it is not.
#[derive(Debug, Clone)]
pub enum VersionState {
    Ready(Arc<LoadedModel>),
    /// `error` names files as clients see them (relative to `--model-dir`, or a bare file name); `path` is the
    /// server's own path of the model file.
    Failed {
        path: PathBuf,
        error: String,
    },
}

/// One version as the last scan left it.
#[derive(Debug, Clone)]
struct VersionEntry {
    state: VersionState,
    stamp: Stamp,
    /// The model file as clients may see it: relative to `--model-dir`, or the file name of a `--model` path.
    shown_path: String,
    /// Why the files on disk did not load while `state` still serves their last good load.
    reload_error: Option<String>,
}

/// All versions of one model and how its default is chosen.
#[derive(Debug, Clone, Default)]
pub struct ModelVersions {
    versions: BTreeMap<u64, VersionEntry>,
    file_default: Option<u64>,
    /// Why the `default` file was not used, when it is not a version number.
    default_file_error: Option<String>,
    admin_default: Option<u64>,
    shadow: Option<u64>,
}

impl ModelVersions {
    fn ready(&self, v: u64) -> Option<&Arc<LoadedModel>> {
        match self.versions.get(&v).map(|e| &e.state) {
            Some(VersionState::Ready(m)) => Some(m),
            _ => None,
        }
    }

    /// The version requests without an explicit version go to.
    pub fn default_version(&self) -> Option<u64> {
        [self.admin_default, self.file_default].into_iter().flatten().find(|v| self.ready(*v).is_some()).or_else(|| {
            self.versions.iter().rev().find(|(_, e)| matches!(e.state, VersionState::Ready(_))).map(|(v, _)| *v)
        })
    }

    pub fn versions(&self) -> impl Iterator<Item = (u64, &VersionState)> {
        self.versions.iter().map(|(v, e)| (*v, &e.state))
    }

    pub fn state(&self, version: u64) -> Option<&VersionState> {
        self.versions.get(&version).map(|e| &e.state)
    }

    /// Why the version's files on disk do not load: the reason a version is [`VersionState::Failed`], or, for a
    /// ready version, why it still serves its last good load (files overwritten by something that does not load).
    pub fn load_error(&self, version: u64) -> Option<&str> {
        let e = self.versions.get(&version)?;
        match &e.state {
            VersionState::Failed { error, .. } => Some(error),
            VersionState::Ready(_) => e.reload_error.as_deref(),
        }
    }

    /// True when the version serves a previous load because its current files do not load.
    pub fn serves_previous_load(&self, version: u64) -> bool {
        self.versions.get(&version).is_some_and(|e| e.reload_error.is_some())
    }

    /// Why the `DIR/NAME/default` file is not used (not a version number), if so.
    pub fn default_file_error(&self) -> Option<&str> {
        self.default_file_error.as_deref()
    }

    /// The version's model file as clients may see it: relative to `--model-dir` (`fraud/2/model.onnx`), or the
    /// file name of a `--model` path — never an absolute server path.
    pub fn shown_path(&self, version: u64) -> Option<&str> {
        self.versions.get(&version).map(|e| e.shown_path.as_str())
    }

    /// The configured shadow (challenger) version.
    pub fn shadow_version(&self) -> Option<u64> {
        self.shadow
    }

    /// The ready shadow (challenger) version, if one is configured and differs from `primary`.
    pub(crate) fn shadow_for(&self, primary: u64) -> Option<Arc<LoadedModel>> {
        self.shadow.filter(|&s| s != primary).and_then(|s| self.ready(s).cloned())
    }
}

/// A consistent snapshot of every model.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    models: BTreeMap<String, ModelVersions>,
    /// Each model's `default` file content at the last scan, so a bad one is logged once per change.
    default_texts: BTreeMap<String, String>,
}

/// Parses a version as written in paths (`/versions/2`, `fraud$2`).
pub(crate) fn parse_version(name: &str, v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().map_err(|_| ApiError::UnknownVersion { name: name.to_string(), version: v.to_string() })
}

impl Registry {
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelVersions)> {
        self.models.iter().map(|(n, m)| (n.as_str(), m))
    }

    pub fn get(&self, name: &str) -> Result<&ModelVersions, ApiError> {
        self.models.get(name).ok_or_else(|| ApiError::UnknownModel(name.to_string()))
    }

    /// The model version a request addresses: `name` `None` means "the only model"; `version` `None` means its
    /// default. Returns the version and whether it is the default (shadow scoring only mirrors default traffic).
    pub(crate) fn resolve(
        &self,
        name: Option<&str>,
        version: Option<u64>,
    ) -> Result<(Arc<LoadedModel>, bool), ApiError> {
        let (name, mv) = match name {
            Some(n) => (n, self.get(n)?),
            None => {
                let mut it = self.models.iter();
                match (it.next(), it.next()) {
                    (Some((n, m)), None) => (n.as_str(), m),
                    (None, _) => return Err(ApiError::UnknownModel("(none loaded)".into())),
                    _ => {
                        let names: Vec<&str> = self.models.keys().map(String::as_str).collect();
                        return Err(ApiError::bad(format!(
                            "several models are loaded ({}); name one in the path: /score/{{name}}",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        let default = mv.default_version();
        let v = match version.or(default) {
            Some(v) => v,
            None => {
                let (v, reason) = mv
                    .versions
                    .iter()
                    .next_back()
                    .map(|(v, e)| match &e.state {
                        VersionState::Failed { error, .. } => (*v, error.clone()),
                        VersionState::Ready(_) => (*v, "not ready".into()),
                    })
                    .unwrap_or((0, "no versions".into()));
                return Err(ApiError::NotReady { name: name.to_string(), version: v, reason });
            }
        };
        match mv.versions.get(&v).map(|e| &e.state) {
            Some(VersionState::Ready(m)) => Ok((m.clone(), Some(v) == default)),
            Some(VersionState::Failed { error, .. }) => {
                Err(ApiError::NotReady { name: name.to_string(), version: v, reason: error.clone() })
            }
            None => Err(ApiError::UnknownVersion { name: name.to_string(), version: v.to_string() }),
        }
    }

    /// Sets the admin default version of a model; the version must exist and be ready.
    pub(crate) fn set_default(&mut self, name: &str, version: u64) -> Result<(), ApiError> {
        let mv = self.models.get_mut(name).ok_or_else(|| ApiError::UnknownModel(name.to_string()))?;
        match mv.versions.get(&version).map(|e| &e.state) {
            Some(VersionState::Ready(_)) => {
                mv.admin_default = Some(version);
                Ok(())
            }
            Some(VersionState::Failed { error, .. }) => {
                Err(ApiError::NotReady { name: name.to_string(), version, reason: error.clone() })
            }
            None => Err(ApiError::UnknownVersion { name: name.to_string(), version: version.to_string() }),
        }
    }

    /// Carries admin-set defaults over from `current` (which may have changed while this one was built).
    pub(crate) fn keep_admin_defaults(&mut self, current: &Registry) {
        for (name, mv) in &mut self.models {
            mv.admin_default = current.models.get(name).and_then(|c| c.admin_default);
        }
    }

    /// True when every model has a ready default version.
    pub fn all_ready(&self) -> bool {
        !self.models.is_empty() && self.models.values().all(|m| m.default_version().is_some())
    }
}
