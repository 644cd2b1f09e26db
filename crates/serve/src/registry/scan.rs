//! Scanning the model sources into a new [`Registry`]: which versions exist, which files changed, loading them,
//! and the `default` files. See the contract in the parent module.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{LoadedModel, ModelVersions, Registry, VersionEntry, VersionState};

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

fn discover(sources: &Sources) -> (Vec<Candidate>, HashMap<String, u64>) {
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
        if let Ok(text) = std::fs::read_to_string(path.join("default")) {
            match text.trim().parse::<u64>() {
                Ok(v) => {
                    defaults.insert(name.clone(), v);
                }
                Err(_) => tracing::warn!("{}: not a version number: {:?}", path.join("default").display(), text.trim()),
            }
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
        let old = previous.models.get(&c.name).and_then(|m| m.versions.get(&c.version)).filter(|e| e.stamp == stamp);
        let entry = match old {
            Some(e) => e.clone(),
            None => {
                let state = match LoadedModel::load(&c.name, c.version, &c.onnx, c.json.as_deref()) {
                    Ok(m) => {
                        tracing::info!(
                            model = %c.name, version = c.version, path = %c.onnx.display(), inputs = m.plan.inputs().len(),
                            "model version loaded"
                        );
                        VersionState::Ready(Arc::new(m))
                    }
                    Err(error) => {
                        tracing::error!(model = %c.name, version = c.version, path = %c.onnx.display(), "model version failed to load: {error}");
                        VersionState::Failed { path: c.onnx.clone(), error: c.shown.hide(&error) }
                    }
                };
                VersionEntry { state, stamp, shown_path: c.shown.hide(&c.onnx.display().to_string()) }
            }
        };
        models.entry(c.name.clone()).or_default().versions.insert(c.version, entry);
    }
    for (name, old) in &previous.models {
        for v in old.versions.keys() {
            if !models.get(name).is_some_and(|m| m.versions.contains_key(v)) {
                tracing::info!(model = %name, version = v, "model version removed");
            }
        }
    }
    for (name, mv) in &mut models {
        mv.file_default = defaults.get(name).copied();
        mv.admin_default = previous.models.get(name).and_then(|m| m.admin_default);
        mv.shadow = sources.shadows.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    }
    Registry { models }
}
