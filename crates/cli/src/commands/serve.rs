//! `fraudstream serve`: the model scoring server.

use anyhow::Context;
use fraudstream_serve::{serve_blocking, ServeConfig};

use crate::args::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.workers > 0, "--workers must be at least 1");
    let mut api_keys = args.api_keys.clone();
    if let Some(path) = &args.api_keys_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        api_keys
            .extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
        anyhow::ensure!(!api_keys.is_empty(), "{} holds no API key", path.display());
    }
    let config = ServeConfig {
        models: args.models.iter().map(|m| ServeConfig::parse_model_spec(m)).collect::<Result<_, _>>()?,
        model_dir: args.model_dir.clone(),
        addr: args.addr,
        api_keys,
        body_limit: args.body_limit,
        reload_interval: args.reload_interval,
        shadows: args.shadows.iter().map(|s| ServeConfig::parse_shadow_spec(s)).collect::<Result<_, _>>()?,
    };
    eprintln!("serving on http://{} (POST /score, /v2/models/..., /metrics, /openapi.json)", args.addr);
    serve_blocking(config, args.workers)?;
    Ok(())
}
