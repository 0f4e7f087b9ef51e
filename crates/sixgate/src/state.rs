//! The state file: the services made through the API, kept across restarts.
//!
//! JSON, `{"version": 1, "services": [...]}`, replaced atomically on every
//! change: written to a temporary file in the same directory, flushed to
//! disk, renamed over the old file, and the directory flushed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::service::Service;

/// The state file format this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but cannot be read.
    #[error("state file {}: cannot read: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file does not hold a state this build understands.
    #[error(
        "state file {}: {why}; it holds the services made through the API, so it is not \
         ignored: repair it, or move it away to start without them",
        path.display()
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The new state could not be written.
    #[error("state file {}: cannot write: {source}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    services: Vec<Service>,
}

/// Only the version, read first so a newer format is named as such.
#[derive(Deserialize)]
struct Version {
    version: u32,
}

/// The services in the state file at `path`; none if there is no file yet.
pub fn read(path: &Path) -> Result<Vec<Service>, StateError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let corrupt = |why: String| StateError::Corrupt {
        path: path.to_path_buf(),
        why,
    };
    let version: Version =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not a state file: {e}")))?;
    if version.version != STATE_VERSION {
        return Err(corrupt(format!(
            "version {} is not the version {STATE_VERSION} this sixgate reads",
            version.version
        )));
    }
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(state.services)
}

/// Replaces the state file at `path` with `services`, atomically.
pub fn write(path: &Path, services: &[Service]) -> Result<(), StateError> {
    let state = StateFile {
        version: STATE_VERSION,
        services: services.to_vec(),
    };
    let mut bytes = serde_json::to_vec_pretty(&state).expect("services serialize to JSON");
    bytes.push(b'\n');
    write_atomically(path, &bytes).map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to a temporary file next to `path`, flushes it, renames
/// it over `path` and flushes the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    fs::create_dir_all(dir)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);

    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The new file is in place and is what any later read sees; failing to
    // flush the directory only risks the rename on a power failure, so it is
    // a warning rather than an error the caller would roll back from.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        warn!(path = %path.display(), error = %e, "cannot flush the state file's directory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::tests::web;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        // No file yet: no services.
        assert_eq!(read(&path).unwrap(), vec![]);
        let services = vec![web("web", 80), web("api", 443)];
        write(&path, &services).unwrap();
        assert_eq!(read(&path).unwrap(), services);
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["services"][1]["name"], "api");
        // Replacing leaves no temporary file behind.
        write(&path, &services[..1]).unwrap();
        assert_eq!(read(&path).unwrap(), services[..1]);
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let valid = serde_json::to_string(&StateFile {
            version: 1,
            services: vec![web("web", 80)],
        })
        .unwrap();
        for (text, why) in [
            ("", "not a state file: EOF"),
            ("{\"version\": 1, \"services\": [", "not a state file"),
            ("[]", "not a state file"),
            (
                "{\"version\": 2, \"services\": []}",
                "version 2 is not the version 1",
            ),
            ("{\"version\": 1}", "missing field `services`"),
            (&valid.replace("\"port\":80,", ""), "missing field `port`"),
            (
                &valid.replace("198.51.100.80", "2001:db8::80"),
                "is an IPv6 address",
            ),
        ] {
            fs::write(&path, text).unwrap();
            let e = read(&path).unwrap_err().to_string();
            let head = format!("state file {}: ", path.display());
            assert!(e.starts_with(&head) && e.contains(why), "{text:?}: {e}");
            assert!(e.contains("it is not ignored"), "{e}");
        }
    }

    #[test]
    fn unreadable_and_unwritable_paths_are_named() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let path = dir.path().join("state.json");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), "x").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("state file {}: cannot read", path.display())),
            "{e}"
        );
        let e = write(&path, &[web("web", 80)]).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("state file {}: cannot write", path.display())),
            "{e}"
        );
        // The temporary file was cleaned up.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }
}
