//! Where the binaries under test are: Berth's (`control-plane`, `kvctl`), built by
//! `cargo build --release --workspace` next to this test executable, and the system's
//! `etcdctl`.

use std::path::PathBuf;

/// `<target>/release`: the test executable is `<target>/release/deps/<test>-<hash>`.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("failed to find the test executable's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()))
}

fn berth_binary(name: &str) -> PathBuf {
    let path = release_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --release --workspace` first (CARGO_TARGET_DIR=/var/tmp/berth-target), then run the system tests in release mode",
        path.display()
    );
    path
}

/// The `control-plane` replica binary.
pub fn control_plane() -> PathBuf {
    berth_binary("control-plane")
}

/// The replica built with `--features failpoints` (scripts/test.sh copies it beside the
/// normal build as `control-plane-failpoints`).
pub fn control_plane_failpoints() -> PathBuf {
    berth_binary("control-plane-failpoints")
}

/// The `node-agent` binary (also the simulated nodes: `--simulate N`).
pub fn node_agent() -> PathBuf {
    berth_binary("node-agent")
}

/// The `kvctl` tool.
pub fn kvctl() -> PathBuf {
    berth_binary("kvctl")
}

/// etcd's own client, 3.4 (Debian's `etcd-client`).
pub fn etcdctl() -> PathBuf {
    let path = PathBuf::from("/usr/bin/etcdctl");
    assert!(
        path.is_file(),
        "/usr/bin/etcdctl is missing: install Debian's etcd-client (scripts/setup.sh does)"
    );
    path
}
