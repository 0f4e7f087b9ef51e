//! `sixgate run`: validate everything, then load, program and attach the
//! data path. On SIGTERM/SIGINT the daemon exits and the data path keeps
//! running from its pins (a restart takes it over without dropping a
//! packet); `sixgate detach` or `run --detach-on-exit` stops it.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sixgate_bpf::datapath::{detach, pinned_interfaces, PinLock};
use sixgate_bpf::exception::ExceptionParams;
use sixgate_bpf::{Datapath, SiitParams};
use sixgate_netlink::BigTcpOutcome;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::dataplane::ServiceDataplane;
use crate::exception::ExceptionPath;
use crate::nat46::BpfDataplane;
use crate::store::ServiceStore;

/// What a failed restart says about the data path it leaves in place.
const KEPT_RUNNING: &str =
    "the data path keeps running with the services it had; fix the error and run again";

/// How often expired connection-tracking entries are deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// `sixgate check`: the same validation `run` does, and nothing else.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    config.check_host()?;
    load_store(&config)?;
    println!("{}: ok", path.display());
    Ok(())
}

/// The services of the config file and the state file, validated together.
fn load_store(config: &Config) -> anyhow::Result<ServiceStore> {
    ServiceStore::load(
        config.services.clone(),
        &config.state_path,
        config.nat46.clone(),
    )
    .with_context(|| format!("loading the services of {}", config.source.display()))
}

/// `sixgate run`.
pub fn run(path: &Path, detach_on_exit: bool) -> anyhow::Result<()> {
    // Validate the whole config, including the host, before touching
    // anything: a bad config attaches nothing.
    let config = Config::load(path)?;
    config.check_host()?;
    let store = Arc::new(load_store(&config)?);

    let interfaces = interfaces(&config);
    // Held until we return: no second daemon on the same pins meanwhile.
    let _lock = PinLock::acquire(&config.pin_path)?;
    let restart = !pinned_interfaces(&config.pin_path)?.is_empty();
    // Before attaching: the programs are told where it is.
    let exception = config
        .exception
        .as_ref()
        .map(ExceptionPath::create)
        .transpose()?;
    attach(&config, &interfaces, exception.as_ref().map(|e| e.params()))?;
    let _exception_off = exception.as_ref().map(|_| ExceptionOff(&config.pin_path));
    if let Some(exception) = exception {
        if let Err(e) = exception.spawn(&config) {
            if !restart {
                detach_all(&config, &interfaces);
            }
            return Err(e);
        }
    }
    let dp = match program_services(&config, &store) {
        Ok(dp) => dp,
        // On a restart the maps still hold the services the running data
        // path serves: detaching would cut every flow for a problem with
        // one service. On a first start there is nothing to keep.
        Err(e) if restart => return Err(e.context(KEPT_RUNNING)),
        Err(e) => {
            detach_all(&config, &interfaces);
            return Err(e);
        }
    };
    // BIG TCP after attaching: by then the program handles super-packets.
    let big_tcp = match enable_big_tcp(&config) {
        Ok(b) => b,
        Err(e) => {
            detach_all(&config, &interfaces);
            return Err(e);
        }
    };
    info!(
        pool6 = %config.pool6,
        ipv4_prefixes = ?config.ipv4_prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        interfaces = ?interfaces,
        pin_path = %config.pin_path.display(),
        services = store.list().len(),
        "attached"
    );

    if let Err(e) = serve_until_shutdown(&config, store, dp) {
        // The API could not start (its socket taken, say): a first start
        // leaves nothing behind; a restart keeps the running data path.
        if !restart {
            detach_all(&config, &interfaces);
        }
        return Err(e);
    }
    if !detach_on_exit {
        info!(
            pin_path = %config.pin_path.display(),
            "exiting; the data path keeps running from its pins (the next `sixgate run` \
             takes it over; `sixgate detach` stops it)"
        );
        return Ok(());
    }
    info!("shutting down");
    let mut ok = true;
    if config.restore_big_tcp {
        ok &= restore_big_tcp(&big_tcp);
    }
    ok &= detach_all(&config, &interfaces);
    anyhow::ensure!(ok, "shutdown was not clean (see the warnings above)");
    info!("detached; counters stay readable with `sixgate stats`");
    Ok(())
}

/// The exception path's device goes with this process, however `run`
/// ends: until the next daemon, the programs drop those packets by reason
/// rather than redirect them to a device that is gone.
struct ExceptionOff<'a>(&'a Path);

impl Drop for ExceptionOff<'_> {
    fn drop(&mut self) {
        if let Err(e) = sixgate_bpf::pinned::clear_exception(self.0) {
            warn!(error = %e, "could not turn the exception path off in the data path");
        }
    }
}

/// `sixgate detach`: removes every pinned link under the pin path (not
/// while a daemon runs on it: it holds the pin lock).
pub fn detach_command(pin_path: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    let pin_path = match config {
        Some(path) => Config::load(path)?.pin_path,
        None => pin_path.to_path_buf(),
    };
    if !pin_path.exists() {
        println!("nothing attached under {}", pin_path.display());
        return Ok(());
    }
    let _lock = PinLock::acquire(&pin_path)?;
    let interfaces = pinned_interfaces(&pin_path)?;
    if interfaces.is_empty() {
        println!("nothing attached under {}", pin_path.display());
        return Ok(());
    }
    for ifname in &interfaces {
        detach(&pin_path, ifname).with_context(|| format!("detaching from {ifname}"))?;
        println!("detached from {ifname}");
    }
    Ok(())
}

/// Detaches from every interface, logging failures; true if all went well.
fn detach_all(config: &Config, interfaces: &[impl AsRef<str>]) -> bool {
    let mut ok = true;
    for ifname in interfaces.iter().map(AsRef::as_ref) {
        if let Err(e) = detach(&config.pin_path, ifname) {
            warn!(interface = %ifname, error = %e, "detach failed");
            ok = false;
        }
    }
    ok
}

/// Turns BIG TCP on where the config asks for it. What the kernel or device
/// cannot do is a warning, not a failure; a netlink error undoes what was
/// done and fails.
fn enable_big_tcp(config: &Config) -> anyhow::Result<Vec<(String, BigTcpOutcome)>> {
    let mut done = Vec::new();
    for (ifname, size) in &config.big_tcp {
        match sixgate_netlink::enable_big_tcp(ifname, *size) {
            Ok(outcome) => {
                for w in outcome.warnings(ifname) {
                    warn!("{w}");
                }
                info!(
                    interface = %ifname,
                    gso_max_size = outcome.after.gso_max_size,
                    gro_max_size = outcome.after.gro_max_size,
                    gso_ipv4_max_size = ?outcome.after.gso_ipv4_max_size,
                    gro_ipv4_max_size = ?outcome.after.gro_ipv4_max_size,
                    "BIG TCP on"
                );
                done.push((ifname.clone(), outcome));
            }
            Err(e) => {
                restore_big_tcp(&done);
                return Err(anyhow::Error::from(e).context(format!("enabling BIG TCP on {ifname}")));
            }
        }
    }
    Ok(done)
}

/// Puts back the GSO/GRO sizes found before BIG TCP; true if all went well.
fn restore_big_tcp(done: &[(String, BigTcpOutcome)]) -> bool {
    let mut ok = true;
    for (ifname, outcome) in done {
        match sixgate_netlink::restore_sizes(ifname, &outcome.before) {
            Ok(()) => info!(interface = %ifname, "GSO/GRO sizes restored"),
            Err(e) => {
                warn!(interface = %ifname, error = %e, "restoring GSO/GRO sizes failed");
                ok = false;
            }
        }
    }
    ok
}

/// Indexes of the interfaces that are veth, for bpf_redirect_peer.
fn veth_ifindexes(interfaces: &[String]) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::new();
    for ifname in interfaces {
        let kind = sixgate_netlink::link_kind(ifname)
            .with_context(|| format!("reading the link kind of {ifname}"))?;
        if kind.as_deref() == Some("veth") {
            if let Some(index) = crate::config::interface_index(ifname) {
                out.push(index);
            }
        }
    }
    Ok(out)
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
fn attach(
    config: &Config,
    interfaces: &[String],
    exception: Option<ExceptionParams>,
) -> anyhow::Result<()> {
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
            veth_ifindexes: veth_ifindexes(interfaces)?,
            rfc6791_pool4: config.rfc6791_pool4.clone(),
            rfc6791_pool6: config.rfc6791_pool6,
            lowest_ipv6_mtu: config.lowest_ipv6_mtu,
            exception,
            traffic_class: config.traffic_class,
            udp_zero_checksum: config.udp_zero_checksum,
            icmp_errors: config.icmp_errors,
            eamt: config.eamt.clone(),
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
            detach_all(config, &attached);
            return Err(anyhow::Error::from(e).context(format!("attaching to {ifname}")));
        }
        attached.push(ifname);
    }
    Ok(())
}

/// Opens the NAT46 maps, programs every service of the store, and removes
/// services an earlier run left that neither file names any more. On a
/// restart the services are still in the maps: reprogramming swaps in
/// identical tables, so no flow notices.
fn program_services(config: &Config, store: &ServiceStore) -> anyhow::Result<Arc<BpfDataplane>> {
    let dp = BpfDataplane::open(&config.pin_path, &config.nat46)?;
    store.program_all(&dp)?;
    let keep: Vec<_> = store.list().iter().map(|s| s.service.key()).collect();
    let removed = dp.remove_others(&keep)?;
    if removed > 0 {
        info!(
            removed,
            "removed services an earlier run left and no file names"
        );
    }
    Ok(Arc::new(dp))
}

/// Serves the API and sweeps connection tracking until SIGTERM / SIGINT.
/// Prints the ready line once the API listens.
fn serve_until_shutdown(
    config: &Config,
    store: Arc<ServiceStore>,
    dp: Arc<BpfDataplane>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        let sweeper = {
            let dp = dp.clone();
            async move {
                let mut tick = tokio::time::interval(SWEEP_INTERVAL);
                loop {
                    tick.tick().await;
                    let dp = dp.clone();
                    match tokio::task::spawn_blocking(move || dp.sweep()).await {
                        Ok(Ok(r)) => debug!(ct4 = r.ct4_removed, ct6 = r.ct6_removed, "swept"),
                        Ok(Err(e)) => warn!("sweeping connection tracking: {e:#}"),
                        Err(e) => warn!("sweeping connection tracking: {e}"),
                    }
                }
            }
        };
        let ready = || {
            println!("sixgate: ready");
            std::io::stdout().flush().ok();
        };
        let dp: Arc<dyn ServiceDataplane> = dp;
        tokio::select! {
            r = crate::api::serve(store, dp, &config.api, shutdown, ready) => r,
            () = sweeper => unreachable!("the sweeper loops forever"),
        }
    })
}
