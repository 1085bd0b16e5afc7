//! The EndpointSlice controller and the legacy Endpoints controller: for every Service with
//! a selector, the pods it selects become endpoints (address, ready/serving/terminating,
//! nodeName, zone, targetRef), grouped by their resolved ports (a named targetPort resolves
//! per pod). Slices hold at most `--max-endpoints-per-slice` endpoints and are updated in
//! place (an endpoint stays in its slice; new ones fill free room before a slice is
//! created); a Service without endpoints keeps one empty placeholder slice, as Kubernetes
//! does. The v1 Endpoints object mirrors the same pods (subsets, capped at 1000 addresses
//! with `endpoints.kubernetes.io/over-capacity: truncated`).

use crate::error::{Context, ControllerError};
use crate::informers::{Informer, Kind};
use crate::replicaset::delete_with_uid;
use crate::util::{self, Labels};
use crate::workqueue::WorkQueue;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, Node, ObjectReference,
    Pod, Service,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The legacy Endpoints object's cap.
pub const MAX_ENDPOINTS_ADDRESSES: usize = 1000;
const SLICE_RESOURCE: Resource = <EndpointSlice as Kind>::RESOURCE;
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// One desired endpoint with the ports it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub endpoint: Endpoint,
    pub ports: Vec<EndpointPort>,
}

fn service_selector(svc: &Service) -> Option<&Labels> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
}

/// A Service port's target on `pod`: a number, or a named container port.
fn resolve_port(pod: &Pod, target: Option<&IntOrString>, port: i32, protocol: &str) -> Option<i32> {
    match target {
        None => Some(port),
        Some(IntOrString::Int(n)) => Some(if *n == 0 { port } else { *n }),
        Some(IntOrString::String(name)) => pod.spec.as_ref()?.containers.iter().find_map(|c| {
            c.ports.iter().flatten().find_map(|p| {
                (p.name.as_deref() == Some(name.as_str())
                    && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                    .then_some(p.container_port)
            })
        }),
    }
}

/// The endpoints a Service should have (Kubernetes' `podToEndpoint`), sorted by address.
pub fn desired_endpoints(
    svc: &Service,
    pods: &[Arc<Pod>],
    nodes: &HashMap<String, Arc<Node>>,
) -> Vec<Desired> {
    let Some(sel) = service_selector(svc) else {
        return Vec::new();
    };
    let ns = util::namespace(&svc.metadata);
    let svc_name = util::name(&svc.metadata);
    let mut out = Vec::new();
    for p in pods {
        if util::namespace(&p.metadata) != ns
            || !util::map_selector_matches(sel, p.metadata.labels.as_ref())
        {
            continue;
        }
        let Some(ip) = pod_ip(p) else { continue };
        if matches!(util::phase(p), "Succeeded" | "Failed") || ip.contains(':') {
            continue;
        }
        let terminating = p.metadata.deletion_timestamp.is_some();
        let serving = util::is_pod_ready(p) || publish_not_ready(svc);
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
        let zone = node
            .as_ref()
            .and_then(|n| nodes.get(n))
            .and_then(|n| n.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned());
        let hostname = p.spec.as_ref().and_then(|s| {
            (s.subdomain.as_deref() == Some(svc_name) && s.hostname.is_some())
                .then(|| s.hostname.clone())
                .flatten()
        });
        let mut ports = Vec::new();
        for sp in svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
        {
            let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".into());
            if let Some(port) = resolve_port(p, sp.target_port.as_ref(), sp.port, &protocol) {
                ports.push(EndpointPort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    port: Some(port),
                    protocol: Some(protocol),
                    app_protocol: sp.app_protocol.clone(),
                });
            }
        }
        out.push(Desired {
            endpoint: Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(serving && !terminating),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                hostname,
                node_name: node,
                zone,
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    namespace: Some(ns.into()),
                    name: p.metadata.name.clone(),
                    uid: p.metadata.uid.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ports,
        });
    }
    out.sort_by(|a, b| a.endpoint.addresses.cmp(&b.endpoint.addresses));
    out
}

fn ports_key(ports: &[EndpointPort]) -> String {
    let mut ps: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.name.as_deref().unwrap_or(""),
                p.port.unwrap_or(0),
                p.protocol.as_deref().unwrap_or(""),
                p.app_protocol.as_deref().unwrap_or("")
            )
        })
        .collect();
    ps.sort();
    ps.join(",")
}

fn endpoint_key(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_else(|| e.addresses.join(","))
}

/// What the slice reconciler does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlicePlan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<ObjectMeta>,
}

/// Labels every slice of `svc` carries.
fn slice_labels(svc: &Service) -> Labels {
    let mut l: Labels = svc.metadata.labels.clone().unwrap_or_default();
    l.remove(HEADLESS_LABEL);
    l.insert(SERVICE_NAME_LABEL.into(), util::name(&svc.metadata).into());
    l.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        l.insert(HEADLESS_LABEL.into(), String::new());
    }
    l
}

fn new_slice(svc: &Service, ports: &[EndpointPort], endpoints: Vec<Endpoint>) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", util::name(&svc.metadata))),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: util::name(&svc.metadata).into(),
                uid: util::uid(&svc.metadata).into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// Reconciles a Service's slices (`existing`: the IPv4 slices it owns) against `desired`
/// with minimal churn.
pub fn plan_slices(
    svc: &Service,
    desired: &[Desired],
    existing: &[Arc<EndpointSlice>],
    max_per_slice: usize,
) -> SlicePlan {
    let max = max_per_slice.max(1);
    let mut plan = SlicePlan::default();
    // Desired, by port set, keyed by endpoint identity.
    let mut groups: BTreeMap<String, (Vec<EndpointPort>, BTreeMap<String, Endpoint>)> =
        BTreeMap::new();
    for d in desired {
        let g = groups
            .entry(ports_key(&d.ports))
            .or_insert_with(|| (d.ports.clone(), BTreeMap::new()));
        g.1.insert(endpoint_key(&d.endpoint), d.endpoint.clone());
    }
    let want_labels = slice_labels(svc);
    let mut existing: Vec<&Arc<EndpointSlice>> = existing.iter().collect();
    existing.sort_by(|a, b| util::name(&a.metadata).cmp(util::name(&b.metadata)));
    if groups.is_empty() {
        // The placeholder: one slice without endpoints or ports.
        let mut kept = false;
        for s in existing {
            if !kept && s.ports.as_ref().is_none_or(|p| p.is_empty()) && s.endpoints.is_empty() {
                kept = true;
                if s.metadata.labels.as_ref() != Some(&want_labels) {
                    let mut u = (**s).clone();
                    u.metadata.labels = Some(want_labels.clone());
                    plan.update.push(u);
                }
            } else {
                plan.delete.push(s.metadata.clone());
            }
        }
        if !kept {
            plan.create.push(new_slice(svc, &[], Vec::new()));
        }
        return plan;
    }
    // Slices kept per group, as (slice, endpoints, changed).
    let mut kept: BTreeMap<String, Vec<(EndpointSlice, bool)>> = BTreeMap::new();
    for s in existing {
        let key = ports_key(s.ports.as_deref().unwrap_or(&[]));
        let Some((_, want)) = groups.get_mut(&key) else {
            plan.delete.push(s.metadata.clone());
            continue;
        };
        let mut eps = Vec::new();
        for e in &s.endpoints {
            if let Some(d) = want.remove(&endpoint_key(e)) {
                eps.push(d);
            }
        }
        if eps.is_empty() {
            plan.delete.push(s.metadata.clone());
            continue;
        }
        eps.truncate(max);
        let mut u = (**s).clone();
        let changed = u.endpoints != eps || u.metadata.labels.as_ref() != Some(&want_labels);
        u.endpoints = eps;
        u.metadata.labels = Some(want_labels.clone());
        kept.entry(key).or_default().push((u, changed));
    }
    for (key, (ports, rest)) in groups {
        let slices = kept.entry(key).or_default();
        let mut rest: Vec<Endpoint> = rest.into_values().collect();
        // Fill changed slices first (they are written anyway), then the fullest.
        slices.sort_by_key(|(s, changed)| (!*changed, std::cmp::Reverse(s.endpoints.len())));
        for (s, changed) in slices.iter_mut() {
            while s.endpoints.len() < max && !rest.is_empty() {
                s.endpoints.push(rest.remove(0));
                *changed = true;
            }
        }
        for (s, changed) in slices.drain(..) {
            if changed {
                plan.update.push(s);
            }
        }
        for chunk in rest.chunks(max) {
            plan.create.push(new_slice(svc, &ports, chunk.to_vec()));
        }
    }
    plan
}

/// The legacy Endpoints subsets (repacked: one subset per port set, addresses sorted by
/// IP), and whether they were truncated to [`MAX_ENDPOINTS_ADDRESSES`].
pub fn endpoints_subsets(svc: &Service, desired: &[Desired]) -> (Vec<EndpointSubset>, bool) {
    let tolerate = publish_not_ready(svc);
    // ports key -> (ports, ready addresses, not-ready addresses)
    type Group = (Vec<CorePort>, Vec<EndpointAddress>, Vec<EndpointAddress>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut total = 0;
    let mut truncated = false;
    // Ready addresses first, so truncation keeps them.
    let mut ordered: Vec<&Desired> = desired.iter().collect();
    ordered.sort_by_key(|d| {
        !d.endpoint
            .conditions
            .as_ref()
            .and_then(|c| c.ready)
            .unwrap_or(false)
    });
    for d in ordered {
        let c = d.endpoint.conditions.clone().unwrap_or_default();
        if c.terminating == Some(true) && !tolerate {
            continue;
        }
        if total >= MAX_ENDPOINTS_ADDRESSES {
            truncated = true;
            continue;
        }
        total += 1;
        let g = groups.entry(ports_key(&d.ports)).or_insert_with(|| {
            let ports = d
                .ports
                .iter()
                .map(|p| CorePort {
                    name: p.name.clone().filter(|n| !n.is_empty()),
                    port: p.port.unwrap_or(0),
                    protocol: p.protocol.clone(),
                    app_protocol: p.app_protocol.clone(),
                })
                .collect();
            (ports, Vec::new(), Vec::new())
        });
        let addr = EndpointAddress {
            ip: d.endpoint.addresses[0].clone(),
            hostname: d.endpoint.hostname.clone(),
            node_name: d.endpoint.node_name.clone(),
            target_ref: d.endpoint.target_ref.clone(),
        };
        if c.ready == Some(true) || tolerate {
            g.1.push(addr);
        } else {
            g.2.push(addr);
        }
    }
    let subsets = groups
        .into_values()
        .filter(|(ports, _, _)| !ports.is_empty())
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: Some(ports),
            }
        })
        .collect();
    (subsets, truncated)
}

/// Remembers the slices a sync wrote until the informer shows them, so a second sync does
/// not act on a stale cache (Kubernetes' endpointSliceTracker, by resourceVersion).
#[derive(Default)]
struct Tracker {
    pending: Mutex<HashMap<String, (Vec<Write>, Instant)>>,
}

/// A slice written: its name and resourceVersion (None: deleted).
type Write = (String, Option<u64>);

const TRACKER_TTL: Duration = Duration::from_secs(10);

fn rv(meta: &ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Tracker {
    fn stale(&self, svc_key: &str, slices: &Informer<EndpointSlice>, ns: &str) -> bool {
        let mut g = self.pending.lock();
        let Some((writes, at)) = g.get(svc_key) else {
            return false;
        };
        if at.elapsed() > TRACKER_TTL {
            g.remove(svc_key);
            return false;
        }
        let seen = writes
            .iter()
            .all(|(name, want)| match (slices.get_in(ns, name), want) {
                (Some(s), Some(v)) => rv(&s.metadata) >= *v,
                (None, None) => true,
                _ => false,
            });
        if seen {
            g.remove(svc_key);
        }
        !seen
    }
    fn record(&self, svc_key: &str, writes: Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        self.pending
            .lock()
            .insert(svc_key.into(), (writes, Instant::now()));
    }
}

struct Shared {
    client: Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
}

impl Shared {
    fn nodes_by_name(&self) -> HashMap<String, Arc<Node>> {
        self.nodes
            .list()
            .into_iter()
            .map(|n| (util::name(&n.metadata).to_string(), n))
            .collect()
    }

    /// Services in the pod's namespace whose selector matches the old or new labels.
    fn services_for(&self, old: Option<&Pod>, new: Option<&Pod>) -> Vec<String> {
        let Some(ns) = old.or(new).map(|p| util::namespace(&p.metadata)) else {
            return Vec::new();
        };
        let relevant = |p: Option<&Pod>, sel: &Labels| {
            p.is_some_and(|p| util::map_selector_matches(sel, p.metadata.labels.as_ref()))
        };
        self.services
            .list_in(ns)
            .iter()
            .filter(|s| {
                service_selector(s).is_some_and(|sel| relevant(old, sel) || relevant(new, sel))
            })
            .map(|s| util::key(&s.metadata))
            .collect()
    }

    /// Wires service and pod changes to `queue`.
    fn wire(self: &Arc<Self>, queue: &Arc<WorkQueue>) {
        let q = queue.clone();
        self.services.on_change(move |old, new| {
            if let Some(s) = new.or(old) {
                q.add(&util::key(&s.metadata));
            }
        });
        let q = queue.clone();
        let w = Arc::downgrade(self);
        self.pods.on_change(move |old, new| {
            let Some(s) = w.upgrade() else { return };
            if let (Some(o), Some(n)) = (old, new) {
                // Only what endpoints show: labels, IP, readiness, node, deletion, phase.
                let same = o.metadata.labels == n.metadata.labels
                    && pod_ip(o) == pod_ip(n)
                    && util::is_pod_ready(o) == util::is_pod_ready(n)
                    && o.metadata.deletion_timestamp.is_some()
                        == n.metadata.deletion_timestamp.is_some()
                    && util::phase(o) == util::phase(n)
                    && o.spec.as_ref().and_then(|s| s.node_name.as_ref())
                        == n.spec.as_ref().and_then(|s| s.node_name.as_ref());
                if same {
                    return;
                }
            }
            for k in s.services_for(old.map(|p| &**p), new.map(|p| &**p)) {
                q.add(&k);
            }
        });
    }
}

pub struct SliceController {
    shared: Arc<Shared>,
    slices: Arc<Informer<EndpointSlice>>,
    tracker: Tracker,
    queue: Arc<WorkQueue>,
    max_per_slice: usize,
}

fn shared(t: &mut Term) -> Arc<Shared> {
    Arc::new(Shared {
        client: t.client.clone(),
        services: t.informers.get::<Service>(),
        pods: t.informers.get::<Pod>(),
        nodes: t.informers.get::<Node>(),
    })
}

pub fn start_slices(t: &mut Term) {
    let queue = t.queue("endpoint_slice");
    let sh = shared(t);
    sh.wire(&queue);
    let c = Arc::new(SliceController {
        shared: sh,
        slices: t.informers.get::<EndpointSlice>(),
        tracker: Tracker::default(),
        queue: queue.clone(),
        max_per_slice: t.config.max_endpoints_per_slice,
    });
    let q = queue.clone();
    c.slices.on_change(move |old, new| {
        // A slice changed or deleted by someone else: reconcile its Service.
        if let Some(s) = new.or(old) {
            let labels = s.metadata.labels.as_ref();
            if labels
                .and_then(|l| l.get(MANAGED_BY_LABEL))
                .map(String::as_str)
                == Some(MANAGED_BY)
            {
                if let Some(svc) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                    q.add(&format!("{}/{svc}", util::namespace(&s.metadata)));
                }
            }
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.shared
            .services
            .list()
            .iter()
            .map(|s| util::key(&s.metadata))
            .collect()
    });
    let workers = t.config.concurrent_service_endpoint_syncs;
    t.spawn_workers(&queue, workers, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

impl SliceController {
    fn owned_slices(&self, ns: &str, svc: &Service) -> Vec<Arc<EndpointSlice>> {
        let name = util::name(&svc.metadata);
        self.slices
            .list_in(ns)
            .into_iter()
            .filter(|s| {
                let l = s.metadata.labels.as_ref();
                l.and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .map(String::as_str)
                    == Some(name)
                    && l.and_then(|l| l.get(MANAGED_BY_LABEL)).map(String::as_str)
                        == Some(MANAGED_BY)
                    && s.address_type == "IPv4"
            })
            .collect()
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let (ns, _) = util::split_key(key);
        let Some(svc) = self.shared.services.get(key) else {
            // Slices go with the Service (ownerReference, garbage collector).
            return Ok(());
        };
        if service_selector(&svc).is_none()
            || svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
        {
            return Ok(());
        }
        if self.tracker.stale(key, &self.slices, ns) {
            self.queue.add_after(key, Duration::from_millis(100));
            return Ok(());
        }
        let desired = desired_endpoints(
            &svc,
            &self.shared.pods.list_in(ns),
            &self.shared.nodes_by_name(),
        );
        let plan = plan_slices(
            &svc,
            &desired,
            &self.owned_slices(ns, &svc),
            self.max_per_slice,
        );
        let client = &self.shared.client;
        let mut writes = Vec::new();
        let mut errors = Vec::new();
        for s in &plan.update {
            let name = util::name(&s.metadata);
            match client
                .replace::<EndpointSlice>(&SLICE_RESOURCE, ns, name, None, s)
                .await
            {
                Ok(w) => writes.push((name.to_string(), Some(rv(&w.metadata)))),
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("update endpoint slice {ns}/{name}"),
                    source: e,
                }),
            }
        }
        for s in &plan.create {
            match client.create::<EndpointSlice>(&SLICE_RESOURCE, ns, s).await {
                Ok(w) => writes.push((util::name(&w.metadata).to_string(), Some(rv(&w.metadata)))),
                Err(e) => errors.push(ControllerError::Api {
                    action: format!("create endpoint slice for service {key}"),
                    source: e,
                }),
            }
        }
        for m in &plan.delete {
            match delete_with_uid(client, &SLICE_RESOURCE, m, None).await {
                Ok(()) => writes.push((util::name(m).to_string(), None)),
                Err(e) => errors.push(e),
            }
        }
        self.tracker.record(key, writes);
        ControllerError::collect(errors)
    }
}

pub struct EndpointsController {
    shared: Arc<Shared>,
    endpoints: Arc<Informer<Endpoints>>,
}

pub fn start_endpoints(t: &mut Term) {
    let queue = t.queue("endpoint");
    let sh = shared(t);
    sh.wire(&queue);
    let c = Arc::new(EndpointsController {
        shared: sh,
        endpoints: t.informers.get::<Endpoints>(),
    });
    let q = queue.clone();
    c.endpoints.on_change(move |old, new| {
        if let (Some(e), None) = (old, new) {
            q.add(&util::key(&e.metadata));
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.shared
            .services
            .list()
            .iter()
            .map(|s| util::key(&s.metadata))
            .collect()
    });
    let workers = t.config.concurrent_endpoint_syncs;
    t.spawn_workers(&queue, workers, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

/// The Endpoints object a Service should have, from its current one (if any).
pub fn desired_endpoints_object(
    svc: &Service,
    desired: &[Desired],
    current: Option<&Endpoints>,
) -> Endpoints {
    let (subsets, truncated) = endpoints_subsets(svc, desired);
    let mut labels: Labels = svc.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS_LABEL);
    labels.insert(SKIP_MIRROR_LABEL.into(), "true".into());
    if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    let mut annotations = current
        .and_then(|e| e.metadata.annotations.clone())
        .unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    let mut meta = current
        .map(|e| e.metadata.clone())
        .unwrap_or_else(|| ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            ..Default::default()
        });
    meta.labels = Some(labels);
    meta.annotations = (!annotations.is_empty()).then_some(annotations);
    Endpoints {
        metadata: meta,
        subsets: (!subsets.is_empty()).then_some(subsets),
    }
}

impl EndpointsController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let (ns, name) = util::split_key(key);
        let Some(svc) = self.shared.services.get(key) else {
            // The Service is gone: so is its Endpoints object.
            if let Some(e) = self.endpoints.get(key) {
                if e.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SKIP_MIRROR_LABEL))
                    .is_some()
                {
                    delete_with_uid(&self.shared.client, &Resource::ENDPOINTS, &e.metadata, None)
                        .await?;
                }
            }
            return Ok(());
        };
        if service_selector(&svc).is_none() {
            return Ok(());
        }
        let desired = desired_endpoints(
            &svc,
            &self.shared.pods.list_in(ns),
            &self.shared.nodes_by_name(),
        );
        let current = self.endpoints.get(key);
        let want = desired_endpoints_object(&svc, &desired, current.as_deref());
        let client = &self.shared.client;
        match current {
            Some(cur)
                if cur.subsets == want.subsets
                    && cur.metadata.labels == want.metadata.labels
                    && cur.metadata.annotations == want.metadata.annotations =>
            {
                Ok(())
            }
            Some(_) => {
                client
                    .replace::<Value>(&Resource::ENDPOINTS, ns, name, None, &want)
                    .await
                    .ctx(|| format!("update endpoints {key}"))?;
                Ok(())
            }
            None => match client
                .create::<Value>(&Resource::ENDPOINTS, ns, &want)
                .await
            {
                Ok(_) => Ok(()),
                // Not in our cache yet: the informer event brings another sync.
                Err(e) if e.is_already_exists() => Ok(()),
                Err(e) => Err(e).ctx(|| format!("create endpoints {key}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testutil::{labels, pod};
    use k8s_openapi::api::core::v1::{Container, ContainerPort, ServicePort, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn svc(target: IntOrString) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("svc-uid".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(labels(&[("app", "web")])),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    protocol: Some("TCP".into()),
                    target_port: Some(target),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A web pod with an IP, on `node`, ready or not, with a container port named "http"
    /// at `http_port`.
    fn web_pod(i: u32, node: &str, ready: bool, http_port: i32) -> Arc<Pod> {
        let mut p = pod(
            &format!("web-{i}"),
            "Running",
            node,
            ready.then_some(1),
            0,
            0,
        );
        p.status.as_mut().unwrap().pod_ip = Some(format!("10.244.{}.{}", i / 250, i % 250 + 1));
        p.spec.as_mut().unwrap().containers = vec![Container {
            name: "c".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: http_port,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }];
        Arc::new(p)
    }

    fn zones() -> HashMap<String, Arc<Node>> {
        let n = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(labels(&[(ZONE_LABEL, "zone-a")])),
                ..Default::default()
            },
            ..Default::default()
        };
        [("n1".to_string(), Arc::new(n))].into()
    }

    #[test]
    fn endpoints_from_pods() {
        let mut gone = (*web_pod(3, "n1", true, 8080)).clone();
        gone.metadata.deletion_timestamp = Some(Time(crate::util::testutil::ts(0)));
        let mut no_ip = (*web_pod(4, "n1", true, 8080)).clone();
        no_ip.status.as_mut().unwrap().pod_ip = None;
        let mut other = (*web_pod(5, "n1", true, 8080)).clone();
        other.metadata.labels = Some(labels(&[("app", "db")]));
        let mut done = (*web_pod(6, "n1", true, 8080)).clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let pods = vec![
            web_pod(1, "n1", true, 8080),
            web_pod(2, "n2", false, 8080),
            Arc::new(gone),
            Arc::new(no_ip),
            Arc::new(other),
            Arc::new(done),
        ];
        let d = desired_endpoints(&svc(IntOrString::String("http".into())), &pods, &zones());
        type Row = (
            String,
            Option<bool>,
            Option<bool>,
            Option<bool>,
            Option<String>,
            Option<i32>,
        );
        let got: Vec<Row> = d
            .iter()
            .map(|d| {
                let c = d.endpoint.conditions.clone().unwrap();
                (
                    d.endpoint.addresses[0].clone(),
                    c.ready,
                    c.serving,
                    c.terminating,
                    d.endpoint.zone.clone(),
                    d.ports[0].port,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "10.244.0.2".into(),
                    Some(true),
                    Some(true),
                    Some(false),
                    Some("zone-a".into()),
                    Some(8080)
                ),
                (
                    "10.244.0.3".into(),
                    Some(false),
                    Some(false),
                    Some(false),
                    None,
                    Some(8080)
                ),
                (
                    "10.244.0.4".into(),
                    Some(false),
                    Some(true),
                    Some(true),
                    Some("zone-a".into()),
                    Some(8080)
                ),
            ]
        );
        assert_eq!(
            d[0].endpoint.target_ref.as_ref().unwrap().name.as_deref(),
            Some("web-1")
        );
        assert_eq!(d[0].endpoint.node_name.as_deref(), Some("n1"));
        // A numeric targetPort is used as is.
        let d = desired_endpoints(&svc(IntOrString::Int(9090)), &pods[..1], &zones());
        assert_eq!(d[0].ports[0].port, Some(9090));
    }

    fn apply(plan: &SlicePlan, existing: &mut Vec<Arc<EndpointSlice>>, next: &mut u32) {
        for m in &plan.delete {
            existing.retain(|s| s.metadata.name != m.name);
        }
        for u in &plan.update {
            let i = existing
                .iter()
                .position(|s| s.metadata.name == u.metadata.name)
                .unwrap();
            existing[i] = Arc::new(u.clone());
        }
        for c in &plan.create {
            let mut c = c.clone();
            *next += 1;
            c.metadata.name = Some(format!("web-{next}"));
            existing.push(Arc::new(c));
        }
    }

    #[test]
    fn slices_fill_split_and_churn_little() {
        let s = svc(IntOrString::String("http".into()));
        let pods: Vec<Arc<Pod>> = (1..=250).map(|i| web_pod(i, "n1", true, 8080)).collect();
        let mut existing = Vec::new();
        let mut next = 0;
        let p = plan_slices(&s, &desired_endpoints(&s, &pods, &zones()), &existing, 100);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (3, 0, 0));
        assert_eq!(
            p.create
                .iter()
                .map(|s| s.endpoints.len())
                .collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let l = p.create[0].metadata.labels.as_ref().unwrap();
        assert_eq!(l.get(SERVICE_NAME_LABEL).map(String::as_str), Some("web"));
        assert_eq!(
            l.get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MANAGED_BY)
        );
        assert_eq!(p.create[0].address_type, "IPv4");
        assert_eq!(
            p.create[0].metadata.owner_references.as_ref().unwrap()[0].kind,
            "Service"
        );
        assert_eq!(p.create[0].metadata.generate_name.as_deref(), Some("web-"));
        apply(&p, &mut existing, &mut next);
        // Steady: nothing to do.
        let p = plan_slices(&s, &desired_endpoints(&s, &pods, &zones()), &existing, 100);
        assert_eq!(p, SlicePlan::default());
        // One pod becomes unready: exactly one slice is updated.
        let mut pods2 = pods.clone();
        pods2[10] = web_pod(11, "n1", false, 8080);
        let p = plan_slices(&s, &desired_endpoints(&s, &pods2, &zones()), &existing, 100);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        // One pod more: it fills the slice with room, no new slice.
        pods2.push(web_pod(251, "n1", true, 8080));
        let p = plan_slices(&s, &desired_endpoints(&s, &pods2, &zones()), &existing, 100);
        assert_eq!(p.create.len(), 0);
        assert!(
            p.update.iter().any(|s| s.endpoints.len() == 51),
            "the slice with room takes the new endpoint"
        );
        apply(&p, &mut existing, &mut next);
        // Everything gone: one empty placeholder slice remains.
        let p = plan_slices(&s, &[], &existing, 100);
        assert_eq!((p.create.len(), p.delete.len()), (1, 3));
        assert!(p.create[0].endpoints.is_empty() && p.create[0].ports.is_none());
        apply(&p, &mut existing, &mut next);
        let p = plan_slices(&s, &[], &existing, 100);
        assert_eq!(p, SlicePlan::default());
    }

    #[test]
    fn different_named_ports_split_slices() {
        let s = svc(IntOrString::String("http".into()));
        let pods = vec![web_pod(1, "n1", true, 8080), web_pod(2, "n1", true, 9090)];
        let p = plan_slices(&s, &desired_endpoints(&s, &pods, &zones()), &[], 100);
        let mut ports: Vec<i32> = p
            .create
            .iter()
            .map(|s| s.ports.as_ref().unwrap()[0].port.unwrap())
            .collect();
        ports.sort();
        assert_eq!(ports, vec![8080, 9090]);
    }

    #[test]
    fn legacy_endpoints() {
        let s = svc(IntOrString::Int(8080));
        let mut gone = (*web_pod(3, "n1", true, 8080)).clone();
        gone.metadata.deletion_timestamp = Some(Time(crate::util::testutil::ts(0)));
        let pods = vec![
            web_pod(2, "n1", false, 8080),
            web_pod(1, "n1", true, 8080),
            Arc::new(gone),
        ];
        let e = desired_endpoints_object(&s, &desired_endpoints(&s, &pods, &zones()), None);
        let subsets = e.subsets.unwrap();
        assert_eq!(subsets.len(), 1);
        let ips = |a: &Option<Vec<EndpointAddress>>| {
            a.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.244.0.3"]);
        let port = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
        assert_eq!(
            e.metadata
                .labels
                .unwrap()
                .get(SKIP_MIRROR_LABEL)
                .map(String::as_str),
            Some("true")
        );
        assert!(e.metadata.annotations.is_none());
        // Over capacity: 1000 addresses, ready first, and the annotation.
        let many: Vec<Arc<Pod>> = (1..=1100)
            .map(|i| web_pod(i, "n1", i % 2 == 0, 8080))
            .collect();
        let e = desired_endpoints_object(&s, &desired_endpoints(&s, &many, &zones()), None);
        let sub = &e.subsets.unwrap()[0];
        assert_eq!(sub.addresses.as_ref().unwrap().len(), 550);
        assert_eq!(sub.not_ready_addresses.as_ref().unwrap().len(), 450);
        assert_eq!(
            e.metadata
                .annotations
                .unwrap()
                .get(OVER_CAPACITY)
                .map(String::as_str),
            Some("truncated")
        );
    }
}
