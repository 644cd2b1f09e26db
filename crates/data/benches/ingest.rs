//! CSV parse + Avro encode throughput on real IEEE-CIS rows (the ingest hot path of `produce`).
//!
//! Input: the 1,500 real sample transactions from `../shared`, repeated 20 times in memory (30,000 rows), so the
//! figure is about parsing and encoding, not disk. Goal: ≥ 200k transaction rows/s on 2 cores.
//! Also measured: reading into reused rows with a projection (the embedded job's source), decoding our own Avro
//! (the Kafka source's fast path) and decoding the same datums as another producer's schema (the writer-plan path).
//! Run: `cargo bench -p fraudstream-data --bench ingest`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fraudstream_data::avro::value_decoder::ValueDecoder;
use fraudstream_data::avro::{decode_value, encode_value, value_schema, value_schema_json, write_header};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{Row, Table, Transaction};

const REPEAT: usize = 20;

fn sample_csv() -> (Vec<u8>, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/ieee-cis-sample/train_transaction.csv");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header_end = text.iter().position(|&b| b == b'\n').expect("header") + 1;
    let mut out = text[..header_end].to_vec();
    for _ in 0..REPEAT {
        out.extend_from_slice(&text[header_end..]);
    }
    let rows = out.iter().filter(|&&b| b == b'\n').count() - 1;
    (out, rows)
}

/// Parses and encodes every row of `csv`, returning the bytes produced (so nothing is optimised away).
fn parse_and_encode(csv: &[u8]) -> usize {
    let mut reader = TableReader::new(csv, "bench.csv", Table::Transaction, 0).expect("header");
    let mut buf = Vec::with_capacity(8192);
    let mut total = 0;
    while let Some(row) = reader.read_row().expect("row") {
        let tx = Transaction { row };
        buf.clear();
        write_header(1, &mut buf);
        encode_value(Table::Transaction, &tx.row, tx.event_time(), &mut buf).expect("encode");
        total += buf.len();
    }
    total
}

/// Splits CSV text (header + rows) into `parts` pieces that each start with the header.
fn split(csv: &[u8], parts: usize) -> Vec<Vec<u8>> {
    let header_end = csv.iter().position(|&b| b == b'\n').expect("header") + 1;
    let body = &csv[header_end..];
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=parts {
        let mut end = body.len() * i / parts;
        while end < body.len() && body[end - 1] != b'\n' {
            end += 1;
        }
        let mut piece = csv[..header_end].to_vec();
        piece.extend_from_slice(&body[start..end]);
        out.push(piece);
        start = end;
    }
    out
}

fn bench(c: &mut Criterion) {
    let (csv, rows) = sample_csv();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(10);

    g.bench_function("parse_only_1_thread", |b| {
        b.iter(|| {
            let reader = TableReader::new(&csv[..], "bench.csv", Table::Transaction, 0).expect("header");
            reader.map(|r| r.expect("row").nums.len()).sum::<usize>()
        })
    });

    let parsed: Vec<Row> = TableReader::new(&csv[..], "bench.csv", Table::Transaction, 0)
        .expect("header")
        .map(|r| r.expect("row"))
        .collect();
    g.bench_function("encode_only_1_thread", |b| {
        let mut buf = Vec::with_capacity(8192);
        b.iter(|| {
            let mut total = 0;
            for row in &parsed {
                buf.clear();
                encode_value(Table::Transaction, row, fraudstream_data::EventTime(0), &mut buf).expect("encode");
                total += buf.len();
            }
            total
        })
    });

    g.bench_function("parse_and_encode_1_thread", |b| b.iter(|| parse_and_encode(&csv)));

    // The embedded job: a model reading the first 90 columns, rows recycled.
    let keep: Vec<String> = Table::Transaction.catalog().names().take(90).map(str::to_string).collect();
    g.bench_function("parse_projected_into_reused_row_1_thread", |b| {
        b.iter(|| {
            let mut reader = TableReader::new(&csv[..], "bench.csv", Table::Transaction, 0).expect("header");
            reader.project(&keep);
            let mut row = Row::empty(Table::Transaction.catalog());
            let mut n = 0;
            while reader.read_row_into(&mut row).expect("row") {
                n += 1;
            }
            n
        })
    });

    let encoded: Vec<Vec<u8>> = parsed
        .iter()
        .map(|row| {
            let mut buf = Vec::new();
            let t = Transaction { row: row.clone() }.event_time();
            encode_value(Table::Transaction, row, t, &mut buf).expect("encode");
            buf
        })
        .collect();
    g.bench_function("decode_own_schema_1_thread", |b| {
        b.iter(|| {
            let schema = value_schema(Table::Transaction);
            encoded
                .iter()
                .map(|d| decode_value(Table::Transaction, d, schema).expect("decode").0.nums.len())
                .sum::<usize>()
        })
    });

    let halves = split(&csv, 2);
    // The same datums under another record name: another fingerprint, so decoded by a writer plan.
    let other: serde_avro_fast::Schema = value_schema_json(Table::Transaction)
        .replace(r#""name":"Transaction""#, r#""name":"OtherTransaction""#)
        .parse()
        .expect("schema");
    let by_plan = ValueDecoder::new(Table::Transaction, 1, &other).expect("plan");
    assert!(!by_plan.is_own_schema());
    g.bench_function("decode_by_plan_1_thread", |b| {
        b.iter(|| encoded.iter().map(|d| by_plan.decode(d, None).expect("decode").row.nums.len()).sum::<usize>())
    });

    g.bench_function("parse_and_encode_2_threads", |b| {
        b.iter(|| {
            let (a, b2) = rayon::join(|| parse_and_encode(&halves[0]), || parse_and_encode(&halves[1]));
            a + b2
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
