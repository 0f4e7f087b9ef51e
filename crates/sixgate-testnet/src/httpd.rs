//! A small python3 HTTP server for the IPv6 side (`assets/httpd.py`).

use std::path::PathBuf;
use std::time::Duration;

use crate::netns::DIR_PREFIX;
use crate::{unique_suffix, Error, Netns, Process, Result};

/// The port the topology's HTTP server listens on.
pub const HTTP_PORT: u16 = 8080;

/// The server script, written to a temp file at run time.
const SCRIPT: &str = include_str!("../assets/httpd.py");

/// The bytes `GET /file/<n>` returns: splitmix64 seeded with `n`, each step's
/// output as 8 little-endian bytes, truncated to `n` bytes.
pub fn file_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    let mut state = n as u64;
    while out.len() < n {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The test HTTP server running in a namespace, listening on `[::]:port`.
///
/// Routes: `GET /file/<N>` ([`file_bytes`]), `GET /`, `PUT|POST /upload`
/// (replies with the body's hex SHA-256). Logs one stdout line per request:
/// `client=ADDR method=GET path=/file/N status=200 bytes=N [sha256=HEX]`.
#[derive(Debug)]
pub struct HttpServer {
    process: Process,
    port: u16,
    dir: PathBuf,
}

impl HttpServer {
    /// Writes the script to a temp dir, starts it in `ns` on `[::]:port`
    /// and waits until it listens.
    pub fn start(ns: &Netns, port: u16) -> Result<HttpServer> {
        Self::start_on(ns, "::", port)
    }

    /// Like [`HttpServer::start`], listening on `[bind]:port` only.
    pub fn start_on(ns: &Netns, bind: &str, port: u16) -> Result<HttpServer> {
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", unique_suffix()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let script = dir.join("httpd.py");
        // Build the value first so the directory is removed on any error below.
        let write = std::fs::write(&script, SCRIPT);
        let cleanup = DirGuard(dir.clone());
        write.map_err(|source| Error::Io {
            what: format!("write {}", script.display()),
            source,
        })?;
        let port_s = port.to_string();
        let cmd = ns.cmd(
            "python3",
            [
                "-u".as_ref(),
                script.as_os_str(),
                "--port".as_ref(),
                std::ffi::OsStr::new(&port_s),
                "--bind".as_ref(),
                std::ffi::OsStr::new(bind),
            ],
        );
        let process = ns.spawn(format!("httpd in {}", ns.name()), cmd)?;
        process.wait_for_stdout("the HTTP server to listen", Duration::from_secs(10), |l| {
            l.starts_with("httpd: listening")
        })?;
        std::mem::forget(cleanup);
        Ok(HttpServer { process, port, dir })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process (pid, stderr, ...).
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Request log lines so far (`client=... method=... path=... ...`).
    pub fn log_lines(&self) -> Vec<String> {
        self.process
            .stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("client="))
            .collect()
    }

    /// Waits up to `timeout` for a request log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        self.process
            .wait_for_stdout(&format!("a log line with `{needle}`"), timeout, |l| {
                l.starts_with("client=") && l.contains(needle)
            })
    }
}

/// The request log lines containing `needle` on each server, once their
/// total reaches `expected`.
///
/// The servers log a request after its response is sent, and a thread reads
/// their stdout, so a client that has its answers can look at a log that
/// does not have them yet. Waiting for the total makes "no request reached
/// server X" a real check: every request is accounted for somewhere.
pub fn wait_for_request_logs(
    servers: &[&HttpServer],
    needle: &str,
    expected: usize,
    timeout: Duration,
) -> Result<Vec<Vec<String>>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let lines: Vec<Vec<String>> = servers
            .iter()
            .map(|s| {
                s.log_lines()
                    .into_iter()
                    .filter(|l| l.contains(needle))
                    .collect()
            })
            .collect();
        let total: usize = lines.iter().map(Vec::len).sum();
        if total >= expected || std::time::Instant::now() >= deadline {
            if total == expected {
                return Ok(lines);
            }
            return Err(Error::Timeout {
                what: format!("{expected} request log lines with `{needle}`"),
                waited: timeout,
                output: format!("the servers logged {total}"),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.process.stop(crate::DEFAULT_GRACE);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes a directory on drop unless forgotten.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Splits a log line into `(key, value)` pairs.
pub fn parse_log_line(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_sized() {
        assert_eq!(file_bytes(0), Vec::<u8>::new());
        assert_eq!(file_bytes(13).len(), 13);
        assert_eq!(file_bytes(1 << 20), file_bytes(1 << 20));
        // Seeded with n: different sizes give different streams.
        assert_ne!(file_bytes(16)[..8], file_bytes(17)[..8]);
    }

    #[test]
    fn parse_log_line_splits_fields() {
        let f = parse_log_line("client=2001:db8::1 method=GET path=/file/3 status=200 bytes=3");
        assert_eq!(f[0], ("client", "2001:db8::1"));
        assert_eq!(f[4], ("bytes", "3"));
    }

    #[test]
    fn python_server_matches_rust_generator() {
        let ns = Netns::new("httpd").expect("netns (needs root)");
        let srv = HttpServer::start(&ns, HTTP_PORT).unwrap();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let _g = DirGuard(dir.clone());
        for n in [0usize, 1, 7, 8, 9, 65536 * 8 + 3, 1 << 20] {
            let out = dir.join(format!("f{n}"));
            ns.run(
                "curl",
                [
                    "-sS".as_ref(),
                    "--fail".as_ref(),
                    "--max-time".as_ref(),
                    "20".as_ref(),
                    "-o".as_ref(),
                    out.as_os_str(),
                    format!("http://[::1]:{HTTP_PORT}/file/{n}").as_ref(),
                ],
            )
            .unwrap();
            let got = std::fs::read(&out).unwrap();
            assert!(
                got == file_bytes(n),
                "file/{n} differs ({} bytes)",
                got.len()
            );
        }
        let up = dir.join("up");
        std::fs::write(&up, b"abc").unwrap();
        let sha = ns
            .run(
                "curl",
                [
                    "-sS".as_ref(),
                    "--fail".as_ref(),
                    "-T".as_ref(),
                    up.as_os_str(),
                    format!("http://[::1]:{HTTP_PORT}/upload").as_ref(),
                ],
            )
            .unwrap();
        // SHA-256("abc"), FIPS 180-2 B.1.
        assert_eq!(
            sha.trim(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let line = srv
            .wait_for_log("method=PUT", Duration::from_secs(5))
            .unwrap();
        assert!(line.starts_with("client=::1 "), "{line}");
        assert!(line.contains("bytes=3"), "{line}");
    }
}
