//! `produce` against a real Kafka-protocol broker over TCP (tansu, started by scripts/test.sh) and a Schema
//! Registry that speaks Confluent's REST API: what goes in as CSV comes out of the topics, field for field.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fraudstream_data::avro::{encode_key, write_header};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Record, Row, Table};
use fraudstream_engine::flow::Origin;
use fraudstream_engine::kafka::partitioner::partition_for_key;
use fraudstream_testkit::ieee_cis_sample;

mod common;
use common::{consume, produce_files};

fn read_csv(path: &Path, table: Table) -> HashMap<i64, Row> {
    TableReader::open(path, table, 0)
        .expect("open")
        .map(|r| {
            let row = r.expect("row");
            (row.nums[0] as i64, row)
        })
        .collect()
}

fn partition_of(origin: &Origin) -> i32 {
    match origin {
        Origin::Kafka { partition, .. } => *partition,
        Origin::File { .. } => panic!("not from Kafka"),
    }
}

#[test]
fn real_sample_round_trips_through_kafka_field_for_field() {
    let dir = ieee_cis_sample();
    let (tx_path, id_path) = (dir.join("train_transaction.csv"), dir.join("train_identity.csv"));
    let run = produce_files(&tx_path, &id_path, 3);
    assert_eq!((run.summary.transactions, run.summary.identities), (1500, 348));
    assert_eq!(run.summary.acked, 1848);

    let expected_tx = read_csv(&tx_path, Table::Transaction);
    let expected_id = read_csv(&id_path, Table::Identity);
    let consumed = consume(&run, 1848);
    assert_eq!(consumed.len(), 1848, "every produced row must be consumed");

    let mut tx_partition = HashMap::new();
    let (mut seen_tx, mut seen_id) = (0, 0);
    for (record, origin) in &consumed {
        match record {
            Record::Transaction(t) => {
                seen_tx += 1;
                assert_eq!(&t.row, &expected_tx[&t.id()], "transaction {} differs from the CSV", t.id());
                tx_partition.insert(t.id(), partition_of(origin));
            }
            Record::Identity(_) => seen_id += 1,
        }
    }
    assert_eq!((seen_tx, seen_id), (1500, 348));
    for (record, origin) in &consumed {
        if let Record::Identity(i) = record {
            assert_eq!(&i.row, &expected_id[&i.id()], "identity {} differs from the CSV", i.id());
            let tx = expected_tx[&i.id()].nums[2] as i64;
            assert_eq!(i.event_time, fraudstream_data::EventTime::from_transaction_dt(tx), "identity event time");
            assert_eq!(partition_of(origin), tx_partition[&i.id()], "identity {} not co-partitioned", i.id());
        }
    }
    // Placement is the Java client's: murmur2 over the serialized key.
    let (record, origin) = &consumed[0];
    let mut key = Vec::new();
    write_header(1, &mut key);
    encode_key(record.transaction_id(), &mut key).expect("key");
    assert_eq!(partition_of(origin), partition_for_key(&key, 3));
}

#[test]
fn a_malformed_row_is_reported_and_the_rest_still_arrive() {
    let dir = ieee_cis_sample();
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(dir.join("train_transaction.csv")).expect("read sample");
    let mut lines: Vec<String> = text.lines().take(201).map(str::to_string).collect();
    // Line 11 of the file: TransactionAmt (4th field) is not a number.
    let mut fields: Vec<&str> = lines[10].split(',').collect();
    fields[3] = "12.5x";
    lines[10] = fields.join(",");
    let tx_path: PathBuf = tmp.path().join("train_transaction.csv");
    std::fs::write(&tx_path, lines.join("\n") + "\n").expect("write");

    let run = produce_files(&tx_path, &dir.join("train_identity.csv"), 2);
    assert_eq!(run.summary.bad_rows, 1);
    assert_eq!(run.summary.transactions, 199);
    let reasons: Vec<String> = run.summary.dead_letters.iter().map(|d| d.reason.clone()).collect();
    assert!(reasons.iter().any(|r| r.contains("train_transaction.csv:11:TransactionAmt")), "{reasons:?}");
    // Identities of the other 1,300 sample transactions have no transaction in this file: reported, not lost.
    assert!(run.summary.orphan_identities > 0);
    assert_eq!(run.summary.dead_letters.len() as u64, run.summary.bad_rows + run.summary.orphan_identities);
    let consumed = consume(&run, (run.summary.transactions + run.summary.identities) as usize);
    assert_eq!(consumed.len() as u64, run.summary.transactions + run.summary.identities);
}

#[test]
fn generated_rows_all_arrive_and_each_transaction_id_shares_a_partition_number_across_topics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = fraudstream_data::generate::GenerateConfig::new(50_000, 7, tmp.path());
    let generated = fraudstream_data::generate::generate(&config).expect("generate");
    let run = produce_files(&generated.transaction_path, &generated.identity_path, 4);
    assert_eq!(run.summary.transactions, 50_000);
    assert_eq!(run.summary.identities, generated.identities);
    let expected = (generated.transactions + generated.identities) as usize;
    let consumed = consume(&run, expected);
    assert_eq!(consumed.len(), expected, "every produced row is consumed");

    let mut tx_partition: HashMap<i64, i32> = HashMap::new();
    let mut id_partition: HashMap<i64, i32> = HashMap::new();
    for (record, origin) in &consumed {
        let map = match record {
            Record::Transaction(_) => &mut tx_partition,
            Record::Identity(_) => &mut id_partition,
        };
        assert!(map.insert(record.transaction_id(), partition_of(origin)).is_none(), "no duplicates");
    }
    assert_eq!(tx_partition.len() as u64, generated.transactions);
    assert_eq!(id_partition.len() as u64, generated.identities);
    let used: std::collections::HashSet<i32> = tx_partition.values().copied().collect();
    assert_eq!(used.len(), 4, "keys spread over every partition");
    for (id, p) in &id_partition {
        assert_eq!(Some(p), tx_partition.get(id), "TransactionID {id}: identity and transaction partitions differ");
    }
}
