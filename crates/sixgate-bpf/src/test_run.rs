//! BPF_PROG_TEST_RUN for the tc program: one packet in, the verdict and the
//! whole packet out.

use aya::programs::{ProgramError, SchedClassifier, TestRun, TestRunOptions};

/// `sizeof(struct __sk_buff)` on the kernels we run on.
const SKB_CTX_LEN: usize = 192;
/// `offsetof(struct __sk_buff, ifindex)`.
const SKB_CTX_IFINDEX: usize = 40;
/// Room for the packet to grow (4->6 adds 20 bytes).
const GROWTH: usize = 256;

/// What one test run gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkbRun {
    /// The program's return value (TC_ACT_*).
    pub ret: u32,
    /// The packet as the program left it.
    pub data: Vec<u8>,
}

/// Runs `prog` once on the Ethernet frame `frame`, as if it arrived on the
/// interface `ifindex` of the calling thread's network namespace (0: `lo`).
pub fn run_skb(prog: &SchedClassifier, frame: &[u8], ifindex: u32) -> Result<SkbRun, ProgramError> {
    let mut ctx = [0u8; SKB_CTX_LEN];
    ctx[SKB_CTX_IFINDEX..SKB_CTX_IFINDEX + 4].copy_from_slice(&ifindex.to_ne_bytes());
    let mut out = vec![0u8; frame.len() + GROWTH];
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    opts.data_out = Some(&mut out);
    if ifindex != 0 {
        opts.ctx_in = Some(&ctx);
    }
    let result = prog.test_run(opts)?;
    out.truncate(result.data_size_out as usize);
    Ok(SkbRun {
        ret: result.return_value,
        data: out,
    })
}
