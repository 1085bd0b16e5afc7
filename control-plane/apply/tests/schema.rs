//! The built-in list types and reset fields, one row per marker in `k8s.io/api`.

use berth_apply::{BuiltinSchema, ListType, Schema};
use serde_json::json;

fn map(keys: &[&str]) -> ListType {
    ListType::Map(keys.iter().map(|k| k.to_string()).collect())
}

#[test]
fn builtin_list_types() {
    let cases: &[(&str, &str, &str, ListType)] = &[
        ("v1", "Pod", "spec.containers", map(&["name"])),
        ("v1", "Pod", "spec.initContainers", map(&["name"])),
        (
            "v1",
            "Pod",
            "spec.containers.ports",
            map(&["containerPort", "protocol"]),
        ),
        ("v1", "Pod", "spec.containers.env", map(&["name"])),
        ("v1", "Pod", "spec.containers.envFrom", ListType::Atomic),
        (
            "v1",
            "Pod",
            "spec.containers.volumeMounts",
            map(&["mountPath"]),
        ),
        ("v1", "Pod", "spec.containers.command", ListType::Atomic),
        ("v1", "Pod", "spec.volumes", map(&["name"])),
        ("v1", "Pod", "spec.imagePullSecrets", map(&["name"])),
        ("v1", "Pod", "spec.tolerations", ListType::Atomic),
        (
            "v1",
            "Pod",
            "spec.topologySpreadConstraints",
            map(&["topologyKey", "whenUnsatisfiable"]),
        ),
        ("v1", "Pod", "status.conditions", map(&["type"])),
        ("v1", "Pod", "status.containerStatuses", ListType::Atomic),
        ("v1", "Pod", "status.podIPs", map(&["ip"])),
        ("v1", "Pod", "metadata.finalizers", ListType::Set),
        ("v1", "Pod", "metadata.ownerReferences", map(&["uid"])),
        (
            "apps/v1",
            "Deployment",
            "spec.template.spec.containers",
            map(&["name"]),
        ),
        (
            "apps/v1",
            "Deployment",
            "spec.template.spec.containers.ports",
            map(&["containerPort", "protocol"]),
        ),
        (
            "apps/v1",
            "Deployment",
            "spec.template.metadata.finalizers",
            ListType::Set,
        ),
        (
            "apps/v1",
            "Deployment",
            "spec.selector.matchExpressions",
            ListType::Atomic,
        ),
        ("apps/v1", "Deployment", "spec.containers", ListType::Atomic),
        ("apps/v1", "Deployment", "status.conditions", map(&["type"])),
        (
            "apps/v1",
            "StatefulSet",
            "spec.template.spec.volumes",
            map(&["name"]),
        ),
        (
            "apps/v1",
            "StatefulSet",
            "spec.volumeClaimTemplates",
            ListType::Atomic,
        ),
        (
            "apps/v1",
            "DaemonSet",
            "spec.template.spec.containers.env",
            map(&["name"]),
        ),
        (
            "apps/v1",
            "ReplicaSet",
            "spec.template.spec.containers",
            map(&["name"]),
        ),
        (
            "batch/v1",
            "Job",
            "spec.template.spec.containers",
            map(&["name"]),
        ),
        (
            "batch/v1",
            "CronJob",
            "spec.jobTemplate.spec.template.spec.containers",
            map(&["name"]),
        ),
        ("v1", "Service", "spec.ports", map(&["port", "protocol"])),
        ("v1", "Service", "spec.externalIPs", ListType::Atomic),
        ("v1", "Service", "status.conditions", map(&["type"])),
        ("v1", "Node", "spec.podCIDRs", ListType::Set),
        ("v1", "Node", "spec.taints", ListType::Atomic),
        ("v1", "Node", "status.addresses", map(&["type"])),
        ("v1", "Node", "status.conditions", map(&["type"])),
        ("v1", "Namespace", "spec.finalizers", ListType::Atomic),
        ("v1", "ConfigMap", "metadata.finalizers", ListType::Set),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "endpoints",
            ListType::Atomic,
        ),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "ports",
            ListType::Atomic,
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "rules",
            ListType::Atomic,
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "subjects",
            ListType::Atomic,
        ),
    ];
    for (api_version, kind, path, want) in cases {
        let path: Vec<&str> = path.split('.').collect();
        assert_eq!(
            &BuiltinSchema.list_type(api_version, kind, &path),
            want,
            "{kind} {path:?}"
        );
    }
}

#[test]
fn builtin_key_defaults_and_reset_fields() {
    let s = BuiltinSchema;
    assert_eq!(
        s.list_key_default("v1", "Pod", &["spec", "containers", "ports"], "protocol"),
        Some(json!("TCP"))
    );
    assert_eq!(
        s.list_key_default("v1", "Service", &["spec", "ports"], "protocol"),
        Some(json!("TCP"))
    );
    assert_eq!(
        s.list_key_default("v1", "Pod", &["spec", "containers"], "name"),
        None
    );
    let status = vec![vec!["status".to_string()]];
    assert_eq!(s.reset_fields("apps/v1", "Deployment", None), status);
    assert_eq!(
        s.reset_fields("v1", "Pod", Some("status")),
        vec![vec!["spec".to_string()]]
    );
    assert_eq!(
        s.reset_fields("v1", "ConfigMap", None),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        s.reset_fields("coordination.k8s.io/v1", "Lease", None),
        Vec::<Vec<String>>::new()
    );
}
