//! A small, fast, non-cryptographic hasher for the client state's maps.
//!
//! The client stage looks up four maps per transaction; std's SipHash would be a large share of its time. Keys are
//! record fields (card1, addr1, e-mail domains), not attacker-chosen strings arriving at a public endpoint, and the
//! set of values is small, so HashDoS resistance buys nothing here. This is the multiply-rotate scheme of rustc's
//! FxHash, written out because no such crate is in the dependency tree.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` using [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash-style hasher: `state = (state.rotate_left(5) ^ word) * SEED` per 64-bit word.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    state: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weakest; hashbrown takes its bucket from the low bits and its tag from the
        // top 7, so fold the high half down.
        self.state ^ (self.state >> 32)
    }
}

/// A 64-bit hash of a string, for remembering distinct values without keeping the strings.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = FastHasher::default();
    h.write(s.as_bytes());
    h.add(s.len() as u64);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_strings_hash_apart_and_equal_strings_together() {
        let names = ["gmail.com", "gmail.co", "gmail.com\0", "", "yahoo.com", "anonymous.com", "aol.com"];
        let hashes: Vec<u64> = names.iter().map(|s| hash_str(s)).collect();
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                assert_ne!(hashes[i], hashes[j], "{:?} vs {:?}", names[i], names[j]);
            }
        }
        assert_eq!(hash_str("gmail.com"), hash_str(&String::from("gmail.com")));
    }

    #[test]
    fn map_works_with_the_hasher() {
        let mut m: FastMap<u64, u32> = FastMap::default();
        for i in 0..10_000u64 {
            m.insert(i * 7919, i as u32);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&(42 * 7919)), Some(&42));
    }
}
