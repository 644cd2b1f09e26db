//! `fraudstream`: the command-line edge. It parses flags, wires the library crates together and reports; the work
//! itself lives in the crates (`fraudstream-data`, `fraudstream-engine`, ...).

mod args;
mod commands;
mod flink_sql;
mod interrupt;
mod labels_file;
mod live;
mod progress;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Generate(a) => commands::generate::run(a),
        Command::Produce(a) => commands::produce::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Run(a) => commands::run::run(*a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::FlinkSql(a) => commands::flink_sql::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,fraudstream=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FRAUDSTREAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
