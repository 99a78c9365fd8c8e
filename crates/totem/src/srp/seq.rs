//! Serial-number arithmetic on 32-bit message sequence numbers (corosync's `sq_lt_compare`).

/// `a < b` in serial order (correct across wrap-around within half the number space).
#[inline]
pub(crate) fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in serial order.
#[inline]
pub(crate) fn lte(a: u32, b: u32) -> bool {
    a == b || lt(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_order_wraps() {
        assert!(lt(1, 2));
        assert!(!lt(2, 1));
        assert!(lt(u32::MAX, 0));
        assert!(lte(5, 5));
        assert!(!lt(5, 5));
        assert!(lt(u32::MAX - 3, 4));
    }
}
