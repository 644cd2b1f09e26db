//! TransactionIDs from Kafka keys as other producers write them: liberal in the shapes accepted, exact in the values.
//!
//! Accepted key datums (by their writer schema):
//! - a bare `long` or `int`;
//! - a `float` or `double` holding a whole number;
//! - a `string` of decimal digits (optionally `-`), e.g. a producer that keys by `str(TransactionID)`;
//! - a record whose `TransactionID` field is one of these, or whose only field is (our `TransactionKey` is one);
//! - any of these inside a union with `null` (a null key is an error).
//!
//! Without a Confluent header, a key of decimal digits (a plain `StringSerializer`) is accepted too. Every value must
//! be an integer of magnitude at most 2^53 (the [value rules](crate::value_rules)), and the datum must end where the
//! value does: a key is refused rather than read as a different number.

use crate::avro::datum::{Cursor, Graph, Node};
use crate::value_rules::NumberRule;

/// How deep records may nest around the id.
const MAX_DEPTH: usize = 8;

/// How to read the TransactionID from keys written with one writer schema.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    graph: Graph,
    /// For each record node on the way to the id: which of its fields holds it.
    id_field: Vec<Option<usize>>,
}

impl KeyPlan {
    /// Compiles a plan from a key writer schema's JSON; the error says why the schema cannot hold an id.
    pub fn compile_json(json: &str) -> Result<KeyPlan, String> {
        let schema: serde_avro_fast::schema::SchemaMut =
            json.parse().map_err(|e: serde_avro_fast::schema::SchemaError| format!("it does not parse: {e}"))?;
        let graph = Graph::from_schema(&schema);
        let mut id_field = vec![None; graph.nodes.len()];
        check(&graph, 0, &mut id_field, 0)?;
        Ok(KeyPlan { graph, id_field })
    }

    /// The TransactionID of one key datum (without its Confluent header).
    pub fn decode(&self, datum: &[u8]) -> Result<i64, String> {
        let mut cursor = Cursor::new(datum);
        let id = self.read(&mut cursor, 0)?;
        if cursor.remaining() > 0 {
            return Err(format!(
                "the key datum has {} more bytes after the TransactionID (byte {} of {}): the writer schema does not \
                 describe them",
                cursor.remaining(),
                cursor.pos(),
                datum.len()
            ));
        }
        Ok(id)
    }

    /// Reads the id along the path `check` chose (records nest at most `MAX_DEPTH` deep there).
    fn read(&self, cursor: &mut Cursor, node: usize) -> Result<i64, String> {
        let datum_error = |e: crate::avro::datum::DatumError| format!("key: {e}");
        match &self.graph.nodes[node] {
            Node::Int => checked(cursor.int().map_err(datum_error)?),
            Node::Long => checked(cursor.long().map_err(datum_error)?),
            Node::Float => whole(f64::from(cursor.float().map_err(datum_error)?)),
            Node::Double => whole(cursor.double().map_err(datum_error)?),
            Node::String => id_from_digits(cursor.bytes("a string").map_err(datum_error)?),
            Node::Union(branches) => {
                let b = cursor.branch(branches).map_err(datum_error)?;
                if matches!(self.graph.nodes[b], Node::Null) {
                    return Err("the key is null".into());
                }
                self.read(cursor, b)
            }
            Node::Record(fields) => {
                let mut id = None;
                for (i, &(_, f)) in fields.iter().enumerate() {
                    if Some(i) == self.id_field[node] {
                        id = Some(self.read(cursor, f)?);
                    } else {
                        cursor.skip(&self.graph, f).map_err(datum_error)?;
                    }
                }
                id.ok_or_else(|| "the key record has no TransactionID".to_string())
            }
            other => Err(format!("a key of type {other:?} holds no TransactionID")),
        }
    }
}

/// Checks that `node` can hold an id, choosing each record's id field.
fn check(graph: &Graph, node: usize, id_field: &mut [Option<usize>], depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("the key schema nests records too deeply to find a TransactionID".into());
    }
    if let Some(l) = &graph.logical[node] {
        return Err(format!("the key is a {} ({l}), not an id", graph.describe(node)));
    }
    match &graph.nodes[node] {
        Node::Int | Node::Long | Node::Float | Node::Double | Node::String => Ok(()),
        Node::Union(branches) => {
            let values: Vec<usize> =
                branches.iter().copied().filter(|&b| !matches!(graph.nodes[b], Node::Null)).collect();
            match values[..] {
                [b] => check(graph, b, id_field, depth + 1),
                _ => Err(format!(
                    "the key is a union {}; only a union of null and one id type is read",
                    graph.describe(node)
                )),
            }
        }
        Node::Record(fields) => {
            let chosen = fields.iter().position(|(n, _)| &**n == "TransactionID").or(match fields.len() {
                1 => Some(0),
                _ => None,
            });
            let Some(i) = chosen else {
                let names: Vec<&str> = fields.iter().map(|(n, _)| &**n).collect();
                return Err(format!(
                    "the key record has no TransactionID field and more than one field ({})",
                    names.join(", ")
                ));
            };
            id_field[node] = Some(i);
            check(graph, fields[i].1, id_field, depth + 1)
        }
        _ => Err(format!("a key of type {} holds no TransactionID", graph.describe(node))),
    }
}

fn checked(v: i64) -> Result<i64, String> {
    NumberRule::Integer.check_integer(v).map_err(|e| format!("the key's TransactionID {v} {e}"))?;
    Ok(v)
}

fn whole(v: f64) -> Result<i64, String> {
    NumberRule::Integer.check(v).map_err(|e| format!("the key's TransactionID {v} {e}"))?;
    Ok(v as i64)
}

/// A TransactionID written as decimal digits, optionally negative: nothing else (no spaces, signs, decimals).
pub fn id_from_digits(text: &[u8]) -> Result<i64, String> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_digit) {
        let shown = crate::number_text::shown(&text[..text.len().min(40)]);
        return Err(format!("the key `{shown}` is not a TransactionID in decimal digits"));
    }
    let v = digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    checked(if digits.len() < text.len() { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(schema: &str, datum: &[u8]) -> Result<i64, String> {
        KeyPlan::compile_json(schema)?.decode(datum)
    }

    fn long(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        crate::avro::put_long(&mut out, v);
        out
    }

    #[test]
    fn keys_of_many_shapes_give_the_same_id() {
        let id = long(2_987_004);
        assert_eq!(decode(r#""long""#, &id), Ok(2_987_004));
        assert_eq!(decode(r#""int""#, &id), Ok(2_987_004));
        assert_eq!(decode(r#"["null","long"]"#, &[&[2][..], &id].concat()), Ok(2_987_004));
        assert_eq!(decode(crate::avro::KEY_SCHEMA, &id), Ok(2_987_004));
        let record = r#"{"type":"record","name":"K","fields":[{"name":"source","type":"string"},
            {"name":"TransactionID","type":"long"}]}"#;
        assert_eq!(decode(record, &[&[4, b'p', b'y'][..], &id].concat()), Ok(2_987_004));
        assert_eq!(decode(r#""string""#, b"\x0e2987004"), Ok(2_987_004));
        assert_eq!(decode(r#""double""#, &2_987_004f64.to_le_bytes()), Ok(2_987_004));
        assert_eq!(id_from_digits(b"2987004"), Ok(2_987_004));
    }

    #[test]
    fn keys_that_are_not_exactly_an_id_are_refused() {
        assert!(decode(r#""double""#, &2_987_004.5f64.to_le_bytes()).unwrap_err().contains("not an integer"));
        assert!(decode(r#""long""#, &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
            .unwrap_err()
            .contains("2^53"));
        assert!(decode(r#""string""#, b"\x0e2987O04").unwrap_err().contains("not a TransactionID in decimal digits"));
        assert!(decode(r#""long""#, &[2, 0]).unwrap_err().contains("1 more bytes"));
        assert!(decode(r#"["null","long"]"#, &[0]).unwrap_err().contains("null"));
        assert!(decode(r#""long""#, &[0x80]).unwrap_err().contains("truncated"));
        let two = r#"{"type":"record","name":"K","fields":[{"name":"a","type":"long"},{"name":"b","type":"long"}]}"#;
        assert!(KeyPlan::compile_json(two).unwrap_err().contains("no TransactionID field and more than one field"));
        let ts = r#"{"type":"long","logicalType":"timestamp-millis"}"#;
        assert!(KeyPlan::compile_json(ts).unwrap_err().contains("timestamp-millis"));
        for text in [&b" 7"[..], b"7.0", b"+7", b"", b"-", b"99999999999999999"] {
            assert!(id_from_digits(text).is_err(), "{}", String::from_utf8_lossy(text));
        }
    }
}
