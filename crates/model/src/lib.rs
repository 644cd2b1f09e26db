//! fraudstream-model: runs ONNX-ML tree-ensemble models (LightGBM, XGBoost and scikit-learn exports made by
//! skl2onnx / onnxmltools) in-process, with outputs that match onnxruntime's.
//!
//! One job: turn a `.onnx` file into a [`Model`] and score batches of rows with it, fast.
//!
//! Design and trade-offs:
//! - **No protoc, no C++ runtime.** ONNX messages are hand-written `prost` structs ([`proto`]) covering only what
//!   inference needs; unknown fields are skipped.
//! - **Validate at load, not at run.** [`Model::from_bytes`] decodes, checks opsets, types and node wiring,
//!   orders nodes topologically and assigns every value a slot; unsupported operators fail with the node, op,
//!   domain, opset and the list of supported operators. Running only moves tensors between pre-planned slots.
//! - **Compiled trees.** Boosted forests of bounded depth whose leaves add one value to one output (LightGBM,
//!   XGBoost, sklearn GBM) compile to padded complete trees of 8-byte nodes where every comparison, missing-value
//!   rule included, is one `v < c` on a precomputed `±x` column; rows walk each tree in lockstep groups with no
//!   data-dependent branch, over compact column-major blocks of just the features the trees read
//!   (`tree/fast.rs`). Other forests use a general evaluator over flat 16-byte nodes. Large batches are split into
//!   contiguous row chunks over the rayon pool; small ones (single rows) run on the calling thread.
//! - **Fused preprocessing.** At load, a tree ensemble's input is traced back through Imputer / OneHotEncoder /
//!   Concat / Reshape / Cast / Identity to the graph inputs (`fuse.rs`); the ensemble then computes only the columns
//!   it reads, straight from the inputs, and the now-unused preprocessing nodes are dropped. The seed model's
//!   1,988-column one-hot matrix is never built.
//! - **Bit-level parity over elegance.** Accumulation type and order, base values, binary-classifier quirks and
//!   post-transform formulas follow onnxruntime's kernels, because downstream thresholds are tuned on its
//!   probabilities. Where onnxruntime would crash or loop (cyclic trees, out-of-range ids) we return an error.
//! - **Small value model.** Tensors are owned `Vec`s of f32/f64/i64/String; ZipMap's sequence of maps is shared
//!   keys plus a probability matrix ([`MapSequence`]) rather than a hash map per row.
//!
//! ```no_run
//! use fraudstream_model::{InputBatch, Model};
//! let model = Model::load("pipeline_75.onnx")?;
//! let mut batch = InputBatch::new(&model)?;
//! let amt = model.input_index("TransactionAmt").unwrap();
//! batch.push_f32(amt, 42.0)?; // … one push per input per row
//! let scores = model.predict_proba(&mut batch)?;
//! # Ok::<(), fraudstream_model::ModelError>(())
//! ```

mod attr;
mod batch;
pub mod drift;
mod error;
mod explain;
mod fuse;
mod graph;
mod model;
mod ops;
mod post;
pub mod proto;
pub mod quality;
mod tensor;
#[cfg(test)]
mod test_rng;
mod tree;

pub use batch::{BatchValue, InputBatch};
pub use error::{ModelError, Result};
pub use explain::{Contributions, CoverSource, Explainer, Threads};
pub use model::{BinaryScores, Model};
pub use post::{logistic, PostTransform};
pub use tensor::{ElemType, MapKeys, MapSequence, Outputs, Tensor, TensorData, Value, ValueInfo, ValueType};
