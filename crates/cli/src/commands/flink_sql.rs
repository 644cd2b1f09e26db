//! `fraudstream flink-sql`: print the Confluent Cloud Flink SQL of the pipeline for a model.

use anyhow::Context;
use fraudstream_model::Model;

use crate::args::{ConnectorKind, FlinkSqlArgs};
use crate::flink_sql::{generate, model_inputs, Connector, FlinkSqlConfig};

pub fn run(args: FlinkSqlArgs) -> anyhow::Result<()> {
    let model = Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?;
    let inputs = model_inputs(&model).with_context(|| format!("model {}", args.model.display()))?;
    let connector = match (args.connector, &args.path) {
        (ConnectorKind::Confluent, None) => Connector::Confluent,
        (ConnectorKind::Confluent, Some(_)) => anyhow::bail!("--path is for --connector filesystem"),
        (ConnectorKind::Filesystem, None) => anyhow::bail!("--connector filesystem needs --path DIR"),
        (ConnectorKind::Filesystem, Some(dir)) => {
            // Absolute, because Flink resolves a relative path against its own working directory, not the user's.
            let dir = std::path::absolute(dir).with_context(|| format!("--path {}", dir.display()))?;
            let dir = dir.to_str().with_context(|| format!("--path {} is not UTF-8", dir.display()))?;
            Connector::Filesystem { dir: dir.to_string() }
        }
    };
    let stem = args.model.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let config = FlinkSqlConfig {
        model_file: args.model.file_name().map_or(stem.clone(), |s| s.to_string_lossy().into_owned()),
        model_name: args.model_name.clone().unwrap_or(stem),
        connection: args.connection.clone(),
        endpoint: args.endpoint.clone(),
        transactions_table: args.transactions_topic.clone(),
        identities_table: args.identities_topic.clone(),
        scores_table: args.scores_topic.clone(),
        partitions: args.partitions,
        tables: args.tables,
        join_lower: args.window.join_lower,
        join_upper: args.window.join_upper,
        max_out_of_orderness: args.window.max_out_of_orderness,
        force_json: args.json_input,
        output: args.output,
        threshold: args.threshold,
        connector,
    };
    let sql = generate(&inputs, &config).with_context(|| format!("model {}", args.model.display()))?;
    print!("{sql}");
    Ok(())
}
