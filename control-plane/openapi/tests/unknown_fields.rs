//! `unknown_fields` against Kubernetes' strict-decoding wording, one case per line.

use serde_json::{json, Value};

fn check(api_version: &str, kind: &str, obj: Value, expected: &[&str]) {
    let got = berth_openapi::unknown_fields(api_version, kind, &obj);
    assert_eq!(got, expected, "{api_version} {kind} {obj}");
}

#[test]
fn known_fields_pass() {
    check(
        "v1",
        "Pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "key"}}}),
        &[],
    );
    check(
        "v1",
        "ConfigMap",
        json!({"data": {"whatever": "x"}, "binaryData": {"b": "AA=="}}),
        &[],
    );
    check(
        "apps/v1",
        "Deployment",
        json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}}}),
        &[],
    );
    check(
        "v1",
        "Pod",
        json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "memory": 5}}}]}}),
        &[],
    );
    // Free-form objects (FieldsV1, RawExtension) take anything.
    check(
        "v1",
        "Pod",
        json!({"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {"f:x": {}}}}]}}),
        &[],
    );
    // Values of the wrong type are not unknown fields.
    check(
        "v1",
        "Pod",
        json!({"spec": "oops", "metadata": {"labels": ["x"]}}),
        &[],
    );
}

#[test]
fn unknown_fields_are_named_by_path() {
    check(
        "apps/v1",
        "Deployment",
        json!({"spec": {"foo": 1}}),
        &["unknown field \"spec.foo\""],
    );
    check(
        "v1",
        "Pod",
        json!({"bogus": true}),
        &["unknown field \"bogus\""],
    );
    check(
        "v1",
        "ConfigMap",
        json!({"metadata": {"lables": {}}}),
        &["unknown field \"metadata.lables\""],
    );
    check(
        "apps/v1",
        "Deployment",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "imag": "x", "ports": [{"port": 80}]}]}}}}),
        &[
            "unknown field \"spec.template.spec.containers[1].imag\"",
            "unknown field \"spec.template.spec.containers[1].ports[0].port\"",
        ],
    );
    check(
        "batch/v1",
        "CronJob",
        json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"volumes": [{"name": "v", "emptyDir": {"size": "1Gi"}}]}}}}}}),
        &["unknown field \"spec.jobTemplate.spec.template.spec.volumes[0].emptyDir.size\""],
    );
    check(
        "rbac.authorization.k8s.io/v1",
        "Role",
        json!({"rules": [{"verb": ["get"]}]}),
        &["unknown field \"rules[0].verb\""],
    );
    check(
        "v1",
        "Secret",
        json!({"stringData": {"a": "b"}, "datas": {}}),
        &["unknown field \"datas\""],
    );
}

#[test]
fn lists_check_their_items() {
    check(
        "v1",
        "PodList",
        json!({"metadata": {"resourceVersion": "1", "x": 1}, "items": [{"spec": {"nodeNam": "n"}}]}),
        &[
            "unknown field \"items[0].spec.nodeNam\"",
            "unknown field \"metadata.x\"",
        ],
    );
}

#[test]
fn every_served_kind_is_checked() {
    for served in berth_openapi::served_kinds() {
        let api_version = served.kind.api_version();
        check(
            &api_version,
            served.kind.kind,
            json!({"zzz": 1}),
            &["unknown field \"zzz\""],
        );
    }
}

#[test]
fn unknown_kinds_report_nothing() {
    check("v1", "Nope", json!({"zzz": 1}), &[]);
    check("apps/v2", "Deployment", json!({"zzz": 1}), &[]);
    check("", "", json!({"zzz": 1}), &[]);
    check("v1", "Pod", json!([1, 2]), &[]);
    check("v1", "Pod", Value::Null, &[]);
}

#[test]
fn deep_input_is_bounded() {
    let mut obj = json!({});
    for _ in 0..100 {
        obj = json!({"spec": {"containers": [obj]}});
    }
    // Only the first levels match the schema; the walk stops without overflowing the stack.
    let got = berth_openapi::unknown_fields("v1", "Pod", &obj);
    assert_eq!(got, ["unknown field \"spec.containers[0].spec\""]);
}
