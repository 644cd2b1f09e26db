//! A named list of features, resolved once, for code that has no model to ask: training builds its matrix from a
//! [`FeatureSet`], and the model it exports takes exactly these names as inputs, so serving resolves them back to
//! the same sources through [`InputMapping`](crate::InputMapping).

use fraudstream_data::Table;

use crate::calendar::CalendarFeature;
use crate::client::ClientFeature;
use crate::mapping::{resolve_natural, uses_client_features, values_into, FeatureError, InputSource, InputValue};
use crate::row::FeatureRow;

/// Whether a feature holds numbers or strings (categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    Numeric,
    Categorical,
}

/// Features resolved by name, in a fixed order.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    sources: Vec<InputSource>,
    uses_calendar: bool,
    uses_client: bool,
}

/// Columns that identify, label or timestamp a record: never model features. `TransactionDT` is a clock, so a
/// model trained on it would learn the calendar of the training period rather than fraud.
const NOT_FEATURES: &[&str] = &["TransactionID", "isFraud", "TransactionDT"];

impl FeatureSet {
    /// Resolves `names` in order; an unknown name is an error naming it.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<FeatureSet, FeatureError> {
        let mut set = FeatureSet {
            names: Vec::new(),
            kinds: Vec::new(),
            sources: Vec::new(),
            uses_calendar: false,
            uses_client: false,
        };
        for name in names {
            let (source, numeric) = resolve_natural(name.as_ref())?;
            set.names.push(name.as_ref().to_string());
            set.kinds.push(if numeric { FeatureKind::Numeric } else { FeatureKind::Categorical });
            set.uses_calendar |= matches!(source, InputSource::Calendar(_));
            set.sources.push(source);
        }
        set.uses_client = uses_client_features(&set.sources);
        Ok(set)
    }

    /// The raw-data features: every transaction and identity column except identifiers, the label and the raw
    /// clock, plus the hour of day and day of week. Calendar counters (DT_D/DT_W/DT_M) are left out: under a
    /// time-ordered split they only say "later than training".
    pub fn raw_columns() -> Vec<String> {
        let tables = [Table::Transaction, Table::Identity];
        let columns = tables.iter().flat_map(|t| t.catalog().names()).filter(|n| !NOT_FEATURES.contains(n));
        let calendar = [CalendarFeature::Hour, CalendarFeature::DayOfWeek]
            .into_iter()
            .map(|f| CalendarFeature::NAMES.iter().find(|(g, _)| *g == f).map_or("", |(_, names)| names[0]));
        columns.chain(calendar).map(str::to_string).collect()
    }

    /// Every client feature, in canonical order.
    pub fn client_columns() -> Vec<String> {
        ClientFeature::NAMES.iter().map(|(_, name)| name.to_string()).collect()
    }

    /// Training's default: the [raw columns](Self::raw_columns) followed by the [client
    /// features](Self::client_columns), which carry most of the signal in this data.
    pub fn raw_and_client_columns() -> Vec<String> {
        let mut names = Self::raw_columns();
        names.extend(Self::client_columns());
        names
    }

    /// Whether any feature is a client feature: then rows must carry client values (from [`ClientFeatures`]), or
    /// those features read as missing.
    ///
    /// [`ClientFeatures`]: crate::ClientFeatures
    pub fn uses_client_features(&self) -> bool {
        self.uses_client
    }

    /// Feature names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Feature kinds, in the order of [`names`](Self::names).
    pub fn kinds(&self) -> &[FeatureKind] {
        &self.kinds
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Replaces `out` with this record's feature values, in order (missing numbers are NaN, missing strings "").
    pub fn extract<'a>(&self, row: &FeatureRow<'a>, out: &mut Vec<InputValue<'a>>) {
        out.clear();
        values_into(&self.sources, self.uses_calendar, row, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::{Row, Transaction};

    #[test]
    fn raw_columns_exclude_identifiers_label_and_clock() {
        let names = FeatureSet::raw_columns();
        for excluded in NOT_FEATURES {
            assert!(!names.iter().any(|n| n == excluded), "{excluded}");
        }
        assert!(names.iter().any(|n| n == "id_31") && names.iter().any(|n| n == "V339"));
        assert!(names.iter().any(|n| n == "DT_hour") && names.iter().any(|n| n == "DT_day_week"));
        // 394 transaction + 41 identity columns, minus TransactionID twice, isFraud and TransactionDT, plus 2.
        assert_eq!(names.len(), 394 + 41 - 4 + 2);
        let set = FeatureSet::new(&names).expect("resolves");
        assert_eq!(set.kinds()[names.iter().position(|n| n == "ProductCD").expect("cd")], FeatureKind::Categorical);
    }

    #[test]
    fn the_default_training_set_adds_every_client_feature_after_the_raw_columns() {
        let names = FeatureSet::raw_and_client_columns();
        let raw = FeatureSet::raw_columns().len();
        assert_eq!(names.len(), raw + ClientFeature::COUNT);
        assert_eq!(names[raw], "uid_count_1h");
        let set = FeatureSet::new(&names).expect("resolves");
        assert!(set.uses_client_features());
        assert!(set.kinds()[raw..].iter().all(|k| *k == FeatureKind::Numeric));
        assert!(!FeatureSet::new(&FeatureSet::raw_columns()).expect("raw").uses_client_features());
    }

    #[test]
    fn extract_reads_columns_and_derived_features() {
        let catalog = Table::Transaction.catalog();
        let mut row = Row::empty(catalog);
        row.nums[catalog.col("TransactionAmt").slot] = 12.5;
        row.nums[catalog.col("TransactionDT").slot] = 86_400.0 + 3.0 * 3600.0;
        row.strs[catalog.col("ProductCD").slot] = Some("W".into());
        let tx = Transaction { row };
        let set = FeatureSet::new(&["TransactionAmt", "ProductCD", "DT_hour", "DeviceType", "card1"]).expect("set");
        let mut out = Vec::new();
        set.extract(&FeatureRow::new(&tx, None), &mut out);
        assert_eq!(out[..4], [InputValue::Num(12.5), InputValue::Str("W"), InputValue::Num(3.0), InputValue::Str("")]);
        assert!(matches!(out[4], InputValue::Num(v) if v.is_nan()));
        let err = FeatureSet::new(&["TransactionAmt", "no_such_feature"]).unwrap_err().to_string();
        assert!(err.contains("no_such_feature"), "{err}");
    }
}
