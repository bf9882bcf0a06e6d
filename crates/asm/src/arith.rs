//! ISA-independent integer arithmetic that both compilers' instruction
//! selection share: the reciprocals that turn a division by a constant
//! into a multiplication.

/// How to divide every 32-bit unsigned `x` by a constant `d` with one
/// 64-bit multiplication and a shift:
/// `x / d = ((x + increment) * multiplier) >> shift`, all in 64 bits
/// (the product is below 2^64).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reciprocal32 {
    /// Below 2^32.
    pub multiplier: u32,
    /// Between 33 and 63.
    pub shift: u32,
    /// Whether `x + 1` is multiplied rather than `x` (0 or 1).
    pub increment: bool,
}

/// The reciprocal of `d`, for `d` other than 0, 1 and the powers of two
/// (a shift divides by those), after Granlund and Montgomery and Robison
/// ("N-bit unsigned division via N-bit multiply-add", 2005).
///
/// With `l = floor(log2 d)` and `k = 32 + l`, both `m_up = ceil(2^k / d)`
/// and `m_down = floor(2^k / d)` are below 2^32 (`d > 2^l`). If
/// `m_up * d - 2^k <= 2^l`, then `floor(x * m_up / 2^k) = floor(x / d)`
/// for every `x < 2^32`; otherwise `2^k - m_down * d <= 2^l` (the two
/// errors add up to `d < 2^(l + 1)`), and then
/// `floor((x + 1) * m_down / 2^k) = floor(x / d)`. Either product is
/// below 2^64.
pub fn udiv32_reciprocal(d: u32) -> Option<Reciprocal32> {
    if d < 3 || d.is_power_of_two() {
        return None;
    }
    let l = 31 - d.leading_zeros();
    let k = 32 + l;
    let (d64, two_k) = (u64::from(d), 1u64 << k);
    let m_down = two_k / d64;
    let m_up = m_down + 1;
    let round_up = m_up * d64 - two_k <= 1 << l;
    let multiplier = if round_up { m_up } else { m_down };
    Some(Reciprocal32 {
        multiplier: u32::try_from(multiplier).expect("below 2^32 for d > 2^l"),
        shift: k,
        increment: !round_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocals_divide_every_32_bit_value() {
        // Against `/` for every divisor up to 70,000 and a spread of large
        // ones, at the dividends where an error would show first: around
        // multiples of d, and the top of the range.
        let mut divisors: Vec<u32> = (3..70_000).collect();
        let mut x: u32 = 0x9E37_79B9;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            divisors.push(x | 3);
        }
        divisors.extend([
            u32::MAX,
            u32::MAX - 1,
            0x8000_0001,
            0x7fff_ffff,
            641,
            6_700_417,
        ]);
        for d in divisors.into_iter().filter(|d| !d.is_power_of_two()) {
            let r = udiv32_reciprocal(d).expect("a reciprocal");
            assert!((33..=63).contains(&r.shift), "{d}: {r:?}");
            let divide = |x: u32| -> u32 {
                let x = u64::from(x) + u64::from(r.increment);
                (x.checked_mul(u64::from(r.multiplier)).expect("below 2^64") >> r.shift) as u32
            };
            let top = u32::MAX / d * d;
            let twice = d.wrapping_mul(2).wrapping_sub(1);
            for x in [
                0,
                1,
                d - 1,
                d,
                d.wrapping_add(1),
                twice,
                top - 1,
                top,
                u32::MAX - 1,
                u32::MAX,
            ]
            .into_iter()
            .chain((1..64).map(|i| (u32::MAX / 64).wrapping_mul(i)))
            {
                assert_eq!(divide(x), x / d, "{x} / {d}");
            }
        }
        for d in [0, 1, 2, 8, 1 << 31] {
            assert_eq!(udiv32_reciprocal(d), None, "{d}");
        }
    }
}
