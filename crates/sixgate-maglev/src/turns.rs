//! The order in which backends take turns while the table is populated.
//!
//! Plain Maglev gives backends turns round-robin, so each ends with M/N
//! slots (±1). The weighted variant (Envoy, then Cilium's `pkg/maglev`)
//! changes how often a backend gets a turn: proportionally to its weight.
//! Here turn k (k = 0, 1, ...) of a backend with weight w is due at virtual
//! time (k + ½) / w. Turns are taken in order of due time; at equal due
//! times the heavier backend goes first, and among equal weights the lower
//! index. After T turns every backend has had round(t·w) of them for a
//! common virtual time t, i.e. the Sainte-Laguë apportionment of T seats by
//! weight: within about one turn of its exact share, with no bias towards
//! large or small weights.
//!
//! Two properties the table relies on:
//! - equal weights give exactly the round-robin order 0, 1, ..., N-1, 0, ...
//!   of plain Maglev;
//! - a backend's due times depend only on its own weight, so removing one
//!   backend leaves the relative order of everyone else's turns unchanged.
//!
//! Backends of equal weight share every due time, so they are scheduled as
//! one group: a binary heap orders the groups (one entry per distinct
//! weight), and a group, once due, gives its members their turns in index
//! order. Typical weight sets (few distinct values) cost almost nothing;
//! N distinct weights cost O(log N) per turn.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A group's next round: due at virtual time `twice_k_plus_1 / (2 × weight)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    /// 2k + 1 for the group's k-th round. Never above 2 × MAX_TABLE_SIZE + 1,
    /// so `twice_k_plus_1 × weight` fits in a u64 (2^26 × 2^32 < 2^64).
    twice_k_plus_1: u64,
    /// The weight every member of the group has, > 0; distinct per group.
    weight: u64,
    /// The group's position in `Turns::groups`.
    group: u32,
}

impl Ord for Due {
    /// "Greater" means "earlier", because `BinaryHeap` pops its maximum.
    fn cmp(&self, other: &Self) -> Ordering {
        // self.due < other.due  ⇔  (2k_s+1) × w_o < (2k_o+1) × w_s
        let mine = self.twice_k_plus_1 * other.weight;
        let theirs = other.twice_k_plus_1 * self.weight;
        // Equal due times: the heavier group first. Weights differ between
        // groups, so this is a total order.
        theirs
            .cmp(&mine)
            .then_with(|| self.weight.cmp(&other.weight))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// An endless sequence of turns over backends `0..weights.len()`.
pub(crate) struct Turns {
    /// Members of every group, group after group, each group in index order.
    members: Vec<u32>,
    /// `members[starts[g]..starts[g + 1]]` is group g.
    starts: Vec<usize>,
    /// The groups' next rounds.
    heap: BinaryHeap<Due>,
    /// Members of the group whose round is under way, still to take their turn.
    pending: std::ops::Range<usize>,
}

impl Turns {
    /// A schedule for backends with these weights, all > 0, at most
    /// `u32::MAX` of them, each taking at most `MAX_TABLE_SIZE` turns.
    pub(crate) fn new(weights: &[u32]) -> Self {
        debug_assert!(weights.iter().all(|&w| w > 0));
        let mut members: Vec<u32> = (0..weights.len() as u32).collect();
        members.sort_unstable_by_key(|&i| (weights[i as usize], i));
        let mut starts = Vec::new();
        let mut heap = BinaryHeap::new();
        for (at, &i) in members.iter().enumerate() {
            let weight = weights[i as usize];
            if at == 0 || weights[members[at - 1] as usize] != weight {
                heap.push(Due {
                    twice_k_plus_1: 1,
                    weight: u64::from(weight),
                    group: starts.len() as u32,
                });
                starts.push(at);
            }
        }
        starts.push(members.len());
        Turns {
            members,
            starts,
            heap,
            pending: 0..0,
        }
    }

    /// The backend whose turn is next. `None` only when there are no backends.
    #[inline]
    pub(crate) fn next_turn(&mut self) -> Option<u32> {
        if let Some(at) = self.pending.next() {
            return Some(self.members[at]);
        }
        let mut top = self.heap.peek_mut()?;
        let g = top.group as usize;
        top.twice_k_plus_1 += 2;
        // Dropping `top` restores the heap order.
        drop(top);
        self.pending = self.starts[g]..self.starts[g + 1];
        self.pending.next().map(|at| self.members[at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(weights: &[u32], n: usize) -> Vec<u32> {
        let mut turns = Turns::new(weights);
        (0..n).map(|_| turns.next_turn().expect("a turn")).collect()
    }

    fn counts(weights: &[u32], n: usize) -> Vec<usize> {
        let mut c = vec![0; weights.len()];
        for i in take(weights, n) {
            c[i as usize] += 1;
        }
        c
    }

    #[test]
    fn equal_weights_are_round_robin() {
        assert_eq!(take(&[3, 3, 3], 7), vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(take(&[1], 3), vec![0, 0, 0]);
    }

    #[test]
    fn no_backends_no_turns() {
        assert_eq!(Turns::new(&[]).next_turn(), None);
    }

    #[test]
    fn weighted_order_is_interleaved() {
        // Due times: b0 (w=1): 0.5, 1.5, 2.5; b1 (w=2): 0.25, 0.75, 1.25, 1.75.
        assert_eq!(take(&[1, 2], 6), vec![1, 0, 1, 1, 0, 1]);
    }

    #[test]
    fn equal_due_times_go_heavier_first_then_lower_index() {
        // b0 (w=1): 1/2, 3/2; b1 and b2 (w=3): 1/6, 1/2, 5/6, 7/6, 3/2.
        assert_eq!(
            take(&[1, 3, 3], 14),
            vec![1, 2, 1, 2, 0, 1, 2, 1, 2, 1, 2, 0, 1, 2]
        );
    }

    /// After n turns a backend has round(t·w) turns for a common t, and the
    /// roundings of N backends sum to at most N/2, so |t·W − n| ≤ N/2. A
    /// backend is therefore within ½ + (N/2)·(w/W) of its exact share
    /// n·w/W; allow ½ more for a round cut off at equal due times.
    #[test]
    fn counts_stay_within_the_apportionment_bound() {
        let weights = [1, 2, 3, 5, 7, 11, 13, 100, 1, 1];
        let total: u32 = weights.iter().sum();
        let n_backends = weights.len() as f64;
        for n in [1usize, 17, 144, 1000, 65_537] {
            let c = counts(&weights, n);
            assert_eq!(c.iter().sum::<usize>(), n);
            for (i, (&w, &got)) in weights.iter().zip(&c).enumerate() {
                let share = f64::from(w) / f64::from(total);
                let exact = n as f64 * share;
                let bound = 1.0 + n_backends / 2.0 * share;
                assert!(
                    (got as f64 - exact).abs() <= bound,
                    "n={n} backend {i}: {got} turns, exact share {exact:.2}, bound ±{bound:.2}"
                );
            }
        }
    }

    /// Removing a backend only deletes its own turns from the sequence.
    #[test]
    fn removal_keeps_the_others_order() {
        let weights = [4, 1, 3, 2, 7];
        let full = take(&weights, 500);
        let without: Vec<u32> = full
            .iter()
            .filter(|&&i| i != 2)
            .map(|&i| if i > 2 { i - 1 } else { i })
            .collect();
        let reduced = take(&[4, 1, 2, 7], without.len());
        assert_eq!(reduced, without);
    }
}
