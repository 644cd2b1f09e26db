//! Malformed input must give an error, never a panic or a hang: deterministic byte mutations and truncations of
//! real models, plus the specific errors a caller sees for unsupported operators and bad inputs.

use std::path::PathBuf;

use fraudstream_model::{Model, ModelError, Tensor};

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).unwrap()
}

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn two_thousand_mutated_models_load_or_fail_cleanly() {
    let original = fixture_bytes("lgbm_binary.onnx");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut loaded = 0;
    for _ in 0..2000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.next() % 8 {
            let i = (rng.next() as usize) % bytes.len();
            bytes[i] = rng.next() as u8;
        }
        if let Ok(model) = Model::from_bytes(&bytes) {
            loaded += 1;
            // A model that loads must also run (or refuse) without panicking.
            if let Some(info) = model.inputs().first() {
                let x = Tensor::from_f32(vec![2, 8], vec![0.5; 16]).unwrap();
                let _ = model.run(&[(info.name.as_str(), x)]);
            }
        }
    }
    eprintln!("{loaded} of 2000 mutants still loaded");
}

#[test]
fn truncated_models_fail_with_an_error() {
    let original = fixture_bytes("xgb_binary.onnx");
    for len in (0..original.len()).step_by(97) {
        assert!(Model::from_bytes(&original[..len]).is_err(), "prefix of {len} bytes loaded");
    }
}

#[test]
fn garbage_is_a_decode_error() {
    let err = Model::from_bytes(b"definitely not protobuf \xff\xff\xff").unwrap_err();
    assert!(matches!(err, ModelError::Decode(_) | ModelError::Malformed(_)), "{err}");
}

#[test]
fn wrong_input_type_and_shape_are_reported_by_name() {
    let model = Model::from_bytes(&fixture_bytes("lgbm_binary.onnx")).unwrap();
    let strings = Tensor::from_strings(vec![1, 8], vec![String::new(); 8]).unwrap();
    let err = model.run(&[("input", strings)]).unwrap_err();
    assert!(matches!(&err, ModelError::BadInput { name, .. } if name == "input"), "{err}");
    let narrow = Tensor::from_f32(vec![1, 3], vec![0.0; 3]).unwrap();
    let err = model.run(&[("input", narrow)]).unwrap_err();
    assert!(err.to_string().contains("input"), "{err}");
    let err = model.run(&[]).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
