//! Request rows → a model's [`InputBatch`], by input name, with the rules batch scoring uses.
//!
//! Contract, per row (a map from field name to JSON value) and per model input:
//! - the row has the field (names compared after `fraudstream_data::catalog::canonical_name`, so `id-01` fills
//!   `id_01`): a numeric input takes a finite number, a numeric string (`"42.5"`; blank = missing), a boolean
//!   (0/1) or `null` (missing → NaN); a string input takes a string, a number (its JSON text) or `null`
//!   (missing → `""`); an input wider than one value per row takes an array of exactly that many values;
//! - the row lacks the field and the input is a calendar feature (`DT_D`, `DT_W`, `DT_M`, hour, weekday — as
//!   [`fraudstream_features::mapping::resolve`] classifies it): derived from the row's `TransactionDT` through
//!   [`CalendarFeature`], exactly as `fraudstream score` and the stream derive it;
//! - otherwise (an omitted input) the value is missing (NaN / `""`), exactly as if the row sent `null`: clients
//!   that send every input (Confluent's `ML_PREDICT` sends all declared columns, `run --model-url` all inputs)
//!   are unaffected, and KServe v2 has always treated a tensor not sent this way.
//!
//! Per row, strictly (the 400s of [`crate::names`]): a field that is no model input (nor `TransactionDT` when
//! it feeds derived inputs) is refused, an input given twice is refused, and a row must carry at least one input
//! (`{}` would score as all-missing). Anything else that does not fit (an object for a number, `"abc"` or the
//! non-finite `"inf"` / `"NaN"` for a numeric input) is a 400 naming row and field. The CSV reader also refuses
//! `inf`; it reads a `NaN` cell as missing because CSV has no other way to say so, while JSON has `null`.
//! The plan is built once per loaded model version, so a request pays one hash lookup per field, not a resolve.

use std::collections::HashMap;

use fraudstream_data::catalog::canonical_name;
use fraudstream_data::{Calendar, EventTime};
use fraudstream_features::mapping::{resolve, InputSource};
use fraudstream_features::CalendarFeature;
use fraudstream_model::{ElemType, InputBatch, Model, ValueType};
use serde_json::Value;

use crate::error::ApiError;
use crate::names;

/// The field calendar features are derived from.
pub(crate) const TRANSACTION_DT: &str = "TransactionDT";

/// How one model input is filled.
#[derive(Debug, Clone)]
pub struct PlannedInput {
    pub name: String,
    pub elem: ElemType,
    /// Values per row (1 for the usual `[N, 1]` named input).
    pub width: usize,
    /// Declared shape with `-1` for dynamic dimensions (for metadata).
    pub shape: Vec<i64>,
    /// Set when the input is a calendar feature that can be derived from `TransactionDT`.
    pub derive: Option<CalendarFeature>,
}

impl PlannedInput {
    pub fn is_numeric(&self) -> bool {
        self.elem != ElemType::String
    }
}

/// Per model version: each input's fill rule and a name → input index map.
#[derive(Debug, Clone)]
pub struct InputPlan {
    inputs: Vec<PlannedInput>,
    by_name: HashMap<String, usize>,
    uses_calendar: bool,
    /// The names a request may use: the inputs, and `TransactionDT` when it only feeds derived inputs.
    accepted: Vec<String>,
    /// "model `NAME` version V", for messages.
    owner: String,
    /// Where the input names and types are listed, for messages.
    metadata_path: String,
}

impl InputPlan {
    /// Plans every input of `model`; fails (naming the input) when an input has no static per-row width, since
    /// JSON rows cannot be mapped onto it.
    pub fn for_model(model: &Model) -> Result<InputPlan, String> {
        let mut inputs = Vec::with_capacity(model.inputs().len());
        let mut by_name = HashMap::with_capacity(model.inputs().len() * 2);
        for (i, info) in model.inputs().iter().enumerate() {
            let elem = info.elem_type().ok_or_else(|| format!("input `{}` is not a tensor", info.name))?;
            let width = info
                .row_width()
                .ok_or_else(|| format!("input `{}` has no static width per row; cannot map JSON rows", info.name))?;
            let shape = match &info.ty {
                ValueType::Tensor { shape: Some(dims), .. } => {
                    dims.iter().enumerate().map(|(k, d)| if k == 0 { -1 } else { d.map_or(-1, |d| d as i64) }).collect()
                }
                _ => vec![-1, width as i64],
            };
            let numeric = elem != ElemType::String;
            // Only the calendar classification is taken from the shared resolver: inputs named like IEEE-CIS
            // columns and any other name are both filled from the request field of that name.
            let derive = match resolve(&info.name, numeric) {
                Ok(InputSource::Calendar(f)) if width == 1 => Some(f),
                _ => None,
            };
            by_name.insert(canonical_name(&info.name).into_owned(), i);
            inputs.push(PlannedInput { name: info.name.clone(), elem, width, shape, derive });
        }
        let uses_calendar = inputs.iter().any(|p| p.derive.is_some());
        let accepted = names::accepted_names(inputs.iter().map(|p| p.name.clone()), uses_calendar);
        Ok(InputPlan {
            inputs,
            by_name,
            uses_calendar,
            accepted,
            owner: "the model".into(),
            metadata_path: "/v2/models/{name}".into(),
        })
    }

    /// Names the model version this plan belongs to, so that error messages can say which model lacks an input
    /// and where its inputs are listed.
    pub(crate) fn set_owner(&mut self, name: &str, version: u64) {
        self.owner = format!("model `{name}` version {version}");
        self.metadata_path = format!("/v2/models/{name}/versions/{version}");
    }

    /// The names a request may use: every input, plus `TransactionDT` when it feeds derived calendar inputs.
    pub fn accepted_names(&self) -> &[String] {
        &self.accepted
    }

    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    pub(crate) fn metadata_path(&self) -> &str {
        &self.metadata_path
    }

    pub fn inputs(&self) -> &[PlannedInput] {
        &self.inputs
    }

    /// The input a request field fills, if any.
    pub fn lookup(&self, field: &str) -> Option<usize> {
        if let Some(&i) = self.by_name.get(field) {
            return Some(i);
        }
        self.by_name.get(canonical_name(field).as_ref()).copied()
    }

    /// True when `field` is `TransactionDT` (the source of calendar features).
    pub(crate) fn is_dt_field(&self, field: &str) -> bool {
        self.uses_calendar && (field == TRANSACTION_DT || canonical_name(field) == TRANSACTION_DT)
    }

    /// A row of all-missing values (used to probe a freshly loaded model).
    pub(crate) fn push_missing_row(&self, batch: &mut InputBatch) -> Result<(), fraudstream_model::ModelError> {
        for (i, p) in self.inputs.iter().enumerate() {
            for _ in 0..p.width {
                if p.is_numeric() {
                    batch.push_f64(i, f64::NAN)?;
                } else {
                    batch.push_str(i, "")?;
                }
            }
        }
        Ok(())
    }
}

/// Where one input's value for the current row comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Slot<'a> {
    Empty,
    One(&'a Value),
    Refs(&'a [&'a Value]),
}

/// What [`RowFiller::set_field`] did with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldSet {
    /// The name fills an input (or `TransactionDT` for derived inputs).
    Used,
    /// The model has no input of this name.
    Unknown,
    /// The row already set this input (possibly under another spelling).
    Twice,
}

/// Fills rows into a batch: set the fields of a row, then [`RowFiller::finish_row`]. Reuses its slot buffer.
pub(crate) struct RowFiller<'p, 'a> {
    plan: &'p InputPlan,
    slots: Vec<Slot<'a>>,
    dt: Option<&'a Value>,
    /// Whether the current row set anything (a row that sets nothing is refused).
    carried: bool,
    scratch: String,
}

impl<'p, 'a> RowFiller<'p, 'a> {
    pub(crate) fn new(plan: &'p InputPlan) -> Self {
        RowFiller {
            plan,
            slots: vec![Slot::Empty; plan.inputs.len()],
            dt: None,
            carried: false,
            scratch: String::new(),
        }
    }

    /// The plan rows are filled by.
    pub(crate) fn plan(&self) -> &'p InputPlan {
        self.plan
    }

    /// Sets input `input` for the current row (callers that address inputs by index check names themselves).
    pub(crate) fn set(&mut self, input: usize, slot: Slot<'a>) {
        if let Some(s) = self.slots.get_mut(input) {
            *s = slot;
            self.carried = true;
        }
    }

    /// Sets the source value of calendar features for the current row.
    pub(crate) fn set_dt(&mut self, v: &'a Value) {
        self.dt = Some(v);
        self.carried = true;
    }

    /// Sets a named field for the current row, telling whether the name is an input, unknown or a repeat; the
    /// caller turns the last two into 400s (see [`crate::names`]).
    pub(crate) fn set_field(&mut self, field: &str, v: &'a Value) -> FieldSet {
        let input = self.plan.lookup(field);
        let is_dt = self.plan.is_dt_field(field);
        match input {
            Some(i) => {
                if !matches!(self.slots[i], Slot::Empty) {
                    return FieldSet::Twice;
                }
                self.slots[i] = Slot::One(v);
            }
            None if !is_dt => return FieldSet::Unknown,
            None if self.dt.is_some() => return FieldSet::Twice,
            None => {}
        }
        if is_dt {
            self.dt = Some(v);
        }
        self.carried = true;
        FieldSet::Used
    }

    /// Pushes the current row into `batch` and resets the slots. `row` is the request's row number, for messages.
    pub(crate) fn finish_row(&mut self, row: usize, batch: &mut InputBatch) -> Result<(), ApiError> {
        if !std::mem::take(&mut self.carried) {
            return Err(names::no_inputs(self.plan, row));
        }
        // Computed whenever the plan has derived inputs, so a bad `TransactionDT` is refused even when every
        // derived input was sent explicitly.
        let calendar = if self.plan.uses_calendar { calendar_of(self.dt.take(), row)? } else { None };
        for (i, p) in self.plan.inputs.iter().enumerate() {
            let slot = std::mem::replace(&mut self.slots[i], Slot::Empty);
            match slot {
                Slot::Empty => {
                    if let Some(f) = p.derive {
                        push_num(batch, i, calendar.map_or(f64::NAN, |c| f.value(&c)))?;
                    } else {
                        for _ in 0..p.width {
                            push_missing(batch, i, p)?;
                        }
                    }
                }
                Slot::One(Value::Array(items)) if p.width != 1 || items.len() == 1 => {
                    self.push_many(batch, i, p, row, items.iter())?;
                }
                Slot::One(v) => {
                    if p.width != 1 {
                        return Err(ApiError::field(
                            &p.name,
                            Some(row),
                            format!("expected an array of {} values, got {}", p.width, kind(v)),
                        ));
                    }
                    self.push_one(batch, i, p, row, v)?;
                }
                Slot::Refs(items) => self.push_many(batch, i, p, row, items.iter().copied())?,
            }
        }
        self.dt = None;
        Ok(())
    }

    fn push_many<'v>(
        &mut self,
        batch: &mut InputBatch,
        i: usize,
        p: &PlannedInput,
        row: usize,
        items: impl ExactSizeIterator<Item = &'v Value>,
    ) -> Result<(), ApiError> {
        if items.len() != p.width {
            return Err(ApiError::field(
                &p.name,
                Some(row),
                format!("expected {} value(s) per row, got {}", p.width, items.len()),
            ));
        }
        for v in items {
            self.push_one(batch, i, p, row, v)?;
        }
        Ok(())
    }

    fn push_one(
        &mut self,
        batch: &mut InputBatch,
        i: usize,
        p: &PlannedInput,
        row: usize,
        v: &Value,
    ) -> Result<(), ApiError> {
        if p.is_numeric() {
            let x = to_f64(v).map_err(|m| ApiError::field(&p.name, Some(row), m))?;
            push_num(batch, i, x)
        } else {
            let s: &str = match v {
                Value::String(s) => s,
                Value::Null => "",
                Value::Number(n) => {
                    self.scratch.clear();
                    use std::fmt::Write;
                    let _ = write!(self.scratch, "{n}");
                    &self.scratch
                }
                other => {
                    return Err(ApiError::field(&p.name, Some(row), format!("expected a string, got {}", kind(other))))
                }
            };
            batch.push_str(i, s).map_err(ApiError::from)
        }
    }
}

fn push_num(batch: &mut InputBatch, i: usize, x: f64) -> Result<(), ApiError> {
    batch.push_f64(i, x).map_err(ApiError::from)
}

fn push_missing(batch: &mut InputBatch, i: usize, p: &PlannedInput) -> Result<(), ApiError> {
    if p.is_numeric() {
        push_num(batch, i, f64::NAN)
    } else {
        batch.push_str(i, "").map_err(ApiError::from)
    }
}

/// The calendar of a row's `TransactionDT`; `None` when it is missing (derived features are then missing too).
fn calendar_of(dt: Option<&Value>, row: usize) -> Result<Option<Calendar>, ApiError> {
    let Some(v) = dt else { return Ok(None) };
    let secs = to_f64(v).map_err(|m| ApiError::field(TRANSACTION_DT, Some(row), m))?;
    if !secs.is_finite() {
        return Ok(None);
    }
    // TransactionDT is whole seconds; ±1e12 s keeps the millisecond arithmetic far from overflow.
    if secs.abs() > 1e12 {
        return Err(ApiError::field(TRANSACTION_DT, Some(row), format!("{secs} is out of range")));
    }
    Ok(Some(Calendar::of(EventTime::from_transaction_dt(secs as i64))))
}

/// A JSON value as a model number: finite numbers, numeric strings (blank = missing), booleans, null = NaN.
///
/// Strings that Rust parses as non-finite (`"inf"`, `"-Infinity"`, `"NaN"`, any case) are refused: `null` is the
/// one way to send a missing value, and an infinity would reach the model as a real value.
pub(crate) fn to_f64(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(format!("number {n} is out of range")),
        },
        Value::Null => Ok(f64::NAN),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(f64::NAN);
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                Ok(_) => Err(format!("the string {s:?} is not a finite number (send null for a missing value)")),
                Err(_) => Err(format!("expected a number, got the string {s:?}")),
            }
        }
        other => Err(format!("expected a number, got {}", kind(other))),
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
