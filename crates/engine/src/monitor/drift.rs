//! Input and score drift of one model in the stream: the model's own inputs, as the model saw them, into a
//! [`DriftMonitor`].
//!
//! The baseline is the held-out distribution `fraudstream train` stores in `model.json` beside the model; a model
//! without one (such as the seed model) takes its first window of live traffic as the baseline.

use std::path::{Path, PathBuf};

use fraudstream_features::mapping::InputSource;
use fraudstream_features::{FeatureRow, InputMapping, InputValue};
use fraudstream_model::drift::{Baseline, DriftAlert, DriftConfig, DriftMonitor, DriftReport, DriftState, InputSpec};

use crate::error::EngineError;

/// Model input columns drift is not measured on: an identifier and the event-time clock grow with every
/// transaction, so any window of them differs from any baseline by construction (their PSI says "time passed", not
/// "the traffic changed"). Derived features that count time are left out the same way ([`grows_with_time`]).
pub const NOT_MONITORED: [&str; 2] = ["TransactionID", "TransactionDT"];

/// Whether an input counts time rather than describing a payment: [`NOT_MONITORED`] columns, the day, week and
/// month indices of the calendar features (`DT_D`, `DT_W`, `DT_M`), the client features that are points in time
/// (`D4n` … `D15n`: a D column minus the transaction's day) and the all-time counts (`card1_seen`, `addr1_seen`,
/// `email_seen`: past transactions with this value since the stream began, which only grow).
pub fn grows_with_time(name: &str, source: InputSource) -> bool {
    use fraudstream_features::{CalendarFeature, ClientFeature};
    match source {
        InputSource::Calendar(f) => matches!(f, CalendarFeature::DtD | CalendarFeature::DtW | CalendarFeature::DtM),
        InputSource::Client(f) => {
            f.index() >= ClientFeature::D4n.index()
                || matches!(f, ClientFeature::Card1Seen | ClientFeature::Addr1Seen | ClientFeature::EmailSeen)
        }
        _ => NOT_MONITORED.contains(&name),
    }
}

/// One model's drift monitor and how to read its inputs from a joined record.
#[derive(Debug)]
pub struct ModelDrift {
    mapping: InputMapping,
    /// Model input index of each input the monitor tracks.
    tracked: Vec<usize>,
    /// The monitor's slot of each model input (meaningful for `tracked` ones).
    slot: Vec<usize>,
    monitor: DriftMonitor,
    /// Whether the baseline came from `model.json`.
    from_model_json: bool,
}

impl ModelDrift {
    /// A monitor for the model `mapping` reads for, with `baseline` (`None`: the first window becomes it).
    pub fn new(
        mapping: InputMapping,
        baseline: Option<Baseline>,
        config: DriftConfig,
    ) -> Result<ModelDrift, EngineError> {
        let monitored: Vec<usize> = (0..mapping.names().len())
            .filter(|&i| !grows_with_time(&mapping.names()[i], mapping.sources()[i]))
            .collect();
        let specs: Vec<InputSpec> = monitored
            .iter()
            .map(|&i| {
                let name = &mapping.names()[i];
                match mapping.sources()[i] {
                    InputSource::TransactionStr(_) | InputSource::IdentityStr(_) => InputSpec::categorical(name),
                    _ => InputSpec::numeric(name),
                }
            })
            .collect();
        // A baseline may describe inputs left out here (model.json keeps the top inputs by gain, which can count
        // time): those are not monitored.
        let baseline = baseline.map(|mut b| {
            b.inputs.retain(|i| specs.iter().any(|s| s.name == i.name));
            b
        });
        let from_model_json = baseline.is_some();
        let monitor = DriftMonitor::new(&specs, baseline, config)
            .map_err(|e| EngineError::Config(format!("drift monitor: {e}")))?;
        // A baseline may describe only some inputs (model.json keeps the top 30 by gain): read only those.
        let tracked: Vec<usize> = monitor.tracked_inputs().iter().map(|&s| monitored[s]).collect();
        let mut slot = vec![0; mapping.names().len()];
        for (s, &i) in monitored.iter().enumerate() {
            slot[i] = s;
        }
        Ok(ModelDrift { mapping, tracked, slot, monitor, from_model_json })
    }

    /// Observes one scored row.
    pub fn observe(&mut self, row: &FeatureRow<'_>, score: f64) {
        let mut observer = self.monitor.row();
        let slot = &self.slot;
        self.mapping.for_each_value(row, &self.tracked, |i, v| match v {
            InputValue::Num(x) => observer.num(slot[i], x),
            InputValue::Str(s) => observer.str(slot[i], s),
        });
        observer.finish(score);
    }

    /// New threshold crossings since the last check.
    pub fn check(&mut self) -> Vec<DriftAlert> {
        self.monitor.check()
    }

    /// Every PSI figure now.
    pub fn report(&self) -> DriftReport {
        self.monitor.report()
    }

    /// The monitor's window, baseline and alert arming, for a snapshot.
    pub fn state(&self) -> DriftState {
        self.monitor.state()
    }

    /// Puts a [`ModelDrift::state`] back; an error (the monitor unchanged) when it was taken over another baseline
    /// or other inputs.
    pub fn restore(&mut self, state: DriftState) -> Result<(), EngineError> {
        self.monitor.restore(state).map_err(|e| EngineError::Config(e.to_string()))
    }

    /// Whether the baseline is the model's own (`model.json`) rather than the first window.
    pub fn baseline_from_model_json(&self) -> bool {
        self.from_model_json
    }
}

/// `model.json` beside `model` (`DIR/model.onnx` → `DIR/model.json`; `DIR/NAME.onnx` → `DIR/NAME.json` when that
/// exists, else `DIR/model.json`).
pub fn model_json_path(model: &Path) -> Option<PathBuf> {
    let dir = model.parent()?;
    let own = model.with_extension("json");
    let shared = dir.join("model.json");
    [own, shared].into_iter().find(|p| p.is_file())
}

/// The drift baseline in the `model.json` beside `model`, if there is one. A `model.json` that cannot be read or
/// holds a malformed baseline is an error naming the file: a monitor silently built on the first window instead
/// would hide that the model's own baseline was lost.
pub fn baseline_beside(model: &Path) -> Result<Option<Baseline>, EngineError> {
    let Some(path) = model_json_path(model) else { return Ok(None) };
    let text = std::fs::read_to_string(&path).map_err(|source| EngineError::Io { path: path.clone(), source })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| EngineError::Config(format!("{}: not valid JSON: {e}", path.display())))?;
    match json.get("baseline") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(b) => serde_json::from_value(b.clone())
            .map(Some)
            .map_err(|e| EngineError::Config(format!("{}: field `baseline`: {e}", path.display()))),
    }
}
