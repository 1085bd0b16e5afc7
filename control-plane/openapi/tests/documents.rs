//! Checks of the generated documents: they build, references resolve, and they carry what
//! kubectl reads.

use serde_json::Value;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("documents are JSON")
}

#[test]
fn documents_build() {
    assert!(
        berth_openapi::build_error().is_none(),
        "{:?}",
        berth_openapi::build_error()
    );
    let _ = json(berth_openapi::v2());
}

fn v3(path: &str) -> Value {
    json(
        berth_openapi::v3_group_version(path)
            .unwrap_or_else(|| panic!("no v3 document for {path}")),
    )
}

/// Every served kind has a definition tagged with its GVK, in the v2 document and in its
/// group version's v3 document, and some operation there names it.
#[test]
fn served_kinds_are_tagged() {
    let v2 = json(berth_openapi::v2());
    for served in berth_openapi::served_kinds() {
        let gvk = serde_json::json!({"group": served.kind.group, "version": served.kind.version, "kind": served.kind.kind});
        let tagged = |def: &Value| {
            def.get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .is_some_and(|gvks| gvks.contains(&gvk))
        };
        assert!(
            tagged(&v2["definitions"][served.definition]),
            "v2 {}",
            served.definition
        );
        let gv_path = match served.parents.first() {
            Some(parent) => parent.group_version_path.to_owned(),
            None => served.kind.group_version_path(),
        };
        let doc = v3(&gv_path);
        assert!(
            tagged(&doc["components"]["schemas"][served.definition]),
            "v3 {gv_path} {}",
            served.definition
        );
        let named = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, item)| {
                item.as_object()
                    .into_iter()
                    .flatten()
                    .any(|(_, op)| op["x-kubernetes-group-version-kind"] == gvk)
            });
        assert!(named, "no operation in {gv_path} names {gvk}");
        let required = v2["definitions"][served.definition]["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !required.contains(&"metadata".into()),
            "{} requires metadata",
            served.definition
        );
    }
}

#[test]
fn index_points_at_the_documents_by_hash() {
    let index = json(berth_openapi::v3_index());
    let paths = index["paths"].as_object().expect("paths");
    for gv in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/policy/v1",
    ] {
        let url = paths[gv]["serverRelativeURL"]
            .as_str()
            .expect("serverRelativeURL");
        assert!(url.starts_with(&format!("/openapi/v3/{gv}?hash=")), "{url}");
        assert!(berth_openapi::v3_group_version(gv).is_some());
        assert!(berth_openapi::v3_group_version(&format!("/openapi/v3/{gv}")).is_some());
    }
    assert!(
        !paths.contains_key("apis/autoscaling/v1"),
        "Scale is only served as a subresource"
    );
    assert!(berth_openapi::v3_group_version("apis/nope/v1").is_none());
}

/// Kubernetes' shapes, as kubectl and client generators expect them.
#[test]
fn published_shapes() {
    let v2 = json(berth_openapi::v2());
    let core = v3("api/v1");
    let schemas = &core["components"]["schemas"];
    let int_or_string = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
    let quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
    assert_eq!(v2["definitions"][int_or_string]["type"], "string");
    assert_eq!(v2["definitions"][int_or_string]["format"], "int-or-string");
    assert_eq!(v2["definitions"][quantity]["type"], "string");
    assert_eq!(schemas[int_or_string]["format"], "int-or-string");
    assert_eq!(
        schemas[int_or_string]["oneOf"],
        serde_json::json!([{"type": "integer"}, {"type": "string"}])
    );
    assert_eq!(
        schemas[quantity]["oneOf"],
        serde_json::json!([{"type": "string"}, {"type": "number"}])
    );
    assert!(schemas[int_or_string]
        .get("x-kubernetes-int-or-string")
        .is_none());

    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
            ["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    assert_eq!(
        schemas["io.k8s.api.core.v1.Container"]["required"],
        serde_json::json!(["name"])
    );
    assert!(schemas["io.k8s.api.core.v1.Container"]["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));

    // A reference with a description is wrapped in allOf in v3 and left bare in v2.
    let lifecycle_v3 = &schemas["io.k8s.api.core.v1.Container"]["properties"]["lifecycle"];
    assert_eq!(
        lifecycle_v3["allOf"],
        serde_json::json!([{"$ref": "#/components/schemas/io.k8s.api.core.v1.Lifecycle"}])
    );
    let lifecycle_v2 =
        &v2["definitions"]["io.k8s.api.core.v1.Container"]["properties"]["lifecycle"];
    assert_eq!(
        lifecycle_v2["$ref"],
        "#/definitions/io.k8s.api.core.v1.Lifecycle"
    );

    let list = &schemas["io.k8s.api.core.v1.PodList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "", "kind": "PodList", "version": "v1"}])
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Pod"
    );
    let status = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Status"];
    assert_eq!(
        status["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "", "kind": "Status", "version": "v1"}])
    );
    let delete_gvks = v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
        ["x-kubernetes-group-version-kind"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(delete_gvks
        .contains(&serde_json::json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"})));
    assert!(
        v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"]
            ["x-kubernetes-group-version-kind"]
            .is_array()
    );
}

/// kubectl validates client-side unless the PATCH operation of the kind takes fieldValidation.
#[test]
fn field_validation_parameter_follows_the_mode() {
    use berth_openapi::FieldValidation;
    let path = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";
    let names = |mode| {
        let doc = json(berth_openapi::v3_group_version_for(mode, "apis/apps/v1").expect("apps/v1"));
        doc["paths"][path]["patch"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(!names(FieldValidation::Client).contains(&"fieldValidation".to_owned()));
    assert!(names(FieldValidation::Server).contains(&"fieldValidation".to_owned()));
    assert_ne!(
        berth_openapi::v3_index_for(FieldValidation::Client),
        berth_openapi::v3_index_for(FieldValidation::Server)
    );
}
