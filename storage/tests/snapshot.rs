//! Snapshots (round trip, checksum, bad files change nothing, SIGKILL during install
//! recovers to the old or the new state, never a mix) and the Raft log (order, truncate,
//! purge, state, persistence, group commit).

use std::process::Command;
use std::time::Duration;
use storage::*;

fn put(e: &Engine, k: &str, v: &str) {
    e.write(&WriteRequest::Put(PutRequest::new(k, v)))
        .expect("put");
}

fn fill(e: &Engine, prefix: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
        let ops = chunk
            .iter()
            .map(|i| {
                RequestOp::Put(PutRequest::new(
                    format!("{prefix}{i:06}"),
                    format!("value-{i}-{}", "x".repeat(64)),
                ))
            })
            .collect();
        e.write(&WriteRequest::Txn(TxnRequest {
            success: ops,
            ..Default::default()
        }))
        .expect("fill txn");
    }
}

#[test]
fn snapshot_round_trip_reproduces_state_history_and_leases() {
    let dir = tempfile::tempdir().unwrap();
    let src = Engine::open(dir.path().join("src"), EngineConfig::default()).unwrap();
    fill(&src, "k", 500);
    src.write(&WriteRequest::LeaseGrant {
        id: 9,
        ttl_secs: 30,
    })
    .unwrap();
    src.write(&WriteRequest::Put(PutRequest {
        lease: 9,
        ..PutRequest::new("leased", "v")
    }))
    .unwrap();
    put(&src, "k000001", "changed");
    src.write(&WriteRequest::Compact { revision: 3 }).unwrap();
    src.apply_with_state(src.applied_index() + 1, &WriteRequest::Noop, b"log-id")
        .unwrap();
    let file = dir.path().join("snap");
    let info = src.save_snapshot(&file).unwrap();
    assert_eq!(info.applied_index, src.applied_index());
    assert_eq!(info.revision, src.current_revision().0);
    assert_eq!(verify_snapshot(&file).unwrap(), info);

    let dst = Engine::open(dir.path().join("dst"), EngineConfig::default()).unwrap();
    put(&dst, "stale", "gone after install");
    dst.install_snapshot(&file).unwrap();
    assert_eq!(dst.hash_kv(0).unwrap(), src.hash_kv(0).unwrap());
    assert_eq!(dst.applied_index(), src.applied_index());
    assert_eq!(dst.current_revision(), src.current_revision());
    assert_eq!(dst.compact_revision(), src.compact_revision());
    assert_eq!(
        dst.replication_state().unwrap().as_deref(),
        Some(&b"log-id"[..])
    );
    assert_eq!(
        dst.lease_info(LeaseId(9), 0, true).unwrap().keys,
        vec![b"leased".to_vec()]
    );
    assert!(dst.get(b"stale").unwrap().is_none());
    // History came along: an old revision reads the same on both.
    let at = RangeRequest::range(vec![0], vec![0]).at(5);
    assert_eq!(dst.range(&at).unwrap(), src.range(&at).unwrap());
    assert_eq!(
        dst.history(4, 6, 100).unwrap(),
        src.history(4, 6, 100).unwrap()
    );
}

#[test]
fn a_bad_snapshot_file_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = Engine::open(dir.path().join("src"), EngineConfig::default()).unwrap();
    fill(&src, "k", 100);
    let file = dir.path().join("snap");
    src.save_snapshot(&file).unwrap();
    let good = std::fs::read(&file).unwrap();
    let dst = Engine::open(dir.path().join("dst"), EngineConfig::default()).unwrap();
    put(&dst, "mine", "v");
    let before = dst.hash_kv(0).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped byte", flipped),
        ("truncated", good[..good.len() - 10].to_vec()),
        (
            "not a snapshot",
            b"hello world, definitely not a snapshot".to_vec(),
        ),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in cases {
        let bad = dir.path().join(name.replace(' ', "_"));
        std::fs::write(&bad, bytes).unwrap();
        let got = dst.install_snapshot(&bad);
        assert!(matches!(got, Err(Error::Corrupted(_))), "{name}: {got:?}");
        assert_eq!(dst.hash_kv(0).unwrap(), before, "{name}: state unchanged");
    }
    put(&dst, "still", "serving");
}

/// Child side of the crash test: installs the snapshot named in the environment.
#[test]
fn child_installs_snapshot() {
    let (Ok(data), Ok(snap)) = (
        std::env::var("BERTH_SNAP_DATA"),
        std::env::var("BERTH_SNAP_FILE"),
    ) else {
        return;
    };
    let e = Engine::open(&data, EngineConfig::default()).expect("child open");
    e.install_snapshot(std::path::Path::new(&snap))
        .expect("child install");
    println!("installed");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn sigkill_during_install_recovers_to_old_or_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap");
    let new_hash = {
        let src = Engine::open(dir.path().join("src"), EngineConfig::default()).unwrap();
        fill(&src, "new", 40_000);
        src.save_snapshot(&snap).unwrap();
        (src.hash_kv(0).unwrap(), src.applied_index())
    };
    let mut seen_old = 0;
    let mut seen_new = 0;
    for round in 0..10u64 {
        let data = dir.path().join(format!("data{round}"));
        let old_hash = {
            let e = Engine::open(&data, EngineConfig::default()).unwrap();
            fill(&e, "old", 3_000);
            (e.hash_kv(0).unwrap(), e.applied_index())
        };
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_installs_snapshot",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("BERTH_SNAP_DATA", &data)
            .env("BERTH_SNAP_FILE", &snap)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn child");
        std::thread::sleep(Duration::from_millis(round * 35));
        child.kill().expect("SIGKILL child");
        child.wait().unwrap();
        let e = Engine::open(&data, EngineConfig::default()).expect("reopen after SIGKILL");
        let now = (e.hash_kv(0).unwrap(), e.applied_index());
        if now == old_hash {
            seen_old += 1;
        } else {
            assert_eq!(
                now, new_hash,
                "round {round}: state is neither the old nor the new one"
            );
            seen_new += 1;
        }
    }
    assert_eq!(seen_old + seen_new, 10);
    eprintln!("install crash rounds: {seen_old} old, {seen_new} new");
}

#[test]
fn raft_log_appends_truncates_purges_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
        let log = e.raft_log();
        assert_eq!(log.last_index().unwrap(), None);
        log.append_wait(
            (1..=10)
                .map(|i| (i, format!("entry{i}").into_bytes()))
                .collect(),
        )
        .unwrap();
        assert_eq!(
            (log.first_index().unwrap(), log.last_index().unwrap()),
            (Some(1), Some(10))
        );
        assert_eq!(
            log.entries(3, 5).unwrap(),
            vec![(3, b"entry3".to_vec()), (4, b"entry4".to_vec())]
        );
        log.truncate_from(8).unwrap();
        assert_eq!(log.last_index().unwrap(), Some(7));
        log.append_wait(vec![(8, b"new8".to_vec())]).unwrap();
        log.purge_upto(3).unwrap();
        assert_eq!(log.first_index().unwrap(), Some(4));
        assert_eq!(log.purged().unwrap(), 3);
        log.save_state(b"vote", b"term=3,node=2").unwrap();
    }
    let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let log = e.raft_log();
    assert_eq!(
        (log.first_index().unwrap(), log.last_index().unwrap()),
        (Some(4), Some(8))
    );
    assert_eq!(log.entries(8, 9).unwrap(), vec![(8, b"new8".to_vec())]);
    assert_eq!(
        log.state(b"vote").unwrap().as_deref(),
        Some(&b"term=3,node=2"[..])
    );
    assert_eq!(log.purged().unwrap(), 3);
}

#[test]
fn raft_log_group_commit_shares_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    let log = e.raft_log();
    let n = 2000u64;
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 1..=n {
        let tx = tx.clone();
        log.append(
            vec![(i, vec![b'x'; 256])],
            Box::new(move |r| tx.send(r).expect("collector alive")),
        );
    }
    for _ in 0..n {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("append completed")
            .expect("append durable");
    }
    let stats = log.stats();
    let fsyncs = stats.fsyncs.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stats.entries.load(std::sync::atomic::Ordering::Relaxed), n);
    assert!(
        fsyncs < n / 4,
        "{fsyncs} fsyncs for {n} appends: no group commit"
    );
    assert_eq!(log.entries(1, n + 1).unwrap().len() as u64, n);
}

#[test]
fn restore_keeps_the_data_and_forgets_the_old_raft_position() {
    let dir = tempfile::tempdir().unwrap();
    let src = Engine::open(dir.path().join("src"), EngineConfig::default()).unwrap();
    fill(&src, "k", 100);
    src.apply_with_state(src.applied_index() + 1, &WriteRequest::Noop, b"old cluster")
        .unwrap();
    let file = dir.path().join("snap");
    src.save_snapshot(&file).unwrap();
    let dst = Engine::open(dir.path().join("dst"), EngineConfig::default()).unwrap();
    dst.restore_snapshot(&file).unwrap();
    assert_eq!(dst.applied_index(), 0);
    assert_eq!(dst.replication_state().unwrap(), None);
    assert_eq!(dst.current_revision(), src.current_revision());
    assert_eq!(dst.hash_kv(0).unwrap(), src.hash_kv(0).unwrap());
    // The new cluster's first entry applies.
    assert!(matches!(
        dst.apply(1, &WriteRequest::Put(PutRequest::new("new", "v")))
            .unwrap(),
        WriteResponse::Put(_)
    ));
    // Restoring into a store that holds data is refused.
    assert!(dst.restore_snapshot(&file).is_err());
}
