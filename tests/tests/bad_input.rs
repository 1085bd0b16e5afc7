//! Bad input: requests etcd refuses (too large, too many txn ops, compacted revision,
//! unknown lease) and raw garbage on every port write nothing, and the cluster keeps serving.

use berth_system_tests::etcdctl::txn_script;
use berth_system_tests::{Cluster, Opts};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// After a refused request: the revision did not move, and every replica still commits.
fn assert_nothing_written_and_serving(c: &Cluster, revision_before: i64, what: &str) {
    assert_eq!(c.revision(), revision_before, "{what} changed the revision");
    for i in 0..c.len() {
        c.etcdctl_at(i, &["endpoint", "health"]).ok();
    }
}

fn absent_everywhere(c: &Cluster, key: &str, prefix: bool) {
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
    for i in 0..3 {
        let mut args = vec!["get", key, "--keys-only", "--consistency=s"];
        if prefix {
            args.push("--prefix");
        }
        assert!(
            c.etcdctl_at(i, &args).lines().is_empty(),
            "replica {i} has {key} (prefix: {prefix})"
        );
    }
}

/// Deterministic pseudo-random bytes (xorshift64).
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Writes `bytes` to `addr`, then reads whatever comes back until the peer closes or 0.5 s
/// pass. Errors (reset, refused write) are expected and ignored.
fn send_raw(addr: &str, bytes: &[u8]) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        panic!("cannot connect to {addr}")
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(bytes);
    let mut sink = [0u8; 4096];
    while let Ok(n) = s.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

#[test]
fn refused_requests_write_nothing_and_the_cluster_keeps_serving() {
    let c = Cluster::start(3, Opts::default());
    c.etcdctl(&["put", "good", "1"]).ok();

    // A value over 1.5 MiB (the request limit) is refused; 1 MiB is fine.
    let rev = c.revision();
    c.etcdctl_stdin(&["put", "big"], &vec![b'v'; (3 << 19) + 1])
        .err_contains("etcdserver: request is too large");
    assert_nothing_written_and_serving(&c, rev, "a too-large put");
    absent_everywhere(&c, "big", false);
    c.etcdctl_stdin(&["put", "mib"], &vec![b'm'; 1 << 20]).ok();
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
    for i in 0..3 {
        let out = c.etcdctl_at(i, &["get", "mib", "--print-value-only", "--consistency=s"]);
        assert_eq!(
            out.ok().trim_end().len(),
            1 << 20,
            "replica {i} holds a 1 MiB value wrongly"
        );
    }

    // 129 operations in a txn are refused; 128 are one revision.
    let puts: Vec<String> = (0..129).map(|i| format!("put txn/{i:03} v")).collect();
    let ops: Vec<&str> = puts.iter().map(String::as_str).collect();
    let rev = c.revision();
    c.etcdctl_stdin(&["txn"], &txn_script(&[], &ops, &[]))
        .err_contains("etcdserver: too many operations in txn request");
    c.etcdctl_stdin(
        &["txn"],
        &txn_script(&[r#"value("good") = "2""#], &[], &ops),
    )
    .err_contains("etcdserver: too many operations in txn request");
    assert_nothing_written_and_serving(&c, rev, "a txn of 129 ops");
    absent_everywhere(&c, "txn/", true);
    c.etcdctl_stdin(&["txn"], &txn_script(&[], &ops[..128], &[]))
        .ok();
    assert_eq!(c.revision(), rev + 1);
    assert_eq!(
        c.etcdctl(&["get", "txn/", "--prefix", "--keys-only", "-w", "json"])
            .json()["count"]
            .as_i64(),
        Some(128)
    );

    // A read at a compacted revision is refused (and compaction itself writes no revision).
    let old = c.revision();
    c.etcdctl(&["put", "good", "2"]).ok();
    let rev = c.revision();
    c.etcdctl(&["compact", &rev.to_string()]).ok();
    c.etcdctl(&["get", "good", "--rev", &old.to_string()])
        .err_contains("etcdserver: mvcc: required revision has been compacted");
    c.etcdctl(&["get", "good", "--rev", &(rev + 100).to_string()])
        .err_contains("etcdserver: mvcc: required revision is a future revision");
    assert_nothing_written_and_serving(&c, rev, "a compaction and reads at bad revisions");

    // A put with a lease nobody granted is refused.
    c.etcdctl(&["put", "leased", "v", "--lease=1234abcd"])
        .err_contains("etcdserver: requested lease not found");
    assert_nothing_written_and_serving(&c, rev, "a put with an unknown lease");
    absent_everywhere(&c, "leased", false);

    // Garbage on every port of every replica: random bytes, plain HTTP on the TLS port, an
    // HTTP/2 preface without TLS, a truncated TLS ClientHello.
    let tls_hello_fragment: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let http1: &[u8] =
        b"POST /etcdserverpb.KV/Put HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let h2_preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    for i in 0..3 {
        let client = c.endpoint(i).trim_start_matches("https://").to_string();
        let peer = c.peer_url(i).trim_start_matches("https://").to_string();
        for addr in [client.as_str(), peer.as_str(), c.metrics_addr(i)] {
            send_raw(addr, &garbage(64 << 10, 0x9e37_79b9_7f4a_7c15 + i as u64));
            send_raw(addr, http1);
            send_raw(addr, h2_preface);
            send_raw(addr, tls_hello_fragment);
        }
    }
    assert_nothing_written_and_serving(&c, rev, "garbage bytes");

    // Connections that never finish a TLS handshake do not stop others from being served.
    let idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(c.endpoint(0).trim_start_matches("https://")).expect("connect"))
        .collect();
    assert_eq!(
        c.etcdctl_at(0, &["get", "good", "--print-value-only"])
            .lines(),
        ["2"]
    );
    drop(idle);

    // Still one store, equal everywhere, taking writes.
    c.etcdctl(&["put", "good", "3"]).ok();
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
}
