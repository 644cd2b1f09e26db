//! Filling a model's named inputs from a joined record.
//!
//! Each model input is resolved once, by name, to where its value comes from: a transaction column, an identity
//! column (`id-01` spellings accepted), a [`CalendarFeature`] or a [`ClientFeature`]. Per row, filling is then a
//! walk over that plan — no string lookups. Rules, shared by batch scoring, the stream and the server:
//! - a missing numeric value is NaN (models' missing-value handling takes it from there);
//! - a missing string is `""`;
//! - identity fields are missing when the transaction has no identity;
//! - client features are read from [`FeatureRow::client`], and are missing when no client stage filled it — a
//!   caller whose plan [`uses_client_features`](InputMapping::uses_client_features) must run one;
//! - an input that nothing can fill, or whose type cannot hold the column's values, is an error at resolve time
//!   that names the input.

use fraudstream_data::catalog::{canonical_name, ColumnType};
use fraudstream_data::{Calendar, Table};
use fraudstream_model::{ElemType, InputBatch, Model, ModelError};

use crate::calendar::CalendarFeature;
use crate::client::ClientFeature;
use crate::row::FeatureRow;

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error(
        "model input `{name}` cannot be filled: it is not a transaction or identity column, nor one of the derived \
         features ({derived}) or client features ({client})"
    )]
    Unfillable { name: String, derived: String, client: String },

    #[error("model input `{name}` is a {model_type} tensor, but column `{column}` holds {column_type} values")]
    TypeMismatch { name: String, model_type: &'static str, column: String, column_type: &'static str },

    #[error("model input `{name}` takes {width} values per row; name-based mapping needs one named input per feature")]
    NotOneColumn { name: String, width: usize },

    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Where one model input's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    TransactionNum(usize),
    TransactionStr(usize),
    IdentityNum(usize),
    IdentityStr(usize),
    Calendar(CalendarFeature),
    /// A client feature, read from the record's client values (computed by the client stage from the past).
    Client(ClientFeature),
}

/// One input's value for one row, for callers that need values rather than a filled batch (JSON requests, tests).
#[derive(Debug, Clone, PartialEq)]
pub enum InputValue<'a> {
    Num(f64),
    Str(&'a str),
}

/// The resolved plan for one model: model input index `i` is filled from `sources[i]`.
#[derive(Debug, Clone)]
pub struct InputMapping {
    names: Vec<String>,
    sources: Vec<InputSource>,
    uses_calendar: bool,
    uses_client: bool,
}

impl InputMapping {
    /// Resolves every input of `model`.
    pub fn for_model(model: &Model) -> Result<InputMapping, FeatureError> {
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for info in model.inputs() {
            let width = info.row_width().unwrap_or(1);
            if width != 1 {
                return Err(FeatureError::NotOneColumn { name: info.name.clone(), width });
            }
            let numeric = !matches!(info.elem_type(), Some(ElemType::String));
            sources.push(resolve(&info.name, numeric)?);
            names.push(info.name.clone());
        }
        let uses_calendar = sources.iter().any(|s| matches!(s, InputSource::Calendar(_)));
        let uses_client = uses_client_features(&sources);
        Ok(InputMapping { names, sources, uses_calendar, uses_client })
    }

    /// The model input names, in model order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Where each input comes from, in model order.
    pub fn sources(&self) -> &[InputSource] {
        &self.sources
    }

    /// Whether any input is a client feature: only then must the stream run the (stateful) client stage.
    pub fn uses_client_features(&self) -> bool {
        self.uses_client
    }

    /// Appends one row to `batch`.
    pub fn push(&self, row: &FeatureRow<'_>, batch: &mut InputBatch) -> Result<(), FeatureError> {
        let calendar = self.uses_calendar.then(|| Calendar::of(row.transaction.event_time()));
        for (i, source) in self.sources.iter().enumerate() {
            match value(*source, row, calendar.as_ref()) {
                InputValue::Num(v) => batch.push_f64(i, v)?,
                InputValue::Str(s) => batch.push_str(i, s)?,
            }
        }
        Ok(())
    }

    /// Calls `f` with each of the `inputs` (model input indices) of one row and its value, without allocating:
    /// for observers that read a few inputs of every row (drift monitoring).
    pub fn for_each_value<'a>(&self, row: &FeatureRow<'a>, inputs: &[usize], mut f: impl FnMut(usize, InputValue<'a>)) {
        let calendar = self.uses_calendar.then(|| Calendar::of(row.transaction.event_time()));
        for &i in inputs {
            f(i, value(self.sources[i], row, calendar.as_ref()));
        }
    }

    /// The input values of one row, in model order.
    pub fn values<'a>(&self, row: &FeatureRow<'a>) -> Vec<InputValue<'a>> {
        let mut out = Vec::with_capacity(self.sources.len());
        values_into(&self.sources, self.uses_calendar, row, &mut out);
        out
    }
}

/// Whether any of `sources` is a client feature.
pub(crate) fn uses_client_features(sources: &[InputSource]) -> bool {
    sources.iter().any(|s| matches!(s, InputSource::Client(_)))
}

/// Appends the values of `sources` for `row` to `out`; `uses_calendar` says whether any source is a calendar
/// feature (then the date arithmetic runs once per row, not once per feature).
pub(crate) fn values_into<'a>(
    sources: &[InputSource],
    uses_calendar: bool,
    row: &FeatureRow<'a>,
    out: &mut Vec<InputValue<'a>>,
) {
    let calendar = uses_calendar.then(|| Calendar::of(row.transaction.event_time()));
    out.extend(sources.iter().map(|s| value(*s, row, calendar.as_ref())));
}

fn value<'a>(source: InputSource, row: &FeatureRow<'a>, calendar: Option<&Calendar>) -> InputValue<'a> {
    let (tx, identity) = (row.transaction, row.identity);
    match source {
        InputSource::TransactionNum(slot) => InputValue::Num(tx.row.nums[slot]),
        InputSource::TransactionStr(slot) => InputValue::Str(tx.row.strs[slot].as_deref().unwrap_or("")),
        InputSource::IdentityNum(slot) => InputValue::Num(identity.map_or(f64::NAN, |i| i.row.nums[slot])),
        InputSource::IdentityStr(slot) => {
            InputValue::Str(identity.and_then(|i| i.row.strs[slot].as_deref()).unwrap_or(""))
        }
        InputSource::Calendar(f) => InputValue::Num(calendar.map_or_else(|| f.at(tx.event_time()), |c| f.value(c))),
        InputSource::Client(f) => InputValue::Num(row.client.get(f.index()).copied().unwrap_or(f64::NAN)),
    }
}

/// Resolves a feature name to its source and whether it is numeric, with no model to say which type it must be:
/// columns keep their catalog type, derived features are numeric. Training uses this to build its feature set.
pub fn resolve_natural(name: &str) -> Result<(InputSource, bool), FeatureError> {
    let canonical = canonical_name(name);
    for table in [Table::Transaction, Table::Identity] {
        if let Some(col) = table.catalog().get(&canonical) {
            let numeric = col.ty != ColumnType::Str;
            return resolve(name, numeric).map(|s| (s, numeric));
        }
    }
    resolve(name, true).map(|s| (s, true))
}

/// Resolves one input name; `numeric` says whether the model takes numbers (else strings).
pub fn resolve(name: &str, numeric: bool) -> Result<InputSource, FeatureError> {
    let canonical = canonical_name(name);
    for table in [Table::Transaction, Table::Identity] {
        let Some(col) = table.catalog().get(&canonical) else { continue };
        let column_numeric = col.ty != ColumnType::Str;
        if column_numeric != numeric {
            return Err(FeatureError::TypeMismatch {
                name: name.to_string(),
                model_type: if numeric { "numeric" } else { "string" },
                column: col.name.to_string(),
                column_type: if column_numeric { "numeric" } else { "string" },
            });
        }
        return Ok(match (table, numeric) {
            (Table::Transaction, true) => InputSource::TransactionNum(col.slot),
            (Table::Transaction, false) => InputSource::TransactionStr(col.slot),
            (Table::Identity, true) => InputSource::IdentityNum(col.slot),
            (Table::Identity, false) => InputSource::IdentityStr(col.slot),
        });
    }
    let derived = CalendarFeature::by_name(&canonical)
        .map(InputSource::Calendar)
        .or_else(|| ClientFeature::by_name(&canonical).map(InputSource::Client));
    match derived {
        Some(source) if numeric => Ok(source),
        Some(_) => Err(FeatureError::TypeMismatch {
            name: name.to_string(),
            model_type: "string",
            column: canonical.into_owned(),
            column_type: "numeric",
        }),
        None => Err(FeatureError::Unfillable {
            name: name.to_string(),
            derived: CalendarFeature::NAMES
                .iter()
                .flat_map(|(_, names)| names.iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
            client: ClientFeature::NAMES.iter().map(|(_, name)| *name).collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_columns_identity_fields_and_calendar_features() {
        let tx = Table::Transaction.catalog();
        let id = Table::Identity.catalog();
        assert_eq!(
            resolve("TransactionAmt", true).expect("amt"),
            InputSource::TransactionNum(tx.col("TransactionAmt").slot)
        );
        assert_eq!(resolve("ProductCD", false).expect("cd"), InputSource::TransactionStr(tx.col("ProductCD").slot));
        assert_eq!(resolve("id-02", true).expect("id"), InputSource::IdentityNum(id.col("id_02").slot));
        assert_eq!(resolve("DeviceType", false).expect("dev"), InputSource::IdentityStr(id.col("DeviceType").slot));
        assert_eq!(resolve("DT_W", true).expect("dtw"), InputSource::Calendar(CalendarFeature::DtW));
    }

    #[test]
    fn natural_resolution_keeps_catalog_types() {
        assert!(resolve_natural("TransactionAmt").expect("amt").1);
        assert!(!resolve_natural("P_emaildomain").expect("email").1);
        assert!(!resolve_natural("id-30").expect("id_30").1);
        assert_eq!(resolve_natural("hour").expect("hour"), (InputSource::Calendar(CalendarFeature::Hour), true));
        assert!(resolve_natural("nonsense").is_err());
    }

    #[test]
    fn an_input_nothing_can_fill_is_named() {
        let err = resolve("card_velocity_1h", true).unwrap_err().to_string();
        assert!(err.contains("`card_velocity_1h`") && err.contains("DT_D"), "{err}");
        assert!(err.contains("uid_count_1h") && err.contains("D15n"), "{err}");
    }

    #[test]
    fn client_feature_names_resolve_to_client_values_and_are_numeric() {
        assert_eq!(resolve("uid_count_24h", true).expect("uid"), InputSource::Client(ClientFeature::UidCount24h));
        assert_eq!(resolve_natural("D15n").expect("d15n"), (InputSource::Client(ClientFeature::D15n), true));
        let err = resolve("card1_seen", false).unwrap_err().to_string();
        assert!(err.contains("`card1_seen` is a string tensor"), "{err}");
    }

    #[test]
    fn client_values_come_from_the_row_and_are_missing_without_a_client_stage() {
        let tx = fraudstream_data::Transaction { row: fraudstream_data::Row::empty(Table::Transaction.catalog()) };
        let mut client = vec![0.0; ClientFeature::COUNT];
        client[ClientFeature::Cents.index()] = 0.5;
        let sources = [InputSource::Client(ClientFeature::Cents), InputSource::TransactionNum(0)];
        assert!(uses_client_features(&sources) && !uses_client_features(&sources[1..]));
        let mut out = Vec::new();
        values_into(&sources[..1], false, &FeatureRow::new(&tx, None).with_client(&client), &mut out);
        values_into(&sources[..1], false, &FeatureRow::new(&tx, None), &mut out);
        assert_eq!(out[0], InputValue::Num(0.5));
        assert!(matches!(out[1], InputValue::Num(v) if v.is_nan()));
    }

    #[test]
    fn a_type_mismatch_names_input_and_column() {
        let err = resolve("card4", true).unwrap_err().to_string();
        assert!(err.contains("`card4` is a numeric tensor") && err.contains("string values"), "{err}");
    }
}
