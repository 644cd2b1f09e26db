//! Owned values that flow through a model: dense tensors and ZipMap's sequence of maps.

/// Element type of a tensor. Only the four types tree-model exports use are supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// 32-bit float (`tensor(float)`).
    Float,
    /// 64-bit float (`tensor(double)`).
    Double,
    /// 64-bit signed integer (`tensor(int64)`).
    Int64,
    /// UTF-8 string (`tensor(string)`).
    String,
}

impl ElemType {
    /// The ONNX spelling, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ElemType::Float => "float",
            ElemType::Double => "double",
            ElemType::Int64 => "int64",
            ElemType::String => "string",
        }
    }

    pub(crate) fn from_onnx(code: i32) -> Option<ElemType> {
        use crate::proto::data_type as dt;
        match code {
            dt::FLOAT => Some(ElemType::Float),
            dt::DOUBLE => Some(ElemType::Double),
            dt::INT64 => Some(ElemType::Int64),
            dt::STRING => Some(ElemType::String),
            _ => None,
        }
    }
}

/// The elements of a tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// `tensor(float)`.
    Float(Vec<f32>),
    /// `tensor(double)`.
    Double(Vec<f64>),
    /// `tensor(int64)`.
    Int64(Vec<i64>),
    /// `tensor(string)`.
    String(Vec<String>),
}

impl TensorData {
    /// Element type of this data.
    pub fn elem_type(&self) -> ElemType {
        match self {
            TensorData::Float(_) => ElemType::Float,
            TensorData::Double(_) => ElemType::Double,
            TensorData::Int64(_) => ElemType::Int64,
            TensorData::String(_) => ElemType::String,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::Float(v) => v.len(),
            TensorData::Double(v) => v.len(),
            TensorData::Int64(v) => v.len(),
            TensorData::String(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn empty(ty: ElemType) -> TensorData {
        match ty {
            ElemType::Float => TensorData::Float(Vec::new()),
            ElemType::Double => TensorData::Double(Vec::new()),
            ElemType::Int64 => TensorData::Int64(Vec::new()),
            ElemType::String => TensorData::String(Vec::new()),
        }
    }
}

/// An owned dense tensor: a shape and row-major data whose length is the product of the shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first (`[rows, features]` for the usual model input).
    pub shape: Vec<usize>,
    /// The elements.
    pub data: TensorData,
}

impl Tensor {
    /// Builds a tensor, checking that `data` has as many elements as `shape` describes.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor, crate::ModelError> {
        let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if expected != Some(data.len()) {
            return Err(crate::ModelError::Malformed(format!(
                "tensor of shape {shape:?} needs {expected:?} elements, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    /// A float tensor; see [`Tensor::new`].
    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Result<Tensor, crate::ModelError> {
        Tensor::new(shape, TensorData::Float(data))
    }

    /// A string tensor; see [`Tensor::new`].
    pub fn from_strings(shape: Vec<usize>, data: Vec<String>) -> Result<Tensor, crate::ModelError> {
        Tensor::new(shape, TensorData::String(data))
    }

    /// Element type.
    pub fn elem_type(&self) -> ElemType {
        self.data.elem_type()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The data as `f32`, if that is its type.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::Float(v) => Some(v),
            _ => None,
        }
    }

    /// The data as `f64`, if that is its type.
    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            TensorData::Double(v) => Some(v),
            _ => None,
        }
    }

    /// The data as `i64`, if that is its type.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// The data as strings, if that is its type.
    pub fn as_strings(&self) -> Option<&[String]> {
        match &self.data {
            TensorData::String(v) => Some(v),
            _ => None,
        }
    }

    /// `(rows, columns)` view used by the ML operators: rank 1 is one row, rank 2 is `[rows, cols]`, and higher
    /// ranks fold all trailing dimensions into columns.
    pub(crate) fn rows_cols(&self) -> (usize, usize) {
        match self.shape.len() {
            0 => (1, 1),
            1 => (1, self.shape[0]),
            _ => {
                let cols: usize = self.shape[1..].iter().product();
                (self.shape[0], cols)
            }
        }
    }
}

/// Keys of a ZipMap output: the class labels.
#[derive(Debug, Clone, PartialEq)]
pub enum MapKeys {
    /// Integer class labels.
    Int64(Vec<i64>),
    /// String class labels.
    String(Vec<String>),
}

impl MapKeys {
    /// Number of keys (classes).
    pub fn len(&self) -> usize {
        match self {
            MapKeys::Int64(v) => v.len(),
            MapKeys::String(v) => v.len(),
        }
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// ONNX `seq(map(key, float))` as ZipMap produces it: one map per row, all with the same keys.
///
/// Stored as shared keys plus a row-major `[rows, keys]` value matrix instead of one hash map per row, so producing
/// it costs one copy and reading a class probability is an index.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSequence {
    /// The keys every map has, in class order.
    pub keys: MapKeys,
    /// `values[row * keys.len() + k]` is the value of key `k` in row `row`'s map.
    pub values: Vec<f32>,
}

impl MapSequence {
    /// Number of maps (rows).
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.keys.len()).unwrap_or(0)
    }

    /// True when there are no maps.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of one row's map, in key order.
    pub fn row(&self, row: usize) -> Option<&[f32]> {
        let k = self.keys.len();
        self.values.get(row * k..(row + 1) * k)
    }

    /// The value for an integer key in one row.
    pub fn get_i64(&self, row: usize, key: i64) -> Option<f32> {
        let MapKeys::Int64(keys) = &self.keys else { return None };
        let k = keys.iter().position(|&x| x == key)?;
        self.row(row)?.get(k).copied()
    }

    /// The value for a string key in one row.
    pub fn get_str(&self, row: usize, key: &str) -> Option<f32> {
        let MapKeys::String(keys) = &self.keys else { return None };
        let k = keys.iter().position(|x| x == key)?;
        self.row(row)?.get(k).copied()
    }
}

/// A value produced or consumed by a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A dense tensor.
    Tensor(Tensor),
    /// A sequence of maps (ZipMap output).
    Maps(MapSequence),
}

impl Value {
    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            Value::Maps(_) => None,
        }
    }

    /// The map sequence, if this is one.
    pub fn as_maps(&self) -> Option<&MapSequence> {
        match self {
            Value::Maps(m) => Some(m),
            Value::Tensor(_) => None,
        }
    }
}

/// Declared type of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    /// A tensor; `shape` has `None` for dynamic (named or unknown) dimensions, and is `None` when undeclared.
    Tensor {
        /// Element type.
        elem: ElemType,
        /// Declared dimensions.
        shape: Option<Vec<Option<usize>>>,
    },
    /// `seq(map(key, value))`, as ZipMap outputs.
    MapSequence {
        /// Key type (int64 or string).
        key: ElemType,
        /// Value element type (float).
        value: ElemType,
    },
}

/// Name and declared type of a graph input or output, so callers can build inputs without reading the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// Value name as in the graph.
    pub name: String,
    /// Declared type.
    pub ty: ValueType,
}

impl ValueInfo {
    /// Element type when this is a tensor.
    pub fn elem_type(&self) -> Option<ElemType> {
        match &self.ty {
            ValueType::Tensor { elem, .. } => Some(*elem),
            ValueType::MapSequence { .. } => None,
        }
    }

    /// Number of values one row contributes: the product of the declared dimensions after the first (batch) one.
    /// `None` when that is not static.
    pub fn row_width(&self) -> Option<usize> {
        match &self.ty {
            ValueType::Tensor { shape: Some(dims), .. } if !dims.is_empty() => {
                dims[1..].iter().try_fold(1usize, |acc, d| d.and_then(|d| acc.checked_mul(d)))
            }
            _ => None,
        }
    }
}

/// The outputs of one [`crate::Model::run`], in the model's output order.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub(crate) names: std::sync::Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl Outputs {
    /// Output by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.names.iter().position(|n| n == name)?;
        self.values.get(i)
    }

    /// Output by position.
    pub fn at(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// `(name, value)` pairs in output order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names.iter().map(String::as_str).zip(self.values.iter())
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the model has no outputs.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Takes the values out, in output order.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}
