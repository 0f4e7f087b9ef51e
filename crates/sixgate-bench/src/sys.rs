//! Process-wide plumbing: Ctrl-C, CPU pinning, the machine description, and
//! counters read from `/proc` inside a namespace.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sixgate_testnet::Netns;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    sixgate_testnet::interrupt();
}

/// Makes SIGINT and SIGTERM stop the run at the next check, so that every
/// namespace, pin and child process is cleaned up on the way out.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores atomics, which is signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Whether Ctrl-C (or SIGTERM) was received.
pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Fails once Ctrl-C (or SIGTERM) was received.
pub fn check_stop() -> Result<()> {
    if stopping() {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps `d`, waking early (with an error) on Ctrl-C.
pub fn sleep(d: std::time::Duration) -> Result<()> {
    let end = std::time::Instant::now() + d;
    loop {
        check_stop()?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(std::time::Duration::from_millis(50)));
    }
}

/// Pins the calling thread to `cpu`.
pub fn pin_thread(cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context(format!("pin thread to CPU {cpu}"));
    }
    Ok(())
}

/// What the results are headed with.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `nproc`.
    pub nproc: usize,
    /// `uname -r`.
    pub kernel: String,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// MemTotal in GiB.
    pub mem_gib: f64,
    /// /proc/loadavg when the run started.
    pub loadavg_start: String,
    /// /proc/loadavg when the run ended.
    pub loadavg_end: String,
}

impl Machine {
    /// Describes this machine now.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            mem_gib: mem_total_kib(&meminfo).map_or(0.0, |k| k as f64 / 1024.0 / 1024.0),
            loadavg_start: loadavg(),
            loadavg_end: String::new(),
        }
    }
}

/// The first three fields of /proc/loadavg.
pub fn loadavg() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Packet and drop counters of one interface, from /proc/net/dev.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DevCounters {
    /// Received packets.
    pub rx_packets: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Sent packets.
    pub tx_packets: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
}

impl DevCounters {
    /// `self - before`, field by field (saturating).
    pub fn since(&self, before: &DevCounters) -> DevCounters {
        DevCounters {
            rx_packets: self.rx_packets.saturating_sub(before.rx_packets),
            rx_dropped: self.rx_dropped.saturating_sub(before.rx_dropped),
            tx_packets: self.tx_packets.saturating_sub(before.tx_packets),
            tx_dropped: self.tx_dropped.saturating_sub(before.tx_dropped),
        }
    }
}

/// Parses `ifname`'s line of /proc/net/dev.
pub fn parse_net_dev(text: &str, ifname: &str) -> Option<DevCounters> {
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != ifname {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // rx: bytes packets errs drop fifo frame compressed multicast
        // tx: bytes packets errs drop fifo colls carrier compressed
        if v.len() < 16 {
            return None;
        }
        return Some(DevCounters {
            rx_packets: v[1],
            rx_dropped: v[3],
            tx_packets: v[9],
            tx_dropped: v[11],
        });
    }
    None
}

/// The counters of `ifname` in namespace `ns`.
pub fn dev_counters(ns: &Netns, ifname: &str) -> Result<DevCounters> {
    let text = ns
        .run_in(|| std::fs::read_to_string("/proc/thread-self/net/dev"))?
        .context("read /proc/net/dev")?;
    parse_net_dev(&text, ifname).with_context(|| format!("no {ifname} in {}", ns.name()))
}

/// A field of a `Proto:` header/values line pair of /proc/net/snmp.
fn snmp_field(snmp: &str, proto: &str, field: &str) -> Option<u64> {
    let tag = format!("{proto}:");
    let mut lines = snmp.lines().filter(|l| l.starts_with(&tag));
    let names = lines.next()?;
    let values = lines.next()?;
    let idx = names.split_whitespace().position(|n| n == field)?;
    values.split_whitespace().nth(idx)?.parse().ok()
}

/// A `Name value` line of /proc/net/snmp6.
fn snmp6_field(snmp6: &str, field: &str) -> Option<u64> {
    snmp6.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == field).then(|| it.next()?.parse().ok())?
    })
}

/// UDP datagrams that reached a namespace's UDP layer, IPv4 and IPv6
/// together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UdpCounters {
    /// Delivered to a socket, or dropped only because the socket was full
    /// (InDatagrams + RcvbufErrors + MemErrors): packets that arrived intact.
    pub arrived: u64,
    /// Dropped for a bad checksum.
    pub csum_errors: u64,
    /// Dropped because no socket listened.
    pub no_ports: u64,
}

impl UdpCounters {
    /// `self - before`.
    pub fn since(&self, before: &UdpCounters) -> UdpCounters {
        UdpCounters {
            arrived: self.arrived.saturating_sub(before.arrived),
            csum_errors: self.csum_errors.saturating_sub(before.csum_errors),
            no_ports: self.no_ports.saturating_sub(before.no_ports),
        }
    }
}

/// Parses the UDP counters of /proc/net/snmp and /proc/net/snmp6.
pub fn parse_udp_counters(snmp: &str, snmp6: &str) -> UdpCounters {
    let v4 = |f: &str| snmp_field(snmp, "Udp", f).unwrap_or(0);
    let v6 = |f: &str| snmp6_field(snmp6, &format!("Udp6{f}")).unwrap_or(0);
    let both = |f: &str| v4(f) + v6(f);
    UdpCounters {
        arrived: both("InDatagrams") + both("RcvbufErrors") + both("MemErrors"),
        csum_errors: both("InCsumErrors"),
        no_ports: both("NoPorts"),
    }
}

/// The UDP counters of namespace `ns`.
pub fn udp_counters(ns: &Netns) -> Result<UdpCounters> {
    let (snmp, snmp6) = ns.run_in(|| {
        (
            std::fs::read_to_string("/proc/thread-self/net/snmp"),
            std::fs::read_to_string("/proc/thread-self/net/snmp6"),
        )
    })?;
    Ok(parse_udp_counters(
        &snmp.context("read /proc/net/snmp")?,
        // IPv6 disabled in the namespace: no snmp6 file.
        &snmp6.unwrap_or_default(),
    ))
}

/// `Tcp: OutSegs` from /proc/net/snmp: TCP segments sent, counting each
/// MSS-sized segment of a GSO super-packet.
pub fn parse_tcp_out_segs(snmp: &str) -> Option<u64> {
    snmp_field(snmp, "Tcp", "OutSegs")
}

/// TCP segments sent so far by namespace `ns`.
pub fn tcp_out_segs(ns: &Netns) -> Result<u64> {
    let text = ns
        .run_in(|| std::fs::read_to_string("/proc/thread-self/net/snmp"))?
        .context("read /proc/net/snmp")?;
    parse_tcp_out_segs(&text).context("no Tcp OutSegs in /proc/net/snmp")
}

/// The index of interface `ifname` in the calling thread's namespace.
pub fn ifindex(ifname: &str) -> Result<u32> {
    let c = std::ffi::CString::new(ifname).context("interface name")?;
    // SAFETY: c is NUL-terminated.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => bail!("no interface {ifname}"),
        i => Ok(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_line_is_parsed() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  \
            eth0: 1000      10    0    2    0     0          0         0     2000      20    0    3    0     0       0          0\n";
        assert_eq!(
            parse_net_dev(text, "eth0"),
            Some(DevCounters {
                rx_packets: 10,
                rx_dropped: 2,
                tx_packets: 20,
                tx_dropped: 3
            })
        );
        assert_eq!(parse_net_dev(text, "eth1"), None);
    }

    #[test]
    fn out_segs_is_found_by_name() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Tcp: RtoAlgorithm RtoMin OutSegs RetransSegs\nTcp: 1 200 12345 7\n";
        assert_eq!(parse_tcp_out_segs(snmp), Some(12345));
        assert_eq!(parse_tcp_out_segs("Ip: a\nIp: 1\n"), None);
    }

    #[test]
    fn udp_counters_add_both_families() {
        let snmp = "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
                    Udp: 10 1 7 0 5 0 2 0 1\n";
        let snmp6 = "Udp6InDatagrams                 \t100\nUdp6NoPorts 3\nUdp6RcvbufErrors 50\nUdp6InCsumErrors 4\n";
        assert_eq!(
            parse_udp_counters(snmp, snmp6),
            UdpCounters {
                arrived: 10 + 5 + 1 + 100 + 50,
                csum_errors: 6,
                no_ports: 4
            }
        );
        assert_eq!(parse_udp_counters("", "").arrived, 0);
    }

    #[test]
    fn cpu_model_and_memory() {
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC\n").as_deref(),
            Some("AMD EPYC")
        );
        assert_eq!(
            mem_total_kib("MemTotal:       24000000 kB\n"),
            Some(24_000_000)
        );
    }

    #[test]
    fn since_subtracts() {
        let a = DevCounters {
            rx_packets: 5,
            rx_dropped: 1,
            tx_packets: 7,
            tx_dropped: 0,
        };
        let b = DevCounters {
            rx_packets: 15,
            rx_dropped: 1,
            tx_packets: 9,
            tx_dropped: 4,
        };
        assert_eq!(
            b.since(&a),
            DevCounters {
                rx_packets: 10,
                rx_dropped: 0,
                tx_packets: 2,
                tx_dropped: 4
            }
        );
    }
}
