//! TLS: clients without a certificate of the cluster's CA are refused, and a replica whose
//! peer certificate comes from another CA cannot join (the members refuse it), while the
//! same join with the cluster's certificates works.

use berth_system_tests::etcdctl::{ClientTls, Target};
use berth_system_tests::{wait_for, Certs, Cluster, Opts, ReplicaSpec};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
/// etcdctl retries a refused handshake until its command timeout; keep refusals short.
const FAIL_FAST_1: &str = "--dial-timeout=1s";
const FAIL_FAST_2: &str = "--command-timeout=2s";

#[test]
fn clients_without_a_certificate_from_the_cluster_ca_are_refused() {
    let c = Cluster::start(3, Opts::default());
    let other = Certs::generate(&c.dir().join("other-ca"));
    let rev = c.revision();

    // No client certificate at all (the server certificate is trusted).
    let no_cert = Target {
        endpoints: c.endpoints(),
        tls: Some(ClientTls {
            ca: c.certs.ca(),
            identity: None,
        }),
    };
    no_cert
        .run(
            &["put", "tls/no-cert", "x", FAIL_FAST_1, FAIL_FAST_2],
            None,
            TIMEOUT,
        )
        .err();
    no_cert
        .run(&["get", "good", FAIL_FAST_1, FAIL_FAST_2], None, TIMEOUT)
        .err();
    // A client certificate signed by another CA.
    let foreign = Target {
        endpoints: c.endpoints(),
        tls: Some(ClientTls {
            ca: c.certs.ca(),
            identity: Some((other.client_cert(), other.client_key())),
        }),
    };
    foreign
        .run(
            &["put", "tls/foreign", "x", FAIL_FAST_1, FAIL_FAST_2],
            None,
            TIMEOUT,
        )
        .err();
    foreign
        .run(
            &["endpoint", "health", FAIL_FAST_1, FAIL_FAST_2],
            None,
            TIMEOUT,
        )
        .err();
    // A client that does not trust the cluster's server certificate.
    let distrust = Target {
        endpoints: c.endpoints(),
        tls: Some(ClientTls {
            ca: other.ca(),
            identity: Some((other.client_cert(), other.client_key())),
        }),
    };
    distrust
        .run(&["get", "good", FAIL_FAST_1, FAIL_FAST_2], None, TIMEOUT)
        .err();

    // Nothing was written; the cluster's own client certificate works.
    assert_eq!(c.revision(), rev);
    assert!(c.etcdctl(&["get", "tls/", "--prefix"]).lines().is_empty());
    c.etcdctl(&["put", "tls/ok", "x"]).ok();
}

/// A directory trusting `trust`'s CA but holding `identity`'s certificates and keys.
fn mixed_certs(dir: &std::path::Path, trust: &Certs, identity: &Certs) -> Certs {
    std::fs::create_dir_all(dir).expect("create mixed certs dir");
    std::fs::copy(trust.ca(), dir.join("ca.crt")).expect("copy ca.crt");
    for f in ["server.crt", "server.key", "client.crt", "client.key"] {
        std::fs::copy(identity.dir.join(f), dir.join(f))
            .unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
    Certs {
        dir: dir.to_path_buf(),
    }
}

fn initial_cluster_with(c: &Cluster, name: &str, url: &str) -> String {
    let mut parts: Vec<String> = (0..3)
        .map(|i| format!("{}={}", c.name(i), c.peer_url(i)))
        .collect();
    parts.push(format!("{name}={url}"));
    parts.join(",")
}

fn member<'a>(list: &'a serde_json::Value, peer_url: &str) -> &'a serde_json::Value {
    list["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["peerURLs"] == serde_json::json!([peer_url]))
        .unwrap_or_else(|| panic!("no member with {peer_url} in {list}"))
}

#[test]
fn a_replica_with_peer_certificates_from_another_ca_cannot_join() {
    let mut c = Cluster::start(3, Opts::default());
    c.etcdctl(&["put", "before", "join"]).ok();
    let other = Certs::generate(&c.dir().join("other-ca"));
    // The intruder trusts the cluster's CA (so any refusal is the members'), but presents
    // peer certificates of another CA; its client port uses the cluster's certificates.
    let intruder_certs = mixed_certs(&c.dir().join("intruder-certs"), &c.certs, &other);

    let url = c.next_peer_url();
    c.etcdctl(&[
        "member",
        "add",
        "n4",
        "--learner",
        &format!("--peer-urls={url}"),
    ])
    .ok();
    let spec = ReplicaSpec {
        name: "n4".into(),
        initial_cluster: initial_cluster_with(&c, "n4", &url),
        state: "existing",
        peer_certs: intruder_certs,
        client_certs: c.certs.clone(),
    };
    let intruder = c.add_replica(spec);
    // Discovery retries every 500 ms and the leader keeps trying to replicate; give both time.
    std::thread::sleep(Duration::from_secs(4));
    let list = c
        .etcdctl_on(&[0, 1, 2], &["member", "list", "-w", "json"])
        .json();
    let m = member(&list, &url);
    assert!(
        m.get("name").is_none_or(|n| n == "")
            && m.get("clientURLs")
                .is_none_or(|u| u.as_array().is_none_or(|a| a.is_empty())),
        "the intruder joined: {m}"
    );
    c.etcdctl_at(
        intruder,
        &["get", "before", "--consistency=s", "--command-timeout=2s"],
    )
    .err();
    // The cluster is unaffected.
    c.etcdctl_on(&[0, 1, 2], &["put", "during", "intrusion"])
        .ok();
    c.wait_healthy(&[0, 1, 2]);
    if c.exited(intruder).is_none() {
        c.kill(intruder);
    }
    let id = m["ID"].as_u64().expect("member ID");
    c.etcdctl_on(&[0, 1, 2], &["member", "remove", &format!("{id:x}")])
        .ok();

    // Control: the same join with the cluster's own certificates works.
    let url = c.next_peer_url();
    c.etcdctl_on(
        &[0, 1, 2],
        &[
            "member",
            "add",
            "n5",
            "--learner",
            &format!("--peer-urls={url}"),
        ],
    )
    .ok();
    let spec = ReplicaSpec {
        name: "n5".into(),
        initial_cluster: initial_cluster_with(&c, "n5", &url),
        state: "existing",
        peer_certs: c.certs.clone(),
        client_certs: c.certs.clone(),
    };
    let good = c.add_replica(spec);
    wait_for(
        "the well-certified learner to replicate the data",
        Duration::from_secs(30),
        || {
            let out = c.target(vec![c.endpoint(good).to_string()]).run(
                &[
                    "get",
                    "during",
                    "--print-value-only",
                    "--consistency=s",
                    "--command-timeout=1s",
                ],
                None,
                TIMEOUT,
            );
            if out.status.success() && out.stdout.trim() == "intrusion" {
                Ok(())
            } else {
                Err(format!("{}{}", out.stdout, out.stderr))
            }
        },
    );
    let list = c
        .etcdctl_on(&[0, 1, 2], &["member", "list", "-w", "json"])
        .json();
    let joined = member(&list, &url);
    assert_eq!(joined["name"].as_str(), Some("n5"), "{list}");
    assert_eq!(
        joined["clientURLs"],
        serde_json::json!([c.endpoint(good)]),
        "{list}"
    );
    // Once caught up, the learner can be promoted to a voter.
    let id = joined["ID"].as_u64().expect("member ID");
    let out = c.etcdctl_on(&[0, 1, 2], &["member", "promote", &format!("{id:x}")]);
    assert!(out.ok().contains("promoted in cluster"), "{}", out.stdout);
    let list = c
        .etcdctl_on(&[0, 1, 2], &["member", "list", "-w", "json"])
        .json();
    assert!(
        member(&list, &url)
            .get("isLearner")
            .is_none_or(|l| l == false),
        "{list}"
    );
    c.etcdctl(&["put", "after", "promotion"]).ok();
}
