//! Load-time fusion of column-wise preprocessing into the tree ensemble that consumes it.
//!
//! skl2onnx pipelines feed trees through Imputer → OneHotEncoder → Concat → Reshape, materialising a wide
//! `[N, C]` matrix (1,988 mostly-zero columns for the seed model) that the trees then read a few columns of (109).
//! Building, copying and page-faulting that matrix cost several times the tree walk. So at load, the tree input is
//! traced back, column by column, to the graph inputs: each column becomes a small expression ([`Column`]) — a raw
//! float input value, an imputed one, or a one-hot indicator `input == category`. A tree kernel that accepts the
//! resulting [`ColumnProgram`] then computes just the columns it reads straight from the graph inputs, and the
//! preprocessing nodes, now unused, are dropped from the plan.
//!
//! Tracing is exact or it gives up: any operator, type or shape it does not fully understand (dynamic trailing
//! dimensions, concatenation across rows, OneHotEncoder with `zeros=0`, int64 categories, casts between types)
//! leaves the graph as it was.

use std::collections::HashMap;

use crate::tensor::{ElemType, Tensor, TensorData, ValueInfo, ValueType};

/// What a kernel does, for the tracer; only column-wise operators describe themselves.
pub(crate) enum ColumnOp<'a> {
    Identity,
    Cast {
        to: ElemType,
    },
    Concat {
        axis: i64,
    },
    Reshape {
        allow_zero: bool,
    },
    /// String categories (first occurrence wins), `zeros = 1`.
    OneHotStrings {
        cats: &'a [String],
    },
    /// Float imputation: values equal to `replaced` (or NaN when `replaced` is NaN) become `fill[column]`.
    ImputeFloats {
        fill: &'a [f32],
        replaced: f32,
    },
    /// Each output column is some function of the same input column, with element type `to` (the input's when
    /// `None`): LabelEncoder, Scaler, Binarizer, CategoryMapper, integer imputation. Fusion cannot compute these;
    /// lineage ([`Graph::lineage`]) traces through them.
    PerColumn {
        to: Option<ElemType>,
    },
}

/// One column of a traced `[N, C]` value, per row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// Column `col` of graph input `input`, as is (a float value once traced to the tree input).
    Input { input: usize, col: usize },
    /// As [`Column::Input`], but `replaced` (or NaN, when `replaced` is NaN) becomes `fill`.
    Imputed { input: usize, col: usize, replaced: f32, fill: f32 },
    /// 1.0 when column `col` of string input `input` equals `category`, else 0.0.
    OneHot { input: usize, col: usize, category: String },
    /// A column that is always 0.0 (a duplicated one-hot category, which never fires).
    Zero,
    /// Some function of column `col` of graph input `input` that fusion cannot compute (lineage only).
    Derived { input: usize, col: usize },
}

impl Column {
    /// The graph input column this one is computed from (`None` for a constant column).
    pub fn source(&self) -> Option<(usize, usize)> {
        match self {
            Column::Input { input, col }
            | Column::Imputed { input, col, .. }
            | Column::OneHot { input, col, .. }
            | Column::Derived { input, col } => Some((*input, *col)),
            Column::Zero => None,
        }
    }
}

/// The traced columns of a value: per row, `columns[c]` is column `c`; graph input `i` has `widths[i]` values per
/// row.
#[derive(Debug, Clone)]
pub(crate) struct ColumnProgram {
    pub columns: Vec<Column>,
    pub widths: Vec<usize>,
    /// Graph inputs any column reads (all must hold the same number of rows, as the unfused graph requires).
    pub inputs: Vec<usize>,
}

/// A traced value: element type, static dimensions after the row axis, and one expression per column.
struct Traced {
    elem: ElemType,
    tail: Vec<usize>,
    cols: Vec<Column>,
}

/// What the tracer needs to know about the graph.
pub(crate) struct Graph<'a> {
    /// `(info, slot)` per graph input.
    pub inputs: &'a [(ValueInfo, usize)],
    pub constants: &'a [(usize, Tensor)],
    /// Per slot, the producing step's column semantics and input slots (`None` when not a traceable step).
    pub producer: &'a HashMap<usize, (Option<ColumnOp<'a>>, Vec<Option<usize>>)>,
    /// Trace for lineage only: follow any column-wise operator, recording only which input column each output
    /// column comes from ([`Column::Derived`]).
    pub lenient: bool,
}

impl Graph<'_> {
    /// Traces `slot` as a row-major `[N, C]` float matrix.
    pub fn program(&self, slot: usize) -> Option<ColumnProgram> {
        let t = self.trace(slot, 0)?;
        if t.elem != ElemType::Float || t.tail.len() != 1 {
            return None;
        }
        let widths = self.inputs.iter().map(|(info, _)| static_width(info).unwrap_or(0)).collect();
        if t.cols.iter().any(|c| matches!(c, Column::Derived { .. })) {
            return None;
        }
        let mut inputs: Vec<usize> = t.cols.iter().filter_map(|c| c.source().map(|(input, _)| input)).collect();
        inputs.sort_unstable();
        inputs.dedup();
        if inputs.is_empty() {
            return None; // Nothing would tell the fused kernel how many rows there are.
        }
        Some(ColumnProgram { columns: t.cols, widths, inputs })
    }

    /// For each column of `slot` (a row-major `[N, C]` numeric matrix), the graph input column it is computed
    /// from, through any column-wise operator; `None` for constant columns. `None` overall when some operator
    /// mixes columns or is unknown.
    pub fn lineage(&self, slot: usize) -> Option<Vec<Option<(usize, usize)>>> {
        let t = self.trace(slot, 0)?;
        if !matches!(t.elem, ElemType::Float | ElemType::Double) || t.tail.len() != 1 {
            return None;
        }
        Some(t.cols.iter().map(Column::source).collect())
    }

    /// Marks every column as derived from its source (lenient tracing), keeping constants.
    fn derive(cols: &[Column]) -> Vec<Column> {
        cols.iter().map(|c| c.source().map_or(Column::Zero, |(input, col)| Column::Derived { input, col })).collect()
    }

    fn trace(&self, slot: usize, depth: usize) -> Option<Traced> {
        if depth > 64 {
            return None;
        }
        if let Some(i) = self.inputs.iter().position(|(_, s)| *s == slot) {
            let info = &self.inputs[i].0;
            let ValueType::Tensor { elem, shape: Some(dims) } = &info.ty else { return None };
            if !matches!(elem, ElemType::Float | ElemType::String) && !self.lenient {
                return None;
            }
            let tail = dims.get(1..)?.iter().copied().collect::<Option<Vec<usize>>>()?;
            let cols = (0..tail.iter().product()).map(|col| Column::Input { input: i, col }).collect();
            return Some(Traced { elem: *elem, tail, cols });
        }
        let (op, inputs) = self.producer.get(&slot)?;
        let arg = |k: usize| -> Option<Traced> { self.trace((*inputs.get(k)?)?, depth + 1) };
        match op.as_ref()? {
            ColumnOp::Identity => arg(0),
            ColumnOp::Cast { to } if self.lenient => {
                let x = arg(0)?;
                Some(if x.elem == *to { x } else { Traced { elem: *to, cols: Self::derive(&x.cols), ..x } })
            }
            ColumnOp::Cast { to } => arg(0).filter(|t| t.elem == *to),
            ColumnOp::PerColumn { to } => {
                let x = arg(0).filter(|_| self.lenient)?;
                Some(Traced { elem: to.unwrap_or(x.elem), cols: Self::derive(&x.cols), ..x })
            }
            ColumnOp::Concat { axis } => {
                let parts = (0..inputs.len()).map(arg).collect::<Option<Vec<_>>>()?;
                let first = parts.first()?;
                let rank = first.tail.len() + 1;
                let a = if *axis < 0 { *axis + rank as i64 } else { *axis };
                // Axis 0 stacks rows; and only when every dimension between the rows and `axis` is 1 is each row's
                // output the plain concatenation of the parts' rows.
                let a = usize::try_from(a).ok().filter(|&a| a >= 1 && a < rank)?;
                let mut tail = first.tail.clone();
                tail[a - 1] = 0;
                if first.tail[..a - 1].iter().product::<usize>() != 1 {
                    return None;
                }
                let mut cols = Vec::new();
                for p in &parts {
                    if p.elem != first.elem || p.tail.len() != first.tail.len() {
                        return None;
                    }
                    for (d, (&x, &y)) in p.tail.iter().zip(&first.tail).enumerate() {
                        if d != a - 1 && x != y {
                            return None;
                        }
                    }
                    tail[a - 1] += p.tail[a - 1];
                    cols.extend(p.cols.iter().cloned());
                }
                Some(Traced { elem: first.elem, tail, cols })
            }
            ColumnOp::Reshape { allow_zero } => {
                let x = arg(0)?;
                let shape_slot = (*inputs.get(1)?)?;
                let spec = self.constants.iter().find(|(s, _)| *s == shape_slot)?.1.as_i64()?;
                // The row axis must carry over: -1 (inferred) or 0 (copied).
                match spec.first()? {
                    -1 => {}
                    0 if !allow_zero => {}
                    _ => return None,
                }
                let mut tail = Vec::with_capacity(spec.len() - 1);
                for (i, &d) in spec.iter().enumerate().skip(1) {
                    tail.push(match d {
                        0 if !allow_zero => *x.tail.get(i - 1)?,
                        d if d > 0 => usize::try_from(d).ok()?,
                        _ => return None,
                    });
                }
                (tail.iter().product::<usize>() == x.cols.len()).then_some(Traced { tail, ..x })
            }
            ColumnOp::OneHotStrings { cats } => {
                let x = arg(0)?;
                if x.elem != ElemType::String {
                    return None;
                }
                let mut cols = Vec::with_capacity(x.cols.len() * cats.len());
                for c in &x.cols {
                    let (input, col) = match c {
                        Column::Input { input, col } => (input, col),
                        Column::Derived { input, col } if self.lenient => (input, col),
                        _ => return None,
                    };
                    for (k, cat) in cats.iter().enumerate() {
                        // A repeated category never fires: the encoder maps a string to its first position.
                        cols.push(if cats[..k].contains(cat) {
                            Column::Zero
                        } else {
                            Column::OneHot { input: *input, col: *col, category: cat.clone() }
                        });
                    }
                }
                let mut tail = x.tail;
                tail.push(cats.len());
                Some(Traced { elem: ElemType::Float, tail, cols })
            }
            ColumnOp::ImputeFloats { fill, replaced } => {
                let x = arg(0)?;
                let n = x.cols.len();
                if x.elem != ElemType::Float || (fill.len() != 1 && fill.len() != n) {
                    return None;
                }
                let cols = x
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(c, col)| match col {
                        Column::Derived { .. } if self.lenient => Some(col.clone()),
                        Column::Input { input, col } => Some(Column::Imputed {
                            input: *input,
                            col: *col,
                            replaced: *replaced,
                            fill: if fill.len() == 1 { fill[0] } else { fill[c] },
                        }),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Traced { cols, ..x })
            }
        }
    }
}

/// Values per row of a graph input with static trailing dimensions.
fn static_width(info: &ValueInfo) -> Option<usize> {
    let ValueType::Tensor { shape: Some(dims), .. } = &info.ty else { return None };
    dims.get(1..)?.iter().copied().product::<Option<usize>>()
}

/// A column read by a fused kernel, resolved against the run's input tensors.
pub(crate) enum Source<'a> {
    Input { data: &'a [f32], width: usize, col: usize },
    Imputed { data: &'a [f32], width: usize, col: usize, replaced: f32, fill: f32 },
    OneHot { data: &'a [String], width: usize, col: usize, category: &'a str },
    Zero,
}

impl Source<'_> {
    /// Writes rows `start..start + out.len()` of the column into `out`, negated when `neg` (see
    /// [`crate::tree`]'s fast evaluator, which compares `-x` for some nodes).
    pub fn fill(&self, start: usize, out: &mut [f32], neg: bool) {
        let sign = if neg { -1.0f32 } else { 1.0 };
        match *self {
            Source::Input { data, width, col } => {
                for (r, v) in out.iter_mut().enumerate() {
                    *v = sign * data[(start + r) * width + col];
                }
            }
            Source::Imputed { data, width, col, replaced, fill } => {
                let nan = replaced.is_nan();
                for (r, v) in out.iter_mut().enumerate() {
                    let x = data[(start + r) * width + col];
                    *v = sign * if (nan && x.is_nan()) || x == replaced { fill } else { x };
                }
            }
            Source::OneHot { data, width, col, category } => {
                for (r, v) in out.iter_mut().enumerate() {
                    *v = sign * f32::from(u8::from(data[(start + r) * width + col] == category));
                }
            }
            Source::Zero => out.fill(sign * 0.0),
        }
    }
}

/// Resolves `columns` against the run's inputs (`inputs[i]` is graph input `i`), checking types and that every
/// input holds `rows` whole rows. Returns the row count and one source per column.
pub(crate) fn resolve<'a>(
    program: &'a ColumnProgram,
    columns: impl Iterator<Item = usize>,
    inputs: &[Option<&'a Tensor>],
) -> Result<(usize, Vec<Source<'a>>), String> {
    // Check each input the program reads once: present, whole rows, one row count for all.
    let mut rows: Option<usize> = None;
    let mut resolved: Vec<Option<(&'a Tensor, usize)>> = vec![None; program.widths.len()];
    for &input in &program.inputs {
        let t = inputs.get(input).copied().flatten().ok_or_else(|| format!("graph input #{input} is missing"))?;
        let width = program.widths.get(input).copied().unwrap_or(0);
        if width == 0 || t.len() % width != 0 {
            return Err(format!("graph input #{input} does not hold whole rows of {width} values"));
        }
        let r = t.len() / width;
        if *rows.get_or_insert(r) != r {
            return Err(format!("graph inputs have different row counts ({r} vs {})", rows.unwrap_or(0)));
        }
        resolved[input] = Some((t, width));
    }
    let tensor =
        |input: usize| resolved.get(input).copied().flatten().ok_or_else(|| format!("input #{input} unchecked"));
    let mut sources = Vec::with_capacity(columns.size_hint().0);
    for c in columns {
        let column = program.columns.get(c).ok_or_else(|| format!("column {c} is out of range"))?;
        sources.push(match column {
            Column::Input { input, col } => {
                let (t, width) = tensor(*input)?;
                let TensorData::Float(data) = &t.data else { return Err(format!("graph input #{input} is not float")) };
                Source::Input { data, width, col: *col }
            }
            Column::Imputed { input, col, replaced, fill } => {
                let (t, width) = tensor(*input)?;
                let TensorData::Float(data) = &t.data else { return Err(format!("graph input #{input} is not float")) };
                Source::Imputed { data, width, col: *col, replaced: *replaced, fill: *fill }
            }
            Column::OneHot { input, col, category } => {
                let (t, width) = tensor(*input)?;
                let TensorData::String(data) = &t.data else {
                    return Err(format!("graph input #{input} is not a string tensor"));
                };
                Source::OneHot { data, width, col: *col, category }
            }
            Column::Zero => Source::Zero,
            Column::Derived { input, .. } => {
                return Err(format!(
                    "column {c} is computed from graph input #{input} by an operator fusion cannot run"
                ))
            }
        });
    }
    Ok((rows.unwrap_or(0), sources))
}
