//! Network-namespace and veth topologies for sixgate's e2e tests, benchmarks
//! and demo.
//!
//! Everything created here carries a unique, recognisable name
//! (`sg<pid>x<counter>-<role>` for namespaces, `sixgate-test-<pid>x<counter>`
//! for temp and bpffs pin directories) and is removed on drop, also when a
//! test panics. Leftovers of earlier runs whose process died are removed the
//! first time this process creates a namespace.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF), `ip` (iproute2),
//! `nsenter` (util-linux) and `ethtool`; the HTTP server needs `python3`.

mod bpfquery;
mod gateway;
mod httpd;
mod nat46;
mod netns;
mod process;
mod routed;
mod siit;

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use gateway::{ensure_bpffs, Gateway, GatewayConfig, READY_LINE};
pub use httpd::{file_bytes, parse_log_line, wait_for_request_logs, HttpServer, HTTP_PORT};
pub use nat46::Nat46Topology;
pub use netns::{cleanup_stale, Netns, NAME_PREFIX};
pub use process::{Process, DEFAULT_GRACE};
pub use routed::RoutedTopology;
pub use siit::SiitTopology;

/// Why a topology, process or helper could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not running as root.
    #[error(
        "sixgate-testnet needs root (network namespaces, veth, bpffs); running as euid {euid}. \
         Run the e2e tests / demo as root, e.g. `sudo -E cargo nextest run`"
    )]
    NotRoot {
        /// Effective user id we run as.
        euid: u32,
    },
    /// A program could not be started.
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// What spawn returned.
        source: io::Error,
    },
    /// A program exited unsuccessfully.
    #[error("`{cmd}` failed ({status}):\n{stderr}{stdout}")]
    CommandFailed {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// What it printed to stdout (prefixed with a label when non-empty).
        stdout: String,
        /// What it printed to stderr.
        stderr: String,
    },
    /// A file-system or system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {waited:?} waiting for {what}\n{output}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// Output collected so far.
        output: String,
    },
    /// A background process exited before it was ready.
    #[error("{what}: exited early ({status})\nstderr:\n{stderr}\nstdout:\n{stdout}")]
    ExitedEarly {
        /// What was awaited.
        what: String,
        /// How it exited.
        status: String,
        /// What it printed to stdout.
        stdout: String,
        /// What it printed to stderr.
        stderr: String,
    },
    /// A wait was cut short by [`interrupt`] (Ctrl-C in the demo).
    #[error("interrupted")]
    Interrupted,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes every wait in this crate return [`Error::Interrupted`]; safe to call
/// from a signal handler (it only stores an atomic flag).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether [`interrupt`] has been called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails with [`Error::NotRoot`] unless the effective user is root.
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok(())
    } else {
        Err(Error::NotRoot { euid })
    }
}

/// Runs `cmd` to completion and returns its stdout; fails unless it exits 0.
pub fn run_checked(mut cmd: Command) -> Result<String> {
    let desc = describe(&cmd);
    let out = cmd.output().map_err(|source| Error::Spawn {
        cmd: desc.clone(),
        source,
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(Error::CommandFailed {
            cmd: desc,
            status: out.status.to_string(),
            stdout: if stdout.is_empty() {
                String::new()
            } else {
                format!("stdout:\n{stdout}")
            },
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// A command line as a readable string, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '\'', '"']) {
            s.push('\'');
            s.push_str(&a.replace('\'', "'\\''"));
            s.push('\'');
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// A process-unique suffix `<pid>x<counter>` for names of things we create.
pub fn unique_suffix() -> String {
    use std::sync::atomic::AtomicU32;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{}x{}", std::process::id(), n)
}
