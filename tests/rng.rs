//! [`XorShift`]: the randomized tests' generator. Deterministic and
//! seedable, with no dependency, so that a seed names a test case for good
//! (a regression comment can say "seed 14268" and mean one module).

/// A xorshift64* generator.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point); spread nearby seeds apart.
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    #[allow(
        clippy::should_implement_trait,
        reason = "an endless generator, not an iterator"
    )]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A number in `0..n` (`n > 0`; slightly biased, which no test minds).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `choices` (not empty).
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.below(choices.len() as u64) as usize]
    }
}
