//! The NAT46 service topology: an IPv4-only client, the gateway, and two
//! IPv6-only "clusters" behind a fabric router, each with its own prefix
//! and real HTTP backends.
//!
//! ```text
//!  client (IPv4 only)      gw                        fabric                  cluster-a
//!  eth0 192.0.2.10/24 ─── gw-v4 192.0.2.1/24                            ┌─ eth0 2001:db8:a::2/64
//!       192.0.2.20/24      gw-v6 2001:db8:6::1/64 ─── to-gw 2001:db8:6::2│    backends ::10, ::11
//!  default via .1          ::/0 via 2001:db8:6::2     to-a 2001:db8:a::1 ┘
//!                                                     to-b 2001:db8:b::1 ─── cluster-b
//!                                                     ::/0 via 2001:db8:6::1   eth0 2001:db8:b::2/64
//!                                                                              backend ::10
//! ```
//!
//! The fabric sends everything it does not know (SNAT addresses, the
//! preserve prefix, pool6) back to the gateway, as a data-centre fabric
//! routes a translator's prefixes to it.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{HttpServer, Netns, Result};

/// Client, gateway, fabric and two cluster namespaces.
///
/// Fields drop in order; each namespace kills what runs inside.
#[derive(Debug)]
pub struct Nat46Topology {
    /// IPv4-only client with two addresses ([`Self::CLIENT_V4`], [`Self::OTHER_CLIENT_V4`]).
    pub client: Netns,
    /// The gateway: forwarding on, rp_filter off.
    pub gw: Netns,
    /// The IPv6 router between the gateway and the clusters.
    pub fabric: Netns,
    /// Cluster A: backends 2001:db8:a::10 and ::11.
    pub cluster_a: Netns,
    /// Cluster B: backend 2001:db8:b::10.
    pub cluster_b: Netns,
}

impl Nat46Topology {
    /// Gateway's interface facing the client.
    pub const GW_V4_IF: &'static str = "gw-v4";
    /// Gateway's interface facing the fabric.
    pub const GW_V6_IF: &'static str = "gw-v6";
    /// The client's usual address (inside the test's source ranges).
    pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    /// The client's second address (outside them).
    pub const OTHER_CLIENT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
    /// Gateway's IPv4 address.
    pub const GW_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    /// Gateway's IPv6 address towards the fabric.
    pub const GW_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 1);
    /// The fabric's address on the gateway link.
    pub const FABRIC_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 2);
    /// The backends: two in cluster A, one in cluster B.
    pub const BACKENDS: [Ipv6Addr; 3] = [
        Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x10),
        Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 0x11),
        Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 0x10),
    ];
    /// SIIT's pool6 (the config requires one; services do not use it).
    pub const POOL6: &'static str = "2001:db8:64::/96";
    /// SIIT's served IPv4 prefix.
    pub const IPV4_PREFIX: &'static str = "198.51.100.0/24";
    /// Gateway-mode source address.
    pub const SNAT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x46, 0, 0, 0, 0, 1);
    /// Preserve-mode prefix: backends see it + the client's IPv4 address.
    pub const PRESERVE_PREFIX: &'static str = "2001:db8:46:4::/96";
    /// The VIPs' network (outside SIIT's served prefix).
    pub const VIP_NET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 0);

    /// Builds the topology: namespaces, veth pairs, addresses, routes, sysctls.
    pub fn new() -> Result<Nat46Topology> {
        let topo = Nat46Topology {
            client: Netns::new("client")?,
            gw: Netns::new("gw")?,
            fabric: Netns::new("fabric")?,
            cluster_a: Netns::new("cluster-a")?,
            cluster_b: Netns::new("cluster-b")?,
        };
        topo.configure()?;
        Ok(topo)
    }

    fn configure(&self) -> Result<()> {
        let v6_nodes = [&self.gw, &self.fabric, &self.cluster_a, &self.cluster_b];
        for key in ["all", "default"] {
            self.client
                .sysctl(&format!("net.ipv6.conf.{key}.disable_ipv6"), "1")?;
            for ns in v6_nodes {
                ns.sysctl(&format!("net.ipv6.conf.{key}.accept_dad"), "0")?;
                ns.sysctl(&format!("net.ipv6.conf.{key}.accept_ra"), "0")?;
            }
            self.gw
                .sysctl(&format!("net.ipv4.conf.{key}.rp_filter"), "0")?;
        }
        self.gw.sysctl("net.ipv4.ip_forward", "1")?;
        for ns in [&self.gw, &self.fabric] {
            ns.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        }

        let links: [(&Netns, &str, &Netns, &str); 4] = [
            (&self.client, "eth0", &self.gw, Self::GW_V4_IF),
            (&self.gw, Self::GW_V6_IF, &self.fabric, "to-gw"),
            (&self.fabric, "to-a", &self.cluster_a, "eth0"),
            (&self.fabric, "to-b", &self.cluster_b, "eth0"),
        ];
        for (ns, dev, peer, peer_dev) in links {
            ns.veth(dev, peer, peer_dev)?;
            for (n, d) in [(ns, dev), (peer, peer_dev)] {
                // Redirect into a veth needs NAPI on the receiving peer.
                n.run("ethtool", ["-K", d, "gro", "on"])?;
                n.ip(["link", "set", d, "up"])?;
            }
        }
        self.gw
            .sysctl(&format!("net.ipv4.conf.{}.rp_filter", Self::GW_V4_IF), "0")?;

        let addr = |ns: &Netns, a: String, dev: &str| -> Result<()> {
            if a.contains(':') {
                ns.ip(["-6", "addr", "add", &a, "dev", dev, "nodad"])
                    .map(drop)
            } else {
                ns.ip(["addr", "add", &a, "dev", dev]).map(drop)
            }
        };
        addr(&self.client, format!("{}/24", Self::CLIENT_V4), "eth0")?;
        addr(
            &self.client,
            format!("{}/24", Self::OTHER_CLIENT_V4),
            "eth0",
        )?;
        addr(&self.gw, format!("{}/24", Self::GW_V4), Self::GW_V4_IF)?;
        addr(&self.gw, format!("{}/64", Self::GW_V6), Self::GW_V6_IF)?;
        addr(&self.fabric, format!("{}/64", Self::FABRIC_V6), "to-gw")?;
        addr(&self.fabric, "2001:db8:a::1/64".into(), "to-a")?;
        addr(&self.fabric, "2001:db8:b::1/64".into(), "to-b")?;
        addr(&self.cluster_a, "2001:db8:a::2/64".into(), "eth0")?;
        addr(&self.cluster_b, "2001:db8:b::2/64".into(), "eth0")?;
        for b in Self::BACKENDS {
            let ns = if b.segments()[2] == 0xa {
                &self.cluster_a
            } else {
                &self.cluster_b
            };
            addr(ns, format!("{b}/128"), "eth0")?;
        }

        let route = |ns: &Netns, args: &[&str]| ns.ip(args).map(drop);
        route(
            &self.client,
            &["route", "add", "default", "via", &Self::GW_V4.to_string()],
        )?;
        route(
            &self.gw,
            &[
                "-6",
                "route",
                "add",
                "default",
                "via",
                &Self::FABRIC_V6.to_string(),
            ],
        )?;
        route(
            &self.fabric,
            &[
                "-6",
                "route",
                "add",
                "default",
                "via",
                &Self::GW_V6.to_string(),
            ],
        )?;
        route(
            &self.cluster_a,
            &["-6", "route", "add", "default", "via", "2001:db8:a::1"],
        )?;
        route(
            &self.cluster_b,
            &["-6", "route", "add", "default", "via", "2001:db8:b::1"],
        )?;
        Ok(())
    }

    /// The namespace backend `addr` lives in.
    pub fn cluster_of(&self, addr: Ipv6Addr) -> &Netns {
        if addr.segments()[2] == 0xa {
            &self.cluster_a
        } else {
            &self.cluster_b
        }
    }

    /// Starts an HTTP server on `[addr]:port` in the backend's cluster.
    pub fn start_backend(&self, addr: Ipv6Addr, port: u16) -> Result<HttpServer> {
        HttpServer::start_on(self.cluster_of(addr), &addr.to_string(), port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_is_reachable_from_the_gateway_and_routes_back() {
        let t = Nat46Topology::new().expect("build topology (needs root)");
        for b in Nat46Topology::BACKENDS {
            // Through the fabric and back by its default route.
            t.gw.run("ping", ["-6", "-c", "1", "-W", "2", &b.to_string()])
                .unwrap();
        }
        t.client
            .run(
                "ping",
                ["-c", "1", "-W", "2", &Nat46Topology::GW_V4.to_string()],
            )
            .unwrap();
        let routes = t.fabric.ip(["-6", "route", "show", "default"]).unwrap();
        assert!(
            routes.contains(&Nat46Topology::GW_V6.to_string()),
            "fabric default route: {routes}"
        );
    }
}
