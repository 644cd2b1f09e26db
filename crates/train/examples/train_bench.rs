//! Training benchmark on full-size IEEE-CIS-shaped data, with the LightGBM anchor's parameters, and the same matrix
//! written out so LightGBM can be trained on exactly our features.
//!
//! ```text
//! cargo run --release -p fraudstream-train --example train_bench -- DATA_DIR [ROUNDS] [THREADS] [OUT_DIR]
//! /work/venv-fixtures/bin/python crates/train/bench/lightgbm_same_matrix.py OUT_DIR [ROUNDS] [THREADS]
//! /work/venv-fixtures/bin/python ../shared/bench/lgbm_bench.py DATA_DIR [ROUNDS] [THREADS]
//! /work/venv-fixtures/bin/python crates/train/bench/check_onnxruntime.py OUT_DIR
//! ```
//!
//! DATA_DIR holds `train_transaction.csv` and `train_identity.csv` (generated here, 590,540 rows, seed 42, when
//! missing). Identities are joined by TransactionID, rows sorted by TransactionDT, features built by
//! `FeatureSet::raw_columns()` through `FeatureSet::extract` — the stream's own feature code. Parameters: learning
//! rate 0.05, 31 leaves, 255 bins, min_data_in_leaf 20, feature_fraction 0.8, bagging 0.8 every round, last 20 % by
//! time held out, no early stopping. "train seconds" is `train()` alone (vocabularies, binning, boosting), as the
//! anchor times `lgb.train` (dataset construction, binning, boosting).
//!
//! `FRAUDSTREAM_TRAIN_MAX_DEPTH=12` adds a depth limit (not in the anchor), to measure what trees shallow enough for
//! `fraudstream_model`'s fast evaluator (depth ≤ 12) cost in AUC.
//!
//! OUT_DIR (default `target/train-bench`) receives `model.onnx`, `model.json`, `matrix.npy` (`f32 [rows,
//! features]`, what the tree ensemble sees), `labels.npy` (`u8 [rows]`), `split.json` (train rows, feature names,
//! our figures) and `onnx_sample.json` (raw inputs and our probabilities for 5,000 validation rows).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fraudstream_data::csv_table::FileTableReader;
use fraudstream_data::generate::{generate, GenerateConfig, FULL_ROWS};
use fraudstream_data::{Identity, Table, Transaction};
use fraudstream_features::{FeatureRow, FeatureSet, InputValue};
use fraudstream_model::{InputBatch, Model};
use fraudstream_train::{train_with_progress, Dataset, DatasetBuilder, TrainParams, TrainedModel};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("data", String::as_str));
    let rounds: usize = args.get(1).map_or(Ok(300), |s| s.parse())?;
    let threads: usize = args.get(2).map_or(Ok(2), |s| s.parse())?;
    let out = PathBuf::from(args.get(3).map_or("target/train-bench", String::as_str));

    if !dir.join("train_transaction.csv").exists() {
        let t = Instant::now();
        let s = generate(&GenerateConfig::new(FULL_ROWS, 42, &dir))?;
        println!("generated {} transactions in {:.1}s", s.transactions, t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let set = FeatureSet::new(&FeatureSet::raw_columns())?;
    let data = load(&dir, &set)?;
    println!(
        "loaded {} rows x {} features ({} fraud) in {:.1}s",
        data.len(),
        set.len(),
        data.labels().iter().filter(|&&y| y).count(),
        t.elapsed().as_secs_f64()
    );

    let params = TrainParams {
        learning_rate: 0.05,
        num_leaves: 31,
        max_bin: 255,
        min_data_in_leaf: 20,
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        rounds,
        threads,
        valid_fraction: 0.2,
        early_stopping_rounds: None,
        eval_every: 0,
        seed: 1,
        // Not in the anchor: an optional depth limit, to see what shallower (faster to serve) trees cost in AUC.
        max_depth: std::env::var("FRAUDSTREAM_TRAIN_MAX_DEPTH").ok().and_then(|d| d.parse().ok()),
        ..TrainParams::default()
    };
    let t = Instant::now();
    let cpu = cpu_seconds();
    let model = train_with_progress(&data, &params, &mut |p| {
        if p.round % 50 == 0 {
            println!("  round {:>4}  train loss {:.5}  {:.1}s", p.round, p.train_loss, p.elapsed.as_secs_f64());
        }
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu).map(|(b, a)| b - a);
    let r = model.report();
    let m = r.metrics.clone().ok_or("no validation metrics")?;
    println!(
        "fraudstream-train rows={} features={} rounds={} threads={threads} train_s={seconds:.1} auc={:.5} \
         pr_auc={:.4} recall@1%fpr={:.3} recall@5%fpr={:.3}",
        r.train_rows,
        set.len(),
        r.rounds_used,
        m.valid_auc,
        m.valid_pr_auc,
        m.recall_at_1pct_fpr,
        m.recall_at_5pct_fpr
    );
    if let Some(cpu) = cpu {
        println!("train cpu_s={cpu:.1} (user+system of the whole process while training; steadier than wall time on a busy machine)");
    }
    println!("trees: {}, deepest {} splits", model.n_trees(), model.max_depth());
    let mut top: Vec<_> = r.importance.iter().collect();
    top.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    let top: Vec<String> = top.iter().take(10).map(|i| format!("{} {:.0}", i.feature, i.gain)).collect();
    println!("top gain: {}", top.join(", "));

    let t = Instant::now();
    let (rows, max_diff, seconds_engine) = engine_parity(&model, &data, r.train_rows)?;
    println!(
        "fraudstream_model scored the exported model.onnx on {rows} validation rows in {seconds_engine:.2}s: \
         max |p_engine - p_trainer| = {max_diff:.2e}"
    );
    println!("parity checked in {:.1}s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    std::fs::create_dir_all(&out)?;
    model.save(&out)?;
    write_outputs(&out, &model, &data, seconds)?;
    println!("wrote {} in {:.1}s", out.display(), t.elapsed().as_secs_f64());
    Ok(())
}

/// Scores the validation rows with the exported ONNX model through `fraudstream_model` (the stream's engine) and
/// returns (rows, max |difference| from the trainer's own probabilities, engine seconds).
fn engine_parity(model: &TrainedModel, data: &Dataset, train_rows: usize) -> Result<(usize, f32, f64), Error> {
    let engine = Model::from_bytes(&model.to_onnx())?;
    let mut batch = InputBatch::new(&engine)?;
    let width = data.features().len();
    for row in train_rows..data.len() {
        for f in 0..width {
            match data.value(row, f) {
                InputValue::Num(x) => batch.push_f64(f, x)?,
                InputValue::Str(s) => batch.push_str(f, s)?,
            }
        }
    }
    let t = Instant::now();
    let scores = engine.predict_proba(&mut batch)?;
    let seconds = t.elapsed().as_secs_f64();
    let ours = model.predict_dataset(data)?;
    let max_diff = scores.p_positive.iter().zip(&ours[train_rows..]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    Ok((data.len() - train_rows, max_diff, seconds))
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`), `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Reads both tables, joins identities by TransactionID, sorts by TransactionDT and extracts the features.
fn load(dir: &Path, set: &FeatureSet) -> Result<Dataset, Error> {
    let mut identities: HashMap<i64, Identity> = HashMap::new();
    let mut reader = FileTableReader::open(dir.join("train_identity.csv"), Table::Identity, 0)?;
    while let Some(row) = reader.read_row()? {
        let identity = Identity { row, event_time: fraudstream_data::EventTime::from_transaction_dt(0) };
        identities.insert(identity.id(), identity);
    }
    let mut transactions = Vec::new();
    let mut reader = FileTableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0)?;
    while let Some(row) = reader.read_row()? {
        transactions.push(Transaction { row });
    }
    transactions.sort_by_key(|t| t.transaction_dt());
    let mut builder = DatasetBuilder::new(set);
    let mut values = Vec::with_capacity(set.len());
    for tx in &transactions {
        let label = tx.is_fraud().ok_or("a transaction without isFraud")?;
        set.extract(&FeatureRow::new(tx, identities.get(&tx.id())), &mut values);
        builder.push(&values, label)?;
    }
    Ok(builder.build()?)
}

fn write_outputs(out: &Path, model: &TrainedModel, data: &Dataset, seconds: f64) -> Result<(), Error> {
    let width = data.features().len();
    let matrix = model.encoded_matrix(data)?;
    let mut bytes = Vec::with_capacity(matrix.len() * 4);
    for x in &matrix {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    write_npy(&out.join("matrix.npy"), "<f4", &[data.len(), width], &bytes)?;
    let labels: Vec<u8> = data.labels().iter().map(|&y| u8::from(y)).collect();
    write_npy(&out.join("labels.npy"), "|u1", &[data.len()], &labels)?;

    let r = model.report();
    let m = r.metrics.clone();
    let split = serde_json::json!({
        "train_rows": r.train_rows,
        "features": data.features().names(),
        "rounds": r.rounds_used,
        "ours": { "train_s": seconds, "valid_auc": m.as_ref().map(|m| m.valid_auc) },
    });
    std::fs::write(out.join("split.json"), serde_json::to_string_pretty(&split)?)?;

    // Raw inputs of the first 5,000 validation rows with our probabilities, for check_onnxruntime.py.
    let rows: Vec<usize> = (r.train_rows..data.len()).take(5000).collect();
    let p = model.predict_dataset(data)?;
    let mut inputs = serde_json::Map::new();
    for (f, name) in data.features().names().iter().enumerate() {
        let column: Vec<serde_json::Value> = rows
            .iter()
            .map(|&row| match data.value(row, f) {
                InputValue::Num(x) if x.is_nan() => serde_json::Value::Null,
                InputValue::Num(x) => serde_json::Value::from(x),
                InputValue::Str(s) => serde_json::Value::from(s),
            })
            .collect();
        inputs.insert(name.clone(), serde_json::Value::from(column));
    }
    let probabilities: Vec<f64> = rows.iter().map(|&row| f64::from(p[row])).collect();
    let sample = serde_json::json!({ "inputs": inputs, "p": probabilities });
    std::fs::write(out.join("onnx_sample.json"), serde_json::to_string(&sample)?)?;
    Ok(())
}

/// Writes a NumPy `.npy` (format 1.0) file.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> Result<(), Error> {
    let shape = match shape {
        [n] => format!("({n},)"),
        dims => format!("({})", dims.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(data)?;
    f.flush()?;
    Ok(())
}
