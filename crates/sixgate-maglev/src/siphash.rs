//! SipHash-2-4 (Aumasson and Bernstein, 2012), 64-bit output.
//!
//! Implemented here rather than taken from `std` because the table must be
//! byte-identical on every gateway, across platforms and Rust versions:
//! `std`'s `DefaultHasher`/`RandomState` promise no stable output. Every
//! operation below is fixed-width integer arithmetic on little-endian words,
//! so the result does not depend on the host.

/// A 128-bit SipHash key, as the two little-endian halves `(k0, k1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SipKey {
    pub(crate) k0: u64,
    pub(crate) k1: u64,
}

/// The four-word SipHash state.
struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    fn new(key: SipKey) -> Self {
        State {
            v0: key.k0 ^ 0x736f_6d65_7073_6575,
            v1: key.k1 ^ 0x646f_7261_6e64_6f6d,
            v2: key.k0 ^ 0x6c79_6765_6e65_7261,
            v3: key.k1 ^ 0x7465_6462_7974_6573,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// Absorbs one message word (two compression rounds).
    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }

    /// Four finalization rounds and the output fold.
    fn finish(mut self) -> u64 {
        self.v2 ^= 0xff;
        self.round();
        self.round();
        self.round();
        self.round();
        self.v0 ^ self.v1 ^ self.v2 ^ self.v3
    }
}

/// SipHash-2-4 of `data` under `key`.
pub(crate) fn siphash24(key: SipKey, data: &[u8]) -> u64 {
    let mut state = State::new(key);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        state.compress(u64::from_le_bytes(bytes));
    }
    // Last word: the remaining 0..=7 bytes, zero-padded, with the message
    // length (mod 256) in the top byte.
    let tail = words.remainder();
    let mut bytes = [0u8; 8];
    bytes[..tail.len()].copy_from_slice(tail);
    bytes[7] = data.len() as u8;
    state.compress(u64::from_le_bytes(bytes));
    state.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of the reference test vectors: bytes 00 01 .. 0f.
    const REF_KEY: SipKey = SipKey {
        k0: 0x0706_0504_0302_0100,
        k1: 0x0f0e_0d0c_0b0a_0908,
    };

    /// Message `00 01 .. (len-1)`, as in the reference vectors.
    fn ref_message(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    #[test]
    fn reference_vectors() {
        // From the SipHash paper (appendix A) and the reference
        // implementation's `vectors.h` (vectors_sip64), read as
        // little-endian u64.
        let cases: [(usize, u64); 4] = [
            (0, 0x726f_db47_dd0e_0e31),
            (1, 0x74f8_39c5_93dc_67fd),
            (8, 0x93f5_f579_9a93_2462),
            (15, 0xa129_ca61_49be_45e5),
        ];
        for (len, want) in cases {
            assert_eq!(
                siphash24(REF_KEY, &ref_message(len)),
                want,
                "SipHash-2-4 of a {len}-byte message"
            );
        }
    }

    /// Cross-check against `std`'s SipHash-2-4 (deprecated as a public type,
    /// but its algorithm is the spec's) on every length through three words.
    #[test]
    #[allow(deprecated)]
    fn matches_std_siphasher() {
        use std::hash::{Hasher, SipHasher};
        for len in 0..=24 {
            let msg: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let key = SipKey {
                k0: 0x0123_4567_89ab_cdef ^ len as u64,
                k1: 0xfedc_ba98_7654_3210,
            };
            let mut h = SipHasher::new_with_keys(key.k0, key.k1);
            h.write(&msg);
            assert_eq!(siphash24(key, &msg), h.finish(), "length {len}");
        }
    }
}
