//! Online commands against Berth's etcd API served in-process over a `LocalStore`: KV,
//! txn, leases, members, status, compaction, defrag, watch, snapshot save (then restore),
//! TLS with a client certificate, and unreachable endpoints.

mod common;

use common::*;
use serde_json::json;
use std::io::BufRead;

#[test]
fn kv_txn_lease_member_status_compact_defrag() {
    let s = Server::start(None);
    let ep = s.endpoint();
    let e = ep.as_str();

    assert!(ok(&["--endpoints", e, "put", "k1", "v1"]).starts_with("OK"));
    assert_eq!(json(&["--endpoints", e, "put", "k2", "v2"])["revision"], 3);
    ok(&["--endpoints", e, "put", "other", "x"]);

    let v = json(&["--endpoints", e, "get", "k1"]);
    assert_eq!(
        v["kvs"],
        json!([{"key": "k1", "value": "v1", "create_revision": 2, "mod_revision": 2, "version": 1, "lease": ""}])
    );
    let v = json(&["--endpoints", e, "get", "k", "--prefix"]);
    assert_eq!(
        (v["count"].as_i64(), v["revision"].as_i64()),
        (Some(2), Some(4))
    );
    let v = json(&[
        "--endpoints",
        e,
        "get",
        "k",
        "--from-key",
        "--keys-only",
        "--limit",
        "2",
    ]);
    assert_eq!(v["kvs"].as_array().unwrap().len(), 2);
    assert!(v["kvs"][0].get("value").is_none(), "keys only: {v}");
    assert_eq!(v["more"], true);
    assert_eq!(
        json(&["--endpoints", e, "get", "k1", "--rev", "1"])["count"],
        0
    );
    let table = ok(&["--endpoints", e, "get", "k", "--prefix"]);
    assert!(
        table.starts_with("KEY") && table.contains("v2") && table.contains("2 keys, revision 4"),
        "{table}"
    );

    // txn: compares, success ops, failure ops from stdin.
    let spec = "value(\"k1\") = \"v1\"\nmod(\"k2\") > \"0\"\n\nput k1 \"new value\"\nget k2\ndel other\n\nput k1 lost\n";
    let v: serde_json::Value = serde_json::from_str(&ok_stdin(
        &["--endpoints", e, "txn", "-o", "json"],
        Some(spec),
    ))
    .unwrap();
    assert_eq!(v["succeeded"], true);
    assert_eq!(v["responses"][0]["op"], "put");
    assert_eq!(v["responses"][1]["kvs"][0]["value"], "v2");
    assert_eq!(v["responses"][2], json!({"op": "del", "deleted": 1}));
    let out = ok_stdin(
        &["--endpoints", e, "txn"],
        Some("value(\"k1\") = \"v1\"\n\nput k1 x\n\nput k2 from-failure\n"),
    );
    assert!(out.starts_with("FAILURE"), "{out}");
    assert_eq!(
        json(&["--endpoints", e, "get", "k2"])["kvs"][0]["value"],
        "from-failure"
    );
    fails_stdin(
        &["--endpoints", e, "txn"],
        Some("bogus(\"k\") = \"1\"\n"),
        "bad txn: line 1",
    );

    // del.
    assert_eq!(
        json(&["--endpoints", e, "del", "k", "--prefix"])["deleted"],
        2
    );

    // leases: grant, attach, timetolive with keys, list, keep-alive once, revoke.
    let v = json(&["--endpoints", e, "lease", "grant", "60"]);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["ttl_secs"], 60);
    assert!(ok(&["--endpoints", e, "lease", "grant", "30"]).contains("granted with TTL(30s)"));
    ok(&["--endpoints", e, "put", "leased", "v", "--lease", &id]);
    let v = json(&["--endpoints", e, "lease", "timetolive", &id, "--keys"]);
    assert_eq!(
        (v["granted_ttl_secs"].as_i64(), &v["keys"]),
        (Some(60), &json!(["leased"]))
    );
    assert!(v["ttl_secs"].as_i64().unwrap() > 0);
    let leases = json(&["--endpoints", e, "lease", "list"]);
    assert!(
        leases["leases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == id.as_str()),
        "{leases}"
    );
    assert!(
        ok(&["--endpoints", e, "lease", "keep-alive", &id, "--once"])
            .contains("keepalived with TTL(60)")
    );
    assert!(ok(&["--endpoints", e, "lease", "revoke", &id]).contains("revoked"));
    assert_eq!(
        json(&["--endpoints", e, "get", "leased"])["count"],
        0,
        "revoking deletes the lease's keys"
    );
    fails(&["--endpoints", e, "lease", "timetolive", &id], "not found");
    fails(
        &["--endpoints", e, "put", "k", "v", "--lease", "abc"],
        "lease not found",
    );
    fails(
        &["--endpoints", e, "lease", "keep-alive", &id, "--once"],
        "lease",
    );

    // members.
    let v = json(&["--endpoints", e, "member", "list"]);
    assert_eq!(v["cluster_id"], format!("{CLUSTER_ID:x}"));
    assert_eq!(v["members"][0]["id"], format!("{MEMBER_ID:x}"));
    assert_eq!(v["members"][0]["name"], "kvctl-test");
    assert_eq!(v["members"][0]["status"], "started");
    assert!(ok(&["--endpoints", e, "member", "list"]).contains("kvctl-test"));
    fails(
        &[
            "--endpoints",
            e,
            "member",
            "add",
            "n2",
            "--peer-urls",
            "http://127.0.0.9:2380",
        ],
        "failed to add member n2",
    );

    // status of every endpoint.
    let v = json(&["--endpoints", e, "status"]);
    let st = &v["endpoints"][0];
    assert_eq!(st["endpoint"], e);
    assert_eq!(st["id"], format!("{MEMBER_ID:x}"));
    assert_eq!(st["is_leader"], true);
    assert_eq!(st["version"], berth_replication::ETCD_COMPAT_VERSION);
    assert_eq!(st["revision"], s.store.engine().current_revision().0);
    assert!(
        st["raft_applied_index"].as_u64().unwrap() > 0 && st["db_size_bytes"].as_i64().unwrap() > 0
    );
    let table = ok(&["--endpoints", &format!("{e},{e}"), "status"]);
    assert_eq!(
        table.lines().count(),
        3,
        "a header and one row per endpoint: {table}"
    );
    // One endpoint down: the others still print, then exit 1.
    let out = kvctl(&["--endpoints", &format!("{e},http://127.0.0.1:1"), "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(e));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"));

    // compact, then reads below it fail; defrag.
    let rev = s.store.engine().current_revision().0;
    assert!(ok(&["--endpoints", e, "compact", &rev.to_string()])
        .contains(&format!("compacted revision {rev}")));
    fails(&["--endpoints", e, "get", "k1", "--rev", "2"], "compacted");
    fails(&["--endpoints", e, "compact", "1"], "compacted");
    assert!(ok(&["--endpoints", e, "defrag"]).contains("Finished defragmenting"));
}

#[test]
fn snapshot_save_writes_exactly_the_berth_snapshot() {
    let s = Server::start(None);
    let e = s.endpoint();
    // Enough data for many 4 KiB chunks.
    for i in 0..40 {
        let value = format!("{i}-{}", "x".repeat(1000));
        ok(&["--endpoints", &e, "put", &format!("key{i:02}"), &value]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("saved.db");
    let v = json(&[
        "--endpoints",
        &e,
        "snapshot",
        "save",
        file.to_str().unwrap(),
    ]);
    let info = storage::verify_snapshot(&file).expect("a valid Berth snapshot");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        info.size_bytes,
        "no padding or SHA-256 left in the file"
    );
    assert_eq!(
        (v["size_bytes"].as_u64(), v["revision"].as_i64()),
        (Some(info.size_bytes), Some(info.revision))
    );
    assert!(!tmp.path().join("saved.db.part").exists());

    // Restoring it gives the server's keyspace.
    let restored = tmp.path().join("restored");
    let r = json(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(r["hash"], s.store.engine().hash_kv(0).unwrap().hash);

    // Table output; several endpoints are refused; a dead endpoint fails and leaves nothing.
    assert!(ok(&[
        "--endpoints",
        &e,
        "snapshot",
        "save",
        file.to_str().unwrap()
    ])
    .contains("Snapshot saved at"));
    fails(
        &[
            "--endpoints",
            &format!("{e},{e}"),
            "snapshot",
            "save",
            file.to_str().unwrap(),
        ],
        "exactly one endpoint",
    );
    let other = tmp.path().join("other.db");
    fails(
        &[
            "--endpoints",
            "http://127.0.0.1:1",
            "snapshot",
            "save",
            other.to_str().unwrap(),
        ],
        "failed to connect",
    );
    assert!(!other.exists() && !tmp.path().join("other.db.part").exists());
}

#[test]
fn watch_streams_events_from_a_revision() {
    let s = Server::start(None);
    let e = s.endpoint();
    ok(&["--endpoints", &e, "put", "w/a", "1"]);
    ok(&["--endpoints", &e, "put", "w/b", "2"]);
    ok(&["--endpoints", &e, "del", "w/a"]);
    let mut child = std::process::Command::new(KVCTL)
        .args([
            "--endpoints",
            &e,
            "watch",
            "w/",
            "--prefix",
            "--rev",
            "1",
            "-o",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    for _ in 0..3 {
        let line = lines.next().expect("an event line").unwrap();
        events.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    // A live event after the replay.
    ok(&["--endpoints", &e, "put", "w/c", "3"]);
    events.push(serde_json::from_str(&lines.next().expect("a live event").unwrap()).unwrap());
    child.kill().unwrap();
    let _ = child.wait();
    let summary: Vec<(String, String, i64)> = events
        .iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
                v["mod_revision"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("put".to_string(), "w/a".to_string(), 2),
            ("put".into(), "w/b".into(), 3),
            ("delete".into(), "w/a".into(), 4),
            ("put".into(), "w/c".into(), 5)
        ]
    );

    // A start revision below the compact revision is refused with a clear error.
    ok(&["--endpoints", &e, "compact", "4"]);
    fails(
        &["--endpoints", &e, "watch", "w/", "--prefix", "--rev", "2"],
        "compacted",
    );
}

#[test]
fn unreachable_endpoints_and_bad_flags_fail_with_one_line() {
    fails(
        &["--endpoints", "http://127.0.0.1:1", "get", "k"],
        "failed to connect to http://127.0.0.1:1",
    );
    fails(
        &[
            "--endpoints",
            "http://127.0.0.1:1,http://127.0.0.1:2",
            "put",
            "k",
            "v",
        ],
        "127.0.0.1:2",
    );
    fails(
        &[
            "--endpoints",
            "http://127.0.0.1:1",
            "--timeout",
            "300ms",
            "member",
            "list",
        ],
        "failed to connect",
    );
    fails(
        &["--endpoints", "ftp://127.0.0.1:1", "get", "k"],
        "must start with http:// or https://",
    );
    fails(
        &["--endpoints", "http://127.0.0.1", "get", "k"],
        "has no port",
    );
    fails(
        &["--endpoints", "https://127.0.0.1:1", "get", "k"],
        "need --cacert",
    );
    fails(
        &[
            "--endpoints",
            "http://127.0.0.1:1",
            "--cacert",
            "/nonexistent/ca.pem",
            "get",
            "k",
        ],
        "need https:// endpoints",
    );
    fails(
        &[
            "--endpoints",
            "https://127.0.0.1:1",
            "--cacert",
            "/nonexistent/ca.pem",
            "get",
            "k",
        ],
        "failed to read the CA certificate",
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kvctl test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        "server",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(Vec::new(), "kvctl", ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: ca_cert.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

#[test]
fn tls_with_a_client_certificate() {
    let p = pki();
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (ca, cert, key) = (
        write("ca.pem", &p.ca),
        write("client.pem", &p.client_cert),
        write("client-key.pem", &p.client_key),
    );
    let tls = berth_etcd_api::TlsConfig {
        cert_chain_pem: p.server_cert.into_bytes(),
        key_pem: p.server_key.into_bytes(),
        client_ca_pem: Some(p.ca.into_bytes()),
    };
    let s = Server::start(Some(tls));
    let ep = format!("https://127.0.0.1:{}", s.port);
    let flags = [
        "--endpoints",
        ep.as_str(),
        "--cacert",
        ca.as_str(),
        "--cert",
        cert.as_str(),
        "--key",
        key.as_str(),
    ];
    let with = |rest: &[&str]| -> Vec<String> {
        flags.iter().chain(rest).map(|s| s.to_string()).collect()
    };
    let args = with(&["put", "secure", "yes"]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = with(&["get", "secure", "-o", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&ok(&args.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
    assert_eq!(v["kvs"][0]["value"], "yes");
    let args = with(&["status", "-o", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&ok(&args.iter().map(String::as_str).collect::<Vec<_>>())).unwrap();
    assert_eq!(v["endpoints"][0]["endpoint"], ep);

    // Without the client certificate the server refuses; plain http to a TLS port fails.
    fails(
        &[
            "--endpoints",
            &ep,
            "--cacert",
            &ca,
            "--timeout",
            "2s",
            "get",
            "secure",
        ],
        "pass --cert and --key",
    );
    fails(
        &[
            "--endpoints",
            &format!("http://127.0.0.1:{}", s.port),
            "--timeout",
            "2s",
            "get",
            "secure",
        ],
        "failed to get secure",
    );
}
