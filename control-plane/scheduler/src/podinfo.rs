//! `PodInfo`: what scheduling needs from a Pod, computed once (requests in integers, host
//! ports, parsed affinity terms) so no cycle parses strings in its hot path.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::quantity::{parse_bytes, parse_milli};
use crate::selector::{Selector, NO_LABELS};

/// kube-scheduler's default CPU request for scoring a container that sets none (100m).
pub(crate) const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// kube-scheduler's default memory request for scoring a container that sets none (200Mi).
pub(crate) const DEFAULT_MEMORY_REQUEST_BYTES: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler counts, in integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage_bytes: i64,
    /// Extended and hugepages resources (any other name), in whole units, sorted by name.
    pub scalars: Vec<(String, i64)>,
}

impl Resources {
    /// Reads a ResourceList; unparsable quantities count as zero (the API server validated them).
    pub(crate) fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            match name.as_str() {
                "cpu" => r.milli_cpu = parse_milli(&q.0).unwrap_or(0),
                "memory" => r.memory_bytes = parse_bytes(&q.0).unwrap_or(0),
                "ephemeral-storage" => r.ephemeral_storage_bytes = parse_bytes(&q.0).unwrap_or(0),
                "pods" => {}
                _ => r
                    .scalars
                    .push((name.clone(), parse_bytes(&q.0).unwrap_or(0))),
            }
        }
        r
    }

    pub(crate) fn scalar(&self, name: &str) -> i64 {
        self.scalars
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// `self += sign * other`.
    pub(crate) fn add(&mut self, other: &Resources, sign: i64) {
        self.milli_cpu += sign * other.milli_cpu;
        self.memory_bytes += sign * other.memory_bytes;
        self.ephemeral_storage_bytes += sign * other.ephemeral_storage_bytes;
        for (name, v) in &other.scalars {
            match self.scalars.iter_mut().find(|(n, _)| n == name) {
                Some((_, have)) => *have += sign * v,
                None => {
                    self.scalars.push((name.clone(), sign * v));
                    self.scalars.sort();
                }
            }
        }
    }

    /// `self = max(self, other)` per resource.
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory_bytes = self.memory_bytes.max(other.memory_bytes);
        self.ephemeral_storage_bytes = self
            .ephemeral_storage_bytes
            .max(other.ephemeral_storage_bytes);
        for (name, v) in &other.scalars {
            match self.scalars.iter_mut().find(|(n, _)| n == name) {
                Some((_, have)) => *have = (*have).max(*v),
                None => {
                    self.scalars.push((name.clone(), *v));
                    self.scalars.sort();
                }
            }
        }
    }
}

/// Namespace, name and uid of a pod: how the shell names victims and cache entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodRef {
    /// metadata.namespace ("default" when unset).
    pub namespace: String,
    /// metadata.name.
    pub name: String,
    /// metadata.uid (may be empty in tests).
    pub uid: String,
}

impl PodRef {
    pub(crate) fn of(pod: &Pod) -> PodRef {
        PodRef {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }

    /// The cache and queue key: the uid, or "namespace/name" for a pod without one.
    pub fn key(&self) -> String {
        if self.uid.is_empty() {
            format!("{}/{}", self.namespace, self.name)
        } else {
            self.uid.clone()
        }
    }
}

/// The key the cache and queue use for `pod`: its uid, or "namespace/name" without one.
pub fn pod_key(pod: &Pod) -> String {
    PodRef::of(pod).key()
}

/// A host port a container asks for, with kube-scheduler's defaults applied
/// (protocol TCP, host IP 0.0.0.0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HostPort {
    pub(crate) protocol: String,
    pub(crate) host_ip: String,
    pub(crate) port: i32,
}

pub(crate) const BIND_ALL_HOST_IP: &str = "0.0.0.0";

/// One required or preferred pod (anti-)affinity term, parsed (`framework.AffinityTerm`).
#[derive(Debug, Clone)]
pub(crate) struct AffinityTerm {
    /// Namespaces matched by name (the pod's own when neither names nor selector are given).
    namespaces: Vec<String>,
    namespace_selector: Selector,
    selector: Selector,
    pub(crate) topology_key: String,
}

impl AffinityTerm {
    fn parse(pod_namespace: &str, term: &PodAffinityTerm) -> AffinityTerm {
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(pod_namespace.to_string());
        }
        AffinityTerm {
            namespaces,
            namespace_selector: Selector::from_label_selector(term.namespace_selector.as_ref()),
            selector: Selector::from_label_selector(term.label_selector.as_ref()),
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` matches this term; `ns_labels` are the labels of `pod`'s namespace.
    pub(crate) fn matches(&self, pod: &PodInfo, ns_labels: &BTreeMap<String, String>) -> bool {
        (self.namespaces.contains(&pod.pod_ref.namespace)
            || self.namespace_selector.matches(ns_labels))
            && self.selector.matches(pod.labels())
    }
}

/// What scheduling needs from one pod, computed once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub(crate) pod: Arc<Pod>,
    pub(crate) pod_ref: PodRef,
    pub(crate) priority: i32,
    /// Requests as the NodeResourcesFit filter counts them (containers, init containers,
    /// sidecars, overhead).
    pub(crate) requests: Resources,
    /// Requests for scoring, with 100m CPU / 200Mi memory for containers that set none.
    pub(crate) non_zero_milli_cpu: i64,
    pub(crate) non_zero_memory_bytes: i64,
    pub(crate) host_ports: Vec<HostPort>,
    pub(crate) required_affinity: Vec<AffinityTerm>,
    pub(crate) required_anti_affinity: Vec<AffinityTerm>,
    pub(crate) preferred_affinity: Vec<(i32, AffinityTerm)>,
    pub(crate) preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    /// Has spec.affinity.podAffinity or podAntiAffinity (kube's `PodsWithAffinity`).
    pub(crate) has_pod_affinity: bool,
    /// metadata.deletionTimestamp is set.
    pub(crate) terminating: bool,
}

impl PodInfo {
    /// Computes the scheduling view of `pod`.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let pod_ref = PodRef::of(&pod);
        let spec = pod.spec.as_ref();
        let priority = spec.and_then(|s| s.priority).unwrap_or(0);
        let (requests, non_zero) = match spec {
            Some(spec) => {
                let overhead = Resources::from_list(spec.overhead.as_ref());
                let init = spec.init_containers.as_deref().unwrap_or_default();
                let mut requests = pod_requests(&spec.containers, init, false);
                requests.add(&overhead, 1);
                let mut non_zero = pod_requests(&spec.containers, init, true);
                non_zero.add(&overhead, 1);
                (requests, non_zero)
            }
            None => (Resources::default(), Resources::default()),
        };
        let mut host_ports = Vec::new();
        for c in spec.map(|s| s.containers.as_slice()).unwrap_or_default() {
            for p in c.ports.iter().flatten() {
                let port = p.host_port.unwrap_or(0);
                if port <= 0 {
                    continue;
                }
                host_ports.push(HostPort {
                    protocol: p
                        .protocol
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "TCP".to_string()),
                    host_ip: p
                        .host_ip
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| BIND_ALL_HOST_IP.to_string()),
                    port,
                });
            }
        }
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let ns = pod_ref.namespace.as_str();
        let parse_required = |terms: Option<&Vec<PodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::parse(ns, t))
                .collect()
        };
        let required_affinity = parse_required(pa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let required_anti_affinity = parse_required(paa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let preferred_affinity = pa
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|w| (w.weight, AffinityTerm::parse(ns, &w.pod_affinity_term)))
            .collect();
        let preferred_anti_affinity = paa
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|w| (w.weight, AffinityTerm::parse(ns, &w.pod_affinity_term)))
            .collect();
        PodInfo {
            terminating: pod.metadata.deletion_timestamp.is_some(),
            has_pod_affinity: pa.is_some() || paa.is_some(),
            pod_ref,
            priority,
            requests,
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory_bytes: non_zero.memory_bytes,
            host_ports,
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            pod,
        }
    }

    /// The pod.
    pub fn pod(&self) -> &Arc<Pod> {
        &self.pod
    }

    /// Namespace, name and uid.
    pub fn pod_ref(&self) -> &PodRef {
        &self.pod_ref
    }

    /// spec.priority (0 when unset).
    pub fn priority(&self) -> i32 {
        self.priority
    }

    /// The requests the NodeResourcesFit filter counts.
    pub fn requests(&self) -> &Resources {
        &self.requests
    }

    pub(crate) fn labels(&self) -> &BTreeMap<String, String> {
        self.pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
    }

    pub(crate) fn start_time(&self) -> Option<&Time> {
        self.pod.status.as_ref().and_then(|s| s.start_time.as_ref())
    }
}

fn container_requests(c: &Container, non_missing: bool) -> Resources {
    let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = Resources::from_list(list);
    if non_missing {
        if !list.is_some_and(|l| l.contains_key("cpu")) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !list.is_some_and(|l| l.contains_key("memory")) {
            r.memory_bytes = DEFAULT_MEMORY_REQUEST_BYTES;
        }
    }
    r
}

/// `resourcehelper.PodRequests` without overhead: the sum of containers, then the max with
/// each init container, where sidecar init containers (restartPolicy Always) add to the sum
/// and to every later init container.
fn pod_requests(
    containers: &[Container],
    init_containers: &[Container],
    non_missing: bool,
) -> Resources {
    let mut reqs = Resources::default();
    for c in containers {
        reqs.add(&container_requests(c, non_missing), 1);
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in init_containers {
        let mut r = container_requests(c, non_missing);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r, 1);
            sidecars.add(&r, 1);
            r = sidecars.clone();
        } else {
            r.add(&sidecars, 1);
        }
        init_max.max_with(&r);
    }
    reqs.max_with(&init_max);
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{container, PodSpecBuilder};

    /// (description, pod, requests (cpu m, memory bytes), non-zero requests (cpu m, memory bytes))
    fn check(name: &str, pod: Pod, want: (i64, i64), want_non_zero: (i64, i64)) {
        let info = PodInfo::new(Arc::new(pod));
        assert_eq!(
            (info.requests.milli_cpu, info.requests.memory_bytes),
            want,
            "{name}: requests"
        );
        assert_eq!(
            (info.non_zero_milli_cpu, info.non_zero_memory_bytes),
            want_non_zero,
            "{name}: non-zero"
        );
    }

    #[test]
    fn requests() {
        const MI: i64 = 1024 * 1024;
        let d = DEFAULT_MEMORY_REQUEST_BYTES;
        check(
            "best effort",
            PodSpecBuilder::new("p")
                .container(container(None, None))
                .build(),
            (0, 0),
            (100, d),
        );
        check(
            "two containers",
            PodSpecBuilder::new("p")
                .container(container(Some("100m"), Some("1Mi")))
                .container(container(Some("1"), None))
                .build(),
            (1100, MI),
            (1100, MI + d),
        );
        check(
            "init container larger than sum",
            PodSpecBuilder::new("p")
                .container(container(Some("100m"), Some("1Mi")))
                .init(container(Some("2"), Some("1Mi")), false)
                .build(),
            (2000, MI),
            (2000, MI),
        );
        // Sidecar 500m runs alongside; the later init container 1 runs with it: max(1.5, 0.5+0.1).
        check(
            "sidecar then init",
            PodSpecBuilder::new("p")
                .container(container(Some("100m"), Some("1Mi")))
                .init(container(Some("500m"), Some("1Mi")), true)
                .init(container(Some("1"), Some("1Mi")), false)
                .build(),
            (1500, 2 * MI),
            (1500, 2 * MI),
        );
        // An init container before the sidecar does not run with it.
        check(
            "init then sidecar",
            PodSpecBuilder::new("p")
                .container(container(Some("100m"), Some("1Mi")))
                .init(container(Some("1"), Some("1Mi")), false)
                .init(container(Some("500m"), Some("1Mi")), true)
                .build(),
            (1000, 2 * MI),
            (1000, 2 * MI),
        );
        check(
            "overhead",
            PodSpecBuilder::new("p")
                .container(container(Some("100m"), Some("1Mi")))
                .overhead("250m", "10Mi")
                .build(),
            (350, 11 * MI),
            (350, 11 * MI),
        );
    }
}
