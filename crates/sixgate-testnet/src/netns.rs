//! Named network namespaces (`ip netns add`) that delete themselves, and
//! everything they spawned, on drop.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::ProcInner;
use crate::{describe, require_root, run_checked, unique_suffix, Error, Process, Result};

/// Every namespace name starts with this, followed by `<pid>x<counter>-<role>`.
pub const NAME_PREFIX: &str = "sg";

/// Prefix of temp and bpffs directories, followed by `<pid>x<counter>`.
pub(crate) const DIR_PREFIX: &str = "sixgate-test-";

/// Where `ip netns` keeps its bind mounts.
const NETNS_RUN_DIR: &str = "/run/netns";

/// Where bpffs is mounted.
pub(crate) const BPFFS: &str = "/sys/fs/bpf";

/// A named network namespace; dropping it stops every process spawned
/// through it, kills whatever else still runs inside, and deletes it.
pub struct Netns {
    name: String,
    role: String,
    children: Mutex<Vec<Weak<ProcInner>>>,
}

impl Netns {
    /// Creates a namespace named `sg<pid>x<counter>-<role>` with `lo` up.
    pub fn new(role: &str) -> Result<Netns> {
        require_root()?;
        static STALE: Once = Once::new();
        STALE.call_once(|| {
            if let Err(e) = cleanup_stale() {
                eprintln!("sixgate-testnet: cleaning up stale test resources: {e}");
            }
        });
        let name = format!("{NAME_PREFIX}{}-{role}", unique_suffix());
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "add", &name]);
        run_checked(cmd)?;
        let ns = Netns {
            name,
            role: role.to_string(),
            children: Mutex::new(Vec::new()),
        };
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role given at creation (`client`, `gw`, ...).
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The namespace's bind-mount path, `/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(&self.name)
    }

    /// `ip netns exec NAME program args...`: for ordinary tools. Note that it
    /// remounts /sys, hiding bpffs; use [`Netns::cmd_keep_mounts`] for sixgate.
    pub fn cmd<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]);
        cmd.arg(program);
        cmd.args(args);
        cmd
    }

    /// `nsenter --net=/run/netns/NAME -- program args...`: only the network
    /// namespace changes, so /sys/fs/bpf stays visible (for the daemon).
    pub fn cmd_keep_mounts<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path().display()));
        cmd.arg("--");
        cmd.arg(program);
        cmd.args(args);
        cmd
    }

    /// Runs `program args...` inside (via `ip netns exec`) and returns its
    /// stdout; fails unless it exits 0.
    pub fn run<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_checked(self.cmd(program, args))
    }

    /// Runs `ip -n NAME args...` and returns its stdout.
    pub fn ip<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]);
        cmd.args(args);
        run_checked(cmd)
    }

    /// Sets a sysctl under /proc/sys (e.g. `net.ipv4.ip_forward`) in this namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        let value = value.to_string();
        self.run_in(move || std::fs::write(&path, value.as_bytes()))?
            .map_err(|source| Error::Io {
                what: format!("sysctl {key} in netns {}", self.name),
                source,
            })
    }

    /// Spawns `cmd` (typically from [`Netns::cmd`]) as a background process
    /// that is stopped when its handle or this namespace is dropped.
    pub fn spawn(&self, label: impl Into<String>, cmd: Command) -> Result<Process> {
        let p = Process::spawn(label, cmd)?;
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        children.retain(|w| w.strong_count() > 0);
        children.push(std::sync::Arc::downgrade(p.inner()));
        Ok(p)
    }

    /// Runs `f` on a new thread that first joins this network namespace with
    /// `setns(CLONE_NEWNET)`; returns what `f` returns (a panic propagates).
    pub fn run_in<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let path = self.path();
        let file = File::open(&path).map_err(|source| Error::Io {
            what: format!("open {}", path.display()),
            source,
        })?;
        thread::scope(|s| {
            let handle = s.spawn(move || {
                // SAFETY: setns on a valid fd; affects only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(Error::Io {
                        what: format!("setns({}, CLONE_NEWNET)", path.display()),
                        source: std::io::Error::last_os_error(),
                    });
                }
                drop(file);
                Ok(f())
            });
            match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Creates a veth pair directly in the two namespaces: `name` here,
    /// `peer_name` in `peer`, so no name ever exists in the root namespace.
    pub fn veth(&self, name: &str, peer: &Netns, peer_name: &str) -> Result<()> {
        let mut cmd = Command::new("ip");
        cmd.args([
            "link",
            "add",
            name,
            "netns",
            self.name(),
            "type",
            "veth",
            "peer",
            "name",
        ])
        .args([peer_name, "netns", peer.name()]);
        run_checked(cmd).map(drop)
    }

    /// Every BPF program attached to interface `dev` in this namespace, one
    /// description per attachment: TCX (`tcx ingress prog 42`), classic tc
    /// filters (`tc ingress: ...`) and XDP (`xdp: ...`). Empty when none.
    pub fn attached_bpf(&self, dev: &str) -> Result<Vec<String>> {
        let what = format!("query BPF attachments of {dev} in {}", self.name);
        let mut found = self
            .run_in(|| -> std::io::Result<Vec<String>> {
                let idx = crate::bpfquery::ifindex(dev)?;
                let mut v = Vec::new();
                for (egress, dir) in [(false, "ingress"), (true, "egress")] {
                    for id in crate::bpfquery::tcx_prog_ids(idx, egress)? {
                        v.push(format!("tcx {dir} prog {id}"));
                    }
                }
                Ok(v)
            })?
            .map_err(|source| Error::Io {
                what: what.clone(),
                source,
            })?;
        for dir in ["ingress", "egress"] {
            let out = self.run("tc", ["filter", "show", "dev", dev, dir])?;
            for line in out.lines().filter(|l| l.contains("bpf")) {
                found.push(format!("tc {dir}: {}", line.trim()));
            }
        }
        let link = self.ip(["-d", "link", "show", "dev", dev])?;
        for line in link.lines().filter(|l| l.contains("xdp")) {
            found.push(format!("xdp: {}", line.trim()));
        }
        Ok(found)
    }

    /// Pids of every process currently inside this namespace.
    pub fn pids(&self) -> Vec<u32> {
        ns_pids(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let children: Vec<_> =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|p| p.into_inner()));
        for child in children.iter().filter_map(Weak::upgrade) {
            child.stop_default();
        }
        kill_all_inside(&self.name);
        if let Err(e) = delete_netns(&self.name) {
            eprintln!("sixgate-testnet: {e}");
        }
    }
}

impl std::fmt::Debug for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netns").field("name", &self.name).finish()
    }
}

fn ns_pids(name: &str) -> Vec<u32> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "pids", name]);
    match cmd.output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// SIGKILLs every process inside namespace `name` and waits (briefly) for
/// them to be gone.
fn kill_all_inside(name: &str) {
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let pids: Vec<u32> = ns_pids(name).into_iter().filter(|&p| p != me).collect();
        if pids.is_empty() || Instant::now() >= deadline {
            return;
        }
        for pid in pids {
            // SAFETY: kill(2) on a process inside a namespace this crate made.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn delete_netns(name: &str) -> Result<()> {
    let del = || {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "del", name]);
        cmd
    };
    // Retry briefly: a just-killed process may still hold the mount busy.
    let mut last = None;
    for _ in 0..10 {
        match run_checked(del()) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        if !Path::new(NETNS_RUN_DIR).join(name).exists() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(last.unwrap_or_else(|| Error::CommandFailed {
        cmd: describe(&del()),
        status: "unknown".into(),
        stdout: String::new(),
        stderr: String::new(),
    }))
}

/// The pid embedded in a name made by this crate (`sg<pid>x...` or
/// `sixgate-test-<pid>x...`), if it is one.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix(DIR_PREFIX)
        .or_else(|| name.strip_prefix(NAME_PREFIX))?;
    let (pid, tail) = rest.split_once('x')?;
    let counter_end = tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len());
    if counter_end == 0 || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Namespaces carry `-role` after the counter; directories end there.
    let after = &tail[counter_end..];
    if !(after.is_empty() || after.starts_with('-')) {
        return None;
    }
    pid.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

fn stale(name: &str) -> bool {
    match owner_pid(name) {
        Some(pid) => pid != std::process::id() && !pid_alive(pid),
        None => false,
    }
}

/// Removes namespaces, bpffs pin directories and temp directories left by
/// earlier runs whose process no longer exists (killing what runs inside
/// such namespaces first); returns how many things it removed.
pub fn cleanup_stale() -> Result<usize> {
    let mut removed = 0;
    if let Ok(entries) = std::fs::read_dir(NETNS_RUN_DIR) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(NAME_PREFIX) && stale(&name) {
                kill_all_inside(&name);
                match delete_netns(&name) {
                    Ok(()) => removed += 1,
                    Err(err) => eprintln!("sixgate-testnet: stale netns {name}: {err}"),
                }
            }
        }
    }
    for dir in [PathBuf::from(BPFFS), std::env::temp_dir()] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(DIR_PREFIX) && stale(&name) {
                    // Another process may be removing it at the same time:
                    // retry, and accept that it is gone.
                    let path = e.path();
                    let res = std::fs::remove_dir_all(&path).or_else(|_| {
                        thread::sleep(Duration::from_millis(50));
                        match std::fs::remove_dir_all(&path) {
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                            r => r,
                        }
                    });
                    match res {
                        Ok(()) => removed += 1,
                        Err(err) => {
                            eprintln!("sixgate-testnet: stale {}: {err}", e.path().display())
                        }
                    }
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_our_names_only() {
        assert_eq!(owner_pid("sg123x4-gw"), Some(123));
        assert_eq!(owner_pid("sg123x45-client"), Some(123));
        assert_eq!(owner_pid("sixgate-test-77x0"), Some(77));
        assert_eq!(owner_pid("sg123x-gw"), None);
        assert_eq!(owner_pid("sgx1-gw"), None);
        assert_eq!(owner_pid("sg12ax1-gw"), None);
        assert_eq!(owner_pid("sg12x1gw"), None);
        assert_eq!(owner_pid("sigma"), None);
        assert_eq!(owner_pid("sixgate-test-77x0y"), None);
    }

    fn netns_exists(name: &str) -> bool {
        Path::new(NETNS_RUN_DIR).join(name).exists()
    }

    /// A pid that is certainly not running: one past the kernel's pid_max.
    fn dead_pid() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(4_194_304)
            + 1
    }

    #[test]
    fn netns_lifecycle() {
        let ns = Netns::new("life").expect("create netns (needs root)");
        let name = ns.name().to_string();
        assert!(
            name.starts_with(NAME_PREFIX) && name.ends_with("-life"),
            "{name}"
        );
        assert!(netns_exists(&name));
        let links = ns.run("ip", ["-o", "link", "show"]).unwrap();
        assert!(links.contains("lo:"), "{links}");
        assert!(links.contains("UP") || links.contains("UNKNOWN"), "{links}");
        // A background process is killed on drop.
        let sleeper = ns.spawn("sleep", ns.cmd("sleep", ["300"])).unwrap();
        let pid = sleeper.pid();
        std::mem::forget(sleeper); // the namespace must stop it by itself
                                   // `ip netns exec` joins the namespace right after it starts.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ns.pids().contains(&pid) {
            assert!(Instant::now() < deadline, "{pid} not in {:?}", ns.pids());
            thread::sleep(Duration::from_millis(10));
        }
        drop(ns);
        assert!(!netns_exists(&name), "{name} still exists");
        // Reaped or gone: /proc/<pid> no longer shows a live sleep.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(stat.is_empty() || stat.contains(") Z"), "{stat}");
    }

    #[test]
    fn run_in_enters_the_namespace() {
        let ns = Netns::new("runin").unwrap();
        ns.ip([
            "link", "add", "sgprobe0", "type", "veth", "peer", "name", "sgprobe1",
        ])
        .unwrap();
        let seen = ns
            .run_in(|| std::fs::read_dir("/proc/self/net").is_ok() && if_exists("sgprobe0"))
            .unwrap();
        assert!(seen);
        assert!(
            !if_exists("sgprobe0"),
            "interface leaked into the caller's namespace"
        );
        ns.sysctl("net.ipv4.ip_forward", "1").unwrap();
        let v = ns.run("cat", ["/proc/sys/net/ipv4/ip_forward"]).unwrap();
        assert_eq!(v.trim(), "1");
    }

    fn if_exists(name: &str) -> bool {
        let c = std::ffi::CString::new(name).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
    }

    #[test]
    fn stale_resources_of_dead_pids_are_removed() {
        require_root().unwrap();
        let dead = dead_pid();
        let ns_name = format!("{NAME_PREFIX}{dead}x0-stale");
        let tmp = std::env::temp_dir().join(format!("{DIR_PREFIX}{dead}x0"));
        // Other test processes remove such leftovers too, possibly while we
        // create them: retry until both exist at once.
        for attempt in 0.. {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "add", &ns_name]);
            let added = run_checked(cmd);
            let made = std::fs::create_dir_all(tmp.join("sub"))
                .and_then(|()| std::fs::write(tmp.join("sub/f"), b"x"));
            if netns_exists(&ns_name) && tmp.exists() {
                break;
            }
            assert!(
                attempt < 20,
                "cannot create fake leftovers: {added:?} {made:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        // A live owner's resources (ours) must survive.
        let live = Netns::new("live").unwrap();

        cleanup_stale().unwrap();
        // Other test processes clean up too, possibly at the same moment:
        // give a concurrent removal time to finish.
        let deadline = Instant::now() + Duration::from_secs(5);
        while (netns_exists(&ns_name) || tmp.exists()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!netns_exists(&ns_name), "stale netns kept");
        assert!(!tmp.exists(), "stale temp dir kept");
        assert!(netns_exists(live.name()), "live netns removed");
    }
}
