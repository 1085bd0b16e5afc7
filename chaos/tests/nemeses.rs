//! Short chaos runs on real 3-replica clusters in network namespaces: one per nemesis
//! class (each must pass every checker and leave nothing behind), and one against a build
//! with a deliberate bug (stale linearizable reads) that the checkers must catch.
//!
//! The `control-plane` binaries come from the same target dir as this test: `control-plane`
//! (built by `cargo build --release --workspace`), and the variants `scripts/test.sh` builds
//! and copies next to it: `control-plane-failpoints` and `control-plane-stale-reads`.

use chaos::nemesis::Class;
use chaos::run::{run, RunConfig, RunOutcome};
use std::path::PathBuf;

/// `<target>/release`: this test is `<target>/release/deps/<test>-<hash>`.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("failed to find the test executable's path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .expect("unexpected test executable path")
}

fn binary(name: &str) -> PathBuf {
    let p = release_dir().join(name);
    assert!(p.is_file(), "{} is missing: scripts/test.sh builds the control-plane variants (failpoints, chaos-bug-stale-reads) and copies them there", p.display());
    p
}

/// A short run: 7 s of faults, 4 s quiet, 3 replicas.
fn short_run(classes: &[Class], seed: u64, binary_name: &str) -> RunOutcome {
    let dir = tempfile::Builder::new()
        .prefix("berth-chaos-test-")
        .tempdir()
        .expect("failed to create a results dir");
    let mut cfg = RunConfig::new(
        3,
        classes.to_vec(),
        7,
        seed,
        binary(binary_name),
        dir.path().to_path_buf(),
    );
    cfg.quiet_s = 4;
    let outcome = run(cfg).unwrap_or_else(|e| panic!("the run failed to execute: {e}"));
    eprintln!("{}", outcome.summary);
    // Nothing left behind: no namespace, no bridge.
    let netns = String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip netns list")
            .stdout,
    )
    .into_owned();
    assert!(
        !netns.contains(&format!("{}-", outcome.network)),
        "namespaces left behind: {netns}"
    );
    let links = String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .expect("ip link show")
            .stdout,
    )
    .into_owned();
    assert!(
        !links.contains(&format!("{}:", outcome.network)),
        "bridge left behind: {links}"
    );
    if outcome.ok() {
        drop(dir);
    } else {
        eprintln!("results kept in {}", dir.keep().display());
    }
    outcome
}

fn assert_clean_run(classes: &[Class], seed: u64, binary_name: &str) {
    let o = short_run(classes, seed, binary_name);
    for c in classes {
        assert!(
            o.faults.iter().any(|f| f.class == *c),
            "no {} fault was injected:\n{}",
            c.name(),
            o.summary
        );
    }
    assert!(
        !o.faults.iter().any(|f| f.description.contains("failed")),
        "a fault failed to execute:\n{}",
        o.summary
    );
    assert!(o.ok(), "violations:\n{}", o.summary);
}

#[test]
fn partitions_keep_every_guarantee() {
    assert_clean_run(&[Class::Partition], 101, "control-plane");
}

#[test]
fn kill_and_restart_keep_every_guarantee() {
    assert_clean_run(&[Class::Kill], 102, "control-plane");
}

#[test]
fn pauses_keep_every_guarantee() {
    assert_clean_run(&[Class::Pause], 103, "control-plane");
}

#[test]
fn membership_changes_keep_every_guarantee() {
    assert_clean_run(&[Class::Membership], 104, "control-plane");
}

#[test]
fn compaction_and_defragmentation_under_load_keep_every_guarantee() {
    assert_clean_run(&[Class::Compaction], 105, "control-plane");
}

#[test]
fn slow_and_failing_disks_keep_every_guarantee() {
    assert_clean_run(&[Class::Disk], 106, "control-plane-failpoints");
}

#[test]
fn stale_reads_bug_is_caught_by_the_linearizability_checker() {
    // The bug build serves linearizable reads without ReadIndex; a partition leaves a
    // replica behind, and its readers see the past.
    let o = short_run(&[Class::Partition], 107, "control-plane-stale-reads");
    let lin = o
        .verdicts
        .verdicts
        .iter()
        .find(|v| v.name == "linearizable")
        .expect("a linearizability verdict");
    assert!(
        !lin.ok,
        "the stale-reads build passed the linearizability checker:\n{}",
        o.summary
    );
    assert!(!o.ok());
}
