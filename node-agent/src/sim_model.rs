//! The node simulator's pure core: simulated nodes' names, zones and fake addresses, the
//! Node, Lease and pod-status JSON it writes, which pods need a write, pod IP allocation, and
//! the spreading of periodic writes over their interval. No IO and no clock: times come in
//! as arguments.

use serde_json::{json, Value};
use sha2::Digest;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

/// Berth's marker on a simulated Node (kwok writes `kwok.x-k8s.io/node: fake`).
pub const ANNOTATION_SIMULATED: &str = "berth.io/simulated";
pub const KUBELET_VERSION: &str = "v1.33.0-berth-sim";
pub const CONTAINER_RUNTIME_VERSION: &str = "simulated://1";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// kubelet's `nodeLeaseDurationSeconds`.
pub const LEASE_DURATION_S: u32 = 40;
/// Simulated nodes' InternalIPs come from 10.200.0.0/16 by index (never contacted).
const NODE_IP_BASE: u32 = u32::from_be_bytes([10, 200, 0, 0]);
/// The most nodes the node-IP range holds (.0 and the broadcast address skipped).
pub const MAX_NODES: u32 = (1 << 16) - 2;
/// Each node's pod range is a /24 of the cluster CIDR, as kube-controller-manager's default
/// `--node-cidr-mask-size`.
pub const NODE_CIDR_MASK: u8 = 24;

/// An IPv4 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix_len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR (a.b.c.d/n)"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("{s:?}: bad IPv4 address"))?;
        let prefix_len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("{s:?}: bad prefix length"))?;
        let mask = u32::MAX
            .checked_shl(32 - u32::from(prefix_len))
            .unwrap_or(0);
        if u32::from(ip) & !mask != 0 {
            return Err(format!("{s:?}: host bits are set"));
        }
        Ok(Cidr {
            base: ip,
            prefix_len,
        })
    }

    /// How many /24 node ranges it holds.
    pub fn n_node_ranges(&self) -> u64 {
        if self.prefix_len > NODE_CIDR_MASK {
            0
        } else {
            1 << (NODE_CIDR_MASK - self.prefix_len)
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix_len)
    }
}

/// What every simulated node looks like.
#[derive(Debug, Clone)]
pub struct NodeTemplate {
    pub name_prefix: String,
    pub n_nodes: u32,
    pub zones: Vec<String>,
    pub extra_labels: Vec<(String, String)>,
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    pub ephemeral_storage: String,
    pub cluster_cidr: Cidr,
}

impl NodeTemplate {
    /// Refuses templates the address plan cannot hold.
    pub fn validate(&self) -> Result<(), String> {
        if self.n_nodes == 0 || self.n_nodes > MAX_NODES {
            return Err(format!("--simulate must be in 1..={MAX_NODES}"));
        }
        if u64::from(self.n_nodes) > self.cluster_cidr.n_node_ranges() {
            return Err(format!(
                "--cluster-cidr {} holds {} /24 node ranges, fewer than {} nodes",
                self.cluster_cidr,
                self.cluster_cidr.n_node_ranges(),
                self.n_nodes
            ));
        }
        if self.zones.is_empty() {
            return Err("--zones needs at least one zone".into());
        }
        if self.max_pods == 0 || self.max_pods > 254 {
            return Err("--node-pods must be in 1..=254 (one /24 per node)".into());
        }
        Ok(())
    }

    pub fn name(&self, node_idx: u32) -> String {
        format!("{}{node_idx}", self.name_prefix)
    }

    /// The index of a simulated node's name: the prefix, then a decimal index below
    /// `n_nodes` written as `name` writes it.
    pub fn index_of(&self, node_name: &str) -> Option<u32> {
        let digits = node_name.strip_prefix(self.name_prefix.as_str())?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        digits.parse().ok().filter(|i| *i < self.n_nodes)
    }

    pub fn zone(&self, node_idx: u32) -> &str {
        &self.zones[node_idx as usize % self.zones.len()]
    }

    pub fn node_ip(&self, node_idx: u32) -> Ipv4Addr {
        Ipv4Addr::from(NODE_IP_BASE + 1 + node_idx)
    }

    /// The first address of the node's /24 pod range.
    pub fn pod_range(&self, node_idx: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cluster_cidr.base) + (node_idx << 8))
    }

    /// The Node without its status (what a create sends; the status goes through
    /// `nodes/{name}/status`).
    pub fn node(&self, node_idx: u32) -> Value {
        let name = self.name(node_idx);
        let mut labels = serde_json::Map::new();
        for (k, v) in [
            ("kubernetes.io/hostname", name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("topology.kubernetes.io/zone", self.zone(node_idx)),
            ("node.kubernetes.io/instance-type", "simulated"),
        ] {
            labels.insert(k.into(), v.into());
        }
        for (k, v) in &self.extra_labels {
            labels.insert(k.clone(), v.clone().into());
        }
        let cidr = format!("{}/{NODE_CIDR_MASK}", self.pod_range(node_idx));
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {ANNOTATION_SIMULATED: "true"},
            },
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        })
    }

    /// `{"status": ...}`: capacity, conditions (Ready; no pressure), addresses, nodeInfo.
    /// `since` is when the conditions last changed (the simulator's start), `now` the
    /// heartbeat.
    pub fn node_status(&self, node_idx: u32, now: SystemTime, since: SystemTime) -> Value {
        let name = self.name(node_idx);
        let (now, since) = (rfc3339(now), rfc3339(since));
        let cond = |ty: &str, status: &str, reason: &str, message: &str| {
            json!({"type": ty, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": since})
        };
        let resources = json!({
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.max_pods.to_string(),
            "ephemeral-storage": self.ephemeral_storage,
        });
        let id = format!("{:032x}", u128::from(node_idx) + 1);
        json!({"status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.node_ip(node_idx).to_string()},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": id,
                "systemUUID": id,
                "bootID": id,
                "kernelVersion": "simulated",
                "osImage": "Berth simulated node",
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }})
    }
}

/// The node's Lease in `kube-node-lease`, renewed at `now`.
pub fn lease(node_name: &str, now: SystemTime) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node_name, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": rfc3339_micro(now),
        },
    })
}

/// `metav1.Time`: `2026-12-02T14:25:31Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(d.as_secs(), None)
}

/// `metav1.MicroTime`: `2026-12-02T14:25:31.123456Z`.
pub fn rfc3339_micro(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format_utc(d.as_secs(), Some(d.subsec_micros()))
}

fn format_utc(unix_s: u64, micros: Option<u32>) -> String {
    let (days, secs_of_day) = (unix_s / 86_400, unix_s % 86_400);
    let (y, m, d) = date_of_day(days as i64);
    let (hh, mm, ss) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    match micros {
        Some(us) => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{us:06}Z"),
        None => format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z"),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), counting in 400-year
/// eras that start on March 1st (so the leap day ends a year).
fn date_of_day(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The nodes (as up to two index ranges) whose periodic write falls in `(prev_ms, now_ms]`,
/// for `n_nodes` spread evenly over `interval_ms`: node i is due at
/// `i * interval_ms / n_nodes` plus whole intervals. A window of a whole interval or more
/// makes every node due once.
pub fn due_nodes(prev_ms: u64, now_ms: u64, n_nodes: u32, interval_ms: u64) -> [Range<u32>; 2] {
    if n_nodes == 0 || interval_ms == 0 || now_ms <= prev_ms {
        return [0..0, 0..0];
    }
    if now_ms - prev_ms >= interval_ms {
        return [0..n_nodes, 0..0];
    }
    // The first node whose offset is at least `phase_ms`.
    let first_at = |phase_ms: u64| -> u32 {
        let i = (u128::from(phase_ms) * u128::from(n_nodes)).div_ceil(u128::from(interval_ms));
        i.min(u128::from(n_nodes)) as u32
    };
    let (a, b) = (prev_ms % interval_ms, now_ms % interval_ms);
    if a < b {
        [first_at(a + 1)..first_at(b + 1), 0..0]
    } else {
        // The window wraps past the end of the interval.
        [first_at(a + 1)..n_nodes, 0..first_at(b + 1)]
    }
}

/// Nodes whose periodic write is due and not started yet, oldest first; each node at most
/// once, so it never holds more than `n_nodes`.
#[derive(Debug)]
pub struct DueQueue {
    queue: VecDeque<u32>,
    queued: Vec<bool>,
}

impl DueQueue {
    pub fn new(n_nodes: u32) -> DueQueue {
        DueQueue {
            queue: VecDeque::new(),
            queued: vec![false; n_nodes as usize],
        }
    }

    /// Queues a node; `false` if it was still queued (an interval missed).
    pub fn push(&mut self, node_idx: u32) -> bool {
        match self.queued.get_mut(node_idx as usize) {
            Some(q) if !*q => {
                *q = true;
                self.queue.push_back(node_idx);
                true
            }
            _ => false,
        }
    }

    pub fn pop(&mut self) -> Option<u32> {
        let idx = self.queue.pop_front()?;
        self.queued[idx as usize] = false;
        Some(idx)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// What the simulator reads of a pod bound to one of its nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: u64,
    pub node_idx: u32,
    pub deleting: bool,
    pub phase: String,
    pub pod_ip: Option<Ipv4Addr>,
    pub qos_class: Option<String>,
    pub containers: Vec<(String, String)>,
    pub init_containers: Vec<(String, String)>,
    /// Computed from the resources, for pods the API server left without `qosClass`.
    pub derived_qos_class: &'static str,
}

impl PodView {
    /// The view of a pod, or `None` if it is not bound to one of the template's nodes.
    pub fn from_pod(t: &NodeTemplate, pod: &Value) -> Option<PodView> {
        let node_idx = t.index_of(pod["spec"]["nodeName"].as_str()?)?;
        let m = &pod["metadata"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let containers = |key: &str| -> Vec<(String, String)> {
            pod["spec"][key]
                .as_array()
                .map(|cs| cs.iter().map(|c| (s(&c["name"]), s(&c["image"]))).collect())
                .unwrap_or_default()
        };
        Some(PodView {
            namespace: s(&m["namespace"]),
            name: s(&m["name"]),
            uid: s(&m["uid"]),
            resource_version: m["resourceVersion"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            node_idx,
            deleting: !m["deletionTimestamp"].is_null(),
            phase: s(&pod["status"]["phase"]),
            pod_ip: pod["status"]["podIP"]
                .as_str()
                .and_then(|ip| ip.parse().ok()),
            qos_class: pod["status"]["qosClass"].as_str().map(str::to_string),
            containers: containers("containers"),
            init_containers: containers("initContainers"),
            derived_qos_class: qos_class(pod),
        })
    }

    pub fn key(&self) -> (String, String) {
        (self.namespace.clone(), self.name.clone())
    }
}

/// A pod's QoS class from its containers' requests and limits (Kubernetes' rules).
pub fn qos_class(pod: &Value) -> &'static str {
    let all: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod["spec"][k].as_array())
        .flatten()
        .collect();
    let nonempty = |v: &Value| v.as_object().is_some_and(|o| !o.is_empty());
    if all
        .iter()
        .all(|c| !nonempty(&c["resources"]["requests"]) && !nonempty(&c["resources"]["limits"]))
    {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        let (req, lim) = (&c["resources"]["requests"], &c["resources"]["limits"]);
        ["cpu", "memory"]
            .iter()
            .all(|r| lim[r].is_string() && (req[r].is_null() || req[r] == lim[r]))
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// What a pod on a simulated node needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodAction {
    Nothing,
    /// Write the Running status.
    Start,
    /// Finish its deletion (grace period 0, uid precondition), as a kubelet does once the
    /// containers are gone.
    Delete,
}

/// `written_rv`: the resourceVersion our last status write for this uid returned; an
/// older view is one the watch delivered before that write landed.
pub fn decide(pod: &PodView, written_rv: Option<u64>) -> PodAction {
    if pod.deleting {
        return PodAction::Delete;
    }
    if matches!(pod.phase.as_str(), "Running" | "Succeeded" | "Failed") {
        return PodAction::Nothing;
    }
    if written_rv.is_some_and(|w| pod.resource_version <= w) {
        return PodAction::Nothing;
    }
    PodAction::Start
}

/// The merge patch that makes a pod Running on its node, every container started and ready
/// (init containers completed).
pub fn running_status(
    pod: &PodView,
    host_ip: Ipv4Addr,
    pod_ip: Ipv4Addr,
    now: SystemTime,
) -> Value {
    let now = rfc3339(now);
    let uid_prefix: String = pod.uid.chars().take(8).collect();
    let ids = |name: &str, image: &str| {
        let digest = sha2::Sha256::digest(image.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        (
            format!("simulated://{uid_prefix}-{name}"),
            format!("{image}@sha256:{hex}"),
        )
    };
    let containers: Vec<Value> = pod
        .containers
        .iter()
        .map(|(name, image)| {
            let (cid, iid) = ids(name, image);
            json!({"name": name, "image": image, "imageID": iid, "containerID": cid,
                   "ready": true, "started": true, "restartCount": 0,
                   "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let inits: Vec<Value> = pod
        .init_containers
        .iter()
        .map(|(name, image)| {
            let (cid, iid) = ids(name, image);
            json!({"name": name, "image": image, "imageID": iid, "containerID": cid,
                   "ready": true, "started": false, "restartCount": 0,
                   "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                            "startedAt": now, "finishedAt": now,
                                            "containerID": cid}}})
        })
        .collect();
    let cond = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let mut status = json!({
        "phase": "Running",
        "hostIP": host_ip.to_string(),
        "hostIPs": [{"ip": host_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": now,
        "conditions": [
            cond("PodReadyToStartContainers"),
            cond("Initialized"),
            cond("Ready"),
            cond("ContainersReady"),
            cond("PodScheduled"),
        ],
        "containerStatuses": containers,
    });
    if !inits.is_empty() {
        status["initContainerStatuses"] = inits.into();
    }
    if pod.qos_class.is_none() {
        status["qosClass"] = pod.derived_qos_class.into();
    }
    json!({"metadata": {"uid": pod.uid}, "status": status})
}

/// Pod IPs per node: each node's /24 (.1 to .254), handed out round-robin from a cursor so a
/// freed address is the last to come back; an address stays with its pod uid until released.
#[derive(Debug, Default)]
pub struct IpAllocator {
    nodes: HashMap<u32, NodeIps>,
    owners: HashMap<String, (u32, u8)>,
}

#[derive(Debug, Default)]
struct NodeIps {
    used: [u64; 4],
    /// The last host number handed out.
    cursor: u8,
}

impl NodeIps {
    fn is_used(&self, host: u8) -> bool {
        self.used[usize::from(host / 64)] & (1 << (host % 64)) != 0
    }
    fn set(&mut self, host: u8, used: bool) {
        let bit = 1u64 << (host % 64);
        if used {
            self.used[usize::from(host / 64)] |= bit;
        } else {
            self.used[usize::from(host / 64)] &= !bit;
        }
    }
}

impl IpAllocator {
    /// The pod's address on its node: the one it holds, else the next free one; `None` when
    /// all 254 are taken.
    pub fn allocate(&mut self, t: &NodeTemplate, uid: &str, node_idx: u32) -> Option<Ipv4Addr> {
        if let Some(&(n, host)) = self.owners.get(uid) {
            if n == node_idx {
                return Some(host_addr(t, n, host));
            }
            self.release(uid);
        }
        let ips = self.nodes.entry(node_idx).or_default();
        let start = ips.cursor;
        let mut host = start;
        loop {
            host = if host >= 254 { 1 } else { host + 1 };
            if !ips.is_used(host) {
                ips.set(host, true);
                ips.cursor = host;
                self.owners.insert(uid.to_string(), (node_idx, host));
                return Some(host_addr(t, node_idx, host));
            }
            if host == start || (start == 0 && host == 254) {
                return None;
            }
        }
    }

    /// Records an address a pod already has (a pod seen Running after a restart); `false`
    /// when it is outside the node's range or held by another pod.
    pub fn adopt(&mut self, t: &NodeTemplate, uid: &str, node_idx: u32, ip: Ipv4Addr) -> bool {
        let offset = u32::from(ip).wrapping_sub(u32::from(t.pod_range(node_idx)));
        let Ok(host) = u8::try_from(offset) else {
            return false;
        };
        if host == 0 || host == 255 {
            return false;
        }
        if self.owners.get(uid) == Some(&(node_idx, host)) {
            return true;
        }
        let ips = self.nodes.entry(node_idx).or_default();
        if ips.is_used(host) {
            return false;
        }
        ips.set(host, true);
        self.release(uid);
        self.owners.insert(uid.to_string(), (node_idx, host));
        true
    }

    pub fn release(&mut self, uid: &str) {
        if let Some((n, host)) = self.owners.remove(uid) {
            if let Some(ips) = self.nodes.get_mut(&n) {
                ips.set(host, false);
            }
        }
    }

    pub fn n_allocated(&self) -> usize {
        self.owners.len()
    }
}

fn host_addr(t: &NodeTemplate, node_idx: u32, host: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(t.pod_range(node_idx)) + u32::from(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn template(n_nodes: u32) -> NodeTemplate {
        NodeTemplate {
            name_prefix: "sim-".into(),
            n_nodes,
            zones: vec!["zone-a".into(), "zone-b".into(), "zone-c".into()],
            extra_labels: vec![("team".into(), "perf".into())],
            cpu: "32".into(),
            memory: "256Gi".into(),
            max_pods: 110,
            ephemeral_storage: "100Gi".into(),
            cluster_cidr: Cidr::parse("100.64.0.0/10").unwrap(),
        }
    }

    fn at(unix_s: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_s) + Duration::from_micros(micros)
    }

    #[test]
    fn times() {
        for (unix_s, micros, want_s, want_us) in [
            (0, 0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"),
            (
                951_782_400,
                5,
                "2000-02-29T00:00:00Z",
                "2000-02-29T00:00:00.000005Z",
            ),
            (
                1_796_221_531,
                123_456,
                "2026-12-02T14:25:31Z",
                "2026-12-02T14:25:31.123456Z",
            ),
            (
                4_107_542_399,
                999_999,
                "2100-02-28T23:59:59Z",
                "2100-02-28T23:59:59.999999Z",
            ),
        ] {
            assert_eq!(rfc3339(at(unix_s, micros)), want_s);
            assert_eq!(rfc3339_micro(at(unix_s, micros)), want_us);
        }
    }

    #[test]
    fn cidrs() {
        for (s, want) in [
            ("10.244.0.0/16", Ok(256)),
            ("100.64.0.0/10", Ok(16_384)),
            ("10.0.0.0/25", Ok(0)),
            ("10.244.0.1/16", Err("host bits are set")),
            ("10.244.0.0", Err("is not a CIDR")),
            ("10.244.0.0/33", Err("bad prefix length")),
            ("10.244.0/16", Err("bad IPv4 address")),
        ] {
            match (Cidr::parse(s), want) {
                (Ok(c), Ok(n)) => assert_eq!(c.n_node_ranges(), n, "{s}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{s}: {e}"),
                (got, want) => panic!("{s}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn template_validation() {
        let mut t = template(5000);
        assert_eq!(t.validate(), Ok(()));
        t.cluster_cidr = Cidr::parse("10.244.0.0/16").unwrap();
        assert!(t
            .validate()
            .unwrap_err()
            .contains("holds 256 /24 node ranges"));
        let mut t = template(0);
        assert!(t.validate().is_err());
        t.n_nodes = 3;
        t.zones.clear();
        assert!(t.validate().is_err());
    }

    #[test]
    fn node_names() {
        let t = template(100);
        for (name, want) in [
            ("sim-0", Some(0)),
            ("sim-99", Some(99)),
            ("sim-100", None),
            ("sim-07", None),
            ("sim-", None),
            ("sim-1a", None),
            ("sim--1", None),
            ("node-3", None),
            ("sim-99999999999999999999", None),
        ] {
            assert_eq!(t.index_of(name), want, "{name}");
            if let Some(i) = want {
                assert_eq!(t.name(i), name);
            }
        }
    }

    #[test]
    fn node_rendering() {
        let t = template(5000);
        let n = t.node(4);
        assert_eq!(
            n,
            json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {
                    "name": "sim-4",
                    "labels": {
                        "kubernetes.io/hostname": "sim-4", "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": "zone-b",
                        "node.kubernetes.io/instance-type": "simulated", "team": "perf",
                    },
                    "annotations": {"berth.io/simulated": "true"},
                },
                "spec": {"podCIDR": "100.64.4.0/24", "podCIDRs": ["100.64.4.0/24"]},
            })
        );
        assert_eq!(t.node(4999)["spec"]["podCIDR"], "100.83.135.0/24");
        let s = &t.node_status(300, at(1_796_221_531, 0), at(1_796_220_000, 0))["status"];
        assert_eq!(
            s["capacity"],
            json!({"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"})
        );
        assert_eq!(s["allocatable"], s["capacity"]);
        assert_eq!(
            s["addresses"],
            json!([{"type": "InternalIP", "address": "10.200.1.45"}, {"type": "Hostname", "address": "sim-300"}])
        );
        let ready = &s["conditions"][3];
        assert_eq!(
            ready,
            &json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": "2026-12-02T14:25:31Z",
                    "lastTransitionTime": "2026-12-02T14:00:00Z"})
        );
        let types: Vec<(&str, &str)> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("MemoryPressure", "False"),
                ("DiskPressure", "False"),
                ("PIDPressure", "False"),
                ("Ready", "True")
            ]
        );
        assert_eq!(s["nodeInfo"]["kubeletVersion"], "v1.33.0-berth-sim");
        assert_eq!(s["nodeInfo"]["containerRuntimeVersion"], "simulated://1");
        assert_eq!(s["nodeInfo"]["architecture"], "amd64");
        assert_eq!(s["nodeInfo"]["operatingSystem"], "linux");
    }

    #[test]
    fn lease_rendering() {
        assert_eq!(
            lease("sim-7", at(1_796_221_531, 123_456)),
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "sim-7", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "sim-7", "leaseDurationSeconds": 40,
                         "renewTime": "2026-12-02T14:25:31.123456Z"},
            })
        );
    }

    /// The reference: every node whose due times meet the window, by brute force.
    fn due_brute(prev_ms: u64, now_ms: u64, n: u32, interval_ms: u64) -> Vec<u32> {
        if now_ms - prev_ms >= interval_ms {
            return (0..n).collect();
        }
        (0..n)
            .filter(|&i| {
                let offset = u64::from(i) * interval_ms / u64::from(n);
                (prev_ms + 1..=now_ms).any(|t| t % interval_ms == offset)
            })
            .collect()
    }

    #[test]
    fn lease_spreading_matches_the_reference() {
        for (n, interval_ms) in [(1, 100), (7, 100), (100, 100), (250, 100), (3, 1000)] {
            for prev in [0, 1, 13, 99, 100, 150, 250] {
                for width in [1, 2, 10, 57, 99, 100, 101] {
                    let got: Vec<u32> = due_nodes(prev, prev + width, n, interval_ms)
                        .into_iter()
                        .flatten()
                        .collect();
                    let mut sorted = got.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    assert_eq!(
                        sorted.len(),
                        got.len(),
                        "duplicates: n={n} prev={prev} width={width}"
                    );
                    assert_eq!(
                        sorted,
                        due_brute(prev, prev + width, n, interval_ms),
                        "n={n} I={interval_ms} prev={prev} width={width}"
                    );
                }
            }
        }
    }

    #[test]
    fn lease_spreading_is_even() {
        // 5,000 nodes over 10 s in 10 ms ticks: every node once per interval, 5 a tick.
        let (n, interval_ms, tick_ms) = (5000u32, 10_000u64, 10u64);
        let mut count = vec![0u32; n as usize];
        let mut per_tick = vec![];
        for k in 0..interval_ms / tick_ms {
            let ranges = due_nodes(k * tick_ms, (k + 1) * tick_ms, n, interval_ms);
            per_tick.push(ranges.iter().map(|r| r.len()).sum::<usize>());
            for i in ranges.into_iter().flatten() {
                count[i as usize] += 1;
            }
        }
        assert!(count.iter().all(|&c| c == 1));
        assert!(per_tick.iter().all(|&c| c == 5), "{per_tick:?}");
        assert_eq!(due_nodes(5, 5, n, interval_ms), [0..0, 0..0]);
        assert_eq!(due_nodes(0, 20_000, n, interval_ms), [0..n, 0..0]);
    }

    #[test]
    fn due_queue_holds_each_node_once_oldest_first() {
        let mut q = DueQueue::new(4);
        assert_eq!(
            [q.push(2), q.push(0), q.push(2), q.push(9)],
            [true, true, false, false]
        );
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(2));
        assert!(q.push(2), "queued again once started");
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(0), Some(2), None));
        assert!(q.is_empty());
    }

    fn pod(extra: Value) -> Value {
        let mut p = json!({
            "metadata": {"namespace": "default", "name": "x", "uid": "0123456789abcdef", "resourceVersion": "42"},
            "spec": {"nodeName": "sim-3", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        });
        berth_merge(&mut p, extra);
        p
    }

    /// RFC 7386 merge, enough for test fixtures.
    fn berth_merge(target: &mut Value, patch: Value) {
        match patch {
            Value::Object(m) => {
                if !target.is_object() {
                    *target = json!({});
                }
                for (k, v) in m {
                    if v.is_null() {
                        target.as_object_mut().unwrap().remove(&k);
                    } else {
                        berth_merge(
                            target
                                .as_object_mut()
                                .unwrap()
                                .entry(k)
                                .or_insert(Value::Null),
                            v,
                        );
                    }
                }
            }
            other => *target = other,
        }
    }

    #[test]
    fn which_pods_need_a_write() {
        let t = template(10);
        // (pod changes, our last write's resourceVersion, expected)
        for (extra, written, want) in [
            (json!({}), None, Some(PodAction::Start)),
            (json!({}), Some(41), Some(PodAction::Start)),
            (json!({}), Some(42), Some(PodAction::Nothing)),
            (
                json!({"status": {"phase": "Running"}}),
                None,
                Some(PodAction::Nothing),
            ),
            (
                json!({"status": {"phase": "Succeeded"}}),
                None,
                Some(PodAction::Nothing),
            ),
            (
                json!({"status": {"phase": "Failed"}}),
                None,
                Some(PodAction::Nothing),
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
                None,
                Some(PodAction::Delete),
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}}),
                Some(99),
                Some(PodAction::Delete),
            ),
            (json!({"spec": {"nodeName": "sim-10"}}), None, None),
            (json!({"spec": {"nodeName": "real-1"}}), None, None),
            (json!({"spec": {"nodeName": null}}), None, None),
        ] {
            let p = pod(extra.clone());
            let got = PodView::from_pod(&t, &p).map(|v| decide(&v, written));
            assert_eq!(got, want, "{extra} written={written:?}");
        }
    }

    #[test]
    fn qos_classes() {
        for (resources, want) in [
            (json!([{}]), "BestEffort"),
            (json!([{"requests": {}}]), "BestEffort"),
            (json!([{"requests": {"cpu": "1"}}]), "Burstable"),
            (
                json!([{"limits": {"cpu": "1", "memory": "1Gi"}}]),
                "Guaranteed",
            ),
            (
                json!([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}]),
                "Guaranteed",
            ),
            (
                json!([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}]),
                "Burstable",
            ),
            (
                json!([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}]),
                "Burstable",
            ),
        ] {
            let cs: Vec<Value> = resources
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, r)| json!({"name": format!("c{i}"), "resources": r}))
                .collect();
            assert_eq!(
                qos_class(&json!({"spec": {"containers": cs}})),
                want,
                "{resources}"
            );
        }
    }

    #[test]
    fn running_status_rendering() {
        let t = template(10);
        let p = pod(
            json!({"spec": {"initContainers": [{"name": "init", "image": "alpine"}]}, "status": {"qosClass": null}}),
        );
        let v = PodView::from_pod(&t, &p).unwrap();
        let now = at(1_796_221_531, 0);
        let patch = running_status(&v, t.node_ip(3), Ipv4Addr::new(100, 64, 3, 1), now);
        let s = &patch["status"];
        assert_eq!(patch["metadata"], json!({"uid": "0123456789abcdef"}));
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["hostIP"], "10.200.0.4");
        assert_eq!(s["hostIPs"], json!([{"ip": "10.200.0.4"}]));
        assert_eq!(s["podIPs"], json!([{"ip": "100.64.3.1"}]));
        assert_eq!(s["startTime"], "2026-12-02T14:25:31Z");
        assert_eq!(s["qosClass"], "BestEffort");
        let conds: Vec<(&str, &str)> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            conds,
            [
                ("PodReadyToStartContainers", "True"),
                ("Initialized", "True"),
                ("Ready", "True"),
                ("ContainersReady", "True"),
                ("PodScheduled", "True")
            ]
        );
        let c = &s["containerStatuses"][0];
        assert_eq!(c["containerID"], "simulated://01234567-c");
        assert_eq!(
            (
                c["ready"].clone(),
                c["started"].clone(),
                c["restartCount"].clone()
            ),
            (json!(true), json!(true), json!(0))
        );
        assert_eq!(
            c["state"],
            json!({"running": {"startedAt": "2026-12-02T14:25:31Z"}})
        );
        assert!(c["imageID"]
            .as_str()
            .unwrap()
            .starts_with("busybox@sha256:"));
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        // A qosClass the API server set is left alone.
        let v = PodView::from_pod(&t, &pod(json!({}))).unwrap();
        assert!(
            running_status(&v, t.node_ip(3), Ipv4Addr::new(100, 64, 3, 1), now)["status"]
                .get("qosClass")
                .is_none()
        );
    }

    #[test]
    fn ip_allocation() {
        let t = template(10);
        let mut a = IpAllocator::default();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(a.allocate(&t, "u1", 2), Some(ip("100.64.2.1")));
        assert_eq!(a.allocate(&t, "u2", 2), Some(ip("100.64.2.2")));
        assert_eq!(
            a.allocate(&t, "u1", 2),
            Some(ip("100.64.2.1")),
            "stable per uid"
        );
        assert_eq!(a.allocate(&t, "u3", 5), Some(ip("100.64.5.1")), "per node");
        // A freed address is not handed out again before the others.
        a.release("u1");
        assert_eq!(a.allocate(&t, "u4", 2), Some(ip("100.64.2.3")));
        // Adopting: in range and free only.
        assert!(a.adopt(&t, "u5", 2, ip("100.64.2.200")));
        assert!(!a.adopt(&t, "u6", 2, ip("100.64.2.200")), "held by u5");
        assert!(
            !a.adopt(&t, "u6", 2, ip("100.64.3.7")),
            "another node's range"
        );
        assert!(!a.adopt(&t, "u6", 2, ip("100.64.2.255")));
        assert!(
            a.adopt(&t, "u5", 2, ip("100.64.2.200")),
            "again, same owner"
        );
        // Fill the node: 254 addresses, then none, then one after a release.
        let mut a = IpAllocator::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..254 {
            let got = a.allocate(&t, &format!("p{i}"), 0).unwrap();
            assert!(seen.insert(got), "{got} twice");
        }
        assert_eq!(a.allocate(&t, "full", 0), None);
        a.release("p100");
        assert_eq!(a.allocate(&t, "late", 0), Some(ip("100.64.0.101")));
        assert_eq!(a.n_allocated(), 254);
    }
}
