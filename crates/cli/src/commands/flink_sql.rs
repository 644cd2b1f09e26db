//! `fraudstream flink-sql`: print the Confluent Cloud Flink SQL of the pipeline for a model.

use anyhow::Context;
use fraudstream_model::Model;

use crate::args::FlinkSqlArgs;
use crate::flink_sql::{generate, model_inputs, FlinkSqlConfig};

pub fn run(args: FlinkSqlArgs) -> anyhow::Result<()> {
    let model = Model::load(&args.model).with_context(|| format!("loading model {}", args.model.display()))?;
    let inputs = model_inputs(&model).with_context(|| format!("model {}", args.model.display()))?;
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
    };
    let sql = generate(&inputs, &config).with_context(|| format!("model {}", args.model.display()))?;
    print!("{sql}");
    Ok(())
}
