//! Primality of a table size.

/// Whether `n` is prime (trial division by 2, 3 and 6k ± 1; at most ~11,000
/// divisions for any `u32`).
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    if n < 4 {
        return true;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    let n = u64::from(n);
    let mut d: u64 = 5;
    while d * d <= n {
        if n.is_multiple_of(d) || n.is_multiple_of(d + 2) {
            return false;
        }
        d += 6;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious definition, for cross-checking small values.
    fn naive(n: u32) -> bool {
        n >= 2 && (2..n).all(|d| !n.is_multiple_of(d))
    }

    #[test]
    fn agrees_with_definition_below_3000() {
        for n in 0..3000 {
            assert_eq!(is_prime(n), naive(n), "{n}");
        }
    }

    #[test]
    fn known_values() {
        for p in [65_537, 100_003, 131_071, 655_373, 16_777_213, 4_294_967_291] {
            assert!(is_prime(p), "{p} is prime");
        }
        for c in [65_536, 65_535, 100_001, 16_777_215, 4_294_967_295, 25, 49] {
            assert!(!is_prime(c), "{c} is composite");
        }
    }
}
