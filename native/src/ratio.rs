//! Exact scores as unreduced fractions of i128 (Python keeps `Fraction`s): only their value
//! matters (comparison, half-up rounding, `float()`), so no reduction is needed.

#[derive(Clone, Copy, Debug)]
pub struct Ratio {
    pub n: i128,
    pub d: i128, // > 0
}

impl PartialEq for Ratio {
    fn eq(&self, o: &Ratio) -> bool {
        self.n * o.d == o.n * self.d
    }
}

/// num / den rounded half up to an integer (den > 0): projections.rules.half_up.
pub fn half_up(num: i128, den: i128) -> i64 {
    (2 * num + den).div_euclid(2 * den) as i64
}

impl Ratio {
    pub fn new(n: i128, d: i128) -> Ratio {
        Ratio { n, d }
    }

    /// float(Fraction): the correctly rounded quotient (as CPython's int true division).
    pub fn to_f64(self) -> f64 {
        let (n, d) = (self.n, self.d);
        if n == 0 {
            return 0.0;
        }
        let neg = n < 0;
        let (n, d) = (n.unsigned_abs(), d.unsigned_abs());
        const EXACT: u128 = 1 << 53;
        let x = if n <= EXACT && d <= EXACT { n as f64 / d as f64 } else { divide(n, d) };
        if neg {
            -x
        } else {
            x
        }
    }
}

/// n / d for operands below 2^126, rounded half to even, by long division.
fn divide(n: u128, d: u128) -> f64 {
    assert!(n < 1 << 126 && d < 1 << 126, "exact score out of range");
    let (ln, ld) = (128 - n.leading_zeros() as i32, 128 - d.leading_zeros() as i32);
    let (mut n, mut d) = (n, d);
    // same bit length, exactly (shift the shorter one left)
    if ln > ld {
        d <<= ln - ld;
    } else {
        n <<= ld - ln;
    }
    let mut e = ln - ld; // n/d * 2^e is the value, with n/d in (1/2, 2)
    if n < d {
        n <<= 1;
        e -= 1;
    }
    // 1 <= n/d < 2: 54 quotient bits (53 + a guard bit), then the remainder as sticky bit
    let (mut q, mut r) = (0u64, n);
    for _ in 0..54 {
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
        r <<= 1;
    }
    let (mut mant, guard, sticky) = (q >> 1, q & 1 == 1, r != 0);
    if guard && (sticky || mant & 1 == 1) {
        mant += 1;
    }
    (mant as f64) * 2f64.powi(e - 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correctly_rounded() {
        assert_eq!(Ratio::new(1, 3).to_f64(), 1.0 / 3.0);
        let big = Ratio::new(1_000_000_000_000_000_000_001, 3_000_000_000_000_000_000_000);
        assert_eq!(big.to_f64(), 1.0 / 3.0);
        let r = Ratio::new(9_007_199_254_740_993 * 7, 7); // 2^53 + 1: a tie, to even
        assert_eq!(r.to_f64(), 9_007_199_254_740_992.0);
        assert_eq!(Ratio::new(-45_700_000_000, 10_000_000_000).to_f64(), -4.57);
        assert_eq!(half_up(5, 2), 3);
        assert_eq!(half_up(457, 100), 5);
    }
}
