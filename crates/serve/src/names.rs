//! The 400s about request names: a name that is no model input, a name given twice, a row with no input at all.
//!
//! Why strict: a misspelled column (`card_1` for `card1`) used to be ignored, so the row scored as if that value
//! were missing — a plausible score for the wrong input that nothing in the reply revealed. Every protocol now
//! refuses names the model does not read, and the message says what the model does read: the input names
//! themselves when there are few, else where to get them (`GET /v2/models/{name}/versions/{v}`), plus the closest
//! input name when one stands out, since most unknown names are typos.

use crate::error::ApiError;
use crate::inputs::{InputPlan, TRANSACTION_DT};

/// Up to this many input names are listed in a message; beyond it the message points to the model metadata.
const LIST_LIMIT: usize = 16;

/// Where the names were found, for the message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place {
    /// The `columns` of a frame: the names hold for every row.
    Columns,
    /// One row (or instance) given as an object of name → value.
    Row(usize),
    /// The `inputs` of a KServe v2 request.
    Tensors,
}

/// A 400 naming every unknown name in `unknown` (non-empty), where they were and what the model takes.
pub(crate) fn unknown(plan: &InputPlan, unknown: &[&str], place: Place) -> ApiError {
    let (noun, row) = match place {
        Place::Columns => ("column", None),
        Place::Row(r) => ("field", Some(r)),
        Place::Tensors => ("input", None),
    };
    let listed: Vec<String> = unknown
        .iter()
        .map(|n| match closest(plan, n) {
            Some(s) => format!("`{n}` (did you mean `{s}`?)"),
            None => format!("`{n}`"),
        })
        .collect();
    let (plural, that) = if unknown.len() == 1 { ("", "input of that name") } else { ("s", "inputs of those names") };
    let mut message = String::new();
    if let Some(r) = row {
        message.push_str(&format!("row {r}: "));
    }
    message.push_str(&format!(
        "unknown {noun}{plural} {}: {} has no {that}; {}",
        listed.join(", "),
        plan.owner(),
        expected(plan)
    ));
    ApiError::BadRequest { message, field: unknown.first().map(|n| n.to_string()), row }
}

/// A 400 for a row that sets none of the model's inputs (`{}`), which would otherwise score as all-missing.
pub(crate) fn no_inputs(plan: &InputPlan, row: usize) -> ApiError {
    ApiError::row(
        row,
        format!(
            "carries none of the inputs of {} (an omitted input is a missing value, but a row needs at least one); {}",
            plan.owner(),
            expected(plan)
        ),
    )
}

/// A 400 for one input given twice in a row or frame (also under two spellings, such as `id-01` and `id_01`).
pub(crate) fn twice(name: &str, row: Option<usize>) -> ApiError {
    ApiError::field(name, row, "given twice (names are compared after mapping `id-NN` to `id_NN`)")
}

/// "its inputs are a, b, c" or where to find them.
fn expected(plan: &InputPlan) -> String {
    let names = plan.accepted_names();
    if names.len() <= LIST_LIMIT {
        format!("its inputs are {}", names.join(", "))
    } else {
        format!("its {} inputs are listed by GET {}", names.len(), plan.metadata_path())
    }
}

/// The accepted name closest to `name` when exactly one is within two edits (case ignored).
fn closest<'p>(plan: &'p InputPlan, name: &str) -> Option<&'p str> {
    let name = name.trim().to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    let mut tie = false;
    for candidate in plan.accepted_names() {
        let d = edit_distance(&name, &candidate.to_ascii_lowercase());
        match best {
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tie = true,
            _ => {
                best = Some((d, candidate.as_str()));
                tie = false;
            }
        }
    }
    match best {
        Some((d, s)) if !tie && d <= 2 && d < name.chars().count() => Some(s),
        _ => None,
    }
}

/// Levenshtein distance over chars (only computed on the error path).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The request names a plan accepts: its inputs, then `TransactionDT` when it only feeds derived calendar inputs.
pub(crate) fn accepted_names(inputs: impl Iterator<Item = String>, uses_calendar: bool) -> Vec<String> {
    let mut names: Vec<String> = inputs.collect();
    if uses_calendar && !names.iter().any(|n| n == TRANSACTION_DT) {
        names.push(TRANSACTION_DT.to_string());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("card_1", "card1"), 1);
        assert_eq!(edit_distance("kat", "cat"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
