//! Which table a set of column names belongs to: the check that refuses a CSV file or an Avro writer schema of the
//! other table (or of both merged) before a single row is read as the wrong kind.
//!
//! Both tables share `TransactionID`; every other column belongs to one table only. So:
//! - a transaction file or schema must not have identity columns (`id_01`…`id_38`, `DeviceType`, `DeviceInfo`);
//! - an identity file or schema must have at least one identity column and no transaction column other than
//!   `TransactionDT`, which an identity may carry as its event time (see [`crate::avro::writer_plan`]).
//!
//! Without this, a transaction file passed as identities reads as 1,500 identity rows with every identity value
//! missing, and a merged train file passed as transactions silently drops the identity features. Optional columns
//! may still be missing and unknown columns are still ignored: only the other table's columns give a file away.

use crate::catalog::{Table, IDENTITY, TRANSACTION};

/// How many column names a message lists before "…".
const LISTED: usize = 3;

/// Checks that `names` (catalog spellings, as [`canonical_name`](crate::catalog::canonical_name) gives them) are
/// columns of `table`. The error says what the names look like instead, e.g. "it looks like a transaction file:
/// …"; `noun` is what holds them ("file", "schema").
pub fn check_columns<'a>(table: Table, noun: &str, names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut transaction_only = Vec::new();
    let mut identity_only = Vec::new();
    for name in names {
        if name == "TransactionID" {
            continue;
        }
        if let Some(c) = TRANSACTION.get(name) {
            if table == Table::Identity && name == "TransactionDT" {
                continue;
            }
            transaction_only.push(c.name);
        } else if let Some(c) = IDENTITY.get(name) {
            identity_only.push(c.name);
        }
    }
    let (own, other, other_table) = match table {
        Table::Transaction => (&transaction_only, &identity_only, Table::Identity),
        Table::Identity => (&identity_only, &transaction_only, Table::Transaction),
    };
    if other.is_empty() {
        if table == Table::Identity && own.is_empty() {
            return Err(format!("it has no identity column ({})", all_of(Table::Identity)));
        }
        return Ok(());
    }
    let other_name = other_table.name();
    if own.is_empty() {
        return Err(format!(
            "it looks like {} {noun}: it has {} and no {} column ({})",
            article(other_table),
            listed(other, other_name),
            table.name(),
            all_of(table)
        ));
    }
    Err(format!(
        "it has columns of both tables, as a merged transaction+identity {noun} has ({}); give each table its own \
         {noun}",
        listed(other, other_name)
    ))
}

/// "an identity" / "a transaction", for messages.
pub fn article(table: Table) -> &'static str {
    match table {
        Table::Transaction => "a transaction",
        Table::Identity => "an identity",
    }
}

/// "2 identity columns (id_01, id_02)" or "393 transaction columns (isFraud, TransactionDT, TransactionAmt, …)".
fn listed(names: &[&str], table: &str) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).copied().collect();
    let more = if names.len() > LISTED { ", …" } else { "" };
    let s = if names.len() == 1 { "" } else { "s" };
    format!("{} {table} column{s} ({}{more})", names.len(), shown.join(", "))
}

/// A short description of a table's own columns.
fn all_of(table: Table) -> &'static str {
    match table {
        Table::Transaction => "TransactionDT, TransactionAmt, ProductCD, card1…, V339",
        Table::Identity => "id_01…id_38, DeviceType, DeviceInfo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(catalog: &crate::Catalog) -> Vec<&'static str> {
        catalog.names().collect()
    }

    #[test]
    fn each_table_accepts_its_own_columns_in_part_or_whole() {
        assert_eq!(check_columns(Table::Transaction, "file", names(&TRANSACTION)), Ok(()));
        assert_eq!(check_columns(Table::Identity, "file", names(&IDENTITY)), Ok(()));
        assert_eq!(check_columns(Table::Transaction, "file", ["TransactionID", "TransactionDT", "x"]), Ok(()));
        assert_eq!(check_columns(Table::Identity, "file", ["", "TransactionID", "id_30"]), Ok(()));
        assert_eq!(check_columns(Table::Identity, "schema", ["TransactionDT", "TransactionID", "id_30"]), Ok(()));
    }

    #[test]
    fn the_other_tables_columns_give_a_file_away() {
        let err = check_columns(Table::Identity, "file", names(&TRANSACTION)).expect_err("transactions");
        assert!(err.starts_with("it looks like a transaction file: it has 392 transaction columns (isFraud,"), "{err}");
        assert!(err.contains("no identity column (id_01…id_38"), "{err}");
        let err = check_columns(Table::Transaction, "schema", ["TransactionID", "id_01"]).expect_err("identity");
        assert!(err.starts_with("it looks like an identity schema: it has 1 identity column (id_01)"), "{err}");
        let mut merged = names(&TRANSACTION);
        merged.extend(names(&IDENTITY));
        let err = check_columns(Table::Transaction, "file", merged).expect_err("merged");
        assert!(err.starts_with("it has columns of both tables"), "{err}");
        let err = check_columns(Table::Identity, "file", ["TransactionID"]).expect_err("nothing");
        assert!(err.starts_with("it has no identity column"), "{err}");
    }
}
