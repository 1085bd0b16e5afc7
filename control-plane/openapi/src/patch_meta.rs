//! The list and map topology that Kubernetes publishes for the served types
//! (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
//! `x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) and that k8s-openapi's
//! schemas leave out.
//!
//! The values follow the `+listType`, `+listMapKey`, `+mapType`, `patchStrategy` and
//! `patchMergeKey` markers of the Kubernetes 1.33 API types. kubectl reads the patch markers
//! for strategic merge patches (client-side `kubectl apply`), so a missing entry makes kubectl
//! replace a list that Kubernetes would merge.

/// One field's markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldMeta {
    /// The definition holding the field, without the `io.k8s.` prefix: `api.core.v1.PodSpec`.
    pub definition: &'static str,
    pub field: &'static str,
    pub list_type: Option<&'static str>,
    pub list_map_keys: &'static [&'static str],
    pub patch_strategy: Option<&'static str>,
    pub patch_merge_key: Option<&'static str>,
}

const fn atomic(definition: &'static str, field: &'static str) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        list_type: Some("atomic"),
        list_map_keys: &[],
        patch_strategy: None,
        patch_merge_key: None,
    }
}

const fn set(definition: &'static str, field: &'static str) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        list_type: Some("set"),
        list_map_keys: &[],
        patch_strategy: None,
        patch_merge_key: None,
    }
}

/// A `+listType=map` list with `patchStrategy:"merge"` on the first key.
const fn merge_map(
    definition: &'static str,
    field: &'static str,
    keys: &'static [&'static str],
) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        list_type: Some("map"),
        list_map_keys: keys,
        patch_strategy: Some("merge"),
        patch_merge_key: Some(keys[0]),
    }
}

/// A `+listType=map` list without a strategic merge patch strategy.
const fn map(
    definition: &'static str,
    field: &'static str,
    keys: &'static [&'static str],
) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        list_type: Some("map"),
        list_map_keys: keys,
        patch_strategy: None,
        patch_merge_key: None,
    }
}

const fn with_strategy(
    meta: FieldMeta,
    strategy: &'static str,
    key: Option<&'static str>,
) -> FieldMeta {
    FieldMeta {
        patch_strategy: Some(strategy),
        patch_merge_key: key,
        ..meta
    }
}

const fn list_type(meta: FieldMeta, list_type: Option<&'static str>) -> FieldMeta {
    FieldMeta { list_type, ..meta }
}

const POD_SPEC: &str = "api.core.v1.PodSpec";
const CONTAINER: &str = "api.core.v1.Container";
const EPHEMERAL: &str = "api.core.v1.EphemeralContainer";
const POD_STATUS: &str = "api.core.v1.PodStatus";

pub(crate) const FIELDS: &[FieldMeta] = &[
    // meta/v1
    with_strategy(
        set("apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers"),
        "merge",
        None,
    ),
    merge_map(
        "apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        &["uid"],
    ),
    atomic("apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields"),
    atomic(
        "apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
    ),
    atomic(
        "apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "values",
    ),
    atomic("apimachinery.pkg.apis.meta.v1.StatusDetails", "causes"),
    atomic("apimachinery.pkg.apis.meta.v1.DeleteOptions", "dryRun"),
    // core/v1 Pod
    merge_map(POD_SPEC, "containers", &["name"]),
    merge_map(POD_SPEC, "initContainers", &["name"]),
    merge_map(POD_SPEC, "ephemeralContainers", &["name"]),
    with_strategy(
        map(POD_SPEC, "volumes", &["name"]),
        "merge,retainKeys",
        Some("name"),
    ),
    merge_map(POD_SPEC, "imagePullSecrets", &["name"]),
    merge_map(POD_SPEC, "hostAliases", &["ip"]),
    merge_map(
        POD_SPEC,
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    with_strategy(
        map(POD_SPEC, "resourceClaims", &["name"]),
        "merge,retainKeys",
        Some("name"),
    ),
    merge_map(POD_SPEC, "schedulingGates", &["name"]),
    atomic(POD_SPEC, "tolerations"),
    atomic(POD_SPEC, "readinessGates"),
    merge_map(CONTAINER, "env", &["name"]),
    merge_map(CONTAINER, "ports", &["containerPort", "protocol"]),
    merge_map(CONTAINER, "volumeMounts", &["mountPath"]),
    merge_map(CONTAINER, "volumeDevices", &["devicePath"]),
    atomic(CONTAINER, "args"),
    atomic(CONTAINER, "command"),
    atomic(CONTAINER, "envFrom"),
    atomic(CONTAINER, "resizePolicy"),
    merge_map(EPHEMERAL, "env", &["name"]),
    merge_map(EPHEMERAL, "ports", &["containerPort", "protocol"]),
    merge_map(EPHEMERAL, "volumeMounts", &["mountPath"]),
    merge_map(EPHEMERAL, "volumeDevices", &["devicePath"]),
    atomic(EPHEMERAL, "args"),
    atomic(EPHEMERAL, "command"),
    atomic(EPHEMERAL, "envFrom"),
    atomic(EPHEMERAL, "resizePolicy"),
    map("api.core.v1.ResourceRequirements", "claims", &["name"]),
    atomic("api.core.v1.ExecAction", "command"),
    atomic("api.core.v1.HTTPGetAction", "httpHeaders"),
    atomic("api.core.v1.Capabilities", "add"),
    atomic("api.core.v1.Capabilities", "drop"),
    atomic("api.core.v1.PodSecurityContext", "supplementalGroups"),
    atomic("api.core.v1.PodSecurityContext", "sysctls"),
    atomic("api.core.v1.PodDNSConfig", "nameservers"),
    atomic("api.core.v1.PodDNSConfig", "searches"),
    atomic("api.core.v1.PodDNSConfig", "options"),
    atomic("api.core.v1.NodeSelector", "nodeSelectorTerms"),
    atomic("api.core.v1.NodeSelectorTerm", "matchExpressions"),
    atomic("api.core.v1.NodeSelectorTerm", "matchFields"),
    atomic("api.core.v1.NodeSelectorRequirement", "values"),
    atomic(
        "api.core.v1.NodeAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "api.core.v1.PodAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "api.core.v1.PodAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "api.core.v1.PodAntiAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic(
        "api.core.v1.PodAntiAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ),
    atomic("api.core.v1.PodAffinityTerm", "namespaces"),
    atomic("api.core.v1.PodAffinityTerm", "matchLabelKeys"),
    atomic("api.core.v1.PodAffinityTerm", "mismatchLabelKeys"),
    atomic("api.core.v1.TopologySpreadConstraint", "matchLabelKeys"),
    atomic("api.core.v1.ConfigMapVolumeSource", "items"),
    atomic("api.core.v1.SecretVolumeSource", "items"),
    atomic("api.core.v1.ProjectedVolumeSource", "sources"),
    atomic("api.core.v1.ConfigMapProjection", "items"),
    atomic("api.core.v1.SecretProjection", "items"),
    atomic("api.core.v1.DownwardAPIVolumeSource", "items"),
    atomic("api.core.v1.DownwardAPIProjection", "items"),
    atomic("api.core.v1.HostAlias", "hostnames"),
    merge_map(POD_STATUS, "conditions", &["type"]),
    merge_map(POD_STATUS, "podIPs", &["ip"]),
    list_type(merge_map(POD_STATUS, "hostIPs", &["ip"]), Some("atomic")),
    atomic(POD_STATUS, "containerStatuses"),
    atomic(POD_STATUS, "initContainerStatuses"),
    atomic(POD_STATUS, "ephemeralContainerStatuses"),
    with_strategy(
        map(POD_STATUS, "resourceClaimStatuses", &["name"]),
        "merge,retainKeys",
        Some("name"),
    ),
    // core/v1 other kinds
    atomic("api.core.v1.NamespaceSpec", "finalizers"),
    merge_map("api.core.v1.NamespaceStatus", "conditions", &["type"]),
    with_strategy(set("api.core.v1.NodeSpec", "podCIDRs"), "merge", None),
    atomic("api.core.v1.NodeSpec", "taints"),
    merge_map("api.core.v1.NodeStatus", "conditions", &["type"]),
    merge_map("api.core.v1.NodeStatus", "addresses", &["type"]),
    atomic("api.core.v1.NodeStatus", "images"),
    atomic("api.core.v1.NodeStatus", "volumesInUse"),
    atomic("api.core.v1.NodeStatus", "volumesAttached"),
    merge_map("api.core.v1.ServiceSpec", "ports", &["port", "protocol"]),
    atomic("api.core.v1.ServiceSpec", "clusterIPs"),
    atomic("api.core.v1.ServiceSpec", "externalIPs"),
    atomic("api.core.v1.ServiceSpec", "ipFamilies"),
    atomic("api.core.v1.ServiceSpec", "loadBalancerSourceRanges"),
    merge_map("api.core.v1.ServiceStatus", "conditions", &["type"]),
    atomic("api.core.v1.LoadBalancerStatus", "ingress"),
    atomic("api.core.v1.LoadBalancerIngress", "ports"),
    atomic("api.core.v1.Endpoints", "subsets"),
    atomic("api.core.v1.EndpointSubset", "addresses"),
    atomic("api.core.v1.EndpointSubset", "notReadyAddresses"),
    atomic("api.core.v1.EndpointSubset", "ports"),
    merge_map("api.core.v1.ServiceAccount", "secrets", &["name"]),
    atomic("api.core.v1.ServiceAccount", "imagePullSecrets"),
    // apps/v1
    merge_map("api.apps.v1.DeploymentStatus", "conditions", &["type"]),
    merge_map("api.apps.v1.ReplicaSetStatus", "conditions", &["type"]),
    merge_map("api.apps.v1.DaemonSetStatus", "conditions", &["type"]),
    merge_map("api.apps.v1.StatefulSetStatus", "conditions", &["type"]),
    atomic("api.apps.v1.StatefulSetSpec", "volumeClaimTemplates"),
    // batch/v1
    with_strategy(
        atomic("api.batch.v1.JobStatus", "conditions"),
        "merge",
        Some("type"),
    ),
    atomic("api.batch.v1.CronJobStatus", "active"),
    // policy/v1
    merge_map(
        "api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        &["type"],
    ),
    // discovery.k8s.io/v1
    atomic("api.discovery.v1.EndpointSlice", "endpoints"),
    atomic("api.discovery.v1.EndpointSlice", "ports"),
    set("api.discovery.v1.Endpoint", "addresses"),
    // rbac.authorization.k8s.io/v1
    atomic("api.rbac.v1.Role", "rules"),
    atomic("api.rbac.v1.ClusterRole", "rules"),
    atomic("api.rbac.v1.AggregationRule", "clusterRoleSelectors"),
    atomic("api.rbac.v1.RoleBinding", "subjects"),
    atomic("api.rbac.v1.ClusterRoleBinding", "subjects"),
    atomic("api.rbac.v1.PolicyRule", "verbs"),
    atomic("api.rbac.v1.PolicyRule", "apiGroups"),
    atomic("api.rbac.v1.PolicyRule", "resources"),
    atomic("api.rbac.v1.PolicyRule", "resourceNames"),
    atomic("api.rbac.v1.PolicyRule", "nonResourceURLs"),
    // authentication.k8s.io/v1
    atomic("api.authentication.v1.TokenRequestSpec", "audiences"),
    atomic("api.authentication.v1.UserInfo", "groups"),
    // authorization.k8s.io/v1
    atomic(
        "api.authorization.v1.FieldSelectorAttributes",
        "requirements",
    ),
    atomic(
        "api.authorization.v1.LabelSelectorAttributes",
        "requirements",
    ),
];

/// Definitions that Kubernetes marks `x-kubernetes-map-type: atomic` (`+structType=atomic`,
/// `+mapType=atomic`): merged as one value, never field by field.
pub(crate) const ATOMIC_STRUCTS: &[&str] = &[
    "apimachinery.pkg.apis.meta.v1.LabelSelector",
    "api.core.v1.LocalObjectReference",
    "api.core.v1.ObjectReference",
    "api.core.v1.ConfigMapKeySelector",
    "api.core.v1.SecretKeySelector",
    "api.core.v1.ObjectFieldSelector",
    "api.core.v1.ResourceFieldSelector",
    "api.core.v1.NodeSelector",
    "api.core.v1.NodeSelectorTerm",
    "api.core.v1.TypedLocalObjectReference",
];
