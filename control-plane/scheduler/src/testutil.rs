//! Test helpers: Pods and Nodes from compact descriptions.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, NodeStatus, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    PodSchedulingGate, PodSpec, PodStatus, PreferredSchedulingTerm, ResourceRequirements, Taint,
    Toleration, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn container(cpu: Option<&str>, memory: Option<&str>) -> Container {
    let mut requests = BTreeMap::new();
    if let Some(c) = cpu {
        requests.insert("cpu".to_string(), Quantity(c.to_string()));
    }
    if let Some(m) = memory {
        requests.insert("memory".to_string(), Quantity(m.to_string()));
    }
    Container {
        name: "c".into(),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(map(pairs)),
        ..Default::default()
    }
}

pub(crate) fn affinity_term(sel: &[(&str, &str)], topology_key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector(sel)),
        topology_key: topology_key.into(),
        ..Default::default()
    }
}

pub(crate) fn node_req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

/// Builds a Pod.
pub(crate) struct PodSpecBuilder {
    pod: Pod,
}

impl PodSpecBuilder {
    pub(crate) fn new(name: &str) -> PodSpecBuilder {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some(format!("uid-{name}"));
        pod.spec = Some(PodSpec::default());
        PodSpecBuilder { pod }
    }

    fn spec(&mut self) -> &mut PodSpec {
        self.pod.spec.as_mut().expect("spec")
    }

    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    pub(crate) fn namespace(mut self, ns: &str) -> Self {
        self.pod.metadata.namespace = Some(ns.into());
        self
    }

    pub(crate) fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
        self.pod.metadata.labels = Some(map(pairs));
        self
    }

    pub(crate) fn container(mut self, c: Container) -> Self {
        self.spec().containers.push(c);
        self
    }

    /// A container requesting `cpu` and `memory` (either may be empty for none).
    pub(crate) fn req(self, cpu: &str, memory: &str) -> Self {
        self.container(container(
            (!cpu.is_empty()).then_some(cpu),
            (!memory.is_empty()).then_some(memory),
        ))
    }

    pub(crate) fn init(mut self, mut c: Container, sidecar: bool) -> Self {
        if sidecar {
            c.restart_policy = Some("Always".into());
        }
        self.spec()
            .init_containers
            .get_or_insert_with(Vec::new)
            .push(c);
        self
    }

    pub(crate) fn overhead(mut self, cpu: &str, memory: &str) -> Self {
        self.spec().overhead = Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(memory.into())),
        ]));
        self
    }

    pub(crate) fn scalar(mut self, name: &str, amount: &str) -> Self {
        let c = self
            .spec()
            .containers
            .last_mut()
            .expect("a container first");
        let r = c.resources.get_or_insert_with(Default::default);
        r.requests
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(amount.into()));
        self
    }

    pub(crate) fn ephemeral(self, amount: &str) -> Self {
        self.scalar("ephemeral-storage", amount)
    }

    pub(crate) fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }

    pub(crate) fn preemption_never(mut self) -> Self {
        self.spec().preemption_policy = Some("Never".into());
        self
    }

    pub(crate) fn node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }

    pub(crate) fn node_selector(mut self, pairs: &[(&str, &str)]) -> Self {
        self.spec().node_selector = Some(map(pairs));
        self
    }

    pub(crate) fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        let t = Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: (!op.is_empty()).then(|| op.into()),
            value: (!value.is_empty()).then(|| value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: None,
        };
        self.spec().tolerations.get_or_insert_with(Vec::new).push(t);
        self
    }

    pub(crate) fn host_port(mut self, port: i32, protocol: &str, host_ip: &str) -> Self {
        if self.spec().containers.is_empty() {
            self.spec().containers.push(Container {
                name: "c".into(),
                ..Default::default()
            });
        }
        let c = self.spec().containers.last_mut().expect("container");
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            container_port: port,
            host_port: Some(port),
            protocol: (!protocol.is_empty()).then(|| protocol.into()),
            host_ip: (!host_ip.is_empty()).then(|| host_ip.into()),
            ..Default::default()
        });
        self
    }

    /// Required node affinity: terms ORed, requirements within a term ANDed.
    pub(crate) fn required_node_affinity(
        mut self,
        terms: Vec<Vec<NodeSelectorRequirement>>,
    ) -> Self {
        let terms = terms
            .into_iter()
            .map(|reqs| NodeSelectorTerm {
                match_expressions: Some(reqs),
                match_fields: None,
            })
            .collect();
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .required_during_scheduling_ignored_during_execution = Some(NodeSelector {
            node_selector_terms: terms,
        });
        self
    }

    pub(crate) fn preferred_node_affinity(
        mut self,
        weight: i32,
        reqs: Vec<NodeSelectorRequirement>,
    ) -> Self {
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(PreferredSchedulingTerm {
                weight,
                preference: NodeSelectorTerm {
                    match_expressions: Some(reqs),
                    match_fields: None,
                },
            });
        self
    }

    pub(crate) fn pod_affinity(mut self, term: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term);
        self
    }

    pub(crate) fn pod_anti_affinity(mut self, term: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(term);
        self
    }

    pub(crate) fn preferred_pod_affinity(mut self, weight: i32, term: PodAffinityTerm) -> Self {
        self.affinity()
            .pod_affinity
            .get_or_insert_with(PodAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: term,
            });
        self
    }

    pub(crate) fn preferred_pod_anti_affinity(
        mut self,
        weight: i32,
        term: PodAffinityTerm,
    ) -> Self {
        self.affinity()
            .pod_anti_affinity
            .get_or_insert_with(PodAntiAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: term,
            });
        self
    }

    /// A topology spread constraint selecting `sel`.
    pub(crate) fn spread(
        mut self,
        max_skew: i32,
        key: &str,
        hard: bool,
        sel: &[(&str, &str)],
    ) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(TopologySpreadConstraint {
                max_skew,
                topology_key: key.into(),
                when_unsatisfiable: if hard {
                    "DoNotSchedule"
                } else {
                    "ScheduleAnyway"
                }
                .into(),
                label_selector: Some(selector(sel)),
                ..Default::default()
            });
        self
    }

    /// Edits the last topology spread constraint.
    pub(crate) fn spread_edit(mut self, f: impl FnOnce(&mut TopologySpreadConstraint)) -> Self {
        f(self
            .spec()
            .topology_spread_constraints
            .as_mut()
            .and_then(|v| v.last_mut())
            .expect("a constraint first"));
        self
    }

    pub(crate) fn phase(mut self, phase: &str) -> Self {
        self.pod.status.get_or_insert_with(PodStatus::default).phase = Some(phase.into());
        self
    }

    pub(crate) fn terminating(mut self) -> Self {
        self.pod.metadata.deletion_timestamp = Some(time(0));
        self
    }

    pub(crate) fn start_time(mut self, secs: i64) -> Self {
        self.pod
            .status
            .get_or_insert_with(PodStatus::default)
            .start_time = Some(time(secs));
        self
    }

    pub(crate) fn nominated(mut self, node: &str) -> Self {
        self.pod
            .status
            .get_or_insert_with(PodStatus::default)
            .nominated_node_name = Some(node.into());
        self
    }

    pub(crate) fn gated(mut self) -> Self {
        self.spec().scheduling_gates = Some(vec![PodSchedulingGate {
            name: "example.com/gate".into(),
        }]);
        self
    }

    pub(crate) fn build(self) -> Pod {
        self.pod
    }

    pub(crate) fn arc(self) -> Arc<Pod> {
        Arc::new(self.pod)
    }
}

pub(crate) fn time(secs: i64) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + secs).expect("valid timestamp"))
}

/// Builds a Node.
pub(crate) struct NodeBuilder {
    node: Node,
}

impl NodeBuilder {
    /// A node with `cpu` and `memory` allocatable and room for 110 pods.
    pub(crate) fn new(name: &str, cpu: &str, memory: &str) -> NodeBuilder {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some(map(&[("kubernetes.io/hostname", name)]));
        node.spec = Some(NodeSpec::default());
        node.status = Some(NodeStatus {
            allocatable: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity(cpu.into())),
                ("memory".to_string(), Quantity(memory.into())),
                ("ephemeral-storage".to_string(), Quantity("100Gi".into())),
                ("pods".to_string(), Quantity("110".into())),
            ])),
            ..Default::default()
        });
        NodeBuilder { node }
    }

    pub(crate) fn alloc(mut self, name: &str, amount: &str) -> Self {
        let status = self.node.status.as_mut().expect("status");
        status
            .allocatable
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), Quantity(amount.into()));
        self
    }

    pub(crate) fn label(mut self, key: &str, value: &str) -> Self {
        self.node
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub(crate) fn zone(self, zone: &str) -> Self {
        self.label("topology.kubernetes.io/zone", zone)
    }

    pub(crate) fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let spec = self.node.spec.as_mut().expect("spec");
        spec.taints.get_or_insert_with(Vec::new).push(Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        });
        self
    }

    pub(crate) fn unschedulable(mut self) -> Self {
        self.node.spec.as_mut().expect("spec").unschedulable = Some(true);
        self
    }

    pub(crate) fn arc(self) -> Arc<Node> {
        Arc::new(self.node)
    }
}
