//! Reading the Avro binary encoding by hand, for writer schemas that are not ours, with errors that say where the
//! datum broke: "the datum ended after 120 bytes: a double at byte 117 needs 8 bytes, 3 remain" rather than a
//! decoder's "All bytes have MSB set when decoding varint".
//!
//! [`Node`] is a writer schema's type graph (from `serde_avro_fast`'s parsed schema, so names, namespaces and
//! references are resolved there), and [`Cursor`] reads or skips values of it. Encoding per the Avro specification:
//! `int`/`long` as zig-zag varints, `float`/`double` little-endian, `bytes`/`string` length-prefixed, unions as a
//! branch index then the value, arrays and maps as blocks (a negative count is followed by the block's byte size).

use serde_avro_fast::schema::{RegularType, SchemaMut};

/// How deep values may nest (records in arrays in records …) before a datum is refused: a recursive writer schema
/// must not let a crafted datum exhaust the stack.
const MAX_DEPTH: usize = 64;

/// One type of a writer schema; children are indexes into the same graph.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Enum(Vec<Box<str>>),
    Fixed(usize),
    Array(usize),
    Map(usize),
    Union(Vec<usize>),
    Record(Vec<(Box<str>, usize)>),
}

/// A writer schema as a graph of [`Node`]s; node 0 is the root. Logical types are kept by name (`timestamp-millis`).
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub nodes: Vec<Node>,
    pub logical: Vec<Option<Box<str>>>,
    /// Whether a node's values take no bytes at all (`null`, records of such): their arrays are skipped without
    /// a loop per item, however large the count.
    zero_width: Vec<bool>,
}

impl Graph {
    pub fn from_schema(schema: &SchemaMut) -> Graph {
        let nodes: Vec<Node> = schema
            .nodes()
            .iter()
            .map(|n| match &n.type_ {
                RegularType::Null => Node::Null,
                RegularType::Boolean => Node::Boolean,
                RegularType::Int => Node::Int,
                RegularType::Long => Node::Long,
                RegularType::Float => Node::Float,
                RegularType::Double => Node::Double,
                RegularType::Bytes => Node::Bytes,
                RegularType::String => Node::String,
                RegularType::Enum(e) => Node::Enum(e.symbols.iter().map(|s| s.as_str().into()).collect()),
                RegularType::Fixed(f) => Node::Fixed(f.size),
                RegularType::Array(a) => Node::Array(a.items.idx()),
                RegularType::Map(m) => Node::Map(m.values.idx()),
                RegularType::Union(u) => Node::Union(u.variants.iter().map(|k| k.idx()).collect()),
                RegularType::Record(r) => {
                    Node::Record(r.fields.iter().map(|f| (f.name.as_str().into(), f.type_.idx())).collect())
                }
            })
            .collect();
        let logical = schema.nodes().iter().map(|n| n.logical_type.as_ref().map(|l| l.as_str().into())).collect();
        let zero_width = zero_width(&nodes);
        Graph { nodes, logical, zero_width }
    }

    /// The Avro type name of a node, for messages (`["null","double"]`, `long (timestamp-millis)`).
    pub fn describe(&self, node: usize) -> String {
        let base = match &self.nodes[node] {
            Node::Null => "null".to_string(),
            Node::Boolean => "boolean".to_string(),
            Node::Int => "int".to_string(),
            Node::Long => "long".to_string(),
            Node::Float => "float".to_string(),
            Node::Double => "double".to_string(),
            Node::Bytes => "bytes".to_string(),
            Node::String => "string".to_string(),
            Node::Enum(_) => "enum".to_string(),
            Node::Fixed(n) => format!("fixed({n})"),
            Node::Array(_) => "array".to_string(),
            Node::Map(_) => "map".to_string(),
            Node::Record(_) => "record".to_string(),
            Node::Union(branches) => {
                let names: Vec<String> = branches.iter().map(|&b| format!("\"{}\"", self.describe(b))).collect();
                return format!("[{}]", names.join(","));
            }
        };
        match &self.logical[node] {
            Some(l) => format!("{base} ({l})"),
            None => base,
        }
    }
}

/// Fixed point of "every value of this node takes zero bytes".
fn zero_width(nodes: &[Node]) -> Vec<bool> {
    let mut zero: Vec<bool> =
        nodes.iter().map(|n| matches!(n, Node::Null | Node::Fixed(0) | Node::Record(_))).collect();
    loop {
        let mut changed = false;
        for (i, n) in nodes.iter().enumerate() {
            if let Node::Record(fields) = n {
                if zero[i] && !fields.iter().all(|&(_, f)| zero[f]) {
                    zero[i] = false;
                    changed = true;
                }
            }
        }
        if !changed {
            return zero;
        }
    }
}

/// Why a datum could not be read, at which byte. The caller adds the field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DatumError {
    /// The datum ends before a value is complete.
    Truncated {
        what: &'static str,
        at: usize,
        needed: usize,
        len: usize,
    },
    /// A varint longer than a 64-bit value allows.
    VarintTooLong {
        at: usize,
    },
    /// An `int` whose value does not fit 32 bits.
    IntOutOfRange {
        at: usize,
        value: i64,
    },
    NegativeLength {
        at: usize,
        len: i64,
    },
    BadBoolean {
        at: usize,
        byte: u8,
    },
    BadUnionBranch {
        at: usize,
        index: i64,
        branches: usize,
    },
    BadEnumIndex {
        at: usize,
        index: i64,
        symbols: usize,
    },
    TooDeep,
}

impl std::fmt::Display for DatumError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DatumError::Truncated { what, at, needed, len } => write!(
                f,
                "truncated: the datum ended after {len} bytes: {what} at byte {at} needs {needed} bytes, {} remain",
                len.saturating_sub(at)
            ),
            DatumError::VarintTooLong { at } => write!(f, "the varint at byte {at} holds more than 64 bits"),
            DatumError::IntOutOfRange { at, value } => write!(f, "the int at byte {at} is {value}, beyond 32 bits"),
            DatumError::NegativeLength { at, len } => write!(f, "the length at byte {at} is negative ({len})"),
            DatumError::BadBoolean { at, byte } => write!(f, "the boolean at byte {at} is {byte}, not 0 or 1"),
            DatumError::BadUnionBranch { at, index, branches } => {
                write!(f, "the union branch at byte {at} is {index}, the union has {branches} branches")
            }
            DatumError::BadEnumIndex { at, index, symbols } => {
                write!(f, "the enum index at byte {at} is {index}, the enum has {symbols} symbols")
            }
            DatumError::TooDeep => write!(f, "values nest deeper than {MAX_DEPTH} levels"),
        }
    }
}

/// A read position in one datum.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DatumError> {
        if self.remaining() < n {
            return Err(DatumError::Truncated { what, at: self.pos, needed: n, len: self.bytes.len() });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// An Avro `long`: zig-zag varint of at most 10 bytes.
    pub fn long(&mut self) -> Result<i64, DatumError> {
        let at = self.pos;
        let mut z: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(DatumError::Truncated { what: "a varint", at, needed: i + 1, len: self.bytes.len() });
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                // The tenth byte holds the 64th bit only: more would be a value beyond 64 bits, silently cut.
                return Err(DatumError::VarintTooLong { at });
            }
            z |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(DatumError::VarintTooLong { at })
    }

    /// An Avro `int`: a varint whose value fits 32 bits.
    pub fn int(&mut self) -> Result<i64, DatumError> {
        let at = self.pos;
        let v = self.long()?;
        if i32::try_from(v).is_err() {
            return Err(DatumError::IntOutOfRange { at, value: v });
        }
        Ok(v)
    }

    pub fn boolean(&mut self) -> Result<bool, DatumError> {
        let at = self.pos;
        match self.take(1, "a boolean")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(DatumError::BadBoolean { at, byte }),
        }
    }

    pub fn float(&mut self) -> Result<f32, DatumError> {
        let b = self.take(4, "a float")?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn double(&mut self) -> Result<f64, DatumError> {
        let b = self.take(8, "a double")?;
        Ok(f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// The bytes of a `bytes` or `string` value.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DatumError> {
        let at = self.pos;
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| DatumError::NegativeLength { at, len })?;
        self.take(len, what)
    }

    pub fn fixed(&mut self, size: usize) -> Result<&'a [u8], DatumError> {
        self.take(size, "a fixed")
    }

    /// The branch taken by a union value.
    pub fn branch(&mut self, branches: &[usize]) -> Result<usize, DatumError> {
        let at = self.pos;
        let index = self.long()?;
        usize::try_from(index).ok().and_then(|i| branches.get(i).copied()).ok_or(DatumError::BadUnionBranch {
            at,
            index,
            branches: branches.len(),
        })
    }

    /// The symbol of an enum value.
    pub fn symbol<'s>(&mut self, symbols: &'s [Box<str>]) -> Result<&'s str, DatumError> {
        let at = self.pos;
        let index = self.int()?;
        usize::try_from(index).ok().and_then(|i| symbols.get(i)).map(|s| &**s).ok_or(DatumError::BadEnumIndex {
            at,
            index,
            symbols: symbols.len(),
        })
    }

    /// Skips a value of `node`, checking its encoding as it goes.
    pub fn skip(&mut self, graph: &Graph, node: usize) -> Result<(), DatumError> {
        self.skip_at(graph, node, 0)
    }

    fn skip_at(&mut self, graph: &Graph, node: usize, depth: usize) -> Result<(), DatumError> {
        if depth > MAX_DEPTH {
            return Err(DatumError::TooDeep);
        }
        match &graph.nodes[node] {
            Node::Null => {}
            Node::Boolean => {
                self.boolean()?;
            }
            Node::Int => {
                self.int()?;
            }
            Node::Long => {
                self.long()?;
            }
            Node::Float => {
                self.float()?;
            }
            Node::Double => {
                self.double()?;
            }
            Node::Bytes => {
                self.bytes("bytes")?;
            }
            Node::String => {
                self.bytes("a string")?;
            }
            Node::Enum(symbols) => {
                self.symbol(symbols)?;
            }
            Node::Fixed(n) => {
                self.fixed(*n)?;
            }
            Node::Union(branches) => {
                let b = self.branch(branches)?;
                self.skip_at(graph, b, depth + 1)?;
            }
            Node::Record(fields) => {
                for &(_, f) in fields {
                    self.skip_at(graph, f, depth + 1)?;
                }
            }
            Node::Array(item) => self.skip_blocks(graph, &[*item], depth)?,
            Node::Map(value) => self.skip_blocks(graph, &[STRING_KEY, *value], depth)?,
        }
        Ok(())
    }

    /// Skips the blocks of an array (`items` = [item]) or a map (`items` = [key, value]).
    fn skip_blocks(&mut self, graph: &Graph, items: &[usize], depth: usize) -> Result<(), DatumError> {
        loop {
            let at = self.pos;
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                // A negative count is followed by the block's size in bytes, which lets it be skipped whole.
                let size_at = self.pos;
                let size = self.long()?;
                let size = usize::try_from(size).map_err(|_| DatumError::NegativeLength { at: size_at, len: size })?;
                self.take(size, "an array or map block")?;
                continue;
            }
            let zero_width = items.iter().all(|&i| i != STRING_KEY && graph.zero_width[i]);
            if zero_width {
                continue;
            }
            // Each item takes at least one byte: a count beyond what remains is a truncated datum, not a long loop.
            let count = count as u64;
            if count > self.remaining() as u64 {
                let needed = usize::try_from(count).unwrap_or(usize::MAX);
                return Err(DatumError::Truncated { what: "an array or map block", at, needed, len: self.bytes.len() });
            }
            for _ in 0..count {
                for &i in items {
                    if i == STRING_KEY {
                        self.bytes("a map key")?;
                    } else {
                        self.skip_at(graph, i, depth + 1)?;
                    }
                }
            }
        }
    }
}

/// Stands for a map's string key in [`Cursor::skip_blocks`].
const STRING_KEY: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(json: &str) -> Graph {
        Graph::from_schema(&json.parse::<SchemaMut>().expect("schema"))
    }

    #[test]
    fn longs_are_zig_zag_varints() {
        for (bytes, v) in [(&[0u8][..], 0i64), (&[1], -1), (&[2], 1), (&[0x80, 0x01], 64), (&[0xac, 0x02], 150)] {
            assert_eq!(Cursor::new(bytes).long(), Ok(v));
        }
        let max = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Cursor::new(&max).long(), Ok(i64::MAX));
        assert_eq!(Cursor::new(&[0xff; 11]).long(), Err(DatumError::VarintTooLong { at: 0 }));
        let beyond_64_bits = [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03];
        assert_eq!(Cursor::new(&beyond_64_bits).long(), Err(DatumError::VarintTooLong { at: 0 }));
    }

    #[test]
    fn truncation_says_what_was_being_read_and_where() {
        let mut c = Cursor::new(&[0, 0, 0, 0, 0]);
        c.long().expect("first byte");
        let err = c.double().expect_err("short");
        assert_eq!(
            err.to_string(),
            "truncated: the datum ended after 5 bytes: a double at byte 1 needs 8 bytes, 4 remain"
        );
        let err = Cursor::new(&[0x80, 0x80]).long().expect_err("open varint");
        assert_eq!(
            err.to_string(),
            "truncated: the datum ended after 2 bytes: a varint at byte 0 needs 3 bytes, 2 remain"
        );
    }

    #[test]
    fn anything_can_be_skipped_and_huge_counts_do_not_loop() {
        let g = graph(
            r#"{"type":"record","name":"R","fields":[
                {"name":"m","type":{"type":"map","values":["null","long"]}},
                {"name":"a","type":{"type":"array","items":"null"}},
                {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
                {"name":"f","type":{"type":"fixed","name":"F","size":2}}]}"#,
        );
        // m = {"k": 5} in one block, a = a billion nulls, e = Y, f = [7, 8].
        let datum = [2, 2, b'k', 2, 10, 0, 0x80, 0xa8, 0xd6, 0xb9, 0x07, 0, 2, 7, 8];
        let mut c = Cursor::new(&datum);
        c.skip(&g, 0).expect("skip");
        assert_eq!(c.remaining(), 0);
        let g = graph(r#"{"type":"array","items":"long"}"#);
        let err = Cursor::new(&[0x80, 0xa8, 0xd6, 0xb9, 0x07, 2]).skip(&g, 0).expect_err("count beyond the datum");
        assert!(matches!(err, DatumError::Truncated { .. }), "{err}");
    }
}
