//! A 64-bit fingerprint of training data, so a model can say which data made it and two runs can tell whether they
//! saw the same rows. Not cryptographic: it guards against mix-ups, not against an adversary.

use fraudstream_data::rng::splitmix64 as mix64;

/// Streaming hasher over 64-bit words (multiply-rotate rounds, SplitMix finaliser).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fingerprint {
    state: u64,
    words: u64,
}

impl Fingerprint {
    pub fn new(domain: &str) -> Fingerprint {
        let mut f = Fingerprint { state: 0x243f_6a88_85a3_08d3, words: 0 };
        f.bytes(domain.as_bytes());
        f
    }

    #[inline]
    pub fn word(&mut self, w: u64) {
        self.state = (self.state ^ mix64(w)).rotate_left(23).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.words += 1;
    }

    /// Bytes, length-prefixed so concatenations cannot collide.
    pub fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }

    pub fn finish(&self) -> u64 {
        mix64(self.state ^ self.words)
    }
}

/// The fingerprint as it is written in model files: 16 lowercase hex digits.
pub(crate) fn hex(v: u64) -> String {
    format!("{v:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_boundaries_matter() {
        let h = |parts: &[&[u8]]| {
            let mut f = Fingerprint::new("t");
            parts.iter().for_each(|p| f.bytes(p));
            f.finish()
        };
        assert_eq!(h(&[b"ab", b"c"]), h(&[b"ab", b"c"]));
        assert_ne!(h(&[b"ab", b"c"]), h(&[b"a", b"bc"]));
        assert_ne!(h(&[b"ab", b"c"]), h(&[b"c", b"ab"]));
        assert_eq!(hex(255), "00000000000000ff");
    }
}
