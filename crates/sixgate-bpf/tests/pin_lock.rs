//! One daemon per pin path: a second lock on the same directory is refused
//! with a message that names it, and the lock goes with its holder.

use sixgate_bpf::datapath::PinLock;
use sixgate_bpf::DatapathError;

#[test]
fn second_holder_is_refused_until_the_first_goes() {
    let dir = std::path::PathBuf::from(format!("/sys/fs/bpf/sixgate-lock-{}", std::process::id()));
    let first = PinLock::acquire(&dir).expect("first lock");
    let err = PinLock::acquire(&dir).expect_err("second lock must fail");
    assert!(
        matches!(err, DatapathError::Busy(ref p) if *p == dir),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    drop(first);
    let again = PinLock::acquire(&dir).expect("lock after the first holder went");
    drop(again);
    std::fs::remove_dir(&dir).unwrap();
}
