//! Snapshot catch-up: a follower that was down while the leader snapshotted and purged its
//! log must catch up by installing a snapshot, and then keep replicating.

use berth_system_tests::{client, wait_for, Cluster, Opts};
use std::time::Duration;

const N_KEYS: usize = 400;

/// The highest `purge_upto` index in a replica's log (openraft's "purge log, ...,
/// purge_upto: T2-N123.456" lines).
fn max_purged_index(log: &str) -> Option<u64> {
    log.lines()
        .filter(|l| l.contains("purge log"))
        .filter_map(|l| l.split("purge_upto: ").nth(1))
        .filter_map(|id| {
            id.split(|c: char| c.is_whitespace() || c == ',')
                .next()?
                .rsplit('.')
                .next()?
                .parse()
                .ok()
        })
        .max()
}

#[test]
fn a_follower_behind_a_purged_log_catches_up_from_a_snapshot() {
    let opts = Opts {
        snapshot_count: Some(100),
        snapshot_catchup_entries: Some(10),
        ..Opts::default()
    };
    let mut c = Cluster::start(3, opts);
    let leader = c.wait_leader(&[0, 1, 2]);
    let follower = (leader + 1) % 3;
    let applied_before = c.status(follower)["raftAppliedIndex"]
        .as_u64()
        .expect("raftAppliedIndex");
    c.stop(follower);

    // One Raft entry per key: several snapshots' worth, far past the kept catch-up entries.
    let running: Vec<String> = c.endpoints();
    client::put_many(&c.certs, &running, "sc/", N_KEYS, 4);
    c.wait_converged(&[leader, 3 - leader - follower], Duration::from_secs(20));
    // The leader must purge the entries the follower lacks while it is away (openraft
    // postpones a purge while a replication stream to it is in flight); writes keep
    // triggering snapshots and purge attempts meanwhile.
    let writes_done = std::time::Instant::now();
    let mut n_extra = 0;
    let purged = wait_for(
        "the leader to purge the log past the stopped follower",
        Duration::from_secs(15),
        || {
            let purged = max_purged_index(&c.log(leader));
            if purged.is_some_and(|p| p > applied_before) {
                return Ok(purged);
            }
            c.etcdctl(&["put", &format!("sc/extra{n_extra:03}"), "x"])
                .ok();
            n_extra += 1;
            Err(format!(
                "purged up to {purged:?}, the follower applied {applied_before}"
            ))
        },
    );
    eprintln!(
        "leader purged up to {purged:?} {:?} after the writes ({n_extra} extra writes)",
        writes_done.elapsed()
    );

    c.restart(follower);
    c.wait_healthy(&[follower]);
    c.wait_converged(&[0, 1, 2], Duration::from_secs(30));
    let log = c.log(follower);
    assert!(
        log.to_lowercase().contains("installed snapshot"),
        "replica {} caught up without installing a snapshot (its log does not say so)",
        c.name(follower)
    );
    let applied_after = c.status(follower)["raftAppliedIndex"]
        .as_u64()
        .expect("raftAppliedIndex");
    assert!(
        applied_after >= applied_before + N_KEYS as u64,
        "applied index went from {applied_before} to {applied_after} only"
    );
    let count = c
        .etcdctl_at(
            follower,
            &[
                "get",
                "sc/",
                "--prefix",
                "--keys-only",
                "--consistency=s",
                "-w",
                "json",
            ],
        )
        .json()["count"]
        .as_u64();
    assert_eq!(count, Some((N_KEYS + n_extra) as u64));
    assert_eq!(
        c.etcdctl_at(
            follower,
            &["get", "sc/000123", "--print-value-only", "--consistency=s"]
        )
        .lines(),
        ["v123"]
    );

    // After the snapshot, ordinary replication to it goes on.
    c.etcdctl(&["put", "sc/after", "snapshot"]).ok();
    wait_for(
        "the caught-up follower to receive a new write",
        Duration::from_secs(10),
        || {
            let out = c.etcdctl_at(
                follower,
                &["get", "sc/after", "--print-value-only", "--consistency=s"],
            );
            if out.lines() == ["snapshot"] {
                Ok(())
            } else {
                Err(out.stdout.clone())
            }
        },
    );
}
