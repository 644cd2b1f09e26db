//! Loading: decode the protobuf, validate the graph, and pre-plan execution.
//!
//! The plan fixes at load everything that does not depend on the data: node order (topological), one slot index
//! per value, which slots hold constants, and after which step each intermediate can be dropped. Running is then a
//! loop over steps that only moves tensors between slots.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message;

use crate::attr::NodeCtx;
use crate::error::{ModelError, OpError};
use crate::fuse;
use crate::ops::{self, Kernel};
use crate::proto::{self, type_proto, ModelProto, TensorProto, TypeProto, ValueInfoProto};
use crate::tensor::{ElemType, Tensor, TensorData, Value, ValueInfo, ValueType};

/// One node, compiled.
pub(crate) struct Step {
    pub name: String,
    pub op: String,
    pub kernel: Box<dyn Kernel>,
    /// Slot per node input; `None` for an omitted optional input.
    pub inputs: Vec<Option<usize>>,
    /// Slot per node output; `None` for an omitted optional output.
    pub outputs: Vec<Option<usize>>,
    /// Slots no later step reads, dropped once this step has run.
    pub release: Vec<usize>,
}

/// The executable form of a graph.
pub(crate) struct Plan {
    pub n_slots: usize,
    pub constants: Vec<(usize, Tensor)>,
    pub inputs: Vec<(ValueInfo, usize)>,
    pub outputs: Vec<(ValueInfo, usize)>,
    pub output_names: Arc<[String]>,
    pub steps: Vec<Step>,
    /// ONNX metadata, kept for callers that want producer information.
    pub producer: String,
}

enum Slot<'a> {
    Empty,
    Borrowed(&'a Tensor),
    Owned(Value),
}

impl Plan {
    /// Decodes and plans a model.
    pub fn from_bytes(bytes: &[u8]) -> Result<Plan, ModelError> {
        let model = ModelProto::decode(bytes)?;
        build_plan(model)
    }

    /// Runs the plan. `inputs[i]` is the tensor for `self.inputs[i]`, already checked by the caller.
    pub fn execute(&self, inputs: &[&Tensor]) -> Result<Vec<Value>, ModelError> {
        let mut slots = self.run_steps(inputs, self.steps.len())?;
        let mut out = Vec::with_capacity(self.outputs.len());
        for (info, slot) in &self.outputs {
            let value = match std::mem::replace(&mut slots[*slot], Slot::Empty) {
                Slot::Owned(v) => v,
                Slot::Borrowed(t) => Value::Tensor(t.clone()),
                Slot::Empty => {
                    // The same value listed twice as an output: clone the first copy.
                    match out.iter().zip(&self.outputs).find(|(_, (_, s))| s == slot) {
                        Some((v, _)) => Value::clone(v),
                        None => return Err(ModelError::Malformed(format!("output '{}' was not computed", info.name))),
                    }
                }
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Runs the first `end` steps and returns the slots (the value a tree ensemble reads stays in its slot until
    /// that step runs, which is what [`Plan::execute_until`] relies on).
    fn run_steps<'a>(&'a self, inputs: &[&'a Tensor], end: usize) -> Result<Vec<Slot<'a>>, ModelError> {
        let mut slots: Vec<Slot<'a>> = Vec::with_capacity(self.n_slots);
        slots.resize_with(self.n_slots, || Slot::Empty);
        for (slot, t) in &self.constants {
            slots[*slot] = Slot::Borrowed(t);
        }
        for ((_, slot), t) in self.inputs.iter().zip(inputs) {
            slots[*slot] = Slot::Borrowed(t);
        }
        let mut produced: Vec<Value> = Vec::with_capacity(4);
        for step in &self.steps[..end.min(self.steps.len())] {
            produced.clear();
            {
                let mut args: Vec<Option<&Tensor>> = Vec::with_capacity(step.inputs.len());
                for slot in &step.inputs {
                    let arg = match slot {
                        None => None,
                        Some(s) => match &slots[*s] {
                            Slot::Borrowed(t) => Some(*t),
                            Slot::Owned(Value::Tensor(t)) => Some(t),
                            Slot::Owned(Value::Maps(_)) => {
                                return Err(run_error(step, OpError("an input is a sequence of maps".into())))
                            }
                            Slot::Empty => return Err(run_error(step, OpError("an input was not computed".into()))),
                        },
                    };
                    args.push(arg);
                }
                step.kernel.run(&args, &mut produced).map_err(|e| run_error(step, e))?;
            }
            if produced.len() < step.outputs.iter().filter(|o| o.is_some()).count() {
                return Err(run_error(step, OpError("produced fewer outputs than the node declares".into())));
            }
            for (value, slot) in produced.drain(..).zip(&step.outputs) {
                if let Some(s) = slot {
                    slots[*s] = Slot::Owned(value);
                }
            }
            for s in &step.release {
                slots[*s] = Slot::Empty;
            }
        }
        Ok(slots)
    }

    /// For each column of the `[N, C]` value in `slot`, the graph input column it is computed from (see
    /// [`fuse::Graph::lineage`]).
    pub fn lineage(&self, slot: usize) -> Option<Vec<Option<(usize, usize)>>> {
        let producer = producers(&self.steps);
        fuse::Graph { inputs: &self.inputs, constants: &self.constants, producer: &producer, lenient: true }
            .lineage(slot)
    }

    /// Runs the steps before step `step` and returns the tensor in `slot` (a tree ensemble's input, for the
    /// explainer when the ensemble computes its input itself).
    pub fn execute_until(&self, inputs: &[&Tensor], step: usize, slot: usize) -> Result<Tensor, ModelError> {
        let mut slots = self.run_steps(inputs, step)?;
        match std::mem::replace(&mut slots[slot], Slot::Empty) {
            Slot::Borrowed(t) => Ok(t.clone()),
            Slot::Owned(Value::Tensor(t)) => Ok(t),
            _ => Err(ModelError::Malformed(format!("slot {slot} holds no tensor before step {step}"))),
        }
    }
}

fn run_error(step: &Step, e: OpError) -> ModelError {
    ModelError::Run { node: step.name.clone(), op: step.op.clone(), message: e.0 }
}

fn domain_name(d: Option<&str>) -> &str {
    match d {
        None | Some("") | Some("ai.onnx") => ops::CORE,
        Some(other) => other,
    }
}

fn build_plan(model: ModelProto) -> Result<Plan, ModelError> {
    let graph = model.graph.as_ref().ok_or_else(|| ModelError::Malformed("the model has no graph".into()))?;

    let mut opsets: HashMap<&str, i64> = HashMap::new();
    for imp in &model.opset_import {
        let domain = domain_name(imp.domain.as_deref());
        let version = imp.version.unwrap_or(0);
        if version < 1 {
            return Err(ModelError::Malformed(format!("opset import for '{domain}' has version {version}")));
        }
        opsets.insert(domain, version);
    }

    let mut slot_of: HashMap<&str, usize> = HashMap::new();
    let mut n_slots = 0usize;
    let mut new_slot = || {
        n_slots += 1;
        n_slots - 1
    };

    // Constants.
    let mut constants = Vec::new();
    for init in &graph.initializer {
        let name = init.name.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(ModelError::Malformed("an initializer has no name".into()));
        }
        if slot_of.contains_key(name) {
            return Err(ModelError::Malformed(format!("initializer '{name}' is defined twice")));
        }
        let t = tensor_from_proto(init, name)?;
        let s = new_slot();
        slot_of.insert(name, s);
        constants.push((s, t));
    }

    // Graph inputs (those not backed by an initializer, as older IR versions list initializers as inputs too).
    let mut inputs = Vec::new();
    for vi in &graph.input {
        let name = vi.name.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(ModelError::Malformed("a graph input has no name".into()));
        }
        if slot_of.contains_key(name) {
            if graph.initializer.iter().any(|i| i.name.as_deref() == Some(name)) {
                continue;
            }
            return Err(ModelError::Malformed(format!("graph input '{name}' is listed twice")));
        }
        let info = value_info(vi)?;
        if !matches!(info.ty, ValueType::Tensor { .. }) {
            return Err(ModelError::UnsupportedType {
                name: name.into(),
                message: "graph inputs must be tensors".into(),
            });
        }
        let s = new_slot();
        slot_of.insert(name, s);
        inputs.push((info, s));
    }

    // Nodes: check ops, then order them topologically (the file order is usually already fine).
    let nodes = &graph.node;
    let mut producer_of: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if slot_of.contains_key(out.as_str()) || producer_of.insert(out.as_str(), i).is_some() {
                return Err(ModelError::Malformed(format!(
                    "value '{out}' is produced by node '{}' but is already defined",
                    node_name(node, i)
                )));
            }
        }
    }
    let mut indegree = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for inp in node.input.iter().filter(|x| !x.is_empty()) {
            if slot_of.contains_key(inp.as_str()) {
                continue;
            }
            match producer_of.get(inp.as_str()) {
                Some(&p) => {
                    indegree[i] += 1;
                    consumers[p].push(i);
                }
                None => {
                    return Err(ModelError::Malformed(format!(
                        "node '{}' reads '{inp}', which is neither a graph input, an initializer nor a node output",
                        node_name(node, i)
                    )))
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| indegree[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &c in consumers[i].iter().rev() {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(c);
            }
        }
    }
    if order.len() != nodes.len() {
        return Err(ModelError::Malformed("the graph has a cycle".into()));
    }

    let mut steps = Vec::with_capacity(nodes.len());
    for &i in &order {
        let node = &nodes[i];
        let op = node.op_type.as_deref().unwrap_or("");
        let domain = domain_name(node.domain.as_deref());
        let name = node_name(node, i);
        let opset = *opsets.get(domain).ok_or_else(|| ModelError::UnsupportedOp {
            node: name.clone(),
            op: op.into(),
            domain: domain.into(),
            opset: 0,
            supported: format!("(domain '{domain}' is not imported by the model) {}", ops::supported_list()),
        })?;
        let unsupported = || ModelError::UnsupportedOp {
            node: name.clone(),
            op: op.into(),
            domain: domain.into(),
            opset,
            supported: ops::supported_list(),
        };
        let builder = ops::builder(domain, op).ok_or_else(unsupported)?;
        if ops::max_opset(domain).is_none_or(|max| opset > max) {
            return Err(unsupported());
        }
        let ctx = NodeCtx { node, name: name.clone(), op, domain, opset };
        let kernel = builder(&ctx)?;
        let inputs = node
            .input
            .iter()
            .map(|x| if x.is_empty() { None } else { slot_of.get(x.as_str()).copied() })
            .collect::<Vec<_>>();
        if inputs.iter().zip(&node.input).any(|(s, n)| s.is_none() && !n.is_empty()) {
            return Err(ModelError::Malformed(format!("node '{name}' input is not defined before use")));
        }
        let mut outputs = Vec::with_capacity(node.output.len());
        for out in &node.output {
            if out.is_empty() {
                outputs.push(None);
            } else {
                let s = new_slot();
                slot_of.insert(out.as_str(), s);
                outputs.push(Some(s));
            }
        }
        steps.push(Step { name, op: op.into(), kernel, inputs, outputs, release: Vec::new() });
    }

    let mut outputs = Vec::new();
    for vi in &graph.output {
        let name = vi.name.as_deref().unwrap_or("");
        let slot = *slot_of
            .get(name)
            .ok_or_else(|| ModelError::Malformed(format!("graph output '{name}' is not produced by any node")))?;
        outputs.push((value_info(vi)?, slot));
    }
    if outputs.is_empty() {
        return Err(ModelError::Malformed("the graph has no outputs".into()));
    }

    fuse_tree_inputs(&mut steps, &inputs, &constants, &outputs);

    // Release each intermediate after its last reader (never graph outputs, inputs or constants).
    let mut last_use: Vec<Option<usize>> = vec![None; n_slots];
    for (si, step) in steps.iter().enumerate() {
        for s in step.inputs.iter().flatten() {
            last_use[*s] = Some(si);
        }
    }
    let keep: std::collections::HashSet<usize> = outputs.iter().map(|(_, s)| *s).collect();
    for (slot, last) in last_use.iter().enumerate() {
        if let Some(si) = last {
            let is_intermediate = steps.iter().any(|st| st.outputs.contains(&Some(slot)));
            if is_intermediate && !keep.contains(&slot) {
                steps[*si].release.push(slot);
            }
        }
    }

    let output_names: Arc<[String]> = outputs.iter().map(|(i, _)| i.name.clone()).collect();
    Ok(Plan {
        n_slots,
        constants,
        inputs,
        outputs,
        output_names,
        steps,
        producer: format!(
            "{} {}",
            model.producer_name.as_deref().unwrap_or(""),
            model.producer_version.as_deref().unwrap_or("")
        )
        .trim()
        .to_string(),
    })
}

/// Per slot, the column semantics and input slots of the step producing it, for tracing ([`crate::fuse`]).
fn producers(steps: &[Step]) -> HashMap<usize, (Option<fuse::ColumnOp<'_>>, Vec<Option<usize>>)> {
    steps
        .iter()
        .flat_map(|s| s.outputs.iter().flatten().map(move |&o| (o, (s.kernel.column_op(), s.inputs.clone()))))
        .collect()
}

/// Lets tree ensembles compute their input from the graph inputs ([`crate::fuse`]), then drops the steps whose
/// outputs nothing reads any more.
fn fuse_tree_inputs(
    steps: &mut Vec<Step>,
    inputs: &[(ValueInfo, usize)],
    constants: &[(usize, Tensor)],
    outputs: &[(ValueInfo, usize)],
) {
    let mut fused = false;
    for t in 0..steps.len() {
        if !steps[t].op.starts_with("TreeEnsemble") {
            continue;
        }
        let Some(Some(x)) = steps[t].inputs.first().copied() else { continue };
        let program = {
            let producer = producers(steps);
            fuse::Graph { inputs, constants, producer: &producer, lenient: false }.program(x)
        };
        if let Some(program) = program {
            if steps[t].kernel.fuse_input(&program) {
                steps[t].inputs = inputs.iter().map(|(_, s)| Some(*s)).collect();
                fused = true;
            }
        }
    }
    if !fused {
        return;
    }
    let mut live: std::collections::HashSet<usize> = outputs.iter().map(|(_, s)| *s).collect();
    let mut keep = vec![true; steps.len()];
    for (i, step) in steps.iter().enumerate().rev() {
        if step.outputs.iter().flatten().any(|o| live.contains(o)) {
            live.extend(step.inputs.iter().flatten());
        } else {
            keep[i] = false;
        }
    }
    let mut k = keep.into_iter();
    steps.retain(|_| k.next().unwrap_or(true));
}

fn node_name(node: &proto::NodeProto, index: usize) -> String {
    match node.name.as_deref() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => match node.output.first() {
            Some(o) if !o.is_empty() => format!("#{index} -> {o}"),
            _ => format!("#{index}"),
        },
    }
}

fn value_info(vi: &ValueInfoProto) -> Result<ValueInfo, ModelError> {
    let name = vi.name.clone().unwrap_or_default();
    let ty = vi
        .r#type
        .as_ref()
        .ok_or_else(|| ModelError::UnsupportedType { name: name.clone(), message: "no type declared".into() })?;
    Ok(ValueInfo { ty: value_type(&name, ty)?, name })
}

fn value_type(name: &str, ty: &TypeProto) -> Result<ValueType, ModelError> {
    let unsupported = |message: String| ModelError::UnsupportedType { name: name.into(), message };
    match &ty.value {
        Some(type_proto::Value::TensorType(t)) => {
            let code = t.elem_type.unwrap_or(0);
            let elem = ElemType::from_onnx(code).ok_or_else(|| {
                unsupported(format!("tensor element type {code} (only float, double, int64, string)"))
            })?;
            let shape = t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) if v >= 0 => Some(v as usize),
                        _ => None,
                    })
                    .collect()
            });
            Ok(ValueType::Tensor { elem, shape })
        }
        Some(type_proto::Value::SequenceType(seq)) => {
            let map = match seq.elem_type.as_deref().and_then(|e| e.value.as_ref()) {
                Some(type_proto::Value::MapType(m)) => m,
                _ => return Err(unsupported("only sequences of maps are supported".into())),
            };
            let key = ElemType::from_onnx(map.key_type.unwrap_or(0))
                .filter(|k| matches!(k, ElemType::Int64 | ElemType::String))
                .ok_or_else(|| unsupported("map keys must be int64 or string".into()))?;
            let value = match map.value_type.as_deref().and_then(|v| v.value.as_ref()) {
                Some(type_proto::Value::TensorType(t)) => ElemType::from_onnx(t.elem_type.unwrap_or(0))
                    .ok_or_else(|| unsupported("unsupported map value type".into()))?,
                _ => return Err(unsupported("map values must be tensors".into())),
            };
            Ok(ValueType::MapSequence { key, value })
        }
        Some(type_proto::Value::MapType(_)) => Err(unsupported("bare maps are not supported".into())),
        Some(type_proto::Value::OptionalType(_)) => Err(unsupported("optional types are not supported".into())),
        Some(type_proto::Value::SparseTensorType(_)) => Err(unsupported("sparse tensors are not supported".into())),
        Some(type_proto::Value::OpaqueType(_)) => Err(unsupported("opaque types are not supported".into())),
        None => Err(unsupported("empty type".into())),
    }
}

/// Converts a constant tensor. Small integer types are widened to int64 since every operator here reads them as
/// indices or shapes.
pub(crate) fn tensor_from_proto(t: &TensorProto, name: &str) -> Result<Tensor, ModelError> {
    use proto::data_type as dt;
    let bad = |message: String| ModelError::UnsupportedType { name: name.into(), message };
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        return Err(bad("external tensor data is not supported".into()));
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut count = 1usize;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| ModelError::Malformed(format!("tensor '{name}' has dimension {d}")))?;
        count = count.checked_mul(d).ok_or_else(|| ModelError::Malformed(format!("tensor '{name}' is too large")))?;
        shape.push(d);
    }
    let raw = t.raw_data.as_deref();
    fn from_raw<const N: usize, T>(raw: &[u8], count: usize, f: fn([u8; N]) -> T) -> Option<Vec<T>> {
        if raw.len() != count.checked_mul(N)? {
            return None;
        }
        Some(raw.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect())
    }
    let code = t.data_type.unwrap_or(0);
    let data = match (code, raw) {
        (dt::FLOAT, Some(r)) => from_raw(r, count, f32::from_le_bytes).map(TensorData::Float),
        (dt::FLOAT, None) => Some(TensorData::Float(t.float_data.clone())),
        (dt::DOUBLE, Some(r)) => from_raw(r, count, f64::from_le_bytes).map(TensorData::Double),
        (dt::DOUBLE, None) => Some(TensorData::Double(t.double_data.clone())),
        (dt::INT64, Some(r)) => from_raw(r, count, i64::from_le_bytes).map(TensorData::Int64),
        (dt::INT64, None) => Some(TensorData::Int64(t.int64_data.clone())),
        (dt::INT32, Some(r)) => {
            from_raw(r, count, i32::from_le_bytes).map(|v| TensorData::Int64(v.into_iter().map(i64::from).collect()))
        }
        (dt::INT32 | dt::INT8 | dt::UINT8 | dt::BOOL, None) => {
            Some(TensorData::Int64(t.int32_data.iter().map(|&x| i64::from(x)).collect()))
        }
        (dt::INT8, Some(r)) => Some(TensorData::Int64(r.iter().map(|&b| i64::from(b as i8)).collect())),
        (dt::UINT8 | dt::BOOL, Some(r)) => Some(TensorData::Int64(r.iter().map(|&b| i64::from(b)).collect())),
        (dt::STRING, _) => {
            let strings = t
                .string_data
                .iter()
                .map(|s| String::from_utf8(s.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("string tensor holds invalid UTF-8".into()))?;
            Some(TensorData::String(strings))
        }
        _ => return Err(bad(format!("tensor element type {code} is not supported"))),
    };
    let data =
        data.ok_or_else(|| ModelError::Malformed(format!("tensor '{name}': raw data size does not match shape")))?;
    Tensor::new(shape, data).map_err(|e| ModelError::Malformed(format!("tensor '{name}': {e}")))
}
