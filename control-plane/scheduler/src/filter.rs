//! The Filter plugins of the default profile, in kube-scheduler's order, and their rejection
//! reasons with kube-scheduler's exact strings.

use std::collections::BTreeMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::interpod::InterPodFilterState;
use crate::podinfo::PodInfo;
use crate::selector::{first_untolerated, Effect, NodeTerm, TaintSpec, TolerationSpec};
use crate::spread::{self, Constraint, SpreadFilterState};

pub(crate) const REASON_NODE_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub(crate) const REASON_NODE_NAME: &str = "node(s) didn't match the requested node name";
pub(crate) const REASON_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub(crate) const REASON_NODE_PORTS: &str =
    "node(s) didn't have free ports for the requested pod ports";
pub(crate) const REASON_TOO_MANY_PODS: &str = "Too many pods";
pub(crate) const REASON_SPREAD: &str = "node(s) didn't match pod topology spread constraints";
pub(crate) const REASON_SPREAD_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
pub(crate) const REASON_POD_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub(crate) const REASON_POD_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub(crate) const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Bits of `Rejection::Resources`: pods, cpu, memory, ephemeral storage, then the pod's
/// scalar resources by index.
const BIT_PODS: u64 = 1;
const BIT_CPU: u64 = 1 << 1;
const BIT_MEMORY: u64 = 1 << 2;
const BIT_EPHEMERAL: u64 = 1 << 3;
const FIRST_SCALAR_BIT: usize = 4;

/// Why a node failed the filters: the first failing plugin's status, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    NodeUnschedulable,
    NodeName,
    /// Index of the first untolerated taint in the node's taints.
    Taint(usize),
    NodeAffinity,
    NodePorts,
    /// Insufficient resources (bits above); `unresolvable` when a request exceeds the node's
    /// allocatable outright, so evicting pods cannot help.
    Resources {
        bits: u64,
        unresolvable: bool,
    },
    SpreadMissingLabel,
    Spread,
    PodAffinity,
    PodAntiAffinity,
    ExistingAntiAffinity,
}

impl Rejection {
    /// kube-scheduler's UnschedulableAndUnresolvable: preemption cannot help on this node.
    pub(crate) fn unresolvable(&self) -> bool {
        match self {
            Rejection::NodeUnschedulable
            | Rejection::NodeName
            | Rejection::Taint(_)
            | Rejection::NodeAffinity
            | Rejection::SpreadMissingLabel
            | Rejection::PodAffinity => true,
            Rejection::Resources { unresolvable, .. } => *unresolvable,
            Rejection::NodePorts
            | Rejection::Spread
            | Rejection::PodAntiAffinity
            | Rejection::ExistingAntiAffinity => false,
        }
    }

    /// The status reasons, as kube-scheduler words them.
    pub(crate) fn reasons(&self, node: &NodeInfo, pod: &PodInfo) -> Vec<String> {
        let one = |s: &str| vec![s.to_string()];
        match *self {
            Rejection::NodeUnschedulable => one(REASON_NODE_UNSCHEDULABLE),
            Rejection::NodeName => one(REASON_NODE_NAME),
            Rejection::Taint(idx) => {
                let t = &node.taints[idx];
                vec![format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    t.key, t.value
                )]
            }
            Rejection::NodeAffinity => one(REASON_NODE_AFFINITY),
            Rejection::NodePorts => one(REASON_NODE_PORTS),
            Rejection::Resources { bits, .. } => {
                let mut out = Vec::new();
                if bits & BIT_PODS != 0 {
                    out.push(REASON_TOO_MANY_PODS.to_string());
                }
                for (bit, name) in [
                    (BIT_CPU, "cpu"),
                    (BIT_MEMORY, "memory"),
                    (BIT_EPHEMERAL, "ephemeral-storage"),
                ] {
                    if bits & bit != 0 {
                        out.push(format!("Insufficient {name}"));
                    }
                }
                for (i, (name, _)) in pod
                    .requests
                    .scalars
                    .iter()
                    .enumerate()
                    .take(64 - FIRST_SCALAR_BIT)
                {
                    if bits & (1 << (FIRST_SCALAR_BIT + i)) != 0 {
                        out.push(format!("Insufficient {name}"));
                    }
                }
                out
            }
            Rejection::SpreadMissingLabel => one(REASON_SPREAD_MISSING_LABEL),
            Rejection::Spread => one(REASON_SPREAD),
            Rejection::PodAffinity => one(REASON_POD_AFFINITY),
            Rejection::PodAntiAffinity => one(REASON_POD_ANTI_AFFINITY),
            Rejection::ExistingAntiAffinity => one(REASON_EXISTING_ANTI_AFFINITY),
        }
    }
}

/// spec.nodeSelector and required node affinity (`nodeaffinity.RequiredNodeAffinity`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequiredNodeAffinity {
    node_selector: Vec<(String, String)>,
    /// `None` without required node affinity; `Some(empty)` matches no node.
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    pub(crate) fn of(pod: &PodInfo) -> RequiredNodeAffinity {
        let spec = pod.pod.spec.as_ref();
        let node_selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|ns| {
                ns.node_selector_terms
                    .iter()
                    .filter_map(NodeTerm::parse)
                    .collect()
            });
        RequiredNodeAffinity {
            node_selector,
            terms,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.node_selector.is_empty() && self.terms.is_none()
    }

    pub(crate) fn matches(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .terms
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(node.name(), labels)))
    }
}

/// Everything about the incoming pod the filters and scores need, computed once per cycle.
pub(crate) struct Prepared<'a> {
    pub(crate) pod: &'a PodInfo,
    pub(crate) node_name: Option<&'a str>,
    pub(crate) node_affinity: RequiredNodeAffinity,
    pub(crate) tolerations: Vec<TolerationSpec>,
    pub(crate) tolerates_unschedulable: bool,
    /// DoNotSchedule constraints.
    pub(crate) hard_spread: Vec<Constraint>,
    /// Preferred node affinity terms with their weights.
    pub(crate) preferred_node_affinity: Vec<(i64, NodeTerm)>,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(pod: &'a PodInfo) -> Prepared<'a> {
        let spec = pod.pod.spec.as_ref();
        let tolerations: Vec<TolerationSpec> = spec
            .and_then(|s| s.tolerations.as_ref())
            .into_iter()
            .flatten()
            .map(TolerationSpec::parse)
            .collect();
        let unschedulable_taint = TaintSpec {
            key: "node.kubernetes.io/unschedulable".into(),
            value: String::new(),
            effect: Effect::NoSchedule,
        };
        let tolerates_unschedulable = tolerations
            .iter()
            .any(|t| t.tolerates(&unschedulable_taint));
        let preferred_node_affinity = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .filter(|t| t.weight != 0)
            .filter_map(|t| NodeTerm::parse(&t.preference).map(|term| (i64::from(t.weight), term)))
            .collect();
        Prepared {
            node_name: spec
                .and_then(|s| s.node_name.as_deref())
                .filter(|n| !n.is_empty()),
            node_affinity: RequiredNodeAffinity::of(pod),
            tolerations,
            tolerates_unschedulable,
            hard_spread: spread::constraints(pod, true),
            preferred_node_affinity,
            pod,
        }
    }
}

/// PreFilter results that depend on the whole snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct PreFilterState {
    pub(crate) spread: Option<SpreadFilterState>,
    pub(crate) interpod: Option<InterPodFilterState>,
}

impl PreFilterState {
    pub(crate) fn compute(prepared: &Prepared<'_>, snapshot: &Snapshot) -> PreFilterState {
        PreFilterState {
            spread: SpreadFilterState::compute(prepared, snapshot),
            interpod: InterPodFilterState::compute(prepared.pod, snapshot),
        }
    }

    /// Accounts for `pod` being added (`delta` 1) to or removed (-1) from `node`
    /// (the PreFilter extensions preemption uses).
    pub(crate) fn update(
        &mut self,
        prepared: &Prepared<'_>,
        pod: &PodInfo,
        node: &NodeInfo,
        namespaces: &Snapshot,
        delta: i64,
    ) {
        if let Some(s) = &mut self.spread {
            s.update(prepared, pod, node, delta);
        }
        if let Some(s) = &mut self.interpod {
            s.update(prepared.pod, pod, node.labels(), namespaces, delta);
        }
    }
}

/// Runs every filter on one node, stopping at the first failing plugin.
pub(crate) fn filter(
    prepared: &Prepared<'_>,
    pre: &PreFilterState,
    node: &NodeInfo,
) -> Result<(), Rejection> {
    // NodeUnschedulable
    if node.unschedulable && !prepared.tolerates_unschedulable {
        return Err(Rejection::NodeUnschedulable);
    }
    // NodeName
    if prepared.node_name.is_some_and(|n| n != node.name()) {
        return Err(Rejection::NodeName);
    }
    // TaintToleration
    if !node.taints.is_empty() {
        if let Some(idx) = first_untolerated(&node.taints, &prepared.tolerations) {
            return Err(Rejection::Taint(idx));
        }
    }
    // NodeAffinity
    if !prepared.node_affinity.is_empty() && !prepared.node_affinity.matches(node) {
        return Err(Rejection::NodeAffinity);
    }
    // NodePorts
    if prepared
        .pod
        .host_ports
        .iter()
        .any(|p| node.port_conflicts(p))
    {
        return Err(Rejection::NodePorts);
    }
    // NodeResourcesFit
    fits_resources(prepared.pod, node)?;
    // PodTopologySpread
    if let Some(s) = &pre.spread {
        s.filter(prepared.pod, node)?;
    }
    // InterPodAffinity
    if let Some(s) = &pre.interpod {
        s.filter(prepared.pod, node)?;
    }
    Ok(())
}

/// NodeResourcesFit's `fitsRequest`.
fn fits_resources(pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
    let mut bits = 0;
    let mut unresolvable = false;
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        bits |= BIT_PODS;
    }
    let r = &pod.requests;
    let (alloc, used) = (&node.allocatable, &node.requested);
    let mut check = |want: i64, allocatable: i64, requested: i64, bit: u64| {
        if want > 0 && want > allocatable - requested {
            bits |= bit;
            unresolvable |= want > allocatable;
        }
    };
    check(r.milli_cpu, alloc.milli_cpu, used.milli_cpu, BIT_CPU);
    check(
        r.memory_bytes,
        alloc.memory_bytes,
        used.memory_bytes,
        BIT_MEMORY,
    );
    check(
        r.ephemeral_storage_bytes,
        alloc.ephemeral_storage_bytes,
        used.ephemeral_storage_bytes,
        BIT_EPHEMERAL,
    );
    for (i, (name, want)) in r.scalars.iter().enumerate().take(64 - FIRST_SCALAR_BIT) {
        check(
            *want,
            alloc.scalar(name),
            used.scalar(name),
            1 << (FIRST_SCALAR_BIT + i),
        );
    }
    if bits == 0 {
        Ok(())
    } else {
        Err(Rejection::Resources { bits, unresolvable })
    }
}

/// Labels helper for tests and other modules.
pub(crate) fn has_all_keys(
    labels: &BTreeMap<String, String>,
    keys: impl IntoIterator<Item = impl AsRef<str>>,
) -> bool {
    keys.into_iter().all(|k| labels.contains_key(k.as_ref()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};

    use super::*;
    use crate::testutil::{affinity_term, node_req, NodeBuilder, PodSpecBuilder};
    use crate::Cache;

    /// Filters `pod` against `node` (with `existing` pods bound to nodes in the cluster) and
    /// compares the reasons for `node`'s rejection (empty = fits).
    fn check(
        name: &str,
        pod: Pod,
        nodes: Vec<Arc<Node>>,
        existing: Vec<Pod>,
        node: &str,
        want: &[&str],
    ) {
        let mut cache = Cache::new();
        for n in nodes {
            cache.add_node(n);
        }
        for p in existing {
            cache.add_pod(Arc::new(p));
        }
        let mut snap = Snapshot::new();
        cache.update_snapshot(&mut snap);
        let info = PodInfo::new(Arc::new(pod));
        let prepared = Prepared::new(&info);
        let pre = PreFilterState::compute(&prepared, &snap);
        let n = snap.node(node).expect("node");
        let got = match filter(&prepared, &pre, n) {
            Ok(()) => vec![],
            Err(r) => r.reasons(n, &info),
        };
        assert_eq!(got, want, "{name}");
    }

    fn node(name: &str) -> NodeBuilder {
        NodeBuilder::new(name, "4", "8Gi")
    }

    fn pod() -> PodSpecBuilder {
        PodSpecBuilder::new("p")
    }

    #[test]
    fn node_unschedulable_and_name() {
        let cases: Vec<(&str, Pod, NodeBuilder, &[&str])> = vec![
            ("schedulable", pod().build(), node("n"), &[]),
            (
                "unschedulable",
                pod().build(),
                node("n").unschedulable(),
                &[REASON_NODE_UNSCHEDULABLE],
            ),
            (
                "tolerates unschedulable",
                pod()
                    .toleration(
                        "node.kubernetes.io/unschedulable",
                        "Exists",
                        "",
                        "NoSchedule",
                    )
                    .build(),
                node("n").unschedulable(),
                &[],
            ),
            (
                "tolerates everything",
                pod().toleration("", "Exists", "", "").build(),
                node("n").unschedulable(),
                &[],
            ),
            ("node name matches", pod().node("n").build(), node("n"), &[]),
            (
                "node name differs",
                pod().node("m").build(),
                node("n"),
                &[REASON_NODE_NAME],
            ),
        ];
        for (name, p, n, want) in cases {
            check(name, p, vec![n.arc()], vec![], "n", want);
        }
    }

    #[test]
    fn taints() {
        let cases: Vec<(&str, Pod, NodeBuilder, &[&str])> = vec![
            ("no taints", pod().build(), node("n"), &[]),
            (
                "NoSchedule",
                pod().build(),
                node("n").taint("dedicated", "gpu", "NoSchedule"),
                &["node(s) had untolerated taint {dedicated: gpu}"],
            ),
            (
                "NoExecute without value",
                pod().build(),
                node("n").taint("node.kubernetes.io/unreachable", "", "NoExecute"),
                &["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"],
            ),
            (
                "PreferNoSchedule does not filter",
                pod().build(),
                node("n").taint("a", "b", "PreferNoSchedule"),
                &[],
            ),
            (
                "tolerated",
                pod()
                    .toleration("dedicated", "Equal", "gpu", "NoSchedule")
                    .build(),
                node("n").taint("dedicated", "gpu", "NoSchedule"),
                &[],
            ),
            (
                "first untolerated reported",
                pod().toleration("a", "Exists", "", "").build(),
                node("n")
                    .taint("a", "1", "NoSchedule")
                    .taint("b", "2", "NoExecute")
                    .taint("c", "3", "NoSchedule"),
                &["node(s) had untolerated taint {b: 2}"],
            ),
            (
                "wrong effect",
                pod().toleration("a", "Exists", "", "NoExecute").build(),
                node("n").taint("a", "1", "NoSchedule"),
                &["node(s) had untolerated taint {a: 1}"],
            ),
        ];
        for (name, p, n, want) in cases {
            check(name, p, vec![n.arc()], vec![], "n", want);
        }
    }

    #[test]
    fn node_affinity_and_selector() {
        let na = &[REASON_NODE_AFFINITY][..];
        let cases: Vec<(&str, Pod, NodeBuilder, &[&str])> = vec![
            (
                "selector matches",
                pod().node_selector(&[("disk", "ssd")]).build(),
                node("n").label("disk", "ssd"),
                &[],
            ),
            (
                "selector mismatch",
                pod().node_selector(&[("disk", "ssd")]).build(),
                node("n").label("disk", "hdd"),
                na,
            ),
            (
                "selector missing",
                pod().node_selector(&[("disk", "ssd")]).build(),
                node("n"),
                na,
            ),
            (
                "terms are ORed",
                pod()
                    .required_node_affinity(vec![
                        vec![node_req("a", "In", &["1"])],
                        vec![node_req("b", "Exists", &[])],
                    ])
                    .build(),
                node("n").label("b", "x"),
                &[],
            ),
            (
                "requirements are ANDed",
                pod()
                    .required_node_affinity(vec![vec![
                        node_req("a", "In", &["1"]),
                        node_req("b", "Exists", &[]),
                    ]])
                    .build(),
                node("n").label("b", "x"),
                na,
            ),
            (
                "selector and affinity both apply",
                pod()
                    .node_selector(&[("disk", "ssd")])
                    .required_node_affinity(vec![vec![node_req("a", "Gt", &["1"])]])
                    .build(),
                node("n").label("a", "5"),
                na,
            ),
            (
                "empty terms match nothing",
                pod().required_node_affinity(vec![vec![]]).build(),
                node("n"),
                na,
            ),
            (
                "NotIn with label missing",
                pod()
                    .required_node_affinity(vec![vec![node_req("a", "NotIn", &["1"])]])
                    .build(),
                node("n"),
                &[],
            ),
        ];
        for (name, p, n, want) in cases {
            check(name, p, vec![n.arc()], vec![], "n", want);
        }
    }

    #[test]
    fn ports() {
        let busy = PodSpecBuilder::new("busy")
            .host_port(8080, "", "")
            .node("n")
            .build();
        let cases: Vec<(&str, Pod, &[&str])> = vec![
            ("free port", pod().host_port(8081, "", "").build(), &[]),
            (
                "same port",
                pod().host_port(8080, "", "").build(),
                &[REASON_NODE_PORTS],
            ),
            (
                "same port other ip",
                pod().host_port(8080, "TCP", "127.0.0.1").build(),
                &[REASON_NODE_PORTS],
            ),
            (
                "same port udp",
                pod().host_port(8080, "UDP", "").build(),
                &[],
            ),
        ];
        for (name, p, want) in cases {
            check(
                name,
                p,
                vec![node("n").arc()],
                vec![busy.clone()],
                "n",
                want,
            );
        }
    }

    #[test]
    fn resources() {
        let existing = vec![PodSpecBuilder::new("e").req("3", "6Gi").node("n").build()];
        let cases: Vec<(&str, Pod, &[&str])> = vec![
            ("fits", pod().req("1", "2Gi").build(), &[]),
            (
                "cpu",
                pod().req("1500m", "1Gi").build(),
                &["Insufficient cpu"],
            ),
            (
                "memory",
                pod().req("1", "3Gi").build(),
                &["Insufficient memory"],
            ),
            (
                "both",
                pod().req("2", "3Gi").build(),
                &["Insufficient cpu", "Insufficient memory"],
            ),
            (
                "ephemeral",
                pod().req("", "").ephemeral("200Gi").build(),
                &["Insufficient ephemeral-storage"],
            ),
            (
                "extended",
                pod().req("", "").scalar("example.com/gpu", "1").build(),
                &["Insufficient example.com/gpu"],
            ),
            ("best effort", pod().req("", "").build(), &[]),
        ];
        for (name, p, want) in cases {
            check(name, p, vec![node("n").arc()], existing.clone(), "n", want);
        }
        let full = NodeBuilder::new("n", "4", "8Gi").alloc("pods", "1");
        check(
            "too many pods",
            pod().build(),
            vec![full.arc()],
            existing.clone(),
            "n",
            &["Too many pods"],
        );
        let gpu = NodeBuilder::new("n", "4", "8Gi").alloc("example.com/gpu", "2");
        check(
            "extended fits",
            pod().req("", "").scalar("example.com/gpu", "2").build(),
            vec![gpu.arc()],
            vec![],
            "n",
            &[],
        );
    }

    #[test]
    fn resources_unresolvable() {
        let info = PodInfo::new(pod().req("8", "1Gi").arc());
        let n = NodeInfo::new(node("n").arc());
        assert_eq!(
            fits_resources(&info, &n),
            Err(Rejection::Resources {
                bits: BIT_CPU,
                unresolvable: true
            })
        );
        let info = PodInfo::new(pod().req("3", "1Gi").arc());
        let mut n = NodeInfo::new(node("n").arc());
        n.add_pod(Arc::new(PodInfo::new(pod().req("2", "").arc())));
        assert_eq!(
            fits_resources(&info, &n),
            Err(Rejection::Resources {
                bits: BIT_CPU,
                unresolvable: false
            })
        );
    }

    fn zone_nodes() -> Vec<Arc<Node>> {
        vec![
            node("a1").zone("a").arc(),
            node("a2").zone("a").arc(),
            node("b1").zone("b").arc(),
            node("x").arc(),
        ]
    }

    fn web(name: &str, node: &str) -> Pod {
        PodSpecBuilder::new(name)
            .labels(&[("app", "web")])
            .node(node)
            .build()
    }

    #[test]
    fn topology_spread() {
        const ZONE: &str = "topology.kubernetes.io/zone";
        let spread_pod = || {
            pod()
                .labels(&[("app", "web")])
                .spread(1, ZONE, true, &[("app", "web")])
        };
        let existing = vec![web("w1", "a1"), web("w2", "a2")];
        // Zone a has 2, zone b 0: a would make skew 3 - 0 > 1.
        check(
            "skewed zone",
            spread_pod().build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[REASON_SPREAD],
        );
        check(
            "empty zone",
            spread_pod().build(),
            zone_nodes(),
            existing.clone(),
            "b1",
            &[],
        );
        check(
            "missing label",
            spread_pod().build(),
            zone_nodes(),
            existing.clone(),
            "x",
            &[REASON_SPREAD_MISSING_LABEL],
        );
        check(
            "maxSkew 3 allows a: 2+1-0 <= 3",
            pod()
                .labels(&[("app", "web")])
                .spread(3, ZONE, true, &[("app", "web")])
                .build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[],
        );
        // A pod that does not match its own selector adds 0.
        check(
            "no self match",
            pod().spread(2, ZONE, true, &[("app", "web")]).build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[],
        );
        check(
            "soft constraints do not filter",
            pod()
                .labels(&[("app", "web")])
                .spread(1, ZONE, false, &[("app", "web")])
                .build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[],
        );
        // minDomains 3 with 2 domains: global minimum is 0. Balanced zones (1,1) then fail.
        let balanced = vec![web("w1", "a1"), web("w2", "b1")];
        check(
            "balanced",
            spread_pod().build(),
            zone_nodes(),
            balanced.clone(),
            "a1",
            &[],
        );
        check(
            "minDomains",
            spread_pod()
                .spread_edit(|c| c.min_domains = Some(3))
                .build(),
            zone_nodes(),
            balanced.clone(),
            "a1",
            &[REASON_SPREAD],
        );
        // nodeAffinityPolicy Honor (default): zone b is outside the pod's node affinity, so
        // only zone a counts and the minimum is 2.
        let b_excluded =
            || spread_pod().required_node_affinity(vec![vec![node_req(ZONE, "In", &["a"])]]);
        check(
            "honor node affinity",
            b_excluded().build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[],
        );
        check(
            "ignore node affinity",
            b_excluded()
                .spread_edit(|c| c.node_affinity_policy = Some("Ignore".into()))
                .build(),
            zone_nodes(),
            existing.clone(),
            "a1",
            &[REASON_SPREAD],
        );
        // nodeTaintsPolicy Honor: a tainted zone b does not count.
        let tainted = vec![
            node("a1").zone("a").arc(),
            node("b1").zone("b").taint("k", "v", "NoSchedule").arc(),
        ];
        check(
            "ignore taints (default)",
            spread_pod().build(),
            tainted.clone(),
            existing.clone()[..1].to_vec(),
            "a1",
            &[REASON_SPREAD],
        );
        check(
            "honor taints",
            spread_pod()
                .spread_edit(|c| c.node_taints_policy = Some("Honor".into()))
                .build(),
            tainted,
            existing[..1].to_vec(),
            "a1",
            &[],
        );
        // Terminating pods and other namespaces do not count.
        let others = vec![
            PodSpecBuilder::new("t")
                .labels(&[("app", "web")])
                .node("a1")
                .terminating()
                .build(),
            PodSpecBuilder::new("o")
                .namespace("other")
                .labels(&[("app", "web")])
                .node("a1")
                .build(),
        ];
        check(
            "terminating and other namespaces",
            spread_pod().build(),
            zone_nodes(),
            others,
            "a1",
            &[],
        );
        // matchLabelKeys narrows the selector to the pod's own value.
        let versioned = vec![
            PodSpecBuilder::new("v1a")
                .labels(&[("app", "web"), ("v", "1")])
                .node("a1")
                .build(),
            PodSpecBuilder::new("v1b")
                .labels(&[("app", "web"), ("v", "1")])
                .node("a2")
                .build(),
        ];
        check(
            "matchLabelKeys",
            pod()
                .labels(&[("app", "web"), ("v", "2")])
                .spread(1, ZONE, true, &[("app", "web")])
                .spread_edit(|c| c.match_label_keys = Some(vec!["v".into()]))
                .build(),
            zone_nodes(),
            versioned,
            "a1",
            &[],
        );
    }

    #[test]
    fn inter_pod_affinity() {
        const ZONE: &str = "topology.kubernetes.io/zone";
        let existing = vec![web("w1", "a1")];
        let affine = || pod().pod_affinity(affinity_term(&[("app", "web")], ZONE));
        check(
            "affinity satisfied in zone",
            affine().build(),
            zone_nodes(),
            existing.clone(),
            "a2",
            &[],
        );
        check(
            "affinity other zone",
            affine().build(),
            zone_nodes(),
            existing.clone(),
            "b1",
            &[REASON_POD_AFFINITY],
        );
        check(
            "affinity node without key",
            affine().build(),
            zone_nodes(),
            existing.clone(),
            "x",
            &[REASON_POD_AFFINITY],
        );
        check(
            "affinity nothing matches",
            affine().build(),
            zone_nodes(),
            vec![],
            "b1",
            &[REASON_POD_AFFINITY],
        );
        // The first pod of a group that matches its own affinity may go anywhere with the key.
        let first = || {
            pod()
                .labels(&[("app", "web")])
                .pod_affinity(affinity_term(&[("app", "web")], ZONE))
        };
        check(
            "first pod of a group",
            first().build(),
            zone_nodes(),
            vec![],
            "b1",
            &[],
        );
        check(
            "first pod needs the key",
            first().build(),
            zone_nodes(),
            vec![],
            "x",
            &[REASON_POD_AFFINITY],
        );
        check(
            "not first once one exists",
            first().build(),
            zone_nodes(),
            existing.clone(),
            "b1",
            &[REASON_POD_AFFINITY],
        );
        // Other namespaces do not match unless named.
        let elsewhere = vec![PodSpecBuilder::new("o")
            .namespace("other")
            .labels(&[("app", "web")])
            .node("a1")
            .build()];
        check(
            "affinity other namespace",
            affine().build(),
            zone_nodes(),
            elsewhere.clone(),
            "a2",
            &[REASON_POD_AFFINITY],
        );
        let mut term = affinity_term(&[("app", "web")], ZONE);
        term.namespaces = Some(vec!["other".into()]);
        check(
            "affinity named namespace",
            pod().pod_affinity(term).build(),
            zone_nodes(),
            elsewhere.clone(),
            "a2",
            &[],
        );
        let mut term = affinity_term(&[("app", "web")], ZONE);
        term.namespace_selector = Some(Default::default());
        check(
            "affinity all namespaces",
            pod().pod_affinity(term).build(),
            zone_nodes(),
            elsewhere,
            "a2",
            &[],
        );

        let anti = || pod().pod_anti_affinity(affinity_term(&[("app", "web")], ZONE));
        check(
            "anti-affinity same zone",
            anti().build(),
            zone_nodes(),
            existing.clone(),
            "a2",
            &[REASON_POD_ANTI_AFFINITY],
        );
        check(
            "anti-affinity other zone",
            anti().build(),
            zone_nodes(),
            existing.clone(),
            "b1",
            &[],
        );
        check(
            "anti-affinity node without key",
            anti().build(),
            zone_nodes(),
            existing.clone(),
            "x",
            &[],
        );

        // An existing pod's anti-affinity against the incoming pod.
        let guard = vec![PodSpecBuilder::new("g")
            .pod_anti_affinity(affinity_term(&[("app", "web")], "kubernetes.io/hostname"))
            .node("a1")
            .build()];
        let webpod = || pod().labels(&[("app", "web")]);
        check(
            "existing anti-affinity",
            webpod().build(),
            zone_nodes(),
            guard.clone(),
            "a1",
            &[REASON_EXISTING_ANTI_AFFINITY],
        );
        check(
            "existing anti-affinity other host",
            webpod().build(),
            zone_nodes(),
            guard.clone(),
            "a2",
            &[],
        );
        check(
            "existing anti-affinity no match",
            pod().build(),
            zone_nodes(),
            guard,
            "a1",
            &[],
        );
    }
}
