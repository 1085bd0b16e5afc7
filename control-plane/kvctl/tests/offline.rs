//! `kvctl offline` on a stopped replica's data dir built the way the replication layer
//! writes one: every subcommand's table and JSON, bad data dirs, and that nothing is
//! written.

mod common;

use common::*;
use serde_json::json;

#[test]
fn offline_keys_history_leases_applied_hashkv() {
    let f = build_replica_dir();
    let d = f.data_dir();
    let before = listing(f.dir.path());

    // keys: the live keys at the current revision.
    let v = json(&["offline", "--data-dir", d, "keys"]);
    assert_eq!(v["revision"], 8);
    assert_eq!(v["current_revision"], 8);
    assert_eq!(v["compact_revision"], 3);
    assert_eq!(v["count"], 3);
    let keys: Vec<&str> = v["kvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "c", "leased"]);
    assert_eq!(
        v["kvs"][0],
        json!({"key": "a", "value": "3", "create_revision": 2, "mod_revision": 7, "version": 3, "lease": ""})
    );
    assert_eq!(v["kvs"][2]["lease"], "7b");
    let table = ok(&["offline", "--data-dir", d, "keys"]);
    assert!(table.starts_with("KEY "), "{table}");
    assert!(
        table.contains("bin\\u{1}"),
        "control bytes are escaped in tables: {table}"
    );
    assert!(table.contains("3 keys at revision 8"), "{table}");

    // keys at an older revision, with a prefix, with a limit.
    let v = json(&["offline", "--data-dir", d, "keys", "--rev", "5"]);
    let at5: Vec<(&str, &str)> = v["kvs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| (kv["key"].as_str().unwrap(), kv["value"].as_str().unwrap()))
        .collect();
    assert_eq!(at5, [("a", "2"), ("b", "x"), ("leased", "v")]);
    assert_eq!(
        json(&["offline", "--data-dir", d, "keys", "--prefix", "le"])["count"],
        1
    );
    let v = json(&["offline", "--data-dir", d, "keys", "--limit", "1"]);
    assert_eq!(
        (v["kvs"].as_array().unwrap().len(), v["more"].as_bool()),
        (1, Some(true))
    );
    fails(
        &["offline", "--data-dir", d, "keys", "--rev", "2"],
        "compacted",
    );
    fails(
        &["offline", "--data-dir", d, "keys", "--rev", "99"],
        "future revision",
    );

    // history: newest first, tombstones as deletes, compacted versions marked.
    let v = json(&["offline", "--data-dir", d, "history", "a"]);
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(
        (
            versions[0]["mod_revision"].as_i64(),
            versions[0]["value"].as_str()
        ),
        (Some(7), Some("3"))
    );
    assert_eq!(
        (
            versions[1]["mod_revision"].as_i64(),
            versions[1]["compacted"].as_bool()
        ),
        (Some(3), Some(false))
    );
    // Version 1 (revision 2) is below the compact revision: gone, or still there but marked.
    if let Some(old) = versions.get(2) {
        assert_eq!(
            (old["mod_revision"].as_i64(), old["compacted"].as_bool()),
            (Some(2), Some(true))
        );
    }
    let v = json(&["offline", "--data-dir", d, "history", "b"]);
    assert_eq!(v["versions"][0]["kind"], "delete");
    assert_eq!(v["versions"][0]["mod_revision"], 6);
    assert_eq!(v["versions"][1]["kind"], "put");
    let table = ok(&["offline", "--data-dir", d, "history", "b"]);
    assert!(
        table.contains("delete") && table.contains("2 versions of b"),
        "{table}"
    );
    assert!(ok(&["offline", "--data-dir", d, "history", "nope"]).contains("no versions of nope"));

    // leases.
    let v = json(&["offline", "--data-dir", d, "leases"]);
    assert_eq!(
        v,
        json!({"leases": [{"id": "7b", "granted_ttl_secs": 60, "keys": ["leased"]}]})
    );
    let table = ok(&["offline", "--data-dir", d, "leases"]);
    assert!(
        table.contains("7b") && table.contains("60s") && table.contains("leased"),
        "{table}"
    );

    // applied.
    let v = json(&["offline", "--data-dir", d, "applied"]);
    assert_eq!(v["applied_index"], f.applied_index);
    assert_eq!(v["revision"], f.revision);
    assert_eq!(v["compact_revision"], 3);
    assert_eq!(v["live_keys"], 3);
    assert_eq!(
        v["last_applied_log_id"],
        json!({"term": TERM, "leader": "a1", "index": 11})
    );
    assert_eq!(v["membership"]["log_id"]["index"], 1);
    assert_eq!(v["membership"]["configs"], json!([["a1"]]));
    let members = v["membership"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(
        members[1],
        json!({"id": "b2", "name": "n1", "peer_urls": ["http://127.0.0.2:2380"], "client_urls": [], "is_learner": true})
    );
    let table = ok(&["offline", "--data-dir", d, "applied"]);
    assert!(
        table.contains("applied index")
            && table.contains("3-a1-11")
            && table.contains("voters [a1(n0)] learners [b2(n1)]"),
        "{table}"
    );

    // hashkv: what the engine computed before it stopped.
    let v = json(&["offline", "--data-dir", d, "hashkv"]);
    assert_eq!(
        v,
        json!({"hash": f.hash.hash, "revision": 8, "compact_revision": 3})
    );
    assert!(ok(&["offline", "--data-dir", d, "hashkv"]).contains(&f.hash.hash.to_string()));
    assert_eq!(
        json(&["offline", "--data-dir", d, "hashkv", "--rev", "5"])["revision"],
        5
    );

    assert_eq!(
        listing(f.dir.path()),
        before,
        "offline commands must not write to the data dir"
    );
}

#[test]
fn offline_raft_entries_vote_membership_state() {
    let f = build_replica_dir();
    let d = f.data_dir();
    let before = listing(f.dir.path());

    let v = json(&["offline", "--data-dir", d, "raft", "entries"]);
    assert_eq!(
        (
            v["first_index"].as_u64(),
            v["last_index"].as_u64(),
            v["more"].as_bool()
        ),
        (Some(1), Some(11), Some(false))
    );
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 11);
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "membership",
            "blank",
            "normal",
            "normal",
            "normal",
            "normal",
            "normal",
            "normal",
            "normal",
            "normal",
            "normal"
        ]
    );
    assert_eq!(
        entries[0]["log_id"],
        json!({"term": TERM, "leader": "a1", "index": 1})
    );
    assert_eq!(entries[0]["membership"]["configs"], json!([["a1"]]));
    assert_eq!(
        (entries[2]["request"].as_str(), &entries[2]["keys"]),
        (Some("put"), &json!(["a"]))
    );
    assert_eq!(entries[5]["request"], "lease-grant");
    assert_eq!(entries[7]["request"], "delete-range");
    assert_eq!(entries[9]["detail"], "compact to revision 3");
    let table = ok(&["offline", "--data-dir", d, "raft", "entries"]);
    assert!(table.starts_with("INDEX"), "{table}");
    assert!(table.contains("put leased (1 bytes) lease 7b"), "{table}");
    assert!(table.contains("log holds entries 1..=11"), "{table}");

    // A window, and a limit that leaves more.
    let v = json(&[
        "offline",
        "--data-dir",
        d,
        "raft",
        "entries",
        "--from",
        "3",
        "--to",
        "4",
    ]);
    let idx: Vec<u64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, [3, 4]);
    let v = json(&[
        "offline",
        "--data-dir",
        d,
        "raft",
        "entries",
        "--limit",
        "2",
    ]);
    assert_eq!(
        (v["entries"].as_array().unwrap().len(), v["more"].as_bool()),
        (2, Some(true))
    );

    let v = json(&["offline", "--data-dir", d, "raft", "vote"]);
    assert_eq!(
        v,
        json!({"vote": {"term": TERM, "voted_for": "a1", "committed": true}})
    );
    assert!(ok(&["offline", "--data-dir", d, "raft", "vote"]).contains("voted for"));

    let v = json(&["offline", "--data-dir", d, "raft", "membership"]);
    assert_eq!(v["applied"]["log_id"]["index"], 1);
    assert!(v["latest_in_log"].is_null());
    assert!(ok(&["offline", "--data-dir", d, "raft", "membership"])
        .contains("applied membership (log id 3-a1-1)"));

    let v = json(&["offline", "--data-dir", d, "raft", "state"]);
    assert_eq!(v["member_id"], "a1");
    assert_eq!(v["cluster_id"], "c1c1");
    assert_eq!(v["committed"]["index"], 11);
    assert_eq!(v["last_log_id"]["index"], 11);
    assert_eq!(
        (
            v["first_index"].as_u64(),
            v["last_index"].as_u64(),
            v["applied_index"].as_u64()
        ),
        (Some(1), Some(11), Some(11))
    );
    assert!(v["last_purged_log_id"].is_null());
    // `raft` alone is `raft state`.
    assert_eq!(
        ok(&["offline", "--data-dir", d, "raft"]),
        ok(&["offline", "--data-dir", d, "raft", "state"])
    );

    assert_eq!(
        listing(f.dir.path()),
        before,
        "offline commands must not write to the data dir"
    );
}

#[test]
fn bad_data_dirs_fail_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    fails(
        &["offline", "--data-dir", missing.to_str().unwrap(), "keys"],
        "does not exist",
    );
    fails(
        &[
            "offline",
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "keys",
        ],
        "is not a Berth data dir",
    );
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    fails(
        &["offline", "--data-dir", file.to_str().unwrap(), "applied"],
        "is not a directory",
    );
    std::fs::create_dir(tmp.path().join("store")).unwrap();
    fails(
        &[
            "offline",
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "leases",
        ],
        "no RocksDB database",
    );
    std::fs::write(tmp.path().join("store/CURRENT"), b"garbage\n").unwrap();
    fails(
        &[
            "offline",
            "--data-dir",
            tmp.path().to_str().unwrap(),
            "raft",
        ],
        "failed to open the store",
    );

    // The store directory itself instead of the data dir: a hint.
    let f = build_replica_dir();
    let store = f.dir.path().join("store");
    fails(
        &["offline", "--data-dir", store.to_str().unwrap(), "keys"],
        "pass the replica's data dir",
    );
}
