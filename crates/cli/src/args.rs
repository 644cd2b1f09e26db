//! Every flag of every subcommand, defined once with its help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fraudstream_engine::source::required::RequiredColumns;

/// Real-time fraud detection for payment streams (IEEE-CIS shaped data, Kafka, ONNX tree models).
#[derive(Debug, Parser)]
#[command(name = "fraudstream", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output (-v: info from all components, -vv: debug). FRAUDSTREAM_LOG overrides, e.g. `debug`.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write synthetic IEEE-CIS-shaped train_transaction.csv and train_identity.csv (Kaggle format, deterministic).
    Generate(GenerateArgs),

    /// Read the transaction and identity CSVs and write them to Kafka as Avro, in event-time order.
    Produce(ProduceArgs),

    /// Score the transaction and identity CSVs with an ONNX model (offline backtest): TransactionID,score,label.
    Score(ScoreArgs),

    /// Run the streaming job: event-time interval join, features, in-process model — embedded, or on Kafka.
    Run(Box<RunArgs>),

    /// Serve models over HTTP: Azure ML / Confluent ML_PREDICT format, KServe v2 and v1, versioned, hot-reloaded.
    Serve(ServeArgs),

    /// Train a gradient-boosted-tree model on the features the stream computes (raw columns, calendar and client
    /// velocity features); writes model.onnx and model.json.
    Train(TrainArgs),

    /// Everything in one command: generate data (or use --data), train a model (or use --model), start the scoring
    /// server and the streaming job at a watchable speed with the live dashboard, then print a report.
    Demo(DemoArgs),

    /// Print the Confluent Cloud Flink SQL of the whole pipeline for a model: tables, join, features, ML_PREDICT.
    FlinkSql(FlinkSqlArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Transactions to generate (the real training set has 590,540).
    #[arg(long, default_value_t = 590_540)]
    pub rows: u64,

    /// Random seed: the same seed and row count give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Directory to write train_transaction.csv, train_identity.csv and train_labels.csv into (created if
    /// missing).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub out: PathBuf,

    /// Do not write train_labels.csv, the delayed labels feed (chargebacks days to weeks later, 10 % of frauds
    /// never confirmed, legitimate payments labelled when the 120-day dispute window closes, 2 % analyst reviews
    /// after 1-3 days) that `run --labels` joins to the scores.
    #[arg(long, conflicts_with = "labels_for")]
    pub no_labels: bool,

    /// Only write OUT/train_labels.csv, the labels feed of this existing transactions file (its isFraud column),
    /// e.g. the real Kaggle data; generates no transactions.
    #[arg(long, value_name = "FILE")]
    pub labels_for: Option<PathBuf>,

    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Connection to a Kafka cluster, the Confluent way.
#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// Bootstrap brokers, host:port[,host:port...].
    #[arg(long, env = "FRAUDSTREAM_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,

    #[command(flatten)]
    pub client: ClientArgs,
}

/// Client settings shared by every command that talks to Kafka.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Any librdkafka property as key=value; repeatable. For Confluent Cloud: -X security.protocol=SASL_SSL
    /// -X sasl.mechanisms=PLAIN -X sasl.username=API_KEY -X sasl.password=API_SECRET.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,

    /// Schema Registry base URL.
    #[arg(long, env = "FRAUDSTREAM_SCHEMA_REGISTRY", default_value = "http://127.0.0.1:8081")]
    pub schema_registry: String,

    /// Schema Registry credentials as KEY:SECRET (HTTP basic auth, as Confluent Cloud uses).
    #[arg(long, env = "FRAUDSTREAM_SCHEMA_REGISTRY_AUTH", value_name = "KEY:SECRET")]
    pub schema_registry_auth: Option<String>,

    /// Topic of the transactions.
    #[arg(long, default_value = "transactions")]
    pub transactions_topic: String,

    /// Topic of the identities.
    #[arg(long, default_value = "identities")]
    pub identities_topic: String,
}

/// The input CSV files.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The transactions CSV (Kaggle train_transaction.csv / test_transaction.csv layout).
    #[arg(long, value_name = "FILE")]
    pub transactions: PathBuf,

    /// The identities CSV (train_identity.csv / test_identity.csv); without it, no transaction has an identity.
    #[arg(long, value_name = "FILE")]
    pub identities: Option<PathBuf>,

    /// Malformed rows to skip (each reported as file:line:column) before stopping with an error.
    #[arg(long, default_value_t = 10)]
    pub max_bad_rows: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use these files (train_transaction.csv and optionally train_identity.csv, Kaggle layout) instead of
    /// generating data.
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    pub data: Option<PathBuf>,

    /// Transactions to generate when --data is not given.
    #[arg(long, default_value_t = 590_540, help_heading = "Data")]
    pub rows: u64,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 42, help_heading = "Data")]
    pub seed: u64,

    /// Score with this ONNX model instead of training one.
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    pub model: Option<PathBuf>,

    /// Event time replayed per second of wall time (120000: the 182 days of the data in about two minutes).
    #[arg(long, default_value_t = 120_000.0, help_heading = "Replay")]
    pub speedup: f64,

    /// Where the dashboard listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", help_heading = "Servers")]
    pub dashboard_addr: std::net::SocketAddr,

    /// Where the scoring server listens (the job calls it like Confluent's ML_PREDICT would).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000", help_heading = "Servers")]
    pub serve_addr: std::net::SocketAddr,

    /// Score inside the job instead of through the scoring server.
    #[arg(long, help_heading = "Model")]
    pub in_process: bool,

    /// Labels (isFraud) reach the online quality measures this long after their transaction, in event time.
    #[arg(long, value_parser = parse_duration, default_value = "3d", help_heading = "Model")]
    pub label_delay: Duration,

    /// Scores at or above this raise an alert.
    #[arg(long, default_value_t = 0.5, help_heading = "Model")]
    pub threshold: f64,

    /// Directory for generated data, the trained model and the job's output.
    #[arg(long, value_name = "DIR", default_value = "demo-out", help_heading = "Output")]
    pub out: PathBuf,

    /// Run against Kafka: produce the data to these brokers, then consume it (needs --schema-registry).
    #[arg(long, help_heading = "Kafka")]
    pub brokers: Option<String>,

    /// Schema Registry URL for --brokers.
    #[arg(long, value_name = "URL", help_heading = "Kafka")]
    pub schema_registry: Option<String>,

    /// Exit after the report instead of keeping the dashboard up until Ctrl-C.
    #[arg(long, help_heading = "Output")]
    pub exit_when_done: bool,

    /// No progress bars.
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,
}

/// The interval join's window and watermark delay, shared by `run` and `flink-sql` so both mean the same.
#[derive(Debug, Args)]
pub struct JoinWindowArgs {
    /// An identity joins a transaction at time T if its time is at or after T minus this.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub join_lower: Duration,

    /// An identity joins a transaction at time T if its time is at or before T plus this.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub join_upper: Duration,

    /// Watermark delay: how far behind the newest event time (per input partition) records may still arrive.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    pub max_out_of_orderness: Duration,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Directory for model.onnx and model.json (created if missing).
    #[arg(long, value_name = "DIR", default_value = "model")]
    pub out: PathBuf,

    /// Train on the raw columns only (no client velocity features).
    #[arg(long)]
    pub no_client_features: bool,

    /// Boosting rounds (trees), at most.
    #[arg(long, default_value_t = 300)]
    pub rounds: usize,

    /// Shrinkage of each tree's contribution.
    #[arg(long, default_value_t = 0.05)]
    pub learning_rate: f64,

    /// Leaves per tree (leaf-wise growth).
    #[arg(long, default_value_t = 31)]
    pub num_leaves: usize,

    /// Fewest training rows in a leaf.
    #[arg(long, default_value_t = 20)]
    pub min_data_in_leaf: usize,

    /// L2 regularisation of leaf values.
    #[arg(long, default_value_t = 0.0)]
    pub lambda_l2: f64,

    /// Share of features each tree may use.
    #[arg(long, default_value_t = 0.8)]
    pub feature_fraction: f64,

    /// Share of rows each tree is grown on (1: all).
    #[arg(long, default_value_t = 0.8)]
    pub bagging_fraction: f64,

    /// Stop when the held-out ROC AUC has not improved for this many rounds (0: never).
    #[arg(long, default_value_t = 50)]
    pub early_stopping_rounds: usize,

    /// Share of the data, the latest by event time, held out for validation and the reported metrics.
    #[arg(long, default_value_t = 0.2)]
    pub valid_fraction: f64,

    /// Seed of the row and feature sampling: the same seed and data give the same model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Training threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten, next_help_heading = "Input")]
    pub input: InputArgs,

    #[command(flatten, next_help_heading = "Kafka")]
    pub kafka: KafkaArgs,

    /// Partitions of topics that do not exist yet (both topics need the same count to be co-partitioned).
    #[arg(long, default_value_t = 6, help_heading = "Kafka")]
    pub partitions: i32,

    /// Replication factor of topics that do not exist yet.
    #[arg(long, default_value_t = 1, help_heading = "Kafka")]
    pub replication_factor: i32,

    /// Replay X seconds of event time per wall-clock second (default: as fast as possible).
    #[arg(long, value_name = "X", conflicts_with = "rate", help_heading = "Pacing")]
    pub speedup: Option<f64>,

    /// Replay at N records per second (default: as fast as possible).
    #[arg(long, value_name = "N", help_heading = "Pacing")]
    pub rate: Option<f64>,

    /// Shift each identity's event time by a random offset within ±this (e.g. 90s) to exercise join windows.
    #[arg(long, value_parser = parse_duration, default_value = "0s", help_heading = "Pacing")]
    pub identity_jitter: Duration,

    /// Seed of the identity jitter.
    #[arg(long, default_value_t = 42, help_heading = "Pacing")]
    pub seed: u64,

    /// Also write this labels CSV (`TransactionID,isFraud,label_time[,source]`, e.g. `generate`'s
    /// train_labels.csv) to --labels-topic, keyed by TransactionID, each timestamped with its label time.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub labels: Option<PathBuf>,

    /// Topic of --labels.
    #[arg(long, default_value = "labels", help_heading = "Kafka")]
    pub labels_topic: String,

    /// How long to wait for the broker to acknowledge outstanding rows at the end.
    #[arg(long, value_parser = parse_duration, default_value = "120s", help_heading = "Kafka")]
    pub flush_timeout: Duration,

    /// No progress bar (for logs and scripts).
    #[arg(long, help_heading = "Output")]
    pub quiet: bool,
}

/// What to do with input that lacks columns the model reads.
#[derive(Debug, Args)]
pub struct ColumnArgs {
    /// Score even when the input lacks columns the model reads (a CSV header, or an Avro writer schema on Kafka,
    /// without them): they read as missing in every row, with a warning listing them. Without this flag such input
    /// is an error at start naming the file (or topic) and the columns, since a renamed column would otherwise
    /// change every score silently.
    #[arg(long)]
    pub allow_missing_columns: bool,
}

impl ColumnArgs {
    /// The columns the run requires of its input for `model_inputs`, as this flag allows their absence.
    pub fn required(&self, model_inputs: &[String]) -> RequiredColumns {
        RequiredColumns { allow_missing: self.allow_missing_columns, ..RequiredColumns::for_model(model_inputs) }
    }
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The ONNX model (e.g. the reference pipeline_75.onnx, or DIR/model.onnx from `fraudstream train`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub columns: ColumnArgs,

    /// Where to write the scores CSV (TransactionID,score,label; one row per transaction, input order).
    #[arg(long, value_name = "FILE", default_value = "scores.csv")]
    pub out: PathBuf,

    /// Rows per model call (larger batches use both cores).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,

    /// Reason codes for every row: K extra column triples `reason_i_feature,reason_i_value,reason_i_contribution`,
    /// the model inputs with the largest exact Shapley contributions (TreeSHAP) to the score's margin (0: none).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub reasons: usize,

    /// Also write FILE: per scored row, TransactionID and each model input's value as the model is fed it (joined
    /// columns, calendar features; missing numbers empty), for comparing other implementations of the pipeline.
    #[arg(long, value_name = "FILE")]
    pub features_out: Option<PathBuf>,

    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// How `run` on Kafka guarantees each score is written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessingGuarantee {
    Idempotent,
    ExactlyOnce,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The transactions CSV (Kaggle layout): run embedded, on the files, without a broker.
    #[arg(long, value_name = "FILE", required_unless_present = "brokers", help_heading = "Input")]
    pub transactions: Option<PathBuf>,

    /// The identities CSV read with --transactions.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub identities: Option<PathBuf>,

    /// Malformed CSV rows to skip (each sent to the dead letters) before stopping with an error.
    #[arg(long, default_value_t = 10, help_heading = "Input")]
    pub max_bad_rows: u64,

    #[command(flatten, next_help_heading = "Input")]
    pub columns: ColumnArgs,

    /// The ONNX model scored in-process on every joined transaction (with --model-url: only its input schema is
    /// used, to build the requests).
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    pub model: PathBuf,

    /// Score remotely instead: an endpoint taking the Azure ML / Confluent ML_PREDICT request format (e.g.
    /// `fraudstream serve`'s http://HOST:PORT/score) or KServe v2 (http://HOST:PORT/v2/models/NAME/infer).
    #[arg(long, value_name = "URL", help_heading = "Model")]
    pub model_url: Option<String>,

    /// Request format of --model-url: `azureml` or `kserve-v2` (default: kserve-v2 for URLs ending in
    /// /v2/models/NAME[/versions/V]/infer, else azureml).
    #[arg(long, value_name = "PROTOCOL", help_heading = "Model")]
    pub model_protocol: Option<fraudstream_engine::scorer::RemoteProtocol>,

    /// Micro-batches scored at once: requests on the wire with --model-url; with the model in process, batches
    /// scored on other threads while the job joins and decodes the next. When all are in flight, intake waits
    /// (backpressure); 1 scores each batch on the job thread.
    #[arg(long, default_value_t = 4, help_heading = "Model")]
    pub max_in_flight: usize,

    /// What to do when the model fails a batch (after retries, or while the circuit breaker is open): `fail` stops
    /// the run; `skip` writes those transactions with an empty score and sends each to the dead letters.
    #[arg(long, value_name = "fail|skip", default_value = "fail", help_heading = "Model")]
    pub on_model_error: fraudstream_engine::model_stage::OnModelError,

    /// Consecutive failed batches after which calls to --model-url stop for --circuit-open-for (0: never).
    #[arg(long, default_value_t = 5, help_heading = "Model")]
    pub circuit_failures: u32,

    /// How long the circuit breaker stays open before one trial batch is let through.
    #[arg(long, value_parser = parse_duration, default_value = "10s", help_heading = "Model")]
    pub circuit_open_for: Duration,

    /// Bearer key for --model-url.
    #[arg(long, value_name = "KEY", env = "FRAUDSTREAM_MODEL_API_KEY", help_heading = "Model")]
    pub model_api_key: Option<String>,

    /// Timeout of one --model-url request.
    #[arg(long, value_parser = parse_duration, default_value = "5s", help_heading = "Model")]
    pub model_timeout: Duration,

    /// Attempts per batch against --model-url (exponential backoff with jitter between them) before the run fails.
    #[arg(long, default_value_t = 4, help_heading = "Model")]
    pub model_attempts: u32,

    /// Serve Prometheus metrics (records in, scored, alerts, dead letters, join counts, state size, watermark lag,
    /// inference and end-to-end latency histograms) at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR", help_heading = "Monitoring")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Output directory for scores.csv, alerts.jsonl and dead_letters.jsonl (with --transactions).
    #[arg(long, value_name = "DIR", default_value = "out", help_heading = "Output")]
    pub out: PathBuf,

    /// Bootstrap brokers: run on Kafka, consuming the input topics written by `produce` as a consumer group.
    #[arg(long, conflicts_with = "transactions", help_heading = "Kafka")]
    pub brokers: Option<String>,

    /// Consumer group; instances in one group share the input partitions. With a model that reads
    /// client features, the join stage uses this group and writes `<group>-joined`, which the scoring stage reads as
    /// `<group>-score`.
    #[arg(long, default_value = "fraudstream", help_heading = "Kafka")]
    pub group: String,

    /// `group` (partitions shared and rebalanced by the consumer group), `all`, or a list such as
    /// `0,1` — read these partitions of both input topics without group membership (offsets still committed under
    /// --group). Static assignment suits fixed deployments and brokers that do not expire dead group members.
    #[arg(long, value_name = "group|all|LIST", default_value = "group", help_heading = "Kafka")]
    pub assign: fraudstream_engine::kafka::source::Assignment,

    /// `idempotent` — idempotent producer; a restarted instance reads back the scores topic and does
    /// not write a transaction's score twice (works on every broker). `exactly-once` — Kafka transactions: output
    /// and input offsets committed atomically at each --commit-interval (needs a broker with transactions; readers
    /// use isolation.level=read_committed).
    #[arg(long, value_enum, default_value = "idempotent", help_heading = "Kafka")]
    pub processing_guarantee: ProcessingGuarantee,

    /// With `--processing-guarantee exactly-once`: the producer's transactional.id; stable across restarts of one instance, distinct
    /// between instances running at once (default: fraudstream-GROUP-PARTITIONS with --assign, else one per
    /// process).
    #[arg(long, value_name = "ID", help_heading = "Kafka")]
    pub transactional_id: Option<String>,

    #[command(flatten, next_help_heading = "Kafka")]
    pub client: ClientArgs,

    /// Topic of the scores (Avro, keyed by TransactionID).
    #[arg(long, default_value = "scores", help_heading = "Kafka")]
    pub scores_topic: String,

    /// Topic of the alerts (scores at or above --threshold).
    #[arg(long, default_value = "alerts", help_heading = "Kafka")]
    pub alerts_topic: String,

    /// Topic of the dead letters (original bytes, reason and origin in headers).
    #[arg(long, default_value = "dead-letters", help_heading = "Kafka")]
    pub dead_letters_topic: String,

    /// Topic of the challenger's scores (with --challenger; the scores schema).
    #[arg(long, default_value = "scores-challenger", help_heading = "Kafka")]
    pub challenger_topic: String,

    /// Online quality from a labels topic (Avro, keyed by TransactionID; `produce --labels` writes one), followed
    /// by its own consumer group `<group>-labels`, whose offsets move with the monitoring snapshots. Kafka mode.
    #[arg(long, value_name = "TOPIC", help_heading = "Kafka")]
    pub labels_topic: Option<String>,

    /// Partitions of output topics that do not exist yet.
    #[arg(long, default_value_t = 6, help_heading = "Kafka")]
    pub partitions: i32,

    /// How often output is flushed and input offsets are committed.
    #[arg(long, value_parser = parse_duration, default_value = "1s", help_heading = "Kafka")]
    pub commit_interval: Duration,

    /// How often the scoring stage snapshots its client state (models with client features) and its monitoring
    /// state (labels, quality and drift windows) to `<group>-score-state` (`<group>-state` without client
    /// features): a restart restores the newest snapshot and replays only what came after it.
    #[arg(long, value_parser = parse_duration, default_value = "60s", help_heading = "Kafka")]
    pub snapshot_interval: Duration,

    /// Stop after no input arrived for this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration, help_heading = "Kafka")]
    pub stop_after_idle: Option<Duration>,

    /// Replay X seconds of event time per wall-clock second (default: as fast as possible).
    #[arg(long, value_name = "X", help_heading = "Input")]
    pub speedup: Option<f64>,

    #[command(flatten, next_help_heading = "Join and time")]
    pub window: JoinWindowArgs,

    /// An input that delivers nothing for this long (processing time) stops holding the watermark back.
    #[arg(long, value_parser = parse_duration, default_value = "10s", help_heading = "Join and time")]
    pub idle_timeout: Duration,

    /// Emit a transaction without identity after waiting this long (processing time), even if the watermark stalls.
    #[arg(long, value_parser = parse_duration, default_value = "2s", help_heading = "Join and time")]
    pub max_wait: Duration,

    /// Rows per model call at most. A backlog fills batches, and larger ones give each reason-code call more
    /// alerts to walk the trees together; a live stream's batches are closed by --batch-timeout long before.
    #[arg(long, default_value_t = 1024, help_heading = "Model")]
    pub batch_size: usize,

    /// Longest a row waits for its model batch to fill.
    #[arg(long, value_parser = parse_duration, default_value = "20ms", help_heading = "Model")]
    pub batch_timeout: Duration,

    /// Scores at or above this get label 1 and raise an alert.
    #[arg(long, default_value_t = 0.5, help_heading = "Model")]
    pub threshold: f64,

    /// Reason codes: the top K model inputs by exact Shapley contribution (TreeSHAP) to each explained score, in
    /// alerts.jsonl, the alerts topic and the dashboard (0: none). Needs the model in process (not --model-url).
    #[arg(long, value_name = "K", default_value_t = fraudstream_engine::reasons::DEFAULT_REASONS, help_heading = "Model")]
    pub reasons: usize,

    /// Which scores get reason codes: `alerts`, or `all` (then also in scores.csv columns and the scores topic).
    #[arg(long, value_name = "alerts|all", default_value = "alerts", help_heading = "Model")]
    pub reasons_on: fraudstream_engine::reasons::ReasonsOn,

    /// Shift each identity's event time by a random offset within ±this (exercises the join window).
    #[arg(long, value_parser = parse_duration, default_value = "0s", help_heading = "Input")]
    pub identity_jitter: Duration,

    /// Seed of the identity jitter.
    #[arg(long, default_value_t = 42, help_heading = "Input")]
    pub seed: u64,

    /// Online quality: treat the isFraud column as delayed feedback arriving this long after each transaction (in
    /// event time, like chargebacks), and export rolling ROC AUC, precision and recall as metrics.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Monitoring")]
    pub label_delay: Option<Duration>,

    /// Online quality: most recent labelled transactions the rolling measures cover.
    #[arg(long, default_value_t = 20_000, help_heading = "Monitoring")]
    pub quality_window: usize,

    /// Online quality from a labels feed: a CSV file `TransactionID,isFraud,label_time[,source]` (label_time in
    /// TransactionDT seconds or ISO-8601; `fraudstream generate` writes one). Each label counts once the stream's
    /// event time reaches its label_time; the file is read whole at the start. Embedded mode.
    #[arg(long, value_name = "FILE", conflicts_with = "label_delay", help_heading = "Monitoring")]
    pub labels: Option<PathBuf>,

    /// How long (event time) a score waits for its label; labels later than this after their transaction, and
    /// scores still unlabelled then, are counted (summary, metrics), not joined. Default: the 120-day chargeback
    /// window plus margin.
    #[arg(long, value_parser = parse_duration, default_value = "125d", help_heading = "Monitoring")]
    pub label_horizon: Duration,

    /// Champion/challenger: also score every transaction with this model (in process), written to
    /// scores_challenger.csv / --challenger-topic; alerts only from --model. Quality and drift for both.
    #[arg(long, value_name = "FILE", help_heading = "Monitoring")]
    pub challenger: Option<PathBuf>,

    /// Drift: rows in the rolling window whose input and score distributions are compared with the model's
    /// baseline (model.json beside the model; without one, the first window becomes the baseline).
    #[arg(long, value_name = "N", default_value_t = fraudstream_model::drift::DEFAULT_WINDOW, help_heading = "Monitoring")]
    pub drift_window: usize,

    /// Drift: a population stability index (PSI) above this raises a drift alert (logged once per crossing; the
    /// input re-arms when it falls below 3/4 of it).
    #[arg(long, value_name = "PSI", default_value_t = 0.2, help_heading = "Monitoring")]
    pub drift_threshold: f64,

    /// Drift: do not monitor input and score drift.
    #[arg(long, help_heading = "Monitoring")]
    pub no_drift: bool,

    /// Online quality counts only transactions at or after this TransactionDT (seconds): where the model's
    /// held-out period begins, so rows it trained on do not flatter the figures.
    #[arg(long, value_name = "TRANSACTION_DT", help_heading = "Monitoring")]
    pub quality_from: Option<i64>,

    /// Serve the live dashboard (throughput, latency, score distribution, alerts with their drivers, online
    /// quality) at http://ADDR/.
    #[arg(long, value_name = "ADDR", help_heading = "Monitoring")]
    pub dashboard_addr: Option<std::net::SocketAddr>,

    /// No status line.
    #[arg(long, help_heading = "Monitoring")]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model to serve as NAME=PATH (repeat a NAME to add versions 1, 2, ... in order).
    #[arg(long = "model", value_name = "NAME=PATH", required_unless_present = "model_dir")]
    pub models: Vec<String>,

    /// A directory of NAME/VERSION/model.onnx (+ model.json); an optional NAME/default file names the default
    /// version (else the highest). New versions are picked up without a restart.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub addr: std::net::SocketAddr,

    /// Require `Authorization: Bearer KEY` on every endpoint but health; repeatable.
    #[arg(long = "api-key", value_name = "KEY", env = "FRAUDSTREAM_API_KEY")]
    pub api_keys: Vec<String>,

    /// A file with one API key per line (blank lines and # comments ignored).
    #[arg(long, value_name = "FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// Largest request body accepted, in bytes (larger requests get 413).
    #[arg(long, default_value_t = 8 << 20)]
    pub body_limit: usize,

    /// How often the model sources are re-scanned for new versions (0s disables reloading).
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub reload_interval: Duration,

    /// Shadow (challenger) version as NAME=VERSION: scores the same requests in the background, results only
    /// logged and counted.
    #[arg(long = "shadow", value_name = "NAME=VERSION")]
    pub shadows: Vec<String>,

    /// Worker threads of the HTTP runtime.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct FlinkSqlArgs {
    /// The ONNX model Flink will call through `fraudstream serve` (its inputs become the CREATE MODEL INPUT).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,

    /// The scoring endpoint as Confluent Cloud reaches it (e.g. https://HOST/score behind a TLS proxy), written
    /// into the commented `confluent flink connection create` line.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Name of the Confluent model resource (default: the model file's stem).
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,

    /// Name of the Confluent connection holding the endpoint and API key.
    #[arg(long, value_name = "NAME", default_value = "fraudstream-scoring")]
    pub connection: String,

    /// Table (topic) of the transactions.
    #[arg(long, default_value = "transactions")]
    pub transactions_topic: String,

    /// Table (topic) of the identities.
    #[arg(long, default_value = "identities")]
    pub identities_topic: String,

    /// Table (topic) the scores are inserted into.
    #[arg(long, default_value = "scores")]
    pub scores_topic: String,

    /// Partitions (buckets) of the tables the script creates.
    #[arg(long, default_value_t = 6)]
    pub partitions: u32,

    /// `create` declares the input tables (Confluent Cloud creates the topics); `alter` adds event time and
    /// watermarks to the tables Confluent Cloud inferred from topics `fraudstream produce` already wrote.
    #[arg(long, value_enum, default_value = "create")]
    pub tables: crate::flink_sql::TableMode,

    #[command(flatten)]
    pub window: JoinWindowArgs,

    /// Send the inputs as one JSON string column even when the model has at most 84 (wider models always are).
    #[arg(long)]
    pub json_input: bool,

    /// What the endpoint returns and the scores table holds: the label, or the probability plus a label.
    #[arg(long, value_enum, default_value = "label")]
    pub output: crate::flink_sql::ScoreOutput,

    /// With --output probability: scores at or above this get label 1.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// `confluent`: Kafka topics with Avro values, scored with ML_PREDICT. `filesystem`: the same tables, join and
    /// features over CSV files under --path, writing the model's inputs per transaction instead of scoring (runs on
    /// any Flink).
    #[arg(long, value_enum, default_value = "confluent")]
    pub connector: ConnectorKind,

    /// With --connector filesystem: the directory holding <transactions-topic>/ and <identities-topic>/ (headerless
    /// CSV in the Avro column order) and receiving fraudstream_features/.
    #[arg(long, value_name = "DIR", required_if_eq("connector", "filesystem"))]
    pub path: Option<PathBuf>,
}

/// Which storage `flink-sql` declares its tables on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnectorKind {
    /// Confluent Cloud: Kafka topics, Avro values through Schema Registry.
    Confluent,
    /// Flink's filesystem connector with CSV files.
    Filesystem,
}

/// Parses `250ms`, `20s`, `5m`, `1h`, or plain seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration (examples: 500ms, 20s, 5m)"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        u => return Err(format!("unknown unit `{u}` in `{s}` (use ms, s, m, h or d)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_help_text() {
        fn check(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} --{id} has no help text");
            }
            for sub in cmd.get_subcommands() {
                assert!(sub.get_about().is_some(), "{path} {} has no description", sub.get_name());
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&Cli::command(), "fraudstream");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
