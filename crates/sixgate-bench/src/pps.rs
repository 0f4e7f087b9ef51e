//! Small-packet rate with a generator that outruns iperf3: the kernel's own
//! BPF_PROG_TEST_RUN in XDP "live frames" mode. An XDP program that returns
//! XDP_PASS is run with a repeat count and a 64-byte frame; every copy enters
//! the gateway's stack as if received on the gateway's interface, goes
//! through tc (sixgate), forwarding or Tayga's TUN like a real packet, and
//! the receiver's UDP counters (/proc/net/snmp, snmp6) count what arrives
//! intact. (veth rx counters would miss packets that sixgate hands to the
//! peer with bpf_redirect_peer.) No socket, no syscall per packet.
//!
//! The generator runs on one thread pinned to CPU 0. On veth everything the
//! kernel does with a packet up to the receiver's socket runs in that
//! thread's softirq context, so for the in-kernel setups the result is the
//! packet rate of one core; Tayga's userspace process runs on the other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aya::maps::Array;
use aya::programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp};
use aya::Ebpf;
use serde::Serialize;

use crate::sys::{self, udp_counters};
use crate::topo::{Dir, Topo};

/// Name of the generator in `sixgate_bpf::BENCH_OBJECT`.
pub const GEN_PROGRAM: &str = "sixgate_bench_gen";
/// Its frame template map.
const FRAME_MAP: &str = "sixgate_bench_frame";
/// The generator's frame length (`BENCH_FRAME_LEN` in bpf/prog_bench.c).
pub const FRAME_LEN: usize = 64;
/// Frames per BPF_PROG_TEST_RUN call (the kernel batches them by 64).
const REPEAT_PER_CALL: u32 = 20_000;
/// Live-frames batch size (NAPI_POLL_WEIGHT).
const BATCH: u32 = 64;
/// The CPU the generator thread is pinned to.
pub const GEN_CPU: usize = 0;
/// `sizeof(struct xdp_md)`.
const XDP_MD_LEN: usize = 24;

/// The loaded generator program.
pub struct Generator {
    ebpf: Ebpf,
}

impl Generator {
    /// Loads the XDP generator from the bench object.
    pub fn load() -> Result<Generator> {
        let mut ebpf = Ebpf::load(sixgate_bpf::BENCH_OBJECT).context("load the bench object")?;
        let prog: &mut Xdp = ebpf
            .program_mut(GEN_PROGRAM)
            .context("no generator program in the bench object")?
            .try_into()
            .context("generator is not an XDP program")?;
        prog.load().context("verify the generator")?;
        Ok(Generator { ebpf })
    }

    /// Makes `frame` (exactly [`FRAME_LEN`] bytes) the frame it sends.
    pub fn set_frame(&mut self, frame: &[u8]) -> Result<()> {
        let tmpl: [u8; FRAME_LEN] = frame.try_into().with_context(|| {
            format!(
                "generator frames are {FRAME_LEN} bytes, not {}",
                frame.len()
            )
        })?;
        let mut map: Array<_, [u8; FRAME_LEN]> = self
            .ebpf
            .map_mut(FRAME_MAP)
            .context("no frame map in the bench object")?
            .try_into()
            .context("frame map type")?;
        map.set(0, tmpl, 0).context("write the frame template")?;
        Ok(())
    }

    fn prog(&self) -> Result<&Xdp> {
        self.ebpf
            .program(GEN_PROGRAM)
            .context("generator missing")?
            .try_into()
            .context("generator is not XDP")
    }
}

/// What one flood measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PpsResult {
    /// Frames the generator injected per second (million).
    pub offered_mpps: f64,
    /// Datagrams that reached the receiver's UDP layer intact per second
    /// (million).
    pub delivered_mpps: f64,
    /// Datagrams the receiver dropped for a bad checksum during the window.
    pub csum_errors: u64,
}

/// Injects `frame` at the gateway's ingress interface for direction `dir`
/// for `warmup + secs`, and measures the receiver's rx rate over `secs`.
pub fn flood(
    gen: &mut Generator,
    topo: &Topo,
    dir: Dir,
    frame: &[u8],
    warmup: Duration,
    secs: Duration,
) -> Result<PpsResult> {
    gen.set_frame(frame)?;
    let prog = gen.prog()?;
    let stop = AtomicBool::new(false);
    let injected = AtomicU64::new(0);
    let gw = topo.gw();
    let ifname = Topo::gw_ingress_if(dir);
    let receiver = topo.receiver(dir);

    std::thread::scope(|s| -> Result<PpsResult> {
        let gen_thread = s.spawn(|| -> Result<Duration> {
            let res = gw.run_in(|| -> Result<Duration> {
                sys::pin_thread(GEN_CPU)?;
                let idx = sys::ifindex(ifname)?;
                let mut ctx = [0u8; XDP_MD_LEN];
                // struct xdp_md: data, data_end, data_meta, ingress_ifindex, ...
                ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
                ctx[12..16].copy_from_slice(&idx.to_ne_bytes());
                let start = Instant::now();
                while !stop.load(Ordering::Relaxed) && !sys::stopping() {
                    let mut opts = TestRunOptions::new();
                    opts.data_in = Some(frame);
                    opts.ctx_in = Some(&ctx);
                    opts.repeat = REPEAT_PER_CALL;
                    opts.attrs = TestRunAttrs::new().xdp_live_frames(BATCH);
                    prog.test_run(opts)
                        .context("BPF_PROG_TEST_RUN (XDP live frames)")?;
                    injected.fetch_add(u64::from(REPEAT_PER_CALL), Ordering::Relaxed);
                }
                Ok(start.elapsed())
            });
            res?
        });

        let measured = (|| -> Result<(sys::UdpCounters, Duration)> {
            sys::sleep(warmup)?;
            let c0 = udp_counters(receiver)?;
            let t0 = Instant::now();
            sys::sleep(secs)?;
            let c1 = udp_counters(receiver)?;
            Ok((c1.since(&c0), t0.elapsed()))
        })();
        stop.store(true, Ordering::Relaxed);
        let gen_time = gen_thread
            .join()
            .map_err(|_| anyhow::anyhow!("generator thread panicked"))??;
        let (delivered, window) = measured?;
        Ok(PpsResult {
            offered_mpps: injected.load(Ordering::Relaxed) as f64 / gen_time.as_secs_f64() / 1e6,
            delivered_mpps: delivered.arrived as f64 / window.as_secs_f64() / 1e6,
            csum_errors: delivered.csum_errors,
        })
    })
}
