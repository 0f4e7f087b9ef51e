//! `sixgate status`: what is in force, read from the pins and the kernel:
//! the translator config (with the EAMT), the attached interfaces and their
//! GSO/GRO sizes.

use std::path::Path;

use anyhow::Context as _;
use sixgate_bpf::datapath::pinned_interfaces;
use sixgate_bpf::pinned::{read_config, read_eamt, read_served_prefixes};

use crate::config::Config;
use sixgate_bpf::maps::{SixgateConfig, CFG_RFC6791_POOL6, CFG_TCLASS_SET, CFG_UDP_ZERO_DROP};

/// Prints the status for the pin path (or the config's pin path).
pub fn print(pin_path: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    let pin_path = match config {
        Some(c) => Config::load(c)?.pin_path,
        None => pin_path.to_path_buf(),
    };
    let cfg = read_config(&pin_path).with_context(|| {
        format!(
            "reading the translator config under {} (has `sixgate run` ever run with this pin path?)",
            pin_path.display()
        )
    })?;
    let prefixes = read_served_prefixes(&pin_path)?;
    let attached = pinned_interfaces(&pin_path)?;

    println!("pin path       {}", pin_path.display());
    if cfg.pool6_len == 0 {
        println!("pool6          (not configured)");
    } else {
        let wkp = if cfg.flags & sixgate_bpf::maps::CFG_POOL6_IS_WKP == 0 {
            ""
        } else if cfg.flags & sixgate_bpf::maps::CFG_WKP_ALLOW_NON_GLOBAL == 0 {
            " (well-known prefix: non-global IPv4 dropped, RFC 6052 3.1)"
        } else {
            " (well-known prefix: non-global IPv4 allowed)"
        };
        println!("pool6          {}/{}{wkp}", cfg.pool6_addr(), cfg.pool6_len);
    }
    let list: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
    println!("ipv4 prefixes  {}", list.join(" "));
    // Pins of a version before the EAMT have no such map: nothing to show.
    for eam in read_eamt(&pin_path).unwrap_or_default() {
        println!("eamt           {} <-> {}", eam.ipv4, eam.ipv6);
    }
    for line in policy_lines(&cfg) {
        println!("{line}");
    }
    if attached.is_empty() {
        println!("attached       (nothing: the daemon is stopped)");
        return Ok(());
    }
    println!("attached       {}", attached.join(" "));
    println!();
    println!(
        "{:<16} {:>12} {:>12} {:>17} {:>17} {:>12}",
        "interface",
        "gso_max_size",
        "gro_max_size",
        "gso_ipv4_max_size",
        "gro_ipv4_max_size",
        "tso_max_size"
    );
    let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
    for ifname in &attached {
        match sixgate_netlink::read_sizes(ifname) {
            Ok(s) => println!(
                "{:<16} {:>12} {:>12} {:>17} {:>17} {:>12}",
                ifname,
                s.gso_max_size,
                s.gro_max_size,
                opt(s.gso_ipv4_max_size),
                opt(s.gro_ipv4_max_size),
                opt(s.tso_max_size)
            ),
            Err(e) => println!("{ifname:<16} ({e}; run status in the daemon's network namespace)"),
        }
    }
    Ok(())
}

/// The translation policies and the exception path in force, one line each.
fn policy_lines(cfg: &SixgateConfig) -> Vec<String> {
    let cpus = u64::from(sixgate_bpf::ratelimit::online_cpus().unwrap_or(1));
    // The per-CPU GCRA cost back to packets per second for the gateway.
    let rate = |cost_ns: u64| 1_000_000_000 * cpus / cost_ns.max(1);
    let mut out = Vec::new();
    let pool4: Vec<String> = cfg.rfc6791_pool4[..(cfg.rfc6791_count as usize).min(4)]
        .iter()
        .map(|a| std::net::Ipv4Addr::from(*a).to_string())
        .collect();
    if !pool4.is_empty() {
        out.push(format!("rfc6791 pool4  {}", pool4.join(" ")));
    }
    if cfg.flags & CFG_RFC6791_POOL6 != 0 {
        out.push(format!(
            "rfc6791 pool6  {}",
            std::net::Ipv6Addr::from(cfg.rfc6791_pool6)
        ));
    }
    out.push(if cfg.flags & CFG_TCLASS_SET == 0 {
        "traffic class  copied".to_string()
    } else {
        format!("traffic class  set to {:#04x}", cfg.tclass)
    });
    out.push(format!(
        "udp checksum 0 {}",
        if cfg.flags & CFG_UDP_ZERO_DROP == 0 {
            "computed"
        } else {
            "dropped"
        }
    ));
    out.push(if cfg.icmp_cost_ns == 0 {
        "icmp errors    not rate-limited".to_string()
    } else {
        format!("icmp errors    at most {}/s", rate(cfg.icmp_cost_ns))
    });
    out.push(if cfg.exc_ifindex == 0 {
        "exception path off (what needs it is dropped by reason)".to_string()
    } else {
        format!(
            "exception path {} (ifindex {}), at most {}/s; lowest-ipv6-mtu {}",
            interface_name(cfg.exc_ifindex).unwrap_or_else(|| "?".into()),
            cfg.exc_ifindex,
            rate(cfg.exc_cost_ns),
            cfg.lowest_ipv6_mtu
        )
    });
    out
}

/// The name of interface `index` in this network namespace.
fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lines_say_what_is_in_force() {
        let mut cfg = SixgateConfig::default();
        let lines = policy_lines(&cfg);
        assert_eq!(
            lines,
            [
                "traffic class  copied",
                "udp checksum 0 computed",
                "icmp errors    not rate-limited",
                "exception path off (what needs it is dropped by reason)",
            ]
        );
        cfg.flags = CFG_TCLASS_SET | CFG_UDP_ZERO_DROP | CFG_RFC6791_POOL6;
        cfg.tclass = 0xb8;
        cfg.rfc6791_pool6 = "2001:db8:6::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        cfg.rfc6791_pool4[0] = [192, 0, 2, 1];
        cfg.rfc6791_count = 1;
        cfg.exc_ifindex = 1; // lo
        cfg.lowest_ipv6_mtu = 1280;
        let cpus = u64::from(sixgate_bpf::ratelimit::online_cpus().unwrap());
        // 1000/s for the gateway: each CPU's share costs cpus ms.
        cfg.exc_cost_ns = 1_000_000 * cpus;
        cfg.icmp_cost_ns = 1_000_000 * cpus;
        let lines = policy_lines(&cfg);
        assert_eq!(
            lines,
            [
                "rfc6791 pool4  192.0.2.1",
                "rfc6791 pool6  2001:db8:6::1",
                "traffic class  set to 0xb8",
                "udp checksum 0 dropped",
                "icmp errors    at most 1000/s",
                "exception path lo (ifindex 1), at most 1000/s; lowest-ipv6-mtu 1280",
            ]
        );
    }
}
