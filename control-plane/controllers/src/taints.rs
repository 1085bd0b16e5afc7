//! Taints, tolerations and node affinity as the controllers need them (pure): whether a
//! toleration tolerates a taint (core/v1 `ToleratesTaint`), whether a node matches a pod's
//! nodeSelector and required node affinity (component-helpers' `nodeaffinity`), the taint
//! keys the node lifecycle controller manages, and the edit of a node's taint list.

use crate::util::Labels;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
pub const NO_EXECUTE: &str = "NoExecute";
pub const NO_SCHEDULE: &str = "NoSchedule";

/// core/v1 `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        // An empty key is only valid with Exists.
        "" | "Equal" => {
            !key.is_empty()
                && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// Whether some toleration tolerates the taint.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

/// A taint (no value, no timeAdded).
pub fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: None,
    }
}

/// The taint list after removing `(key, effect)` pairs and adding (or replacing, by key and
/// effect) `add`. Other taints keep their order.
pub fn edit_taints(taints: &[Taint], add: &[Taint], remove: &[(String, String)]) -> Vec<Taint> {
    let mut out: Vec<Taint> = taints
        .iter()
        .filter(|t| !remove.iter().any(|(k, e)| *k == t.key && *e == t.effect))
        .filter(|t| !add.iter().any(|a| a.key == t.key && a.effect == t.effect))
        .cloned()
        .collect();
    out.extend(add.iter().cloned());
    out
}

/// Whether a node matches a pod's `nodeSelector` and required node affinity (and
/// `nodeName`, when the pod names one).
pub fn node_matches(spec: &PodSpec, node: &Node) -> bool {
    let empty = Labels::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let name = node.metadata.name.as_deref().unwrap_or("");
    if let Some(n) = spec.node_name.as_deref() {
        if !n.is_empty() && n != name {
            return false;
        }
    }
    if let Some(sel) = &spec.node_selector {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        None => true,
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, labels, name)),
    }
}

/// Requirements of a term are ANDed; a term with none matches nothing.
fn term_matches(t: &NodeSelectorTerm, labels: &Labels, name: &str) -> bool {
    let exprs = t.match_expressions.as_deref().unwrap_or(&[]);
    let fields = t.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

fn requirement_matches(r: &NodeSelectorRequirement, have: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let num = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => have.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => have.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

#[cfg(test)]
pub mod testutil {
    //! Builders for nodes, taints and tolerations.
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// A node with labels, taints (key, effect) and a Ready status ("" for no condition).
    pub fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)], ready: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(crate::util::testutil::labels(labels)),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints.iter().map(|(k, e)| taint(k, e)).collect()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: (!ready.is_empty()).then(|| {
                    vec![NodeCondition {
                        type_: "Ready".into(),
                        status: ready.into(),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    /// A toleration: key ("" any), operator, effect ("" any), seconds.
    pub fn tol(key: &str, op: &str, effect: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: Some(op.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            value: None,
            toleration_seconds: secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector};

    #[test]
    fn toleration_matching() {
        let check = |t: Toleration, taint: Taint, want: bool| {
            assert_eq!(tolerates(&t, &taint), want, "{t:?} {taint:?}");
        };
        let mut valued = taint("k", NO_SCHEDULE);
        valued.value = Some("v".into());
        check(tol("k", "Exists", "", None), taint("k", NO_EXECUTE), true);
        check(
            tol("k", "Exists", NO_SCHEDULE, None),
            taint("k", NO_EXECUTE),
            false,
        );
        check(tol("", "Exists", "", None), taint("any", NO_EXECUTE), true);
        check(tol("", "Equal", "", None), taint("any", NO_EXECUTE), false);
        check(
            tol("other", "Exists", "", None),
            taint("k", NO_EXECUTE),
            false,
        );
        let mut eq = tol("k", "Equal", "", None);
        check(eq.clone(), valued.clone(), false);
        eq.value = Some("v".into());
        check(eq.clone(), valued.clone(), true);
        eq.operator = None;
        check(eq, valued, true);
    }

    #[test]
    fn node_matching() {
        let n = node("n1", &[("zone", "a"), ("cpus", "8")], &[], "True");
        let req = |k: &str, op: &str, v: &[&str]| NodeSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        };
        let with_terms = |terms: Vec<NodeSelectorTerm>| PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let exprs = |r: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: Some(r),
            match_fields: None,
        };
        let fields = |r: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(r),
        };
        let cases: Vec<(&str, PodSpec, bool)> = vec![
            ("no constraints", PodSpec::default(), true),
            (
                "selector match",
                PodSpec {
                    node_selector: Some(crate::util::testutil::labels(&[("zone", "a")])),
                    ..Default::default()
                },
                true,
            ),
            (
                "selector miss",
                PodSpec {
                    node_selector: Some(crate::util::testutil::labels(&[("zone", "b")])),
                    ..Default::default()
                },
                false,
            ),
            (
                "nodeName other",
                PodSpec {
                    node_name: Some("n2".into()),
                    ..Default::default()
                },
                false,
            ),
            (
                "In",
                with_terms(vec![exprs(vec![req("zone", "In", &["a", "b"])])]),
                true,
            ),
            (
                "NotIn",
                with_terms(vec![exprs(vec![req("zone", "NotIn", &["a"])])]),
                false,
            ),
            (
                "Gt",
                with_terms(vec![exprs(vec![req("cpus", "Gt", &["4"])])]),
                true,
            ),
            (
                "Lt",
                with_terms(vec![exprs(vec![req("cpus", "Lt", &["4"])])]),
                false,
            ),
            (
                "terms ORed",
                with_terms(vec![
                    exprs(vec![req("zone", "In", &["b"])]),
                    exprs(vec![req("zone", "Exists", &[])]),
                ]),
                true,
            ),
            (
                "empty term",
                with_terms(vec![NodeSelectorTerm::default()]),
                false,
            ),
            (
                "matchFields name",
                with_terms(vec![fields(vec![req("metadata.name", "In", &["n1"])])]),
                true,
            ),
            (
                "matchFields other",
                with_terms(vec![fields(vec![req("metadata.name", "In", &["n2"])])]),
                false,
            ),
        ];
        for (what, spec, want) in cases {
            assert_eq!(node_matches(&spec, &n), want, "{what}");
        }
    }

    #[test]
    fn taint_edits() {
        let mut old = taint(UNREACHABLE, NO_EXECUTE);
        old.value = Some("old".into());
        let base = vec![
            taint("user", NO_SCHEDULE),
            old,
            taint(NOT_READY, NO_SCHEDULE),
        ];
        let got = edit_taints(
            &base,
            &[taint(UNREACHABLE, NO_EXECUTE)],
            &[(NOT_READY.into(), NO_SCHEDULE.into())],
        );
        assert_eq!(
            got,
            vec![taint("user", NO_SCHEDULE), taint(UNREACHABLE, NO_EXECUTE)]
        );
        assert_eq!(edit_taints(&base, &[], &[]), base);
    }
}
