//! The header decides what a file is: a file of the other table is refused, and which columns a file has is known
//! before the first row, so a caller can refuse a file that lacks a column it needs. (Real IEEE-CIS sample.)

mod common;

use common::{replace, sample, with_line, IDENTITIES, TRANSACTIONS};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{DataError, Table};
use fraudstream_testkit::ieee_cis_sample;

fn refusal(table: Table, name: &str, bytes: &[u8]) -> String {
    match TableReader::new(bytes, name, table, 0) {
        Ok(_) => panic!("{name} must be refused as a {} file", table.name()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_transactions_file_is_refused_as_identities() {
    let msg = refusal(Table::Identity, "train_transaction.csv", &sample(TRANSACTIONS));
    assert!(msg.starts_with("train_transaction.csv: not an identity file: it looks like a transaction file"), "{msg}");
    assert!(msg.contains("392 transaction columns (isFraud, TransactionAmt, ProductCD, …)"), "{msg}");
    // Opening the file names its path.
    let err = TableReader::open(ieee_cis_sample().join(TRANSACTIONS), Table::Identity, 0).err().expect("refused");
    assert!(matches!(err, DataError::WrongTable { .. }) && err.to_string().contains(TRANSACTIONS), "{err}");
}

#[test]
fn an_identities_file_is_refused_as_transactions_for_what_it_is() {
    let msg = refusal(Table::Transaction, "train_identity.csv", &sample(IDENTITIES));
    assert!(msg.starts_with("train_identity.csv: not a transaction file: it looks like an identity file"), "{msg}");
    assert!(msg.contains("40 identity columns (id_01, id_02, id_03, …)"), "{msg}");
}

#[test]
fn a_file_without_any_identity_column_is_not_an_identities_file() {
    let msg = refusal(Table::Identity, "ids.csv", b"TransactionID,extra\n1,2\n");
    assert!(msg.contains("not an identity file: it has no identity column"), "{msg}");
    let msg = refusal(Table::Identity, "ids.csv", b"TransactionID,id_01,TransactionAmt\n1,2,3\n");
    assert!(msg.contains("columns of both tables") && msg.contains("TransactionAmt"), "{msg}");
}

#[test]
fn a_merged_transaction_and_identity_file_is_refused_as_either() {
    let header: Vec<&str> =
        Table::Transaction.catalog().names().chain(Table::Identity.catalog().names().skip(1)).collect();
    let text = format!("{}\n", header.join(","));
    for table in [Table::Transaction, Table::Identity] {
        let msg = refusal(table, "merged.csv", text.as_bytes());
        assert!(msg.contains("columns of both tables, as a merged transaction+identity file has"), "{msg}");
    }
}

#[test]
fn what_was_accepted_before_still_is() {
    // Test-file spelling, a pandas index column, any order, optional columns missing.
    for (table, text) in [
        (Table::Identity, ",TransactionID,id-01,id-30\n0,7,-5.0,iOS 11.1.2\n"),
        (Table::Identity, "Unnamed: 0,DeviceType,TransactionID\n0,mobile,7\n"),
        (Table::Transaction, "TransactionDT,ProductCD,TransactionID\n86400,W,7\n"),
        (Table::Transaction, "TransactionID,TransactionDT,some_feature\n7,86400,1\n"),
    ] {
        let mut reader = TableReader::new(text.as_bytes(), "ok.csv", table, 0).expect(text);
        assert_eq!(reader.by_ref().count(), 1, "{text}");
    }
}

#[test]
fn the_reader_says_which_catalog_columns_the_header_has() {
    let text = with_line(TRANSACTIONS, 1, |l| replace(l, "TransactionAmt", b"TransactionAmount"));
    let mut reader = TableReader::new(&text[..], "t.csv", Table::Transaction, 0).expect("header");
    // A projection reads fewer columns; the header still has them.
    reader.project(&["card1".to_string()]);
    let catalog = Table::Transaction.catalog();
    assert!(!reader.has_column(catalog.col("TransactionAmt")));
    assert!(reader.has_column(catalog.col("card4")) && reader.has_column(catalog.col("V339")));
    assert!(reader.has_column(Table::Identity.catalog().col("TransactionID")), "looked up by name");
    assert!(!reader.has_column(Table::Identity.catalog().col("id_01")), "not a column of this table");
    assert_eq!(reader.present_columns().count(), 393);
    let inputs = ["TransactionAmt", "card1", "id_01", "DT_M", "V12"].map(String::from);
    assert_eq!(reader.absent_columns(&inputs), ["TransactionAmt"]);

    let reader = TableReader::new(&b",TransactionID,id-01\n"[..], "i.csv", Table::Identity, 0).expect("header");
    let present: Vec<&str> = reader.present_columns().map(|c| c.name).collect();
    assert_eq!(present, ["TransactionID", "id_01"]);
    assert_eq!(reader.absent_columns(&["id_01", "id_02", "TransactionAmt"]), ["id_02"]);
}
