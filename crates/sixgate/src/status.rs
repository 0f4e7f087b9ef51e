//! `sixgate status`: what is in force, read from the pins and the kernel:
//! the translator config (with the EAMT), the attached interfaces and their
//! GSO/GRO sizes.

use std::path::Path;

use anyhow::Context as _;
use sixgate_bpf::datapath::pinned_interfaces;
use sixgate_bpf::pinned::{read_config, read_eamt, read_served_prefixes};

use crate::config::Config;

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
