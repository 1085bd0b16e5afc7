//! `kvctl snapshot restore`: a snapshot saved by an engine becomes a new data dir with the
//! same keyspace (equal HashKV) and no Raft position; bad files and non-empty data dirs are
//! refused without creating anything.

mod common;

use common::*;
use storage::{Engine, EngineConfig, PutRequest, WriteRequest};

fn source_snapshot(dir: &std::path::Path) -> (std::path::PathBuf, storage::HashKv) {
    let src = Engine::open(dir.join("src"), EngineConfig::default()).unwrap();
    for i in 0..200 {
        src.write(&WriteRequest::Put(PutRequest::new(
            format!("k{i:03}"),
            format!("v{i}"),
        )))
        .unwrap();
    }
    src.write(&WriteRequest::LeaseGrant {
        id: 0x99,
        ttl_secs: 30,
    })
    .unwrap();
    src.write(&WriteRequest::Put(PutRequest {
        lease: 0x99,
        ..PutRequest::new("leased", "v")
    }))
    .unwrap();
    src.write(&WriteRequest::Put(PutRequest::new("k000", "changed")))
        .unwrap();
    src.write(&WriteRequest::Compact { revision: 50 }).unwrap();
    src.apply_with_state(
        src.applied_index() + 1,
        &WriteRequest::Noop,
        b"old cluster's raft state",
    )
    .unwrap();
    let file = dir.join("snap.db");
    src.save_snapshot(&file).unwrap();
    (file, src.hash_kv(0).unwrap())
}

#[test]
fn restore_creates_a_store_with_the_same_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, hash) = source_snapshot(tmp.path());
    let data_dir = tmp.path().join("restored");
    let v = json(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert_eq!(v["hash"], hash.hash);
    assert_eq!(v["revision"], hash.revision);
    assert_eq!(v["live_keys"], 201);

    let e = Engine::open(data_dir.join("store"), EngineConfig::default()).unwrap();
    assert_eq!(e.hash_kv(0).unwrap(), hash);
    assert_eq!(
        e.applied_index(),
        0,
        "the old cluster's Raft position is forgotten"
    );
    assert_eq!(e.replication_state().unwrap(), None);
    assert_eq!(e.lease_ids(), vec![0x99]);
    e.close();
    drop(e);

    // The restored dir reads back offline like any other.
    let keys = json(&[
        "offline",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "keys",
        "--prefix",
        "k000",
    ]);
    assert_eq!(keys["kvs"][0]["value"], "changed");
    assert!(json(&[
        "offline",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "applied"
    ])["last_applied_log_id"]
        .is_null());

    // An existing empty dir is fine too; the table output says how to start the cluster.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = ok(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        empty.to_str().unwrap(),
    ]);
    assert!(out.contains("--initial-cluster-state new"), "{out}");
}

#[test]
fn restore_refuses_bad_files_and_used_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, _) = source_snapshot(tmp.path());
    let good = std::fs::read(&file).unwrap();

    // A flipped byte in the middle, a truncated file, not a snapshot, a missing file.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped",
            {
                let mut b = good.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x40;
                b
            },
            "not valid",
        ),
        ("truncated", good[..good.len() - 100].to_vec(), "truncated"),
        (
            "garbage",
            b"definitely not a snapshot".to_vec(),
            "not a Berth snapshot",
        ),
    ];
    for (name, bytes, fragment) in cases {
        let bad = tmp.path().join(format!("{name}.db"));
        std::fs::write(&bad, bytes).unwrap();
        let target = tmp.path().join(format!("restored-{name}"));
        fails(
            &[
                "snapshot",
                "restore",
                bad.to_str().unwrap(),
                "--data-dir",
                target.to_str().unwrap(),
            ],
            fragment,
        );
        assert!(
            !target.exists(),
            "{name}: nothing may be created for a bad file"
        );
    }
    let target = tmp.path().join("restored-missing");
    fails(
        &[
            "snapshot",
            "restore",
            tmp.path().join("nope.db").to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ],
        "failed to open snapshot",
    );
    assert!(!target.exists());

    // A data dir that holds something is left alone.
    let used = tmp.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("keep.txt"), b"mine").unwrap();
    fails(
        &[
            "snapshot",
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            used.to_str().unwrap(),
        ],
        "is not empty",
    );
    assert_eq!(std::fs::read_dir(&used).unwrap().count(), 1);
    assert_eq!(std::fs::read(used.join("keep.txt")).unwrap(), b"mine");
}
