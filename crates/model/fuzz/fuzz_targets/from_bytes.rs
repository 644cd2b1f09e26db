//! `Model::from_bytes` on arbitrary bytes must return, never panic; a model that loads must run one row safely.
#![no_main]

use fraudstream_model::{ElemType, Model, Tensor, TensorData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::from_bytes(data) else { return };
    let inputs: Vec<(String, Tensor)> = model
        .inputs()
        .iter()
        .filter_map(|info| {
            let width = info.row_width()?.min(1024);
            let data = match info.elem_type()? {
                ElemType::Float => TensorData::Float(vec![0.5; width]),
                ElemType::Double => TensorData::Double(vec![0.5; width]),
                ElemType::Int64 => TensorData::Int64(vec![1; width]),
                ElemType::String => TensorData::String(vec![String::new(); width]),
            };
            Some((info.name.clone(), Tensor::new(vec![1, width], data).ok()?))
        })
        .collect();
    let named: Vec<(&str, Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let _ = model.run(&named);
});
