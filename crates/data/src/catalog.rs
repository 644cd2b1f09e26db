//! The IEEE-CIS column catalog: the one place that says which columns exist, in which order, and of which type.
//!
//! Everything else (typed records, CSV reading and writing, Avro schemas, the generator, model-input mapping) is
//! derived from these two tables, so a column is never spelled out twice. The order is the Kaggle header order.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The value type of a column, as it appears in the Kaggle files.
///
/// `Int` columns are written without a decimal point (`TransactionID`, `isFraud`, `TransactionDT`, `card1`);
/// `Float` columns are pandas floats (`150.0`, `68.5`); `Str` columns are categorical text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Int,
    Float,
    Str,
}

/// Which of the two Kaggle tables a catalog describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Transaction,
    Identity,
}

impl Table {
    /// The catalog of this table.
    pub fn catalog(self) -> &'static Catalog {
        match self {
            Table::Transaction => &TRANSACTION,
            Table::Identity => &IDENTITY,
        }
    }

    /// Lower-case name used in messages and topic defaults.
    pub fn name(self) -> &'static str {
        match self {
            Table::Transaction => "transaction",
            Table::Identity => "identity",
        }
    }
}

/// One column: its Kaggle name, type, and its slot in the numeric or string part of a [`crate::Row`].
#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Index into `Row::nums` for `Int`/`Float` columns, into `Row::strs` for `Str` columns.
    pub slot: usize,
    /// A value must be present in every row (TransactionID, TransactionDT).
    pub required: bool,
}

/// The ordered columns of one table plus name lookup.
#[derive(Debug)]
pub struct Catalog {
    pub table: Table,
    columns: Vec<Column>,
    by_name: HashMap<&'static str, usize>,
    num_count: usize,
    str_count: usize,
}

impl Catalog {
    fn build(table: Table, spec: Vec<(String, ColumnType)>, required: &[&str]) -> Catalog {
        let mut columns = Vec::with_capacity(spec.len());
        let (mut nums, mut strs) = (0, 0);
        for (name, ty) in spec {
            // Names live for the whole program; leaking them once gives `&'static str` for serde field names.
            let name: &'static str = Box::leak(name.into_boxed_str());
            let slot = match ty {
                ColumnType::Str => {
                    strs += 1;
                    strs - 1
                }
                _ => {
                    nums += 1;
                    nums - 1
                }
            };
            columns.push(Column { name, ty, slot, required: required.contains(&name) });
        }
        let by_name = columns.iter().enumerate().map(|(i, c)| (c.name, i)).collect();
        Catalog { table, columns, by_name, num_count: nums, str_count: strs }
    }

    /// All columns in Kaggle header order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of numeric (`Int` + `Float`) slots in a row.
    pub fn num_count(&self) -> usize {
        self.num_count
    }

    /// Number of string slots in a row.
    pub fn str_count(&self) -> usize {
        self.str_count
    }

    /// Looks a column up by its canonical name (`id_01`, not `id-01`; see [`canonical_name`]).
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.by_name.get(name).map(|&i| &self.columns[i])
    }

    /// The position of a column in header order.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Like [`Catalog::get`] but for names known at compile time; panics on a typo, which tests catch.
    pub fn col(&self, name: &str) -> &Column {
        self.get(name).unwrap_or_else(|| panic!("column {name} is not in the {} catalog", self.table.name()))
    }

    /// The Kaggle header line's names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }
}

/// Maps the spellings found in real files to the catalog's: Kaggle's test identity file writes `id-01`.
pub fn canonical_name(name: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = name.trim().trim_start_matches('\u{feff}');
    match trimmed.strip_prefix("id-") {
        Some(rest) => format!("id_{rest}").into(),
        None => trimmed.into(),
    }
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<u32>, ty: ColumnType) -> Vec<(String, ColumnType)> {
    range.map(|i| (format!("{prefix}{i}"), ty)).collect()
}

/// String-typed identity columns; every other `id_NN` is numeric.
const IDENTITY_STR_IDS: [u32; 15] = [12, 15, 16, 23, 27, 28, 29, 30, 31, 33, 34, 35, 36, 37, 38];

/// The 394 columns of `train_transaction.csv`.
pub static TRANSACTION: LazyLock<Catalog> = LazyLock::new(|| {
    use ColumnType::*;
    let mut spec: Vec<(String, ColumnType)> = [
        ("TransactionID", Int),
        ("isFraud", Int),
        ("TransactionDT", Int),
        ("TransactionAmt", Float),
        ("ProductCD", Str),
        ("card1", Int),
        ("card2", Float),
        ("card3", Float),
        ("card4", Str),
        ("card5", Float),
        ("card6", Str),
        ("addr1", Float),
        ("addr2", Float),
        ("dist1", Float),
        ("dist2", Float),
        ("P_emaildomain", Str),
        ("R_emaildomain", Str),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect();
    spec.extend(numbered("C", 1..=14, Float));
    spec.extend(numbered("D", 1..=15, Float));
    spec.extend(numbered("M", 1..=9, Str));
    spec.extend(numbered("V", 1..=339, Float));
    Catalog::build(Table::Transaction, spec, &["TransactionID", "TransactionDT"])
});

/// The 41 columns of `train_identity.csv`.
pub static IDENTITY: LazyLock<Catalog> = LazyLock::new(|| {
    let mut spec = vec![("TransactionID".to_string(), ColumnType::Int)];
    for i in 1..=38u32 {
        let ty = if IDENTITY_STR_IDS.contains(&i) { ColumnType::Str } else { ColumnType::Float };
        spec.push((format!("id_{i:02}"), ty));
    }
    spec.push(("DeviceType".to_string(), ColumnType::Str));
    spec.push(("DeviceInfo".to_string(), ColumnType::Str));
    Catalog::build(Table::Identity, spec, &["TransactionID"])
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_catalog_has_the_kaggle_394_columns_in_order() {
        let names: Vec<_> = TRANSACTION.names().collect();
        assert_eq!(names.len(), 394);
        assert_eq!(&names[..5], &["TransactionID", "isFraud", "TransactionDT", "TransactionAmt", "ProductCD"]);
        assert_eq!(names[17], "C1");
        assert_eq!(names[55], "V1");
        assert_eq!(names[393], "V339");
        assert_eq!(TRANSACTION.str_count(), 14);
        assert_eq!(TRANSACTION.num_count(), 380);
    }

    #[test]
    fn identity_catalog_has_41_columns_with_17_strings() {
        assert_eq!(IDENTITY.columns().len(), 41);
        assert_eq!(IDENTITY.str_count(), 17);
        assert_eq!(IDENTITY.col("id_30").ty, ColumnType::Str);
        assert_eq!(IDENTITY.col("id_01").ty, ColumnType::Float);
        assert_eq!(IDENTITY.col("DeviceInfo").ty, ColumnType::Str);
    }

    #[test]
    fn test_file_hyphen_names_map_to_catalog_names() {
        assert_eq!(canonical_name("id-01"), "id_01");
        assert_eq!(canonical_name(" TransactionID "), "TransactionID");
        assert!(IDENTITY.get(&canonical_name("id-38")).is_some());
    }
}
