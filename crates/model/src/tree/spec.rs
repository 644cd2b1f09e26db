//! Reading tree attributes into a [`Spec`]: the legacy `nodes_*` / `class_*` / `target_*` form (ai.onnx.ml ≤ 4)
//! and the `TreeEnsemble` form of ai.onnx.ml 5.

use std::collections::HashMap;

use super::compile::{Mode, Spec, SpecNode};
use super::eval::Agg;
use crate::attr::NodeCtx;
use crate::error::ModelError;
use crate::post::PostTransform;

/// Reads `TreeEnsembleClassifier` (`prefix = "class"`) or `TreeEnsembleRegressor` (`prefix = "target"`) attributes.
///
/// Trees are the runs of consecutive equal `nodes_treeids`, rooted at the first node of each run, and leaf weights
/// attached to a branch node are ignored — both as onnxruntime does.
pub(crate) fn from_legacy_attributes(ctx: &NodeCtx<'_>, prefix: &str, n_targets: usize) -> Result<Spec, ModelError> {
    let tree_ids = ctx.ints("nodes_treeids");
    let node_ids = ctx.ints("nodes_nodeids");
    let features = ctx.ints("nodes_featureids");
    let modes = ctx.strings("nodes_modes")?;
    let values = ctx.floats_or_tensor("nodes_values")?;
    let true_ids = ctx.ints("nodes_truenodeids");
    let false_ids = ctx.ints("nodes_falsenodeids");
    let missing = ctx.ints("nodes_missing_value_tracks_true");
    let n = tree_ids.len();
    for (name, len) in [
        ("nodes_nodeids", node_ids.len()),
        ("nodes_featureids", features.len()),
        ("nodes_modes", modes.len()),
        ("nodes_values", values.len()),
        ("nodes_truenodeids", true_ids.len()),
        ("nodes_falsenodeids", false_ids.len()),
    ] {
        if len != n {
            return Err(ctx.err(format!("{name} has {len} entries but nodes_treeids has {n}")));
        }
    }
    if !missing.is_empty() && missing.len() != n {
        return Err(ctx.err(format!("nodes_missing_value_tracks_true has {} entries for {n} nodes", missing.len())));
    }
    let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        if index.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(ctx.err(format!("node {} of tree {} is defined twice", node_ids[i], tree_ids[i])));
        }
        let mode = Mode::parse(&modes[i])
            .filter(|m| *m != Mode::Member)
            .ok_or_else(|| ctx.err(format!("unknown node mode '{}'", modes[i])))?;
        let feature = if mode == Mode::Leaf {
            0
        } else {
            usize::try_from(features[i]).map_err(|_| ctx.err(format!("negative feature id {}", features[i])))?
        };
        nodes.push(SpecNode {
            feature,
            threshold: values[i],
            mode,
            missing_true: missing.get(i) == Some(&1),
            children: [0, 0],
            members: Vec::new(),
            weights: Vec::new(),
        });
    }
    for i in 0..n {
        if nodes[i].mode == Mode::Leaf {
            continue;
        }
        for (slot, id) in [(0, true_ids[i]), (1, false_ids[i])] {
            let child = *index.get(&(tree_ids[i], id)).ok_or_else(|| {
                ctx.err(format!("node {} of tree {} links to missing node {id}", node_ids[i], tree_ids[i]))
            })?;
            if child == i {
                return Err(ctx.err(format!("node {} of tree {} links to itself", node_ids[i], tree_ids[i])));
            }
            nodes[i].children[slot] = child;
        }
    }
    let mut roots = Vec::new();
    for i in 0..n {
        if i == 0 || tree_ids[i] != tree_ids[i - 1] {
            roots.push(i);
        }
    }

    let w_trees = ctx.ints(&format!("{prefix}_treeids"));
    let w_nodes = ctx.ints(&format!("{prefix}_nodeids"));
    let w_ids = ctx.ints(&format!("{prefix}_ids"));
    let w_values = ctx.floats_or_tensor(&format!("{prefix}_weights"))?;
    let m = w_ids.len();
    if w_trees.len() != m || w_nodes.len() != m || w_values.len() != m {
        return Err(ctx.err(format!("{prefix}_treeids/nodeids/ids/weights have different lengths")));
    }
    for k in 0..m {
        let i = *index
            .get(&(w_trees[k], w_nodes[k]))
            .ok_or_else(|| ctx.err(format!("a weight refers to missing node {} of tree {}", w_nodes[k], w_trees[k])))?;
        let target = usize::try_from(w_ids[k])
            .ok()
            .filter(|&t| t < n_targets)
            .ok_or_else(|| ctx.err(format!("{prefix}_ids value {} is out of range 0..{n_targets}", w_ids[k])))?;
        if nodes[i].mode == Mode::Leaf {
            nodes[i].weights.push((target, w_values[k]));
        }
    }
    let hitrates = ctx.floats_or_tensor("nodes_hitrates")?;
    let hitrates = if hitrates.len() == n { hitrates } else { Vec::new() };
    Ok(Spec { nodes, roots, n_targets, hitrates })
}

/// Reads `TreeEnsemble` (ai.onnx.ml 5) attributes; returns the spec, aggregation and post-transform.
pub(crate) fn from_v5_attributes(ctx: &NodeCtx<'_>) -> Result<(Spec, Agg, PostTransform), ModelError> {
    let features = ctx.ints("nodes_featureids");
    let splits = ctx.floats_or_tensor("nodes_splits")?;
    let modes: Vec<i64> = match ctx.tensor("nodes_modes")? {
        Some(t) => t.as_i64().map(<[i64]>::to_vec).ok_or_else(|| ctx.err("nodes_modes must be an integer tensor"))?,
        None => return Err(ctx.err("nodes_modes is required")),
    };
    let true_ids = ctx.ints("nodes_truenodeids");
    let true_leaf = ctx.ints("nodes_trueleafs");
    let false_ids = ctx.ints("nodes_falsenodeids");
    let false_leaf = ctx.ints("nodes_falseleafs");
    let missing = ctx.ints("nodes_missing_value_tracks_true");
    let members = ctx.floats_or_tensor("membership_values")?;
    let roots = ctx.ints("tree_roots");
    let leaf_targets = ctx.ints("leaf_targetids");
    let leaf_weights = ctx.floats_or_tensor("leaf_weights")?;
    let n_targets = usize::try_from(ctx.int("n_targets").unwrap_or(0))
        .ok()
        .filter(|&t| t >= 1)
        .ok_or_else(|| ctx.err("n_targets must be at least 1"))?;
    let n = features.len();
    for (name, len) in [
        ("nodes_splits", splits.len()),
        ("nodes_modes", modes.len()),
        ("nodes_truenodeids", true_ids.len()),
        ("nodes_trueleafs", true_leaf.len()),
        ("nodes_falsenodeids", false_ids.len()),
        ("nodes_falseleafs", false_leaf.len()),
    ] {
        if len != n {
            return Err(ctx.err(format!("{name} has {len} entries but nodes_featureids has {n}")));
        }
    }
    if leaf_targets.len() != leaf_weights.len() {
        return Err(ctx.err("leaf_targetids and leaf_weights have different lengths"));
    }
    // Membership sets: NaN-separated, one per MEMBER node in node order.
    let mut sets = members.split(|v| v.is_nan()).map(<[f64]>::to_vec);
    let mut nodes = Vec::with_capacity(n + leaf_weights.len());
    for i in 0..n {
        let mode = match modes[i] {
            0 => Mode::Leq,
            1 => Mode::Lt,
            2 => Mode::Gte,
            3 => Mode::Gt,
            4 => Mode::Eq,
            5 => Mode::Neq,
            6 => Mode::Member,
            m => return Err(ctx.err(format!("unknown node mode {m}"))),
        };
        let member_set = if mode == Mode::Member {
            sets.next().ok_or_else(|| ctx.err("membership_values has fewer sets than MEMBER nodes"))?
        } else {
            Vec::new()
        };
        let link = |id: i64, leaf: i64| -> Result<usize, ModelError> {
            let id = usize::try_from(id).map_err(|_| ctx.err(format!("negative node link {id}")))?;
            let limit = if leaf != 0 { leaf_weights.len() } else { n };
            if id >= limit {
                return Err(ctx.err(format!("node {i} links to {id}, out of range")));
            }
            Ok(if leaf != 0 { n + id } else { id })
        };
        nodes.push(SpecNode {
            feature: usize::try_from(features[i]).map_err(|_| ctx.err("negative feature id"))?,
            threshold: splits[i],
            mode,
            missing_true: missing.get(i) == Some(&1),
            children: [link(true_ids[i], true_leaf[i])?, link(false_ids[i], false_leaf[i])?],
            members: member_set,
            weights: Vec::new(),
        });
    }
    for (k, (&t, &w)) in leaf_targets.iter().zip(&leaf_weights).enumerate() {
        let target = usize::try_from(t)
            .ok()
            .filter(|&t| t < n_targets)
            .ok_or_else(|| ctx.err(format!("leaf {k} targets {t}, out of range 0..{n_targets}")))?;
        nodes.push(SpecNode {
            feature: 0,
            threshold: 0.0,
            mode: Mode::Leaf,
            missing_true: false,
            children: [0, 0],
            members: Vec::new(),
            weights: vec![(target, w)],
        });
    }
    let roots = roots
        .iter()
        .map(|&r| {
            usize::try_from(r).ok().filter(|&r| r < n).ok_or_else(|| ctx.err(format!("tree root {r} out of range")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let agg = match ctx.int("aggregate_function").unwrap_or(1) {
        0 => Agg::Average,
        1 => Agg::Sum,
        2 => Agg::Min,
        3 => Agg::Max,
        a => return Err(ctx.err(format!("unknown aggregate_function {a}"))),
    };
    let post = match ctx.int("post_transform").unwrap_or(0) {
        0 => PostTransform::None,
        1 => PostTransform::Softmax,
        2 => PostTransform::Logistic,
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        p => return Err(ctx.err(format!("unknown post_transform {p}"))),
    };
    Ok((Spec { nodes, roots, n_targets, hitrates: Vec::new() }, agg, post))
}
