//! Reading a labels CSV whole, for `run --labels` and `produce --labels`.

use anyhow::Context;

/// Reads a labels file whole; bad lines are reported and skipped as in the transactions file (--max-bad-rows).
pub fn read_labels(path: &std::path::Path, max_bad_rows: u64) -> anyhow::Result<Vec<fraudstream_data::labels::Label>> {
    let mut reader = fraudstream_data::labels::LabelReader::open(path, max_bad_rows)
        .with_context(|| format!("opening labels {}", path.display()))?;
    let mut labels = Vec::new();
    while let Some(label) = reader.read_label().with_context(|| format!("reading labels {}", path.display()))? {
        labels.push(label);
    }
    for bad in reader.drain_bad_rows().iter().take(5) {
        tracing::warn!("labels {}: skipped {bad}", path.display());
    }
    if reader.bad_count() > 0 {
        tracing::warn!("labels {}: {} bad lines skipped", path.display(), reader.bad_count());
    }
    tracing::info!("labels {}: {} labels", path.display(), labels.len());
    Ok(labels)
}
