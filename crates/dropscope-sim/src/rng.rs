//! A small seeded random stream (`SplitMix64`), one per device and purpose, so output depends only
//! on (seed, scenario) and not on the thread count or on a crate's algorithm changing.
//!
//! `rand` would do, but its generators' output may change between major versions, and the
//! simulator promises byte-identical output for a seed; 20 lines of `SplitMix64` keep that promise.

/// Mixes words into one 64-bit value (the `SplitMix64` finaliser applied in a chain).
pub(crate) fn mix(words: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &w in words {
        h = finalise(h ^ w.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    }
    h
}

fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A `SplitMix64` stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A stream keyed by the given words (seed, purpose, device index, ...).
    pub(crate) fn new(words: &[u64]) -> Rng {
        Rng { state: mix(words) }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalise(self.state)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [0, n); 0 when n is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64 }
    }

    /// True with probability p.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponentially distributed with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Log-uniform in [lo, hi] (both > 0).
    pub(crate) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }

    /// An index drawn with the given weights (all ≥ 0); 0 when they sum to 0.
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return 0;
        }
        let mut x = self.unit() * total;
        for (idx, w) in weights.iter().enumerate() {
            if x < *w {
                return idx;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use crate::rng::Rng;

    fn check(words: &[u64], expected_mean: f64) {
        let mut rng = Rng::new(words);
        let n = 20_000;
        let mean = (0..n).map(|_| rng.unit()).sum::<f64>() / f64::from(n);
        assert!((mean - expected_mean).abs() < 0.01, "{mean}");
    }

    #[test]
    fn streams_are_uniform_and_keyed() {
        check(&[1], 0.5);
        check(&[1, 2, 3], 0.5);
        assert_ne!(Rng::new(&[1, 2]).next_u64(), Rng::new(&[2, 1]).next_u64());
        assert_eq!(Rng::new(&[7]).next_u64(), Rng::new(&[7]).next_u64());
        let mut rng = Rng::new(&[9]);
        assert!((0..1000).all(|_| rng.below(10) < 10));
        assert_eq!(rng.weighted(&[0.0, 1.0, 0.0]), 1);
    }
}
