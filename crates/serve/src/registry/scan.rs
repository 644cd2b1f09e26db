//! Scanning the model sources into a new [`Registry`]: which versions exist, which files changed, loading them,
//! and the `default` files. See the contract in the parent module.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{LoadedModel, ModelVersions, Registry, VersionEntry, VersionState};
use crate::metrics;

/// Longest `default` file content quoted in a message.
const QUOTE_LIMIT: usize = 64;

/// What the model files looked like when loaded, to detect changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    onnx: Option<(Option<SystemTime>, u64)>,
    json: Option<(Option<SystemTime>, u64)>,
}

fn stat(p: &Path) -> Option<(Option<SystemTime>, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.modified().ok(), m.len()))
}

/// Where models come from; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub fixed: Vec<(String, PathBuf)>,
    pub dir: Option<PathBuf>,
    pub shadows: Vec<(String, u64)>,
}

struct Candidate {
    name: String,
    version: u64,
    onnx: PathBuf,
    json: Option<PathBuf>,
    /// What clients are told about where the files are; see [`Shown`].
    shown: Shown,
}

/// How a version's file paths are shown to clients (`/admin/models`, load errors in `/ready` and 503s): relative
/// to `--model-dir`, or only the file name of a `--model` path — never the server's absolute paths, which tell a
/// caller about the host's layout and are no business of a scoring client.
#[derive(Debug, Clone)]
enum Shown {
    /// Strip this prefix (the model directory with a trailing separator).
    UnderDir(String),
    /// Replace this path (a `--model` file) by its file name.
    File(String, String),
}

impl Shown {
    fn under_dir(dir: &Path) -> Shown {
        Shown::UnderDir(dir.join("").display().to_string())
    }

    fn file(path: &Path) -> Shown {
        let name = path.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        Shown::File(path.display().to_string(), name)
    }

    /// `text` (a path or an error message naming one) with the server's directories taken out.
    fn hide(&self, text: &str) -> String {
        match self {
            Shown::UnderDir(prefix) => text.replace(prefix.as_str(), ""),
            Shown::File(path, name) => text.replace(path.as_str(), name),
        }
    }
}

/// True for names usable in URLs and directory listings: letters, digits, `_`, `-`, `.` (no `$`, which
/// separates the version in Confluent's `NAME$VERSION`).
pub(crate) fn valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A model's `default` file as read by one scan.
struct DefaultFile {
    path: PathBuf,
    /// The content, trimmed.
    text: String,
}

fn discover(sources: &Sources) -> (Vec<Candidate>, HashMap<String, DefaultFile>) {
    let mut out = Vec::new();
    let mut next_version: HashMap<&str, u64> = HashMap::new();
    for (name, path) in &sources.fixed {
        let v = next_version.entry(name).or_insert(0);
        *v += 1;
        out.push(Candidate {
            name: name.clone(),
            version: *v,
            onnx: path.clone(),
            json: None,
            shown: Shown::file(path),
        });
    }
    let mut defaults = HashMap::new();
    let Some(dir) = &sources.dir else { return (out, defaults) };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("model directory {}: {e}", dir.display());
            return (out, defaults);
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if !path.is_dir() || !valid_model_name(&name) {
            continue;
        }
        let default_path = path.join("default");
        if let Ok(text) = std::fs::read_to_string(&default_path) {
            defaults.insert(name.clone(), DefaultFile { path: default_path, text: text.trim().to_string() });
        }
        let Ok(versions) = std::fs::read_dir(&path) else { continue };
        for ventry in versions.flatten() {
            let vpath = ventry.path();
            let Some(version) = vpath.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            let onnx = vpath.join("model.onnx");
            if vpath.is_dir() && onnx.exists() {
                let json = Some(vpath.join("model.json"));
                out.push(Candidate { name: name.clone(), version, onnx, json, shown: Shown::under_dir(dir) });
            }
        }
    }
    (out, defaults)
}

/// Builds the registry the sources describe now, reusing unchanged versions from `previous`. Blocking (file I/O
/// and model compilation): call from a blocking thread.
pub(crate) fn build(sources: &Sources, previous: &Registry) -> Registry {
    let (candidates, defaults) = discover(sources);
    let mut models: BTreeMap<String, ModelVersions> = BTreeMap::new();
    for c in candidates {
        let stamp = Stamp { onnx: stat(&c.onnx), json: c.json.as_deref().and_then(stat) };
        let old = previous.models.get(&c.name).and_then(|m| m.versions.get(&c.version));
        let entry = match old {
            Some(e) if e.stamp == stamp => e.clone(),
            _ => load(&c, stamp, old),
        };
        models.entry(c.name.clone()).or_default().versions.insert(c.version, entry);
    }
    for (name, old) in &previous.models {
        for v in old.versions.keys() {
            if !models.get(name).is_some_and(|m| m.versions.contains_key(v)) {
                tracing::info!(model = %name, version = v, "model version removed");
                metrics::model_removed(name, *v);
            }
        }
    }
    for (name, mv) in &mut models {
        mv.admin_default = previous.models.get(name).and_then(|m| m.admin_default);
        mv.shadow = sources.shadows.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    }
    let default_texts = apply_default_files(defaults, previous, &mut models);
    Registry { models, default_texts }
}

/// Loads a new or changed version. When the files no longer load but `old` was serving, the version keeps
/// serving that last good load and carries the error: a bad copy over a live version must not silently move its
/// traffic elsewhere (to the next highest version), and the error is retried only when the files change again.
fn load(c: &Candidate, stamp: Stamp, old: Option<&VersionEntry>) -> VersionEntry {
    let shown_path = c.shown.hide(&c.onnx.display().to_string());
    match LoadedModel::load(&c.name, c.version, &c.onnx, c.json.as_deref()) {
        Ok(m) => {
            tracing::info!(
                model = %c.name, version = c.version, path = %c.onnx.display(), inputs = m.plan.inputs().len(),
                "model version loaded"
            );
            metrics::model_load(&c.name, c.version, true);
            VersionEntry { state: VersionState::Ready(Arc::new(m)), stamp, shown_path, reload_error: None }
        }
        Err(error) => {
            metrics::model_load(&c.name, c.version, false);
            let shown_error = c.shown.hide(&error);
            match old.map(|e| &e.state) {
                Some(VersionState::Ready(m)) => {
                    tracing::error!(
                        model = %c.name, version = c.version, path = %c.onnx.display(),
                        "model version failed to reload, still serving its last good load: {error}"
                    );
                    VersionEntry {
                        state: VersionState::Ready(m.clone()),
                        stamp,
                        shown_path,
                        reload_error: Some(shown_error),
                    }
                }
                _ => {
                    tracing::error!(
                        model = %c.name, version = c.version, path = %c.onnx.display(),
                        "model version failed to load: {error}"
                    );
                    let state = VersionState::Failed { path: c.onnx.clone(), error: shown_error };
                    VersionEntry { state, stamp, shown_path, reload_error: None }
                }
            }
        }
    }
}

/// Sets each model's file default from its `default` file and returns the file contents seen, for the next scan.
///
/// A file that is not a version number keeps the last good file default (like a version file that stops
/// loading) and is reported in `/admin/models`; it is logged once per change of its content, not on every scan.
fn apply_default_files(
    defaults: HashMap<String, DefaultFile>,
    previous: &Registry,
    models: &mut BTreeMap<String, ModelVersions>,
) -> BTreeMap<String, String> {
    let mut texts = BTreeMap::new();
    for (name, file) in defaults {
        let seen_before = previous.default_texts.get(&name);
        let changed = seen_before != Some(&file.text);
        let (version, error) = match file.text.parse::<u64>() {
            Ok(v) => {
                if changed && seen_before.is_some() {
                    tracing::info!(model = %name, version = v, path = %file.path.display(), "default version file changed");
                }
                (Some(v), None)
            }
            Err(_) => {
                let last_good = previous.models.get(&name).and_then(|m| m.file_default);
                let quoted: String = file.text.chars().take(QUOTE_LIMIT).collect();
                let keeping = match last_good {
                    Some(v) => format!("keeping version {v} from its last valid content"),
                    None => "ignored".to_string(),
                };
                if changed {
                    tracing::warn!(model = %name, path = %file.path.display(), "default version file holds {quoted:?}, not a version number; {keeping}");
                }
                (last_good, Some(format!("`{name}/default` holds {quoted:?}, not a version number; {keeping}")))
            }
        };
        if let Some(mv) = models.get_mut(&name) {
            mv.file_default = version;
            mv.default_file_error = error;
        }
        texts.insert(name, file.text);
    }
    texts
}
