//! The seed model behind the server, fed the way Confluent Flink's `ML_PREDICT` (provider `azureml`) feeds the
//! reference team's Azure ML endpoint, must reproduce onnxruntime's outputs for the 1,500 real sample rows.
//!
//! The `ml_predict_*` tests send what the SQL printed by `fraudstream flink-sql` (docs/confluent.md) makes Confluent
//! send: the CREATE MODEL INPUT columns in model order, FLOAT inputs as the `CAST(... AS FLOAT)` values, `index`,
//! the connection's API key as a bearer token; or, for the packed variant, one `features_json` column holding
//! `JSON_OBJECT(...)` of the raw view values. Replies must be the JSON array the `JSON-ARRAY` output format reads.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use common::*;
use fraudstream_data::catalog::{canonical_name, ColumnType};
use fraudstream_data::csv_table::TableReader;
use fraudstream_data::{EventTime, Identity, Table, Transaction};
use fraudstream_features::mapping::{InputSource, InputValue};
use fraudstream_features::{FeatureRow, InputMapping};
use fraudstream_model::{ElemType, Model};
use fraudstream_serve::ServerHandle;
use serde_json::{json, Value};

struct Sample {
    /// Model input names, in model order (the columns Flink sends: the model's INPUT schema).
    columns: Vec<String>,
    /// Per row: TransactionID and its values in column order (null for missing).
    rows: Vec<(i64, Vec<Value>)>,
    /// TransactionID → (label, p_fraud) from onnxruntime.
    expected: HashMap<i64, (i64, f64)>,
    /// Per input: whether CREATE MODEL declares it FLOAT (the query then sends `CAST(value AS FLOAT)`).
    float_input: Vec<bool>,
    /// Per input: whether the joined view holds it as an integer (BIGINT/INT columns, calendar features).
    integral: Vec<bool>,
}

fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let reference = shared_reference();
        let dir = reference.join("ieee-cis-sample");
        let model = Model::load(reference.join("seed-model/pipeline_75.onnx")).expect("seed model");
        let mapping = InputMapping::for_model(&model).expect("mapping");
        let mut identities = HashMap::new();
        let mut ids = TableReader::open(dir.join("train_identity.csv"), Table::Identity, 0).expect("identities");
        while let Some(row) = ids.read_row().expect("identity row") {
            let id = Identity { row, event_time: EventTime::default() };
            identities.insert(id.id(), id);
        }
        let mut txs =
            TableReader::open(dir.join("train_transaction.csv"), Table::Transaction, 0).expect("transactions");
        let mut rows = Vec::new();
        while let Some(row) = txs.read_row().expect("transaction row") {
            let tx = Transaction { row };
            let values = mapping
                .values(&FeatureRow::new(&tx, identities.get(&tx.id())))
                .into_iter()
                .map(|v| match v {
                    InputValue::Num(x) if x.is_nan() => Value::Null,
                    InputValue::Num(x) => json!(x),
                    InputValue::Str("") => Value::Null,
                    InputValue::Str(s) => json!(s),
                })
                .collect();
            rows.push((tx.id(), values));
        }
        let text = std::fs::read_to_string(reference.join("seed-model/onnxruntime_outputs.csv")).expect("outputs");
        let expected = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].parse().expect("id"), (f[1].parse().expect("label"), f[2].parse().expect("p")))
            })
            .collect();
        assert_eq!(rows.len(), 1500);
        let float_input = model.inputs().iter().map(|i| i.elem_type() == Some(ElemType::Float)).collect();
        let integral = mapping
            .names()
            .iter()
            .zip(mapping.sources())
            .map(|(name, source)| match source {
                InputSource::Calendar(_) => true,
                InputSource::TransactionNum(_) => {
                    Table::Transaction.catalog().get(&canonical_name(name)).is_some_and(|c| c.ty == ColumnType::Int)
                }
                _ => false,
            })
            .collect();
        Sample { columns: mapping.names().to_vec(), rows, expected, float_input, integral }
    })
}

fn server() -> &'static ServerHandle {
    static S: OnceLock<ServerHandle> = OnceLock::new();
    S.get_or_init(|| {
        let mut cfg = config();
        cfg.models.push(("fraud".into(), shared_reference().join("seed-model/pipeline_75.onnx")));
        start(cfg)
    })
}

fn check(ids: &[i64], labels: &[Value], probs: &[Value]) {
    let s = sample();
    assert_eq!(labels.len(), ids.len());
    assert_eq!(probs.len(), ids.len());
    for ((id, l), p) in ids.iter().zip(labels).zip(probs) {
        let (el, ep) = s.expected[id];
        assert_eq!(l.as_i64(), Some(el), "label of {id}");
        let p = p.as_f64().expect("probability");
        assert!((p - ep).abs() <= 1e-6, "probability of {id}: {p} vs {ep}");
    }
}

/// Posts `body` to `/score` twice (labels, then probabilities) and checks both against onnxruntime for `ids`.
fn score_and_check(srv: &ServerHandle, body: &Value, ids: &[i64]) {
    let (st, labels) = post(&srv.url("/score"), body);
    assert_eq!(st, 200, "{labels}");
    let (st, probs) = post(&srv.url("/score?output=probability"), body);
    assert_eq!(st, 200, "{probs}");
    check(ids, labels.as_array().expect("array"), probs.as_array().expect("array"));
}

#[test]
fn confluent_ml_predict_frame_reproduces_onnxruntime_on_1500_rows() {
    let s = sample();
    let srv = server();
    for (b, chunk) in s.rows.chunks(100).enumerate() {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let body = json!({"input_data": {
            "columns": s.columns,
            "index": (b * 100..b * 100 + chunk.len()).collect::<Vec<_>>(),
            "data": chunk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        }});
        score_and_check(srv, &body, &ids);
    }
}

#[test]
fn single_row_requests_as_flink_sends_them_match() {
    let s = sample();
    let srv = server();
    let c = client();
    for (i, (id, values)) in s.rows.iter().enumerate().step_by(37) {
        let body = json!({"input_data": {"columns": s.columns, "index": [i], "data": [values]}});
        let labels: Value = c.post(srv.url("/score/fraud")).json(&body).send().expect("send").json().expect("json");
        let probs: Value = c
            .post(srv.url("/score/fraud$1"))
            .header("X-Output", "probability")
            .json(&body)
            .send()
            .expect("send")
            .json()
            .expect("json");
        check(&[*id], labels.as_array().expect("labels"), probs.as_array().expect("probs"));
    }
}

#[test]
fn json_string_column_form_matches_and_derives_calendar_features() {
    let s = sample();
    let srv = server();
    for chunk in s.rows.chunks(100) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        // One JSON-object string per row, without DT_D/DT_W/DT_M: the server derives them from TransactionDT.
        let data: Vec<Vec<Value>> = chunk
            .iter()
            .map(|(_, values)| {
                let obj: serde_json::Map<String, Value> = s
                    .columns
                    .iter()
                    .zip(values)
                    .filter(|(c, _)| !c.starts_with("DT_"))
                    .map(|(c, v)| (c.clone(), v.clone()))
                    .collect();
                vec![Value::String(Value::Object(obj).to_string())]
            })
            .collect();
        let body = json!({"input_data": {"data": data}});
        score_and_check(srv, &body, &ids);
    }
}

/// One v2 input tensor per model input (shape `[rows, 1]`, the datatype the metadata gives) holding `chunk`'s rows.
fn v2_tensors(chunk: &[(i64, Vec<Value>)], inputs: &[Value]) -> Vec<Value> {
    sample()
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            json!({"name": name, "shape": [chunk.len(), 1], "datatype": inputs[c]["datatype"].clone(),
                   "data": chunk.iter().map(|(_, v)| v[c].clone()).collect::<Vec<_>>()})
        })
        .collect()
}

#[test]
fn kserve_v2_metadata_and_infer_on_the_seed_model() {
    let s = sample();
    let srv = server();
    let (st, meta) = get(&srv.url("/v2/models/fraud"));
    assert_eq!(st, 200, "{meta}");
    assert_eq!(meta["platform"], "onnx");
    assert_eq!(meta["versions"], json!(["1"]));
    let inputs = meta["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 75);
    assert_eq!(inputs.iter().filter(|i| i["datatype"] == "BYTES").count(), 17);
    assert_eq!(inputs.iter().filter(|i| i["datatype"] == "FP32").count(), 58);
    assert_eq!(inputs[0]["shape"], json!([-1, 1]));

    let chunk = &s.rows[200..300];
    let tensors = v2_tensors(chunk, inputs);
    let (st, reply) = post(&srv.url("/v2/models/fraud/versions/1/infer"), &json!({"id": "req-1", "inputs": tensors}));
    assert_eq!(st, 200, "{reply}");
    assert_eq!(reply["model_name"], "fraud");
    assert_eq!(reply["model_version"], "1");
    assert_eq!(reply["id"], "req-1");
    let outs = reply["outputs"].as_array().expect("outputs");
    assert_eq!(outs[0]["name"], "label");
    assert_eq!(outs[0]["datatype"], "INT64");
    assert_eq!(outs[1]["name"], "probability");
    assert_eq!(outs[1]["datatype"], "FP32");
    assert_eq!(outs[1]["shape"], json!([100]));
    let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
    check(&ids, outs[0]["data"].as_array().expect("labels"), outs[1]["data"].as_array().expect("probs"));
}

#[test]
fn kserve_v1_predict_on_the_seed_model() {
    let s = sample();
    let srv = server();
    let chunk = &s.rows[700..750];
    let instances: Vec<Value> = chunk
        .iter()
        .map(|(_, values)| Value::Object(s.columns.iter().cloned().zip(values.iter().cloned()).collect()))
        .collect();
    let (st, reply) = post(&srv.url("/v1/models/fraud:predict"), &json!({"instances": instances}));
    assert_eq!(st, 200, "{reply}");
    let preds = reply["predictions"].as_array().expect("predictions");
    for ((id, _), p) in chunk.iter().zip(preds) {
        let (_, ep) = s.expected[id];
        assert!((p.as_f64().expect("p") - ep).abs() <= 1e-6, "{id}");
    }
}

/// One row's values as ML_PREDICT sends the generated query's arguments: `CAST(x AS FLOAT)` for FLOAT inputs (a
/// float widened to double, as Flink's JSON serialization writes it), strings and NULLs as they are.
fn as_ml_predict_sends(values: &[Value]) -> Vec<Value> {
    let s = sample();
    values
        .iter()
        .zip(&s.float_input)
        .map(|(v, &float)| match v.as_f64() {
            Some(x) if float => json!(f64::from(x as f32)),
            _ => v.clone(),
        })
        .collect()
}

/// One row as the packed variant's `JSON_OBJECT(KEY 'name' VALUE j.col, ...)` string: view values uncast, integer
/// columns and calendar features as integers, keys sorted as Flink writes them.
fn as_json_object(values: &[Value]) -> String {
    let s = sample();
    let object: serde_json::Map<String, Value> = s
        .columns
        .iter()
        .zip(values)
        .zip(&s.integral)
        .map(|((name, v), &integral)| {
            let v = match v.as_f64() {
                Some(x) if integral => json!(x as i64),
                _ => v.clone(),
            };
            (name.clone(), v)
        })
        .collect();
    Value::Object(object).to_string()
}

const FLINK_KEY: &str = "confluent-connection-key";

fn keyed_server() -> &'static ServerHandle {
    static S: OnceLock<ServerHandle> = OnceLock::new();
    S.get_or_init(|| {
        let mut cfg = config();
        cfg.api_keys = vec![FLINK_KEY.to_string()];
        cfg.models.push(("fraud".into(), shared_reference().join("seed-model/pipeline_75.onnx")));
        start(cfg)
    })
}

/// Posts one ML_PREDICT request the way the `azureml` connection does (bearer key, JSON body; the deployment header
/// only matters to Azure and is ignored) and returns the JSON array reply.
fn ml_predict(url: &str, body: &Value) -> Vec<Value> {
    // One client for all requests: a blocking client starts its own runtime thread.
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    let resp = CLIENT
        .get_or_init(client)
        .post(url)
        .bearer_auth(FLINK_KEY)
        .header("azureml-model-deployment", "fraud")
        .json(body)
        .send()
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let reply: Value = resp.json().expect("json");
    reply.as_array().expect("JSON-ARRAY reply").clone()
}

#[test]
fn ml_predict_requests_from_the_generated_create_model_match_onnxruntime() {
    let s = sample();
    let srv = keyed_server();
    // Without the connection's key the endpoint refuses, as the recipe's --api-key requires.
    let body = json!({"input_data": {"columns": s.columns, "index": [0], "data": [s.rows[0].1]}});
    assert_eq!(post(&srv.url("/score"), &body).0, 401);
    for (i, (id, values)) in s.rows.iter().enumerate().step_by(3) {
        let body = json!({"input_data": {
            "columns": s.columns,
            "index": [i],
            "data": [as_ml_predict_sends(values)],
        }});
        let labels = ml_predict(&srv.url("/score"), &body);
        let probs = ml_predict(&srv.url("/score?output=probability"), &body);
        check(&[*id], &labels, &probs);
    }
}

#[test]
fn ml_predict_requests_of_the_packed_json_variant_match_onnxruntime() {
    let s = sample();
    let srv = keyed_server();
    for (i, (id, values)) in s.rows.iter().enumerate().step_by(3) {
        let body = json!({"input_data": {
            "columns": ["features_json"],
            "index": [i],
            "data": [[as_json_object(values)]],
        }});
        let labels = ml_predict(&srv.url("/score"), &body);
        let probs = ml_predict(&srv.url("/score?output=probability"), &body);
        check(&[*id], &labels, &probs);
    }
}

/// `logit(p)` of a float32 probability, and how far the float32 rounding of `p` alone can move it.
fn logit_and_slack(p: f64) -> (f64, f64) {
    ((p / (1.0 - p)).ln(), 1e-5 + 1.2e-7 / (p * (1.0 - p)))
}

/// Checks one row's reasons: `k` of them, largest |contribution| first, with the values the row carries.
fn check_reasons(reasons: &Value, k: usize, columns: &[String], values: &[Value]) -> f64 {
    let reasons = reasons.as_array().expect("reasons array");
    assert_eq!(reasons.len(), k);
    let mut sum = 0.0;
    let mut last = f64::INFINITY;
    for r in reasons {
        let c = r["contribution"].as_f64().expect("contribution");
        assert!(c.abs() <= last, "largest first: {reasons:?}");
        last = c.abs();
        sum += c;
        let feature = r["feature"].as_str().expect("feature");
        let i = columns.iter().position(|n| n == feature).expect("a model input");
        match (&values[i], &r["value"]) {
            (Value::Null, v) => assert!(v.is_null(), "{feature}: missing shows as null, got {v}"),
            (Value::String(a), Value::String(b)) => assert_eq!(a, b, "{feature}"),
            (a, b) => assert!(
                (a.as_f64().expect("sent") - b.as_f64().expect("seen")).abs()
                    <= 1e-3 * a.as_f64().unwrap_or(1.0).abs().max(1.0),
                "{feature}: {a} vs {b}"
            ),
        }
    }
    sum
}

#[test]
fn score_with_reasons_gives_each_row_its_top_k_and_all_of_them_add_up_to_the_logit() {
    let s = sample();
    let srv = server();
    let chunk = &s.rows[..40];
    let body =
        json!({"input_data": {"columns": s.columns, "data": chunk.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()}});
    // Top 3: three per row, in order.
    let (st, reply) = post(&srv.url("/score?reasons=3"), &body);
    assert_eq!(st, 200, "{reply}");
    let rows = reply.as_array().expect("rows");
    assert_eq!(rows.len(), chunk.len());
    for (row, (id, values)) in rows.iter().zip(chunk) {
        let (label, p) = s.expected[id];
        assert_eq!(row["label"].as_i64(), Some(label), "{id}");
        assert!((row["probability"].as_f64().expect("p") - p).abs() <= 1e-6, "{id}");
        check_reasons(&row["reasons"], 3, &s.columns, values);
    }
    // Every input: the contributions plus the expected value are the logit; the expected value is the same for every
    // row, so the differences between rows' sums equal the differences between their logits.
    let (st, reply) = post(&srv.url("/score?reasons=75"), &body);
    assert_eq!(st, 200, "{reply}");
    let rows = reply.as_array().expect("rows");
    let sums: Vec<f64> = rows
        .iter()
        .zip(chunk)
        .map(|(row, (_, values))| {
            let n = row["reasons"].as_array().expect("reasons").len();
            assert!((40..=75).contains(&n), "{n} non-zero contributions");
            check_reasons(&row["reasons"], n, &s.columns, values)
        })
        .collect();
    let (first_logit, first_slack) = logit_and_slack(s.expected[&chunk[0].0].1);
    for ((id, _), sum) in chunk.iter().zip(&sums).skip(1) {
        let (logit, slack) = logit_and_slack(s.expected[id].1);
        let (got, want) = (sum - sums[0], logit - first_logit);
        assert!((got - want).abs() <= slack + first_slack, "{id}: Σ difference {got} vs logit difference {want}");
    }
    // Without the parameter the reply is as before; a bad count names the parameter.
    let (st, plain) = post(&srv.url("/score"), &body);
    assert_eq!(st, 200);
    assert!(plain.as_array().expect("labels").iter().all(Value::is_i64));
    let (st, err) = post(&srv.url("/score?reasons=three"), &body);
    assert_eq!(st, 400, "{err}");
    assert!(err.to_string().contains("reasons"), "{err}");
}

#[test]
fn kserve_v2_reasons_output_is_one_json_array_per_row() {
    let s = sample();
    let srv = server();
    let chunk = &s.rows[300..320];
    let (_, meta) = get(&srv.url("/v2/models/fraud"));
    let inputs = meta["inputs"].as_array().expect("inputs").clone();
    let tensors = v2_tensors(chunk, &inputs);
    let body =
        json!({"inputs": tensors, "outputs": [{"name": "probability"}, {"name": "reasons", "parameters": {"top": 5}}]});
    let (st, reply) = post(&srv.url("/v2/models/fraud/infer"), &body);
    assert_eq!(st, 200, "{reply}");
    let outs = reply["outputs"].as_array().expect("outputs");
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[1]["name"], "reasons");
    assert_eq!(outs[1]["datatype"], "BYTES");
    assert_eq!(outs[1]["shape"], json!([chunk.len()]));
    for (cell, (_, values)) in outs[1]["data"].as_array().expect("data").iter().zip(chunk) {
        let reasons: Value = serde_json::from_str(cell.as_str().expect("a JSON string")).expect("JSON");
        check_reasons(&reasons, 5, &s.columns, values);
    }
    let bad = json!({"inputs": tensors, "outputs": [{"name": "reasons", "parameters": {"top": "5"}}]});
    let (st, err) = post(&srv.url("/v2/models/fraud/infer"), &bad);
    assert_eq!(st, 400, "{err}");
    assert!(err.to_string().contains("outputs.reasons.parameters.top"), "{err}");
}

#[test]
fn kserve_v2_expected_value_plus_all_contributions_is_each_rows_logit() {
    let s = sample();
    let srv = server();
    let chunk = &s.rows[500..510];
    let (_, meta) = get(&srv.url("/v2/models/fraud"));
    let inputs = meta["inputs"].as_array().expect("inputs").clone();
    let k = inputs.len();
    let tensors = v2_tensors(chunk, &inputs);
    let body = json!({"inputs": tensors, "outputs": [
        {"name": "probability"}, {"name": "reasons", "parameters": {"top": k}}, {"name": "expected_value"}]});
    let (st, reply) = post(&srv.url("/v2/models/fraud/infer"), &body);
    assert_eq!(st, 200, "{reply}");
    let outs = reply["outputs"].as_array().expect("outputs");
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[2]["name"], "expected_value");
    assert_eq!(outs[2]["datatype"], "FP64");
    assert_eq!(outs[2]["shape"], json!([chunk.len()]));
    let expected = outs[2]["data"].as_array().expect("data");
    for (r, (id, values)) in chunk.iter().enumerate() {
        let p = outs[0]["data"][r].as_f64().expect("probability");
        let reasons: Value = serde_json::from_str(outs[1]["data"][r].as_str().expect("a JSON string")).expect("JSON");
        let n = reasons.as_array().expect("reasons").len();
        assert!(n <= k, "{id}: {n} reasons for {k} inputs");
        let sum = check_reasons(&reasons, n, &s.columns, values);
        let (logit, slack) = logit_and_slack(p);
        let got = sum + expected[r].as_f64().expect("expected value");
        assert!((got - logit).abs() <= slack, "{id}: Σ contributions + expected {got} vs logit(p) {logit}");
    }
}
