//! Injected randomness.
//!
//! Cores never call a global RNG: they hold an [`Rng`] built from a
//! [`RandomSource`]. Production drivers use [`OsRandom`]; tests use
//! [`SeededRandom`] so every run of a scenario makes the same branches, tags
//! and nonces.

use std::fmt;

/// Where random bytes come from.
pub trait RandomSource: Send {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8]) + Send> RandomSource for F {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}

/// The operating system's CSPRNG (getrandom).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_err() {
            // The OS source is unavailable: fall back to a time-seeded
            // generator rather than panic; tokens stay unique, if weaker.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9e37_79b9_7f4a_7c15);
            SeededRandom::new(nanos).fill_bytes(dest);
        }
    }
}

/// A deterministic generator (xoshiro256**), for tests and simulations.
/// Not for secrets.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    s: [u64; 4],
}

impl SeededRandom {
    /// A generator whose whole output follows from `seed`.
    pub fn new(seed: u64) -> Self {
        // SplitMix64 expands the seed into the state.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The random number generator a core holds.
pub struct Rng {
    source: Box<dyn RandomSource>,
}

impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rng")
    }
}

impl Default for Rng {
    fn default() -> Self {
        Self::os()
    }
}

const TOKEN_ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Rng {
    /// An RNG over any source.
    pub fn new(source: impl RandomSource + 'static) -> Self {
        Self {
            source: Box::new(source),
        }
    }

    /// The operating system's CSPRNG.
    pub fn os() -> Self {
        Self::new(OsRandom)
    }

    /// A deterministic RNG for tests.
    pub fn seeded(seed: u64) -> Self {
        Self::new(SeededRandom::new(seed))
    }

    /// Fills `dest` with random bytes.
    pub fn fill(&mut self, dest: &mut [u8]) {
        self.source.fill_bytes(dest)
    }

    /// A random `u32` (SSRCs, sequence numbers).
    pub fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill(&mut b);
        u32::from_le_bytes(b)
    }

    /// A random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }

    /// `len` random alphanumeric characters (SIP tags, branches, Call-IDs).
    pub fn token(&mut self, len: usize) -> String {
        let mut raw = vec![0u8; len];
        self.fill(&mut raw);
        raw.iter()
            .map(|b| char::from(TOKEN_ALPHABET[usize::from(*b) % TOKEN_ALPHABET.len()]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic() {
        let mut a = Rng::seeded(7);
        let mut b = Rng::seeded(7);
        assert_eq!(a.token(16), b.token(16));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::seeded(8).token(16), Rng::seeded(7).token(16));
    }

    #[test]
    fn os_tokens_are_alphanumeric() {
        let t = Rng::os().token(32);
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
