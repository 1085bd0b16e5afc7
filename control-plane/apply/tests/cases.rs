//! Data-driven cases from Kubernetes' server-side apply documentation: field management,
//! conflicts, forcing, shared ownership, removing fields, map-lists, sets, atomic lists,
//! updates, and the FieldsV1 encoding.

use berth_apply::{
    apply, apply_subresource, decode_managed_fields, track_update, ApplyError, BuiltinSchema,
    FieldSet, Operation,
};
use serde_json::{json, Value};

const T0: &str = "2010-10-10T00:00:00Z";
const T1: &str = "2010-10-10T00:00:01Z";
const T2: &str = "2010-10-10T00:00:02Z";

/// The managedFields of `obj`, as (manager, operation, apiVersion, fieldsV1).
fn managed(obj: &Value) -> Vec<(String, String, String, Value)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or("").to_string(),
                        e["operation"].as_str().unwrap_or("").to_string(),
                        e["apiVersion"].as_str().unwrap_or("").to_string(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    managed(obj)
        .into_iter()
        .find(|(m, ..)| m == manager)
        .map(|(.., f)| f)
        .unwrap_or(Value::Null)
}

fn without_managed(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    o
}

fn conflict_message(r: Result<Value, ApplyError>) -> String {
    match r {
        Err(e @ ApplyError::Conflicts(_)) => e.to_string(),
        Err(other) => format!("unexpected error: {other}"),
        Ok(obj) => format!("unexpected success: {obj}"),
    }
}

fn ok(r: Result<Value, ApplyError>) -> Value {
    r.unwrap_or_else(|e| panic!("apply failed: {e}"))
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-deployment"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image}]}
            }
        }
    })
}

// The documentation's first example: a ConfigMap applied by `kubectl`, and its managedFields.
#[test]
fn apply_records_the_fields_of_the_config() {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "some value"}
    });
    let out = ok(apply(None, &cm, "kubectl", false, &BuiltinSchema, T0));
    assert_eq!(without_managed(&out), cm);
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}
        }])
    );
}

// Creating with a plain write records an Update entry; maps that appear are owned themselves
// (`.`), the object's own metadata and spec are not.
#[test]
fn create_records_an_update_entry_for_every_field() {
    let cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "labels": {"a": "1"}, "uid": "u", "resourceVersion": "5"},
        "data": {"key": "v"}
    });
    let out = track_update(None, &cm, "kubectl-create", None, &BuiltinSchema, T0);
    assert_eq!(
        managed(&out),
        vec![(
            "kubectl-create".into(),
            "Update".into(),
            "v1".into(),
            json!({"f:data": {".": {}, "f:key": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
        )]
    );

    let deploy = deployment(1, "nginx:1.14.2");
    let out = track_update(
        None,
        &deploy,
        "kubectl-client-side-apply",
        None,
        &BuiltinSchema,
        T0,
    );
    assert_eq!(
        fields_of(&out, "kubectl-client-side-apply"),
        json!({"f:spec": {
            "f:replicas": {},
            "f:selector": {".": {}, "f:matchLabels": {".": {}, "f:app": {}}},
            "f:template": {".": {},
                "f:metadata": {".": {}, "f:labels": {".": {}, "f:app": {}}},
                "f:spec": {".": {}, "f:containers": {".": {}, "k:{\"name\":\"nginx\"}": {
                    ".": {}, "f:image": {}, "f:name": {}}}}}
        }})
    );
}

// The documentation's conflict: a Deployment created by client-side apply, then applied
// server-side with a different replica count.
#[test]
fn apply_conflicts_with_an_updater_and_force_takes_the_field() {
    let live = track_update(
        None,
        &deployment(3, "nginx:1.14.2"),
        "kubectl-client-side-apply",
        None,
        &BuiltinSchema,
        T0,
    );
    let config = deployment(2, "nginx:1.14.2");
    assert_eq!(
        conflict_message(apply(Some(&live), &config, "kubectl", false, &BuiltinSchema, T1)),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );

    let out = ok(apply(
        Some(&live),
        &config,
        "kubectl",
        true,
        &BuiltinSchema,
        T1,
    ));
    assert_eq!(out["spec"]["replicas"], json!(2));
    let csa =
        FieldSet::from_fields_v1(&fields_of(&out, "kubectl-client-side-apply")).unwrap_or_default();
    assert!(!csa.contains(&berth_apply::field_path(&["spec", "replicas"])));
    assert!(csa.contains(&berth_apply::field_path(&[
        "spec",
        "selector",
        "matchLabels",
        "app"
    ])));
    let mine = FieldSet::from_fields_v1(&fields_of(&out, "kubectl")).unwrap_or_default();
    assert!(mine.contains(&berth_apply::field_path(&["spec", "replicas"])));
}

// Several conflicts: grouped by manager, managers sorted.
#[test]
fn conflict_message_lists_every_field_by_manager() {
    let live = track_update(
        None,
        &deployment(3, "nginx:1.14.2"),
        "kubectl-client-side-apply",
        None,
        &BuiltinSchema,
        T0,
    );
    let live = ok(apply(
        Some(&live),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment",
            "labels": {"team": "a"}}}),
        "alpha",
        false,
        &BuiltinSchema,
        T1,
    ));
    let mut config = deployment(2, "nginx:1.16.1");
    config["metadata"]["labels"] = json!({"team": "b"});
    let err = apply(Some(&live), &config, "kubectl", false, &BuiltinSchema, T2);
    let Err(ApplyError::Conflicts(conflicts)) = &err else {
        panic!("expected conflicts, got {err:?}");
    };
    assert_eq!(conflicts.len(), 3);
    let replicas = conflicts.iter().find(|c| c.field == ".spec.replicas");
    assert_eq!(
        replicas.map(|c| c.cause_message()),
        Some("conflict with \"kubectl-client-side-apply\" using apps/v1".to_string())
    );
    assert_eq!(
        conflict_message(err),
        "Apply failed with 3 conflicts: conflicts with \"alpha\":\n\
         - .metadata.labels.team\n\
         conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

// Two appliers setting the same value share it; then neither can change it alone.
#[test]
fn same_value_is_shared_and_then_conflicts() {
    let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v", "a": "1"}});
    let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v", "b": "2"}});
    let live = ok(apply(None, &a, "a", false, &BuiltinSchema, T0));
    let live = ok(apply(Some(&live), &b, "b", false, &BuiltinSchema, T1));
    assert_eq!(live["data"], json!({"k": "v", "a": "1", "b": "2"}));
    assert_eq!(
        fields_of(&live, "a"),
        json!({"f:data": {"f:k": {}, "f:a": {}}})
    );
    assert_eq!(
        fields_of(&live, "b"),
        json!({"f:data": {"f:k": {}, "f:b": {}}})
    );

    let a2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "w", "a": "1"}});
    assert_eq!(
        conflict_message(apply(Some(&live), &a2, "a", false, &BuiltinSchema, T2)),
        "Apply failed with 1 conflict: conflict with \"b\": .data.k"
    );

    // One sharer stops applying the field: it stays, owned by the other.
    let b2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "2"}});
    let live = ok(apply(Some(&live), &b2, "b", false, &BuiltinSchema, T2));
    assert_eq!(live["data"], json!({"k": "v", "a": "1", "b": "2"}));
    assert_eq!(fields_of(&live, "b"), json!({"f:data": {"f:b": {}}}));
}

// Removing a field from the applied config removes it from the object, unless another
// manager owns it (the documentation's hand-over of `replicas` to an autoscaler).
#[test]
fn removing_a_field_from_the_config() {
    let live = ok(apply(
        None,
        &deployment(3, "nginx:1.14.2"),
        "kubectl",
        false,
        &BuiltinSchema,
        T0,
    ));

    let mut without_replicas = deployment(3, "nginx:1.14.2");
    if let Some(spec) = without_replicas["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let pruned = ok(apply(
        Some(&live),
        &without_replicas,
        "kubectl",
        false,
        &BuiltinSchema,
        T1,
    ));
    assert_eq!(pruned["spec"].get("replicas"), None);

    // An autoscaler writes replicas (an update always wins and takes the field).
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = track_update(Some(&live), &scaled, "hpa", None, &BuiltinSchema, T1);
    let kubectl = FieldSet::from_fields_v1(&fields_of(&scaled, "kubectl")).unwrap_or_default();
    assert!(!kubectl.contains(&berth_apply::field_path(&["spec", "replicas"])));
    assert_eq!(
        fields_of(&scaled, "hpa"),
        json!({"f:spec": {"f:replicas": {}}})
    );

    let kept = ok(apply(
        Some(&scaled),
        &without_replicas,
        "kubectl",
        false,
        &BuiltinSchema,
        T2,
    ));
    assert_eq!(kept["spec"]["replicas"], json!(5));
}

// A config that no longer sets any metadata drops the applier's labels, never the metadata.
#[test]
fn pruning_keeps_the_object_metadata() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}});
    let mut live = ok(apply(None, &cm, "m", false, &BuiltinSchema, T0));
    live["metadata"]["uid"] = json!("u-1");
    let bare = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
    let out = ok(apply(Some(&live), &bare, "m", false, &BuiltinSchema, T1));
    assert_eq!(out["metadata"]["name"], json!("c"));
    assert_eq!(out["metadata"]["uid"], json!("u-1"));
    assert_eq!(out["metadata"].get("labels"), None);
    assert_eq!(fields_of(&out, "m"), json!({"f:data": {"f:k": {}}}));
}

// Removing a container removes the whole item, with fields nobody applied.
#[test]
fn removing_a_map_list_item() {
    let mut two = deployment(1, "nginx");
    two["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "nginx", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}]);
    let live = ok(apply(None, &two, "kubectl", false, &BuiltinSchema, T0));
    // Defaulting by the server: owned by nobody.
    let mut defaulted = live.clone();
    defaulted["spec"]["template"]["spec"]["containers"][1]["imagePullPolicy"] = json!("Always");
    let out = ok(apply(
        Some(&defaulted),
        &deployment(1, "nginx"),
        "kubectl",
        false,
        &BuiltinSchema,
        T1,
    ));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx"}])
    );
}

// Map-lists merge by key: two managers each own their own container, and a port keyed by
// containerPort and the defaulted protocol.
#[test]
fn map_lists_merge_by_key() {
    let mut a = deployment(1, "nginx");
    a["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}]);
    let b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
    "spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "envoy"},
        {"name": "nginx", "env": [{"name": "MODE", "value": "b"}]}
    ]}}}});
    let live = ok(apply(None, &a, "a", false, &BuiltinSchema, T0));
    assert_eq!(
        fields_of(&live, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {},
            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}})
    );
    let live = ok(apply(Some(&live), &b, "b", false, &BuiltinSchema, T1));
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"],
        json!([
            {"name": "sidecar", "image": "envoy"},
            {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
             "env": [{"name": "MODE", "value": "b"}]}
        ])
    );
    // a changes its image: no conflict, b owns nothing of it.
    let a2 = deployment(1, "nginx:2");
    let live = ok(apply(Some(&live), &a2, "a", false, &BuiltinSchema, T2));
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[1]["image"], json!("nginx:2"));
    assert_eq!(
        containers[1].get("ports"),
        None,
        "a no longer applies the port"
    );
    assert_eq!(
        containers[1]["env"],
        json!([{"name": "MODE", "value": "b"}])
    );
    // b changing the image conflicts on the keyed path.
    let b_image = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:3"}]}}}});
    assert_eq!(
        conflict_message(apply(Some(&live), &b_image, "b", false, &BuiltinSchema, T2)),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

// Sets (finalizers) merge by value.
#[test]
fn sets_merge_by_value() {
    let cm = |fins: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": fins}});
    let live = ok(apply(
        None,
        &cm(json!(["a.io/x"])),
        "a",
        false,
        &BuiltinSchema,
        T0,
    ));
    let live = ok(apply(
        Some(&live),
        &cm(json!(["b.io/y", "a.io/x"])),
        "b",
        false,
        &BuiltinSchema,
        T1,
    ));
    assert_eq!(live["metadata"]["finalizers"], json!(["b.io/y", "a.io/x"]));
    assert_eq!(
        fields_of(&live, "a"),
        json!({"f:metadata": {"f:finalizers": {"v:\"a.io/x\"": {}}}})
    );
    // a stops applying its finalizer: still held by b.
    let live = ok(apply(
        Some(&live),
        &cm(json!(["a.io/z"])),
        "a",
        false,
        &BuiltinSchema,
        T2,
    ));
    assert_eq!(
        live["metadata"]["finalizers"],
        json!(["b.io/y", "a.io/x", "a.io/z"])
    );
    // b drops both of its items: only a's remains.
    let live = ok(apply(
        Some(&live),
        &cm(json!(["b.io/y"])),
        "b",
        false,
        &BuiltinSchema,
        T2,
    ));
    assert_eq!(live["metadata"]["finalizers"], json!(["b.io/y", "a.io/z"]));
}

// Atomic lists are replaced whole and owned as one field.
#[test]
fn atomic_lists_are_replaced() {
    let with_args = |args: Value| {
        let mut d = deployment(1, "nginx");
        d["spec"]["template"]["spec"]["containers"][0]["args"] = args;
        d
    };
    let live = ok(apply(
        None,
        &with_args(json!(["-a", "-b"])),
        "a",
        false,
        &BuiltinSchema,
        T0,
    ));
    assert_eq!(
        fields_of(&live, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"]
            ["k:{\"name\":\"nginx\"}"]["f:args"],
        json!({})
    );
    assert_eq!(
        conflict_message(apply(Some(&live), &with_args(json!(["-c"])), "b", false, &BuiltinSchema, T1)),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.containers[name=\"nginx\"].args"
    );
    let out = ok(apply(
        Some(&live),
        &with_args(json!(["-c"])),
        "b",
        true,
        &BuiltinSchema,
        T1,
    ));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["-c"])
    );
    let a = FieldSet::from_fields_v1(&fields_of(&out, "a")).unwrap_or_default();
    assert!(!a
        .paths()
        .iter()
        .any(|p| berth_apply::path_string(p).ends_with(".args")));
    // Shared atomic list: one applier dropping it keeps it for the other.
    let out = ok(apply(
        Some(&out),
        &with_args(json!(["-c"])),
        "a",
        false,
        &BuiltinSchema,
        T2,
    ));
    let out = ok(apply(
        Some(&out),
        &deployment(1, "nginx"),
        "b",
        false,
        &BuiltinSchema,
        T2,
    ));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["-c"])
    );
}

// Status is reset by the main resource: never applied, never tracked there; writes to the
// status subresource own it with `subresource: status`.
#[test]
fn status_belongs_to_the_status_subresource() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"}});
    let out = ok(apply(None, &pod, "kubectl", false, &BuiltinSchema, T0));
    assert_eq!(out.get("status"), None);
    assert!(fields_of(&out, "kubectl").get("f:status").is_none());

    let mut with_status = out.clone();
    with_status["status"] =
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    let out = track_update(
        Some(&out),
        &with_status,
        "kubelet",
        Some("status"),
        &BuiltinSchema,
        T1,
    );
    let entry = out["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == "kubelet"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(entry["subresource"], json!("status"));
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {".": {}, "f:phase": {},
            "f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
    );

    let status_patch = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Failed"}});
    assert_eq!(
        conflict_message(apply_subresource(Some(&out), &status_patch, "ctl", Some("status"), false, &BuiltinSchema, T2)),
        "Apply failed with 1 conflict: conflict with \"kubelet\" with subresource \"status\" using v1: .status.phase"
    );
}

// Updates: an update takes the fields it changes from everybody, keeps its earlier fields,
// and a write that changes nothing leaves managedFields alone.
#[test]
fn updates_move_ownership() {
    let live = ok(apply(
        None,
        &deployment(3, "nginx"),
        "kubectl",
        false,
        &BuiltinSchema,
        T0,
    ));
    let mut edited = live.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let out = track_update(
        Some(&live),
        &edited,
        "kubectl-edit",
        None,
        &BuiltinSchema,
        T1,
    );
    assert_eq!(
        fields_of(&out, "kubectl-edit"),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let kubectl = FieldSet::from_fields_v1(&fields_of(&out, "kubectl")).unwrap_or_default();
    assert!(kubectl.contains(&berth_apply::field_path(&["spec", "replicas"])));
    assert_eq!(
        kubectl
            .paths()
            .iter()
            .filter(|p| berth_apply::path_string(p).ends_with(".image"))
            .count(),
        0
    );

    let same = track_update(Some(&out), &out, "kubectl-edit", None, &BuiltinSchema, T2);
    assert_eq!(same, out);

    // Removing a field takes it from its owners without giving it to the updater.
    let mut removed = out.clone();
    if let Some(spec) = removed["spec"].as_object_mut() {
        spec.remove("replicas");
    }
    let out2 = track_update(
        Some(&out),
        &removed,
        "kubectl-edit",
        None,
        &BuiltinSchema,
        T2,
    );
    let kubectl = FieldSet::from_fields_v1(&fields_of(&out2, "kubectl")).unwrap_or_default();
    assert!(!kubectl.contains(&berth_apply::field_path(&["spec", "replicas"])));
    let edit = out2["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == "kubectl-edit"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        edit["time"],
        json!(T1),
        "nothing was added or changed by this write"
    );
}

// `managedFields: [{}]` in a write resets them; other malformed values keep the stored ones.
#[test]
fn managed_fields_sent_in_a_write() {
    let live = ok(apply(
        None,
        &deployment(3, "nginx"),
        "kubectl",
        false,
        &BuiltinSchema,
        T0,
    ));
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    reset["spec"]["replicas"] = json!(4);
    let out = track_update(Some(&live), &reset, "editor", None, &BuiltinSchema, T1);
    assert_eq!(
        managed(&out),
        vec![(
            "editor".into(),
            "Update".into(),
            "apps/v1".into(),
            json!({"f:spec": {"f:replicas": {}}})
        )]
    );

    let mut garbage = live.clone();
    garbage["metadata"]["managedFields"] = json!("nope");
    let out = track_update(Some(&live), &garbage, "editor", None, &BuiltinSchema, T1);
    assert_eq!(out, live);
}

// Applying to an object that has no managedFields gives its fields to `before-first-apply`.
#[test]
fn first_apply_to_an_untracked_object() {
    let live = deployment(3, "nginx");
    let out = ok(apply(
        Some(&live),
        &deployment(2, "nginx"),
        "kubectl",
        true,
        &BuiltinSchema,
        T0,
    ));
    let before =
        FieldSet::from_fields_v1(&fields_of(&out, "before-first-apply")).unwrap_or_default();
    assert!(before.contains(&berth_apply::field_path(&[
        "spec",
        "selector",
        "matchLabels",
        "app"
    ])));
    assert!(!before.contains(&berth_apply::field_path(&["spec", "replicas"])));
    assert!(matches!(
        apply(Some(&live), &deployment(2, "nginx"), "kubectl", false, &BuiltinSchema, T0),
        Err(ApplyError::Conflicts(c)) if c.len() == 1 && c[0].manager == "before-first-apply"
    ));
}

// At most ten Update entries: the oldest are merged into `ancient-changes`.
#[test]
fn update_entries_are_capped() {
    let mut live = track_update(
        None,
        &deployment(0, "nginx"),
        "creator",
        None,
        &BuiltinSchema,
        T0,
    );
    live["metadata"]["labels"] = json!({});
    for i in 1..=12 {
        let mut next = live.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        live = track_update(
            Some(&live),
            &next,
            &format!("m{i:02}"),
            None,
            &BuiltinSchema,
            &format!("2010-10-10T00:00:{i:02}Z"),
        );
    }
    let entries = decode_managed_fields(&live).unwrap_or_default();
    assert_eq!(entries.len(), 10);
    assert!(entries.iter().all(|e| e.operation == Operation::Update));
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.manager == "ancient-changes")
            .count(),
        1
    );
    assert_eq!(entries.last().map(|e| e.manager.as_str()), Some("m12"));
    // The bucket holds the oldest writers' fields.
    let bucket = entries
        .iter()
        .find(|e| e.manager == "ancient-changes")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    assert!(bucket.contains(&berth_apply::field_path(&["spec", "replicas"])));
    assert!(bucket.contains(&berth_apply::field_path(&["metadata", "labels", "l1"])));
}

// Invalid configs are refused with the path of the problem.
#[test]
fn invalid_configs() {
    let dup = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}, {"name": "c"}]}});
    assert_eq!(
        apply(None, &dup, "m", false, &BuiltinSchema, T0).map_err(|e| e.to_string()),
        Err("failed to create typed patch object: .spec.containers: duplicate entries for key [name=\"c\"]".to_string())
    );
    let keyless = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"image": "c"}]}});
    assert!(matches!(
        apply(None, &keyless, "m", false, &BuiltinSchema, T0),
        Err(ApplyError::InvalidConfig { .. })
    ));
    let mut with_managed = dup.clone();
    with_managed["metadata"]["managedFields"] = json!([]);
    assert!(matches!(
        apply(None, &with_managed, "m", false, &BuiltinSchema, T0),
        Err(ApplyError::ManagedFieldsInConfig)
    ));
    assert!(matches!(
        apply(None, &json!([1]), "m", false, &BuiltinSchema, T0),
        Err(ApplyError::NotAnObject)
    ));
    assert!(matches!(
        apply(
            None,
            &json!({"kind": "Pod"}),
            "m",
            false,
            &BuiltinSchema,
            T0
        ),
        Err(ApplyError::MissingTypeMeta {
            field: "apiVersion"
        })
    ));
}

/// FieldsV1 as Kubernetes stores it decodes and encodes back unchanged.
#[test]
fn fields_v1_round_trips() {
    let cases = [
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
        json!({"f:spec": {"f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}),
        json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"kubernetes.io/pvc-protection\"": {}}}}),
        json!({"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:args": {}}}}}),
        json!({}),
    ];
    for case in cases {
        let set = FieldSet::from_fields_v1(&case);
        assert_eq!(set.map(|s| s.to_fields_v1()), Ok(case.clone()), "{case}");
    }
    // Unknown element kinds are skipped; malformed ones are errors.
    assert_eq!(
        FieldSet::from_fields_v1(&json!({"x:foo": {}, "f:a": {}})).map(|s| s.to_fields_v1()),
        Ok(json!({"f:a": {}}))
    );
    assert!(FieldSet::from_fields_v1(&json!({"k:notjson": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
}

// List order: the config's order for its items, live-only items kept where they were.
#[test]
fn map_list_order() {
    let cm = |names: &[&str]| {
        let containers: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
    };
    let names = |obj: &Value| -> Vec<String> {
        obj["spec"]["containers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let cases: &[(&[&str], &[&str], &[&str])] = &[
        (&["a", "b"], &["c"], &["a", "b", "c"]),
        (&["a", "b"], &["b", "a"], &["b", "a"]),
        (&["a", "x", "b"], &["b", "a"], &["x", "b", "a"]),
        (&["a", "b"], &["c", "b"], &["a", "c", "b"]),
    ];
    for (live_names, config_names, want) in cases {
        let live = track_update(None, &cm(live_names), "owner", None, &BuiltinSchema, T0);
        let out = ok(apply(
            Some(&live),
            &cm(config_names),
            "m",
            false,
            &BuiltinSchema,
            T1,
        ));
        assert_eq!(
            names(&out),
            want.to_vec(),
            "{live_names:?} + {config_names:?}"
        );
    }
}

// A null in the config removes the field: a change that conflicts with its owner; forced,
// the applier owns it (as absent).
#[test]
fn null_in_config_removes_the_field() {
    let live = ok(apply(
        None,
        &deployment(3, "nginx"),
        "a",
        false,
        &BuiltinSchema,
        T0,
    ));
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"replicas": null}});
    assert_eq!(
        conflict_message(apply(Some(&live), &config, "b", false, &BuiltinSchema, T1)),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    let out = ok(apply(Some(&live), &config, "b", true, &BuiltinSchema, T1));
    assert_eq!(out["spec"].get("replicas"), None);
    assert_eq!(fields_of(&out, "b"), json!({"f:spec": {"f:replicas": {}}}));
    let a = FieldSet::from_fields_v1(&fields_of(&out, "a")).unwrap_or_default();
    assert!(!a.contains(&berth_apply::field_path(&["spec", "replicas"])));
}
