//! Table tests of the Deployment plan, and a model-based rollout: the plan is applied to a
//! simulated cluster step by step and the rolling-update bounds are checked at every step.

use super::*;
use crate::util::testutil::{labels, ts};
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(&[("app", "web")])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn int_or(s: &str) -> IntOrString {
    match s.parse::<i32>() {
        Ok(n) => IntOrString::Int(n),
        Err(_) => IntOrString::String(s.into()),
    }
}

fn deployment(replicas: i32, image: &str, surge: &str, unavailable: &str) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "web")])),
                match_expressions: None,
            },
            template: template(image),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(int_or(surge)),
                    max_unavailable: Some(int_or(unavailable)),
                }),
            }),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: None,
    }
}

/// A ReplicaSet of `d` for `image`, as the controller would have made it.
fn rs_for(
    d: &Deployment,
    image: &str,
    replicas: i32,
    available: i32,
    revision: i64,
    created: i64,
) -> ReplicaSet {
    let t = template(image);
    let hash = template_hash(&t, None);
    let mut t2 = t.clone();
    t2.metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(HASH_LABEL.into(), hash.clone());
    let d_replicas = d.spec.as_ref().unwrap().replicas.unwrap();
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("web-{hash}")),
            namespace: Some("default".into()),
            uid: Some(format!("rs-{hash}")),
            creation_timestamp: Some(Time(ts(created))),
            annotations: Some(
                [
                    (REVISION.to_string(), revision.to_string()),
                    (DESIRED_REPLICAS.to_string(), d_replicas.to_string()),
                    (
                        MAX_REPLICAS.to_string(),
                        (d_replicas + max_surge(d)).to_string(),
                    ),
                ]
                .into(),
            ),
            owner_references: Some(vec![util::controller_ref_to(
                "apps/v1",
                "Deployment",
                &d.metadata,
            )]),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: None,
            selector: LabelSelector::default(),
            template: Some(t2),
        }),
        status: Some(ReplicaSetStatus {
            replicas,
            available_replicas: Some(available),
            ready_replicas: Some(available),
            observed_generation: Some(1),
            ..Default::default()
        }),
    }
}

fn run(d: &Deployment, rss: Vec<ReplicaSet>, now: i64) -> Plan {
    plan(Input {
        d,
        rss,
        pods: &[],
        now: ts(now),
    })
}

fn scaled(p: &Plan) -> Vec<(String, i32)> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateRs(rs) | Action::UpdateRs(rs) => {
                Some((util::name(&rs.metadata).to_string(), rs_replicas(rs)))
            }
            Action::DeleteRs(_) => None,
        })
        .collect()
}

#[test]
fn fenceposts() {
    // (replicas, maxSurge, maxUnavailable) -> (surge, unavailable)
    let cases = [
        (10, "25%", "25%", (3, 2)),
        (4, "25%", "25%", (1, 1)),
        (1, "25%", "25%", (1, 0)),
        (3, "0", "0", (0, 1)),
        (3, "0%", "0%", (0, 1)),
        (10, "2", "3", (2, 3)),
        (10, "100%", "0", (10, 0)),
        (5, "0", "33%", (0, 1)),
        (0, "25%", "25%", (0, 1)),
    ];
    for (r, s, u, want) in cases {
        let d = deployment(r, "a", s, u);
        assert_eq!(resolve_fenceposts(&d, r), want, "{r} {s} {u}");
    }
    // MaxUnavailable is capped at replicas and 0 for zero replicas or Recreate.
    assert_eq!(max_unavailable(&deployment(2, "a", "0", "5")), 2);
    assert_eq!(max_unavailable(&deployment(0, "a", "0", "5")), 0);
    let mut rec = deployment(3, "a", "1", "1");
    rec.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    assert_eq!((max_surge(&rec), max_unavailable(&rec)), (0, 0));
}

#[test]
fn hash_is_stable_and_sensitive() {
    let a = template_hash(&template("nginx:1"), None);
    assert_eq!(a, template_hash(&template("nginx:1"), None));
    assert_ne!(a, template_hash(&template("nginx:2"), None));
    assert_ne!(a, template_hash(&template("nginx:1"), Some(1)));
    assert!(
        a.chars().all(|c| util::ALPHANUMS.contains(&(c as u8))),
        "{a}"
    );
    // The hash label itself does not change the hash.
    let mut t = template("nginx:1");
    t.metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(HASH_LABEL.into(), "x".into());
    assert_eq!(a, template_hash(&t, None));
    // A restart annotation does.
    let mut r = template("nginx:1");
    r.metadata.as_mut().unwrap().annotations = Some(
        [(
            "kubectl.kubernetes.io/restartedAt".to_string(),
            "now".to_string(),
        )]
        .into(),
    );
    assert_ne!(a, template_hash(&r, None));
}

#[test]
fn first_sync_creates_the_replica_set() {
    let d = deployment(3, "nginx:1", "25%", "25%");
    let p = run(&d, vec![], 0);
    let hash = template_hash(&template("nginx:1"), None);
    let [Action::CreateRs(rs)] = &p.actions[..] else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(util::name(&rs.metadata), format!("web-{hash}"));
    assert_eq!(rs_replicas(rs), 3);
    let ann = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann.get(REVISION).map(String::as_str), Some("1"));
    assert_eq!(ann.get(DESIRED_REPLICAS).map(String::as_str), Some("3"));
    assert_eq!(ann.get(MAX_REPLICAS).map(String::as_str), Some("4"));
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap().get(HASH_LABEL),
        Some(&hash)
    );
    assert_eq!(rs_labels(rs).get(HASH_LABEL), Some(&hash));
    let r = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (r.kind.as_str(), r.controller, r.block_owner_deletion),
        ("Deployment", Some(true), Some(true))
    );
    assert_eq!(
        p.events,
        vec![(
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled up replica set web-{hash} from 0 to 3")
        )]
    );
    assert_eq!(p.revision.as_deref(), Some("1"));
    let s = p.status.expect("status");
    let prog = condition(&s, "Progressing").unwrap();
    assert_eq!(prog.reason.as_deref(), Some(NEW_RS_CREATED));
    assert_eq!(
        prog.message.as_deref(),
        Some(format!("Created new replica set \"web-{hash}\"").as_str())
    );
    assert_eq!(
        condition(&s, "Available").unwrap().reason.as_deref(),
        Some(MIN_UNAVAILABLE)
    );
}

#[test]
fn complete_rollout_reports_available() {
    let mut d = deployment(3, "nginx:1", "25%", "25%");
    let rs = rs_for(&d, "nginx:1", 3, 3, 1, 0);
    d.status = Some(DeploymentStatus {
        conditions: Some(vec![new_condition(
            "Progressing",
            "True",
            RS_UPDATED,
            "x".into(),
            ts(0),
        )]),
        ..Default::default()
    });
    let p = run(&d, vec![rs], 10);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    let s = p.status.expect("status");
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.available_replicas,
            s.unavailable_replicas
        ),
        (Some(3), Some(3), Some(3), Some(0))
    );
    let prog = condition(&s, "Progressing").unwrap();
    assert_eq!(prog.reason.as_deref(), Some(NEW_RS_AVAILABLE));
    assert!(prog
        .message
        .as_deref()
        .unwrap()
        .ends_with("has successfully progressed."));
    let avail = condition(&s, "Available").unwrap();
    assert_eq!(
        (avail.status.as_str(), avail.reason.as_deref()),
        ("True", Some(MIN_AVAILABLE))
    );
    assert_eq!(
        avail.message.as_deref(),
        Some("Deployment has minimum availability.")
    );
}

#[test]
fn rollback_reuses_the_matching_replica_set() {
    // kubectl rollout undo puts revision 1's template back: no new RS, revision 3.
    let d = deployment(2, "nginx:1", "1", "0");
    let v1 = rs_for(&d, "nginx:1", 0, 0, 1, 0);
    let v2 = rs_for(&d, "nginx:2", 2, 2, 2, 10);
    let p = run(&d, vec![v1.clone(), v2], 20);
    assert!(
        !p.actions.iter().any(|a| matches!(a, Action::CreateRs(_))),
        "{:?}",
        p.actions
    );
    let v1_name = util::name(&v1.metadata).to_string();
    let up = p.actions.iter().find_map(|a| match a {
        Action::UpdateRs(rs) if util::name(&rs.metadata) == v1_name => Some(rs),
        _ => None,
    });
    let up = up.expect("the old RS is updated");
    let ann = up.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann.get(REVISION).map(String::as_str), Some("3"));
    assert_eq!(ann.get(REVISION_HISTORY).map(String::as_str), Some("1"));
    assert_eq!(rs_replicas(up), 1, "scaled up by maxSurge");
    assert_eq!(p.revision.as_deref(), Some("3"));
}

#[test]
fn template_change_creates_a_new_replica_set() {
    let d = deployment(2, "nginx:2", "1", "0");
    let old = rs_for(&deployment(2, "nginx:1", "1", "0"), "nginx:1", 2, 2, 1, 0);
    let p = run(&d, vec![old], 5);
    let hash = template_hash(&template("nginx:2"), None);
    assert_eq!(scaled(&p), vec![(format!("web-{hash}"), 1)]);
    let Action::CreateRs(rs) = &p.actions[0] else {
        panic!()
    };
    assert_eq!(
        rs.metadata
            .annotations
            .as_ref()
            .unwrap()
            .get(REVISION)
            .map(String::as_str),
        Some("2")
    );
}

#[test]
fn proportional_scaling_mid_rollout() {
    // Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout
    // in flight with 8 old and 5 new; scaled to 15: 3 more old, 2 more new.
    let d10 = deployment(10, "nginx:2", "3", "2");
    let old = rs_for(&d10, "nginx:1", 8, 8, 1, 0);
    let new = rs_for(&d10, "nginx:2", 5, 0, 2, 10);
    let d15 = deployment(15, "nginx:2", "3", "2");
    let p = run(&d15, vec![old.clone(), new.clone()], 20);
    let mut got = scaled(&p);
    got.sort();
    let mut want = vec![
        (util::name(&old.metadata).to_string(), 11),
        (util::name(&new.metadata).to_string(), 7),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(p
        .events
        .iter()
        .all(|e| e.1 == "ScalingReplicaSet" && e.2.starts_with("Scaled up replica set ")));
}

#[test]
fn scale_down_with_one_active_replica_set() {
    let d5 = deployment(5, "nginx:1", "25%", "25%");
    let rs = rs_for(&d5, "nginx:1", 5, 5, 1, 0);
    let d2 = deployment(2, "nginx:1", "25%", "25%");
    let p = run(&d2, vec![rs.clone()], 1);
    assert_eq!(scaled(&p), vec![(util::name(&rs.metadata).to_string(), 2)]);
    assert_eq!(
        p.events[0].2,
        format!(
            "Scaled down replica set {} from 5 to 2",
            util::name(&rs.metadata)
        )
    );
}

#[test]
fn paused_deployment_does_not_roll_out() {
    let mut d = deployment(2, "nginx:2", "1", "0");
    d.spec.as_mut().unwrap().paused = Some(true);
    let old = rs_for(&d, "nginx:1", 2, 2, 1, 0);
    let p = run(&d, vec![old], 5);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    let prog = condition(p.status.as_ref().unwrap(), "Progressing")
        .unwrap()
        .clone();
    assert_eq!(
        (
            prog.status.as_str(),
            prog.reason.as_deref(),
            prog.message.as_deref()
        ),
        ("Unknown", Some(PAUSED), Some("Deployment is paused"))
    );
    // Resumed: the condition says so and the rollout starts.
    let mut d2 = d.clone();
    d2.spec.as_mut().unwrap().paused = Some(false);
    d2.status = p.status.clone();
    let p2 = run(&d2, vec![rs_for(&d, "nginx:1", 2, 2, 1, 0)], 6);
    assert!(matches!(p2.actions.first(), Some(Action::CreateRs(_))));
}

#[test]
fn progress_deadline_exceeded() {
    let mut d = deployment(2, "nginx:2", "1", "0");
    let old = rs_for(&d, "nginx:1", 1, 1, 1, 0);
    let new = rs_for(&d, "nginx:2", 2, 0, 2, 10);
    let mut c = new_condition("Progressing", "True", RS_UPDATED, "x".into(), ts(0));
    c.last_update_time = Some(Time(ts(0)));
    d.status = Some(DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(2),
        available_replicas: Some(1),
        ready_replicas: Some(1),
        conditions: Some(vec![c]),
        observed_generation: Some(1),
        ..Default::default()
    });
    // Before the deadline: requeued for the rest of it.
    let p = run(&d, vec![old.clone(), new.clone()], 100);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(500)));
    // After it: ProgressDeadlineExceeded.
    let p = run(&d, vec![old, new.clone()], 700);
    let prog = condition(p.status.as_ref().unwrap(), "Progressing")
        .unwrap()
        .clone();
    assert_eq!(
        (prog.status.as_str(), prog.reason.as_deref()),
        ("False", Some(TIMED_OUT))
    );
    assert_eq!(
        prog.message,
        Some(format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            util::name(&new.metadata)
        ))
    );
}

#[test]
fn history_cleanup_keeps_the_limit() {
    let mut d = deployment(1, "nginx:9", "1", "0");
    d.spec.as_mut().unwrap().revision_history_limit = Some(2);
    d.status = Some(DeploymentStatus {
        replicas: Some(1),
        updated_replicas: Some(1),
        available_replicas: Some(1),
        observed_generation: Some(1),
        ..Default::default()
    });
    let mut rss: Vec<ReplicaSet> = (1..=4)
        .map(|i| rs_for(&d, &format!("nginx:{i}"), 0, 0, i, i * 10))
        .collect();
    rss.push(rs_for(&d, "nginx:9", 1, 1, 5, 100));
    let p = run(&d, rss.clone(), 200);
    let deleted: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::DeleteRs(m) => Some(util::name(m)),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted,
        vec![util::name(&rss[0].metadata), util::name(&rss[1].metadata)]
    );
}

#[test]
fn recreate_scales_down_first() {
    let mut d = deployment(2, "nginx:2", "1", "0");
    d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    let old = rs_for(&d, "nginx:1", 2, 2, 1, 0);
    let p = run(&d, vec![old.clone()], 1);
    assert_eq!(scaled(&p), vec![(util::name(&old.metadata).to_string(), 0)]);
    // Old RS at zero but its pods not gone yet (status.replicas 1): wait.
    let mut old0 = rs_for(&d, "nginx:1", 0, 0, 1, 0);
    old0.status.as_mut().unwrap().replicas = 1;
    let p = run(&d, vec![old0], 2);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    // All gone: the new RS at full size.
    let p = run(&d, vec![rs_for(&d, "nginx:1", 0, 0, 1, 0)], 3);
    let hash = template_hash(&template("nginx:2"), None);
    assert_eq!(scaled(&p), vec![(format!("web-{hash}"), 2)]);
}

/// Simulates a cluster: applies each plan, then lets the ReplicaSets' pods catch up (new
/// pods become available one step after creation). Checks the bounds at every step.
fn simulate(replicas: i32, surge: &str, unavailable: &str) {
    let d0 = deployment(replicas, "nginx:1", surge, unavailable);
    let mut d = deployment(replicas, "nginx:2", surge, unavailable);
    let (max_s, max_u) = (max_surge(&d), max_unavailable(&d));
    let mut rss = vec![rs_for(&d0, "nginx:1", replicas, replicas, 1, 0)];
    d.status = Some(DeploymentStatus {
        replicas: Some(replicas),
        available_replicas: Some(replicas),
        observed_generation: Some(1),
        ..Default::default()
    });
    let what = format!("replicas {replicas} surge {surge} unavailable {unavailable}");
    for step in 0..200 {
        let p = run(&d, rss.clone(), 10 + step);
        for a in &p.actions {
            match a {
                Action::CreateRs(rs) => {
                    let mut rs = (**rs).clone();
                    rs.metadata.uid = Some(format!("new-{step}"));
                    rs.metadata.creation_timestamp = Some(Time(ts(10 + step)));
                    rs.status = Some(ReplicaSetStatus::default());
                    rss.push(rs);
                }
                Action::UpdateRs(rs) => {
                    let i = rss
                        .iter()
                        .position(|r| r.metadata.name == rs.metadata.name)
                        .unwrap();
                    let status = rss[i].status.clone();
                    rss[i] = (**rs).clone();
                    rss[i].status = status;
                }
                Action::DeleteRs(m) => rss.retain(|r| r.metadata.name != m.name),
            }
        }
        if let Some(s) = p.status {
            d.status = Some(s);
        }
        // Pods: scale-down removes at once (available first drops), scale-up creates
        // unavailable pods that become available next step.
        for rs in rss.iter_mut() {
            let want = rs_replicas(rs);
            let st = rs.status.get_or_insert_with(Default::default);
            st.available_replicas = Some(st.available_replicas.unwrap_or(0).min(want));
            st.ready_replicas = st.available_replicas;
            st.replicas = want;
        }
        let pods: i32 = rss.iter().map(rs_replicas).sum();
        let available: i32 = rss.iter().map(rs_available).sum();
        assert!(
            pods <= replicas + max_s,
            "{what}: step {step}: {pods} pods > {replicas} + {max_s}"
        );
        assert!(
            available >= replicas - max_u,
            "{what}: step {step}: {available} available < {replicas} - {max_u}"
        );
        // A step later, every pod is available.
        for rs in rss.iter_mut() {
            let st = rs.status.get_or_insert_with(Default::default);
            st.available_replicas = Some(st.replicas);
            st.ready_replicas = Some(st.replicas);
        }
        let new_done = rss.iter().any(|r| {
            equal_ignore_hash(
                r.spec.as_ref().unwrap().template.as_ref().unwrap(),
                &template("nginx:2"),
            ) && rs_available(r) == replicas
                && rs_replicas(r) == replicas
        });
        let olds_gone = rss
            .iter()
            .filter(|r| {
                !equal_ignore_hash(
                    r.spec.as_ref().unwrap().template.as_ref().unwrap(),
                    &template("nginx:2"),
                )
            })
            .all(|r| rs_replicas(r) == 0);
        if new_done && olds_gone {
            let s = d.status.as_ref().unwrap();
            if condition(s, "Progressing").and_then(|c| c.reason.as_deref())
                == Some(NEW_RS_AVAILABLE)
            {
                return;
            }
        }
    }
    let summary: Vec<(String, i32, i32, i32)> = rss
        .iter()
        .map(|r| {
            (
                util::name(&r.metadata).to_string(),
                rs_replicas(r),
                rs_status_replicas(r),
                rs_available(r),
            )
        })
        .collect();
    panic!(
        "{what}: the rollout did not finish: {summary:?} {:?}",
        d.status
    );
}

#[test]
fn rolling_update_bounds() {
    let cases = [
        (3, "25%", "25%"),
        (10, "25%", "25%"),
        (10, "0", "1"),
        (10, "1", "0"),
        (5, "100%", "0"),
        (5, "0", "100%"),
        (1, "0", "0"),
        (7, "2", "3"),
        (4, "50%", "50%"),
    ];
    for (r, s, u) in cases {
        simulate(r, s, u);
    }
}
