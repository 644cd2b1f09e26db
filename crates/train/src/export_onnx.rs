//! `model.onnx`: the trained model as an ONNX-ML graph that `fraudstream_model::Model` and onnxruntime both run.
//!
//! Graph layout (the shape onnxmltools gives a LightGBM binary classifier, plus the categorical encoding):
//! - one input per feature, named exactly as the feature: `float [N, 1]` for numeric, `string [N, 1]` for
//!   categorical — so serving maps inputs to record fields by name, with no column order to get wrong;
//! - per categorical input, `ai.onnx.ml.LabelEncoder` string → float with the vocabulary's codes, `""` → NaN
//!   (missing) and the unknown code as `default_float`;
//! - one `Concat(axis = 1)` into `fraudstream.features [N, F]` (the `:code` outputs in place of categorical inputs);
//! - `ai.onnx.ml.TreeEnsembleClassifier`: `BRANCH_LEQ` nodes (the trainer's bins are "x <= bound"),
//!   `nodes_missing_value_tracks_true` from each split's learned missing direction, every leaf weight on class 0,
//!   `base_values = [initial log-odds]`, `post_transform = LOGISTIC`, classes `[0, 1]`;
//! - outputs `label` (`int64 [N]`) and `probabilities` (`float [N, 2]`).
//!
//! Opsets: `ai.onnx` 13, `ai.onnx.ml` 3; IR version 8. Metadata records the feature list, the data fingerprint and
//! the trainer version.

use fraudstream_model::proto::{
    attribute_type, data_type, tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;

use crate::fingerprint::hex;
use crate::model::{TrainedModel, ValueKind};
use crate::tree::Child;

/// ONNX IR version written (onnxruntime 1.10+ reads it).
const IR_VERSION: i64 = 8;
/// Default-domain opset.
const OPSET: i64 = 13;
/// `ai.onnx.ml` opset: TreeEnsembleClassifier 3, LabelEncoder 2.
const ML_OPSET: i64 = 3;
const ML: &str = "ai.onnx.ml";
/// Name of the concatenated feature matrix.
const FEATURES: &str = "fraudstream.features";

impl TrainedModel {
    /// The model as ONNX protobuf bytes (see the module documentation for the graph).
    pub fn to_onnx(&self) -> Vec<u8> {
        self.onnx_proto().encode_to_vec()
    }

    fn onnx_proto(&self) -> ModelProto {
        let mut nodes = Vec::new();
        let mut inputs = Vec::new();
        let mut columns = Vec::new();
        for f in &self.features {
            match (&f.kind, &f.vocabulary) {
                (ValueKind::Categorical, Some(v)) => {
                    inputs.push(value_info(&f.name, data_type::STRING, &[None, Some(1)]));
                    let code = format!("{}:code", f.name);
                    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
                    let mut values = vec![f32::NAN];
                    for (s, c) in v.known() {
                        keys.push(s.as_bytes().to_vec());
                        values.push(c as f32);
                    }
                    nodes.push(node(
                        "LabelEncoder",
                        ML,
                        &[&f.name],
                        &[&code],
                        vec![
                            strings("keys_strings", keys),
                            floats("values_floats", values),
                            float("default_float", v.unknown_code as f32),
                        ],
                    ));
                    columns.push(code);
                }
                _ => {
                    inputs.push(value_info(&f.name, data_type::FLOAT, &[None, Some(1)]));
                    columns.push(f.name.clone());
                }
            }
        }
        let column_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
        nodes.push(node("Concat", "", &column_refs, &[FEATURES], vec![int("axis", 1)]));
        nodes.push(self.ensemble_node());
        let graph = GraphProto {
            node: nodes,
            name: Some("fraudstream_gbdt".into()),
            input: inputs,
            output: vec![
                value_info("label", data_type::INT64, &[None]),
                value_info("probabilities", data_type::FLOAT, &[None, Some(2)]),
            ],
            doc_string: Some("Gradient-boosted trees trained by fraudstream-train on fraudstream features".into()),
            ..GraphProto::default()
        };
        let names: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        let meta = |k: &str, v: String| StringStringEntryProto { key: Some(k.into()), value: Some(v) };
        ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![
                OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) },
                OperatorSetIdProto { domain: Some(ML.into()), version: Some(ML_OPSET) },
            ],
            producer_name: Some("fraudstream-train".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            domain: Some("fraudstream".into()),
            model_version: Some(1),
            doc_string: Some("Binary fraud classifier: probabilities[:, 1] is the fraud probability".into()),
            graph: Some(graph),
            metadata_props: vec![
                meta("features", serde_json::Value::from(names).to_string()),
                meta("data_fingerprint", hex(self.fingerprint)),
                meta("trainer", format!("fraudstream-train {}", env!("CARGO_PKG_VERSION"))),
                meta("rounds_used", self.report.rounds_used.to_string()),
            ],
        }
    }

    /// The `TreeEnsembleClassifier` node: per tree, split nodes keep their index as node id (the root first, as
    /// onnxruntime takes the first node of each tree as its root) and leaf `l` gets id `splits + l`.
    fn ensemble_node(&self) -> NodeProto {
        let mut a = EnsembleAttrs::default();
        for (t, tree) in self.trees.iter().enumerate() {
            let t = t as i64;
            let n_split = tree.nodes.len() as i64;
            let id = |c: Child| match c {
                Child::Node(i) => i64::from(i),
                Child::Leaf(l) => n_split + i64::from(l),
            };
            let covers = tree.node_covers();
            for (i, node) in tree.nodes.iter().enumerate() {
                a.push_node(t, i as i64, i64::from(node.feature), "BRANCH_LEQ", node.threshold);
                a.hitrates.push(covers[i] as f32);
                a.true_ids.push(id(node.children[0]));
                a.false_ids.push(id(node.children[1]));
                a.missing.push(i64::from(node.missing_left));
            }
            for (l, &v) in tree.leaf_values.iter().enumerate() {
                let leaf_id = n_split + l as i64;
                a.push_node(t, leaf_id, 0, "LEAF", 0.0);
                a.hitrates.push(tree.leaf_counts.get(l).copied().unwrap_or(0) as f32);
                a.true_ids.push(0);
                a.false_ids.push(0);
                a.missing.push(0);
                a.class_tree.push(t);
                a.class_node.push(leaf_id);
                a.class_id.push(0);
                a.class_weight.push(v as f32);
            }
        }
        let attrs = vec![
            ints("classlabels_int64s", vec![0, 1]),
            ints("nodes_treeids", a.tree),
            ints("nodes_nodeids", a.node),
            ints("nodes_featureids", a.feature),
            strings("nodes_modes", a.mode.into_iter().map(|m| m.as_bytes().to_vec()).collect()),
            floats("nodes_values", a.value),
            ints("nodes_truenodeids", a.true_ids),
            ints("nodes_falsenodeids", a.false_ids),
            ints("nodes_missing_value_tracks_true", a.missing),
            floats("nodes_hitrates", a.hitrates),
            ints("class_treeids", a.class_tree),
            ints("class_nodeids", a.class_node),
            ints("class_ids", a.class_id),
            floats("class_weights", a.class_weight),
            floats("base_values", vec![self.base_score as f32]),
            string("post_transform", "LOGISTIC"),
        ];
        node("TreeEnsembleClassifier", ML, &[FEATURES], &["label", "probabilities"], attrs)
    }
}

/// The parallel attribute lists of a tree ensemble.
#[derive(Default)]
struct EnsembleAttrs {
    tree: Vec<i64>,
    node: Vec<i64>,
    feature: Vec<i64>,
    mode: Vec<&'static str>,
    value: Vec<f32>,
    true_ids: Vec<i64>,
    false_ids: Vec<i64>,
    missing: Vec<i64>,
    /// Training rows reaching each node (TreeSHAP's covers, see [`crate::tree::Tree::leaf_counts`]).
    hitrates: Vec<f32>,
    class_tree: Vec<i64>,
    class_node: Vec<i64>,
    class_id: Vec<i64>,
    class_weight: Vec<f32>,
}

impl EnsembleAttrs {
    fn push_node(&mut self, tree: i64, node: i64, feature: i64, mode: &'static str, value: f32) {
        self.tree.push(tree);
        self.node.push(node);
        self.feature.push(feature);
        self.mode.push(mode);
        self.value.push(value);
    }
}

fn node(op: &str, domain: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: Some(format!("{op}:{}", outputs.first().copied().unwrap_or(""))),
        op_type: Some(op.into()),
        domain: Some(domain.into()),
        attribute,
        doc_string: None,
    }
}

/// A tensor value info; `None` dimensions are the symbolic batch size `N`.
fn value_info(name: &str, elem_type: i32, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("N".into()),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        doc_string: None,
    }
}

fn attr(name: &str, ty: i32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(ty), ..AttributeProto::default() }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: Some(v), ..attr(name, attribute_type::INT) }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { f: Some(v), ..attr(name, attribute_type::FLOAT) }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: Some(v.as_bytes().to_vec()), ..attr(name, attribute_type::STRING) }
}

fn ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto { ints: v, ..attr(name, attribute_type::INTS) }
}

fn floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto { floats: v, ..attr(name, attribute_type::FLOATS) }
}

fn strings(name: &str, v: Vec<Vec<u8>>) -> AttributeProto {
    AttributeProto { strings: v, ..attr(name, attribute_type::STRINGS) }
}

#[cfg(test)]
mod tests {
    use fraudstream_features::InputValue;
    use fraudstream_model::{InputBatch, Model};

    use crate::model::{ModelFeature, TrainReport, TrainedModel, ValueKind};
    use crate::params::TrainParams;
    use crate::tree::{Child, Node, Tree};

    fn model(trees: Vec<Tree>) -> TrainedModel {
        let features = vec![ModelFeature { name: "TransactionAmt".into(), kind: ValueKind::Numeric, vocabulary: None }];
        let report = TrainReport {
            train_rows: 0,
            valid_rows: 0,
            rounds_trained: trees.len(),
            rounds_used: trees.len(),
            metrics: None,
            importance: Vec::new(),
            history: Vec::new(),
            train_seconds: 0.0,
        };
        TrainedModel::new(features, trees, -1.25, TrainParams::default(), report, 7)
    }

    fn split(threshold: f32, missing_left: bool, children: [Child; 2]) -> Node {
        Node { feature: 0, bin: 1, threshold, missing_left, children, gain: 1.0 }
    }

    #[test]
    fn edge_shaped_trees_score_the_same_in_the_engine() {
        // "Every number left, missing right" (threshold +inf), a missing-left split, and a single-leaf tree.
        let trees = vec![
            Tree {
                nodes: vec![split(f32::INFINITY, false, [Child::Leaf(0), Child::Leaf(1)])],
                leaf_values: vec![-0.5, 2.0],
                leaf_counts: vec![30, 10],
            },
            Tree {
                nodes: vec![
                    split(10.5, true, [Child::Node(1), Child::Leaf(1)]),
                    split(-3.0, false, [Child::Leaf(0), Child::Leaf(2)]),
                ],
                leaf_values: vec![0.25, -0.75, 1.5],
                leaf_counts: vec![5, 20, 15],
            },
            Tree { nodes: Vec::new(), leaf_values: vec![-0.125], leaf_counts: vec![40] },
        ];
        let m = model(trees);
        let engine = Model::from_bytes(&m.to_onnx()).expect("loads");
        let xs = [f64::NAN, f64::NEG_INFINITY, -3.0, -2.5, 10.5, 11.0, f64::INFINITY, 1e30];
        let mut batch = InputBatch::new(&engine).expect("batch");
        for &x in &xs {
            batch.push_f64(0, x).expect("push");
        }
        let scores = engine.predict_proba(&mut batch).expect("scores");
        for (i, &x) in xs.iter().enumerate() {
            let ours = m.predict_row(&[InputValue::Num(x)]).expect("predicts");
            assert_eq!(scores.p_positive[i], ours, "x = {x}");
            assert_eq!(scores.labels[i], i64::from(ours > 0.5), "x = {x}");
        }
        // The exported covers are the training counts: the explainer uses them, and its expected value is the
        // count-weighted mean of each tree plus the base score: -1.25 + 0.125 + 0.21875 - 0.125.
        let explainer = engine.explainer().expect("explainable");
        assert_eq!(explainer.covers(), &fraudstream_model::CoverSource::Hitrates);
        assert!((explainer.expected() - -1.03125).abs() < 1e-12, "{}", explainer.expected());
        let c = engine.explain(&mut batch).expect("explains");
        for (i, &x) in xs.iter().enumerate() {
            let logit = |p: f64| (p / (1.0 - p)).ln();
            let p = f64::from(scores.p_positive[i]);
            assert!((c.margin(i) - logit(p)).abs() < 1e-5, "x = {x}: {} vs {}", c.margin(i), logit(p));
        }
        if let Ok(dir) = std::env::var("FRAUDSTREAM_TRAIN_FIXTURE_DIR") {
            // For a manual onnxruntime check of the same shapes (bench/check_onnxruntime.py does the full model).
            std::fs::write(std::path::Path::new(&dir).join("edge_trees.onnx"), m.to_onnx()).expect("write fixture");
        }
    }
}
