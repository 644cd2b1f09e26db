//! The input columns a model cannot do without, and what happens when input lacks them.
//!
//! An optional column missing from a CSV header (or an Avro writer schema) reads as missing in every row. That is
//! right for data that never had it, and silently wrong for a model that reads it: a renamed `TransactionAmt` would
//! score every row as if the amount were unknown, and the run would still exit 0. So every source that knows the
//! model's inputs checks them before the first record ([`RequiredColumns::check`]): an absent one is an error that
//! names the file (or topic and schema) and the columns, unless the user allowed it (`--allow-missing-columns`),
//! which reads them as missing with a warning listing them.
//!
//! Which columns count: the model inputs that are raw catalog columns (a derived calendar feature such as `DT_D` is
//! computed from TransactionDT, which every file must have anyway), plus, when the model reads client features, the
//! columns those are computed from ([`fraudstream_features::client::SOURCE_COLUMNS`]). Columns only read for
//! alerts or labels (`isFraud`: a Kaggle test file has none) do not count. A source checks each file or schema
//! against its own table only, so identity columns are required of an identity file only when one is given.

use fraudstream_data::catalog::canonical_name;
use fraudstream_data::Table;

use crate::error::EngineError;

/// The columns a run requires of its input, and whether their absence is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredColumns {
    /// Catalog names (of either table), in model order.
    pub names: Vec<String>,
    /// Read absent columns as missing, with a warning, instead of refusing to start.
    pub allow_missing: bool,
}

impl RequiredColumns {
    /// The raw columns behind `model_inputs` (see the module docs).
    pub fn for_model(model_inputs: &[String]) -> RequiredColumns {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            let is_column = [Table::Transaction, Table::Identity].iter().any(|t| t.catalog().get(name).is_some());
            if is_column && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        };
        for input in model_inputs {
            add(&canonical_name(input));
        }
        if model_inputs.iter().any(|n| fraudstream_features::ClientFeature::by_name(&canonical_name(n)).is_some()) {
            for name in fraudstream_features::client::SOURCE_COLUMNS {
                add(name);
            }
        }
        RequiredColumns { names, allow_missing: false }
    }

    /// Refuses (or, when allowed, warns about) the `absent` required columns of `input` (a file's path, or a topic
    /// and writer schema), as [`EngineError::MissingColumns`].
    pub fn check(&self, input: &dyn std::fmt::Display, absent: &[&str]) -> Result<(), EngineError> {
        if absent.is_empty() {
            return Ok(());
        }
        let columns: Vec<String> = absent.iter().map(|c| c.to_string()).collect();
        if self.allow_missing {
            tracing::warn!(
                "{input}: the model reads {} that the input does not have; with --allow-missing-columns every row \
                 reads {} as missing",
                listed(&columns),
                if columns.len() == 1 { "it" } else { "them" }
            );
            return Ok(());
        }
        Err(EngineError::MissingColumns { input: input.to_string(), columns })
    }
}

/// "column `a`" / "columns `a`, `b`".
pub(crate) fn listed(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!("column{} {}", if columns.len() == 1 { "" } else { "s" }, quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raw_catalog_columns_count_and_client_features_bring_theirs() {
        let inputs: Vec<String> =
            ["TransactionAmt", "id-31", "DT_D", "card4", "TransactionAmt"].map(String::from).into();
        assert_eq!(RequiredColumns::for_model(&inputs).names, ["TransactionAmt", "id_31", "card4"]);
        let client = fraudstream_features::ClientFeature::all().next().map(|f| f.name().to_string());
        let required = RequiredColumns::for_model(&client.into_iter().collect::<Vec<_>>());
        assert!(required.names.iter().any(|n| n == "card1") && required.names.iter().any(|n| n == "DeviceInfo"));
    }

    #[test]
    fn absent_columns_are_an_error_naming_them_unless_allowed() {
        let mut required = RequiredColumns { names: vec!["TransactionAmt".into()], allow_missing: false };
        assert!(required.check(&"t.csv", &[]).is_ok());
        let err = required.check(&"t.csv", &["TransactionAmt", "card4"]).expect_err("refused").to_string();
        assert!(err.starts_with("t.csv: the model reads columns `TransactionAmt`, `card4`"), "{err}");
        required.allow_missing = true;
        assert!(required.check(&"t.csv", &["TransactionAmt"]).is_ok());
    }
}
