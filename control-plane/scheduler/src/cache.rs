//! The scheduler's cache of nodes and the pods on them (`NodeInfo`), assumed pods, and the
//! `Snapshot` a scheduling cycle reads: copy-on-write, updated incrementally per cycle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::podinfo::{HostPort, PodInfo, Resources, BIND_ALL_HOST_IP};
use crate::selector::{TaintSpec, NO_LABELS};
use crate::{pod_key, Error};

/// Zone label (and its deprecated beta form) for the zone-interleaved node order.
const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const REGION_LABELS: [&str; 2] = [
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/region",
];

/// One node and what is scheduled on it, in integers.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `None` for a node the cache only knows from its pods (deleted, or not seen yet); such
    /// nodes are never in a snapshot.
    node: Option<Arc<Node>>,
    name: String,
    pub(crate) allocatable: Resources,
    pub(crate) allowed_pods: i64,
    pub(crate) requested: Resources,
    pub(crate) non_zero_milli_cpu: i64,
    pub(crate) non_zero_memory_bytes: i64,
    pub(crate) pods: Vec<Arc<PodInfo>>,
    /// Pods with any pod affinity or anti-affinity.
    pub(crate) n_pods_with_affinity: usize,
    /// Pods with required anti-affinity.
    pub(crate) n_pods_with_required_anti_affinity: usize,
    /// Host ports in use, with how many pods use each.
    used_ports: Vec<(HostPort, u32)>,
    pub(crate) taints: Arc<Vec<TaintSpec>>,
    pub(crate) unschedulable: bool,
}

impl NodeInfo {
    fn ghost(name: &str) -> NodeInfo {
        NodeInfo {
            node: None,
            name: name.to_string(),
            allocatable: Resources::default(),
            allowed_pods: 0,
            requested: Resources::default(),
            non_zero_milli_cpu: 0,
            non_zero_memory_bytes: 0,
            pods: Vec::new(),
            n_pods_with_affinity: 0,
            n_pods_with_required_anti_affinity: 0,
            used_ports: Vec::new(),
            taints: Arc::new(Vec::new()),
            unschedulable: false,
        }
    }

    /// A node with no pods.
    #[cfg(test)]
    pub(crate) fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo::ghost(node.metadata.name.as_deref().unwrap_or_default());
        info.set_node(node);
        info
    }

    fn set_node(&mut self, node: Arc<Node>) {
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        self.allocatable = Resources::from_list(allocatable);
        self.allowed_pods = allocatable
            .and_then(|a| a.get("pods"))
            .and_then(|q| crate::parse_bytes(&q.0).ok())
            .unwrap_or(0);
        let spec = node.spec.as_ref();
        self.taints = Arc::new(
            spec.and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(TaintSpec::parse)
                .collect(),
        );
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.node = Some(node);
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Node object (`None` only for nodes known from their pods alone).
    pub fn node(&self) -> Option<&Arc<Node>> {
        self.node.as_ref()
    }

    /// Pods counted on this node, assumed ones included.
    pub fn pods(&self) -> &[Arc<PodInfo>] {
        &self.pods
    }

    /// Sum of the counted pods' requests.
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// The node's allocatable resources.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    pub(crate) fn labels(&self) -> &BTreeMap<String, String> {
        self.node
            .as_ref()
            .and_then(|n| n.metadata.labels.as_ref())
            .unwrap_or(&NO_LABELS)
    }

    pub(crate) fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests, 1);
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory_bytes += pod.non_zero_memory_bytes;
        if pod.has_pod_affinity {
            self.n_pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.n_pods_with_required_anti_affinity += 1;
        }
        for p in &pod.host_ports {
            match self.used_ports.iter_mut().find(|(have, _)| have == p) {
                Some((_, n)) => *n += 1,
                None => self.used_ports.push((p.clone(), 1)),
            }
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `key`; false when it is not here.
    pub(crate) fn remove_pod(&mut self, key: &str) -> bool {
        let Some(idx) = self.pods.iter().position(|p| p.pod_ref.key() == key) else {
            return false;
        };
        let pod = self.pods.swap_remove(idx);
        self.requested.add(&pod.requests, -1);
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory_bytes -= pod.non_zero_memory_bytes;
        if pod.has_pod_affinity {
            self.n_pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.n_pods_with_required_anti_affinity -= 1;
        }
        for p in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|(have, _)| have == p) {
                self.used_ports[i].1 -= 1;
                if self.used_ports[i].1 == 0 {
                    self.used_ports.swap_remove(i);
                }
            }
        }
        true
    }

    /// `HostPortInfo.CheckConflict`: 0.0.0.0 conflicts with every IP on the same protocol
    /// and port; a specific IP conflicts with itself and 0.0.0.0.
    pub(crate) fn port_conflicts(&self, want: &HostPort) -> bool {
        self.used_ports.iter().any(|(used, _)| {
            used.port == want.port
                && used.protocol == want.protocol
                && (want.host_ip == BIND_ALL_HOST_IP
                    || used.host_ip == BIND_ALL_HOST_IP
                    || used.host_ip == want.host_ip)
        })
    }
}

/// `utilnode.GetZoneKey`: region and zone, or "" when the node has neither.
fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
    let get = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| labels.get(*k))
            .cloned()
            .unwrap_or_default()
    };
    let (region, zone) = (get(REGION_LABELS), get(ZONE_LABELS));
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

#[derive(Debug)]
struct PodEntry {
    node: String,
    /// Assumed by this scheduler and not yet seen bound by the watch.
    assumed: bool,
}

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// Nodes and the pods bound or assumed on them.
///
/// Feed it every Node and every pod with spec.nodeName from the watch; terminal pods
/// (Succeeded, Failed) are removed, as kube-scheduler's informer excludes them.
#[derive(Debug)]
pub struct Cache {
    id: u64,
    nodes: HashMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodEntry>,
    /// Node names per zone key, both in insertion order (kube-scheduler's nodeTree).
    zones: Vec<(String, Vec<String>)>,
    namespaces: Arc<HashMap<String, BTreeMap<String, String>>>,
    generation: u64,
    layout_generation: u64,
    /// Nodes changed since generation `dirty_base`.
    dirty: HashSet<String>,
    dirty_base: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            nodes: HashMap::new(),
            pods: HashMap::new(),
            zones: Vec::new(),
            namespaces: Arc::new(HashMap::new()),
            generation: 0,
            layout_generation: 0,
            dirty: HashSet::new(),
            dirty_base: 0,
        }
    }

    fn touch(&mut self, node: &str) {
        self.generation += 1;
        self.dirty.insert(node.to_string());
    }

    fn touch_layout(&mut self) {
        self.generation += 1;
        self.layout_generation += 1;
    }

    fn zone_remove(&mut self, name: &str) {
        for (_, names) in &mut self.zones {
            names.retain(|n| n != name);
        }
        self.zones.retain(|(_, names)| !names.is_empty());
    }

    fn zone_add(&mut self, zone: String, name: &str) {
        match self.zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, names)) => names.push(name.to_string()),
            None => self.zones.push((zone, vec![name.to_string()])),
        }
    }

    /// Adds or replaces a node.
    pub fn add_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let new_zone = zone_key(&node);
        let slot = self
            .nodes
            .entry(name.clone())
            .or_insert_with(|| Arc::new(NodeInfo::ghost(&name)));
        let old_zone = slot.node.as_ref().map(|n| zone_key(n));
        Arc::make_mut(slot).set_node(node);
        if old_zone.as_ref() != Some(&new_zone) {
            if old_zone.is_some() {
                self.zone_remove(&name);
            }
            self.zone_add(new_zone, &name);
            self.touch_layout();
        }
        self.touch(&name);
    }

    /// Same as `add_node`.
    pub fn update_node(&mut self, node: Arc<Node>) {
        self.add_node(node);
    }

    /// Removes a node. Its pods stay counted (on a node no snapshot shows) until removed.
    pub fn remove_node(&mut self, name: &str) {
        let Some(slot) = self.nodes.get_mut(name) else {
            return;
        };
        if slot.node.is_none() {
            return;
        }
        if slot.pods.is_empty() {
            self.nodes.remove(name);
        } else {
            Arc::make_mut(slot).node = None;
        }
        self.zone_remove(name);
        self.touch_layout();
        self.touch(name);
    }

    /// Adds or replaces a pod seen by the watch. Pods without spec.nodeName are ignored (and
    /// dropped if counted); terminal pods are removed; an assumed pod is confirmed, counted once.
    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let terminal = matches!(phase, Some("Succeeded" | "Failed"));
        let Some(node_name) = node_name.filter(|_| !terminal) else {
            self.remove_key(&key);
            return;
        };
        self.remove_key(&key);
        let info = Arc::new(PodInfo::new(pod));
        self.insert(key, node_name, info, false);
    }

    /// Same as `add_pod`.
    pub fn update_pod(&mut self, pod: Arc<Pod>) {
        self.add_pod(pod);
    }

    /// Removes a pod (deleted, or became terminal).
    pub fn remove_pod(&mut self, pod: &Pod) {
        self.remove_key(&pod_key(pod));
    }

    fn insert(&mut self, key: String, node: String, info: Arc<PodInfo>, assumed: bool) {
        let slot = self
            .nodes
            .entry(node.clone())
            .or_insert_with(|| Arc::new(NodeInfo::ghost(&node)));
        Arc::make_mut(slot).add_pod(info);
        self.touch(&node);
        self.pods.insert(key, PodEntry { node, assumed });
    }

    fn remove_key(&mut self, key: &str) -> Option<PodEntry> {
        let entry = self.pods.remove(key)?;
        if let Some(slot) = self.nodes.get_mut(&entry.node) {
            Arc::make_mut(slot).remove_pod(key);
            if slot.node.is_none() && slot.pods.is_empty() {
                self.nodes.remove(&entry.node);
            }
        }
        self.touch(&entry.node);
        Some(entry)
    }

    /// Counts `pod` on `node_name` now, before the bind call (kube-scheduler's AssumePod).
    pub fn assume(&mut self, pod: Arc<Pod>, node_name: &str) -> Result<(), Error> {
        let key = pod_key(&pod);
        if self.pods.contains_key(&key) {
            return Err(Error::AlreadyInCache(key));
        }
        let info = Arc::new(PodInfo::new(pod));
        self.insert(key, node_name.to_string(), info, true);
        Ok(())
    }

    /// The bind succeeded and the watch shows the pod bound: it stops being assumed.
    /// Confirming a pod the watch already added is fine.
    pub fn confirm(&mut self, key: &str) -> Result<(), Error> {
        match self.pods.get_mut(key) {
            Some(entry) => {
                entry.assumed = false;
                Ok(())
            }
            None => Err(Error::NotAssumed(key.to_string())),
        }
    }

    /// The bind failed: stop counting the assumed pod.
    pub fn forget(&mut self, key: &str) -> Result<(), Error> {
        match self.pods.get(key) {
            Some(entry) if entry.assumed => {
                self.remove_key(key);
                Ok(())
            }
            _ => Err(Error::NotAssumed(key.to_string())),
        }
    }

    /// Whether the pod with `key` is assumed and not yet confirmed.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|e| e.assumed)
    }

    /// Sets a namespace's labels (for affinity terms with a namespaceSelector).
    pub fn set_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        Arc::make_mut(&mut self.namespaces).insert(name.to_string(), labels);
        self.generation += 1;
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        Arc::make_mut(&mut self.namespaces).remove(name);
        self.generation += 1;
    }

    /// Nodes with a Node object.
    pub fn node_count(&self) -> usize {
        self.zones.iter().map(|(_, n)| n.len()).sum()
    }

    /// Pods counted, assumed ones included.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The node a counted pod is on.
    pub fn pod_node(&self, key: &str) -> Option<&str> {
        self.pods.get(key).map(|e| e.node.as_str())
    }

    /// Brings `snapshot` up to date: only changed nodes are copied (an `Arc` clone each);
    /// the node list is rebuilt only when nodes come, go or change zone.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if snapshot.cache_id == self.id && snapshot.generation == self.generation {
            return;
        }
        let incremental = snapshot.cache_id == self.id
            && snapshot.layout_generation == self.layout_generation
            && snapshot.generation == self.dirty_base;
        let mut affinity_changed = !incremental;
        if incremental {
            for name in self.dirty.drain() {
                let (Some(&idx), Some(info)) = (snapshot.index.get(&name), self.nodes.get(&name))
                else {
                    continue;
                };
                let old = &snapshot.nodes[idx];
                if (old.n_pods_with_affinity > 0) != (info.n_pods_with_affinity > 0)
                    || (old.n_pods_with_required_anti_affinity > 0)
                        != (info.n_pods_with_required_anti_affinity > 0)
                {
                    affinity_changed = true;
                }
                snapshot.nodes[idx] = Arc::clone(info);
            }
        } else {
            self.dirty.clear();
            snapshot.nodes.clear();
            snapshot.index.clear();
            // kube-scheduler's nodeTree.list: one node from each zone in turn.
            let longest = self.zones.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
            for i in 0..longest {
                for (_, names) in &self.zones {
                    if let Some(name) = names.get(i) {
                        let info = &self.nodes[name];
                        snapshot.index.insert(name.clone(), snapshot.nodes.len());
                        snapshot.nodes.push(Arc::clone(info));
                    }
                }
            }
        }
        if affinity_changed {
            snapshot.with_affinity = snapshot
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.n_pods_with_affinity > 0)
                .map(|(i, _)| i)
                .collect();
            snapshot.with_required_anti_affinity = snapshot
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.n_pods_with_required_anti_affinity > 0)
                .map(|(i, _)| i)
                .collect();
        }
        snapshot.namespaces = Arc::clone(&self.namespaces);
        snapshot.cache_id = self.id;
        snapshot.generation = self.generation;
        snapshot.layout_generation = self.layout_generation;
        self.dirty_base = self.generation;
    }
}

/// A consistent view of the cache for one scheduling cycle.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Nodes in zone-interleaved order.
    pub(crate) nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<String, usize>,
    /// Indexes of nodes with pods that have pod affinity or anti-affinity.
    pub(crate) with_affinity: Vec<usize>,
    /// Indexes of nodes with pods that have required anti-affinity.
    pub(crate) with_required_anti_affinity: Vec<usize>,
    pub(crate) namespaces: Arc<HashMap<String, BTreeMap<String, String>>>,
    cache_id: u64,
    generation: u64,
    layout_generation: u64,
}

impl Snapshot {
    /// An empty snapshot; fill it with `Cache::update_snapshot`.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// Nodes in the snapshot.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    pub(crate) fn namespace_labels(&self, ns: &str) -> &BTreeMap<String, String> {
        self.namespaces.get(ns).unwrap_or(&NO_LABELS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{NodeBuilder, PodSpecBuilder};

    fn snapshot(cache: &mut Cache) -> Snapshot {
        let mut s = Snapshot::new();
        cache.update_snapshot(&mut s);
        s
    }

    /// Requested cpu millis and pod count on `node` as a fresh snapshot and an updated one see it.
    fn check(
        cache: &mut Cache,
        snap: &mut Snapshot,
        node: &str,
        want_milli_cpu: i64,
        want_pods: usize,
    ) {
        cache.update_snapshot(snap);
        for s in [&*snap, &snapshot(cache)] {
            let n = s.node(node).expect("node in snapshot");
            assert_eq!(
                (n.requested.milli_cpu, n.pods.len()),
                (want_milli_cpu, want_pods),
                "node {node}"
            );
        }
    }

    #[test]
    fn assume_confirm_forget() {
        let mut cache = Cache::new();
        let mut snap = Snapshot::new();
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        let p = PodSpecBuilder::new("p").req("1", "1Gi").arc();
        check(&mut cache, &mut snap, "n1", 0, 0);
        cache.assume(Arc::clone(&p), "n1").expect("assume");
        check(&mut cache, &mut snap, "n1", 1000, 1);
        assert!(cache.is_assumed("uid-p"));
        assert_eq!(
            cache.assume(Arc::clone(&p), "n1"),
            Err(Error::AlreadyInCache("uid-p".into()))
        );
        // The watch shows it bound: counted once.
        let bound = PodSpecBuilder::new("p").req("1", "1Gi").node("n1").arc();
        cache.add_pod(Arc::clone(&bound));
        cache.confirm("uid-p").expect("confirm");
        check(&mut cache, &mut snap, "n1", 1000, 1);
        assert!(!cache.is_assumed("uid-p"));
        assert_eq!(
            cache.forget("uid-p"),
            Err(Error::NotAssumed("uid-p".into()))
        );
        // A failed bind: forget undoes the assume.
        let q = PodSpecBuilder::new("q").req("500m", "").arc();
        cache.assume(q, "n1").expect("assume");
        check(&mut cache, &mut snap, "n1", 1500, 2);
        cache.forget("uid-q").expect("forget");
        check(&mut cache, &mut snap, "n1", 1000, 1);
        cache.remove_pod(&bound);
        check(&mut cache, &mut snap, "n1", 0, 0);
        assert_eq!(cache.pod_count(), 0);
    }

    #[test]
    fn terminal_pods_are_not_counted() {
        let mut cache = Cache::new();
        let mut snap = Snapshot::new();
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        cache.add_pod(
            PodSpecBuilder::new("a")
                .req("1", "")
                .node("n1")
                .phase("Running")
                .arc(),
        );
        cache.add_pod(
            PodSpecBuilder::new("b")
                .req("1", "")
                .node("n1")
                .phase("Succeeded")
                .arc(),
        );
        cache.add_pod(
            PodSpecBuilder::new("c")
                .req("1", "")
                .node("n1")
                .phase("Failed")
                .arc(),
        );
        check(&mut cache, &mut snap, "n1", 1000, 1);
        // A running pod that finishes stops counting.
        cache.update_pod(
            PodSpecBuilder::new("a")
                .req("1", "")
                .node("n1")
                .phase("Succeeded")
                .arc(),
        );
        check(&mut cache, &mut snap, "n1", 0, 0);
        // Unassigned pods are not the cache's business.
        cache.add_pod(PodSpecBuilder::new("d").req("1", "").arc());
        check(&mut cache, &mut snap, "n1", 0, 0);
    }

    #[test]
    fn pods_before_their_node_and_node_removal() {
        let mut cache = Cache::new();
        let mut snap = Snapshot::new();
        cache.add_pod(PodSpecBuilder::new("a").req("1", "").node("n1").arc());
        cache.update_snapshot(&mut snap);
        assert!(snap.nodes().is_empty());
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        check(&mut cache, &mut snap, "n1", 1000, 1);
        cache.remove_node("n1");
        cache.update_snapshot(&mut snap);
        assert!(snap.node("n1").is_none());
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        check(&mut cache, &mut snap, "n1", 1000, 1);
        // Moving a pod between nodes.
        cache.add_node(NodeBuilder::new("n2", "4", "8Gi").arc());
        cache.update_pod(PodSpecBuilder::new("a").req("1", "").node("n2").arc());
        check(&mut cache, &mut snap, "n1", 0, 0);
        check(&mut cache, &mut snap, "n2", 1000, 1);
    }

    #[test]
    fn zone_interleaved_order() {
        let mut cache = Cache::new();
        for (name, zone) in [
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b1", "b"),
            ("c1", "c"),
            ("c2", "c"),
        ] {
            cache.add_node(NodeBuilder::new(name, "1", "1Gi").zone(zone).arc());
        }
        let s = snapshot(&mut cache);
        let names: Vec<&str> = s.nodes().iter().map(|n| n.name()).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "c2", "a3"]);
        cache.update_node(NodeBuilder::new("a1", "1", "1Gi").zone("c").arc());
        let s = snapshot(&mut cache);
        let names: Vec<&str> = s.nodes().iter().map(|n| n.name()).collect();
        assert_eq!(names, ["a2", "b1", "c1", "a3", "c2", "a1"]);
        assert_eq!(cache.node_count(), 6);
    }

    #[test]
    fn snapshot_is_a_stable_view() {
        let mut cache = Cache::new();
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        let old = snapshot(&mut cache);
        cache.add_pod(PodSpecBuilder::new("a").req("1", "").node("n1").arc());
        assert_eq!(old.node("n1").map(|n| n.pods.len()), Some(0));
        // Two snapshots of one cache both stay correct.
        let mut s1 = Snapshot::new();
        let mut s2 = Snapshot::new();
        cache.update_snapshot(&mut s1);
        cache.update_snapshot(&mut s2);
        cache.add_pod(PodSpecBuilder::new("b").req("1", "").node("n1").arc());
        check(&mut cache, &mut s1, "n1", 2000, 2);
        check(&mut cache, &mut s2, "n1", 2000, 2);
    }

    #[test]
    fn host_ports() {
        let mut cache = Cache::new();
        cache.add_node(NodeBuilder::new("n1", "4", "8Gi").arc());
        cache.add_pod(
            PodSpecBuilder::new("a")
                .host_port(80, "", "")
                .node("n1")
                .arc(),
        );
        cache.add_pod(
            PodSpecBuilder::new("b")
                .host_port(53, "UDP", "10.0.0.1")
                .node("n1")
                .arc(),
        );
        let s = snapshot(&mut cache);
        let n = s.node("n1").expect("n1");
        let port = |proto: &str, ip: &str, port: i32| HostPort {
            protocol: proto.into(),
            host_ip: ip.into(),
            port,
        };
        let cases = [
            (port("TCP", "0.0.0.0", 80), true),
            (port("TCP", "10.0.0.2", 80), true),
            (port("UDP", "0.0.0.0", 80), false),
            (port("TCP", "0.0.0.0", 81), false),
            (port("UDP", "10.0.0.1", 53), true),
            (port("UDP", "10.0.0.2", 53), false),
            (port("UDP", "0.0.0.0", 53), true),
            (port("TCP", "10.0.0.1", 53), false),
        ];
        for (want, conflict) in cases {
            assert_eq!(n.port_conflicts(&want), conflict, "{want:?}");
        }
    }
}
