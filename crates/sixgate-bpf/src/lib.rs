//! sixgate's eBPF data path, seen from Rust: the compiled object, the
//! `#[repr(C)]` mirrors of its maps, loading, attaching, pinning, reading
//! counters, and BPF_PROG_TEST_RUN for packet tests.

pub mod counters;
pub mod datapath;
pub mod exception;
pub mod maps;
pub mod nat46;
pub mod pinned;
pub mod ratelimit;
pub mod test_run;

pub use counters::{read_counters, Counter, CounterValue, COUNTERS, SVC_COUNTERS};
pub use datapath::{Datapath, DatapathError, SiitParams};

/// The compiled tc object (bpf/prog_tc.c), 8-byte aligned as the ELF parser wants.
pub static TC_OBJECT: &[u8] = {
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static A: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/sixgate_tc.o")));
    &A.0
};

/// Name of the tc program in the object.
pub const TC_PROGRAM: &str = "sixgate_tc_ingress";

/// Name of the program that finishes hairpinned packets (RFC 7757 4.3),
/// reached only by tail call from [`TC_PROGRAM`] (map `sixgate_hairpin`).
pub const HAIRPIN_PROGRAM: &str = "sixgate_tc_hairpin";

/// The benchmark helpers (bpf/prog_bench.c: a parse-only tc baseline and
/// an XDP packet generator), 8-byte aligned; used by `sixgate-bench` only,
/// never attached by the daemon.
pub static BENCH_OBJECT: &[u8] = {
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static A: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
        env!("OUT_DIR"),
        "/sixgate_bench.o"
    )));
    &A.0
};
