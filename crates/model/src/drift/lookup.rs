//! Category string → bin without hashing the whole string: a small open-addressing table keyed by the string's
//! length and its first and last eight bytes.
//!
//! A monitor looks up every categorical input of every row. A general-purpose `HashMap<String, _>` lookup hashes all
//! bytes with SipHash (tens of nanoseconds for short strings); here the key is two unaligned loads and a multiply,
//! and for strings of up to 16 bytes (almost every IEEE-CIS category) those loads *are* the string, so a match is
//! three integer comparisons. Longer strings also compare their middle bytes. The table is a few cache lines (at
//! most 253 categories).

/// A string's length and its first and last eight bytes (zero-padded): equal for two strings of at most 16 bytes
/// exactly when the strings are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Key {
    head: u64,
    tail: u64,
    len: usize,
}

impl Key {
    #[inline]
    fn of(s: &[u8]) -> Key {
        let len = s.len();
        // Fixed-size copies compile to single loads; a variable-length copy would be a `memcpy` call.
        let (head, tail) = if len >= 8 {
            let mut head = [0u8; 8];
            head.copy_from_slice(&s[..8]);
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&s[len - 8..]);
            (u64::from_le_bytes(head), u64::from_le_bytes(tail))
        } else {
            let v = s.iter().rev().fold(0u64, |v, &b| (v << 8) | u64::from(b));
            (v, v)
        };
        Key { head, tail, len }
    }

    /// Table position: the key mixed by MurmurHash3's 64-bit finaliser.
    #[inline]
    fn hash(&self) -> u64 {
        let mut z = self.head ^ self.tail.rotate_left(29) ^ (self.len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        z ^ (z >> 33)
    }
}

/// Maps the kept categories of one input to their bins; anything else is "other", `""` is missing.
#[derive(Debug, Clone)]
pub(crate) struct CategoryIndex {
    /// Per slot: the key of the category stored there.
    keys: Box<[Key]>,
    /// Per slot: bin + 1 of the category stored there; 0 = empty slot.
    bins: Box<[u8]>,
    mask: usize,
    /// Category bytes by bin (compared only for strings longer than 16 bytes).
    categories: Box<[Box<[u8]>]>,
    other: u8,
    missing: u8,
}

impl CategoryIndex {
    /// An index over `categories` (bins `0..n`), "other" = `n`, missing = `n + 1`. At most 253 categories.
    pub(crate) fn new(categories: &[String]) -> CategoryIndex {
        debug_assert!(categories.len() <= super::MAX_BINS - 2);
        let size = (categories.len() * 2).next_power_of_two().max(4);
        let mask = size - 1;
        let mut keys = vec![Key::default(); size].into_boxed_slice();
        let mut bins = vec![0u8; size].into_boxed_slice();
        for (bin, c) in categories.iter().enumerate() {
            let k = Key::of(c.as_bytes());
            let mut i = k.hash() as usize & mask;
            while bins[i] != 0 {
                i = (i + 1) & mask;
            }
            keys[i] = k;
            bins[i] = bin as u8 + 1;
        }
        CategoryIndex {
            keys,
            bins,
            mask,
            categories: categories.iter().map(|c| c.as_bytes().into()).collect(),
            other: categories.len() as u8,
            missing: categories.len() as u8 + 1,
        }
    }

    /// The bin of `s`.
    #[inline]
    pub(crate) fn bin(&self, s: &str) -> u8 {
        let s = s.as_bytes();
        if s.is_empty() {
            return self.missing;
        }
        let k = Key::of(s);
        let mut i = k.hash() as usize & self.mask;
        loop {
            let b = self.bins[i];
            if b == 0 {
                return self.other;
            }
            if self.keys[i] == k && (k.len <= 16 || *self.categories[b as usize - 1] == *s) {
                return b - 1;
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_categories_other_and_missing() {
        let cats: Vec<String> = ["gmail.com", "yahoo.com", "W", "anonymous.com", "a", "abcdefgh-1-ijklmnop"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let index = CategoryIndex::new(&cats);
        for (bin, c) in cats.iter().enumerate() {
            assert_eq!(index.bin(c), bin as u8, "{c}");
        }
        // Same length, first and last eight bytes as a kept one, different in the middle: the comparison catches it.
        assert_eq!(index.bin("abcdefgh-2-ijklmnop"), 6);
        assert_eq!(index.bin("gmail.co"), 6);
        assert_eq!(index.bin("gmail.com "), 6);
        assert_eq!(index.bin(""), 7);
        let empty = CategoryIndex::new(&[]);
        assert_eq!((empty.bin("x"), empty.bin("")), (0, 1));
    }

    #[test]
    fn a_full_table_of_253_categories_finds_every_one() {
        let cats: Vec<String> = (0..253).map(|i| format!("category-{i}")).collect();
        let index = CategoryIndex::new(&cats);
        for (bin, c) in cats.iter().enumerate() {
            assert_eq!(index.bin(c), bin as u8);
        }
        assert_eq!(index.bin("category-253"), 253);
    }
}
