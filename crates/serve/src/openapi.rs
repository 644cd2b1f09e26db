//! `GET /openapi.json`: a hand-written OpenAPI 3.0 description of every endpoint, kept next to the code it
//! describes so a change to a route or body shape is a change here too (schemathesis runs against it; see
//! `bench/README.md`). Hand-written rather than derived to keep the dependency tree lean.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

static DOC: OnceLock<Vec<u8>> = OnceLock::new();

pub(crate) async fn document() -> Response {
    let bytes = DOC.get_or_init(|| serde_json::to_vec_pretty(&build()).unwrap_or_default()).clone();
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn errors(codes: &[&str]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for c in codes {
        let d = match *c {
            "400" => "Malformed JSON or an invalid request; `field` / `row` name the problem",
            "401" => "Missing or invalid API key",
            "404" => "Unknown model or version",
            "405" => "Method not allowed",
            "413" => "Request body larger than the configured limit",
            "503" => "The model version is not ready (failed to load)",
            _ => "Error",
        };
        m.insert((*c).to_string(), err(d));
    }
    m
}

fn with(mut base: serde_json::Map<String, Value>, code: &str, v: Value) -> Value {
    base.insert(code.to_string(), v);
    Value::Object(base)
}

fn name_param() -> Value {
    json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Model name"})
}

fn version_param() -> Value {
    json!({"name": "version", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Integer model version"})
}

fn json_body(schema: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn ok_json(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The request rules every scoring protocol shares (see `inputs` and `names`), as the document states them.
const INPUT_RULES: &str = "Fraud model scoring: Azure ML / Confluent ML_PREDICT format, KServe v2 (Open Inference \
Protocol) and v1.\n\nInputs are addressed by the model's input names (GET /v2/models/{name} lists them). On every \
protocol: a column, field or tensor name that is no model input (nor TransactionDT, when the model derives calendar \
inputs from it) is a 400 naming it, the row, and the model's inputs; an input given twice is a 400; a row or instance \
must carry at least one input (`{}` is a 400). An omitted input is a missing value, exactly like an explicit null \
(a calendar input is then derived from TransactionDT). Numeric inputs take finite numbers, numeric strings such as \
\"42.5\" (blank = missing), booleans (0/1) or null; the strings \"inf\", \"-Infinity\", \"NaN\" (any case) are a \
400: send null for a missing value.";

/// `GET /admin/models`; built apart because one `json!` for the whole document would exceed the macro recursion limit.
fn admin_models_schema() -> Value {
    let version = json!({"type": "object", "required": ["version", "ready", "path"], "properties": {
        "version": {"type": "integer"},
        "ready": {"type": "boolean"},
        "path": {"type": "string", "description": "Relative to --model-dir, or the file name of a --model path"},
        "error": {"type": "string", "description": "Why the version's files on disk do not load"},
        "stale": {"type": "boolean", "description": "Ready, but serving its last good load because the files do not load"}}});
    let model = json!({"type": "object", "required": ["name", "versions"], "properties": {
        "name": {"type": "string"},
        "default_version": {"type": "integer", "nullable": true},
        "shadow_version": {"type": "integer", "nullable": true},
        "default_file_error": {"type": "string", "description": "Why NAME/default is not used; the last valid default is kept"},
        "versions": {"type": "array", "items": version}}});
    json!({"type": "object", "required": ["models"], "properties": {"models": {"type": "array", "items": model}}})
}

fn build() -> Value {
    let score_params = json!([
        {"name": "output", "in": "query", "required": false, "schema": {"type": "string", "enum": ["label", "labels", "probability", "probabilities", "proba"]},
         "description": "What to return per row (default label)"},
        {"name": "X-Output", "in": "header", "required": false, "schema": {"type": "string", "enum": ["label", "labels", "probability", "probabilities", "proba"]}},
        {"name": "reasons", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 10000},
         "description": "Also give each row's top K reason codes (exact TreeSHAP, log-odds): rows become {label, probability, reasons: [{feature, value, contribution}]}"},
    ]);
    let score_ok = ok_json(
        "One entry per row: labels (0/1), probabilities of fraud with output=probability, or with reasons=K objects {label, probability, reasons}",
        json!({"type": "array", "items": {"oneOf": [{"type": "number"}, {"type": "object", "properties": {
            "label": {"type": "integer"}, "probability": {"type": "number"},
            "reasons": {"type": "array", "items": {"type": "object", "properties": {
                "feature": {"type": "string"}, "value": {}, "contribution": {"type": "number"}}}}}}]}}),
    );
    let score_errors = errors(&["400", "401", "404", "413", "503"]);
    let score = json!({
        "post": {
            "summary": "Score rows in the Azure ML / Confluent ML_PREDICT (AZUREML-PANDAS-DATAFRAME) format",
            "parameters": score_params,
            "requestBody": json_body("AzureRequest"),
            "responses": with(score_errors.clone(), "200", score_ok.clone()),
        }
    });
    let mut score_named_params =
        vec![json!({"name": "target", "in": "path", "required": true, "schema": {"type": "string"},
        "description": "NAME or NAME$VERSION"})];
    if let Value::Array(p) = &score_params {
        score_named_params.extend(p.iter().cloned());
    }
    let score_named = json!({
        "post": {
            "summary": "Score rows with a named model (NAME$VERSION picks a version, as Confluent writes it)",
            "parameters": score_named_params,
            "requestBody": json_body("AzureRequest"),
            "responses": with(score_errors, "200", score_ok),
        }
    });
    let metadata_ok = ok_json("Model metadata", json!({"$ref": "#/components/schemas/ModelMetadata"}));
    let ready_ok = ok_json("Ready", json!({"$ref": "#/components/schemas/ModelReady"}));
    let not_ready = ok_json("Not ready", json!({"$ref": "#/components/schemas/ModelReady"}));
    let infer_ok = ok_json("Labels and probabilities", json!({"$ref": "#/components/schemas/InferResponse"}));
    let predict_ok = ok_json("Probabilities of fraud", json!({"$ref": "#/components/schemas/PredictResponse"}));
    let infer_errors = errors(&["400", "401", "404", "413", "503"]);
    let get_errors = errors(&["401", "404", "503"]);

    let ready_responses = |e: &serde_json::Map<String, Value>| {
        let mut m = e.clone();
        m.insert("200".into(), ready_ok.clone());
        m.insert("503".into(), not_ready.clone());
        Value::Object(m)
    };

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "fraudstream-serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": INPUT_RULES
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            "/score": score,
            "/score/{target}": score_named,
            "/v2": {"get": {"summary": "Server metadata", "responses": with(errors(&["401"]), "200",
                ok_json("Server metadata", json!({"type": "object", "required": ["name", "version", "extensions"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}})))}},
            "/v2/health/live": {"get": {"summary": "Liveness", "security": [], "responses": {
                "200": ok_json("Live", json!({"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}))}}},
            "/v2/health/ready": {"get": {"summary": "Readiness: every model has a ready default version", "security": [], "responses": {
                "200": ok_json("Ready", json!({"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}})),
                "503": ok_json("Not ready", json!({"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}))}}},
            "/v2/models/{name}": {"get": {"summary": "Metadata of the default version", "parameters": [name_param()],
                "responses": with(get_errors.clone(), "200", metadata_ok.clone())}},
            "/v2/models/{name}/ready": {"get": {"summary": "Readiness of the default version", "parameters": [name_param()],
                "responses": ready_responses(&errors(&["401", "404"]))}},
            "/v2/models/{name}/infer": {"post": {"summary": "KServe v2 inference with the default version", "parameters": [name_param()],
                "requestBody": json_body("InferRequest"), "responses": with(infer_errors.clone(), "200", infer_ok.clone())}},
            "/v2/models/{name}/versions/{version}": {"get": {"summary": "Metadata of one version",
                "parameters": [name_param(), version_param()], "responses": with(get_errors.clone(), "200", metadata_ok)}},
            "/v2/models/{name}/versions/{version}/ready": {"get": {"summary": "Readiness of one version",
                "parameters": [name_param(), version_param()], "responses": ready_responses(&errors(&["401", "404"]))}},
            "/v2/models/{name}/versions/{version}/infer": {"post": {"summary": "KServe v2 inference with one version",
                "parameters": [name_param(), version_param()], "requestBody": json_body("InferRequest"),
                "responses": with(infer_errors.clone(), "200", infer_ok)}},
            "/v1/models/{name}": {"get": {"summary": "KServe v1 model status", "parameters": [name_param()],
                "responses": ready_responses(&errors(&["401", "404"]))}},
            "/v1/models/{name}:predict": {"post": {"summary": "KServe v1 prediction with the default version",
                "parameters": [name_param()], "requestBody": json_body("PredictRequest"),
                "responses": with(infer_errors.clone(), "200", predict_ok.clone())}},
            "/v1/models/{name}/versions/{version}:predict": {"post": {"summary": "KServe v1 prediction with one version",
                "parameters": [name_param(), version_param()], "requestBody": json_body("PredictRequest"),
                "responses": with(infer_errors, "200", predict_ok)}},
            "/admin/models": {"get": {"summary": "Loaded models, versions, load errors, defaults", "responses": with(errors(&["401"]), "200",
                ok_json("Models", json!({"$ref": "#/components/schemas/AdminModels"})))}},
            "/admin/models/{name}/default": {"put": {"summary": "Set the default version of a model", "parameters": [name_param()],
                "requestBody": json_body("SetDefault"),
                "responses": with(errors(&["400", "401", "404", "413", "503"]), "200",
                    ok_json("New default", json!({"type": "object", "required": ["name", "default_version"],
                        "properties": {"name": {"type": "string"}, "default_version": {"type": "integer"}}})))}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": with(errors(&["401"]), "200",
                json!({"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}))}},
            "/openapi.json": {"get": {"summary": "This document", "responses": with(errors(&["401"]), "200",
                ok_json("OpenAPI 3 document", json!({"type": "object"})))}},
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "field": {"type": "string"}, "row": {"type": "integer", "minimum": 0}}},
                "Cell": {"nullable": true, "oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}],
                    "description": "A feature value; finite numbers or numeric strings for numeric inputs (\"inf\"/\"NaN\" are refused), strings for string inputs, null = missing"},
                "AzureFrame": {"type": "object", "required": ["data"], "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}, "nullable": true},
                    "index": {"type": "array", "items": {}, "nullable": true, "description": "Row labels, ignored"},
                    "data": {"type": "array", "items": {"type": "array", "items": {"$ref": "#/components/schemas/Cell"}},
                        "description": "Rows; with one string cell per row and no matching column, each cell is a JSON object string"}}},
                "AzureRequest": {"type": "object", "required": ["input_data"],
                    "description": "Column and field names must be model inputs; omitted inputs are missing values",
                    "properties": {
                    "input_data": {"oneOf": [
                        {"$ref": "#/components/schemas/AzureFrame"},
                        {"type": "array", "items": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/components/schemas/Cell"}}}]}}},
                "InferInput": {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
                    "name": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": u64::MAX}},
                    "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]},
                    "data": {"type": "array", "items": {}},
                    "parameters": {"type": "object", "nullable": true}}},
                "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
                    "id": {"type": "string", "nullable": true},
                    "parameters": {"type": "object", "nullable": true},
                    "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/InferInput"}},
                    "outputs": {"type": "array", "nullable": true, "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string",
                        "enum": ["label", "output_label", "probability", "output_probability", "probabilities"]}}}}}},
                "InferOutput": {"type": "object", "required": ["name", "datatype", "shape", "data"], "properties": {
                    "name": {"type": "string"}, "datatype": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}}, "data": {"type": "array", "items": {"type": "number"}}}},
                "InferResponse": {"type": "object", "required": ["model_name", "outputs"], "properties": {
                    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
                    "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/InferOutput"}}}},
                "TensorMetadata": {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
                    "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}}}},
                "ModelMetadata": {"type": "object", "required": ["name", "platform", "inputs", "outputs"], "properties": {
                    "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
                    "platform": {"type": "string"},
                    "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}},
                    "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/TensorMetadata"}},
                    "parameters": {"type": "object"}}},
                "ModelReady": {"type": "object", "required": ["name", "ready"], "properties": {
                    "name": {"type": "string"}, "version": {"type": "string"}, "ready": {"type": "boolean"}, "error": {"type": "string"}}},
                "PredictRequest": {"type": "object", "required": ["instances"],
                    "description": "Object instances: names must be model inputs, at least one per instance, omitted inputs are missing values; array instances: every input in model order",
                    "properties": {
                    "instances": {"type": "array", "items": {"oneOf": [
                        {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/components/schemas/Cell"}},
                        {"type": "array", "items": {"$ref": "#/components/schemas/Cell"}}]}}}},
                "PredictResponse": {"type": "object", "required": ["predictions"], "properties": {
                    "predictions": {"type": "array", "items": {"type": "number"}}}},
                "AdminModels": admin_models_schema(),
                "SetDefault": {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer", "minimum": 0, "maximum": u64::MAX}}},
            }
        }
    })
}
