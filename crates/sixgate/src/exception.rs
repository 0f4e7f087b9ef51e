//! The exception path, daemon side: a TAP device the programs redirect what
//! they cannot finish to (bpf/lib/exception.h), and a thread that finishes
//! each packet with the reference translator (`sixgate_wire::xlat`) and
//! sends the result with raw sockets, so the kernel routes it like any
//! locally sent packet. Every packet read is counted by outcome in the
//! pinned `sixgate_exc_counters` map (`sixgate stats` shows them).

use std::fs::File;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sixgate_bpf::exception::{
    exc_counter_index, exc_drop_index, ExcCounters, ExcMeta, ExceptionParams, ETH_HLEN,
};
use sixgate_wire::xlat::{translate, Outcome, XlatConfig};
use tracing::{debug, info, warn};

use crate::config::{Config, ExceptionSettings};

/// `TUNSETIFF` from linux/if_tun.h.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `IFF_TAP`, `IFF_NO_PI` from linux/if_tun.h.
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// The largest MTU a TAP device takes (65535 less the Ethernet header):
/// nothing the programs hand over is cut.
const TAP_MTU: libc::c_int = 65535 - ETH_HLEN as libc::c_int;
/// How often the same kind of failure is logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// `struct ifreq`: the name, then a union of which we use flags and mtu.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> IfReq {
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            data: [0; 24],
        };
        r.name[..name.len()].copy_from_slice(name.as_bytes());
        r
    }
}

/// The daemon's TAP device, created and up, not yet read.
pub struct ExceptionPath {
    tap: File,
    device: String,
    ifindex: u32,
    settings: ExceptionSettings,
}

impl ExceptionPath {
    /// Creates the TAP device (IPv6 off, so the kernel sends nothing on
    /// it), sets its MTU and brings it up. The device goes when the daemon
    /// exits.
    pub fn create(settings: &ExceptionSettings) -> anyhow::Result<ExceptionPath> {
        let device = settings.device.as_str();
        let what = || format!("creating the exception-path TAP device {device}");
        let tap = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .with_context(|| format!("{}: opening /dev/net/tun", what()))?;
        let mut req = IfReq::new(device);
        req.data[..2].copy_from_slice(&(IFF_TAP | IFF_NO_PI).to_ne_bytes());
        // SAFETY: TUNSETIFF reads and writes a struct ifreq, which req is.
        if unsafe { libc::ioctl(tap.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            let e = io::Error::last_os_error();
            return Err(anyhow::Error::from(e).context(format!(
                "{}: TUNSETIFF (is another process using it, or an interface of another \
                 kind named {device}?)",
                what()
            )));
        }
        // Before it is up: no link-local address, no router solicitations.
        let sysctl = format!("/proc/sys/net/ipv6/conf/{device}/disable_ipv6");
        if Path::new(&sysctl).exists() {
            std::fs::write(&sysctl, "1").with_context(|| format!("{}: {sysctl}", what()))?;
        }
        let ctl = socket(libc::AF_INET, libc::SOCK_DGRAM, 0).with_context(what)?;
        let mut req = IfReq::new(device);
        req.data[..4].copy_from_slice(&TAP_MTU.to_ne_bytes());
        ioctl(&ctl, libc::SIOCSIFMTU, &mut req).with_context(|| format!("{}: MTU", what()))?;
        let mut req = IfReq::new(device);
        ioctl(&ctl, libc::SIOCGIFFLAGS, &mut req).with_context(what)?;
        let flags = libc::c_short::from_ne_bytes([req.data[0], req.data[1]])
            | (libc::IFF_UP | libc::IFF_NOARP) as libc::c_short;
        req.data[..2].copy_from_slice(&flags.to_ne_bytes());
        ioctl(&ctl, libc::SIOCSIFFLAGS, &mut req).with_context(|| format!("{}: up", what()))?;
        let ifindex = crate::config::interface_index(device)
            .with_context(|| format!("{}: no index after creating it", what()))?;
        Ok(ExceptionPath {
            tap,
            device: device.to_string(),
            ifindex,
            settings: settings.clone(),
        })
    }

    /// What the programs need to hand packets here.
    pub fn params(&self) -> ExceptionParams {
        ExceptionParams {
            ifindex: self.ifindex,
            rate: self.settings.rate,
            burst: self.settings.burst,
        }
    }

    /// Reads and finishes packets on a thread of its own, for as long as
    /// the daemon runs.
    pub fn spawn(self, config: &Config) -> anyhow::Result<()> {
        let counters =
            ExcCounters::open(&config.pin_path).context("opening the exception-path counters")?;
        let worker = Worker {
            xlat: xlat_config(config),
            sender: RawSender::new().context("opening raw sockets for the exception path")?,
            counters,
            last_log: None,
        };
        info!(
            device = %self.device,
            ifindex = self.ifindex,
            rate = self.settings.rate,
            burst = self.settings.burst,
            "exception path ready"
        );
        std::thread::Builder::new()
            .name("sixgate-exception".into())
            .spawn(move || worker.run(self.tap))
            .context("starting the exception-path thread")?;
        Ok(())
    }
}

/// The reference translator's configuration, from the daemon's: the same
/// translation the programs do.
pub fn xlat_config(config: &Config) -> XlatConfig {
    let mut x = XlatConfig::new(config.pool6);
    x.ipv4_prefixes = config.ipv4_prefixes.clone();
    x.wkp_allow_non_global = config.wkp_allow_non_global;
    x.rfc6791_pool4 = config.rfc6791_pool4.clone();
    x.rfc6791_pool6 = config.rfc6791_pool6;
    x.eamt = config.eamt.clone();
    x.lowest_ipv6_mtu = config.lowest_ipv6_mtu;
    x.udp_zero_checksum = config.udp_zero_checksum;
    x.traffic_class = config.traffic_class;
    x
}

struct Worker {
    xlat: XlatConfig,
    sender: RawSender,
    counters: ExcCounters,
    last_log: Option<Instant>,
}

impl Worker {
    fn run(mut self, mut tap: File) {
        // A whole TAP frame: the largest IP packet plus its Ethernet header.
        let mut buf = vec![0u8; 65535 + ETH_HLEN];
        loop {
            match tap.read(&mut buf) {
                Ok(n) => self.finish(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(error = %e, "exception path: reading the TAP device failed; stopping");
                    return;
                }
            }
        }
    }

    /// One frame from the device: translate, send, count.
    fn finish(&mut self, frame: &[u8]) {
        let meta = match ExcMeta::parse(frame) {
            Ok(m) => m,
            Err(e) => {
                debug!(error = %e, "exception path: not a handed-off frame");
                self.count("exc_malformed", frame.len());
                return;
            }
        };
        let packet = &frame[ETH_HLEN..];
        let ctx = meta.context(self.xlat.lowest_ipv6_mtu);
        match translate(packet, &self.xlat, &ctx) {
            Outcome::Forward(out) => {
                let sent = out.iter().all(|p| self.send(p, meta.counter.name));
                if !sent {
                    self.count("exc_send_failed", packet.len());
                } else if out.len() == 1 {
                    self.count("exc_forward", packet.len());
                } else {
                    self.count("exc_fragmented", packet.len());
                    for p in &out {
                        self.count("exc_fragments_sent", p.len());
                    }
                }
            }
            Outcome::Reply(reply) => {
                let name = if self.send(&reply, meta.counter.name) {
                    "exc_reply"
                } else {
                    "exc_send_failed"
                };
                self.count(name, packet.len());
            }
            Outcome::Drop(reason) => self.add(exc_drop_index(reason), packet.len()),
            Outcome::Pass(_) => self.count("exc_not_ours", packet.len()),
        }
    }

    /// Sends one packet; failures are logged (not too often).
    fn send(&mut self, packet: &[u8], why: &str) -> bool {
        match self.sender.send(packet) {
            Ok(()) => true,
            Err(e) => {
                if self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    self.last_log = Some(Instant::now());
                    warn!(error = %e, reason = why, len = packet.len(),
                          "exception path: sending a translated packet failed (logged at most every 10 s)");
                }
                false
            }
        }
    }

    fn count(&mut self, name: &str, bytes: usize) {
        let index = exc_counter_index(name).expect("a counter in EXC_COUNTERS");
        self.add(index, bytes);
    }

    fn add(&mut self, index: u32, bytes: usize) {
        if let Err(e) = self.counters.add(index, bytes) {
            if self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                self.last_log = Some(Instant::now());
                warn!(error = %e, "exception path: counting failed");
            }
        }
    }
}

/// Raw IPv4 and IPv6 sockets that send whole packets, headers included
/// (IPPROTO_RAW implies IP_HDRINCL / IPV6_HDRINCL).
struct RawSender {
    v4: OwnedFd,
    v6: OwnedFd,
}

impl RawSender {
    fn new() -> io::Result<RawSender> {
        Ok(RawSender {
            v4: socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?,
            v6: socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW)?,
        })
    }

    /// Sends `packet` to its own destination address.
    fn send(&self, packet: &[u8]) -> io::Result<()> {
        let rc = match packet.first().map(|b| b >> 4) {
            Some(4) if packet.len() >= 20 => {
                let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
                // SAFETY: all-zero is a valid sockaddr_in.
                let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
                // SAFETY: buffer and address valid for the lengths given.
                unsafe {
                    libc::sendto(
                        self.v4.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        0,
                        (&sa as *const libc::sockaddr_in).cast(),
                        size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            Some(6) if packet.len() >= 40 => {
                let mut dst = [0u8; 16];
                dst.copy_from_slice(&packet[24..40]);
                let dst = Ipv6Addr::from(dst);
                // SAFETY: all-zero is a valid sockaddr_in6.
                let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_addr.s6_addr = dst.octets();
                // SAFETY: buffer and address valid for the lengths given.
                unsafe {
                    libc::sendto(
                        self.v6.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        0,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not an IP packet",
                ))
            }
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the descriptor is owned from here on.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: the interface ioctls used here read and write a struct ifreq.
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, req as *mut IfReq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
