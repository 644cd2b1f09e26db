//! Reason codes: why a transaction scored as it did, as the model inputs that moved its margin most.
//!
//! The in-process scorer explains the rows that need it — alerts, or every row — right after scoring them, with
//! the model's TreeSHAP explainer ([`fraudstream_model::Explainer`]): each reason is a model input (a raw column,
//! a calendar or a client feature, under its own name), the value the model saw, and its exact Shapley
//! contribution to the margin (log-odds for a binary classifier). The contributions of all inputs add up to the
//! margin minus the model's expected margin; a reason list holds the `top` largest by magnitude, positive
//! (towards fraud) or negative.
//!
//! Writers share the CSV and JSON forms here, so `scores.csv`, `score`'s output and `alerts.jsonl` agree.

use std::sync::Arc;

use fraudstream_features::InputValue;
use serde::{Deserialize, Serialize};

/// Reasons given when `--reasons` is not set (for alerts).
pub const DEFAULT_REASONS: usize = 3;

/// Which scored transactions get reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasonsOn {
    /// Transactions at or above the alert threshold.
    #[default]
    Alerts,
    /// Every transaction.
    All,
}

impl std::str::FromStr for ReasonsOn {
    type Err = String;

    fn from_str(s: &str) -> Result<ReasonsOn, String> {
        match s {
            "alerts" => Ok(ReasonsOn::Alerts),
            "all" => Ok(ReasonsOn::All),
            other => Err(format!("unknown reasons target `{other}` (expected `alerts` or `all`)")),
        }
    }
}

/// How many reasons, for which transactions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReasonsConfig {
    /// Reasons per explained transaction (0: none).
    pub top: usize,
    pub on: ReasonsOn,
    /// The alert threshold ([`ReasonsOn::Alerts`] explains scores at or above it).
    pub threshold: f64,
}

impl ReasonsConfig {
    /// Whether a transaction with probability `p` is explained.
    pub fn wants(&self, p: f64) -> bool {
        self.top > 0 && (self.on == ReasonsOn::All || p >= self.threshold)
    }
}

/// The value a model input had, as a reason shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReasonValue {
    Number(f64),
    Text(String),
}

impl ReasonValue {
    /// A model input's value; `None` when it is missing (NaN or the empty string).
    pub fn of(v: &InputValue<'_>) -> Option<ReasonValue> {
        match v {
            InputValue::Num(x) if x.is_nan() => None,
            InputValue::Num(x) => Some(ReasonValue::Number(*x)),
            InputValue::Str("") => None,
            InputValue::Str(s) => Some(ReasonValue::Text((*s).to_string())),
        }
    }
}

impl std::fmt::Display for ReasonValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReasonValue::Number(x) => write!(f, "{x}"),
            ReasonValue::Text(s) => f.write_str(s),
        }
    }
}

/// One reason: a model input, its value and its contribution to the margin.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub feature: Arc<str>,
    /// `None`: the input was missing (which can itself be a reason).
    pub value: Option<ReasonValue>,
    pub contribution: f64,
}

impl Reason {
    /// The JSON form written in `alerts.jsonl`: `{"feature", "value", "contribution"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "feature": &*self.feature, "value": self.value, "contribution": self.contribution })
    }
}

/// The header columns of `k` reasons in a CSV: `reason_1_feature,reason_1_value,reason_1_contribution,…`.
pub fn csv_header(k: usize) -> String {
    (1..=k)
        .map(|i| format!(",reason_{i}_feature,reason_{i}_value,reason_{i}_contribution"))
        .collect::<Vec<_>>()
        .concat()
}

/// Appends `k` reason triples to a CSV line (empty fields past the reasons given), quoting text as RFC 4180 needs.
pub fn write_csv_fields(line: &mut Vec<u8>, reasons: &[Reason], k: usize) {
    let mut ryu = ryu::Buffer::new();
    for i in 0..k {
        let Some(r) = reasons.get(i) else {
            line.extend_from_slice(b",,,");
            continue;
        };
        line.push(b',');
        push_csv_text(line, &r.feature);
        line.push(b',');
        match &r.value {
            Some(ReasonValue::Number(x)) => line.extend_from_slice(ryu.format(*x).as_bytes()),
            Some(ReasonValue::Text(s)) => push_csv_text(line, s),
            None => {}
        }
        line.push(b',');
        line.extend_from_slice(ryu.format(r.contribution).as_bytes());
    }
}

fn push_csv_text(line: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        line.push(b'"');
        line.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        line.push(b'"');
    } else {
        line.extend_from_slice(s.as_bytes());
    }
}

/// The `top` reasons of row `r` of `contributions`, with the values the model saw (`values[i]` for input `i`).
pub fn top_reasons(
    contributions: &fraudstream_model::Contributions,
    r: usize,
    top: usize,
    names: &[Arc<str>],
    values: &[InputValue<'_>],
) -> Vec<Reason> {
    contributions
        .top(r, top)
        .into_iter()
        .map(|(i, contribution)| Reason {
            feature: names.get(i).cloned().unwrap_or_else(|| Arc::from(contributions.features[i].as_str())),
            value: values.get(i).and_then(ReasonValue::of),
            contribution,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(feature: &str, value: Option<ReasonValue>, contribution: f64) -> Reason {
        Reason { feature: Arc::from(feature), value, contribution }
    }

    #[test]
    fn csv_fields_quote_text_and_pad_missing_reasons() {
        let mut line = Vec::new();
        let reasons =
            [reason("DeviceInfo", Some(ReasonValue::Text("SM-G, \"x\"".into())), 1.5), reason("dist1", None, -0.25)];
        write_csv_fields(&mut line, &reasons, 3);
        assert_eq!(String::from_utf8(line).unwrap(), ",DeviceInfo,\"SM-G, \"\"x\"\"\",1.5,dist1,,-0.25,,,");
        assert_eq!(csv_header(1), ",reason_1_feature,reason_1_value,reason_1_contribution");
    }

    #[test]
    fn json_shows_missing_values_as_null_and_numbers_as_numbers() {
        let r = reason("TransactionAmt", Some(ReasonValue::Number(59.0)), 0.75);
        assert_eq!(r.to_json().to_string(), r#"{"contribution":0.75,"feature":"TransactionAmt","value":59.0}"#);
        assert_eq!(reason("id_31", None, 0.1).to_json()["value"], serde_json::Value::Null);
    }

    #[test]
    fn alerts_only_unless_all() {
        let c = ReasonsConfig { top: 3, on: ReasonsOn::Alerts, threshold: 0.5 };
        assert!(c.wants(0.5) && !c.wants(0.49));
        assert!(ReasonsConfig { on: ReasonsOn::All, ..c }.wants(0.0));
        assert!(!ReasonsConfig { top: 0, ..c }.wants(0.9));
        assert_eq!("all".parse::<ReasonsOn>(), Ok(ReasonsOn::All));
        assert!("some".parse::<ReasonsOn>().is_err());
    }
}
