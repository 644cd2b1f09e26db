//! A malformed row in real data costs that row only: it is reported with file, line and column, and every other row
//! reads as it does from the clean file. (Real IEEE-CIS sample, one line edited in memory.)

mod common;

use common::{ids, read, replace, sample, set_field, with_line, IDENTITIES, TRANSACTIONS};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{BadRow, Row, Table};

fn clean(table: Table, file: &str) -> Vec<Row> {
    let (rows, bad) = read(table, file, &sample(file));
    assert!(bad.is_empty());
    rows
}

/// The clean rows without the one at 1-based `line`.
fn clean_without_line(table: Table, file: &str, line: usize) -> Vec<i64> {
    let mut expected = ids(&clean(table, file));
    expected.remove(line - 2);
    expected
}

fn assert_one_bad(bad: &[BadRow], line: u64, column: &str, reason: &str) {
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!((bad[0].line, bad[0].column.as_deref()), (line, Some(column)), "{}", bad[0]);
    assert!(bad[0].reason.contains(reason), "{}", bad[0]);
}

#[test]
fn a_stray_quote_inside_a_field_costs_only_its_row() {
    let text = with_line(TRANSACTIONS, 12, |l| replace(l, "mastercard", b"master\"card"));
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert_eq!(ids(&rows), clean_without_line(Table::Transaction, TRANSACTIONS, 12));
    assert_one_bad(&bad, 12, "card4", "a quote inside an unquoted field");
    assert!(bad[0].to_string().starts_with("t.csv:12:card4: "), "{}", bad[0]);

    let text = with_line(IDENTITIES, 4, |l| replace(l, "NotFound", b"Not\"Found"));
    let (rows, bad) = read(Table::Identity, "i.csv", &text);
    assert_eq!(ids(&rows), clean_without_line(Table::Identity, IDENTITIES, 4));
    assert_one_bad(&bad, 4, "id_12", "a quote inside an unquoted field");
}

#[test]
fn a_quote_that_opens_a_field_and_never_closes_costs_only_its_row() {
    let text = with_line(TRANSACTIONS, 12, |l| replace(l, ",mastercard,", b",\"mastercard,"));
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert_eq!(ids(&rows), clean_without_line(Table::Transaction, TRANSACTIONS, 12));
    // The sample is 1.6 MB: the quote is followed for 1 MiB, then given up, and the lines after it read again.
    assert_one_bad(&bad, 12, "card4", "a quoted field opens here and is not closed on this line");
    assert!(bad[0].reason.ends_with("it is not closed within 1 MiB"), "{}", bad[0]);
    // Near the end of the file, it is the end of the file that gives it away.
    let last = sample(TRANSACTIONS).split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    let text = with_line(TRANSACTIONS, last - 2, |l| replace(l, ",W,", b",\"W,"));
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert_eq!(ids(&rows), clean_without_line(Table::Transaction, TRANSACTIONS, last - 2));
    assert_one_bad(&bad, last as u64 - 2, "ProductCD", "the file ends inside it");
}

#[test]
fn an_open_quote_is_not_closed_by_a_legitimate_quoted_field_hundreds_of_lines_later() {
    let text = with_line(TRANSACTIONS, 12, |l| replace(l, ",mastercard,", b",\"mastercard,"));
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let quoted = replace(lines[499], ",mastercard,", b",\"master,card\",");
    let text = [&lines[..499], &[quoted.as_slice()], &lines[500..]].concat().join(&b'\n');
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert_eq!(ids(&rows), clean_without_line(Table::Transaction, TRANSACTIONS, 12));
    assert_one_bad(&bad, 12, "card4", "line 500");
    let card4 = Table::Transaction.catalog().col("card4");
    assert_eq!(rows[497].str(card4), Some("master,card"), "line 500 is read with its quoted field");
}

#[test]
fn legitimate_rfc_4180_quoting_still_reads() {
    // Every field of line 12 quoted, card4 with a comma and doubled quotes, and an identity value spanning two lines.
    let text = with_line(TRANSACTIONS, 12, |l| {
        let quoted: Vec<Vec<u8>> = l.split(|&b| b == b',').map(|f| [b"\"", f, b"\""].concat()).collect();
        replace(&quoted.join(&b','), "\"mastercard\"", b"\"master, \"\"card\"\"\"")
    });
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert!(bad.is_empty(), "{bad:?}");
    let expected = clean(Table::Transaction, TRANSACTIONS);
    let card4 = Table::Transaction.catalog().col("card4");
    assert_eq!(rows[10].str(card4), Some("master, \"card\""));
    let mut row = rows[10].clone();
    row.strs[card4.slot] = expected[10].strs[card4.slot].clone();
    assert_eq!(row, expected[10], "the other quoted fields read as unquoted ones");

    let text = with_line(IDENTITIES, 4, |l| replace(l, ",Windows", b",\"Windows\r\nLaptop\""));
    let text = with_line_text(&text, 6, |l| replace(l, ",New,", b",Ne\"w,"));
    let (rows, bad) = read(Table::Identity, "i.csv", &text);
    let device_info = Table::Identity.catalog().col("DeviceInfo");
    assert_eq!(rows[2].str(device_info), Some("Windows\r\nLaptop"));
    // Line numbers stay exact after a record spanning two lines: the bad row is on (file) line 6.
    assert_one_bad(&bad, 6, "id_15", "a quote inside an unquoted field");
    assert_eq!(rows.len(), 347);
}

fn with_line_text(text: &[u8], line: usize, edit: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    // Physical line `line` of `text` (1-based; a quoted line break counts as a line end).
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines[line - 1] = edit(&lines[line - 1]);
    lines.join(&b'\n')
}

/// Line 5 of the transactions with field `field` set to `value`, read: the rows and the bad ones.
fn with_field(field: usize, value: &str) -> (Vec<Row>, Vec<BadRow>) {
    let text = with_line(TRANSACTIONS, 5, |l| set_field(l, field, value.as_bytes()));
    read(Table::Transaction, "t.csv", &text)
}

const TRANSACTION_ID: usize = 0;
const TRANSACTION_DT: usize = 2;
const TRANSACTION_AMT: usize = 3;
const CARD1: usize = 5;

#[test]
fn numbers_that_cannot_be_held_exactly_are_bad_rows_not_changed_values() {
    for (field, column, value, reason) in [
        (TRANSACTION_DT, "TransactionDT", "99999999999999999999", "outside the integers a row holds exactly"),
        (TRANSACTION_ID, "TransactionID", "99999999999999999999", "outside the integers a row holds exactly"),
        (TRANSACTION_ID, "TransactionID", "9007199254740993", "outside the integers a row holds exactly"),
        (CARD1, "card1", "1e300", "outside the integers a row holds exactly"),
        (TRANSACTION_DT, "TransactionDT", "-1", "is negative"),
        (TRANSACTION_DT, "TransactionDT", "251890300800", "9999-12-31"),
        (TRANSACTION_DT, "TransactionDT", "86499.5", "is not an integer"),
        (TRANSACTION_AMT, "TransactionAmt", "inf", "is not a finite number"),
        (TRANSACTION_AMT, "TransactionAmt", "1e400", "is not a finite number"),
        (TRANSACTION_DT, "TransactionDT", "-inf", "is not a finite number"),
    ] {
        let (rows, bad) = with_field(field, value);
        assert_eq!(rows.len(), 1499, "{column}={value}");
        assert_one_bad(&bad, 5, column, reason);
        assert!(bad[0].reason.contains(value), "{}", bad[0]);
    }
}

#[test]
fn nan_is_a_missing_value_in_every_numeric_column_and_whole_floats_fit_integer_columns() {
    let catalog = Table::Transaction.catalog();
    for (field, column) in [(TRANSACTION_AMT, "TransactionAmt"), (CARD1, "card1")] {
        let (rows, bad) = with_field(field, "NaN");
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(rows[3].num(catalog.col(column)), None);
    }
    let (rows, bad) = with_field(TRANSACTION_DT, "NaN");
    assert_one_bad(&bad, 5, "TransactionDT", "required value is missing (`NaN`)");
    assert_eq!(rows.len(), 1499);
    let (rows, bad) = with_field(TRANSACTION_DT, "");
    assert_one_bad(&bad, 5, "TransactionDT", "required value is missing (the field is empty)");
    assert_eq!(rows.len(), 1499);
    let (rows, bad) = with_field(TRANSACTION_DT, "86499.0");
    assert!(bad.is_empty());
    assert_eq!(rows[3].num(catalog.col("TransactionDT")), Some(86_499.0));
}

#[test]
fn text_that_is_not_utf8_is_a_bad_row_naming_its_column_where_the_column_is_read() {
    let text = with_line(TRANSACTIONS, 12, |l| replace(l, "mastercard", b"master\xe9card"));
    let (rows, bad) = read(Table::Transaction, "t.csv", &text);
    assert_eq!(rows.len(), 1499);
    assert_one_bad(&bad, 12, "card4", "`master\\xe9card` is not valid UTF-8");

    let text = with_line(TRANSACTIONS, 12, |l| set_field(l, TRANSACTION_AMT, b"75.8\xff87"));
    let (_, bad) = read(Table::Transaction, "t.csv", &text);
    assert_one_bad(&bad, 12, "TransactionAmt", "`75.8\\xff87` is not a number");

    // A column the reader does not read is not looked at: its bytes never reach a row.
    let text = with_line(TRANSACTIONS, 12, |l| replace(l, "mastercard", b"master\xe9card"));
    let mut reader = TableReader::new(&text[..], "t.csv", Table::Transaction, 0).expect("header");
    reader.project(&["TransactionAmt".to_string()]);
    assert_eq!(reader.by_ref().count(), 1500);
    assert_eq!(reader.bad_count(), 0);
}

#[test]
fn a_header_name_that_is_not_utf8_is_refused_not_ignored() {
    let text = with_line(TRANSACTIONS, 1, |l| replace(l, "card4", b"card\xb4"));
    let err = TableReader::new(&text[..], "t.csv", Table::Transaction, 0).err().expect("refused");
    let msg = err.to_string();
    assert!(msg.starts_with("t.csv: line 1 is not a usable header") && msg.contains("card\\xb4"), "{msg}");
}
