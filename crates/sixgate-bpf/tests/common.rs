//! Shared fixture for the packet tests: the real tc program, loaded with
//! its maps pinned under a unique bpffs path, run by BPF_PROG_TEST_RUN
//! inside a private network namespace whose routes and neighbours make
//! `bpf_fib_lookup` answer deterministically.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use sixgate_bpf::test_run::{run_skb, SkbRun};
use sixgate_bpf::{Datapath, SiitParams};

pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;
pub const TC_ACT_REDIRECT: u32 = 7;

/// MAC of the gateway's test interface `d0` (a veth whose peer `d1` is up).
pub const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// MAC of the sender of every input frame.
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc1];
/// Neighbour MAC of the IPv6 next hop 2001:db8:6::2.
pub const V6_NH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x62];
/// Neighbour MAC of the IPv4 client 192.0.2.33.
pub const V4_NH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x42];

/// A namespace where both families route: IPv6 towards 2001:db8::/32 and
/// 64:ff9b::/96 via 2001:db8:6::2, IPv4 192.0.2.0/24 on link, with
/// permanent neighbours, forwarding on.
pub const ROUTED: &[&str] = &[
    "ip link set lo up",
    "ip link add d0 address 02:00:00:00:00:01 type veth peer name d1",
    "ip link set d0 up",
    "ip link set d1 up",
    "ip addr add 192.0.2.1/24 dev d0",
    "ip -6 addr add 2001:db8:6::1/64 dev d0 nodad",
    "ip neigh add 192.0.2.33 lladdr 02:00:00:00:00:42 dev d0 nud permanent",
    "ip -6 neigh add 2001:db8:6::2 lladdr 02:00:00:00:00:62 dev d0 nud permanent",
    "ip -6 route add 2001:db8::/32 via 2001:db8:6::2 dev d0",
    "ip -6 route add 64:ff9b::/96 via 2001:db8:6::2 dev d0",
    "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
];

/// A namespace with a veth pair, no routes and forwarding off: the
/// FIB cannot answer, so translated packets go to the kernel stack.
pub const UNROUTED: &[&str] = &[
    "ip link add d0 address 02:00:00:00:00:01 type veth peer name d1",
    "ip link set d0 up",
    "ip link set d1 up",
];

/// The loaded program in its namespace. Fields drop in order: the program
/// and maps close before the pin directory goes.
pub struct Gw {
    pub dp: Datapath,
    pub pin: PinDir,
    pub ifindex: u32,
}

/// A unique bpffs pin directory, removed on drop, so it goes even when
/// loading fails halfway.
pub struct PinDir(PathBuf);

impl std::ops::Deref for PinDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PIN_PREFIX: &str = "sixgate-pkt-";

impl PinDir {
    fn new() -> PinDir {
        static N: AtomicU32 = AtomicU32::new(0);
        remove_stale_pins();
        PinDir(PathBuf::from(format!(
            "/sys/fs/bpf/{PIN_PREFIX}{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

/// Pin directories of test processes that died without cleaning up (killed
/// by a timeout, say).
fn remove_stale_pins() {
    let Ok(entries) = std::fs::read_dir("/sys/fs/bpf") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PIN_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next() else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Gw {
    /// Runs one frame through the program as if received on `d0` (a veth whose peer `d1` is up).
    pub fn run(&mut self, frame: &[u8]) -> SkbRun {
        let ifindex = self.ifindex;
        run_skb(self.dp.program(), frame, ifindex).expect("BPF_PROG_TEST_RUN")
    }

    /// Programs pool6 and the served prefix 198.51.100.0/24.
    pub fn configure(&mut self, pool6: &str, wkp_allow_non_global: bool) {
        self.configure_with(pool6, |p| p.wkp_allow_non_global = wkp_allow_non_global);
    }

    /// Like [`Gw::configure`] with no relaxation, after `edit` changed
    /// the parameters.
    pub fn configure_with(&mut self, pool6: &str, edit: impl FnOnce(&mut SiitParams)) {
        let mut params = SiitParams::new(
            pool6.parse().unwrap(),
            vec!["198.51.100.0/24".parse().unwrap()],
        );
        edit(&mut params);
        self.dp.configure(&params).expect("configure");
    }

    /// Every counter's packet count.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.dp
            .counters()
            .expect("counters")
            .into_iter()
            .map(|c| (c.counter.name, c.packets))
            .collect()
    }

    /// Runs `frame` and checks that exactly the counter `name` moved, by one.
    pub fn run_counted(&mut self, frame: &[u8], name: &str) -> SkbRun {
        let before = self.counts();
        let out = self.run(frame);
        let after = self.counts();
        for (k, v) in &after {
            // Frames from test_run are never over 64 KiB: BIGTCP_* stay.
            let want = before[k] + u64::from(*k == name);
            assert_eq!(
                *v, want,
                "counter {k} (expected only {name} to count this packet)"
            );
        }
        assert!(after.contains_key(name), "no counter named {name}");
        out
    }
}

/// Runs `f` on a thread in a fresh network namespace set up by `setup`,
/// with the program loaded. The namespace dies with the thread, so nothing
/// is left behind even if `f` panics.
pub fn with_gateway(setup: &'static [&'static str], f: impl FnOnce(&mut Gw) + Send + 'static) {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "packet tests need root (BPF_PROG_TEST_RUN, network namespaces)"
    );
    let handle = std::thread::spawn(move || {
        // SAFETY: plain syscall; it moves only this thread to a new netns.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        for cmd in setup {
            let out = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .expect("run sh");
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let name = CString::new("d0").unwrap();
        // SAFETY: NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(ifindex, 0, "d0 missing");
        let pin = PinDir::new();
        let dp = Datapath::load(&pin).expect("load the tc program");
        let mut gw = Gw { dp, pin, ifindex };
        f(&mut gw);
    });
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Sets the MTU of the IPv4 route to the client ("lock": forwarding
/// honours a route MTU only then).
pub fn ipv4_route_mtu(mtu: u32) {
    let out = Command::new("ip")
        .args([
            "route",
            "replace",
            "192.0.2.0/24",
            "dev",
            "d0",
            "mtu",
            "lock",
        ])
        .arg(mtu.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
