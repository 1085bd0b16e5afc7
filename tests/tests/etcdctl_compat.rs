//! etcdctl 3.4 compatibility: the real `etcdctl` against a 3-replica Berth cluster, command
//! by command (KV, txn, watch, leases, maintenance, membership, snapshot save and restore),
//! with the output etcd gives.

use berth_system_tests::etcdctl::txn_script;
use berth_system_tests::{bins, wait_for, Cluster, Opts};
use serde_json::Value;
use std::time::Duration;

fn b64(s: &str) -> String {
    // Tiny standard-alphabet base64 encoder for comparing etcdctl's JSON keys and values.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Keys of a `get -w json` answer, decoded from base64 by comparison with `expected`.
fn json_keys(v: &Value) -> Vec<String> {
    v["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| kv["key"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn put_rev(c: &Cluster, key: &str, value: &str) -> i64 {
    c.etcdctl(&["put", key, value]).ok();
    c.etcdctl(&["get", key, "-w", "json"]).json()["kvs"][0]["mod_revision"]
        .as_i64()
        .expect("mod_revision")
}

#[test]
fn kv_get_put_del_and_txn_behave_as_etcd() {
    let c = Cluster::start(3, Opts::default());

    // put prints OK; keys are spread over a prefix and around it.
    assert_eq!(c.etcdctl(&["put", "a", "1"]).ok(), "OK\n");
    let r_a1 = c.etcdctl(&["get", "a", "-w", "json"]).json()["kvs"][0]["mod_revision"]
        .as_i64()
        .unwrap();
    for (k, v) in [
        ("b", "2"),
        ("c", "3"),
        ("foo/1", "z"),
        ("foo/2", "y"),
        ("foo/3", "x"),
        ("fop", "out"),
    ] {
        c.etcdctl(&["put", k, v]).ok();
    }
    let r_a2 = put_rev(&c, "a", "1b");
    assert!(r_a2 > r_a1);

    // Plain get, prefix, from-key, limit, sort, keys-only, print-value-only.
    assert_eq!(c.etcdctl(&["get", "a"]).lines(), ["a", "1b"]);
    assert_eq!(
        c.etcdctl(&["get", "foo/", "--prefix"]).lines(),
        ["foo/1", "z", "foo/2", "y", "foo/3", "x"]
    );
    assert_eq!(
        c.etcdctl(&["get", "c", "--from-key", "--keys-only"])
            .lines(),
        ["c", "foo/1", "foo/2", "foo/3", "fop"]
    );
    assert_eq!(
        c.etcdctl(&["get", "foo/", "--prefix", "--limit", "2"])
            .lines(),
        ["foo/1", "z", "foo/2", "y"]
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "foo/",
            "--prefix",
            "--sort-by=VALUE",
            "--order=ASCEND",
            "--print-value-only"
        ])
        .lines(),
        ["x", "y", "z"]
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "foo/",
            "--prefix",
            "--sort-by=KEY",
            "--order=DESCEND",
            "--keys-only"
        ])
        .lines(),
        ["foo/3", "foo/2", "foo/1"]
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "a",
            "--from-key",
            "--sort-by=KEY",
            "--order=DESCEND",
            "--limit",
            "2",
            "--keys-only"
        ])
        .lines(),
        ["fop", "foo/3"]
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "",
            "--from-key",
            "--sort-by=MODIFY",
            "--order=DESCEND",
            "--limit",
            "1",
            "--keys-only"
        ])
        .lines(),
        ["a"]
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "",
            "--prefix",
            "--sort-by=CREATE",
            "--limit",
            "1",
            "--keys-only"
        ])
        .lines(),
        ["a"]
    );
    assert_eq!(
        c.etcdctl(&["get", "a", "--print-value-only"]).lines(),
        ["1b"]
    );
    // An old revision, and a revision before the key existed.
    assert_eq!(
        c.etcdctl(&["get", "a", "--rev", &r_a1.to_string()]).lines(),
        ["a", "1"]
    );
    assert!(c.etcdctl(&["get", "a", "--rev", "1"]).lines().is_empty());
    assert!(c.etcdctl(&["get", "missing"]).lines().is_empty());
    // etcdctl 3.4 has no --count-only; the count comes with -w json (with a limit, more).
    let v = c
        .etcdctl(&["get", "foo/", "--prefix", "--limit", "1", "-w", "json"])
        .json();
    assert_eq!(
        (v["count"].as_i64(), v["more"].as_bool(), json_keys(&v)),
        (Some(3), Some(true), vec![b64("foo/1")])
    );
    let v = c
        .etcdctl(&["get", "foo/", "--prefix", "--keys-only", "-w", "json"])
        .json();
    assert!(
        v["kvs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|kv| kv.get("value").is_none()),
        "--keys-only returned values: {v}"
    );

    // -w json: every header field, from each replica; cluster id shared, member id the answerer's.
    let v = c.etcdctl(&["get", "a", "-w", "json"]).json();
    let kv = &v["kvs"][0];
    assert_eq!(
        (kv["key"].as_str().unwrap(), kv["value"].as_str().unwrap()),
        (b64("a").as_str(), b64("1b").as_str())
    );
    assert_eq!(
        (
            kv["create_revision"].as_i64(),
            kv["mod_revision"].as_i64(),
            kv["version"].as_i64()
        ),
        (Some(r_a1), Some(r_a2), Some(2))
    );
    let mut cluster_ids = Vec::new();
    for i in 0..3 {
        let v = c.etcdctl_at(i, &["get", "a", "-w", "json"]).json();
        let h = &v["header"];
        assert_eq!(
            h["revision"].as_i64(),
            Some(r_a2),
            "replica {i} header: {h}"
        );
        assert!(
            h["raft_term"].as_u64().unwrap_or(0) >= 1,
            "replica {i} header: {h}"
        );
        assert_eq!(
            h["member_id"].as_u64(),
            Some(c.member_id(i)),
            "replica {i} header: {h}"
        );
        cluster_ids.push(
            h["cluster_id"]
                .as_u64()
                .filter(|&id| id != 0)
                .expect("cluster_id"),
        );
    }
    assert!(
        cluster_ids.iter().all(|&id| id == cluster_ids[0]),
        "cluster ids differ: {cluster_ids:?}"
    );

    // del: count, --prefix, --prev-kv.
    assert_eq!(c.etcdctl(&["del", "missing"]).lines(), ["0"]);
    assert_eq!(
        c.etcdctl(&["del", "b", "--prev-kv"]).lines(),
        ["1", "b", "2"]
    );
    assert_eq!(c.etcdctl(&["del", "foo/", "--prefix"]).lines(), ["3"]);
    assert_eq!(
        c.etcdctl(&["get", "", "--from-key", "--keys-only"]).lines(),
        ["a", "c", "fop"]
    );

    // txn from a pipe: the success branch, then the failure branch.
    let script = txn_script(
        &[r#"value("a") = "1b""#, r#"version("c") = "1""#],
        &["put t/x yes", "get a"],
        &["put t/x no"],
    );
    assert_eq!(
        c.etcdctl_stdin(&["txn"], &script).lines(),
        ["SUCCESS", "OK", "a", "1b"]
    );
    assert_eq!(
        c.etcdctl(&["get", "t/x", "--print-value-only"]).lines(),
        ["yes"]
    );
    let script = txn_script(
        &[r#"mod("a") < "2""#],
        &["put t/y yes"],
        &["put t/y no", "del t/x"],
    );
    assert_eq!(
        c.etcdctl_stdin(&["txn"], &script).lines(),
        ["FAILURE", "OK", "1"]
    );
    assert_eq!(c.etcdctl(&["get", "t/", "--prefix"]).lines(), ["t/y", "no"]);
    // txn -i (interactive prompts on stdout) with the same outcome rules.
    let script = txn_script(
        &[r#"create("t/y") > "0""#],
        &["put t/z i-yes"],
        &["put t/z i-no"],
    );
    let out = c.etcdctl_stdin(&["txn", "-i"], &script);
    let lines = out.lines();
    assert_eq!(
        lines.iter().filter(|l| l.ends_with(':')).count(),
        3,
        "expected three prompts: {lines:?}"
    );
    assert_eq!(lines[lines.len() - 2..], ["SUCCESS", "OK"], "{lines:?}");
    let script = txn_script(
        &[r#"value("t/z") = "nope""#],
        &["put t/w i-yes"],
        &["put t/w i-no"],
    );
    assert_eq!(
        c.etcdctl_stdin(&["txn", "-i"], &script)
            .lines()
            .last()
            .copied(),
        Some("OK")
    );
    assert_eq!(
        c.etcdctl(&["get", "t/", "--prefix"]).lines(),
        ["t/w", "i-no", "t/y", "no", "t/z", "i-yes"]
    );
    // A txn is one revision, however many keys it writes.
    let before = c.revision();
    c.etcdctl_stdin(
        &["txn"],
        &txn_script(&[], &["put t/m1 1", "put t/m2 2", "del t/w"], &[]),
    )
    .ok();
    assert_eq!(c.revision(), before + 1);

    // Every replica serves the same data from its own store.
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
    let expected = c.etcdctl(&["get", "", "--from-key"]).ok().to_string();
    for i in 0..3 {
        assert_eq!(
            c.etcdctl_at(i, &["get", "", "--from-key", "--consistency=s"])
                .ok(),
            expected,
            "replica {i}"
        );
    }
}

#[test]
fn watch_and_leases_behave_as_etcd() {
    let c = Cluster::start(3, Opts::default());

    // watch --rev replays history, then streams; --prefix filters.
    let r1 = put_rev(&c, "w/1", "a");
    c.etcdctl(&["put", "w/2", "b"]).ok();
    c.etcdctl(&["put", "other", "o"]).ok();
    c.etcdctl(&["del", "w/1"]).ok();
    let mut watch = c.spawn_etcdctl_at(2, &["watch", "w/", "--prefix", "--rev", &r1.to_string()]);
    assert_eq!(
        watch.next_lines(8, Duration::from_secs(10)),
        ["PUT", "w/1", "a", "PUT", "w/2", "b", "DELETE", "w/1"]
    );
    c.etcdctl(&["put", "outside", "x"]).ok();
    c.etcdctl(&["put", "w/3", "c"]).ok();
    assert_eq!(
        watch.next_lines(3, Duration::from_secs(10)),
        ["PUT", "w/3", "c"]
    );
    // A single-key watch with -w json: revisions as written.
    let mut jwatch = c.spawn_etcdctl_at(0, &["watch", "w/2", "--rev", "1", "-w", "json"]);
    let line = jwatch.next_lines(1, Duration::from_secs(10)).remove(0);
    let ev: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("watch -w json printed {line:?}: {e}"));
    assert_eq!(
        ev["Events"][0]["kv"]["key"].as_str(),
        Some(b64("w/2").as_str()),
        "{ev}"
    );
    assert_eq!(
        ev["Events"][0]["kv"]["mod_revision"].as_i64(),
        Some(r1 + 1),
        "{ev}"
    );
    assert!(
        watch.lines_within(Duration::from_millis(300)).is_empty(),
        "events outside the prefix were sent"
    );
    watch.stop();
    jwatch.stop();

    // lease grant / put --lease / timetolive --keys / list / keep-alive --once / revoke.
    let grant = c.etcdctl(&["lease", "grant", "60"]).ok().to_string();
    let id = grant
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert_eq!(grant.trim(), format!("lease {id} granted with TTL(60s)"));
    c.etcdctl(&["put", "l/k1", "v", &format!("--lease={id}")])
        .ok();
    c.etcdctl(&["put", "l/k2", "v", &format!("--lease={id}")])
        .ok();
    let ttl = c
        .etcdctl(&["lease", "timetolive", &id, "--keys"])
        .ok()
        .to_string();
    assert!(
        ttl.starts_with(&format!("lease {id} granted with TTL(60s), remaining(")),
        "{ttl}"
    );
    assert!(ttl.trim().ends_with("attached keys([l/k1 l/k2])"), "{ttl}");
    let list = c
        .etcdctl(&["lease", "list"])
        .lines()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    assert_eq!(list, ["found 1 leases", id.as_str()]);
    assert_eq!(
        c.etcdctl(&["lease", "keep-alive", "--once", &id]).lines(),
        [format!("lease {id} keepalived with TTL(60)")]
    );
    assert_eq!(
        c.etcdctl(&["lease", "revoke", &id]).lines(),
        [format!("lease {id} revoked")]
    );
    assert!(
        c.etcdctl(&["get", "l/", "--prefix"]).lines().is_empty(),
        "keys of a revoked lease remain"
    );
    assert_eq!(
        c.etcdctl(&["lease", "timetolive", &id]).lines(),
        [format!("lease {id} already expired")]
    );
    assert_eq!(c.etcdctl(&["lease", "list"]).lines(), ["found 0 leases"]);
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
    for i in 0..3 {
        assert!(
            c.etcdctl_at(i, &["get", "l/", "--prefix", "--consistency=s"])
                .lines()
                .is_empty(),
            "replica {i} kept a revoked lease's key"
        );
    }

    // Expiry: a 2 s lease's key is still there after 1.4 s, then vanishes from every replica.
    let before_grant = std::time::Instant::now();
    let id = c
        .etcdctl(&["lease", "grant", "2"])
        .ok()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    c.etcdctl(&["put", "exp/k", "v", &format!("--lease={id}")])
        .ok();
    std::thread::sleep(Duration::from_millis(1400).saturating_sub(before_grant.elapsed()));
    let read_at = before_grant.elapsed();
    let early = c
        .etcdctl(&["get", "exp/k", "--print-value-only"])
        .lines()
        .len();
    if read_at < Duration::from_millis(1800) {
        assert_eq!(
            early, 1,
            "the key of a 2 s lease vanished within {read_at:?} of the grant"
        );
    }
    for i in 0..3 {
        wait_for(
            &format!("the expired lease's key to vanish on replica {i}"),
            Duration::from_secs(10),
            || {
                let out = c.etcdctl_at(i, &["get", "exp/k", "--consistency=s"]);
                if out.lines().is_empty() {
                    Ok(())
                } else {
                    Err(out.stdout.clone())
                }
            },
        );
    }
    assert_eq!(
        c.etcdctl(&["lease", "timetolive", &id]).lines(),
        [format!("lease {id} already expired")]
    );
}

#[test]
fn maintenance_and_membership_behave_as_etcd() {
    let c = Cluster::start(3, Opts::default());
    for i in 0..20 {
        c.etcdctl(&["put", &format!("m/{i:02}"), &format!("v{i}")])
            .ok();
    }

    // member list: 3 started voters with their names and URLs.
    let v = c.etcdctl(&["member", "list", "-w", "json"]).json();
    let members = v["members"].as_array().expect("members").clone();
    assert_eq!(members.len(), 3, "{v}");
    for i in 0..3 {
        let m = members
            .iter()
            .find(|m| m["name"].as_str() == Some(c.name(i)))
            .unwrap_or_else(|| panic!("no member {} in {v}", c.name(i)));
        assert_eq!(m["ID"].as_u64(), Some(c.member_id(i)));
        assert_eq!(m["peerURLs"], serde_json::json!([c.peer_url(i)]));
        assert_eq!(m["clientURLs"], serde_json::json!([c.endpoint(i)]));
        assert!(m.get("isLearner").is_none_or(|l| l == false), "{m}");
    }
    let table = c.etcdctl(&["member", "list"]).ok().to_string();
    for i in 0..3 {
        let line = format!(
            "{:x}, started, {}, {}, {}, false",
            c.member_id(i),
            c.name(i),
            c.peer_url(i),
            c.endpoint(i)
        );
        assert!(
            table.contains(&line),
            "member list lacks {line:?}:\n{table}"
        );
    }

    // endpoint status / health / hashkv on every endpoint.
    let v = c.etcdctl(&["endpoint", "status", "-w", "json"]).json();
    let statuses = v.as_array().expect("status array");
    assert_eq!(statuses.len(), 3);
    let leader = statuses[0]["Status"]["leader"].as_u64().unwrap();
    let ids: Vec<u64> = (0..3).map(|i| c.member_id(i)).collect();
    assert!(ids.contains(&leader), "leader {leader:x} is not a member");
    for s in statuses {
        let st = &s["Status"];
        assert_eq!(st["leader"].as_u64(), Some(leader), "{s}");
        assert!(
            st["raftIndex"].as_u64().unwrap_or(0)
                >= st["raftAppliedIndex"].as_u64().unwrap_or(u64::MAX)
                && st["raftAppliedIndex"].as_u64() > Some(20),
            "{s}"
        );
        assert!(
            st["dbSize"].as_i64().unwrap_or(0) > 0
                && !st["version"].as_str().unwrap_or("").is_empty(),
            "{s}"
        );
    }
    // --cluster: the endpoints come from the member list of the one given.
    let v = c
        .etcdctl_at(0, &["endpoint", "status", "--cluster", "-w", "json"])
        .json();
    let mut listed: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Endpoint"].as_str().unwrap_or_default())
        .collect();
    listed.sort_unstable();
    let mut all: Vec<&str> = (0..3).map(|i| c.endpoint(i)).collect();
    all.sort_unstable();
    assert_eq!(listed, all);
    // etcdctl 3.4 prints health to stderr.
    let out = c.etcdctl(&["endpoint", "health"]);
    out.ok();
    let health = out.stderr.clone();
    for i in 0..3 {
        assert!(
            health.contains(&format!(
                "{} is healthy: successfully committed proposal",
                c.endpoint(i)
            )),
            "{health}"
        );
    }
    let (hash, _) = c.wait_converged(&[0, 1, 2], Duration::from_secs(10));
    assert_ne!(hash, 0);
    let hashkv = c.etcdctl(&["endpoint", "hashkv"]).ok().to_string();
    for i in 0..3 {
        assert!(
            hashkv.contains(&format!("{}, {hash}", c.endpoint(i))),
            "{hashkv}"
        );
    }

    // compact: reads below it fail with etcd's message, at and above it work.
    let rev = c.revision();
    let at = rev - 5;
    assert_eq!(
        c.etcdctl(&["compact", &at.to_string()]).lines(),
        [format!("compacted revision {at}")]
    );
    c.etcdctl(&["get", "m/00", "--rev", &(at - 1).to_string()])
        .err_contains("etcdserver: mvcc: required revision has been compacted");
    for i in 0..3 {
        c.etcdctl_at(
            i,
            &[
                "get",
                "m/00",
                "--rev",
                &(at - 1).to_string(),
                "--consistency=s",
            ],
        )
        .err_contains("etcdserver: mvcc: required revision has been compacted");
    }
    assert_eq!(
        c.etcdctl(&[
            "get",
            "m/19",
            "--rev",
            &at.to_string(),
            "--print-value-only"
        ])
        .lines()
        .len(),
        0,
        "m/19 was written after {at}"
    );
    assert_eq!(
        c.etcdctl(&[
            "get",
            "m/10",
            "--rev",
            &at.to_string(),
            "--print-value-only"
        ])
        .lines(),
        ["v10"]
    );
    // A watch from below it is canceled by the server, as etcd does.
    c.etcdctl(&["watch", "m/00", "--rev", &(at - 1).to_string()])
        .err_contains(
            "watch was canceled (etcdserver: mvcc: required revision has been compacted)",
        );
    c.etcdctl(&["compact", &(at - 1).to_string()])
        .err_contains("etcdserver: mvcc: required revision has been compacted");
    let v = c.etcdctl(&["endpoint", "hashkv", "-w", "json"]).json();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|h| h["HashKV"]["compact_revision"].as_i64() == Some(at)),
        "{v}"
    );
    c.wait_converged(&[0, 1, 2], Duration::from_secs(10));

    // snapshot save from one endpoint (etcdctl checks the stream's SHA-256 trailer itself).
    let snap = c.dir().join("saved.db");
    let out = c.etcdctl_at(1, &["snapshot", "save", snap.to_str().unwrap()]);
    assert!(
        out.ok()
            .contains(&format!("Snapshot saved at {}", snap.display())),
        "{out:?}"
    );
    assert!(std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0) > 0);

    // defrag and alarm list.
    let out = c.etcdctl(&["defrag"]).ok().to_string();
    for i in 0..3 {
        assert!(
            out.contains(&format!(
                "Finished defragmenting etcd member[{}]",
                c.endpoint(i)
            )),
            "{out}"
        );
    }
    assert!(c.etcdctl(&["alarm", "list"]).lines().is_empty());
    c.wait_healthy(&[0, 1, 2]);

    // move-leader to a follower; every replica then sees it as leader.
    let old = c.wait_leader(&[0, 1, 2]);
    let target = (old + 1) % 3;
    let out = c.etcdctl(&["move-leader", &format!("{:x}", c.member_id(target))]);
    assert_eq!(
        out.lines(),
        [format!(
            "Leadership transferred from {:x} to {:x}",
            c.member_id(old),
            c.member_id(target)
        )]
    );
    assert_eq!(c.wait_leader(&[0, 1, 2]), target);
    let v = c
        .etcdctl_at(old, &["endpoint", "status", "-w", "json"])
        .json();
    assert_eq!(v[0]["Status"]["leader"].as_u64(), Some(c.member_id(target)));

    // member add (learner) / update / remove.
    let url = c.next_peer_url();
    let out = c
        .etcdctl(&[
            "member",
            "add",
            "n4",
            "--learner",
            &format!("--peer-urls={url}"),
        ])
        .ok()
        .to_string();
    // etcdctl prints ids here with %16x (space-padded).
    let new_id = out
        .lines()
        .find_map(|l| l.strip_prefix("Member "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no member id in {out}"));
    assert!(
        out.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\"")
            && out.contains(&format!("n4={url}")),
        "{out}"
    );
    let v = c.etcdctl(&["member", "list", "-w", "json"]).json();
    let added = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ID"].as_u64() == Some(new_id))
        .cloned()
        .unwrap_or_else(|| panic!("{new_id} not in {v}"));
    assert_eq!(added["isLearner"].as_bool(), Some(true), "{added}");
    assert_eq!(added["peerURLs"], serde_json::json!([url]));
    assert!(
        added.get("name").is_none_or(|n| n == ""),
        "an unstarted member has no name: {added}"
    );
    let url2 = url.replace("127.0.0.1", "localhost");
    let hex = format!("{new_id:x}");
    assert_eq!(
        c.etcdctl(&["member", "update", &hex, &format!("--peer-urls={url2}")])
            .lines(),
        [format!(
            "Member {new_id:16x} updated in cluster {:16x}",
            cluster_id(&c)
        )]
    );
    let v = c.etcdctl(&["member", "list", "-w", "json"]).json();
    assert!(
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["peerURLs"] == serde_json::json!([url2])),
        "update not visible: {v}"
    );
    assert_eq!(
        c.etcdctl(&["member", "remove", &hex]).lines(),
        [format!(
            "Member {new_id:16x} removed from cluster {:16x}",
            cluster_id(&c)
        )]
    );
    assert_eq!(
        c.etcdctl(&["member", "list", "-w", "json"]).json()["members"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // The cluster still commits writes after the membership changes.
    c.etcdctl(&["put", "after", "members"]).ok();
    c.wait_healthy(&[0, 1, 2]);
}

fn cluster_id(c: &Cluster) -> u64 {
    c.etcdctl(&["get", "x", "-w", "json"]).json()["header"]["cluster_id"]
        .as_u64()
        .expect("cluster_id")
}

#[test]
fn snapshot_saved_by_etcdctl_restores_with_kvctl_into_a_new_cluster() {
    let c = Cluster::start(3, Opts::default());
    for i in 0..30 {
        c.etcdctl(&["put", &format!("s/{i:02}"), &format!("value {i}")])
            .ok();
    }
    c.etcdctl(&["del", "s/0", "--prefix"]).ok();
    c.etcdctl(&["put", "s/10", "rewritten"]).ok();
    let expected = c.etcdctl(&["get", "s/", "--prefix", "-w", "json"]).json();
    let snap = c.dir().join("backup.db");
    c.etcdctl_at(2, &["snapshot", "save", snap.to_str().unwrap()])
        .ok();
    assert!(
        std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0) > 0,
        "empty snapshot"
    );

    let restore = snap.clone();
    let opts = Opts {
        prepare_data_dir: Some(Box::new(move |_, data_dir| {
            let mut cmd = std::process::Command::new(bins::kvctl());
            cmd.arg("snapshot")
                .arg("restore")
                .arg(&restore)
                .arg("--data-dir")
                .arg(data_dir);
            berth_system_tests::etcdctl::run_with_timeout(
                cmd,
                format!(
                    "kvctl snapshot restore {} --data-dir {}",
                    restore.display(),
                    data_dir.display()
                ),
                None,
                Duration::from_secs(60),
            )
            .ok();
        })),
        ..Opts::default()
    };
    let restored = Cluster::start(1, opts);
    let got = restored
        .etcdctl(&["get", "s/", "--prefix", "-w", "json"])
        .json();
    assert_eq!(
        got["kvs"], expected["kvs"],
        "restored keys differ (key, value, create/mod revision, version)"
    );
    assert!(
        got["header"]["revision"].as_i64() >= expected["header"]["revision"].as_i64(),
        "the restored store went back in revision: {} < {}",
        got["header"],
        expected["header"]
    );
    // The restored cluster takes writes.
    restored.etcdctl(&["put", "s/new", "after restore"]).ok();
    assert_eq!(
        restored
            .etcdctl(&["get", "s/new", "--print-value-only"])
            .lines(),
        ["after restore"]
    );
}
