//! [`InputBatch`]: reusable, column-by-column input buffers for a model.

use crate::error::{ModelError, Result};
use crate::model::Model;
use crate::tensor::{ElemType, Tensor, TensorData, ValueInfo};

/// One value read back from an [`InputBatch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchValue<'a> {
    /// A number (NaN: missing).
    Num(f64),
    /// A string (`""`: missing).
    Str(&'a str),
}

/// Input buffers shaped from a model's declared inputs, filled value by value and reused across batches.
///
/// A streaming engine builds one per worker, then per batch calls [`InputBatch::clear`], pushes each row's values
/// (by input index, resolved once with [`Model::input_index`]) and runs [`Model::run_batch`]. Buffers keep their
/// capacity, and string buffers keep their `String` allocations, so steady-state filling does not allocate.
#[derive(Debug, Clone)]
pub struct InputBatch {
    infos: Vec<ValueInfo>,
    widths: Vec<usize>,
    tensors: Vec<Tensor>,
    /// Per string input, how many of its `String`s are live (the rest are spare capacity).
    live: Vec<usize>,
    /// Per input, `String`s a smaller batch cut from its tensor ([`InputBatch::finish`]), reused by the next larger
    /// one: a stream alternates full batches with the few rows it explains, and live batches vary in size.
    spare: Vec<Vec<String>>,
}

impl InputBatch {
    /// Creates empty buffers for every input of `model`. Each input must have a static width per row (every
    /// dimension after the first declared), as `[N, 1]` and `[N, F]` inputs do.
    pub fn new(model: &Model) -> Result<InputBatch> {
        let infos = model.inputs().to_vec();
        let mut widths = Vec::with_capacity(infos.len());
        let mut tensors = Vec::with_capacity(infos.len());
        for info in &infos {
            let width = info.row_width().ok_or_else(|| ModelError::BadInput {
                name: info.name.clone(),
                message: "InputBatch needs a declared, static width per row".into(),
            })?;
            let elem = info.elem_type().unwrap_or(ElemType::Float);
            widths.push(width);
            tensors.push(Tensor { shape: vec![0, width], data: TensorData::empty(elem) });
        }
        let live = vec![0; infos.len()];
        let spare = vec![Vec::new(); infos.len()];
        Ok(InputBatch { infos, widths, tensors, live, spare })
    }

    /// Empties every buffer, keeping capacity.
    pub fn clear(&mut self) {
        for (t, live) in self.tensors.iter_mut().zip(&mut self.live) {
            match &mut t.data {
                TensorData::Float(v) => v.clear(),
                TensorData::Double(v) => v.clear(),
                TensorData::Int64(v) => v.clear(),
                // Strings stay allocated; `live` marks how many are in use.
                TensorData::String(_) => *live = 0,
            }
        }
    }

    fn tensor(&mut self, input: usize) -> Result<&mut Tensor> {
        self.tensor_and_spare(input).map(|(t, _)| t)
    }

    /// An input's tensor and its spare strings.
    fn tensor_and_spare(&mut self, input: usize) -> Result<(&mut Tensor, &mut Vec<String>)> {
        let n = self.tensors.len();
        match (self.tensors.get_mut(input), self.spare.get_mut(input)) {
            (Some(t), Some(spare)) => Ok((t, spare)),
            _ => Err(ModelError::BadInput {
                name: format!("#{input}"),
                message: format!("input index out of range (the model has {n} inputs)"),
            }),
        }
    }

    /// Appends a numeric value to input `input` (converted to the input's numeric type).
    pub fn push_f32(&mut self, input: usize, v: f32) -> Result<()> {
        self.push_f64(input, v as f64)
    }

    /// Appends a numeric value to input `input` (converted to the input's numeric type; NaN means missing).
    pub fn push_f64(&mut self, input: usize, v: f64) -> Result<()> {
        let t = self.tensor(input)?;
        match &mut t.data {
            TensorData::Float(d) => d.push(v as f32),
            TensorData::Double(d) => d.push(v),
            TensorData::Int64(d) => d.push(v as i64),
            TensorData::String(_) => return Err(self.type_error(input, "a number")),
        }
        Ok(())
    }

    /// Appends a string value to input `input`, reusing a previously allocated `String`.
    pub fn push_str(&mut self, input: usize, s: &str) -> Result<()> {
        let live = *self.live.get(input).unwrap_or(&0);
        let (t, spare) = self.tensor_and_spare(input)?;
        match &mut t.data {
            TensorData::String(d) => {
                if let Some(slot) = d.get_mut(live) {
                    slot.clear();
                    slot.push_str(s);
                } else if let Some(mut slot) = spare.pop() {
                    slot.clear();
                    slot.push_str(s);
                    d.push(slot);
                } else {
                    d.push(s.to_string());
                }
            }
            _ => return Err(self.type_error(input, "a string")),
        }
        self.live[input] = live + 1;
        Ok(())
    }

    fn type_error(&self, input: usize, what: &str) -> ModelError {
        let info = &self.infos[input.min(self.infos.len().saturating_sub(1))];
        ModelError::BadInput {
            name: info.name.clone(),
            message: format!("cannot push {what} into a {} input", info.elem_type().map_or("?", ElemType::name)),
        }
    }

    /// Fixes the row count of every tensor; all inputs must hold the same number of complete rows.
    pub(crate) fn finish(&mut self) -> Result<&[Tensor]> {
        let mut rows = None;
        let inputs = self.tensors.iter_mut().zip(&self.infos).zip(&self.widths).zip(&self.live).zip(&mut self.spare);
        for ((((t, info), &w), &live), spare) in inputs {
            if let TensorData::String(d) = &mut t.data {
                // Strings beyond the live ones leave the tensor but keep their allocations.
                if d.len() > live {
                    spare.extend(d.drain(live..));
                }
            }
            let len = t.data.len();
            if w == 0 || len % w != 0 {
                return Err(ModelError::BadInput {
                    name: info.name.clone(),
                    message: format!("{len} values do not form whole rows of {w}"),
                });
            }
            let r = len / w;
            if *rows.get_or_insert(r) != r {
                return Err(ModelError::BadInput {
                    name: info.name.clone(),
                    message: format!("has {r} rows but other inputs have {}", rows.unwrap_or(0)),
                });
            }
            let declared_rank = match &info.ty {
                crate::ValueType::Tensor { shape: Some(dims), .. } => dims.len(),
                _ => 2,
            };
            t.shape.clear();
            t.shape.push(r);
            if declared_rank >= 2 {
                match &info.ty {
                    crate::ValueType::Tensor { shape: Some(dims), .. } => {
                        t.shape.extend(dims[1..].iter().map(|d| d.unwrap_or(1)))
                    }
                    _ => t.shape.push(w),
                }
            } else if declared_rank == 1 {
                t.shape[0] = len;
            }
        }
        Ok(&self.tensors)
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the model has no inputs.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The value row `row` holds in column `feature`, counting the columns of every input in input order (a
    /// `[N, 1]` input is one column, a `[N, F]` input F of them) — the order of [`crate::Contributions::features`],
    /// so a reason code can show the value the model saw. `None` past the columns or rows held.
    pub fn feature_value(&self, feature: usize, row: usize) -> Option<BatchValue<'_>> {
        let mut first = 0;
        for ((t, &w), &live) in self.tensors.iter().zip(&self.widths).zip(&self.live) {
            if feature < first + w {
                let at = row.checked_mul(w)?.checked_add(feature - first)?;
                return match &t.data {
                    TensorData::Float(d) => d.get(at).map(|&v| BatchValue::Num(f64::from(v))),
                    TensorData::Double(d) => d.get(at).map(|&v| BatchValue::Num(v)),
                    TensorData::Int64(d) => d.get(at).map(|&v| BatchValue::Num(v as f64)),
                    TensorData::String(d) => d[..live.min(d.len())].get(at).map(|s| BatchValue::Str(s)),
                };
            }
            first += w;
        }
        None
    }

    /// Number of complete rows currently held by input 0 (0 when there are no inputs).
    pub fn rows(&self) -> usize {
        match (self.tensors.first(), self.widths.first(), self.live.first()) {
            (Some(t), Some(&w), Some(&live)) if w > 0 => match &t.data {
                TensorData::String(_) => live / w,
                d => d.len() / w,
            },
            _ => 0,
        }
    }
}
