//! `kvctl offline` on the data dir of a real (single-member) replica after it stopped: the
//! Raft state, log and applied state exactly as the replication crate wrote them.

mod common;

use berth_replication::{Replica, ReplicaConfig, Store};
use common::*;
use std::time::{Duration, Instant};
use storage::{PutRequest, WriteRequest};

#[test]
fn offline_reads_what_a_real_replica_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("n0");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (member_id, applied_index, hash) = rt.block_on(async {
        let mut config = ReplicaConfig::new(
            "n0",
            data_dir.clone(),
            vec![("n0".into(), "http://127.0.0.1:1".into())],
        );
        config.heartbeat_interval_ms = 50;
        config.election_timeout_ms = 200;
        config.advertise_client_urls = vec!["http://127.0.0.1:2379".into()];
        let (replica, _service) = Replica::start(config).await.expect("start replica");
        // Writes succeed once it has elected itself.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match replica
                .write(WriteRequest::Put(PutRequest::new("first", "1")))
                .await
            {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the replica never accepted a write: {e}"),
            }
        }
        replica
            .write(WriteRequest::LeaseGrant {
                id: 0x55,
                ttl_secs: 600,
            })
            .await
            .unwrap();
        replica
            .write(WriteRequest::Put(PutRequest {
                lease: 0x55,
                ..PutRequest::new("leased", "v")
            }))
            .await
            .unwrap();
        replica
            .write(WriteRequest::Put(PutRequest::new("first", "2")))
            .await
            .unwrap();
        // Wait until it has published its client URLs (a membership entry of its own).
        let deadline = Instant::now() + Duration::from_secs(10);
        while replica
            .metrics()
            .membership_config
            .membership()
            .get_node(&replica.id())
            .is_none_or(|n| n.client_urls.is_empty())
        {
            assert!(
                Instant::now() < deadline,
                "the replica never published itself"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = (
            replica.id(),
            replica.engine().applied_index(),
            replica.engine().hash_kv(0).unwrap(),
        );
        replica.shutdown().await;
        out
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    let d = data_dir.to_str().unwrap();

    let state = json(&["offline", "--data-dir", d, "raft", "state"]);
    assert_eq!(state["member_id"], format!("{member_id:x}"));
    assert!(state["cluster_id"].is_string());
    assert_eq!(state["vote"]["voted_for"], format!("{member_id:x}"));
    assert_eq!(state["vote"]["committed"], true);
    assert_eq!(state["applied_index"], applied_index);
    assert_eq!(state["last_applied_log_id"]["index"], applied_index);
    assert_eq!(
        state["last_applied_log_id"]["leader"],
        format!("{member_id:x}")
    );

    let entries = json(&["offline", "--data-dir", d, "raft", "entries"]);
    let entries = entries["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"membership"), "{kinds:?}");
    assert!(kinds.contains(&"blank"), "{kinds:?}");
    assert!(!kinds.contains(&"undecodable"), "{kinds:?}");
    let requests: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["request"].as_str())
        .collect();
    assert_eq!(requests, ["put", "lease-grant", "put", "put"]);

    let applied = json(&["offline", "--data-dir", d, "applied"]);
    assert_eq!(applied["applied_index"], applied_index);
    let members = applied["membership"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["name"], "n0");
    assert_eq!(
        members[0]["client_urls"],
        serde_json::json!(["http://127.0.0.1:2379"])
    );

    assert_eq!(
        json(&["offline", "--data-dir", d, "hashkv"])["hash"],
        hash.hash
    );
    assert_eq!(
        json(&["offline", "--data-dir", d, "leases"])["leases"][0]["keys"],
        serde_json::json!(["leased"])
    );
    let v = json(&["offline", "--data-dir", d, "keys"]);
    assert_eq!(v["kvs"][0]["value"], "2");
    assert!(ok(&["offline", "--data-dir", d, "raft", "membership"]).contains("n0"));
}
