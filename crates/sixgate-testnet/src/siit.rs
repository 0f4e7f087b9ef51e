//! The standard three-namespace SIIT topology: an IPv4-only client, the
//! gateway, and an IPv6-only server whose address embeds an IPv4 address.
//!
//! ```text
//!  client (IPv4 only)          gw                           server (IPv6 only)
//!  eth0 192.0.2.10/24 ──── gw-v4 192.0.2.1/24
//!                              gw-v6 2001:db8:6::1/64 ──── eth0 2001:db8:6::2/64
//!                                                               2001:db8:64::c633:6402/128
//!  default via 192.0.2.1       2001:db8:64::c633:6400/120   default via 2001:db8:6::1
//!                                via 2001:db8:6::2
//! ```
//!
//! With pool6 `2001:db8:64::/96` serving `198.51.100.0/24`, the client reaches
//! the server at 198.51.100.2 and the server sees the client as
//! 2001:db8:64::c000:20a.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::{Gateway, GatewayConfig, HttpServer, Netns, Result, HTTP_PORT};

/// Client, gateway and server namespaces wired with two veth pairs.
///
/// Fields drop in order: client, gw, server (each kills what runs inside).
#[derive(Debug)]
pub struct SiitTopology {
    /// IPv4-only client namespace (IPv6 disabled).
    pub client: Netns,
    /// Gateway namespace: forwarding on, rp_filter off.
    pub gw: Netns,
    /// IPv6-only server namespace.
    pub server: Netns,
}

impl SiitTopology {
    /// Client's interface.
    pub const CLIENT_IF: &'static str = "eth0";
    /// Gateway's interface facing the client (the config's `ipv4`).
    pub const GW_V4_IF: &'static str = "gw-v4";
    /// Gateway's interface facing the server (the config's `ipv6`).
    pub const GW_V6_IF: &'static str = "gw-v6";
    /// Server's interface.
    pub const SERVER_IF: &'static str = "eth0";

    /// Client's IPv4 address.
    pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    /// Gateway's IPv4 address (the client's default gateway).
    pub const GW_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    /// Prefix length of the client link.
    pub const V4_LINK_PREFIX_LEN: u8 = 24;
    /// Gateway's IPv6 address on the server link (the server's default gateway).
    pub const GW_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 1);
    /// Server's plain address on the server link.
    pub const SERVER_LINK_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 2);
    /// Prefix length of the server link.
    pub const V6_LINK_PREFIX_LEN: u8 = 64;
    /// Server's translatable address: pool6 + 198.51.100.2.
    pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc633, 0x6402);
    /// The server's IPv4 form, which the client uses.
    pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
    /// The client's IPv6 form: pool6 + 192.0.2.10, what the server sees.
    pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc000, 0x020a);
    /// The RFC 6052 prefix (network-specific, since documentation IPv4 is non-global).
    pub const POOL6: &'static str = "2001:db8:64::/96";
    /// IPv4 prefix the gateway serves (the servers' IPv4 forms).
    pub const IPV4_PREFIX: &'static str = "198.51.100.0/24";
    /// Route in the gateway to the servers' translatable addresses.
    pub const SERVER_ROUTE: &'static str = "2001:db8:64::c633:6400/120";

    /// Builds the topology: namespaces, veth pairs, addresses, routes, sysctls.
    pub fn new() -> Result<SiitTopology> {
        let topo = SiitTopology {
            client: Netns::new("client")?,
            gw: Netns::new("gw")?,
            server: Netns::new("server")?,
        };
        topo.configure()?;
        Ok(topo)
    }

    fn configure(&self) -> Result<()> {
        let (client, gw, server) = (&self.client, &self.gw, &self.server);

        // Sysctls that new interfaces inherit from `default`.
        for key in ["all", "default"] {
            client.sysctl(&format!("net.ipv6.conf.{key}.disable_ipv6"), "1")?;
            for ns in [gw, server] {
                ns.sysctl(&format!("net.ipv6.conf.{key}.accept_dad"), "0")?;
            }
            gw.sysctl(&format!("net.ipv4.conf.{key}.rp_filter"), "0")?;
            server.sysctl(&format!("net.ipv6.conf.{key}.accept_ra"), "0")?;
        }
        gw.sysctl("net.ipv4.ip_forward", "1")?;
        gw.sysctl("net.ipv6.conf.all.forwarding", "1")?;

        // veth pairs created directly in their namespaces: no root-ns names.
        client.veth(Self::CLIENT_IF, gw, Self::GW_V4_IF)?;
        server.veth(Self::SERVER_IF, gw, Self::GW_V6_IF)?;
        for dev in [Self::GW_V4_IF, Self::GW_V6_IF] {
            gw.sysctl(&format!("net.ipv4.conf.{dev}.rp_filter"), "0")?;
            gw.sysctl(&format!("net.ipv6.conf.{dev}.accept_dad"), "0")?;
        }
        client.sysctl(
            &format!("net.ipv6.conf.{}.disable_ipv6", Self::CLIENT_IF),
            "1",
        )?;
        server.sysctl(
            &format!("net.ipv6.conf.{}.accept_dad", Self::SERVER_IF),
            "0",
        )?;

        // Redirect into a veth needs NAPI on the receiving peer: GRO on.
        client.run("ethtool", ["-K", Self::CLIENT_IF, "gro", "on"])?;
        server.run("ethtool", ["-K", Self::SERVER_IF, "gro", "on"])?;

        client.ip(["link", "set", Self::CLIENT_IF, "up"])?;
        gw.ip(["link", "set", Self::GW_V4_IF, "up"])?;
        gw.ip(["link", "set", Self::GW_V6_IF, "up"])?;
        server.ip(["link", "set", Self::SERVER_IF, "up"])?;

        let v4 = |a: Ipv4Addr| format!("{a}/{}", Self::V4_LINK_PREFIX_LEN);
        let v6 = |a: Ipv6Addr| format!("{a}/{}", Self::V6_LINK_PREFIX_LEN);
        client.ip(["addr", "add", &v4(Self::CLIENT_V4), "dev", Self::CLIENT_IF])?;
        gw.ip(["addr", "add", &v4(Self::GW_V4), "dev", Self::GW_V4_IF])?;
        gw.ip([
            "-6",
            "addr",
            "add",
            &v6(Self::GW_V6),
            "dev",
            Self::GW_V6_IF,
            "nodad",
        ])?;
        server.ip([
            "-6",
            "addr",
            "add",
            &v6(Self::SERVER_LINK_V6),
            "dev",
            Self::SERVER_IF,
            "nodad",
        ])?;
        server.ip([
            "-6",
            "addr",
            "add",
            &format!("{}/128", Self::SERVER_V6),
            "dev",
            Self::SERVER_IF,
            "nodad",
        ])?;

        client.ip([
            "route",
            "add",
            "default",
            "via",
            &Self::GW_V4.to_string(),
            "dev",
            Self::CLIENT_IF,
        ])?;
        gw.ip([
            "-6",
            "route",
            "add",
            Self::SERVER_ROUTE,
            "via",
            &Self::SERVER_LINK_V6.to_string(),
            "dev",
            Self::GW_V6_IF,
        ])?;
        server.ip([
            "-6",
            "route",
            "add",
            "default",
            "via",
            &Self::GW_V6.to_string(),
            "dev",
            Self::SERVER_IF,
        ])?;
        Ok(())
    }

    /// Writes a gateway config for this topology (`gw-v4`/`gw-v6`, pool6
    /// 2001:db8:64::/96 serving 198.51.100.0/24) with a unique pin path.
    pub fn gateway_config(&self) -> Result<GatewayConfig> {
        GatewayConfig::siit(
            Self::GW_V4_IF,
            Self::GW_V6_IF,
            Self::POOL6,
            &[Self::IPV4_PREFIX],
        )
    }

    /// Starts `sixgate run --config ...` in the gw namespace and waits until it is ready.
    pub fn start_gateway(&self, sixgate_exe: &Path, config: &GatewayConfig) -> Result<Gateway> {
        Gateway::start(&self.gw, sixgate_exe, config)
    }

    /// Starts the test HTTP server in the server namespace on [`HTTP_PORT`].
    pub fn start_http_server(&self) -> Result<HttpServer> {
        HttpServer::start(&self.server, HTTP_PORT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_links_and_routes_work_without_gateway() {
        let t = SiitTopology::new().expect("build topology (needs root)");
        // IPv4 client <-> gw.
        t.client
            .run(
                "ping",
                ["-c", "1", "-W", "2", &SiitTopology::GW_V4.to_string()],
            )
            .unwrap();
        // IPv6 gw <-> server, both of the server's addresses.
        t.gw.run(
            "ping",
            [
                "-6",
                "-c",
                "1",
                "-W",
                "2",
                &SiitTopology::SERVER_LINK_V6.to_string(),
            ],
        )
        .unwrap();
        t.gw.run(
            "ping",
            [
                "-6",
                "-c",
                "1",
                "-W",
                "2",
                &SiitTopology::SERVER_V6.to_string(),
            ],
        )
        .unwrap();
        t.server
            .run(
                "ping",
                ["-6", "-c", "1", "-W", "2", &SiitTopology::GW_V6.to_string()],
            )
            .unwrap();
        // The client really is IPv4-only, the server IPv6-only.
        let c = t.client.ip(["-6", "addr", "show"]).unwrap();
        assert!(c.trim().is_empty(), "client has IPv6 addresses: {c}");
        let s = t.server.ip(["-4", "addr", "show", "dev", "eth0"]).unwrap();
        assert!(s.trim().is_empty(), "server has IPv4 addresses: {s}");
        // Forwarding in gw.
        let f = t.gw.run("cat", ["/proc/sys/net/ipv4/ip_forward"]).unwrap();
        assert_eq!(f.trim(), "1");
        // Nothing attached yet, and the query itself works (TCX, tc, XDP).
        let attached = t.gw.attached_bpf(SiitTopology::GW_V4_IF).unwrap();
        assert!(attached.is_empty(), "{attached:?}");
        let gro = t.client.run("ethtool", ["-k", "eth0"]).unwrap();
        assert!(gro.contains("generic-receive-offload: on"), "{gro}");

        let names: Vec<String> = [&t.client, &t.gw, &t.server]
            .iter()
            .map(|n| n.name().to_string())
            .collect();
        drop(t);
        for n in names {
            assert!(
                !std::path::Path::new("/run/netns").join(&n).exists(),
                "{n} left behind"
            );
        }
    }

    #[test]
    fn config_file_has_unique_pin_path_and_is_removed() {
        let c1 = GatewayConfig::siit("a", "b", SiitTopology::POOL6, &[SiitTopology::IPV4_PREFIX])
            .unwrap();
        let c2 = GatewayConfig::siit("a", "b", SiitTopology::POOL6, &[SiitTopology::IPV4_PREFIX])
            .unwrap();
        assert_ne!(c1.pin_path, c2.pin_path);
        let text = std::fs::read_to_string(&c1.path).unwrap();
        assert!(text.contains("pool6 = \"2001:db8:64::/96\""), "{text}");
        assert!(
            text.contains(&format!("pin_path = \"{}\"", c1.pin_path.display())),
            "{text}"
        );
        let path = c1.path.clone();
        drop(c1);
        assert!(!path.exists());
    }
}
