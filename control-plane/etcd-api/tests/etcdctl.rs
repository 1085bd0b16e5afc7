//! The etcd API against the real `etcdctl` 3.4: every command's output as etcdctl prints it
//! from our answers, and bad input that must be refused without harm.

mod common;

use common::{json_keys, Ctl, TestServer, CLUSTER_ID, MEMBER_ID, MEMBER_NAME};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use storage::{Alarm, AlarmKind, WriteRequest};

const WAIT: Duration = Duration::from_secs(10);

fn get_keys(c: &Ctl, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    json_keys(&c.json(&all))
}

#[test]
fn put_and_get_with_range_options() {
    let s = TestServer::start();
    let c = s.ctl();
    assert_eq!(c.ok(&["put", "a", "1"]), "OK\n"); // revision 2
    c.ok(&["put", "b", "22"]); // 3
    c.ok(&["put", "c", "3"]); // 4
    c.ok(&["put", "foo/x", "x1"]); // 5
    c.ok(&["put", "foo/y", "y1"]); // 6
    c.ok(&["put", "a", "1b"]); // 7

    assert_eq!(c.ok(&["get", "a"]), "a\n1b\n");
    assert_eq!(c.ok(&["get", "a", "--rev", "2"]), "a\n1\n");
    assert_eq!(c.ok(&["get", "missing"]), "");
    assert_eq!(c.ok(&["get", "--prefix", "foo/"]), "foo/x\nx1\nfoo/y\ny1\n");
    assert_eq!(c.ok(&["get", "--print-value-only", "b"]), "22\n");
    assert_eq!(
        get_keys(&c, &["--from-key", "b"]),
        ["b", "c", "foo/x", "foo/y"]
    );
    assert_eq!(get_keys(&c, &["a", "c"]), ["a", "b"], "the range [a, c)");
    assert_eq!(
        get_keys(&c, &["--prefix", ""]),
        ["a", "b", "c", "foo/x", "foo/y"]
    );
    assert_eq!(
        get_keys(
            &c,
            &["--prefix", "", "--sort-by", "MODIFY", "--order", "DESCEND"]
        ),
        ["a", "foo/y", "foo/x", "c", "b"]
    );
    assert_eq!(
        get_keys(
            &c,
            &["--prefix", "", "--sort-by", "VALUE", "--order", "ASCEND"]
        ),
        ["a", "b", "c", "foo/x", "foo/y"]
    );
    assert_eq!(
        get_keys(
            &c,
            &["--prefix", "", "--sort-by", "CREATE", "--order", "DESCEND"]
        ),
        ["foo/y", "foo/x", "c", "b", "a"]
    );
    assert_eq!(
        get_keys(
            &c,
            &[
                "--prefix",
                "",
                "--sort-by",
                "VERSION",
                "--order",
                "DESCEND",
                "--limit",
                "1"
            ]
        ),
        ["a"]
    );

    let limited = c.json(&["get", "--prefix", "", "--limit", "2"]);
    assert_eq!(json_keys(&limited), ["a", "b"]);
    assert_eq!(limited["count"], 5);
    assert_eq!(limited["more"], true);

    let keys_only = c.json(&["get", "--prefix", "foo/", "--keys-only"]);
    assert_eq!(json_keys(&keys_only), ["foo/x", "foo/y"]);
    assert!(
        keys_only["kvs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|kv| kv.get("value").is_none()),
        "{keys_only}"
    );

    // Every header names this cluster and member, the store's revision and term.
    let a = c.json(&["get", "a"]);
    assert_eq!(a["header"]["cluster_id"], CLUSTER_ID);
    assert_eq!(a["header"]["member_id"], MEMBER_ID);
    assert_eq!(a["header"]["revision"], 7);
    assert_eq!(a["header"]["raft_term"], 1);
    let kv = &a["kvs"][0];
    assert_eq!(
        (
            kv["create_revision"].as_i64(),
            kv["mod_revision"].as_i64(),
            kv["version"].as_i64()
        ),
        (Some(2), Some(7), Some(2))
    );
    // A write's header carries the write's revision.
    let put = c.json(&["put", "d", "4"]);
    assert_eq!(put["header"]["revision"], 8);
    assert_eq!(put["header"]["member_id"], MEMBER_ID);

    // A future revision is refused as etcd does.
    assert!(c
        .fails(&["get", "a", "--rev", "100"])
        .contains("etcdserver: mvcc: required revision is a future revision"));

    // Inverted ranges are empty, as in etcd (the engine itself refuses them).
    assert_eq!(c.ok(&["get", "c", "a"]), "");
    assert_eq!(c.ok(&["del", "c", "a"]), "0\n");
    assert_eq!(get_keys(&c, &["--prefix", ""]).len(), 6);

    assert_eq!(c.ok(&["del", "--prefix", "foo/"]), "2\n");
    assert_eq!(c.ok(&["del", "--prev-kv", "b"]), "1\nb\n22\n");
    assert_eq!(c.ok(&["del", "b"]), "0\n");
    assert_eq!(get_keys(&c, &["--prefix", ""]), ["a", "c", "d"]);
}

fn txn(c: &Ctl, script: &str) -> serde_json::Value {
    let out = c.ok_with_stdin(&["-w", "json", "txn", "-i"], Some(script.as_bytes()));
    // Interactive mode prints its prompts before the answer.
    let start = out.find('{').unwrap_or_else(|| panic!("no json in {out}"));
    serde_json::from_str(&out[start..]).unwrap_or_else(|e| panic!("bad json ({e}): {out}"))
}

#[test]
fn txn_takes_either_branch() {
    let s = TestServer::start();
    let c = s.ctl();
    c.ok(&["put", "a", "1"]);

    let t = txn(
        &c,
        "value(\"a\") = \"1\"\nmod(\"a\") > \"0\"\n\nput r yes\nget a\n\nput r no\n\n",
    );
    assert_eq!(t["succeeded"], true, "{t}");
    assert_eq!(t["header"]["revision"], 3);
    let responses = t["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 2, "{t}");
    assert_eq!(json_keys(&responses[1]["Response"]["ResponseRange"]), ["a"]);
    assert_eq!(c.ok(&["get", "--print-value-only", "r"]), "yes\n");

    let t = txn(
        &c,
        "value(\"a\") = \"2\"\n\nput r yes\n\nput r no\ndel a\n\n",
    );
    assert_eq!(t.get("succeeded"), None, "false is omitted: {t}");
    assert_eq!(c.ok(&["get", "--print-value-only", "r"]), "no\n");
    assert_eq!(c.ok(&["get", "a"]), "");

    // The simple output, as etcdctl prints it.
    let out = c.ok_with_stdin(
        &["txn", "-i"],
        Some(b"version(\"r\") = \"2\"\n\nput s 1\n\n\n"),
    );
    assert!(out.contains("SUCCESS\n\nOK\n"), "{out}");
}

#[test]
fn watch_streams_history_and_live_events() {
    let s = TestServer::start();
    let c = s.ctl();
    c.ok(&["put", "w/a", "1"]); // 2
    c.ok(&["put", "x", "0"]); // 3
    c.ok(&["put", "w/b", "2"]); // 4
    c.ok(&["del", "w/a"]); // 5

    let mut w = c.spawn(&["watch", "--prefix", "w/", "--rev", "2"], false);
    assert_eq!(
        w.lines(9, WAIT),
        ["PUT", "w/a", "1", "PUT", "w/b", "2", "DELETE", "w/a", ""]
    );
    c.ok(&["put", "w/c", "3"]);
    c.ok(&["put", "y", "not watched"]);
    c.ok(&["put", "w/b", "22"]);
    assert_eq!(w.lines(6, WAIT), ["PUT", "w/c", "3", "PUT", "w/b", "22"]);
    drop(w);

    // prev_kv when asked, and only then. (Both start at the next revision, whenever
    // etcdctl gets to create them.)
    let mut with_prev = c.spawn(&["watch", "w/b", "--prev-kv", "--rev", "9"], false);
    let mut without = c.spawn(&["watch", "w/b", "--rev", "9"], false);
    assert_eq!(c.json(&["put", "w/b", "222"])["header"]["revision"], 9);
    assert_eq!(with_prev.lines(5, WAIT), ["PUT", "w/b", "22", "w/b", "222"]);
    assert_eq!(without.lines(3, WAIT), ["PUT", "w/b", "222"]);
    assert_eq!(
        without.lines_within(Duration::from_millis(300)),
        Vec::<String>::new()
    );
}

#[test]
fn interactive_watch_multiplexes_watches_and_answers_progress() {
    let s = TestServer::start();
    let c = s.ctl();
    c.ok(&["put", "k1", "a"]); // 2
                               // Both watches on one stream, from revision 3 on, whenever etcdctl creates them.
    let mut w = c.spawn(&["watch", "-i"], true);
    w.send("watch --rev 3 k1\n");
    w.send("watch --rev 3 k2\n");
    c.ok(&["put", "k2", "b"]); // 3
    assert_eq!(w.lines(3, WAIT), ["PUT", "k2", "b"]);
    c.ok(&["put", "k1", "c"]); // 4
    assert_eq!(w.lines(3, WAIT), ["PUT", "k1", "c"]);
    c.ok(&["put", "other", "d"]); // 5
                                  // One progress response, broadcast by the client to both watches, at the store's
                                  // revision (every watch has delivered everything up to it).
    w.send("progress\n");
    assert_eq!(
        w.lines(2, WAIT),
        ["progress notify: 5", "progress notify: 5"]
    );
}

#[test]
fn watch_from_a_compacted_revision_is_canceled() {
    let s = TestServer::start();
    let c = s.ctl();
    for v in ["1", "2", "3"] {
        c.ok(&["put", "a", v]); // 2, 3, 4
    }
    assert_eq!(c.ok(&["compact", "3"]), "compacted revision 3\n");
    let mut w = c.spawn(&["watch", "a", "--rev", "2"], false);
    let lines = w.lines(1, WAIT);
    assert_eq!(
        lines,
        ["watch was canceled (etcdserver: mvcc: required revision has been compacted)"]
    );
    assert!(!w.wait_exit(WAIT).success());
    // From the compact revision itself the history is still there.
    let mut w = c.spawn(&["watch", "a", "--rev", "3"], false);
    assert_eq!(w.lines(6, WAIT), ["PUT", "a", "2", "PUT", "a", "3"]);
}

#[test]
fn leases_grant_attach_keep_alive_and_revoke() {
    let s = TestServer::start();
    let c = s.ctl();
    let granted = c.ok(&["lease", "grant", "100"]);
    let words: Vec<&str> = granted.split_whitespace().collect();
    assert_eq!(
        (words[0], words[2..].join(" ").as_str()),
        ("lease", "granted with TTL(100s)"),
        "{granted}"
    );
    let id = words[1].to_string();

    c.ok(&["put", "leased", "v", &format!("--lease={id}")]);
    let json = c.json(&["get", "leased"]);
    assert_eq!(
        json["kvs"][0]["lease"].as_i64(),
        Some(i64::from_str_radix(&id, 16).unwrap())
    );

    let ttl = c.ok(&["lease", "timetolive", &id, "--keys"]);
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(100s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.ends_with("attached keys([leased])\n"), "{ttl}");
    assert_eq!(c.ok(&["lease", "list"]), format!("found 1 leases\n{id}\n"));
    assert_eq!(
        c.ok(&["lease", "keep-alive", "--once", &id]),
        format!("lease {id} keepalived with TTL(100)\n")
    );

    assert_eq!(
        c.ok(&["lease", "revoke", &id]),
        format!("lease {id} revoked\n")
    );
    assert_eq!(c.ok(&["get", "leased"]), "", "the key goes with its lease");
    assert_eq!(
        c.ok(&["lease", "timetolive", &id]),
        format!("lease {id} already expired\n")
    );
    assert_eq!(c.ok(&["lease", "list"]), "found 0 leases\n");

    // Unknown leases.
    assert!(c
        .fails(&["put", "k", "v", "--lease=1234abcd"])
        .contains("etcdserver: requested lease not found"));
    assert_eq!(c.ok(&["get", "k"]), "");
    assert!(c
        .fails(&["lease", "revoke", "1234abcd"])
        .contains("etcdserver: requested lease not found"));
    assert!(c
        .fails(&["lease", "keep-alive", "--once", "1234abcd"])
        .contains("requested lease not found"));
}

#[test]
fn maintenance_commands() {
    let s = TestServer::start();
    let c = s.ctl();
    for i in 0..5 {
        c.ok(&["put", &format!("k{i}"), "v"]); // 2..=6
    }
    assert_eq!(c.ok(&["compact", "4"]), "compacted revision 4\n");
    assert!(c
        .fails(&["get", "k0", "--rev", "3"])
        .contains("etcdserver: mvcc: required revision has been compacted"));
    assert_eq!(
        c.ok(&["get", "k0", "--rev", "4", "--print-value-only"]),
        "v\n"
    );
    assert!(c
        .fails(&["compact", "3"])
        .contains("etcdserver: mvcc: required revision has been compacted"));
    assert!(c
        .fails(&["compact", "100"])
        .contains("etcdserver: mvcc: required revision is a future revision"));

    let status = c.json(&["endpoint", "status"]);
    let st = &status[0]["Status"];
    assert_eq!(st["version"], "3.4.23");
    assert_eq!(st["leader"], MEMBER_ID);
    assert_eq!(st["header"]["member_id"], MEMBER_ID);
    assert_eq!(st["header"]["revision"], 6);
    assert_eq!(st["raftTerm"], 1);
    assert!(st["raftIndex"].as_u64().unwrap() >= 6, "{st}");
    assert!(st["dbSize"].as_i64().unwrap() > 0, "{st}");
    let table = c.ok(&["endpoint", "status"]);
    assert!(
        table.starts_with(&format!("{}, {MEMBER_ID:x}, 3.4.23, ", s.endpoint())),
        "{table}"
    );
    assert!(
        table.contains(", true, false, 1, "),
        "leader, not learner, term 1: {table}"
    );

    let out = c.run(&["endpoint", "health"], None);
    assert!(out.status.success());
    let health = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(
        health.contains(&format!(
            "{} is healthy: successfully committed proposal",
            s.endpoint()
        )),
        "{health}"
    );

    let hash = c.json(&["endpoint", "hashkv"]);
    let expected = s.store.engine().hash_kv(0).unwrap();
    assert_eq!(hash[0]["HashKV"]["hash"], expected.hash);
    assert_eq!(hash[0]["HashKV"]["compact_revision"], 4);

    assert_eq!(
        c.ok(&["member", "list"]),
        format!(
            "{MEMBER_ID:x}, started, {MEMBER_NAME}, http://127.0.0.1:2380, http://{}, false\n",
            s.endpoint()
        )
    );
    let members = c.json(&["member", "list"]);
    assert_eq!(members["header"]["cluster_id"], CLUSTER_ID);
    assert_eq!(members["members"][0]["ID"], MEMBER_ID);
    assert!(c
        .fails(&["member", "add", "m2", "--peer-urls=http://127.0.0.1:2390"])
        .contains("etcdserver: "));
    assert!(c
        .fails(&["member", "remove", "1234"])
        .contains("etcdserver: member not found"));

    assert_eq!(
        c.ok(&["defrag"]),
        format!("Finished defragmenting etcd member[{}]\n", s.endpoint())
    );
    assert_eq!(c.ok(&["alarm", "list"]), "");
    assert_eq!(
        c.ok(&["get", "k4", "--print-value-only"]),
        "v\n",
        "still serving after defrag"
    );
}

#[test]
fn alarms_are_listed_and_disarmed() {
    let s = TestServer::start();
    let c = s.ctl();
    c.ok(&["put", "a", "1"]);
    let alarm = Alarm {
        member_id: MEMBER_ID,
        kind: AlarmKind::NoSpace,
    };
    s.store
        .engine()
        .write(&WriteRequest::AlarmActivate(alarm))
        .unwrap();
    assert_eq!(
        c.ok(&["alarm", "list"]),
        format!("memberID:{MEMBER_ID} alarm:NOSPACE \n")
    );
    assert!(c
        .fails(&["put", "b", "2"])
        .contains("etcdserver: mvcc: database space exceeded"));
    assert_eq!(c.ok(&["del", "a"]), "1\n", "deletes go on under NOSPACE");
    assert_eq!(
        c.ok(&["alarm", "disarm"]),
        format!("memberID:{MEMBER_ID} alarm:NOSPACE \n")
    );
    assert_eq!(c.ok(&["alarm", "list"]), "");
    assert_eq!(c.ok(&["put", "b", "2"]), "OK\n");
}

#[test]
fn snapshot_save_writes_a_verifiable_file() {
    let s = TestServer::start();
    let c = s.ctl();
    for i in 0..50 {
        c.ok(&["put", &format!("key/{i:03}"), &"x".repeat(1000)]);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    let path_str = path.to_str().unwrap();
    let out = c.ok(&["snapshot", "save", path_str]);
    assert!(
        out.contains(&format!("Snapshot saved at {path_str}")),
        "{out}"
    );

    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes.len() % 512,
        32,
        "a 512-byte multiple and etcd's SHA-256 trailer"
    );
    let (content, sha) = bytes.split_at(bytes.len() - 32);
    use sha2::Digest;
    assert_eq!(sha2::Sha256::digest(content).as_slice(), sha);
    let berth = dir.path().join("berth.snap");
    std::fs::write(&berth, content).unwrap();
    let info = storage::verify_snapshot(&berth).expect("the content is a Berth snapshot");
    assert_eq!(info.revision, 51);

    // Restore into a fresh engine: the keys are back.
    let restored = tempfile::tempdir().unwrap();
    let engine = storage::Engine::open(restored.path(), storage::EngineConfig::default()).unwrap();
    engine.install_snapshot(&berth).unwrap();
    assert_eq!(
        engine
            .range(&storage::RangeRequest::prefix("key/"))
            .unwrap()
            .count,
        50
    );
}

#[test]
fn bad_input_is_refused_and_the_server_keeps_serving() {
    let s = TestServer::start();
    let c = s.ctl();

    // Over the store's 1.5 MiB request limit (under gRPC's limit): refused, nothing written.
    let big = vec![b'v'; (3 << 19) + 1024];
    assert!(c
        .fails_with_stdin(&["put", "big"], Some(&big))
        .contains("etcdserver: request is too large"));
    assert_eq!(c.ok(&["get", "big"]), "");
    let fits = vec![b'v'; 1 << 20];
    assert_eq!(c.ok_with_stdin(&["put", "big"], Some(&fits)), "OK\n");
    assert_eq!(c.json(&["get", "big", "--keys-only"])["count"], 1);

    // A txn of 129 operations is refused; 128 is the limit.
    let puts = |n: usize| {
        let mut script = String::from("\n");
        for i in 0..n {
            script.push_str(&format!("put t{i} v\n"));
        }
        script.push_str("\n\n");
        script
    };
    let err = c.fails_with_stdin(&["txn", "-i"], Some(puts(129).as_bytes()));
    assert!(
        err.contains("etcdserver: too many operations in txn request"),
        "{err}"
    );
    assert_eq!(
        c.json(&["get", "t", "--prefix", "--keys-only"])
            .get("count"),
        None
    );
    c.ok_with_stdin(&["txn", "-i"], Some(puts(128).as_bytes()));
    assert_eq!(
        c.json(&["get", "t", "--prefix", "--keys-only"])["count"],
        128
    );

    // A txn that puts one key twice.
    let err = c.fails_with_stdin(&["txn", "-i"], Some(b"\nput d 1\nput d 2\n\n\n"));
    assert!(
        err.contains("etcdserver: duplicate key given in txn request"),
        "{err}"
    );

    // Garbage on the port: the connection is dropped, the server goes on.
    for junk in [
        b"\x16\x03\x01\x02\x00garbage that is not TLS nor HTTP\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x04\x00\x00\x00\x00\x00junk junk junk"
            .to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
        (0..=255u8).cycle().take(64 * 1024).collect(),
    ] {
        let mut tcp = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = tcp.write_all(&junk);
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink);
    }
    s.assert_running();
    assert_eq!(c.ok(&["put", "after", "junk"]), "OK\n");
    assert_eq!(c.ok(&["get", "after", "--print-value-only"]), "junk\n");
}

mod tls {
    use super::*;
    use berth_etcd_api::{ApiConfig, TlsConfig};
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    struct Pki {
        dir: tempfile::TempDir,
        server: TlsConfig,
    }

    fn pki() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "berth test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![usage];
            (
                p.signed_by(&key, &issuer).unwrap().pem(),
                key.serialize_pem(),
            )
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "berth server",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) =
            leaf(vec![], "berth client", ExtendedKeyUsagePurpose::ClientAuth);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("client.pem"), &client_cert).unwrap();
        std::fs::write(dir.path().join("client.key"), &client_key).unwrap();
        let server = TlsConfig {
            cert_chain_pem: server_cert.into_bytes(),
            key_pem: server_key.into_bytes(),
            client_ca_pem: Some(ca_cert.pem().into_bytes()),
        };
        Pki { dir, server }
    }

    fn flag(name: &str, pki: &Pki, file: &str) -> String {
        format!("--{name}={}", pki.dir.path().join(file).display())
    }

    #[test]
    fn mutual_tls_admits_only_clients_with_a_certificate_from_the_ca() {
        let pki = pki();
        let s = TestServer::start_with(Some(pki.server.clone()), ApiConfig::default());
        let mut c = s.ctl();
        c.extra = vec![
            flag("cacert", &pki, "ca.pem"),
            flag("cert", &pki, "client.pem"),
            flag("key", &pki, "client.key"),
        ];
        assert_eq!(c.ok(&["put", "secure", "yes"]), "OK\n");
        assert_eq!(c.ok(&["get", "secure", "--print-value-only"]), "yes\n");
        let mut w = c.spawn(&["watch", "secure", "--rev", "1"], false);
        assert_eq!(w.lines(3, WAIT), ["PUT", "secure", "yes"]);

        let mut no_cert = s.ctl();
        // (Refused clients retry until their command timeout.)
        no_cert.extra = vec![
            flag("cacert", &pki, "ca.pem"),
            "--command-timeout=2s".into(),
        ];
        let err = no_cert.fails(&["get", "secure"]);
        assert!(err.contains("context deadline exceeded"), "{err}");
        let mut plain = s.ctl();
        plain.extra = vec!["--command-timeout=2s".into()];
        plain.fails(&["get", "secure"]);
        s.assert_running();
        assert_eq!(c.ok(&["get", "secure", "--print-value-only"]), "yes\n");
    }
}
