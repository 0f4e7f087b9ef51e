//! Plain IPv6 routing through a gateway namespace, no translation: the
//! ceiling the benchmarks compare the translators with. Same namespaces,
//! veth pairs, interface names and GRO settings as [`crate::SiitTopology`],
//! but the client speaks IPv6 too.
//!
//! ```text
//!  client (IPv6)              gw (forwarding only)         server (IPv6)
//!  eth0 2001:db8:4::10/64 ──── gw-v4 2001:db8:4::1/64
//!                              gw-v6 2001:db8:6::1/64 ──── eth0 2001:db8:6::2/64
//!  default via 2001:db8:4::1                               default via 2001:db8:6::1
//! ```

use std::net::Ipv6Addr;

use crate::{Netns, Result};

/// Client, gateway and server namespaces routing IPv6 end to end.
///
/// Fields drop in order: client, gw, server (each kills what runs inside).
#[derive(Debug)]
pub struct RoutedTopology {
    /// Client namespace (IPv6).
    pub client: Netns,
    /// Gateway namespace: IPv6 forwarding on.
    pub gw: Netns,
    /// Server namespace (IPv6).
    pub server: Netns,
}

impl RoutedTopology {
    /// Client's interface.
    pub const CLIENT_IF: &'static str = "eth0";
    /// Gateway's interface facing the client (named as in `SiitTopology`).
    pub const GW_CLIENT_IF: &'static str = "gw-v4";
    /// Gateway's interface facing the server.
    pub const GW_SERVER_IF: &'static str = "gw-v6";
    /// Server's interface.
    pub const SERVER_IF: &'static str = "eth0";
    /// Client's address.
    pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
    /// Gateway's address on the client link (the client's default gateway).
    pub const GW_CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 1);
    /// Gateway's address on the server link (the server's default gateway).
    pub const GW_SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 1);
    /// Server's address.
    pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 2);
    /// Prefix length of both links.
    pub const PREFIX_LEN: u8 = 64;

    /// Builds the topology with every link at the default MTU (1500).
    pub fn new() -> Result<RoutedTopology> {
        Self::with_gw_mtu(None)
    }

    /// Builds the topology; `gw_mtu` sets the MTU of the gateway's two
    /// interfaces (the hosts' stay at 1500), e.g. 1508 to leave room for
    /// the 8-byte jumbo Hop-by-Hop header of forwarded BIG TCP packets.
    pub fn with_gw_mtu(gw_mtu: Option<u32>) -> Result<RoutedTopology> {
        let topo = RoutedTopology {
            client: Netns::new("client")?,
            gw: Netns::new("gw")?,
            server: Netns::new("server")?,
        };
        topo.configure(gw_mtu)?;
        Ok(topo)
    }

    fn configure(&self, gw_mtu: Option<u32>) -> Result<()> {
        let (client, gw, server) = (&self.client, &self.gw, &self.server);
        for ns in [client, gw, server] {
            for key in ["all", "default"] {
                ns.sysctl(&format!("net.ipv6.conf.{key}.accept_dad"), "0")?;
                ns.sysctl(&format!("net.ipv6.conf.{key}.accept_ra"), "0")?;
            }
        }
        gw.sysctl("net.ipv6.conf.all.forwarding", "1")?;

        client.veth(Self::CLIENT_IF, gw, Self::GW_CLIENT_IF)?;
        server.veth(Self::SERVER_IF, gw, Self::GW_SERVER_IF)?;
        // As in SiitTopology: NAPI (GRO) on the hosts' ends.
        client.run("ethtool", ["-K", Self::CLIENT_IF, "gro", "on"])?;
        server.run("ethtool", ["-K", Self::SERVER_IF, "gro", "on"])?;
        if let Some(mtu) = gw_mtu {
            let mtu = mtu.to_string();
            for dev in [Self::GW_CLIENT_IF, Self::GW_SERVER_IF] {
                gw.ip(["link", "set", dev, "mtu", &mtu])?;
            }
        }
        client.ip(["link", "set", Self::CLIENT_IF, "up"])?;
        gw.ip(["link", "set", Self::GW_CLIENT_IF, "up"])?;
        gw.ip(["link", "set", Self::GW_SERVER_IF, "up"])?;
        server.ip(["link", "set", Self::SERVER_IF, "up"])?;

        let addr = |ns: &Netns, a: Ipv6Addr, dev: &str| {
            ns.ip([
                "-6",
                "addr",
                "add",
                &format!("{a}/{}", Self::PREFIX_LEN),
                "dev",
                dev,
                "nodad",
            ])
        };
        addr(client, Self::CLIENT_V6, Self::CLIENT_IF)?;
        addr(gw, Self::GW_CLIENT_V6, Self::GW_CLIENT_IF)?;
        addr(gw, Self::GW_SERVER_V6, Self::GW_SERVER_IF)?;
        addr(server, Self::SERVER_V6, Self::SERVER_IF)?;
        client.ip([
            "-6",
            "route",
            "add",
            "default",
            "via",
            &Self::GW_CLIENT_V6.to_string(),
            "dev",
            Self::CLIENT_IF,
        ])?;
        server.ip([
            "-6",
            "route",
            "add",
            "default",
            "via",
            &Self::GW_SERVER_V6.to_string(),
            "dev",
            Self::SERVER_IF,
        ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routed_topology_forwards_ipv6_at_the_chosen_mtu() {
        let t = RoutedTopology::with_gw_mtu(Some(1508)).expect("build topology (needs root)");
        t.client
            .run(
                "ping",
                [
                    "-6",
                    "-c",
                    "1",
                    "-W",
                    "2",
                    &RoutedTopology::SERVER_V6.to_string(),
                ],
            )
            .unwrap();
        let link =
            t.gw.ip(["link", "show", RoutedTopology::GW_SERVER_IF])
                .unwrap();
        assert!(link.contains("mtu 1508"), "{link}");
    }
}
