//! `sixgate run`: validate everything, then load, program and attach the
//! data path; detach on SIGTERM/SIGINT.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use sixgate_bpf::datapath::{detach, pinned_interfaces};
use sixgate_bpf::{Datapath, SiitParams};
use tracing::{info, warn};

use crate::config::Config;

/// `sixgate check`: the same validation `run` does, and nothing else.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    config.check_host()?;
    println!("{}: ok", path.display());
    Ok(())
}

/// `sixgate run`.
pub fn run(path: &Path) -> anyhow::Result<()> {
    // Validate the whole config, including the host, before touching
    // anything: a bad config attaches nothing.
    let config = Config::load(path)?;
    config.check_host()?;

    let interfaces = interfaces(&config);
    attach(&config, &interfaces)?;
    info!(
        pool6 = %config.pool6,
        ipv4_prefixes = ?config.ipv4_prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        interfaces = ?interfaces,
        pin_path = %config.pin_path.display(),
        "attached"
    );
    println!("sixgate: ready");
    std::io::stdout().flush().ok();

    wait_for_shutdown()?;
    info!("shutting down: detaching");
    let mut failed = false;
    for ifname in &interfaces {
        if let Err(e) = detach(&config.pin_path, ifname) {
            warn!(interface = %ifname, error = %e, "detach failed");
            failed = true;
        }
    }
    anyhow::ensure!(!failed, "some interfaces could not be detached");
    info!("detached; counters stay readable with `sixgate stats`");
    Ok(())
}

/// The interfaces to attach to, once each (a one-armed gateway has one).
fn interfaces(config: &Config) -> Vec<String> {
    let mut out = vec![config.ipv4_interface.clone()];
    if config.ipv6_interface != config.ipv4_interface {
        out.push(config.ipv6_interface.clone());
    }
    out
}

/// Loads, programs and attaches; on any failure detaches what this call
/// attached, so an error leaves nothing half-applied.
fn attach(config: &Config, interfaces: &[String]) -> anyhow::Result<()> {
    let mut datapath = Datapath::load(&config.pin_path).with_context(|| {
        format!(
            "loading the data path (pin path {})",
            config.pin_path.display()
        )
    })?;
    datapath
        .configure(&SiitParams {
            pool6: config.pool6,
            ipv4_prefixes: config.ipv4_prefixes.clone(),
            wkp_allow_non_global: config.wkp_allow_non_global,
        })
        .context("programming the translator maps")?;

    // Links an earlier run pinned for interfaces no longer configured.
    for stale in pinned_interfaces(&config.pin_path)? {
        if !interfaces.contains(&stale) {
            info!(interface = %stale, "detaching from an interface no longer configured");
            detach(&config.pin_path, &stale)?;
        }
    }

    let mut attached: Vec<&str> = Vec::new();
    for ifname in interfaces {
        if let Err(e) = datapath.attach(ifname) {
            for done in &attached {
                let _ = detach(&config.pin_path, done);
            }
            return Err(anyhow::Error::from(e).context(format!("attaching to {ifname}")));
        }
        attached.push(ifname);
    }
    Ok(())
}

fn wait_for_shutdown() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok::<(), std::io::Error>(())
    })
    .context("waiting for signals")
}
