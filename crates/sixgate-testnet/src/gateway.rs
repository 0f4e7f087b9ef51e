//! The sixgate daemon under test: its config file (with a unique bpffs pin
//! path) and the running process.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::netns::{BPFFS, DIR_PREFIX};
use crate::{run_checked, unique_suffix, Error, Netns, Process, Result};

/// The line `sixgate run` prints on stdout once its programs are attached.
pub const READY_LINE: &str = "sixgate: ready";

/// How long `sixgate run` may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the daemon gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A sixgate config file in its own temp directory, with a unique bpffs pin
/// path; dropping it removes both directories.
#[derive(Debug)]
pub struct GatewayConfig {
    /// The config file.
    pub path: PathBuf,
    /// `[bpf] pin_path`: `/sys/fs/bpf/sixgate-test-<pid>x<counter>`.
    pub pin_path: PathBuf,
    dir: PathBuf,
}

impl GatewayConfig {
    /// A stateless SIIT config: interfaces, pool6 and served IPv4 prefixes.
    pub fn siit(
        ipv4_if: &str,
        ipv6_if: &str,
        pool6: &str,
        ipv4_prefixes: &[&str],
    ) -> Result<GatewayConfig> {
        Self::from_text_in(|pin, dir| {
            let mut t = String::new();
            let _ = writeln!(t, "[bpf]\npin_path = {}", quote(&pin.to_string_lossy()));
            let _ = writeln!(
                t,
                "\n[interfaces]\nipv4 = {}\nipv6 = {}",
                quote(ipv4_if),
                quote(ipv6_if)
            );
            let prefixes: Vec<String> = ipv4_prefixes.iter().map(|p| quote(p)).collect();
            let _ = writeln!(
                t,
                "\n[siit]\npool6 = {}\nipv4_prefixes = [{}]",
                quote(pool6),
                prefixes.join(", ")
            );
            t.push_str(&Self::private_api_and_state(dir));
            t
        })
    }

    /// `[api]` and `[state]` tables that put the API socket and the state
    /// file in `dir`, so that gateways running side by side (parallel tests)
    /// do not share the system-wide defaults.
    pub fn private_api_and_state(dir: &Path) -> String {
        format!(
            "\n[api]\nsocket = {}\n\n[state]\npath = {}\n",
            quote(&dir.join("api.sock").to_string_lossy()),
            quote(&dir.join("state.json").to_string_lossy())
        )
    }

    /// The API socket [`GatewayConfig::private_api_and_state`] names.
    pub fn api_socket(&self) -> PathBuf {
        self.dir.join("api.sock")
    }

    /// The state file [`GatewayConfig::private_api_and_state`] names.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// A config whose text `make` writes, given the unique pin path to use.
    pub fn from_text(make: impl FnOnce(&Path) -> String) -> Result<GatewayConfig> {
        Self::from_text_in(|pin, _dir| make(pin))
    }

    /// Like [`GatewayConfig::from_text`]; `make` also gets the config's own
    /// temp directory (removed on drop), for sockets and state files.
    pub fn from_text_in(make: impl FnOnce(&Path, &Path) -> String) -> Result<GatewayConfig> {
        let suffix = unique_suffix();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{suffix}"));
        let pin_path = Path::new(BPFFS).join(format!("{DIR_PREFIX}{suffix}"));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let cfg = GatewayConfig {
            path: dir.join("sixgate.toml"),
            pin_path,
            dir,
        };
        let text = make(&cfg.pin_path, &cfg.dir);
        std::fs::write(&cfg.path, text).map_err(|source| Error::Io {
            what: format!("write {}", cfg.path.display()),
            source,
        })?;
        Ok(cfg)
    }

    /// The config's temp directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file's text.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

impl Drop for GatewayConfig {
    fn drop(&mut self) {
        for d in [&self.pin_path, &self.dir] {
            if d.exists() {
                if let Err(e) = std::fs::remove_dir_all(d) {
                    eprintln!("sixgate-testnet: remove {}: {e}", d.display());
                }
            }
        }
    }
}

/// TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::from('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Mounts bpffs on /sys/fs/bpf if it is not mounted there yet.
pub fn ensure_bpffs() -> Result<()> {
    const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
    let path = std::ffi::CString::new(BPFFS).expect("no NUL");
    // SAFETY: statfs into a zeroed struct with a valid path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(path.as_ptr(), &mut st) };
    if rc == 0 && st.f_type as i64 == BPF_FS_MAGIC {
        return Ok(());
    }
    let mut cmd = Command::new("mount");
    cmd.args(["-t", "bpf", "bpf", BPFFS]);
    run_checked(cmd).map(drop)
}

/// A running `sixgate run --config FILE` in a namespace; dropping it sends
/// SIGTERM and waits for the exit (SIGKILL after 5 s).
#[derive(Debug)]
pub struct Gateway {
    process: Process,
    exe: PathBuf,
    pin_path: PathBuf,
}

impl Gateway {
    /// Starts the daemon in `ns` via `nsenter --net` (bpffs stays visible)
    /// and waits up to 20 s for [`READY_LINE`]; if it exits first, the error
    /// carries its stderr.
    pub fn start(ns: &Netns, sixgate_exe: &Path, config: &GatewayConfig) -> Result<Gateway> {
        ensure_bpffs()?;
        let mut args: Vec<std::ffi::OsString> = vec!["run".into(), "--config".into()];
        args.push(config.path.clone().into_os_string());
        let cmd = ns.cmd_keep_mounts(sixgate_exe, &args);
        let process = ns.spawn(format!("sixgate run in {}", ns.name()), cmd)?;
        process.set_grace(STOP_GRACE);
        process.wait_for_stdout("`sixgate: ready`", READY_TIMEOUT, |l| {
            l.trim() == READY_LINE
        })?;
        Ok(Gateway {
            process,
            exe: sixgate_exe.to_path_buf(),
            pin_path: config.pin_path.clone(),
        })
    }

    /// The daemon process (its captured output, pid, ...).
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Where its maps are pinned.
    pub fn pin_path(&self) -> &Path {
        &self.pin_path
    }

    /// Output of `sixgate stats --pin-path DIR` (`NAME PACKETS BYTES` lines).
    pub fn stats(&self) -> Result<String> {
        self.stats_cmd(false)
    }

    /// Output of `sixgate stats --pin-path DIR --json`.
    pub fn stats_json(&self) -> Result<String> {
        self.stats_cmd(true)
    }

    fn stats_cmd(&self, json: bool) -> Result<String> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("stats").arg("--pin-path").arg(&self.pin_path);
        if json {
            cmd.arg("--json");
        }
        run_checked(cmd)
    }

    /// Stops the daemon (SIGTERM, SIGKILL after 5 s) and returns its exit
    /// status; fails if it could not be reaped.
    pub fn stop(self) -> Result<ExitStatus> {
        self.process.stop(STOP_GRACE).ok_or_else(|| Error::Timeout {
            what: format!("{} to exit", self.process.label()),
            waited: STOP_GRACE,
            output: self.process.stderr_text(),
        })
    }
}
