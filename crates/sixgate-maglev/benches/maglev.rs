//! Build time of weighted Maglev tables, plus their balance and disruption.
//!
//! `cargo bench -p sixgate-maglev` first prints one quality table (balance,
//! weight error, disruption against the ideal 1/N), then times
//! `Table::build` with criterion.

use std::hint::black_box;

use criterion::{criterion_group, BenchmarkId, Criterion};
use sixgate_maglev::{Backend, MaglevConfig, Table};

/// A realistic backend key for backend number `i`.
fn key(i: usize) -> String {
    format!("[2001:db8:a::{:x}]:8080", i + 1)
}

/// Weights 1..=10 from a fixed sequence (splitmix64 of the index).
fn weight(i: usize) -> u32 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    1 + ((z ^ (z >> 31)) % 10) as u32
}

/// How the benchmark's backends are weighted.
#[derive(Clone, Copy)]
enum Weights {
    /// All 1: plain Maglev.
    Equal,
    /// 1..=10, pseudo-random: the typical case (10 distinct weights).
    OneToTen,
    /// 1..=N, all different: the scheduler's worst case (one heap entry each).
    AllDistinct,
}

impl Weights {
    fn label(self) -> &'static str {
        match self {
            Weights::Equal => "equal",
            Weights::OneToTen => "weights 1..=10",
            Weights::AllDistinct => "weights all distinct",
        }
    }
}

fn backends(n: usize, weights: Weights) -> Vec<Backend> {
    (0..n)
        .map(|i| {
            let w = match weights {
                Weights::Equal => 1,
                Weights::OneToTen => weight(i),
                Weights::AllDistinct => i as u32 + 1,
            };
            Backend::new(key(i), w)
        })
        .collect()
}

/// M, with the minimum-slots rule relaxed where needed to measure `n` (and
/// `n + 1`) backends at this size: 65537 < 100 × 1000.
fn config(m: u32, n: usize) -> MaglevConfig {
    MaglevConfig {
        table_size: m,
        seed: 11,
        min_slots_per_backend: (m / (n as u32 + 1)).min(100),
    }
}

fn build(config: &MaglevConfig, backends: &[Backend]) -> Table {
    Table::build(config, backends).unwrap_or_else(|e| panic!("build failed: {e}"))
}

/// Mean and worst fraction of slots changed by removing each of 5 backends
/// and by adding each of 3 new ones.
fn disruption(config: &MaglevConfig, n: usize) -> ((f64, f64), (f64, f64)) {
    let all = backends(n, Weights::Equal);
    let base = build(config, &all);
    let m = f64::from(config.table_size);
    let frac = |t: &Table| f64::from(base.changed_slots(t).unwrap_or(0)) / m;
    let stats = |v: Vec<f64>| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (mean, v.iter().copied().fold(0.0, f64::max))
    };
    let removed = [0, n / 4, n / 2, 3 * n / 4, n - 1]
        .iter()
        .map(|&r| {
            let mut fewer = all.clone();
            fewer.remove(r);
            frac(&build(config, &fewer))
        })
        .collect();
    let added = (0..3)
        .map(|a| {
            let mut more = all.clone();
            more.push(Backend::new(format!("[2001:db8:b::{:x}]:8080", a + 1), 1));
            frac(&build(config, &more))
        })
        .collect();
    (stats(removed), stats(added))
}

fn print_quality() {
    println!("\nbalance (equal weights): max/avg slots over backends");
    println!("{:>6} {:>9} {:>9}", "N", "M", "max/avg");
    for (n, m) in [(10, 65_537), (100, 65_537), (1000, 65_537), (1000, 100_003)] {
        let t = build(&config(m, n), &backends(n, Weights::Equal));
        let max = t.slot_counts().iter().map(|&(_, c)| c).max().unwrap_or(0);
        let avg = f64::from(m) / n as f64;
        println!("{n:>6} {m:>9} {:>9.5}", f64::from(max) / avg);
    }

    println!("\nweights 1..=10: worst |slot share - weight share| / weight share");
    println!("{:>6} {:>9} {:>10}", "N", "M", "worst err");
    for (n, m) in [(10, 65_537), (100, 65_537), (1000, 100_003)] {
        let all = backends(n, Weights::OneToTen);
        let t = build(&config(m, n), &all);
        let total: u64 = all.iter().map(|b| u64::from(b.weight)).sum();
        let worst = t
            .backends()
            .iter()
            .zip(t.slot_counts())
            .map(|(b, (_, c))| {
                let want = f64::from(b.weight) / total as f64;
                (f64::from(c) / f64::from(m) - want).abs() / want
            })
            .fold(0.0, f64::max);
        println!("{n:>6} {m:>9} {:>9.3}%", worst * 100.0);
    }

    println!("\ndisruption (equal weights): fraction of slots changed, mean / worst of 5 removals and 3 additions");
    println!(
        "{:>6} {:>9} {:>8} {:>17} {:>9} {:>8} {:>17} {:>9}",
        "N",
        "M",
        "1/N",
        "remove mean/worst",
        "worst/1/N",
        "1/(N+1)",
        "add mean/worst",
        "worst/ideal"
    );
    for (n, m) in [
        (10, 65_537),
        (100, 65_537),
        (1000, 65_537),
        (1000, 100_003),
        (1000, 655_373),
        (1000, 4_000_037),
    ] {
        let ((rm, rw), (am, aw)) = disruption(&config(m, n), n);
        let ir = 1.0 / n as f64;
        let ia = 1.0 / (n + 1) as f64;
        println!(
            "{n:>6} {m:>9} {ir:>8.5} {rm:>8.5}/{rw:<8.5} {:>8.2}× {ia:>8.5} {am:>8.5}/{aw:<8.5} {:>8.2}×",
            rw / ir,
            aw / ia
        );
    }
    println!();
}

fn bench_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    for (n, m, weights) in [
        (10, 65_537, Weights::OneToTen),
        (100, 65_537, Weights::OneToTen),
        (1000, 65_537, Weights::OneToTen),
        (1000, 65_537, Weights::Equal),
        (1000, 65_537, Weights::AllDistinct),
        (1000, 100_003, Weights::OneToTen),
    ] {
        let cfg = config(m, n);
        let all = backends(n, weights);
        let id = format!("M={m}/N={n}/{}", weights.label());
        group.bench_with_input(BenchmarkId::from_parameter(id), &all, |b, all| {
            b.iter(|| build(black_box(&cfg), black_box(all)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_build);

fn main() {
    print_quality();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
