//! The setups under test, each in its own three-namespace topology so they
//! can be measured in turn without reconfiguring anything:
//!
//! - (a) plain IPv6 routing through the gateway namespace (the ceiling),
//!   all links at MTU 1500;
//! - (a′) the same with the gateway's links at MTU 1508, the ceiling for
//!   BIG TCP (at 1500 the kernel's forward path drops BIG TCP packets);
//! - (b) sixgate stateless SIIT (`sixgate run`, tc program on both links);
//! - (d) Tayga, the userspace NAT64/SIIT from Debian, in the same topology.
//!
//! The addresses are those of `SiitTopology` / `RoutedTopology`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sixgate_netlink::{enable_big_tcp, read_sizes, restore_sizes, LinkSizes, BIG_TCP_DEFAULT_SIZE};
use sixgate_testnet::{Gateway, GatewayConfig, Netns, Process, RoutedTopology, SiitTopology};

use crate::frames::{parse_mac, Macs};
use crate::iperf;

/// Which setup a topology runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// (a) plain IPv6 routing, MTU 1500 everywhere.
    Ceiling,
    /// (a′) plain IPv6 routing, gateway links at MTU 1508.
    Ceiling1508,
    /// (b) sixgate stateless SIIT.
    Sixgate,
    /// (d) Tayga.
    Tayga,
}

impl Kind {
    /// Every setup, in table order.
    pub const ALL: [Kind; 4] = [Kind::Ceiling, Kind::Ceiling1508, Kind::Sixgate, Kind::Tayga];

    /// Label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Ceiling => "(a) plain IPv6 routing",
            Kind::Ceiling1508 => "(a′) plain IPv6 routing, gw MTU 1508",
            Kind::Sixgate => "(b) sixgate stateless",
            Kind::Tayga => "(d) Tayga",
        }
    }

    /// Whether the client speaks IPv4 (a translator sits in the middle).
    pub fn translates(self) -> bool {
        matches!(self, Kind::Sixgate | Kind::Tayga)
    }
}

/// Which way the data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Dir {
    /// Client to server: 4→6 through a translator.
    Fwd,
    /// Server to client: 6→4 through a translator (`iperf3 -R`).
    Rev,
}

impl Dir {
    /// Both directions.
    pub const BOTH: [Dir; 2] = [Dir::Fwd, Dir::Rev];

    /// Label for tables, given the setup.
    pub fn label(self, kind: Kind) -> &'static str {
        match (kind.translates(), self) {
            (true, Dir::Fwd) => "4→6",
            (true, Dir::Rev) => "6→4",
            (false, Dir::Fwd) => "6→6 client→server",
            (false, Dir::Rev) => "6→6 server→client",
        }
    }
}

/// UDP port the packet-rate sinks listen on.
pub const SINK_PORT: u16 = 9;

/// Tayga's configuration: the translation prefix only. Every IPv4 address
/// then maps to `2001:db8:64::<IPv4>` (RFC 6052), the same mapping sixgate
/// uses, so the IPv4 client reaches the IPv6 server at 198.51.100.2 and the
/// server sees the client as 2001:db8:64::c000:20a. No `map` lines and no
/// `dynamic-pool` are needed (they are for IPv6 hosts without an embedded
/// IPv4 address), so no `data-dir` either. `ipv4-addr` is Tayga's own
/// address, used only as the source of ICMPv4 errors it originates.
pub const TAYGA_CONF: &str = "tun-device nat64\n\
    ipv4-addr 203.0.113.1\n\
    prefix 2001:db8:64::/96\n";

/// Routes in the gateway namespace that send traffic into Tayga's TUN.
pub const TAYGA_ROUTES: [&str; 2] = [
    "route add 198.51.100.0/24 dev nat64",
    "-6 route add 2001:db8:64::c000:200/120 dev nat64",
];

enum Net {
    Routed(RoutedTopology),
    Siit(SiitTopology),
}

/// A running Tayga: its temp directory (config) and the process.
struct Tayga {
    _process: Process,
    dir: PathBuf,
}

impl Drop for Tayga {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One interface whose GSO/GRO sizes the bench switches.
#[derive(Debug, Clone)]
struct Link {
    role: Role,
    ifname: String,
    before: LinkSizes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Client,
    Gw,
    Server,
}

/// What BIG TCP looks like on one link once switched on.
#[derive(Debug, Clone, Serialize)]
pub struct BigTcpLink {
    /// `client eth0`, `gw gw-v4`, ...
    pub link: String,
    /// IPv6 GSO/GRO size in force.
    pub gso_max_size: u32,
    /// IPv4 GSO size in force (None: kernel without IPv4 BIG TCP).
    pub gso_ipv4_max_size: Option<u32>,
    /// Warnings from sixgate-netlink (capped sizes, ...).
    pub warnings: Vec<String>,
}

/// One setup's topology and everything running in it. Fields drop in
/// order: servers, sinks and daemons first, the namespaces last.
pub struct Topo {
    /// The setup.
    pub kind: Kind,
    iperf: Option<Process>,
    sinks: Vec<UdpSocket>,
    gateway: Option<Gateway>,
    gw_config: Option<GatewayConfig>,
    tayga: Option<Tayga>,
    links: Vec<Link>,
    big_tcp: bool,
    commands: Vec<(String, String)>,
    net: Net,
}

impl Topo {
    /// Builds the topology for `kind` and starts what it needs (sixgate
    /// or Tayga, an iperf3 server, UDP sinks); checks connectivity.
    pub fn start(kind: Kind, sixgate_exe: &Path) -> Result<Topo> {
        Self::start_with(kind, sixgate_exe, "")
    }

    /// Like [`Topo::start`], with `extra_config` appended to sixgate's
    /// configuration file (TOML tables).
    pub fn start_with(kind: Kind, sixgate_exe: &Path, extra_config: &str) -> Result<Topo> {
        let net = match kind {
            Kind::Ceiling => Net::Routed(RoutedTopology::new()?),
            Kind::Ceiling1508 => Net::Routed(RoutedTopology::with_gw_mtu(Some(1508))?),
            Kind::Sixgate | Kind::Tayga => Net::Siit(SiitTopology::new()?),
        };
        let mut t = Topo {
            kind,
            iperf: None,
            sinks: Vec::new(),
            gateway: None,
            gw_config: None,
            tayga: None,
            links: Vec::new(),
            big_tcp: false,
            commands: Vec::new(),
            net,
        };
        match kind {
            Kind::Sixgate => {
                let Net::Siit(siit) = &t.net else {
                    unreachable!()
                };
                let cfg = siit.gateway_config()?;
                if !extra_config.is_empty() {
                    let text = format!("{}\n{extra_config}", cfg.text());
                    std::fs::write(&cfg.path, text)
                        .with_context(|| format!("write {}", cfg.path.display()))?;
                }
                let gw = siit
                    .start_gateway(sixgate_exe, &cfg)
                    .context("start sixgate")?;
                let line = format!(
                    "nsenter --net=/run/netns/{} {} run --config {}",
                    siit.gw.name(),
                    sixgate_exe.display(),
                    cfg.path.display()
                );
                t.gateway = Some(gw);
                t.gw_config = Some(cfg);
                t.commands
                    .push((format!("{}: translator", kind.label()), line));
            }
            Kind::Tayga => {
                let (tayga, lines) = t.start_tayga()?;
                t.tayga = Some(tayga);
                for (i, l) in lines.into_iter().enumerate() {
                    t.commands
                        .push((format!("{}: translator ({})", kind.label(), i + 1), l));
                }
            }
            Kind::Ceiling | Kind::Ceiling1508 => {}
        }
        let (server, line) = iperf::start_server(t.server())?;
        t.iperf = Some(server);
        t.commands
            .push((format!("{}: iperf3 server", kind.label()), line));
        t.sinks = t.open_sinks()?;
        t.links = t.discover_links()?;
        t.wait_reachable()?;
        Ok(t)
    }

    /// Client namespace.
    pub fn client(&self) -> &Netns {
        match &self.net {
            Net::Routed(r) => &r.client,
            Net::Siit(s) => &s.client,
        }
    }

    /// Gateway namespace.
    pub fn gw(&self) -> &Netns {
        match &self.net {
            Net::Routed(r) => &r.gw,
            Net::Siit(s) => &s.gw,
        }
    }

    /// Server namespace.
    pub fn server(&self) -> &Netns {
        match &self.net {
            Net::Routed(r) => &r.server,
            Net::Siit(s) => &s.server,
        }
    }

    /// The running sixgate daemon, in setup (b).
    pub fn gateway(&self) -> Option<&Gateway> {
        self.gateway.as_ref()
    }

    /// The sixgate config text, in setup (b).
    pub fn gateway_config_text(&self) -> Option<String> {
        self.gw_config.as_ref().map(GatewayConfig::text)
    }

    /// The address the client connects to.
    pub fn dial_addr(&self) -> IpAddr {
        match self.kind {
            Kind::Ceiling | Kind::Ceiling1508 => RoutedTopology::SERVER_V6.into(),
            Kind::Sixgate | Kind::Tayga => SiitTopology::SERVER_V4.into(),
        }
    }

    /// The gateway interface on which traffic of direction `dir` enters.
    pub fn gw_ingress_if(dir: Dir) -> &'static str {
        match dir {
            Dir::Fwd => SiitTopology::GW_V4_IF,
            Dir::Rev => SiitTopology::GW_V6_IF,
        }
    }

    /// The namespace that sends in direction `dir`.
    pub fn sender(&self, dir: Dir) -> &Netns {
        match dir {
            Dir::Fwd => self.client(),
            Dir::Rev => self.server(),
        }
    }

    /// The namespace that receives in direction `dir`.
    pub fn receiver(&self, dir: Dir) -> &Netns {
        match dir {
            Dir::Fwd => self.server(),
            Dir::Rev => self.client(),
        }
    }

    /// A 64-byte UDP frame as the sender of direction `dir` would put it
    /// on the wire towards the gateway, addressed to the receiver's sink.
    pub fn udp_frame(&self, dir: Dir, frame_len: usize) -> Result<Vec<u8>> {
        let gw_if = Self::gw_ingress_if(dir);
        let macs = Macs {
            src: mac(self.sender(dir), "eth0")?,
            dst: mac(self.gw(), gw_if)?,
        };
        let ports = (40_000, SINK_PORT);
        Ok(match (self.kind.translates(), dir) {
            (false, Dir::Fwd) => crate::frames::udp6(
                macs,
                RoutedTopology::CLIENT_V6,
                RoutedTopology::SERVER_V6,
                ports,
                frame_len,
            ),
            (false, Dir::Rev) => crate::frames::udp6(
                macs,
                RoutedTopology::SERVER_V6,
                RoutedTopology::CLIENT_V6,
                ports,
                frame_len,
            ),
            (true, Dir::Fwd) => crate::frames::udp4(
                macs,
                SiitTopology::CLIENT_V4,
                SiitTopology::SERVER_V4,
                ports,
                frame_len,
            ),
            (true, Dir::Rev) => crate::frames::udp6(
                macs,
                SiitTopology::SERVER_V6,
                SiitTopology::CLIENT_V6,
                ports,
                frame_len,
            ),
        })
    }

    /// Restarts the iperf3 server (after a failed run left it busy).
    pub fn restart_iperf(&mut self) -> Result<()> {
        self.iperf = None;
        self.iperf = Some(iperf::start_server(self.server())?.0);
        Ok(())
    }

    /// The commands that set this setup up, labelled.
    pub fn commands(&self) -> &[(String, String)] {
        &self.commands
    }

    /// Whether BIG TCP is on.
    pub fn big_tcp(&self) -> bool {
        self.big_tcp
    }

    /// Switches BIG TCP (196608 on every link of the topology, IPv6 sizes
    /// first, then IPv4) on, or back to the sizes found at start.
    pub fn set_big_tcp(&mut self, on: bool) -> Result<Vec<BigTcpLink>> {
        let mut report = Vec::new();
        for link in &self.links {
            let ns = self.ns(link.role);
            let name = link.ifname.clone();
            let desc = format!("{} {}", role_name(link.role), link.ifname);
            if on {
                let out = ns
                    .run_in(|| enable_big_tcp(&name, BIG_TCP_DEFAULT_SIZE))?
                    .with_context(|| format!("BIG TCP on {desc}"))?;
                report.push(BigTcpLink {
                    link: desc.clone(),
                    gso_max_size: out.after.gso_max_size,
                    gso_ipv4_max_size: out.after.gso_ipv4_max_size,
                    warnings: out.warnings(&desc),
                });
            } else {
                let before = link.before;
                ns.run_in(|| restore_sizes(&name, &before))?
                    .with_context(|| format!("restore GSO/GRO sizes on {desc}"))?;
            }
        }
        self.big_tcp = on;
        Ok(report)
    }

    fn ns(&self, role: Role) -> &Netns {
        match role {
            Role::Client => self.client(),
            Role::Gw => self.gw(),
            Role::Server => self.server(),
        }
    }

    fn discover_links(&self) -> Result<Vec<Link>> {
        let mut names = vec![
            (Role::Client, "eth0"),
            (Role::Gw, SiitTopology::GW_V4_IF),
            (Role::Gw, SiitTopology::GW_V6_IF),
            (Role::Server, "eth0"),
        ];
        if self.kind == Kind::Tayga {
            names.push((Role::Gw, "nat64"));
        }
        let mut links = Vec::new();
        for (role, ifname) in names {
            let before = self
                .ns(role)
                .run_in(|| read_sizes(ifname))?
                .with_context(|| format!("read GSO/GRO sizes of {ifname}"))?;
            links.push(Link {
                role,
                ifname: ifname.to_string(),
                before,
            });
        }
        Ok(links)
    }

    /// UDP sockets on [`SINK_PORT`] at both ends that are never read: the
    /// packet-rate flood ends in a full socket buffer (a cheap drop) rather
    /// than in ICMP port-unreachable errors flowing back.
    fn open_sinks(&self) -> Result<Vec<UdpSocket>> {
        let client_any: IpAddr = if self.kind.translates() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let mut sinks = Vec::new();
        for (ns, any) in [
            (self.client(), client_any),
            (self.server(), Ipv6Addr::UNSPECIFIED.into()),
        ] {
            let s = ns
                .run_in(|| UdpSocket::bind((any, SINK_PORT)))?
                .with_context(|| format!("UDP sink in {}", ns.name()))?;
            sinks.push(s);
        }
        Ok(sinks)
    }

    fn start_tayga(&self) -> Result<(Tayga, Vec<String>)> {
        let gw = self.gw();
        let dir = std::env::temp_dir().join(format!("sixgate-bench-{}-tayga", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let conf = dir.join("tayga.conf");
        std::fs::write(&conf, TAYGA_CONF).context("write tayga.conf")?;
        let conf_s = conf.to_string_lossy().into_owned();
        let mut lines = Vec::new();
        let mktun = gw.cmd("tayga", ["--config", conf_s.as_str(), "--mktun"]);
        lines.push(sixgate_testnet::describe(&mktun));
        sixgate_testnet::run_checked(mktun)
            .context("tayga --mktun (is tayga installed? bench/run installs it)")?;
        gw.ip(["link", "set", "nat64", "up"])?;
        lines.push(format!("ip -n {} link set nat64 up", gw.name()));
        for r in TAYGA_ROUTES {
            gw.ip(r.split_whitespace())?;
            lines.push(format!("ip -n {} {r}", gw.name()));
        }
        let cmd = gw.cmd("tayga", ["--config", conf_s.as_str(), "--nodetach"]);
        lines.push(sixgate_testnet::describe(&cmd));
        let process = gw.spawn(format!("tayga in {}", gw.name()), cmd)?;
        Ok((
            Tayga {
                _process: process,
                dir,
            },
            lines,
        ))
    }

    /// Pings across the gateway both ways (which also fills the neighbour
    /// caches) until it works, for up to 10 s.
    fn wait_reachable(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (to_server, to_client) = match self.kind {
            Kind::Ceiling | Kind::Ceiling1508 => (
                RoutedTopology::SERVER_V6.to_string(),
                RoutedTopology::CLIENT_V6.to_string(),
            ),
            Kind::Sixgate | Kind::Tayga => (
                SiitTopology::SERVER_V4.to_string(),
                SiitTopology::CLIENT_V6.to_string(),
            ),
        };
        loop {
            crate::sys::check_stop()?;
            let a = self
                .client()
                .run("ping", ["-c", "1", "-W", "1", &to_server]);
            let b = self
                .server()
                .run("ping", ["-c", "1", "-W", "1", &to_client]);
            match (a, b) {
                (Ok(_), Ok(_)) => return Ok(()),
                (a, b) if Instant::now() >= deadline => {
                    bail!(
                        "{}: no connectivity through the gateway: client→server {:?}, server→client {:?}",
                        self.kind.label(),
                        a.err(),
                        b.err()
                    )
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Client => "client",
        Role::Gw => "gw",
        Role::Server => "server",
    }
}

/// The MAC address of `ifname` in `ns` (from `ip -br link`: /sys shows
/// the caller's namespace, not `ns`).
pub fn mac(ns: &Netns, ifname: &str) -> Result<[u8; 6]> {
    let out = ns.ip(["-br", "link", "show", "dev", ifname])?;
    out.split_whitespace()
        .find_map(parse_mac)
        .with_context(|| format!("no MAC for {ifname} in `ip -br link`: {out}"))
}
