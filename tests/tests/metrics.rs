//! Metrics: /metrics on `--listen-metrics-urls` passes `promtool check metrics` and is valid
//! Prometheus text (own parser too) with etcd's metric
//! names and sane values on every replica, and /health answers etcd's JSON (true with a
//! leader, false once quorum is lost).

use berth_system_tests::metrics::{http_get, parse_exposition, Exposition};
use berth_system_tests::{wait_for, Cluster, Opts};
use std::time::Duration;

fn scrape(c: &Cluster, i: usize) -> Result<Exposition, String> {
    let r = http_get(c.metrics_addr(i), "/metrics")?;
    if r.status != 200 {
        return Err(format!("/metrics answered {}: {}", r.status, r.body));
    }
    let content_type = r.headers.get("content-type").cloned().unwrap_or_default();
    if !content_type.starts_with("text/plain") {
        return Err(format!("/metrics content-type is {content_type:?}"));
    }
    promtool_check(&r.body).map_err(|e| format!("replica {i}: {e}"))?;
    parse_exposition(&r.body).map_err(|e| format!("replica {i}: invalid exposition: {e}"))
}

/// Gauges whose names etcd chose with a `_total` suffix; Berth keeps etcd's names (users'
/// dashboards use them), so promtool's naming lint on exactly these is expected.
const ETCD_TOTAL_GAUGES: [&str; 2] = [
    "etcd_debugging_mvcc_keys_total",
    "etcd_debugging_mvcc_watcher_total",
];

/// `promtool check metrics` (Debian's prometheus package, installed by scripts/setup.sh)
/// must accept the scrape: valid format, and no lint problem other than the `_total`
/// suffix of etcd's two gauges.
fn promtool_check(body: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("failed to run promtool (scripts/setup.sh installs it): {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(body.as_bytes())
        .map_err(|e| format!("failed to feed promtool: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("promtool did not finish: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unexpected: Vec<&str> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            !ETCD_TOTAL_GAUGES.iter().any(|g| {
                l.starts_with(&format!(
                    "{g} non-counter metrics should not have \"_total\" suffix"
                ))
            })
        })
        .collect();
    if !unexpected.is_empty() {
        return Err(format!(
            "promtool check metrics found problems:\n{}",
            unexpected.join("\n")
        ));
    }
    if !out.status.success() && report.lines().filter(|l| !l.trim().is_empty()).count() == 0 {
        return Err("promtool check metrics failed without a report".into());
    }
    Ok(())
}

fn value(exp: &Exposition, name: &str) -> Result<f64, String> {
    exp.value(name).ok_or(format!("no {name}"))
}

#[test]
fn metrics_have_etcd_names_and_sane_values_and_health_follows_quorum() {
    let mut c = Cluster::start(3, Opts::default());
    for i in 0..12 {
        c.etcdctl(&["put", &format!("met/{i:02}"), "v"]).ok();
    }
    c.etcdctl(&["del", "met/0", "--prefix"]).ok(); // 10 of 12 deleted
    let n_keys = c
        .etcdctl(&["get", "", "--from-key", "--keys-only", "-w", "json"])
        .json()["count"]
        .as_f64()
        .expect("count");
    assert_eq!(n_keys, 2.0);
    let (_, revision) = c.wait_converged(&[0, 1, 2], Duration::from_secs(10));

    // Gauges refresh about once a second: wait until every replica reflects the writes.
    let mut leaders = 0.0;
    for i in 0..3 {
        let exp = wait_for(
            &format!("replica {i}'s metrics to reflect the writes"),
            Duration::from_secs(10),
            || {
                let exp = scrape(&c, i)?;
                let keys = value(&exp, "etcd_debugging_mvcc_keys_total")?;
                let rev = value(&exp, "etcd_debugging_mvcc_current_revision")?;
                if keys == n_keys && rev == revision as f64 {
                    Ok(exp)
                } else {
                    Err(format!("keys_total {keys} (want {n_keys}), current_revision {rev} (want {revision})"))
                }
            },
        );
        assert_eq!(
            value(&exp, "etcd_server_has_leader"),
            Ok(1.0),
            "replica {i}"
        );
        leaders += value(&exp, "etcd_server_is_leader").unwrap();
        let committed = value(&exp, "etcd_server_proposals_committed_total").unwrap();
        let applied = value(&exp, "etcd_server_proposals_applied_total").unwrap();
        assert!(
            committed >= 13.0,
            "replica {i}: proposals_committed_total {committed} after 13 writes"
        );
        assert!(
            applied <= committed && applied > 0.0,
            "replica {i}: applied {applied}, committed {committed}"
        );
        assert_eq!(
            value(&exp, "etcd_server_proposals_pending"),
            Ok(0.0),
            "replica {i}"
        );
        assert!(
            value(&exp, "etcd_disk_wal_fsync_duration_seconds_count").unwrap() > 0.0,
            "replica {i}: no WAL fsync observed"
        );
        assert!(
            value(&exp, "etcd_disk_wal_fsync_duration_seconds_sum").unwrap() > 0.0,
            "replica {i}: WAL fsyncs took no time"
        );
        assert!(
            value(&exp, "etcd_disk_backend_commit_duration_seconds_count").unwrap() > 0.0,
            "replica {i}: no backend commit observed"
        );
        assert!(
            value(&exp, "etcd_mvcc_db_total_size_in_bytes").unwrap() > 0.0,
            "replica {i}"
        );
        assert!(
            value(&exp, "etcd_server_leader_changes_seen_total").unwrap() >= 1.0,
            "replica {i}"
        );
        assert!(
            value(&exp, "process_resident_memory_bytes").unwrap() > 0.0,
            "replica {i}: no process metrics"
        );
        // etcd's types, except that the proposal totals, gauges in etcd, are counters here:
        // they only rise, and promtool refuses a `_total` gauge.
        for (name, kind) in [
            ("etcd_server_proposals_committed_total", "counter"),
            ("etcd_server_proposals_applied_total", "counter"),
            ("etcd_debugging_mvcc_keys_total", "gauge"),
            ("etcd_server_has_leader", "gauge"),
            ("etcd_disk_wal_fsync_duration_seconds", "histogram"),
        ] {
            assert_eq!(
                exp.types.get(name).map(String::as_str),
                Some(kind),
                "replica {i}: TYPE of {name}"
            );
        }
        let health = http_get(c.metrics_addr(i), "/health").expect("GET /health");
        assert_eq!(health.status, 200, "replica {i}: {}", health.body);
        let body: serde_json::Value = serde_json::from_str(&health.body)
            .unwrap_or_else(|e| panic!("/health is not JSON ({e}): {}", health.body));
        assert_eq!(body["health"], "true", "replica {i}: {body}");
    }
    assert_eq!(leaders, 1.0, "etcd_server_is_leader summed over replicas");

    // Without quorum, the survivor reports no leader and unhealthy.
    let leader = c.wait_leader(&[0, 1, 2]);
    let survivor = (leader + 1) % 3;
    for i in (0..3).filter(|&i| i != survivor) {
        c.kill(i);
    }
    wait_for(
        "the lone survivor to report no leader and /health false",
        Duration::from_secs(15),
        || {
            let exp = scrape(&c, survivor)?;
            let has_leader = value(&exp, "etcd_server_has_leader")?;
            let health = http_get(c.metrics_addr(survivor), "/health")?;
            let body: serde_json::Value = serde_json::from_str(&health.body)
                .map_err(|e| format!("/health is not JSON ({e}): {}", health.body))?;
            if has_leader == 0.0 && body["health"] == "false" && health.status == 503 {
                Ok(())
            } else {
                Err(format!(
                    "has_leader {has_leader}, /health {} {}",
                    health.status, health.body
                ))
            }
        },
    );
}
