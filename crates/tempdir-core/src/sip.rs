//! SipHash of whole 64-bit words: the keyed hash the random parts of names come from.
//!
//! std's `DefaultHasher` is SipHash-1-3 too, but behind a general `Hasher`, which buffers
//! bytes of any length; a name hashes one word of fixed size, and this takes that word
//! as it is. It is Aumasson and Bernstein's SipHash as published, with the message taken
//! as little-endian words: the tests check it against the paper's test vectors.

/// A 128-bit SipHash key, as its two little-endian halves.
pub(crate) type Key = [u64; 2];

/// SipHash-1-3 (one round a word, three to finish, as std's hasher) of `words`.
#[inline]
pub(crate) fn sip13<const N: usize>(key: Key, words: [u64; N]) -> u64 {
    sip::<1, 3, N>(key, words)
}

/// SipHash-`C`-`D` of the message made of `words`, each as its 8 little-endian bytes.
#[inline(always)]
fn sip<const C: usize, const D: usize, const N: usize>(key: Key, words: [u64; N]) -> u64 {
    let [k0, k1] = key;
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut compress = |m: u64| {
        v[3] ^= m;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= m;
    };
    for m in words {
        compress(m);
    }
    // The last block: the message's length in bytes (mod 256) in its top byte; whole
    // words leave no bytes beside it.
    compress(((N as u64 * 8) & 0xff) << 56);
    v[2] ^= 0xff;
    for _ in 0..D {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

#[inline(always)]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's test key, bytes `00..0f`.
    const KEY: Key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];

    /// The message `00 01 02 ...` of `N` words.
    fn counting<const N: usize>() -> [u64; N] {
        std::array::from_fn(|i| u64::from_le_bytes(std::array::from_fn(|j| (i * 8 + j) as u8)))
    }

    #[test]
    fn sip24_gives_the_published_test_vectors() {
        // SipHash-2-4 of the messages of 0, 8, 16 and 32 bytes `00 01 02 ...` under the
        // key `00..0f`, from the reference implementation's vectors.
        assert_eq!(sip::<2, 4, 0>(KEY, counting()), 0x726f_db47_dd0e_0e31);
        assert_eq!(sip::<2, 4, 1>(KEY, counting()), 0x93f5_f579_9a93_2462);
        assert_eq!(sip::<2, 4, 2>(KEY, counting()), 0x3f2a_cc7f_57c2_9bdb);
        assert_eq!(sip::<2, 4, 4>(KEY, counting()), 0x7127_512f_72f2_7cce);
    }

    #[test]
    fn sip13_agrees_with_another_implementation() {
        // CPython hashes bytes with SipHash-1-3, under the zero key when hash
        // randomisation is off: `PYTHONHASHSEED=0 python3 -c 'print(hash(bytes(range(16))))'`.
        assert_eq!(sip13([0, 0], counting::<1>()), 0xead4_11e6_7ebe_2eea);
        assert_eq!(sip13([0, 0], counting::<2>()), 0x8972_1884_33a5_c5b7);
    }

    #[test]
    fn sip13_takes_every_key_bit_and_word_bit() {
        let base = sip13(KEY, [1, 2]);
        for bit in 0..64 {
            assert_ne!(sip13([KEY[0] ^ 1 << bit, KEY[1]], [1, 2]), base);
            assert_ne!(sip13([KEY[0], KEY[1] ^ 1 << bit], [1, 2]), base);
            assert_ne!(sip13(KEY, [1 ^ 1 << bit, 2]), base);
            assert_ne!(sip13(KEY, [1, 2 ^ 1 << bit]), base);
        }
        assert_ne!(sip13(KEY, [1]), sip13(KEY, [1, 0]), "the length counts");
    }
}
