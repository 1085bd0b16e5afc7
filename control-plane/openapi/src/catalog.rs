//! The kinds Berth serves: their group, version, kind, REST name and scope, and the schema
//! definitions generated from k8s-openapi's types.

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
    autoscaling::v1 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
    core::v1 as core, discovery::v1 as discovery, events::v1 as events, policy::v1 as policy,
    rbac::v1 as rbac,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

/// A group, version and kind, as Kubernetes names them (`group` is empty for the core group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

impl Kind {
    /// The `apiVersion` field of objects of this kind: `v1`, `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-version path of the REST API and of the OpenAPI v3 index: `api/v1`,
    /// `apis/apps/v1`.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }
}

/// Where a kind's objects live in the REST API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `/api/v1/namespaces/{namespace}/pods/{name}`.
    Namespaced,
    /// `/api/v1/nodes/{name}`.
    Cluster,
    /// Only under a parent object, like `deployments/{name}/scale`.
    Subresource,
}

/// What a subresource kind is served under: the parent's REST name and the subresource name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The group-version path of the parent, `apis/apps/v1`.
    pub group_version_path: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// The verbs (lower-case HTTP methods) the subresource answers.
    pub methods: &'static [&'static str],
}

/// One kind served by the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServedKind {
    pub kind: Kind,
    /// The REST name (`pods`), or the subresource name (`scale`) for subresource kinds.
    pub plural: &'static str,
    pub scope: Scope,
    /// The kind of its list (`PodList`), if it can be listed.
    pub list_kind: Option<&'static str>,
    /// The schema definition name, `io.k8s.api.core.v1.Pod`.
    pub definition: &'static str,
    /// For subresource kinds: where they are served.
    pub parents: &'static [Parent],
}

/// Maps k8s-openapi's scope marker types to [`Scope`].
trait ScopeOf {
    const SCOPE: Scope;
}
impl ScopeOf for k8s_openapi::NamespaceResourceScope {
    const SCOPE: Scope = Scope::Namespaced;
}
impl ScopeOf for k8s_openapi::ClusterResourceScope {
    const SCOPE: Scope = Scope::Cluster;
}
impl ScopeOf for k8s_openapi::SubResourceScope {
    const SCOPE: Scope = Scope::Subresource;
}

/// Whether a type can be listed, and the kind of its list.
trait ListKindOf {
    const LIST_KIND: Option<&'static str>;
}

macro_rules! listable {
    ($($t:ty),* $(,)?) => {$(
        impl ListKindOf for $t {
            const LIST_KIND: Option<&'static str> =
                Some(<$t as k8s_openapi::ListableResource>::LIST_KIND);
        }
    )*};
}
macro_rules! not_listable {
    ($($t:ty),* $(,)?) => {$(
        impl ListKindOf for $t {
            const LIST_KIND: Option<&'static str> = None;
        }
    )*};
}

listable!(
    core::Namespace,
    core::Pod,
    core::Node,
    core::Service,
    core::Endpoints,
    core::ConfigMap,
    core::Secret,
    core::ServiceAccount,
    core::Event,
    core::PodTemplate,
    apps::Deployment,
    apps::ReplicaSet,
    apps::DaemonSet,
    apps::StatefulSet,
    coordination::Lease,
    discovery::EndpointSlice,
    events::Event,
    rbac::Role,
    rbac::ClusterRole,
    rbac::RoleBinding,
    rbac::ClusterRoleBinding,
    policy::PodDisruptionBudget,
    batch::Job,
    batch::CronJob,
);
not_listable!(
    core::Binding,
    autoscaling::Scale,
    authn::TokenRequest,
    authn::SelfSubjectReview,
    authz::SelfSubjectAccessReview,
    policy::Eviction,
);

const SCALED: &[Parent] = &[
    Parent {
        group_version_path: "apis/apps/v1",
        plural: "deployments",
        namespaced: true,
        methods: &["get", "put", "patch"],
    },
    Parent {
        group_version_path: "apis/apps/v1",
        plural: "replicasets",
        namespaced: true,
        methods: &["get", "put", "patch"],
    },
    Parent {
        group_version_path: "apis/apps/v1",
        plural: "statefulsets",
        namespaced: true,
        methods: &["get", "put", "patch"],
    },
];
const EVICTED: &[Parent] = &[Parent {
    group_version_path: "api/v1",
    plural: "pods",
    namespaced: true,
    methods: &["post"],
}];
const TOKEN: &[Parent] = &[Parent {
    group_version_path: "api/v1",
    plural: "serviceaccounts",
    namespaced: true,
    methods: &["post"],
}];

fn served<T>(parents: &'static [Parent]) -> ServedKind
where
    T: k8s_openapi::Resource + ListKindOf + JsonSchema,
    T::Scope: ScopeOf,
{
    ServedKind {
        kind: Kind {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
        },
        plural: T::URL_PATH_SEGMENT,
        scope: <T::Scope as ScopeOf>::SCOPE,
        list_kind: T::LIST_KIND,
        definition: leak_name(T::schema_name().into_owned()),
        parents,
    }
}

/// Definition names are built once per process (the catalog lives in a `OnceLock`), so the
/// few dozen leaked strings are bounded.
fn leak_name(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// The served kinds and the schema definitions, keyed by definition name, as k8s-openapi
/// describes them (draft-07 JSON Schema with `#/definitions/` references).
pub(crate) struct Catalog {
    pub kinds: Vec<ServedKind>,
    pub definitions: Map<String, Value>,
}

pub(crate) fn catalog() -> Catalog {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
        s.transforms.clear();
    });
    let mut generator = SchemaGenerator::new(settings);
    let mut kinds = Vec::new();
    macro_rules! serve {
        ($($t:ty => $parents:expr),* $(,)?) => {$(
            kinds.push(served::<$t>($parents));
            let _ = generator.subschema_for::<$t>();
        )*};
    }
    serve!(
        core::Namespace => &[], core::Pod => &[], core::Node => &[], core::Service => &[],
        core::Endpoints => &[], core::ConfigMap => &[], core::Secret => &[],
        core::ServiceAccount => &[], core::Event => &[], core::Binding => &[],
        core::PodTemplate => &[],
        apps::Deployment => &[], apps::ReplicaSet => &[], apps::DaemonSet => &[],
        apps::StatefulSet => &[], autoscaling::Scale => SCALED,
        coordination::Lease => &[], discovery::EndpointSlice => &[], events::Event => &[],
        rbac::Role => &[], rbac::ClusterRole => &[], rbac::RoleBinding => &[],
        rbac::ClusterRoleBinding => &[],
        authn::TokenRequest => TOKEN, authn::SelfSubjectReview => &[],
        authz::SelfSubjectAccessReview => &[],
        policy::Eviction => EVICTED, policy::PodDisruptionBudget => &[],
        batch::Job => &[], batch::CronJob => &[],
    );
    let _ = generator.subschema_for::<meta::Status>();
    let _ = generator.subschema_for::<meta::DeleteOptions>();
    let _ = generator.subschema_for::<meta::ListMeta>();
    let _ = generator
        .subschema_for::<meta::WatchEvent<k8s_openapi::apimachinery::pkg::runtime::RawExtension>>();
    let _ = generator.subschema_for::<meta::Patch>();
    Catalog {
        kinds,
        definitions: generator.take_definitions(false),
    }
}
