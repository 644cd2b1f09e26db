//! Training and the stream see the same features: for every transaction of a 100k-row generated replay, the input
//! vector `fraudstream run` feeds the trained model equals the feature vector `fraudstream train` learned from, and
//! the model's score in the stream equals the trainer's own prediction for that row. The batch backtest
//! (`fraudstream score`) gives every transaction that same score too, in the same order.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use fraudstream_data::generate::{generate, GenerateConfig};
use fraudstream_engine::backtest::{score_files, ScoreConfig};
use fraudstream_engine::flow::Joined;
use fraudstream_engine::job::{needed_columns, run_embedded, RunConfig};
use fraudstream_engine::observe::RunProgress;
use fraudstream_engine::replay::{replay_features, replay_job};
use fraudstream_engine::scorer::{BatchScores, InProcessScorer, Scorer};
use fraudstream_engine::source::files::FileSourceConfig;
use fraudstream_engine::EngineError;
use fraudstream_features::{ClientConfig, FeatureSet, InputMapping, InputValue};
use fraudstream_model::Model;
use fraudstream_train::{train, DatasetBuilder, TrainParams};

/// A hash of one row's values, bit-exact (NaN payloads and -0.0 included).
fn row_hash(values: &[InputValue<'_>]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in values {
        match v {
            InputValue::Num(x) => (0u8, x.to_bits()).hash(&mut h),
            InputValue::Str(s) => (1u8, s).hash(&mut h),
        }
    }
    h.finish()
}

/// Scores in-process and records, per TransactionID, the hash of the model inputs it filled and the score.
struct Recording<'m> {
    inner: InProcessScorer<'m>,
    mapping: InputMapping,
    seen: &'m Mutex<HashMap<i64, (u64, f64)>>,
}

impl Scorer for Recording<'_> {
    fn score(&mut self, rows: &[Joined], out: &mut BatchScores) -> Result<(), EngineError> {
        let start = out.p.len();
        self.inner.score(rows, out)?;
        let mut seen = self.seen.lock().expect("lock");
        for (r, p) in rows.iter().zip(&out.p[start..]) {
            let values = self.mapping.values(&r.feature_row());
            seen.insert(r.transaction.id(), (row_hash(&values), *p));
        }
        Ok(())
    }
}

#[test]
fn every_stream_input_vector_equals_the_training_feature_vector() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = generate(&GenerateConfig::new(100_000, 7, tmp.path())).expect("generate");
    let files = FileSourceConfig::new(data.transaction_path.clone(), Some(data.identity_path.clone()));

    // Training side: the replay `fraudstream train` uses, raw + client features.
    let set = FeatureSet::new(&FeatureSet::raw_and_client_columns()).expect("feature set");
    assert!(set.uses_client_features());
    let mut builder = DatasetBuilder::new(&set);
    let mut training: HashMap<i64, (u64, Vec<InputValue<'static>>)> = HashMap::new();
    let mut order = Vec::new();
    replay_features(&files, &set, &RunProgress::default(), |joined, values| {
        builder.push(values, joined.transaction.is_fraud() == Some(true)).expect("push");
        let owned: Vec<InputValue<'static>> = values
            .iter()
            .map(|v| match v {
                InputValue::Num(x) => InputValue::Num(*x),
                InputValue::Str(s) => InputValue::Str(Box::leak(s.to_string().into_boxed_str())),
            })
            .collect();
        order.push(joined.transaction.id());
        training.insert(joined.transaction.id(), (row_hash(values), owned));
    })
    .expect("replay");
    assert_eq!(training.len(), 100_000);
    let params = TrainParams { rounds: 5, threads: 2, ..TrainParams::default() };
    let model = train(&builder.build().expect("dataset"), &params).expect("train");
    model.save(tmp.path().join("model")).expect("save");

    // Stream side: `fraudstream run` in process on the exported model, with the replay's join settings.
    let onnx = Model::load(tmp.path().join("model/model.onnx")).expect("exported model loads");
    let mapping = InputMapping::for_model(&onnx).expect("every model input resolves");
    assert!(mapping.uses_client_features());
    let seen = Mutex::new(HashMap::new());
    let mut scorer = Recording { inner: InProcessScorer::new(&onnx).expect("scorer"), mapping, seen: &seen };
    let config = RunConfig {
        files: FileSourceConfig { columns: Some(needed_columns(scorer.mapping.names())), ..files },
        job: replay_job(Some(ClientConfig::default())),
        out_dir: tmp.path().join("out"),
        model_name: "parity".into(),
        score_reasons: 0,
    };
    let files = config.files.clone();
    let summary = run_embedded(&config, &mut scorer, &RunProgress::default()).expect("stream");
    assert_eq!(summary.scored, 100_000);

    let seen = seen.into_inner().expect("lock");
    assert_eq!(seen.len(), 100_000);
    let mut checked = 0;
    for id in &order {
        let (train_hash, values) = &training[id];
        let (stream_hash, stream_score) = seen[id];
        assert_eq!(stream_hash, *train_hash, "TransactionID {id}: the stream fed the model other features");
        let trainer = model.predict_row(values).expect("trainer prediction");
        assert!(
            (f64::from(trainer) - stream_score).abs() <= 1e-6,
            "TransactionID {id}: trainer {trainer}, stream {stream_score}"
        );
        checked += 1;
    }
    assert_eq!(checked, 100_000);

    // Batch side: `fraudstream score` replays the files in the stream's order for a client-feature model.
    let out = tmp.path().join("batch.csv");
    let batch = ScoreConfig {
        files: FileSourceConfig { columns: None, ..files },
        out: out.clone(),
        batch_size: 512,
        reasons: 0,
        features_out: None,
    };
    let summary = score_files(&batch, &onnx, &std::sync::atomic::AtomicU64::new(0)).expect("batch scoring");
    assert_eq!(summary.rows, 100_000);
    let text = std::fs::read_to_string(&out).expect("batch output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("TransactionID,score,label"));
    let mut batch_order = Vec::new();
    for line in lines {
        let mut fields = line.split(',');
        let id: i64 = fields.next().and_then(|f| f.parse().ok()).expect("TransactionID");
        let score: f64 = fields.next().and_then(|f| f.parse().ok()).expect("score");
        assert_eq!(score, seen[&id].1, "TransactionID {id}: the backtest scored it differently from the stream");
        batch_order.push(id);
    }
    assert_eq!(batch_order, order, "the backtest writes scores in the stream's order");
}
