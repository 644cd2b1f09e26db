//! The data layer on the real IEEE-CIS sample (first 1,500 transactions, their 348 identity rows, from ../shared).

use apache_avro::types::Value as Avro;
use fraudstream_data::avro::{decode_value, encode_value, value_schema, value_schema_json};
use fraudstream_data::csv_table::{write_header, write_row, TableReader};
use fraudstream_data::{EventTime, Row, Table, Value};
use fraudstream_testkit::ieee_cis_sample;

fn read(table: Table) -> Vec<Row> {
    let file = match table {
        Table::Transaction => "train_transaction.csv",
        Table::Identity => "train_identity.csv",
    };
    let mut reader = TableReader::open(ieee_cis_sample().join(file), table, 0).expect("open");
    let rows: Vec<Row> = reader.by_ref().collect::<Result<_, _>>().expect("no malformed rows in the real sample");
    assert_eq!(reader.bad_count(), 0);
    rows
}

#[test]
fn the_real_sample_reads_completely() {
    let tx = read(Table::Transaction);
    let id = read(Table::Identity);
    assert_eq!((tx.len(), id.len()), (1500, 348));
    let catalog = Table::Transaction.catalog();
    assert_eq!(tx[0].num(catalog.col("TransactionID")), Some(2_987_000.0));
    assert_eq!(tx[0].num(catalog.col("TransactionAmt")), Some(68.5));
    assert_eq!(tx[0].str(catalog.col("card4")), Some("discover"));
    assert_eq!(tx[0].num(catalog.col("card2")), None);
}

/// Rows read into reused buffers (as the streaming job recycles them) equal rows read fresh, column for column,
/// including strings that change, repeat or go missing between consecutive rows, and a bad row in between.
#[test]
fn reading_into_a_reused_row_equals_reading_fresh_rows() {
    for table in [Table::Transaction, Table::Identity] {
        let fresh = read(table);
        let file = if table == Table::Transaction { "train_transaction.csv" } else { "train_identity.csv" };
        let mut reader = TableReader::open(ieee_cis_sample().join(file), table, 0).expect("open");
        // Rotate three buffers, like the job's pool: each is refilled with a row two or three ahead of its last one.
        let mut buffers: [Row; 3] = std::array::from_fn(|_| Row::empty(table.catalog()));
        for (i, expected) in fresh.iter().enumerate() {
            let row = &mut buffers[i % 3];
            assert!(reader.read_row_into(row).expect("read"), "{file}: ended early at row {i}");
            assert_eq!(row, expected, "{file}: row {i} read into a reused buffer differs");
        }
        assert!(!reader.read_row_into(&mut buffers[0]).expect("end"));
    }
    // A malformed row between two good ones leaves nothing behind in the reused buffer.
    let text =
        "TransactionID,TransactionDT,ProductCD,card4,TransactionAmt\n1,86400,W,visa,10\n2,86401,C,,x\n3,86402,,,\n";
    let mut reader = TableReader::new(text.as_bytes(), "mem.csv", Table::Transaction, 5).expect("header");
    let mut row = Row::empty(Table::Transaction.catalog());
    assert!(reader.read_row_into(&mut row).expect("first"));
    assert!(reader.read_row_into(&mut row).expect("third"));
    let catalog = Table::Transaction.catalog();
    assert_eq!(row.num(catalog.col("TransactionID")), Some(3.0));
    assert_eq!((row.str(catalog.col("ProductCD")), row.str(catalog.col("card4"))), (None, None));
    assert_eq!(row.num(catalog.col("TransactionAmt")), None);
    assert_eq!(reader.bad_count(), 1);
}

#[test]
fn writing_the_real_sample_reproduces_the_kaggle_bytes() {
    for (table, file) in [(Table::Transaction, "train_transaction.csv"), (Table::Identity, "train_identity.csv")] {
        let original = std::fs::read_to_string(ieee_cis_sample().join(file)).expect("read");
        let mut out = Vec::new();
        write_header(table.catalog(), &mut out);
        for row in read(table) {
            write_row(table.catalog(), &row, &mut out);
        }
        let written = String::from_utf8(out).expect("utf8");
        for (i, (a, b)) in original.lines().zip(written.lines()).enumerate() {
            assert_eq!(a.trim_end_matches('\r'), b, "{file} line {} differs", i + 1);
        }
        assert_eq!(original.lines().count(), written.lines().count());
    }
}

#[test]
fn every_real_row_encodes_to_avro_that_apache_avro_decodes_to_the_same_values() {
    for table in [Table::Transaction, Table::Identity] {
        let schema = apache_avro::Schema::parse_str(&value_schema_json(table)).expect("schema");
        let catalog = table.catalog();
        for row in read(table) {
            let t = EventTime::from_transaction_dt(86_400);
            let mut bytes = Vec::new();
            encode_value(table, &row, t, &mut bytes).expect("encode");
            let Avro::Record(fields) =
                apache_avro::from_avro_datum(&schema, &mut bytes.as_slice(), None).expect("decode")
            else {
                panic!("not a record")
            };
            for (col, (name, value)) in catalog.columns().iter().zip(&fields) {
                assert_eq!(name, col.name);
                let value = match value {
                    Avro::Union(_, v) => v.as_ref(),
                    v => v,
                };
                let same = match (row.value(col), value) {
                    (Value::Null, Avro::Null) => true,
                    (Value::Int(a), Avro::Long(b)) => a == *b,
                    (Value::Int(a), Avro::Int(b)) => a == *b as i64,
                    (Value::Float(a), Avro::Double(b)) => a.to_bits() == b.to_bits(),
                    (Value::Str(a), Avro::String(b)) => a == b,
                    _ => false,
                };
                assert!(same, "{} {}: {:?} vs {value:?}", catalog.table.name(), col.name, row.value(col));
            }
            assert_eq!(fields.last().map(|f| &f.1), Some(&Avro::TimestampMillis(t.millis())));
            let (back, t2) = decode_value(table, &bytes, value_schema(table)).expect("our decode");
            assert_eq!((back, t2), (row, t));
        }
    }
}
