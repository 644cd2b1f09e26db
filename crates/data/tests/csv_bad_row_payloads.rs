//! A bad row carries its raw bytes, so a dead letter holds what was in the file, not an empty payload.

mod common;

use common::{replace, sample, with_line, TRANSACTIONS};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Table, BAD_ROW_PAYLOAD_LIMIT};

fn line_of(text: &[u8], line: usize) -> Vec<u8> {
    let raw = text.split(|&b| b == b'\n').nth(line - 1).expect("line");
    raw.strip_suffix(b"\r").unwrap_or(raw).to_vec()
}

#[test]
fn a_bad_row_carries_the_bytes_of_its_line() {
    for (edit, reason) in
        [(&b"master\"card"[..], "quote"), (&b"master\xe9card"[..], "UTF-8"), (&b"\"mastercard"[..], "not closed")]
    {
        let text = with_line(TRANSACTIONS, 12, |l| replace(l, "mastercard", edit));
        let mut reader = TableReader::new(&text[..], "t.csv", Table::Transaction, 5).expect("header");
        assert_eq!(reader.by_ref().count(), 1499);
        let bad = reader.drain_bad_rows();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains(reason), "{}", bad[0]);
        assert_eq!(bad[0].payload, line_of(&text, 12), "{reason}: the payload is line 12 exactly");
        assert_eq!(reader.bad_rows()[0].payload, bad[0].payload);
    }
}

#[test]
fn a_bad_rows_payload_is_bounded() {
    let mut text = b"TransactionID,TransactionDT,ProductCD\n".to_vec();
    text.extend_from_slice(b"1,86400,");
    text.extend(std::iter::repeat_n(b'W', 3 * BAD_ROW_PAYLOAD_LIMIT));
    text.extend_from_slice(b",extra\n2,86401,W\n");
    let mut reader = TableReader::new(&text[..], "t.csv", Table::Transaction, 5).expect("header");
    assert_eq!(reader.by_ref().count(), 1);
    let bad = reader.drain_bad_rows();
    assert_eq!(bad[0].payload.len(), BAD_ROW_PAYLOAD_LIMIT);
    assert!(bad[0].payload.starts_with(b"1,86400,WWW"));
    // The untouched sample has no bad rows and so no payloads.
    let clean = sample(TRANSACTIONS);
    let mut reader = TableReader::new(&clean[..], "t.csv", Table::Transaction, 0).expect("header");
    assert_eq!(reader.by_ref().count(), 1500);
    assert!(reader.drain_bad_rows().is_empty());
}
