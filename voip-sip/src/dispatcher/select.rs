//! Selection algorithms over the members that are up.

use voip_core::Rng;

/// How [`Dispatcher::select`](super::Dispatcher::select) picks a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// Each selection takes the next member in the list (Kamailio alg 4).
    RoundRobin,
    /// A random member, with probability proportional to its weight
    /// (Kamailio alg 9); all weights 0: uniform.
    Weighted,
    /// A hash of the Call-ID picks the member, so every request of a call
    /// goes to the same one (Kamailio alg 0). When that member is down the
    /// next one up in the list takes its calls; calls of the other members
    /// do not move.
    CallIdHash,
    /// The member with the highest priority value; ties go to the first in
    /// the list (Kamailio alg 8). The others follow as failover.
    Priority,
}

/// FNV-1a, 64 bit: stable across runs and processes, so every node of a
/// cluster maps a Call-ID to the same member.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The first index at or after `start` (wrapping) whose member is up.
pub(crate) fn next_up(up: &[bool], start: usize) -> Option<usize> {
    let n = up.len();
    (0..n).map(|k| (start + k) % n).find(|&i| up[i])
}

/// A member by weight among those up.
pub(crate) fn weighted(up: &[bool], weights: &[u32], rng: &mut Rng) -> Option<usize> {
    let total: u64 = up
        .iter()
        .zip(weights)
        .filter(|(u, _)| **u)
        .map(|(_, w)| u64::from(*w))
        .sum();
    if total == 0 {
        let ups: Vec<usize> = (0..up.len()).filter(|&i| up[i]).collect();
        if ups.is_empty() {
            return None;
        }
        let k = (rng.next_u64() % ups.len() as u64) as usize;
        return ups.get(k).copied();
    }
    let mut pick = rng.next_u64() % total;
    for (i, (u, w)) in up.iter().zip(weights).enumerate() {
        if !*u {
            continue;
        }
        let w = u64::from(*w);
        if pick < w {
            return Some(i);
        }
        pick -= w;
    }
    None
}

/// Indices ordered by priority, highest first; the list order breaks ties.
pub(crate) fn by_priority(priorities: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..priorities.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(priorities[i]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_vectors() {
        // FNV-1a 64 test vectors (the FNV reference: "" and "a")
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn next_up_wraps() {
        assert_eq!(next_up(&[true, false, false], 1), Some(0));
        assert_eq!(next_up(&[false, false], 0), None);
    }

    #[test]
    fn priority_order_is_stable() {
        assert_eq!(by_priority(&[1, 5, 5, 0]), [1, 2, 0, 3]);
    }
}
