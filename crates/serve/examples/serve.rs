//! Runs the scoring server until Ctrl-C, for benchmarks and manual checks before the CLI is wired:
//!
//! ```sh
//! cargo run --release -p fraudstream-serve --example serve -- fraud=../shared/reference/seed-model/pipeline_75.onnx 127.0.0.1:8080
//! ```
//!
//! Arguments: one or more `NAME=PATH`, `dir:DIR` for a model directory, `key:KEY` for an API key, and an address.

use fraudstream_serve::{serve_blocking, ServeConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let mut config = ServeConfig::default();
    for arg in std::env::args().skip(1) {
        if let Some(dir) = arg.strip_prefix("dir:") {
            config.model_dir = Some(dir.into());
        } else if let Some(key) = arg.strip_prefix("key:") {
            config.api_keys.push(key.to_string());
        } else if let Ok(addr) = arg.parse() {
            config.addr = addr;
        } else {
            config.models.push(ServeConfig::parse_model_spec(&arg)?);
        }
    }
    serve_blocking(config, 2)?;
    Ok(())
}
