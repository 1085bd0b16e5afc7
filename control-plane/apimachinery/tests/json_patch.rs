//! JSON patch: the examples of RFC 6902 appendix A, and kube-apiserver's departures and
//! messages.

use berth_apimachinery::patch::{json_patch, json_patch_with_limits, JsonPatchLimits, PatchError};
use serde_json::{json, Value};

/// Applies `patch` to `doc`; `Ok` holds the result, `Err` the (status, message).
fn check(doc: Value, patch: Value, expected: Result<Value, (u16, &str)>) {
    let got = json_patch(&doc, &patch).map_err(|e| (e.http_status(), e.to_string()));
    let expected = expected.map_err(|(s, m)| (s, m.to_string()));
    assert_eq!(got, expected, "doc {doc} patch {patch}");
}

#[test]
fn rfc6902_appendix_a() {
    // A.1 Adding an Object Member
    check(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz", "value": "qux"}]),
        Ok(json!({"baz": "qux", "foo": "bar"})),
    );
    // A.2 Adding an Array Element
    check(
        json!({"foo": ["bar", "baz"]}),
        json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
        Ok(json!({"foo": ["bar", "qux", "baz"]})),
    );
    // A.3 Removing an Object Member
    check(
        json!({"baz": "qux", "foo": "bar"}),
        json!([{"op": "remove", "path": "/baz"}]),
        Ok(json!({"foo": "bar"})),
    );
    // A.4 Removing an Array Element
    check(
        json!({"foo": ["bar", "qux", "baz"]}),
        json!([{"op": "remove", "path": "/foo/1"}]),
        Ok(json!({"foo": ["bar", "baz"]})),
    );
    // A.5 Replacing a Value
    check(
        json!({"baz": "qux", "foo": "bar"}),
        json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
        Ok(json!({"baz": "boo", "foo": "bar"})),
    );
    // A.6 Moving a Value
    check(
        json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
        json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
        Ok(json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})),
    );
    // A.7 Moving an Array Element
    check(
        json!({"foo": ["all", "grass", "cows", "eat"]}),
        json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
        Ok(json!({"foo": ["all", "cows", "eat", "grass"]})),
    );
    // A.8 Testing a Value: Success
    check(
        json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]),
        Ok(json!({"baz": "qux", "foo": ["a", 2, "c"]})),
    );
    // A.9 Testing a Value: Error
    check(
        json!({"baz": "qux"}),
        json!([{"op": "test", "path": "/baz", "value": "bar"}]),
        Err((422, "testing value /baz failed: test failed")),
    );
    // A.10 Adding a Nested Member Object
    check(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
        Ok(json!({"foo": "bar", "child": {"grandchild": {}}})),
    );
    // A.11 Ignoring Unrecognized Elements
    check(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
        Ok(json!({"foo": "bar", "baz": "qux"})),
    );
    // A.12 Adding to a Nonexistent Target
    check(
        json!({"foo": "bar"}),
        json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        Err((
            422,
            "add operation does not apply: doc is missing path: \"/baz/bat\": missing value",
        )),
    );
    // A.14 ~ Escape Ordering
    check(
        json!({"/": 9, "~1": 10}),
        json!([{"op": "test", "path": "/~01", "value": 10}]),
        Ok(json!({"/": 9, "~1": 10})),
    );
    // A.15 Comparing Strings and Numbers
    check(
        json!({"/": 9, "~1": 10}),
        json!([{"op": "test", "path": "/~01", "value": "10"}]),
        Err((422, "testing value /~01 failed: test failed")),
    );
    // A.16 Adding an Array Value
    check(
        json!({"foo": ["bar"]}),
        json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
        Ok(json!({"foo": ["bar", ["abc", "def"]]})),
    );
}

#[test]
fn kubectl_patch_examples() {
    // `kubectl patch deployment ... --type json` from the "Update API Objects in Place" task.
    let deployment = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "patch-demo-ctr", "image": "nginx"}
    ]}}}});
    check(
        deployment.clone(),
        json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "new image"}]),
        Ok(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "patch-demo-ctr", "image": "new image"}
        ]}}}})),
    );
    // Adding a label whose key needs escaping.
    check(
        json!({"metadata": {"labels": {}}}),
        json!([{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}]),
        Ok(json!({"metadata": {"labels": {"app.kubernetes.io/name": "web"}}})),
    );
    // Removing a finalizer by index after testing it.
    check(
        json!({"metadata": {"finalizers": ["a", "b"]}}),
        json!([{"op": "test", "path": "/metadata/finalizers/1", "value": "b"}, {"op": "remove", "path": "/metadata/finalizers/1"}]),
        Ok(json!({"metadata": {"finalizers": ["a"]}})),
    );
}

#[test]
fn kubernetes_departures_from_the_rfc() {
    // replace of a missing member adds it
    check(
        json!({}),
        json!([{"op": "replace", "path": "/a", "value": 1}]),
        Ok(json!({"a": 1})),
    );
    // add without value adds null
    check(
        json!({}),
        json!([{"op": "add", "path": "/a"}]),
        Ok(json!({"a": null})),
    );
    // test of a missing member against null succeeds
    check(
        json!({}),
        json!([{"op": "test", "path": "/a", "value": null}]),
        Ok(json!({})),
    );
    check(
        json!({"a": null}),
        json!([{"op": "test", "path": "/a"}]),
        Ok(json!({"a": null})),
    );
    check(
        json!({"a": 1}),
        json!([{"op": "test", "path": "/a"}]),
        Err((422, "testing value /a failed: test failed")),
    );
    // negative indices count from the end
    check(
        json!({"a": [1, 2, 3]}),
        json!([{"op": "remove", "path": "/a/-1"}]),
        Ok(json!({"a": [1, 2]})),
    );
    check(
        json!({"a": [1, 2]}),
        json!([{"op": "add", "path": "/a/-1", "value": 9}]),
        Ok(json!({"a": [1, 2, 9]})),
    );
    check(
        json!({"a": [1, 2]}),
        json!([{"op": "replace", "path": "/a/-2", "value": 9}]),
        Ok(json!({"a": [9, 2]})),
    );
    // the first segment of a relative path is ignored
    check(
        json!({}),
        json!([{"op": "add", "path": "x/a", "value": 1}]),
        Ok(json!({"a": 1})),
    );
    // the whole document can be replaced or tested
    check(
        json!({"a": 1}),
        json!([{"op": "replace", "path": "", "value": {"b": 2}}]),
        Ok(json!({"b": 2})),
    );
    check(
        json!({"a": 1}),
        json!([{"op": "test", "path": "", "value": {"a": 1}}]),
        Ok(json!({"a": 1})),
    );
    // a null patch does nothing
    check(json!({"a": 1}), json!(null), Ok(json!({"a": 1})));
    // copy deep-copies
    check(
        json!({"a": {"b": [1]}}),
        json!([{"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/b/-", "value": 2}]),
        Ok(json!({"a": {"b": [1]}, "c": {"b": [1, 2]}})),
    );
}

#[test]
fn kubernetes_messages() {
    let cases: &[(Value, Value, u16, &str)] = &[
        (json!({}), json!([{"op": "remove", "path": "/x"}]), 422, "error in remove for path: '/x': Unable to remove nonexistent key: x: missing value"),
        (json!({"a": [1]}), json!([{"op": "add", "path": "/a/5", "value": 1}]), 422, "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced"),
        (json!({"a": [1]}), json!([{"op": "add", "path": "/a/x", "value": 1}]), 422, "error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax"),
        (json!({"a": [1]}), json!([{"op": "remove", "path": "/a/1"}]), 422, "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index referenced"),
        (json!({"a": [1]}), json!([{"op": "remove", "path": "/a/-2"}]), 422, "error in remove for path: '/a/-2': Unable to access invalid index: -2: invalid index referenced"),
        (json!({"a": [1]}), json!([{"op": "replace", "path": "/a/3", "value": 1}]), 422, "replace operation does not apply: doc is missing key: /a/3: missing value"),
        (json!({}), json!([{"op": "replace", "path": "/a/b", "value": 1}]), 422, "replace operation does not apply: doc is missing path: /a/b: missing value"),
        (json!({"a": null}), json!([{"op": "add", "path": "/a/b", "value": 1}]), 422, "add operation does not apply: doc is missing path: \"/a/b\": missing value"),
        (json!({"a": "s"}), json!([{"op": "add", "path": "/a/b", "value": 1}]), 422, "add operation does not apply: doc is missing path: \"/a/b\": missing value"),
        (json!({}), json!([{"op": "add", "path": "", "value": 1}]), 422, "add operation does not apply: doc is missing path: \"\": missing value"),
        (json!({}), json!([{"op": "add", "value": 1}]), 422, "add operation failed to decode path: missing value"),
        (json!({}), json!([{"op": "replace", "value": 1}]), 422, "replace operation failed to decode path: operation missing path field: missing value"),
        (json!({}), json!([{"op": "test", "path": 5}]), 422, "test operation failed to decode path: json: cannot unmarshal number into Go value of type string"),
        (json!({}), json!([{"op": "replace", "path": "", "value": 1}]), 422, "replace operation value must be object or array: %!w(<nil>)"),
        (json!({}), json!([{"op": "move", "path": "/a"}]), 422, "move operation failed to decode from: operation, missing from field: missing value"),
        (json!({}), json!([{"op": "move", "from": "/x", "path": "/a"}]), 422, "error in move for path: 'x': Unable to remove nonexistent key: x: missing value"),
        (json!({"a": {"b": 1}}), json!([{"op": "move", "from": "/a", "path": "/a/b"}]), 422, "move operation does not apply: doc is missing destination path: /a/b: missing value"),
        (json!({}), json!([{"op": "copy", "from": "/x/y", "path": "/a"}]), 422, "copy operation does not apply: doc is missing from path: /x/y: missing value"),
        (json!({"x": 1}), json!([{"op": "copy", "from": "/x", "path": "/a/b"}]), 422, "copy operation does not apply: doc is missing destination path: /a/b: missing value"),
        (json!({}), json!([{"op": "test", "path": "/a/b", "value": 1}]), 422, "test operation does not apply: is missing path: /a/b: missing value"),
        (json!({}), json!([{"op": "frob", "path": "/a"}]), 422, "Unexpected kind: frob"),
        (json!({}), json!([{"path": "/a"}]), 422, "Unexpected kind: unknown"),
        (json!({}), json!({"op": "add"}), 400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        (json!({}), json!(["add"]), 400, "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ];
    for (doc, patch, status, message) in cases {
        check(doc.clone(), patch.clone(), Err((*status, message)));
    }
}

#[test]
fn failed_patches_change_nothing_and_limits_hold() {
    let doc = json!({"a": 1});
    let patch = json!([{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/zzz"}]);
    assert!(json_patch(&doc, &patch).is_err());
    assert_eq!(doc, json!({"a": 1}));

    let limits = JsonPatchLimits {
        max_operations: 2,
        max_copy_bytes: 10,
    };
    let three = json!([{"op": "test", "path": "/a", "value": 1}, {"op": "test", "path": "/a", "value": 1}, {"op": "test", "path": "/a", "value": 1}]);
    let err = json_patch_with_limits(&doc, &three, limits).unwrap_err();
    assert_eq!(err, PatchError::TooManyOperations { max: 2, got: 3 });
    assert_eq!(
        err.to_string(),
        "The allowed maximum operations in a JSON patch is 2, got 3"
    );
    assert_eq!(err.http_status(), 413);

    let big = json!({"s": "0123456789"});
    let copy = json!([{"op": "copy", "from": "/s", "path": "/t"}]);
    let err = json_patch_with_limits(&big, &copy, limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to complete the copy, the accumulated size increase of copy is 12, exceeding the limit 10"
    );
}
