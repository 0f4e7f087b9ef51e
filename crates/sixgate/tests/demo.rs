//! The README's first command runs `sixgate demo`: it must go through every
//! step and leave nothing behind.

use std::process::Command;

use sixgate_testnet::require_root;

#[test]
fn demo_passes_every_step() {
    require_root().unwrap_or_else(|e| panic!("the demo needs root: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_sixgate"))
        .arg("demo")
        .output()
        .expect("run sixgate demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sixgate demo failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[12/12]"), "{stdout}");
    assert!(stdout.contains("All steps passed"), "{stdout}");
    assert!(
        stdout.contains("0 connections ( 0.0 %)"),
        "the drained backend got connections:\n{stdout}"
    );
}
