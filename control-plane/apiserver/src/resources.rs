//! The resource table: every kind the server serves, as one entry (group, version, kind,
//! plural, scope, subresources, verbs). Handlers, discovery, the watch caches and the store
//! keys all read this table; a kind's behaviour beyond it lives in `strategy`.

use k8s_openapi::api;
use serde_json::Value;

/// A subresource of a kind, served under `<resource>/<name>/<sub>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Status,
    Scale,
    Binding,
    Eviction,
    Log,
    Exec,
    Attach,
    PortForward,
    Token,
    Finalize,
}

impl Sub {
    pub fn name(self) -> &'static str {
        match self {
            Sub::Status => "status",
            Sub::Scale => "scale",
            Sub::Binding => "binding",
            Sub::Eviction => "eviction",
            Sub::Log => "log",
            Sub::Exec => "exec",
            Sub::Attach => "attach",
            Sub::PortForward => "portforward",
            Sub::Token => "token",
            Sub::Finalize => "finalize",
        }
    }
    /// The verbs discovery lists for the subresource, and its kind.
    pub fn discovery(
        self,
    ) -> (
        &'static [&'static str],
        &'static str,
        &'static str,
        &'static str,
    ) {
        // (verbs, group, version, kind) of the subresource's object; "" group/version = the parent's.
        match self {
            Sub::Status => (&["get", "patch", "update"], "", "", ""),
            Sub::Scale => (&["get", "patch", "update"], "autoscaling", "v1", "Scale"),
            Sub::Binding => (&["create"], "", "v1", "Binding"),
            Sub::Eviction => (&["create"], "policy", "v1", "Eviction"),
            Sub::Log => (&["get"], "", "v1", "Pod"),
            Sub::Exec | Sub::Attach | Sub::PortForward => {
                (&["create", "get"], "", "v1", "PodExecOptions")
            }
            Sub::Token => (&["create"], "authentication.k8s.io", "v1", "TokenRequest"),
            Sub::Finalize => (&["update"], "", "", ""),
        }
    }
    pub fn parse(s: &str) -> Option<Sub> {
        [
            Sub::Status,
            Sub::Scale,
            Sub::Binding,
            Sub::Eviction,
            Sub::Log,
            Sub::Exec,
            Sub::Attach,
            Sub::PortForward,
            Sub::Token,
            Sub::Finalize,
        ]
        .into_iter()
        .find(|x| x.name() == s)
    }
}

/// How a kind is stored and which verbs it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Objects in the store under `/registry/<plural>/...`: every verb.
    Stored,
    /// Create-only reviews answered from the request (SelfSubjectReview, ...): nothing stored.
    Virtual,
}

pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    pub subresources: &'static [Sub],
    pub storage: Storage,
    /// Decodes into the typed struct and encodes back: type errors are found here, unknown
    /// fields dropped, and the JSON comes out in one canonical shape.
    pub canonical: fn(Value) -> Result<Value, String>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.gvr())
    }
}

impl Resource {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// `pods`, `deployments.apps`: the resource label of metrics.
    pub fn group_resource(&self) -> String {
        crate::status::qualified(self.plural, self.group)
    }
    pub fn gvr(&self) -> String {
        format!("{}/{}", self.api_version(), self.plural)
    }
    /// The store prefix of all objects of this resource, with the trailing slash.
    pub fn key_prefix(&self) -> String {
        if self.group.is_empty() || STANDARD_GROUPS.contains(&self.group) {
            // kube-apiserver's layout: `/registry/pods/`, `/registry/deployments/`.
            // events.k8s.io Events are a separate store here (see ARCHITECTURE.md).
            if self.group == "events.k8s.io" {
                return format!("/registry/{}.{}/", self.plural, self.group);
            }
            format!("/registry/{}/", self.plural)
        } else {
            format!("/registry/{}/{}/", self.group, self.plural)
        }
    }
    /// The store key of one object.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("{}{namespace}/{name}", self.key_prefix())
        } else {
            format!("{}{name}", self.key_prefix())
        }
    }
    pub fn has(&self, sub: Sub) -> bool {
        self.subresources.contains(&sub)
    }
    pub fn verbs(&self) -> &'static [&'static str] {
        match self.storage {
            Storage::Stored => &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
            Storage::Virtual => &["create"],
        }
    }
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

const STANDARD_GROUPS: &[&str] = &[
    "apps",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "rbac.authorization.k8s.io",
    "policy",
    "batch",
    "scheduling.k8s.io",
    "networking.k8s.io",
];

fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(v: Value) -> Result<Value, String> {
    let t: T = serde_json::from_value(v).map_err(|e| e.to_string())?;
    serde_json::to_value(t).map_err(|e| e.to_string())
}

macro_rules! res {
    ($g:expr, $v:expr, $kind:expr, $plural:expr, $singular:expr, $short:expr, $cat:expr, $ns:expr, $subs:expr, $storage:expr, $ty:ty) => {
        Resource {
            group: $g,
            version: $v,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: $short,
            categories: $cat,
            namespaced: $ns,
            subresources: $subs,
            storage: $storage,
            canonical: typed::<$ty>,
        }
    };
}

use Storage::{Stored, Virtual};
const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

/// Every served resource. Order is discovery order within a group-version.
pub static RESOURCES: &[Resource] = &[
    res!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        &["ns"],
        NONE,
        false,
        &[Sub::Status, Sub::Finalize],
        Stored,
        api::core::v1::Namespace
    ),
    res!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        &["po"],
        ALL,
        true,
        &[
            Sub::Status,
            Sub::Binding,
            Sub::Eviction,
            Sub::Log,
            Sub::Exec,
            Sub::Attach,
            Sub::PortForward
        ],
        Stored,
        api::core::v1::Pod
    ),
    res!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        &["no"],
        NONE,
        false,
        &[Sub::Status],
        Stored,
        api::core::v1::Node
    ),
    res!(
        "",
        "v1",
        "Service",
        "services",
        "service",
        &["svc"],
        ALL,
        true,
        &[Sub::Status],
        Stored,
        api::core::v1::Service
    ),
    res!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        &["ep"],
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::Endpoints
    ),
    res!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        &["cm"],
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::ConfigMap
    ),
    res!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::Secret
    ),
    res!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        &["sa"],
        NONE,
        true,
        &[Sub::Token],
        Stored,
        api::core::v1::ServiceAccount
    ),
    res!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        &["ev"],
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::Event
    ),
    res!(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        "limitrange",
        &["limits"],
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::LimitRange
    ),
    res!(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        &["quota"],
        NONE,
        true,
        &[Sub::Status],
        Stored,
        api::core::v1::ResourceQuota
    ),
    res!(
        "",
        "v1",
        "PodTemplate",
        "podtemplates",
        "podtemplate",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::core::v1::PodTemplate
    ),
    res!(
        "",
        "v1",
        "Binding",
        "bindings",
        "binding",
        NONE,
        NONE,
        true,
        &[],
        Virtual,
        api::core::v1::Binding
    ),
    res!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        &["deploy"],
        ALL,
        true,
        &[Sub::Status, Sub::Scale],
        Stored,
        api::apps::v1::Deployment
    ),
    res!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        &["rs"],
        ALL,
        true,
        &[Sub::Status, Sub::Scale],
        Stored,
        api::apps::v1::ReplicaSet
    ),
    res!(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        &["ds"],
        ALL,
        true,
        &[Sub::Status],
        Stored,
        api::apps::v1::DaemonSet
    ),
    res!(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        &["sts"],
        ALL,
        true,
        &[Sub::Status, Sub::Scale],
        Stored,
        api::apps::v1::StatefulSet
    ),
    res!(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::apps::v1::ControllerRevision
    ),
    res!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        NONE,
        ALL,
        true,
        &[Sub::Status],
        Stored,
        api::batch::v1::Job
    ),
    res!(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        &["cj"],
        ALL,
        true,
        &[Sub::Status],
        Stored,
        api::batch::v1::CronJob
    ),
    res!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::coordination::v1::Lease
    ),
    res!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::discovery::v1::EndpointSlice
    ),
    res!(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        &["ev"],
        NONE,
        true,
        &[],
        Stored,
        api::events::v1::Event
    ),
    res!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        &["pdb"],
        NONE,
        true,
        &[Sub::Status],
        Stored,
        api::policy::v1::PodDisruptionBudget
    ),
    res!(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        &["pc"],
        NONE,
        false,
        &[],
        Stored,
        api::scheduling::v1::PriorityClass
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ingress",
        &["ing"],
        NONE,
        true,
        &[Sub::Status],
        Stored,
        api::networking::v1::Ingress
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        &["netpol"],
        NONE,
        true,
        &[],
        Stored,
        api::networking::v1::NetworkPolicy
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        NONE,
        NONE,
        false,
        &[],
        Stored,
        api::rbac::v1::ClusterRole
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        NONE,
        NONE,
        false,
        &[],
        Stored,
        api::rbac::v1::ClusterRoleBinding
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::rbac::v1::Role
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        NONE,
        NONE,
        true,
        &[],
        Stored,
        api::rbac::v1::RoleBinding
    ),
    res!(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        "selfsubjectreview",
        NONE,
        NONE,
        false,
        &[],
        Virtual,
        api::authentication::v1::SelfSubjectReview
    ),
    res!(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        "tokenreview",
        NONE,
        NONE,
        false,
        &[],
        Virtual,
        api::authentication::v1::TokenReview
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        NONE,
        NONE,
        false,
        &[],
        Virtual,
        api::authorization::v1::SelfSubjectAccessReview
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        NONE,
        NONE,
        true,
        &[],
        Virtual,
        api::authorization::v1::SelfSubjectRulesReview
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        "subjectaccessreview",
        NONE,
        NONE,
        false,
        &[],
        Virtual,
        api::authorization::v1::SubjectAccessReview
    ),
];

/// The kind of a subresource body decoded on its own (Scale, Binding, Eviction, TokenRequest).
pub fn canonical_sub(sub: Sub) -> Option<fn(Value) -> Result<Value, String>> {
    match sub {
        Sub::Scale => Some(typed::<api::autoscaling::v1::Scale>),
        Sub::Binding => Some(typed::<api::core::v1::Binding>),
        Sub::Eviction => Some(typed::<api::policy::v1::Eviction>),
        Sub::Token => Some(typed::<api::authentication::v1::TokenRequest>),
        _ => None,
    }
}

/// The resource served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource of a kind (for objects in a body).
pub fn by_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// Served group-versions in discovery order: (group, version).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kube_apiserver_layout() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.key("default", "web-1"), "/registry/pods/default/web-1");
        let deploy = find("apps", "v1", "deployments").unwrap();
        assert_eq!(
            deploy.key("default", "web"),
            "/registry/deployments/default/web"
        );
        let ns = find("", "v1", "namespaces").unwrap();
        assert_eq!(
            ns.key("", "kube-system"),
            "/registry/namespaces/kube-system"
        );
    }

    #[test]
    fn prefixes_are_disjoint() {
        let stored: Vec<_> = RESOURCES
            .iter()
            .filter(|r| r.storage == Storage::Stored)
            .collect();
        for a in &stored {
            for b in &stored {
                if !std::ptr::eq(*a, *b) {
                    assert!(
                        !a.key_prefix().starts_with(&b.key_prefix()),
                        "{a:?} inside {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn canonical_rejects_type_errors_and_drops_unknown_fields() {
        let cm = find("", "v1", "configmaps").unwrap();
        let out = (cm.canonical)(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}, "bogus": 1})).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
        assert!((cm.canonical)(
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": "x"})
        )
        .is_err());
    }
}
