//! Turns k8s-openapi's schemas into the definitions Kubernetes publishes: list and patch
//! markers, group-version-kind tags on top-level kinds, list kinds, and the int-or-string and
//! quantity shapes. The result is version-neutral (swagger 2.0 style, `#/definitions/` refs).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::catalog::{Kind, Scope, ServedKind};
use crate::patch_meta::{ATOMIC_STRUCTS, FIELDS};

pub(crate) const DEFINITIONS_PREFIX: &str = "#/definitions/";
pub(crate) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(crate) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// The definition name of a list kind: `io.k8s.api.core.v1.PodList` for `PodList`.
pub(crate) fn list_definition(item_definition: &str, list_kind: &str) -> String {
    match item_definition.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{list_kind}"),
        None => list_kind.to_owned(),
    }
}

/// The group-version paths (`api/v1`, `apis/apps/v1`) that have at least one kind of their
/// own, sorted.
pub(crate) fn group_version_paths(kinds: &[ServedKind]) -> BTreeSet<String> {
    let mut paths: BTreeSet<String> = kinds
        .iter()
        .filter(|k| k.scope != Scope::Subresource)
        .map(|k| k.kind.group_version_path())
        .collect();
    for k in kinds {
        for parent in k.parents {
            paths.insert(parent.group_version_path.to_owned());
        }
    }
    paths
}

fn gvk_value(kind: &Kind) -> Value {
    json!({ "group": kind.group, "kind": kind.kind, "version": kind.version })
}

fn set_gvks(definition: &mut Value, gvks: Vec<Value>) {
    if let Some(obj) = definition.as_object_mut() {
        obj.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
}

/// Adds what Kubernetes publishes and k8s-openapi leaves out; see the module doc.
pub(crate) fn kubernetes_definitions(
    kinds: &[ServedKind],
    mut defs: Map<String, Value>,
) -> Map<String, Value> {
    shape_scalars(&mut defs);
    apply_patch_meta(&mut defs);

    // Top-level kinds: the GVK tag, and `metadata` is not required (k8s-openapi requires it
    // because its Rust field is not optional; Kubernetes does not).
    for served in kinds {
        if let Some(def) = defs.get_mut(served.definition) {
            set_gvks(def, vec![gvk_value(&served.kind)]);
            if let Some(required) = def.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r != "metadata");
                if required.is_empty() {
                    if let Some(obj) = def.as_object_mut() {
                        obj.remove("required");
                    }
                }
            }
        }
        if let Some(list_kind) = served.list_kind {
            let name = list_definition(served.definition, list_kind);
            let list_gvk = Kind {
                kind: list_kind,
                ..served.kind
            };
            defs.insert(name, list_schema(served, &list_gvk));
        }
    }

    // Meta kinds that every group version serves.
    let mut group_versions: Vec<Kind> = Vec::new();
    for served in kinds {
        let gv = Kind {
            kind: "",
            ..served.kind
        };
        if !group_versions.contains(&gv) {
            group_versions.push(gv);
        }
    }
    group_versions.sort();
    if let Some(def) = defs.get_mut(STATUS) {
        set_gvks(
            def,
            vec![gvk_value(&Kind {
                group: "",
                version: "v1",
                kind: "Status",
            })],
        );
    }
    for (name, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        if let Some(def) = defs.get_mut(name) {
            let gvks = group_versions
                .iter()
                .map(|gv| gvk_value(&Kind { kind, ..*gv }))
                .collect();
            set_gvks(def, gvks);
        }
    }
    defs
}

fn list_schema(served: &ServedKind, list_gvk: &Kind) -> Value {
    let plural_kind = format!("{}s", served.kind.kind);
    json!({
        "description": format!("{} is a list of {}.", list_gvk.kind, plural_kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("List of {}.", plural_kind),
                "type": "array",
                "items": { "$ref": format!("{DEFINITIONS_PREFIX}{}", served.definition) },
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{DEFINITIONS_PREFIX}{LIST_META}"),
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk_value(list_gvk)],
    })
}

/// Int-or-string and quantity as Kubernetes publishes them in swagger 2.0: strings, the
/// former with `format: int-or-string`. (The v3 document adds the `oneOf` alternatives.)
fn shape_scalars(defs: &mut Map<String, Value>) {
    if let Some(Value::Object(def)) = defs.get_mut(INT_OR_STRING) {
        def.remove("x-kubernetes-int-or-string");
        def.insert("type".into(), "string".into());
        def.insert("format".into(), "int-or-string".into());
    }
    if let Some(Value::Object(def)) = defs.get_mut(QUANTITY) {
        def.remove("x-kubernetes-int-or-string");
        def.insert("type".into(), "string".into());
    }
}

fn apply_patch_meta(defs: &mut Map<String, Value>) {
    for meta in FIELDS {
        let name = format!("io.k8s.{}", meta.definition);
        let Some(field) = defs
            .get_mut(&name)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(meta.field))
            .and_then(Value::as_object_mut)
        else {
            // Checked by a test; a field that a later Kubernetes version removed is skipped.
            continue;
        };
        if let Some(list_type) = meta.list_type {
            field.insert("x-kubernetes-list-type".into(), list_type.into());
        }
        if !meta.list_map_keys.is_empty() {
            field.insert(
                "x-kubernetes-list-map-keys".into(),
                json!(meta.list_map_keys),
            );
        }
        if let Some(key) = meta.patch_merge_key {
            field.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        if let Some(strategy) = meta.patch_strategy {
            field.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
    }
    for definition in ATOMIC_STRUCTS {
        if let Some(Value::Object(def)) = defs.get_mut(&format!("io.k8s.{definition}")) {
            def.insert("x-kubernetes-map-type".into(), "atomic".into());
        }
    }
}

/// Calls `f` with every `$ref` target (the definition name) inside `schema`.
pub(crate) fn for_each_ref(schema: &Value, f: &mut dyn FnMut(&str)) {
    match schema {
        Value::Object(obj) => {
            for (key, value) in obj {
                if key == "$ref" {
                    if let Some(target) = value.as_str() {
                        f(target.rsplit('/').next().unwrap_or(target));
                    }
                } else {
                    for_each_ref(value, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| for_each_ref(v, f)),
        _ => {}
    }
}

/// The definitions reachable from `roots`, roots included.
pub(crate) fn closure<'a>(
    defs: &Map<String, Value>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().map(str::to_owned).collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            for_each_ref(def, &mut |target| {
                if !seen.contains(target) {
                    todo.push(target.to_owned());
                }
            });
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog;

    /// Every marker names an existing list field (a typo would silently mark nothing).
    #[test]
    fn patch_markers_name_existing_list_fields() {
        let catalog = catalog();
        let defs = kubernetes_definitions(&catalog.kinds, catalog.definitions);
        for meta in FIELDS {
            let name = format!("io.k8s.{}", meta.definition);
            let field = defs
                .get(&name)
                .and_then(|d| d.get("properties"))
                .and_then(|p| p.get(meta.field));
            let Some(field) = field else {
                panic!("{name}.{} does not exist", meta.field)
            };
            assert_eq!(
                field.get("type"),
                Some(&json!("array")),
                "{name}.{} is not a list",
                meta.field
            );
            let item = field
                .get("items")
                .and_then(|i| i.get("$ref"))
                .and_then(Value::as_str);
            for key in meta.list_map_keys {
                let item = item.and_then(|r| defs.get(r.trim_start_matches(DEFINITIONS_PREFIX)));
                let has_key = item
                    .and_then(|i| i.get("properties"))
                    .and_then(|p| p.get(*key))
                    .is_some();
                assert!(
                    has_key,
                    "{name}.{}: items have no key field {key}",
                    meta.field
                );
            }
        }
        for definition in ATOMIC_STRUCTS {
            let def = defs.get(&format!("io.k8s.{definition}"));
            assert_eq!(
                def.and_then(|d| d.get("x-kubernetes-map-type")),
                Some(&json!("atomic")),
                "{definition}"
            );
        }
    }

    #[test]
    fn list_definitions_are_named_after_their_package() {
        assert_eq!(
            list_definition("io.k8s.api.core.v1.Pod", "PodList"),
            "io.k8s.api.core.v1.PodList"
        );
        assert_eq!(list_definition("Pod", "PodList"), "PodList");
    }
}
