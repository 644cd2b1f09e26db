//! Times `Model::explain` on one thread, for `benches/shap_vs_lightgbm.py`, which drives it.
//!
//! `explain_bench MODEL.onnx ROWS.f32 [CONTRIBUTIONS.f64]`: `ROWS.f32` holds little-endian `f32` rows for the model's
//! single `[N, F]` input (NaN = missing). Explains every row once (a warm-up that also builds the explainer; the
//! contributions, then the expected value per row, go to `CONTRIBUTIONS.f64` as little-endian `f64` when given),
//! then times three more calls in a one-thread rayon pool and prints the median explanations per second as the
//! last word of its output.

use std::time::Instant;

use fraudstream_model::{InputBatch, Model};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (model_path, rows_path) = match (args.get(1), args.get(2)) {
        (Some(m), Some(r)) => (m, r),
        _ => return Err("usage: explain_bench MODEL.onnx ROWS.f32 [CONTRIBUTIONS.f64]".into()),
    };
    let model = Model::load(model_path)?;
    let width = model.inputs().first().and_then(|i| i.row_width()).ok_or("the model needs one [N, F] input")?;
    let bytes = std::fs::read(rows_path)?;
    let values: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let rows = values.len() / width;
    let mut batch = InputBatch::new(&model)?;
    for &v in &values[..rows * width] {
        batch.push_f32(0, v)?;
    }
    // One thread, as LightGBM runs with num_threads=1 (large batches would otherwise use every core).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let out = pool.install(|| model.explain(&mut batch))?;
    if let Some(path) = args.get(3) {
        let mut bytes = Vec::with_capacity(rows * (width + 1) * 8);
        for r in 0..out.rows() {
            for v in out.row(r).iter().chain(std::iter::once(&out.expected)) {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        std::fs::write(path, bytes)?;
    }
    let mut rates = Vec::with_capacity(3);
    for _ in 0..3 {
        let t = Instant::now();
        pool.install(|| model.explain(&mut batch))?;
        rates.push(rows as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!("{rows} rows, explanations/s {:.0}", rates[1]);
    Ok(())
}
