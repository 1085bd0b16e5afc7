//! Test harness: runs the real `kvctl` binary, builds stopped-replica data dirs the way the
//! replication layer writes them, and serves the etcd API over a `LocalStore` in-process.
#![allow(dead_code)]

use berth_replication::types::{encode, Entry, LogId, PeerNode, Proposal, StoredMembership, Vote};
use berth_replication::{AppliedState, LocalStore, Member};
use openraft::impls::leader_id_adv::LeaderId;
use openraft::{EntryPayload, Membership};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use storage::{Engine, EngineConfig, WriteRequest};

pub const KVCTL: &str = env!("CARGO_BIN_EXE_kvctl");

/// Runs kvctl with `args` (stdin closed).
pub fn kvctl(args: &[&str]) -> Output {
    kvctl_stdin(args, None)
}

pub fn kvctl_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(KVCTL);
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("failed to start kvctl");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("failed to run kvctl")
}

/// Runs kvctl, expects exit 0 and an empty stderr, returns stdout.
pub fn ok(args: &[&str]) -> String {
    ok_stdin(args, None)
}

pub fn ok_stdin(args: &[&str], stdin: Option<&str>) -> String {
    let out = kvctl_stdin(args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "kvctl {args:?} failed ({:?}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status.code()
    );
    assert!(
        stderr.is_empty(),
        "kvctl {args:?} wrote to stderr: {stderr}"
    );
    stdout
}

/// Runs kvctl with `-o json`, expects success, parses stdout.
pub fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = ok(&all);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("kvctl {args:?}: output is not JSON ({e}):\n{out}"))
}

/// Runs kvctl, expects exit code 1 and one line on stderr containing `fragment`; returns it.
pub fn fails(args: &[&str], fragment: &str) -> String {
    fails_stdin(args, None, fragment)
}

pub fn fails_stdin(args: &[&str], stdin: Option<&str>, fragment: &str) -> String {
    let out = kvctl_stdin(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "kvctl {args:?} should exit 1; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(fragment),
        "kvctl {args:?}: stderr {stderr:?} should contain {fragment:?}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "kvctl {args:?}: the error should be one line: {stderr:?}"
    );
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

// ---- a stopped replica's data dir, written as the replication layer writes it ----------

pub const TERM: u64 = 3;
pub const LEADER: u64 = 0xa1;
pub const CLUSTER: u64 = 0xc1c1;

pub fn log_id(index: u64) -> LogId {
    LogId {
        leader_id: LeaderId {
            term: TERM,
            node_id: LEADER,
        },
        index,
    }
}

pub fn membership() -> Membership<u64, PeerNode> {
    let nodes: BTreeMap<u64, PeerNode> = [
        (
            LEADER,
            PeerNode {
                name: "n0".into(),
                peer_urls: vec!["http://127.0.0.1:2380".into()],
                client_urls: vec!["http://127.0.0.1:2379".into()],
            },
        ),
        (
            0xb2,
            PeerNode {
                name: "n1".into(),
                peer_urls: vec!["http://127.0.0.2:2380".into()],
                client_urls: Vec::new(),
            },
        ),
    ]
    .into();
    Membership::new(vec![BTreeSet::from([LEADER])], nodes).expect("membership")
}

/// What a fixture wrote, to compare kvctl's output with.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub hash: storage::HashKv,
    pub applied_index: u64,
    pub revision: i64,
}

impl Fixture {
    pub fn data_dir(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 path")
    }
}

/// Entries applied through the state machine's path: each one appended to the Raft log
/// (bincode `types::Entry`), then applied with the applied log id and membership, as
/// `StateMachine::apply` does; plus the vote, committed id, member and cluster ids.
pub fn build_replica_dir() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(
        dir.path().join(berth_replication::STORE_DIR),
        EngineConfig::default(),
    )
    .expect("open engine");
    let log = engine.raft_log();
    let put = |k: &str, v: &str| WriteRequest::Put(storage::PutRequest::new(k, v));
    let payloads: Vec<EntryPayload<Proposal, u64, PeerNode>> = vec![
        EntryPayload::Membership(membership()),        // 1
        EntryPayload::Blank,                           // 2
        EntryPayload::Normal(Proposal(put("a", "1"))), // 3: rev 2
        EntryPayload::Normal(Proposal(put("a", "2"))), // 4: rev 3
        EntryPayload::Normal(Proposal(put("b", "x"))), // 5: rev 4
        EntryPayload::Normal(Proposal(WriteRequest::LeaseGrant {
            id: 0x7b,
            ttl_secs: 60,
        })), // 6
        EntryPayload::Normal(Proposal(WriteRequest::Put(storage::PutRequest {
            lease: 0x7b,
            ..storage::PutRequest::new("leased", "v")
        }))), // 7: rev 5
        EntryPayload::Normal(Proposal(WriteRequest::DeleteRange(
            storage::DeleteRangeRequest::key("b"),
        ))), // 8: rev 6
        EntryPayload::Normal(Proposal(put("a", "3"))), // 9: rev 7
        EntryPayload::Normal(Proposal(WriteRequest::Compact { revision: 3 })), // 10
        EntryPayload::Normal(Proposal(put("c", "bin\u{1}"))), // 11: rev 8
    ];
    let mut stored_membership = StoredMembership::default();
    for (i, payload) in payloads.into_iter().enumerate() {
        let index = i as u64 + 1;
        let entry: Entry = Entry {
            log_id: log_id(index),
            payload,
        };
        log.append_wait(vec![(index, encode(&entry).expect("encode entry"))])
            .expect("append");
        let request = match &entry.payload {
            EntryPayload::Blank => WriteRequest::Noop,
            EntryPayload::Normal(Proposal(r)) => r.clone(),
            EntryPayload::Membership(m) => {
                stored_membership = StoredMembership::new(Some(log_id(index)), m.clone());
                WriteRequest::Noop
            }
        };
        let state = encode(&AppliedState {
            last_applied: Some(log_id(index)),
            membership: stored_membership.clone(),
        })
        .expect("encode state");
        engine
            .apply_with_state(index, &request, &state)
            .expect("apply");
    }
    log.save_state(
        b"vote",
        &encode(&Vote {
            leader_id: LeaderId {
                term: TERM,
                node_id: LEADER,
            },
            committed: true,
        })
        .unwrap(),
    )
    .unwrap();
    log.save_state(b"committed", &encode(&Some(log_id(11))).unwrap())
        .unwrap();
    log.save_state(b"member_id", &encode(&LEADER).unwrap())
        .unwrap();
    log.save_state(b"cluster_id", &encode(&CLUSTER).unwrap())
        .unwrap();
    let hash = engine.hash_kv(0).expect("hash");
    let fixture = Fixture {
        hash,
        applied_index: engine.applied_index(),
        revision: engine.current_revision().0,
        dir,
    };
    drop(log);
    engine.close();
    drop(engine);
    fixture
}

/// Every file under `dir` with its size and modification time (to prove nothing wrote).
pub fn listing(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let e = e.expect("dir entry");
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((
                    e.path().display().to_string(),
                    m.len(),
                    m.modified().expect("mtime"),
                ));
            }
        }
    }
    out.sort();
    out
}

// ---- an etcd API server over a LocalStore, in its own runtime ----------------------------

pub const MEMBER_ID: u64 = 0x8e9e_05c5_2164_694d;
pub const CLUSTER_ID: u64 = 0xcdf8_1819_4e3a_8c32;

pub struct Server {
    rt: Option<tokio::runtime::Runtime>,
    pub store: LocalStore,
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(tls: Option<berth_etcd_api::TlsConfig>) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let member = Member {
            id: MEMBER_ID,
            name: "kvctl-test".into(),
            peer_urls: vec!["http://127.0.0.1:2380".into()],
            client_urls: vec![format!("{scheme}://127.0.0.1:{port}")],
            is_learner: false,
        };
        let store = rt
            .block_on(async {
                LocalStore::open(dir.path(), EngineConfig::default(), member, CLUSTER_ID)
            })
            .expect("open store");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = berth_etcd_api::ApiConfig {
            snapshot_chunk_bytes: 4096,
            ..Default::default()
        };
        rt.spawn(berth_etcd_api::serve(
            Arc::new(store.clone()),
            listener,
            tls,
            config,
            async {
                let _ = rx.await;
            },
        ));
        Server {
            rt: Some(rt),
            store,
            port,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}
