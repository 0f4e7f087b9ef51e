//! Unit tests of the table: balance, weights, disruption, determinism, errors, drain.
//!
//! Every input is fixed (keys from a counter, pseudo-random choices from a
//! seeded splitmix64), so every run checks the same tables.

use super::*;

/// A realistic backend key for backend number `i`.
fn key(i: usize) -> String {
    format!("[2001:db8:a::{:x}]:8080", i + 1)
}

/// `n` backends of weight 1.
fn equal(n: usize) -> Vec<Backend> {
    (0..n).map(|i| Backend::new(key(i), 1)).collect()
}

/// splitmix64: a fixed pseudo-random sequence for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// M = 65537 with the minimum slots per backend relaxed to what N = 1000
/// needs: 65537 < 100 × 1000, so the default rule rejects N = 1000 at the
/// default size, while issue 4 asks for the balance measured exactly there.
fn relaxed_65537(seed: u64) -> MaglevConfig {
    MaglevConfig {
        table_size: 65_537,
        seed,
        min_slots_per_backend: 65,
    }
}

fn build(config: &MaglevConfig, backends: &[Backend]) -> Table {
    match Table::build(config, backends) {
        Ok(t) => t,
        Err(e) => panic!("build failed: {e}"),
    }
}

/// max / avg slots over the backends with weight > 0.
fn max_over_avg(table: &Table) -> f64 {
    let counts: Vec<u32> = table
        .slot_counts()
        .iter()
        .zip(table.backends())
        .filter(|(_, b)| b.weight > 0)
        .map(|(&(_, n), _)| n)
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    let avg = table.slots().len() as f64 / counts.len() as f64;
    f64::from(max) / avg
}

/// Largest relative error |slots/M − w/W| / (w/W) over backends with weight > 0.
fn worst_share_error(table: &Table) -> (f64, String) {
    let total: u64 = table.backends().iter().map(|b| u64::from(b.weight)).sum();
    let m = table.slots().len() as f64;
    let mut worst = (0.0, String::new());
    for (b, (_, n)) in table.backends().iter().zip(table.slot_counts()) {
        if b.weight == 0 {
            continue;
        }
        let want = f64::from(b.weight) / total as f64;
        let got = f64::from(n) / m;
        let err = (got - want).abs() / want;
        if err > worst.0 {
            worst = (
                err,
                format!(
                    "{} (weight {}): {:.4} % of slots, ideal {:.4} %",
                    b.key,
                    b.weight,
                    got * 100.0,
                    want * 100.0
                ),
            );
        }
    }
    worst
}

// ---------------------------------------------------------------- balance

#[test]
fn balance_n1000_m65537() {
    let table = build(&relaxed_65537(1), &equal(1000));
    let ratio = max_over_avg(&table);
    println!("balance N=1000 M=65537: max/avg = {ratio:.5}");
    assert!(ratio <= 1.01, "max/avg slots = {ratio:.5} > 1.01");
}

#[test]
fn balance_within_the_default_rule() {
    // The largest N the default rule allows at M = 65537, and N = 1000 at
    // the next prime size that allows it.
    for (n, m) in [(655, 65_537), (1000, 100_003)] {
        let table = build(&MaglevConfig::new(m, 7), &equal(n));
        let ratio = max_over_avg(&table);
        println!("balance N={n} M={m}: max/avg = {ratio:.5}");
        assert!(
            ratio <= 1.01,
            "N={n} M={m}: max/avg slots = {ratio:.5} > 1.01"
        );
    }
}

#[test]
fn equal_weights_give_floor_or_ceil_of_m_over_n() {
    let table = build(&MaglevConfig::default(), &equal(7));
    let lo = 65_537 / 7;
    for (k, n) in table.slot_counts() {
        assert!(
            n == lo || n == lo + 1,
            "{k}: {n} slots, want {lo} or {}",
            lo + 1
        );
    }
}

// ---------------------------------------------------------------- weights

#[test]
fn weights_1_1_2_give_25_25_50() {
    let backends = vec![
        Backend::new("[2001:db8:a::10]:8080", 1),
        Backend::new("[2001:db8:b::10]:8080", 2),
        Backend::new("[2001:db8:a::11]:8080", 1),
    ];
    let table = build(&MaglevConfig::default(), &backends);
    let (err, worst) = worst_share_error(&table);
    println!(
        "weights 1:1:2: worst relative share error {:.4} % ({worst})",
        err * 100.0
    );
    assert!(err <= 0.01, "share off by {:.3} %: {worst}", err * 100.0);
    let counts = table.slot_counts();
    assert_eq!(counts.iter().map(|&(_, n)| n).sum::<u32>(), 65_537);
    // Sorted by key: a::10, a::11, b::10.
    assert_eq!(counts[2].0, "[2001:db8:b::10]:8080");
}

#[test]
fn weight_mix_shares_within_one_percent() {
    // 30 backends, weights 5..=50: every share is ≥ ~100 slots at M = 65537,
    // the regime in which issue 4 promises 1 %.
    let mut rng = Rng(0x5eed);
    let backends: Vec<Backend> = (0..30)
        .map(|i| Backend::new(key(i), rng.range(5, 50)))
        .collect();
    let table = build(&MaglevConfig::new(65_537, 3), &backends);
    let (err, worst) = worst_share_error(&table);
    println!(
        "weights 5..=50 ×30: worst relative share error {:.4} % ({worst})",
        err * 100.0
    );
    assert!(err <= 0.01, "share off by {:.3} %: {worst}", err * 100.0);
}

#[test]
fn weight_mix_at_n1000() {
    // N = 1000, weights 1..=10, at M = 100003 (the default rule's minimum
    // size for N = 1000). Shares of light backends are ~30 slots here, so
    // the relative promise cannot hold slot for slot; check what can: every
    // backend within 1 slot + 1 % of its exact share.
    let mut rng = Rng(42);
    let backends: Vec<Backend> = (0..1000)
        .map(|i| Backend::new(key(i), rng.range(1, 10)))
        .collect();
    let table = build(&MaglevConfig::new(100_003, 5), &backends);
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    let mut worst = 0.0f64;
    for (b, (_, n)) in table.backends().iter().zip(table.slot_counts()) {
        let exact = 100_003.0 * f64::from(b.weight) / total as f64;
        let off = (f64::from(n) - exact).abs();
        worst = worst.max(off);
        assert!(
            off <= 1.0 + 0.01 * exact,
            "{} weight {}: {n} slots, exact share {exact:.2}",
            b.key,
            b.weight
        );
    }
    println!("weights 1..=10 ×1000 M=100003: worst deviation {worst:.3} slots");
}

// ---------------------------------------------------------------- disruption

/// M with the minimum-slots rule relaxed as far as `n + 1` backends need:
/// the disruption tests measure the algorithm, not the rule.
fn measuring(table_size: u32, seed: u64, n: usize) -> MaglevConfig {
    MaglevConfig {
        table_size,
        seed,
        min_slots_per_backend: (table_size / (n as u32 + 1)).min(DEFAULT_MIN_SLOTS_PER_BACKEND),
    }
}

/// Fractions of slots that change when each of 5 backends is removed (one
/// at a time), and when each of 3 new ones is added, from `n` equal backends.
fn disruption(config: &MaglevConfig, n: usize) -> (Vec<f64>, Vec<f64>) {
    let backends = equal(n);
    let base = build(config, &backends);
    let m = f64::from(config.table_size);
    let changed = |other: &Table| f64::from(base.changed_slots(other).expect("same size")) / m;
    let removed = [0, n / 4, n / 2, 3 * n / 4, n - 1]
        .iter()
        .map(|&r| {
            let mut fewer = backends.clone();
            let gone = fewer.remove(r);
            let table = build(config, &fewer);
            // At least the removed backend's own slots must change.
            let own = base
                .slot_counts()
                .iter()
                .find(|(k, _)| *k == gone.key)
                .map_or(0, |&(_, c)| c);
            assert!(base.changed_slots(&table).unwrap_or(0) >= own);
            changed(&table)
        })
        .collect();
    let added = (0..3)
        .map(|a| {
            let mut more = backends.clone();
            more.push(Backend::new(format!("[2001:db8:b::{:x}]:8080", a + 1), 1));
            changed(&build(config, &more))
        })
        .collect();
    (removed, added)
}

/// Measures and prints disruption; returns the worst removal and addition
/// as multiples of the ideal (1/N and 1/(N+1)).
fn measure_disruption(config: &MaglevConfig, n: usize) -> (f64, f64) {
    let (removed, added) = disruption(config, n);
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let ideal_remove = 1.0 / n as f64;
    let ideal_add = 1.0 / (n + 1) as f64;
    let list = |v: &[f64]| {
        v.iter()
            .map(|f| format!("{f:.5}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let worst = (max(&removed) / ideal_remove, max(&added) / ideal_add);
    println!(
        "disruption N={n} M={}: remove one: {} (ideal {ideal_remove:.5}, worst {:.2}×); add one: {} (ideal {ideal_add:.5}, worst {:.2}×)",
        config.table_size,
        list(&removed),
        worst.0,
        list(&added),
        worst.1,
    );
    worst
}

#[test]
fn disruption_n10_within_2x_ideal() {
    let (remove, add) = measure_disruption(&measuring(65_537, 11, 10), 10);
    assert!(
        remove <= 2.0,
        "N=10: removal moved {remove:.2}× the ideal 1/N"
    );
    assert!(
        add <= 2.0,
        "N=10: addition moved {add:.2}× the ideal 1/(N+1)"
    );
}

#[test]
fn disruption_n100_within_2x_ideal() {
    let (remove, add) = measure_disruption(&measuring(65_537, 11, 100), 100);
    assert!(
        remove <= 2.0,
        "N=100: removal moved {remove:.2}× the ideal 1/N"
    );
    assert!(
        add <= 2.0,
        "N=100: addition moved {add:.2}× the ideal 1/(N+1)"
    );
}

/// N = 1000 at M = 65537 does NOT meet issue 4's 2× target: Maglev moves
/// about 7× the ideal here (M/N ≈ 65), and about as much at M = 100003.
/// This is the algorithm, not a defect: the excess comes from the last
/// rounds of the population, where long preference-list walks make a
/// backend's absence ripple through other backends' late picks, and it
/// shrinks only as M/N grows (the bench measures ≈ 1.9× at M = 4000037).
/// The bound below guards against regressions; the README records the gap.
#[test]
fn disruption_n1000_measured_against_target() {
    for m in [65_537, 100_003] {
        let (remove, add) = measure_disruption(&measuring(m, 11, 1000), 1000);
        assert!(
            remove <= 8.0,
            "N=1000 M={m}: removal moved {remove:.2}× the ideal 1/N"
        );
        assert!(
            add <= 8.0,
            "N=1000 M={m}: addition moved {add:.2}× the ideal 1/(N+1)"
        );
    }
}

#[test]
fn weighted_disruption_is_bounded() {
    // Removing a backend from a weighted set moves its own share plus a
    // little: at most twice its share.
    let mut rng = Rng(9);
    let backends: Vec<Backend> = (0..50)
        .map(|i| Backend::new(key(i), rng.range(1, 8)))
        .collect();
    let total: u32 = backends.iter().map(|b| b.weight).sum();
    let config = MaglevConfig::new(65_537, 2);
    let base = build(&config, &backends);
    for r in [0, 17, 33, 49] {
        let mut fewer = backends.clone();
        let gone = fewer.remove(r);
        let f = f64::from(base.changed_slots(&build(&config, &fewer)).unwrap_or(0)) / 65_537.0;
        let share = f64::from(gone.weight) / f64::from(total);
        println!(
            "weighted removal of weight {}: {f:.5} changed, share {share:.5}",
            gone.weight
        );
        assert!(
            f <= 2.0 * share,
            "removing weight {} changed {f:.5}, share {share:.5}",
            gone.weight
        );
    }
}

// ---------------------------------------------------------------- determinism

#[test]
fn input_order_does_not_matter() {
    let mut rng = Rng(1);
    let backends: Vec<Backend> = (0..200)
        .map(|i| Backend::new(key(i), rng.range(0, 5)))
        .collect();
    let config = MaglevConfig::new(65_537, 99);
    let table = build(&config, &backends);
    for _ in 0..3 {
        let mut shuffled = backends.clone();
        rng.shuffle(&mut shuffled);
        let other = build(&config, &shuffled);
        assert!(
            other.slots() == table.slots(),
            "shuffled input gave another table"
        );
        assert_eq!(other, table);
    }
}

#[test]
fn seed_changes_the_table() {
    let backends = equal(50);
    let a = build(&MaglevConfig::new(65_537, 1), &backends);
    let b = build(&MaglevConfig::new(65_537, 2), &backends);
    let changed = a.changed_slots(&b).unwrap_or(0);
    // Independent tables agree on about 1/N of slots.
    assert!(
        changed > 60_000,
        "only {changed} slots differ between seeds 1 and 2"
    );
    assert_ne!(a.fingerprint(), b.fingerprint());
}

/// A fixed input's table, pinned. If this fails, the algorithm, the hash or
/// the slot encoding changed: gateways running different versions would
/// disagree on backends, so change the expected values only on purpose (and
/// say so in the changelog). The weights include a drained backend and a
/// due-time tie between weights 1 and 3.
#[test]
fn golden_table() {
    let backends = vec![
        Backend::new("[2001:db8:c::10]:8080", 3),
        Backend::new("[2001:db8:a::10]:8080", 1),
        Backend::new("[2001:db8:b::11]:8080", 0),
        Backend::new("[2001:db8:a::11]:8080", 1),
        Backend::new("[2001:db8:b::10]:8080", 2),
    ];
    let config = MaglevConfig {
        table_size: 401,
        seed: 0x5158_a7e5_0000_0001,
        min_slots_per_backend: 100,
    };
    let table = build(&config, &backends);
    let first: Vec<u32> = table.slots()[..24].to_vec();
    println!(
        "golden: fingerprint {:#018x}, first slots {first:?}, counts {:?}",
        table.fingerprint(),
        table.slot_counts()
    );
    // The plain reference implementation agrees, so the pinned values are
    // the algorithm's, not just whatever the fast path produced.
    assert!(table.slots() == reference_slots(&config, &backends).as_slice());
    assert_eq!(first, GOLDEN_FIRST_SLOTS);
    assert_eq!(table.fingerprint(), GOLDEN_FINGERPRINT);
    assert_eq!(
        table.slot_counts(),
        vec![
            ("[2001:db8:a::10]:8080", 57),
            ("[2001:db8:a::11]:8080", 57),
            ("[2001:db8:b::10]:8080", 115),
            ("[2001:db8:b::11]:8080", 0),
            ("[2001:db8:c::10]:8080", 172),
        ]
    );
}

const GOLDEN_FIRST_SLOTS: [u32; 24] = [
    4, 4, 4, 2, 4, 4, 1, 2, 2, 4, 0, 1, 4, 4, 4, 4, 4, 0, 4, 0, 4, 2, 2, 0,
];
const GOLDEN_FINGERPRINT: u64 = 0x42b7_67c7_8ed2_7239;

#[test]
fn per_backend_hash_is_pinned() {
    // The preference list of one key, pinned for the same reason as the golden table.
    let got = permutation(0, "[2001:db8:a::10]:8080", 65_537);
    println!("permutation: {got:?}");
    assert_eq!(got, GOLDEN_PERMUTATION);
}

const GOLDEN_PERMUTATION: (u32, u32) = (45_382, 36_805);

/// The textbook algorithm, written plainly: explicit preference lists and
/// an O(N) search for the next due turn with exact arithmetic.
fn reference_slots(config: &MaglevConfig, backends: &[Backend]) -> Vec<u32> {
    let m = config.table_size as usize;
    let mut sorted = backends.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let active: Vec<usize> = (0..sorted.len())
        .filter(|&i| sorted[i].weight > 0)
        .collect();
    let prefs: Vec<Vec<usize>> = active
        .iter()
        .map(|&i| {
            let (offset, skip) = permutation(config.seed, &sorted[i].key, config.table_size);
            (0..m)
                .map(|j| ((offset as u64 + j as u64 * skip as u64) % m as u64) as usize)
                .collect()
        })
        .collect();
    let mut next = vec![0usize; active.len()];
    let mut taken = vec![0u128; active.len()];
    let mut entry = vec![NO_BACKEND; m];
    if active.is_empty() {
        return entry;
    }
    for _ in 0..m {
        // Turn k of a backend with weight w is due at (k + 1/2) / w; at
        // equal due times the heavier backend goes first, then the lower index.
        let mut best = 0;
        for j in 1..active.len() {
            let wj = u128::from(sorted[active[j]].weight);
            let wb = u128::from(sorted[active[best]].weight);
            let due_j = (2 * taken[j] + 1) * wb;
            let due_best = (2 * taken[best] + 1) * wj;
            if due_j < due_best || (due_j == due_best && wj > wb) {
                best = j;
            }
        }
        loop {
            let c = prefs[best][next[best]];
            next[best] += 1;
            if entry[c] == NO_BACKEND {
                entry[c] = active[best] as u32;
                break;
            }
        }
        taken[best] += 1;
    }
    entry
}

#[test]
fn matches_the_reference_algorithm() {
    let mut rng = Rng(2024);
    for case in 0..12 {
        let n = rng.range(1, 40) as usize;
        // Equal weights, small, wide, and near u32::MAX (with some drained).
        let style = case % 4;
        let backends: Vec<Backend> = (0..n)
            .map(|i| {
                let weight = match style {
                    0 => 1,
                    1 => rng.range(0, 3),
                    2 => rng.range(0, 100),
                    _ => u32::MAX - rng.range(0, 9),
                };
                Backend::new(key(i * 7 + case), weight)
            })
            .collect();
        let config = MaglevConfig::new([4001, 5003, 7919][case % 3], rng.next());
        let table = build(&config, &backends);
        assert!(
            table.slots() == reference_slots(&config, &backends).as_slice(),
            "case {case}: N={n}, weight style {style}"
        );
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn rejects_non_prime_size() {
    let err = Table::build(&MaglevConfig::new(65_536, 0), &equal(3)).unwrap_err();
    assert_eq!(err, MaglevError::NotPrime { table_size: 65_536 });
    assert_eq!(err.to_string(), "table size 65536 is not prime");
    for m in [0, 1, 4, 65_535, 100_001] {
        assert!(
            matches!(
                Table::build(&MaglevConfig::new(m, 0), &[]),
                Err(MaglevError::NotPrime { .. })
            ),
            "{m}"
        );
    }
}

#[test]
fn rejects_too_small_size() {
    let err = Table::build(&MaglevConfig::new(1009, 0), &equal(12)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table size 1009 is below 100 × 12 backends = 1200"
    );
    // Drained backends do not count: 12 listed, 10 active, 1009 ≥ 1000.
    let mut backends = equal(12);
    backends[3].weight = 0;
    backends[8].weight = 0;
    assert!(Table::build(&MaglevConfig::new(1009, 0), &backends).is_ok());
    // N = 1000 at the default size needs the rule relaxed on purpose.
    let err = Table::build(&MaglevConfig::default(), &equal(1000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table size 65537 is below 100 × 1000 backends = 100000"
    );
}

#[test]
fn rejects_too_large_size() {
    let err = Table::build(&MaglevConfig::new(16_777_259, 0), &equal(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table size 16777259 is above the maximum 16777216"
    );
}

#[test]
fn rejects_duplicate_keys() {
    let mut backends = equal(5);
    backends.push(Backend::new(key(2), 7));
    let err = Table::build(&MaglevConfig::default(), &backends).unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate backend key \"[2001:db8:a::3]:8080\""
    );
}

// ---------------------------------------------------------------- drain and lookup

#[test]
fn drained_backend_gets_no_slots_and_others_stay_balanced() {
    let mut backends = equal(10);
    backends[4].weight = 0;
    let table = build(&MaglevConfig::default(), &backends);
    assert_eq!(table.backends().len(), 10, "a drained backend stays listed");
    let counts = table.slot_counts();
    let drained = counts.iter().find(|(k, _)| *k == key(4)).map(|&(_, n)| n);
    assert_eq!(drained, Some(0));
    let ratio = max_over_avg(&table);
    assert!(ratio <= 1.01, "max/avg over the other 9 = {ratio:.5}");
    assert!(table.slots().iter().all(|&s| s != NO_BACKEND));
}

#[test]
fn drain_moves_the_same_slots_as_removal() {
    let backends = equal(100);
    let config = MaglevConfig::new(65_537, 4);
    let mut drained = backends.clone();
    drained[37].weight = 0;
    let mut removed = backends.clone();
    removed.remove(37);
    let a = build(&config, &drained);
    let b = build(&config, &removed);
    assert_eq!(a.changed_slots(&b), Some(0));
}

#[test]
fn no_active_backend_means_no_backend() {
    let config = MaglevConfig::default();
    let mut backends = equal(3);
    for b in &mut backends {
        b.weight = 0;
    }
    for list in [&backends[..], &[]] {
        let table = build(&config, list);
        assert_eq!(table.slots().len(), 65_537);
        assert!(table.slots().iter().all(|&s| s == NO_BACKEND));
        assert_eq!(table.lookup(12_345), None);
        assert!(table.slot_counts().iter().all(|&(_, n)| n == 0));
    }
}

#[test]
fn lookup_reads_slot_hash_mod_m() {
    let table = build(&MaglevConfig::new(1009, 8), &equal(5));
    let mut rng = Rng(3);
    for _ in 0..1000 {
        let h = rng.next();
        let want = &table.backends()[table.slots()[(h % 1009) as usize] as usize];
        assert_eq!(table.lookup(h), Some(want));
    }
}

#[test]
fn changed_slots_needs_equal_sizes() {
    let a = build(&MaglevConfig::new(1009, 0), &equal(5));
    let b = build(&MaglevConfig::new(1013, 0), &equal(5));
    assert_eq!(a.changed_slots(&b), None);
    assert_eq!(a.changed_slots(&a), Some(0));
}

#[test]
fn changed_slots_matches_key_comparison() {
    let mut rng = Rng(77);
    let a_list: Vec<Backend> = (0..40)
        .map(|i| Backend::new(key(i), rng.range(0, 4)))
        .collect();
    // Drop some, add some, reweight some.
    let mut b_list = Vec::new();
    for b in &a_list {
        if rng.range(0, 9) != 0 {
            b_list.push(Backend::new(b.key.clone(), rng.range(0, 4)));
        }
    }
    b_list.extend((100..105).map(|i| Backend::new(key(i), 2)));
    let config = MaglevConfig::new(5003, 6);
    let a = build(&config, &a_list);
    let b = build(&config, &b_list);
    let key_at = |t: &Table, s: usize| {
        t.backends()
            .get(t.slots()[s] as usize)
            .map(|b| b.key.clone())
    };
    let naive = (0..5003)
        .filter(|&s| key_at(&a, s) != key_at(&b, s))
        .count() as u32;
    assert_eq!(a.changed_slots(&b), Some(naive));
    assert_eq!(b.changed_slots(&a), Some(naive));
}
