//! The node lifecycle controller (kube-controller-manager's `nodelifecycle`): watches Nodes
//! and their Leases in `kube-node-lease`, and every `--node-monitor-period` judges each
//! node's health on its own observation clock (when it last *saw* the Lease's renewTime or
//! the Ready heartbeat change; it never compares its clock with a timestamp a node wrote).
//! A node silent for `--node-monitor-grace-period` gets Ready, MemoryPressure, DiskPressure
//! and PIDPressure set to Unknown. Taints follow the conditions: NoSchedule ones at once
//! (TaintNodesByCondition), the NoExecute `not-ready`/`unreachable` ones through a per-zone
//! token bucket at `--node-eviction-rate` (`--secondary-node-eviction-rate` in a partially
//! disrupted large zone, none in a small one), and not at all while every zone is fully
//! disrupted (kube's "master disruption mode": all nodes dead looks like our own network
//! failing, so the NoExecute taints are lifted instead).
//!
//! `Monitor` is the pure core: it keeps the observations and the zone queues and turns one
//! pass's inputs into a `Plan`; the shell writes the plan.

use crate::error::{Context, ControllerError};
use crate::events::{ObjectRef, Recorder};
use crate::informers::Informer;
use crate::taints::{self, NOT_READY, NO_EXECUTE, NO_SCHEDULE, UNREACHABLE};
use crate::util;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "node-controller";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The conditions set to Unknown when a node goes silent (kube's `nodeConditionTypes`).
pub const SILENT_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Tries of one taint update (a fresh GET, then a conditional PUT) before the next pass.
const TAINT_UPDATE_TRIES: usize = 3;

/// The core's settings (Config fields, see there).
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub grace_period: Duration,
    pub startup_grace_period: Duration,
    pub eviction_rate: f64,
    pub secondary_eviction_rate: f64,
    pub unhealthy_zone_threshold: f64,
    pub large_cluster_size_threshold: usize,
}

impl MonitorConfig {
    pub fn from(c: &crate::Config) -> MonitorConfig {
        MonitorConfig {
            grace_period: c.node_monitor_grace_period,
            startup_grace_period: c.node_startup_grace_period,
            eviction_rate: c.node_eviction_rate,
            secondary_eviction_rate: c.secondary_node_eviction_rate,
            unhealthy_zone_threshold: c.unhealthy_zone_threshold,
            large_cluster_size_threshold: c.large_cluster_size_threshold,
        }
    }
}

/// What the controller saw of one node. Times are on the monitor's clock (`now` of `pass`).
#[derive(Debug, Clone)]
struct Observation {
    /// When the Lease renewTime or the Ready heartbeat last changed (or first sight).
    probe_at: Duration,
    lease_renew: Option<String>,
    heartbeat: Option<String>,
    /// Whether a change was seen since first sight (until then the startup grace applies).
    changed: bool,
    /// The Ready status after the previous pass ("" before the first).
    ready: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// kube's `ComputeZoneState`.
pub fn zone_state(n_ready: usize, n_not_ready: usize, unhealthy_threshold: f64) -> ZoneState {
    let total = n_ready + n_not_ready;
    if n_ready == 0 && n_not_ready > 0 {
        ZoneState::FullDisruption
    } else if n_not_ready > 2 && n_not_ready as f64 / total as f64 >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// A token bucket with burst 1 (kube's `EvictionRateLimiterBurst`); rate 0 never fires.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate_per_s: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    pub fn new(rate_per_s: f64, now: Duration) -> TokenBucket {
        TokenBucket {
            rate_per_s,
            tokens: 1.0,
            last: now,
        }
    }
    pub fn set_rate(&mut self, rate_per_s: f64, now: Duration) {
        self.refill(now);
        self.rate_per_s = rate_per_s;
    }
    fn refill(&mut self, now: Duration) {
        let dt = now.saturating_sub(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate_per_s).min(1.0);
        self.last = now;
    }
    pub fn try_take(&mut self, now: Duration) -> bool {
        self.refill(now);
        // Tolerance: ten refills of 0.1 sum to just under 1.
        if self.rate_per_s > 0.0 && self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

/// One zone's NoExecute tainter: nodes waiting for their taint, oldest first.
#[derive(Debug, Clone)]
struct Zone {
    state: ZoneState,
    bucket: TokenBucket,
    queue: VecDeque<String>,
}

/// A change to one node's taints.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaintChange {
    pub add: Vec<Taint>,
    /// (key, effect).
    pub remove: Vec<(String, String)>,
}

/// What one pass should write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Node name -> the full condition list to write through `nodes/status`.
    pub status: BTreeMap<String, Vec<NodeCondition>>,
    pub taints: BTreeMap<String, TaintChange>,
    /// (node, reason, message).
    pub events: Vec<(String, &'static str, String)>,
    /// Messages to log (mode changes).
    pub notices: Vec<String>,
}

/// One node as a pass sees it.
pub struct NodeInput<'a> {
    pub node: &'a Node,
    /// The Lease's renewTime as written (compared for change only, never as a time).
    pub lease_renew: Option<String>,
}

/// The pure core: observations and zone tainters across passes.
pub struct Monitor {
    cfg: MonitorConfig,
    observed: HashMap<String, Observation>,
    zones: HashMap<String, Zone>,
    all_disrupted: bool,
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn condition_true(node: &Node, type_: &str) -> bool {
    condition(node, type_).is_some_and(|c| c.status == "True")
}

pub fn zone_of(node: &Node) -> String {
    let l = node.metadata.labels.as_ref();
    l.and_then(|l| {
        l.get(ZONE_LABEL)
            .or_else(|| l.get("failure-domain.beta.kubernetes.io/zone"))
    })
    .cloned()
    .unwrap_or_default()
}

fn has_taint(node: &Node, key: &str, effect: &str) -> bool {
    taints::node_taints(node)
        .iter()
        .any(|t| t.key == key && t.effect == effect)
}

/// The conditions with the silent ones set to Unknown (kube's `tryUpdateNodeHealth`).
fn unknown_conditions(node: &Node, wall: Timestamp) -> Vec<NodeCondition> {
    let mut conds = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for type_ in SILENT_CONDITIONS {
        match conds.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(util::time(wall));
            }
            None => conds.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(util::time(wall)),
            }),
        }
    }
    conds
}

/// The NoSchedule taints TaintNodesByCondition keeps in step with a node's state.
fn no_schedule_taints(node: &Node, ready: &str) -> Vec<(&'static str, bool)> {
    let unschedulable = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    vec![
        (NOT_READY, ready == "False"),
        (UNREACHABLE, ready == "Unknown"),
        (
            taints::MEMORY_PRESSURE,
            condition_true(node, "MemoryPressure"),
        ),
        (taints::DISK_PRESSURE, condition_true(node, "DiskPressure")),
        (taints::PID_PRESSURE, condition_true(node, "PIDPressure")),
        (
            taints::NETWORK_UNAVAILABLE,
            condition_true(node, "NetworkUnavailable"),
        ),
        (taints::UNSCHEDULABLE, unschedulable),
    ]
}

impl Monitor {
    pub fn new(cfg: MonitorConfig) -> Monitor {
        Monitor {
            cfg,
            observed: HashMap::new(),
            zones: HashMap::new(),
            all_disrupted: false,
        }
    }

    fn rate_for(&self, state: ZoneState, zone_size: usize) -> f64 {
        match state {
            // kube's HealthyQPSFunc for a fully disrupted zone among healthy ones: that zone
            // really is gone, its pods should move.
            ZoneState::Normal | ZoneState::FullDisruption => self.cfg.eviction_rate,
            ZoneState::PartialDisruption if zone_size > self.cfg.large_cluster_size_threshold => {
                self.cfg.secondary_eviction_rate
            }
            ZoneState::PartialDisruption => 0.0,
        }
    }

    /// One monitor pass. `now` is the monitor's monotonic clock, `wall` stamps the
    /// conditions and taints it writes.
    pub fn pass(&mut self, nodes: &[NodeInput], now: Duration, wall: Timestamp) -> Plan {
        let mut plan = Plan::default();
        let names: HashSet<&str> = nodes.iter().map(|n| util::name(&n.node.metadata)).collect();
        self.observed.retain(|n, _| names.contains(n.as_str()));
        for z in self.zones.values_mut() {
            z.queue.retain(|n| names.contains(n.as_str()));
        }

        // 1. Health: observe, then judge on the observation clock.
        let mut ready_of: HashMap<&str, String> = HashMap::new();
        for input in nodes {
            let node = input.node;
            let name = util::name(&node.metadata);
            let ready_cond = condition(node, "Ready");
            let heartbeat = ready_cond
                .and_then(|c| c.last_heartbeat_time.as_ref())
                .map(|t| format!("{:?}", t.0));
            let obs = self
                .observed
                .entry(name.to_string())
                .or_insert_with(|| Observation {
                    probe_at: now,
                    lease_renew: input.lease_renew.clone(),
                    heartbeat: heartbeat.clone(),
                    changed: false,
                    ready: String::new(),
                });
            if obs.lease_renew != input.lease_renew || obs.heartbeat != heartbeat {
                obs.lease_renew = input.lease_renew.clone();
                obs.heartbeat = heartbeat;
                obs.probe_at = now;
                obs.changed = true;
            }
            let grace = if ready_cond.is_none() || !obs.changed {
                self.cfg.startup_grace_period.max(self.cfg.grace_period)
            } else {
                self.cfg.grace_period
            };
            // "" (no Ready condition yet): not judged, no taints, until the grace expires.
            let mut ready = ready_cond.map(|c| c.status.clone()).unwrap_or_default();
            let silent = now.saturating_sub(obs.probe_at) > grace;
            if silent
                && SILENT_CONDITIONS
                    .iter()
                    .any(|t| condition(node, t).is_none_or(|c| c.status != "Unknown"))
            {
                plan.status
                    .insert(name.to_string(), unknown_conditions(node, wall));
                ready = "Unknown".into();
            }
            let was = std::mem::replace(&mut obs.ready, ready.clone());
            let was_ready = if was.is_empty() {
                ready_cond.is_some_and(|c| c.status == "True")
            } else {
                was == "True"
            };
            if was_ready && ready != "True" {
                plan.events.push((
                    name.to_string(),
                    "NodeNotReady",
                    format!("Node {name} status is now: NodeNotReady"),
                ));
            }
            ready_of.insert(name, ready);
        }

        // 2. Zones and the disruption mode.
        let mut by_zone: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for input in nodes {
            let e = by_zone.entry(zone_of(input.node)).or_default();
            if ready_of[util::name(&input.node.metadata)] == "True" {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        let states: BTreeMap<&String, ZoneState> = by_zone
            .iter()
            .map(|(z, (r, nr))| (z, zone_state(*r, *nr, self.cfg.unhealthy_zone_threshold)))
            .collect();
        let all_disrupted =
            !states.is_empty() && states.values().all(|s| *s == ZoneState::FullDisruption);
        if all_disrupted && !self.all_disrupted {
            plan.notices.push("Controller detected that all Nodes are not-Ready. Entering master disruption mode.".into());
        }
        if !all_disrupted && self.all_disrupted {
            plan.notices.push(
                "Controller detected that some Nodes are Ready. Exiting master disruption mode."
                    .into(),
            );
            // As kube: every node gets a fresh grace period, nothing is tainted at once.
            for o in self.observed.values_mut() {
                o.probe_at = now;
            }
        }
        self.all_disrupted = all_disrupted;
        self.zones.retain(|z, _| by_zone.contains_key(z));
        for (z, state) in &states {
            let (r, nr) = by_zone[*z];
            let rate = self.rate_for(*state, r + nr);
            let zone = self.zones.entry((*z).clone()).or_insert_with(|| Zone {
                state: ZoneState::Normal,
                bucket: TokenBucket::new(rate, now),
                queue: VecDeque::new(),
            });
            if zone.state != *state {
                plan.notices.push(format!(
                    "Controller detected that zone {z:?} is now in state {state:?}."
                ));
                zone.state = *state;
            }
            zone.bucket.set_rate(rate, now);
        }

        // 3. Taints.
        for input in nodes {
            let node = input.node;
            let name = util::name(&node.metadata);
            let ready = ready_of[name].as_str();
            let mut change = TaintChange::default();
            for (key, want) in no_schedule_taints(node, ready) {
                let have = has_taint(node, key, NO_SCHEDULE);
                if want && !have {
                    change.add.push(taints::taint(key, NO_SCHEDULE));
                } else if !want && have {
                    change.remove.push((key.into(), NO_SCHEDULE.into()));
                }
            }
            let want = match ready {
                "False" => Some(NOT_READY),
                "Unknown" => Some(UNREACHABLE),
                _ => None,
            };
            let zone = self
                .zones
                .get_mut(&zone_of(node))
                .expect("every node's zone was added above");
            for key in [NOT_READY, UNREACHABLE] {
                if has_taint(node, key, NO_EXECUTE) && (Some(key) != want || all_disrupted) {
                    change.remove.push((key.into(), NO_EXECUTE.into()));
                }
            }
            match want {
                Some(key) if !all_disrupted && !has_taint(node, key, NO_EXECUTE) => {
                    let other = if key == NOT_READY {
                        UNREACHABLE
                    } else {
                        NOT_READY
                    };
                    if has_taint(node, other, NO_EXECUTE) {
                        // kube's SwapNodeControllerTaint: already evicting, not rate limited.
                        change.add.push(no_execute(key, wall));
                    } else if !zone.queue.iter().any(|n| n == name) {
                        zone.queue.push_back(name.to_string());
                    }
                }
                _ => zone.queue.retain(|n| n != name),
            }
            if change != TaintChange::default() {
                plan.taints.insert(name.to_string(), change);
            }
        }

        // 4. The rate-limited NoExecute tainting, zone by zone.
        let by_name: HashMap<&str, &Node> = nodes
            .iter()
            .map(|n| (util::name(&n.node.metadata), n.node))
            .collect();
        for zone in self.zones.values_mut() {
            while let Some(name) = zone.queue.front().cloned() {
                if !zone.bucket.try_take(now) {
                    break;
                }
                zone.queue.pop_front();
                let key = if ready_of.get(name.as_str()).map(String::as_str) == Some("False") {
                    NOT_READY
                } else {
                    UNREACHABLE
                };
                if by_name
                    .get(name.as_str())
                    .is_some_and(|n| !has_taint(n, key, NO_EXECUTE))
                {
                    plan.taints
                        .entry(name)
                        .or_default()
                        .add
                        .push(no_execute(key, wall));
                }
            }
        }
        plan
    }
}

fn no_execute(key: &str, wall: Timestamp) -> Taint {
    Taint {
        time_added: Some(util::time(wall)),
        ..taints::taint(key, NO_EXECUTE)
    }
}

struct Controller {
    client: Client,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    monitor: Mutex<Monitor>,
    origin: tokio::time::Instant,
    recorder: Recorder,
}

pub fn start(t: &mut Term) {
    let c = Arc::new(Controller {
        client: t.client.clone(),
        nodes: t.informers.get::<Node>(),
        leases: t.informers.get::<Lease>(),
        monitor: Mutex::new(Monitor::new(MonitorConfig::from(&t.config))),
        origin: tokio::time::Instant::now(),
        recorder: t.recorder.with_component(COMPONENT),
    });
    // A zero period would spin (and panics tokio's interval).
    let period = t.config.node_monitor_period.max(Duration::from_millis(100));
    t.spawn_periodic("nodelifecycle", period, move || {
        let c = c.clone();
        async move { c.pass().await }
    });
}

impl Controller {
    async fn pass(&self) -> Result<(), ControllerError> {
        let nodes = self.nodes.list();
        let inputs: Vec<NodeInput> = nodes
            .iter()
            .map(|n| NodeInput {
                node: n,
                lease_renew: self
                    .leases
                    .get_in(LEASE_NAMESPACE, util::name(&n.metadata))
                    .and_then(|l| {
                        l.spec
                            .as_ref()?
                            .renew_time
                            .as_ref()
                            .map(|t| format!("{:?}", t.0))
                    }),
            })
            .collect();
        let plan = self
            .monitor
            .lock()
            .pass(&inputs, self.origin.elapsed(), util::now());
        for n in &plan.notices {
            tracing::info!("nodelifecycle: {n}");
        }
        let by_name: HashMap<&str, &Arc<Node>> =
            nodes.iter().map(|n| (util::name(&n.metadata), n)).collect();
        for (node, reason, message) in &plan.events {
            if let Some(n) = by_name.get(node.as_str()) {
                self.recorder
                    .normal(ObjectRef::of(&***n), reason, message.clone());
            }
        }
        let mut errors = Vec::new();
        for (name, conds) in &plan.status {
            let Some(n) = by_name.get(name.as_str()) else {
                continue;
            };
            tracing::info!(node = %name, "nodelifecycle: the node stopped posting status; marking its conditions Unknown");
            let mut updated = (***n).clone();
            updated
                .status
                .get_or_insert_with(Default::default)
                .conditions = Some(conds.clone());
            match self
                .client
                .replace::<Value>(&Resource::NODES, "", name, Some("status"), &updated)
                .await
            {
                Ok(_) => {}
                // A heartbeat raced us: the next pass judges the fresh node.
                Err(e) if e.is_not_found() || (e.is_conflict() && !e.is_fenced()) => {}
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("update status of node {name}"),
                    source: e,
                }),
            }
        }
        for (name, change) in &plan.taints {
            if let Err(e) = self.update_taints(name, change).await {
                errors.push(e);
            }
        }
        ControllerError::collect(errors)
    }

    /// Applies a taint change to the node as the server has it (kube's
    /// `AddOrUpdateTaintOnNode`: read, edit, conditional write, retry on conflict).
    async fn update_taints(&self, name: &str, change: &TaintChange) -> Result<(), ControllerError> {
        for _ in 0..TAINT_UPDATE_TRIES {
            let mut node: Node = match self.client.get(&Resource::NODES, "", name).await {
                Ok(n) => n,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e).ctx(|| format!("get node {name}")),
            };
            let old = taints::node_taints(&node).to_vec();
            let new = taints::edit_taints(&old, &change.add, &change.remove);
            if new == old {
                return Ok(());
            }
            tracing::info!(node = name, add = ?change.add.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect::<Vec<_>>(),
                remove = ?change.remove, "nodelifecycle: updating taints");
            node.spec.get_or_insert_with(Default::default).taints = Some(new);
            match self
                .client
                .replace::<Value>(&Resource::NODES, "", name, None, &node)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() && !e.is_fenced() => continue,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e).ctx(|| format!("update taints of node {name}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taints::testutil::node;
    use crate::util::testutil::ts;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn cfg() -> MonitorConfig {
        MonitorConfig {
            grace_period: Duration::from_secs(40),
            startup_grace_period: Duration::from_secs(60),
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
        }
    }

    /// A simulated cluster: nodes, their lease renewals, and what the controller wrote
    /// applied back (as the API server and a fresh watch would show it).
    struct Sim {
        nodes: BTreeMap<String, Node>,
        renew: BTreeMap<String, u64>,
        monitor: Monitor,
        events: Vec<String>,
        notices: Vec<String>,
    }

    impl Sim {
        fn new(names: &[(&str, &str)]) -> Sim {
            let mut nodes = BTreeMap::new();
            for (name, zone) in names {
                let mut n = node(name, &[(ZONE_LABEL, zone)], &[], "True");
                n.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_heartbeat_time =
                    Some(Time(ts(0)));
                nodes.insert(name.to_string(), n);
            }
            let renew = names.iter().map(|(n, _)| (n.to_string(), 0)).collect();
            Sim {
                nodes,
                renew,
                monitor: Monitor::new(cfg()),
                events: vec![],
                notices: vec![],
            }
        }
        /// Nodes in `alive` renew their lease at `t`.
        fn renew(&mut self, alive: &[&str], t: u64) {
            for n in alive {
                self.renew.insert(n.to_string(), t);
            }
        }
        fn set_ready(&mut self, name: &str, status: &str) {
            let c = &mut self
                .nodes
                .get_mut(name)
                .unwrap()
                .status
                .as_mut()
                .unwrap()
                .conditions
                .as_mut()
                .unwrap()[0];
            c.status = status.into();
        }
        fn pass(&mut self, t: u64) -> Plan {
            let inputs: Vec<NodeInput> = self
                .nodes
                .values()
                .map(|n| NodeInput {
                    node: n,
                    lease_renew: Some(self.renew[util::name(&n.metadata)].to_string()),
                })
                .collect();
            let plan = self
                .monitor
                .pass(&inputs, Duration::from_secs(t), ts(t as i64));
            for (n, c) in &plan.status {
                self.nodes
                    .get_mut(n)
                    .unwrap()
                    .status
                    .as_mut()
                    .unwrap()
                    .conditions = Some(c.clone());
            }
            for (n, ch) in &plan.taints {
                let node = self.nodes.get_mut(n).unwrap();
                let new = taints::edit_taints(taints::node_taints(node), &ch.add, &ch.remove);
                node.spec.as_mut().unwrap().taints = Some(new);
            }
            self.events
                .extend(plan.events.iter().map(|(n, r, m)| format!("{n} {r}: {m}")));
            self.notices.extend(plan.notices.iter().cloned());
            plan
        }
        /// Each node's taints as `key-suffix:effect`, sorted.
        fn taints(&self) -> Vec<String> {
            let mut out = vec![];
            for (name, n) in &self.nodes {
                for t in taints::node_taints(n) {
                    out.push(format!(
                        "{name} {}:{}",
                        t.key.trim_start_matches("node.kubernetes.io/"),
                        t.effect
                    ));
                }
            }
            out.sort();
            out
        }
        fn ready(&self, name: &str) -> String {
            condition(&self.nodes[name], "Ready")
                .unwrap()
                .status
                .clone()
        }
    }

    #[test]
    fn zone_states() {
        let check = |r, nr, want| assert_eq!(zone_state(r, nr, 0.55), want, "{r} ready {nr} not");
        check(0, 0, ZoneState::Normal);
        check(3, 0, ZoneState::Normal);
        check(0, 1, ZoneState::FullDisruption);
        check(1, 2, ZoneState::Normal);
        check(2, 3, ZoneState::PartialDisruption);
        check(5, 3, ZoneState::Normal);
    }

    #[test]
    fn token_bucket() {
        let s = Duration::from_secs;
        let mut b = TokenBucket::new(0.1, s(0));
        let fired: Vec<u64> = (0..=35).filter(|t| b.try_take(s(*t))).collect();
        assert_eq!(fired, vec![0, 10, 20, 30]);
        let mut b = TokenBucket::new(0.0, s(0));
        assert!(!b.try_take(s(100)));
    }

    #[test]
    fn a_silent_node_becomes_unknown_and_tainted() {
        let mut sim = Sim::new(&[("sim-0", ""), ("sim-1", ""), ("sim-2", ""), ("sim-3", "")]);
        // Everyone renews until t=20; sim-3 then stops.
        let mut t = 0;
        while t <= 100 {
            let alive: &[&str] = if t <= 20 {
                &["sim-0", "sim-1", "sim-2", "sim-3"]
            } else {
                &["sim-0", "sim-1", "sim-2"]
            };
            sim.renew(alive, t);
            sim.pass(t);
            if t == 60 {
                // Last change seen at t=20: 40 s later is not yet past the grace period.
                assert_eq!(sim.ready("sim-3"), "True", "t={t}");
            }
            t += 5;
        }
        assert_eq!(sim.ready("sim-3"), "Unknown");
        let c = condition(&sim.nodes["sim-3"], "Ready").unwrap();
        assert_eq!(c.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            c.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(
            c.last_heartbeat_time,
            Some(Time(ts(0))),
            "the heartbeat is kept"
        );
        for type_ in SILENT_CONDITIONS {
            assert_eq!(
                condition(&sim.nodes["sim-3"], type_).unwrap().status,
                "Unknown",
                "{type_}"
            );
        }
        assert_eq!(
            sim.taints(),
            vec![
                "sim-3 unreachable:NoExecute",
                "sim-3 unreachable:NoSchedule"
            ]
        );
        assert_eq!(
            sim.events,
            vec!["sim-3 NodeNotReady: Node sim-3 status is now: NodeNotReady"]
        );
        let ne = taints::node_taints(&sim.nodes["sim-3"])
            .iter()
            .find(|t| t.effect == NO_EXECUTE)
            .unwrap()
            .clone();
        assert_eq!(ne.time_added, Some(Time(ts(65))));

        // It comes back: conditions are the node's to write; the taints go at once.
        sim.set_ready("sim-3", "True");
        sim.renew(&["sim-0", "sim-1", "sim-2", "sim-3"], 105);
        let p = sim.pass(105);
        assert!(p.status.is_empty());
        assert!(sim.taints().is_empty(), "{:?}", sim.taints());
    }

    #[test]
    fn a_new_node_gets_the_startup_grace_period() {
        let mut sim = Sim::new(&[("sim-0", ""), ("sim-1", "")]);
        for t in (0..=60).step_by(5) {
            sim.renew(&["sim-0"], t);
            sim.pass(t);
        }
        assert_eq!(
            sim.ready("sim-1"),
            "True",
            "never seen changing: 60 s of grace"
        );
        sim.renew(&["sim-0"], 65);
        sim.pass(65);
        assert_eq!(sim.ready("sim-1"), "Unknown");
    }

    #[test]
    fn a_node_that_never_posted_status_is_judged_after_the_startup_grace() {
        let mut sim = Sim::new(&[("sim-0", ""), ("sim-1", "")]);
        sim.nodes
            .get_mut("sim-1")
            .unwrap()
            .status
            .as_mut()
            .unwrap()
            .conditions = None;
        for t in (0..=60).step_by(5) {
            sim.renew(&["sim-0"], t);
            sim.pass(t);
            assert!(sim.taints().is_empty(), "t={t}: {:?}", sim.taints());
        }
        sim.renew(&["sim-0"], 65);
        sim.pass(65);
        let c = condition(&sim.nodes["sim-1"], "Ready").unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("Unknown", Some("NodeStatusNeverUpdated"))
        );
        assert_eq!(
            sim.taints(),
            vec![
                "sim-1 unreachable:NoExecute",
                "sim-1 unreachable:NoSchedule"
            ]
        );
    }

    #[test]
    fn not_ready_nodes_are_tainted_not_ready_and_swapped() {
        let mut sim = Sim::new(&[("sim-0", ""), ("sim-1", ""), ("sim-2", "")]);
        sim.set_ready("sim-1", "False");
        sim.pass(0);
        assert_eq!(
            sim.taints(),
            vec!["sim-1 not-ready:NoExecute", "sim-1 not-ready:NoSchedule"]
        );
        // Then it goes silent: unreachable replaces not-ready without waiting for a token.
        for t in (5..=70).step_by(5) {
            sim.renew(&["sim-0", "sim-2"], t);
            sim.pass(t);
        }
        assert_eq!(
            sim.taints(),
            vec![
                "sim-1 unreachable:NoExecute",
                "sim-1 unreachable:NoSchedule"
            ]
        );
    }

    #[test]
    fn no_execute_tainting_is_rate_limited_per_zone() {
        let names: Vec<String> = (0..10).map(|i| format!("sim-{i}")).collect();
        let zoned: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
        let mut sim = Sim::new(&zoned);
        // Three nodes report NotReady at once (3 of 10: a normal zone).
        for n in ["sim-1", "sim-2", "sim-3"] {
            sim.set_ready(n, "False");
        }
        let mut tainted_at = vec![];
        for t in 0..=25 {
            let p = sim.pass(t);
            for (n, ch) in &p.taints {
                if ch.add.iter().any(|x| x.effect == NO_EXECUTE) {
                    tainted_at.push((n.clone(), t));
                }
            }
            // NoSchedule taints are not rate limited.
            if t == 0 {
                assert_eq!(
                    sim.taints()
                        .iter()
                        .filter(|s| s.ends_with("NoSchedule"))
                        .count(),
                    3
                );
            }
        }
        assert_eq!(
            tainted_at,
            vec![
                ("sim-1".to_string(), 0),
                ("sim-2".to_string(), 10),
                ("sim-3".to_string(), 20)
            ]
        );
    }

    #[test]
    fn partial_disruption_of_a_small_zone_stops_no_execute_tainting() {
        let mut sim = Sim::new(&[
            ("a-0", "a"),
            ("a-1", "a"),
            ("a-2", "a"),
            ("a-3", "a"),
            ("b-0", "b"),
        ]);
        for n in ["a-0", "a-1", "a-2"] {
            sim.set_ready(n, "False");
        }
        for t in 0..30 {
            sim.pass(t);
        }
        assert!(
            sim.taints().iter().all(|s| s.ends_with("NoSchedule")),
            "{:?}",
            sim.taints()
        );
        assert!(
            sim.notices.iter().any(|n| n.contains("PartialDisruption")),
            "{:?}",
            sim.notices
        );
    }

    #[test]
    fn full_disruption_adds_no_no_execute_taints_and_lifts_them() {
        let mut sim = Sim::new(&[("sim-0", ""), ("sim-1", "")]);
        sim.set_ready("sim-0", "False");
        sim.pass(0);
        assert_eq!(
            sim.taints(),
            vec!["sim-0 not-ready:NoExecute", "sim-0 not-ready:NoSchedule"]
        );
        // Every node silent: Unknown and NoSchedule-tainted, but no NoExecute taint, and
        // the one added before is lifted.
        for t in (5..=120).step_by(5) {
            sim.pass(t);
        }
        assert_eq!(sim.ready("sim-0"), "Unknown");
        assert_eq!(sim.ready("sim-1"), "Unknown");
        assert_eq!(
            sim.taints(),
            vec![
                "sim-0 unreachable:NoSchedule",
                "sim-1 unreachable:NoSchedule"
            ]
        );
        assert_eq!(
            sim.notices[0],
            "Controller detected that all Nodes are not-Ready. Entering master disruption mode."
        );
        // sim-1 comes back: the mode ends and the node still Unknown is tainted again (a
        // node not yet judged would get a fresh grace period).
        sim.set_ready("sim-1", "True");
        sim.renew(&["sim-1"], 125);
        sim.pass(125);
        assert!(
            sim.notices
                .iter()
                .any(|n| n.contains("Exiting master disruption mode")),
            "{:?}",
            sim.notices
        );
        assert_eq!(
            sim.taints(),
            vec![
                "sim-0 unreachable:NoExecute",
                "sim-0 unreachable:NoSchedule"
            ]
        );
    }

    #[test]
    fn condition_taints_follow_pressure_and_cordon() {
        let mut sim = Sim::new(&[("sim-0", "")]);
        let n = sim.nodes.get_mut("sim-0").unwrap();
        n.spec.as_mut().unwrap().unschedulable = Some(true);
        n.status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()
            .push(NodeCondition {
                type_: "DiskPressure".into(),
                status: "True".into(),
                ..Default::default()
            });
        sim.pass(0);
        assert_eq!(
            sim.taints(),
            vec![
                "sim-0 disk-pressure:NoSchedule",
                "sim-0 unschedulable:NoSchedule"
            ]
        );
        sim.nodes
            .get_mut("sim-0")
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .unschedulable = None;
        sim.pass(1);
        assert_eq!(sim.taints(), vec!["sim-0 disk-pressure:NoSchedule"]);
    }
}
