//! The drift baseline `fraudstream train` writes into model.json: held-out rows, top inputs by gain, the score.

mod common;

use common::{dataset, noisy_rule, rows, Gen};
use fraudstream_features::{FeatureSet, InputValue};
use fraudstream_model::drift::{Bins, DriftConfig, DriftMonitor, InputSpec, SCORE_EDGES};
use fraudstream_train::{train, DatasetBuilder, ModelCard, TrainParams, ValueKind, BASELINE_INPUTS};

fn params() -> TrainParams {
    TrainParams { rounds: 30, learning_rate: 0.2, num_leaves: 15, min_data_in_leaf: 10, ..TrainParams::default() }
}

/// Feature indices by decreasing gain (ties in feature order), as the baseline must list them.
fn by_gain(model: &fraudstream_train::TrainedModel) -> Vec<String> {
    let mut imp = model.report().importance.clone();
    imp.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    imp.into_iter().map(|i| i.feature).collect()
}

#[test]
fn a_small_model_stores_every_input_and_the_held_out_scores() {
    // Rows after 2,000 carry a product code never seen before ("NEW"); the last 20 % (rows 2,400-2,999) validate.
    let rows = rows(5, 3000, 2000);
    let data = dataset(&rows, noisy_rule(0.05, 5));
    let model = train(&data, &params()).expect("trains");
    let baseline = model.baseline().expect("a baseline").clone();
    let valid = model.report().valid_rows;
    assert_eq!(baseline.rows as usize, valid);

    // Five inputs, fewer than 30: all of them, highest gain first.
    let names: Vec<String> = baseline.inputs.iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, by_gain(&model));
    assert_eq!(names.len(), 5.min(BASELINE_INPUTS));
    for input in &baseline.inputs {
        let sum: f64 = input.proportions.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{}: {sum}", input.name);
    }

    // Held-out rows, not training rows: "NEW" never occurs in training, but is one of the held-out categories.
    let product = baseline.inputs.iter().find(|i| i.name == "ProductCD").expect("ProductCD");
    let Bins::Categorical { categories } = &product.bins else { panic!("ProductCD is categorical") };
    assert!(categories.iter().any(|c| c == "NEW"), "{categories:?}");

    // The score distribution is the final model's held-out scores over the fixed bins.
    let Bins::Numeric { edges } = &baseline.score.bins else { panic!("numeric score bins") };
    assert_eq!(edges, &SCORE_EDGES);
    let scores = model.predict_dataset(&data).expect("predicts");
    let mut want = vec![0usize; edges.len() + 2];
    for &s in &scores[scores.len() - valid..] {
        want[Bins::numeric_bin(edges, f64::from(s))] += 1;
    }
    let want: Vec<f64> = want.iter().map(|&c| c as f64 / valid as f64).collect();
    for (got, want) in baseline.score.proportions.iter().zip(&want) {
        assert!((got - want).abs() < 1e-12, "{:?} vs {want:?}", baseline.score.proportions);
    }
    let sum: f64 = baseline.score.proportions.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9);

    // model.json carries it and reads back equal; a card written before the field existed still parses.
    let card = model.card();
    assert_eq!(card.baseline.as_ref(), Some(&baseline));
    let json = card.to_json().expect("json");
    assert_eq!(ModelCard::from_json(&json).expect("parses"), card);
    let mut old: serde_json::Value = serde_json::from_str(&json).expect("json value");
    old.as_object_mut().expect("object").remove("baseline");
    let old = ModelCard::from_json(&old.to_string()).expect("an old card parses");
    assert_eq!(old.baseline, None);

    // The stream's monitor accepts it for this model's inputs.
    let specs: Vec<InputSpec> = model
        .features()
        .iter()
        .map(|f| match f.kind {
            ValueKind::Numeric => InputSpec::numeric(f.name.clone()),
            ValueKind::Categorical => InputSpec::categorical(f.name.clone()),
        })
        .collect();
    DriftMonitor::new(&specs, Some(baseline), DriftConfig::default()).expect("the monitor takes the baseline");
}

#[test]
fn a_wide_model_stores_its_top_30_inputs_by_gain() {
    // 40 numeric inputs; fraud depends on a few of them, so gains differ widely and many are zero.
    let names: Vec<String> = (1..=14)
        .map(|i| format!("C{i}"))
        .chain((1..=15).map(|i| format!("D{i}")))
        .chain((1..=11).map(|i| format!("V{i}")))
        .collect();
    let set = FeatureSet::new(&names).expect("features");
    let mut b = DatasetBuilder::new(&set);
    let mut g = Gen::new(9);
    for _ in 0..4000 {
        let values: Vec<f64> =
            (0..names.len()).map(|_| if g.unit() < 0.1 { f64::NAN } else { (g.unit() * 50.0).floor() }).collect();
        let label = values[0] > 40.0 || (values[16] < 5.0 && g.unit() < 0.5) || g.unit() < 0.02;
        let row: Vec<InputValue<'_>> = values.iter().map(|&v| InputValue::Num(v)).collect();
        b.push(&row, label).expect("row");
    }
    let model = train(&b.build().expect("dataset"), &params()).expect("trains");
    let baseline = model.baseline().expect("baseline");
    assert_eq!(baseline.inputs.len(), BASELINE_INPUTS);
    let names: Vec<String> = baseline.inputs.iter().map(|i| i.name.clone()).collect();
    assert_eq!(names, by_gain(&model)[..BASELINE_INPUTS]);
    assert_eq!(names[0], "C1", "the input that decides most labels leads");
    // Discrete values 0-49 binned by deciles, with a missing share near 10 %.
    let c1 = &baseline.inputs[0];
    let Bins::Numeric { edges } = &c1.bins else { panic!("numeric") };
    assert_eq!(edges.len(), 9, "{edges:?}");
    assert!(edges.iter().all(|e| e.fract() == 0.5), "edges sit between integer values: {edges:?}");
    let missing = c1.proportions[c1.proportions.len() - 1];
    assert!((missing - 0.1).abs() < 0.04, "{missing}");
}

#[test]
fn no_held_out_rows_no_baseline() {
    let rows = rows(6, 1500, usize::MAX);
    let data = dataset(&rows, |r, _| common::rule(r));
    let model = train(&data, &TrainParams { valid_fraction: 0.0, ..params() }).expect("trains");
    assert!(model.baseline().is_none());
    assert!(!model.card().to_json().expect("json").contains("\"baseline\""));
}
