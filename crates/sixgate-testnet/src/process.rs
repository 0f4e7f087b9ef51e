//! Background processes whose output is captured line by line and which are
//! stopped (SIGTERM, then SIGKILL) when their handle is dropped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use crate::{interrupted, Error, Result};

/// How long a dropped [`Process`] gets between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// Lines a process has printed so far.
#[derive(Default)]
struct Captured {
    stdout: Vec<String>,
    stderr: Vec<String>,
    stdout_eof: bool,
    stderr_eof: bool,
}

/// Output shared between the reader threads and the handle.
#[derive(Default)]
struct Output {
    lines: Mutex<Captured>,
    changed: Condvar,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state behind a [`Process`] handle; a [`crate::Netns`] keeps a weak
/// reference so it can stop what is still running when it is dropped.
pub(crate) struct ProcInner {
    label: String,
    pid: u32,
    child: Mutex<Child>,
    status: Mutex<Option<ExitStatus>>,
    output: Arc<Output>,
    grace: Mutex<Duration>,
}

impl ProcInner {
    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Exit status if the process has exited (reaps it).
    fn try_status(&self) -> Option<ExitStatus> {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if status.is_none() {
            if let Ok(Some(s)) = self.child().try_wait() {
                *status = Some(s);
            }
        }
        *status
    }

    /// Sends `sig` to the process group (the process is its own group leader).
    fn signal(&self, sig: libc::c_int) {
        if self.try_status().is_some() {
            return; // reaped: the pid may belong to someone else now
        }
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
        unsafe {
            libc::kill(-(self.pid as libc::pid_t), sig);
            libc::kill(self.pid as libc::pid_t, sig);
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL; returns the exit status.
    pub(crate) fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.try_status() {
            return Some(s);
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.signal(libc::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub(crate) fn stop_default(&self) {
        let grace = *self.grace.lock().unwrap_or_else(|p| p.into_inner());
        self.stop(grace);
    }
}

/// A background process with captured stdout/stderr; dropping the handle
/// stops it (SIGTERM to its process group, SIGKILL after the grace period).
pub struct Process {
    inner: Arc<ProcInner>,
}

impl Process {
    /// Spawns `cmd` in its own process group with stdin from /dev/null and
    /// stdout/stderr captured; `label` names it in messages.
    pub fn spawn(label: impl Into<String>, mut cmd: Command) -> Result<Process> {
        let label = label.into();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            cmd: crate::describe(&cmd),
            source,
        })?;
        let output = Arc::new(Output::default());
        if let Some(out) = child.stdout.take() {
            reader_thread(out, output.clone(), true);
        }
        if let Some(err) = child.stderr.take() {
            reader_thread(err, output.clone(), false);
        }
        let pid = child.id();
        Ok(Process {
            inner: Arc::new(ProcInner {
                label,
                pid,
                child: Mutex::new(child),
                status: Mutex::new(None),
                output,
                grace: Mutex::new(DEFAULT_GRACE),
            }),
        })
    }

    pub(crate) fn inner(&self) -> &Arc<ProcInner> {
        &self.inner
    }

    /// The label given at spawn time.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Sets how long a drop waits between SIGTERM and SIGKILL.
    pub fn set_grace(&self, grace: Duration) {
        *self.inner.grace.lock().unwrap_or_else(|p| p.into_inner()) = grace;
    }

    /// Exit status if it has exited, `None` while it runs.
    pub fn try_status(&self) -> Option<ExitStatus> {
        self.inner.try_status()
    }

    /// Every stdout line printed so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.inner.output.lock().stdout.clone()
    }

    /// Everything printed to stdout so far, one line per line.
    pub fn stdout_text(&self) -> String {
        join_lines(&self.inner.output.lock().stdout)
    }

    /// Everything printed to stderr so far, one line per line.
    pub fn stderr_text(&self) -> String {
        join_lines(&self.inner.output.lock().stderr)
    }

    /// Waits until a stdout line satisfies `pred` and returns it; fails if
    /// the process exits first (the error carries its stderr) or on timeout.
    pub fn wait_for_stdout(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let find = || {
            self.inner
                .output
                .lock()
                .stdout
                .iter()
                .find(|l| pred(l))
                .cloned()
        };
        loop {
            if let Some(line) = find() {
                return Ok(line);
            }
            let closed = {
                let g = self.inner.output.lock();
                g.stdout_eof && g.stderr_eof
            };
            if closed || self.inner.try_status().is_some() {
                // Let the readers drain what it printed before it exited.
                self.wait_output_closed(Duration::from_secs(1));
                if let Some(line) = find() {
                    return Ok(line);
                }
                return Err(self.exited_error(what));
            }
            if interrupted() {
                return Err(Error::Interrupted);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: format!("{what} ({})", self.inner.label),
                    waited: timeout,
                    output: format!(
                        "stdout:\n{}\nstderr:\n{}",
                        self.stdout_text(),
                        self.stderr_text()
                    ),
                });
            }
            let guard = self.inner.output.lock();
            let step = (deadline - now).min(Duration::from_millis(100));
            drop(
                self.inner
                    .output
                    .changed
                    .wait_timeout(guard, step)
                    .unwrap_or_else(|p| p.into_inner()),
            );
        }
    }

    fn exited_error(&self, what: &str) -> Error {
        // Give the process a moment to be reaped so the status is known.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut status = self.inner.try_status();
        while status.is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
            status = self.inner.try_status();
        }
        Error::ExitedEarly {
            what: format!("{what} ({})", self.inner.label),
            status: status.map_or_else(|| "still running, output closed".into(), |s| s.to_string()),
            stdout: self.stdout_text(),
            stderr: self.stderr_text(),
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.inner.try_status() {
                // Let the reader threads drain the pipes.
                self.wait_output_closed(Duration::from_secs(1));
                return Ok(s);
            }
            if interrupted() {
                return Err(Error::Interrupted);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{} to exit", self.inner.label),
                    waited: timeout,
                    output: format!(
                        "stdout:\n{}\nstderr:\n{}",
                        self.stdout_text(),
                        self.stderr_text()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_output_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let out = &self.inner.output;
        let mut guard = out.lock();
        while !(guard.stdout_eof && guard.stderr_eof) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            guard = out
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Sends SIGTERM, waits up to `grace`, then SIGKILLs; returns how it
    /// ended (`None` if it could not be reaped).
    pub fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        let status = self.inner.stop(grace);
        self.wait_output_closed(Duration::from_millis(500));
        status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.inner.stop_default();
    }
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("label", &self.inner.label)
            .field("pid", &self.inner.pid)
            .finish()
    }
}

fn join_lines(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn reader_thread(pipe: impl Read + Send + 'static, output: Arc<Output>, is_stdout: bool) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    let mut g = output.lock();
                    if is_stdout {
                        g.stdout.push(line);
                    } else {
                        g.stderr.push(line);
                    }
                    drop(g);
                    output.changed.notify_all();
                }
            }
        }
        let mut g = output.lock();
        if is_stdout {
            g.stdout_eof = true;
        } else {
            g.stderr_eof = true;
        }
        drop(g);
        output.changed.notify_all();
    });
}
