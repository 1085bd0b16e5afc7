//! How lists merge (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`) and which fields
//! the server resets, per kind: the [`Schema`] trait and [`BuiltinSchema`] for the kinds
//! Berth serves.

use serde_json::Value;

/// How a list merges and how ownership of it is tracked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole; owned as one field (`x-kubernetes-list-type: atomic`, the default).
    Atomic,
    /// Scalar items merged by value (`x-kubernetes-list-type: set`).
    Set,
    /// Object items merged by these key fields (`x-kubernetes-list-type: map`).
    Map(Vec<String>),
}

/// What the merge needs to know about a kind beyond its JSON. Maps of fields are always
/// granular (each field owned separately); lists are what this trait decides.
pub trait Schema {
    /// The list type of the list at `path`: field names from the object root; list items do not
    /// add a segment (`["spec", "containers", "ports"]`).
    fn list_type(&self, api_version: &str, kind: &str, path: &[&str]) -> ListType;

    /// The default of a map-list key field, used when an item omits it (Kubernetes' container
    /// port `protocol` defaults to `TCP`, so `k:{"containerPort":80,"protocol":"TCP"}`).
    fn list_key_default(
        &self,
        api_version: &str,
        kind: &str,
        path: &[&str],
        key: &str,
    ) -> Option<Value> {
        let _ = (api_version, kind, path, key);
        None
    }

    /// Fields the server resets for a write to this kind and subresource (its strategy's
    /// reset fields): never tracked in managedFields, and dropped from an applied config.
    /// For the main resource of a kind with a status subresource this is `status`.
    fn reset_fields(
        &self,
        api_version: &str,
        kind: &str,
        subresource: Option<&str>,
    ) -> Vec<Vec<String>> {
        let _ = (api_version, kind, subresource);
        Vec::new()
    }
}

/// The list types of `k8s.io/api` for the built-in kinds Berth serves (from their
/// `+listType`/`+listMapKey` and `patchMergeKey` markers), and their reset fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuiltinSchema;

/// Where a pod spec sits in each kind that has one.
fn pod_spec_prefix(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

fn map(keys: &[&str]) -> ListType {
    ListType::Map(keys.iter().map(|k| k.to_string()).collect())
}

/// List types inside a PodSpec, relative to it.
fn pod_spec_list(rel: &[&str]) -> Option<ListType> {
    let container_lists = ["containers", "initContainers", "ephemeralContainers"];
    let lt = match rel {
        [c] if container_lists.contains(c) => map(&["name"]),
        ["volumes"] | ["imagePullSecrets"] | ["resourceClaims"] | ["schedulingGates"] => {
            map(&["name"])
        }
        ["hostAliases"] => map(&["ip"]),
        ["topologySpreadConstraints"] => map(&["topologyKey", "whenUnsatisfiable"]),
        [c, "ports"] if container_lists.contains(c) => map(&["containerPort", "protocol"]),
        [c, "env"] if container_lists.contains(c) => map(&["name"]),
        [c, "volumeMounts"] if container_lists.contains(c) => map(&["mountPath"]),
        [c, "volumeDevices"] if container_lists.contains(c) => map(&["devicePath"]),
        [c, "resources", "claims"] if container_lists.contains(c) => map(&["name"]),
        _ => return None,
    };
    Some(lt)
}

/// List types of an object's status, relative to `status`.
fn status_list(kind: &str, rel: &[&str]) -> Option<ListType> {
    let lt = match (kind, rel) {
        (_, ["conditions"]) => map(&["type"]),
        ("Pod", ["podIPs"]) | ("Pod", ["hostIPs"]) => map(&["ip"]),
        ("Pod", ["resourceClaimStatuses"]) => map(&["name"]),
        ("Node", ["addresses"]) => map(&["type"]),
        _ => return None,
    };
    Some(lt)
}

const STATUS_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "ReplicationController",
    "Service",
    "Node",
    "Namespace",
];

impl Schema for BuiltinSchema {
    fn list_type(&self, _api_version: &str, kind: &str, path: &[&str]) -> ListType {
        // Object metadata, at the root or in a template.
        if let [.., "metadata", last] = path {
            match *last {
                "finalizers" => return ListType::Set,
                "ownerReferences" => return map(&["uid"]),
                _ => {}
            }
        }
        if let Some(prefix) = pod_spec_prefix(kind) {
            if let Some(rel) = path.strip_prefix(prefix) {
                if let Some(lt) = pod_spec_list(rel) {
                    return lt;
                }
            }
        }
        if let ["status", rel @ ..] = path {
            if let Some(lt) = status_list(kind, rel) {
                return lt;
            }
        }
        match (kind, path) {
            ("Service", ["spec", "ports"]) => map(&["port", "protocol"]),
            ("Node", ["spec", "podCIDRs"]) => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    fn list_key_default(
        &self,
        _api_version: &str,
        kind: &str,
        path: &[&str],
        key: &str,
    ) -> Option<Value> {
        let is_ports = match self.list_type("", kind, path) {
            ListType::Map(keys) => {
                keys.iter().any(|k| k == "protocol") && path.last() == Some(&"ports")
            }
            _ => false,
        };
        (is_ports && key == "protocol").then(|| Value::String("TCP".to_string()))
    }

    fn reset_fields(
        &self,
        _api_version: &str,
        kind: &str,
        subresource: Option<&str>,
    ) -> Vec<Vec<String>> {
        if !STATUS_KINDS.contains(&kind) {
            return Vec::new();
        }
        match subresource {
            None => vec![vec!["status".to_string()]],
            Some("status") => vec![vec!["spec".to_string()]],
            Some(_) => Vec::new(),
        }
    }
}
