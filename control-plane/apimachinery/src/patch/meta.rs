//! Patch metadata: for each field, how a strategic merge patch treats it (the
//! `patchStrategy` and `patchMergeKey` Go struct tags of k8s.io/api), and the built-in
//! table for the kinds Berth serves.
//!
//! Metadata is a tree of field names; the elements of a list share their field's subtree.
//! Fields not in the tree have no strategy: objects merge, lists are replaced.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A field's `patchStrategy` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchStrategy {
    /// `merge`: a list is merged (by its merge key for objects, as a set for scalars).
    Merge,
    /// `replace`: an object is replaced, not merged.
    Replace,
    /// `retainKeys`: a union; clients send `$retainKeys` (the server honours that directive
    /// wherever it appears, whatever the metadata).
    RetainKeys,
    /// `merge,retainKeys`: a merged list whose elements are unions.
    MergeRetainKeys,
}

/// Metadata of one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMeta {
    strategy: Option<PatchStrategy>,
    merge_key: Option<String>,
    nested: PatchMeta,
}

impl FieldMeta {
    /// The field's strategy, if it has one.
    pub fn strategy(&self) -> Option<PatchStrategy> {
        self.strategy
    }

    /// The key that identifies elements of a merged list of objects.
    pub fn merge_key(&self) -> Option<&str> {
        self.merge_key.as_deref()
    }

    /// Metadata of the field's own fields (of each element, for a list).
    pub fn nested(&self) -> &PatchMeta {
        &self.nested
    }

    /// Whether a list in this field is merged rather than replaced.
    pub fn merges_lists(&self) -> bool {
        matches!(
            self.strategy,
            Some(PatchStrategy::Merge | PatchStrategy::MergeRetainKeys)
        )
    }

    /// Whether an object in this field is replaced rather than merged.
    pub fn replaces_objects(&self) -> bool {
        self.strategy == Some(PatchStrategy::Replace)
    }
}

/// Patch metadata of an object type: its fields' strategies, recursively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchMeta {
    fields: BTreeMap<String, FieldMeta>,
}

static EMPTY: OnceLock<PatchMeta> = OnceLock::new();

impl PatchMeta {
    /// Metadata without any strategy (strategic merge then behaves as a merge patch that
    /// also understands the `$` directives).
    pub fn new() -> PatchMeta {
        PatchMeta::default()
    }

    /// Adds a strategy at a dotted path (`spec.template.spec.containers`); list elements
    /// are not indexed (`spec.containers.ports`).
    pub fn with(
        mut self,
        path: &str,
        strategy: PatchStrategy,
        merge_key: Option<&str>,
    ) -> PatchMeta {
        self.set(path, strategy, merge_key);
        self
    }

    /// [`PatchMeta::with`] in place.
    pub fn set(&mut self, path: &str, strategy: PatchStrategy, merge_key: Option<&str>) {
        let mut node = self;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let field = node.fields.entry(part.to_string()).or_default();
            if parts.peek().is_none() {
                field.strategy = Some(strategy);
                field.merge_key = merge_key.map(str::to_string);
                return;
            }
            node = &mut field.nested;
        }
    }

    /// The metadata of a direct field.
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.get(name)
    }

    /// The metadata of a direct field's own fields (empty if none).
    pub(crate) fn child(&self, name: &str) -> &PatchMeta {
        self.fields
            .get(name)
            .map(|f| &f.nested)
            .unwrap_or_else(|| EMPTY.get_or_init(PatchMeta::new))
    }

    /// The metadata at a dotted path.
    pub fn lookup(&self, path: &str) -> Option<&FieldMeta> {
        let mut node = self;
        let mut found = None;
        for part in path.split('.') {
            let field = node.fields.get(part)?;
            found = Some(field);
            node = &field.nested;
        }
        found
    }
}

use PatchStrategy::{Merge, MergeRetainKeys, RetainKeys};

fn object_meta(m: &mut PatchMeta, prefix: &str) {
    m.set(&format!("{prefix}metadata.finalizers"), Merge, None);
    m.set(
        &format!("{prefix}metadata.ownerReferences"),
        Merge,
        Some("uid"),
    );
}

fn container(m: &mut PatchMeta, path: &str) {
    m.set(path, Merge, Some("name"));
    m.set(&format!("{path}.ports"), Merge, Some("containerPort"));
    m.set(&format!("{path}.env"), Merge, Some("name"));
    m.set(&format!("{path}.volumeMounts"), Merge, Some("mountPath"));
    m.set(&format!("{path}.volumeDevices"), Merge, Some("devicePath"));
}

fn pod_spec(m: &mut PatchMeta, p: &str) {
    m.set(&format!("{p}.volumes"), MergeRetainKeys, Some("name"));
    container(m, &format!("{p}.initContainers"));
    container(m, &format!("{p}.containers"));
    container(m, &format!("{p}.ephemeralContainers"));
    m.set(&format!("{p}.imagePullSecrets"), Merge, Some("name"));
    m.set(&format!("{p}.hostAliases"), Merge, Some("ip"));
    m.set(
        &format!("{p}.topologySpreadConstraints"),
        Merge,
        Some("topologyKey"),
    );
    m.set(&format!("{p}.schedulingGates"), Merge, Some("name"));
    m.set(
        &format!("{p}.resourceClaims"),
        MergeRetainKeys,
        Some("name"),
    );
}

fn pod_template(m: &mut PatchMeta, p: &str) {
    object_meta(m, &format!("{p}."));
    pod_spec(m, &format!("{p}.spec"));
}

fn conditions(m: &mut PatchMeta) {
    m.set("status.conditions", Merge, Some("type"));
}

fn build_table() -> BTreeMap<(&'static str, &'static str), PatchMeta> {
    let mut t = BTreeMap::new();
    let base = || {
        let mut m = PatchMeta::new();
        object_meta(&mut m, "");
        m
    };

    let mut pod = base();
    pod_spec(&mut pod, "spec");
    conditions(&mut pod);
    pod.set("status.hostIPs", Merge, Some("ip"));
    pod.set("status.podIPs", Merge, Some("ip"));
    pod.set(
        "status.resourceClaimStatuses",
        MergeRetainKeys,
        Some("name"),
    );
    t.insert(("v1", "Pod"), pod);

    let mut template = base();
    pod_template(&mut template, "template");
    t.insert(("v1", "PodTemplate"), template);

    let mut rc = base();
    pod_template(&mut rc, "spec.template");
    conditions(&mut rc);
    t.insert(("v1", "ReplicationController"), rc);

    let mut deployment = base();
    pod_template(&mut deployment, "spec.template");
    deployment.set("spec.strategy", RetainKeys, None);
    conditions(&mut deployment);
    t.insert(("apps/v1", "Deployment"), deployment);

    for kind in ["ReplicaSet", "DaemonSet"] {
        let mut m = base();
        pod_template(&mut m, "spec.template");
        conditions(&mut m);
        t.insert(("apps/v1", kind), m);
    }

    let mut sts = base();
    pod_template(&mut sts, "spec.template");
    object_meta(&mut sts, "spec.volumeClaimTemplates.");
    conditions(&mut sts);
    t.insert(("apps/v1", "StatefulSet"), sts);

    let mut job = base();
    pod_template(&mut job, "spec.template");
    conditions(&mut job);
    t.insert(("batch/v1", "Job"), job);

    let mut cronjob = base();
    object_meta(&mut cronjob, "spec.jobTemplate.");
    pod_template(&mut cronjob, "spec.jobTemplate.spec.template");
    t.insert(("batch/v1", "CronJob"), cronjob);

    let mut service = base();
    service.set("spec.ports", Merge, Some("port"));
    conditions(&mut service);
    t.insert(("v1", "Service"), service);

    let mut node = base();
    node.set("spec.podCIDRs", Merge, None);
    conditions(&mut node);
    node.set("status.addresses", Merge, Some("type"));
    t.insert(("v1", "Node"), node);

    let mut namespace = base();
    conditions(&mut namespace);
    t.insert(("v1", "Namespace"), namespace);

    let mut pvc = base();
    conditions(&mut pvc);
    t.insert(("v1", "PersistentVolumeClaim"), pvc);

    let mut sa = base();
    sa.set("secrets", Merge, Some("name"));
    t.insert(("v1", "ServiceAccount"), sa);

    for (api_version, kind) in [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Endpoints"),
        ("v1", "Event"),
        ("v1", "LimitRange"),
        ("v1", "ResourceQuota"),
        ("v1", "PersistentVolume"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ] {
        t.insert((api_version, kind), base());
    }
    t
}

static TABLE: OnceLock<BTreeMap<(&'static str, &'static str), PatchMeta>> = OnceLock::new();

/// The patch metadata of a served kind, from the struct tags of k8s.io/api v0.36; `None`
/// for kinds without it (custom resources: Kubernetes refuses strategic merge patches for
/// them with 415 Unsupported Media Type).
///
/// Covered: core/v1 Pod, PodTemplate, ReplicationController, Service, Node, Namespace,
/// PersistentVolumeClaim, ServiceAccount, ConfigMap, Secret, Endpoints, Event, LimitRange,
/// ResourceQuota, PersistentVolume; apps/v1 Deployment, ReplicaSet, DaemonSet, StatefulSet;
/// batch/v1 Job, CronJob; discovery.k8s.io/v1 EndpointSlice; coordination.k8s.io/v1 Lease;
/// events.k8s.io/v1 Event; rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding,
/// ClusterRoleBinding. ObjectMeta (`finalizers` merged as a set, `ownerReferences` by
/// `uid`) everywhere, including pod templates.
pub fn patch_meta(api_version: &str, kind: &str) -> Option<&'static PatchMeta> {
    TABLE
        .get_or_init(build_table)
        .iter()
        .find(|((v, k), _)| *v == api_version && *k == kind)
        .map(|(_, meta)| meta)
}
