//! One module per subcommand: turn parsed flags into a library call and a human summary.

pub mod demo;
pub mod flink_sql;
pub mod generate;
pub mod metrics;
pub mod produce;
pub mod run;
pub mod score;
pub mod serve;
pub mod train;
