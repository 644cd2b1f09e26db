//! Our own Avro values that are broken or out of range are refused with a reason that says where and why, never
//! decoded to a different number. (Real IEEE-CIS sample rows, encoded with our schema, then damaged.)

mod common;

use common::{read, sample, TRANSACTIONS};
use fraudstream_data::avro::{decode_value, encode_value, value_schema};
use fraudstream_data::{EventTime, Row, Table, Transaction};

fn first_row() -> Row {
    read(Table::Transaction, TRANSACTIONS, &sample(TRANSACTIONS)).0.remove(0)
}

fn encoded(row: &Row) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(Table::Transaction, row, Transaction { row: row.clone() }.event_time(), &mut out).expect("encode");
    out
}

fn decode_error(datum: &[u8]) -> String {
    match decode_value(Table::Transaction, datum, value_schema(Table::Transaction)) {
        Ok(_) => panic!("a datum of {} bytes must not decode", datum.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_truncated_datum_says_in_which_field_and_after_how_many_bytes_it_ended() {
    let datum = encoded(&first_row());
    // TransactionID (4 bytes), isFraud (branch, value), TransactionDT (3 bytes), TransactionAmt's branch at byte 9
    // and its double from byte 10: cut inside the double.
    let err = decode_error(&datum[..12]);
    assert_eq!(
        err,
        "Avro decoding a transaction value: field `TransactionAmt`: truncated: the datum ended after 12 bytes: a \
         double at byte 10 needs 8 bytes, 2 remain"
    );
    // Every cut is reported as a truncation in some field, never as a decoder internal.
    for cut in 1..datum.len() {
        let err = decode_error(&datum[..cut]);
        assert!(
            err.contains(": field `") && err.contains(&format!("truncated: the datum ended after {cut} bytes")),
            "{err}"
        );
    }
}

#[test]
fn integers_beyond_2_pow_53_and_out_of_range_transaction_dts_are_errors_not_wrapped_numbers() {
    let catalog = Table::Transaction.catalog();
    for (column, value, reason) in [
        ("TransactionDT", 1e17, "100000000000000000 is outside the integers a row holds exactly"),
        ("TransactionDT", -1.0, "-1 is negative"),
        ("TransactionDT", 251_890_300_800.0, "is after 251890300799"),
        ("TransactionID", 2f64.powi(60), "1152921504606846976 is outside the integers a row holds exactly"),
        ("card1", -2f64.powi(54), "is outside the integers a row holds exactly"),
    ] {
        let mut row = first_row();
        row.nums[catalog.col(column).slot] = value;
        let mut datum = Vec::new();
        // The encoder writes what it is given: this is what a broken producer could send.
        encode_value(Table::Transaction, &row, EventTime(0), &mut datum).expect("encode");
        let err = decode_error(&datum);
        assert!(err.contains(&format!("field `{column}`: ")) && err.contains(reason), "{column}={value}: {err}");
    }
}

#[test]
fn an_infinite_double_is_an_error_and_nan_is_missing() {
    let catalog = Table::Transaction.catalog();
    let mut row = first_row();
    row.nums[catalog.col("TransactionAmt").slot] = f64::INFINITY;
    let err = decode_error(&encoded(&row));
    assert!(err.ends_with("field `TransactionAmt`: inf is not a finite number"), "{err}");
    // NaN is how a row stores a missing value, so a NaN double reads as missing (as `NaN` does in CSV).
    let mut row = first_row();
    let mut datum = Vec::new();
    row.nums[catalog.col("TransactionAmt").slot] = 1.0;
    encode_value(Table::Transaction, &row, EventTime(0), &mut datum).expect("encode");
    let at = datum.windows(8).position(|w| w == 1f64.to_le_bytes()).expect("the amount's bytes");
    datum[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let (back, _) = decode_value(Table::Transaction, &datum, value_schema(Table::Transaction)).expect("decode");
    assert_eq!(back.num(catalog.col("TransactionAmt")), None);
}

#[test]
fn an_event_time_out_of_range_is_an_error() {
    let mut datum = encoded(&first_row());
    // The event time is the last field: replace it with a long far beyond year 9999.
    let et = Transaction { row: first_row() }.event_time().millis();
    let mut tail = Vec::new();
    put_long(&mut tail, et);
    assert!(datum.ends_with(&tail));
    datum.truncate(datum.len() - tail.len());
    put_long(&mut datum, i64::MAX);
    let err = decode_error(&datum);
    assert!(err.contains("field `event_time`: 9223372036854775807 ms is outside the event times"), "{err}");
}

#[test]
fn text_that_is_not_utf8_is_an_error_naming_its_field() {
    let catalog = Table::Transaction.catalog();
    let mut row = first_row();
    row.strs[catalog.col("card4").slot] = Some("discoveR".into());
    let mut datum = encoded(&row);
    let at = datum.windows(8).position(|w| w == b"discoveR").expect("card4's bytes");
    datum[at + 7] = 0xe9;
    let err = decode_error(&datum);
    assert!(err.ends_with("field `card4`: `discove\\xe9` is not valid UTF-8"), "{err}");
}

fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
