//! Strategic merge patch: the examples of the strategic-merge-patch design document and of
//! the "Update API Objects in Place Using kubectl patch" task, what kubectl apply sends,
//! Kubernetes' messages, and a set model of merged primitive lists.

use berth_apimachinery::patch::{patch_meta, strategic_merge_patch, PatchMeta, PatchStrategy};
use serde_json::{json, Value};

fn check(meta: &PatchMeta, doc: Value, patch: Value, expected: Result<Value, (u16, &str)>) {
    let got =
        strategic_merge_patch(&doc, &patch, meta).map_err(|e| (e.http_status(), e.to_string()));
    let expected = expected.map_err(|(s, m)| (s, m.to_string()));
    assert_eq!(got, expected, "doc {doc} patch {patch}");
}

fn pod() -> &'static PatchMeta {
    patch_meta("v1", "Pod").expect("Pod metadata")
}

fn deployment() -> &'static PatchMeta {
    patch_meta("apps/v1", "Deployment").expect("Deployment metadata")
}

fn pod_spec(spec: Value) -> Value {
    json!({"spec": spec})
}

fn template(spec: Value) -> Value {
    json!({"spec": {"template": {"spec": spec}}})
}

#[test]
fn design_doc_containers_merge_by_name() {
    // Background: adding a container merges on `name` instead of replacing the list.
    check(
        pod(),
        pod_spec(json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}]})),
        pod_spec(json!({"containers": [{"name": "log-tailer", "image": "log-tailer-1.0"}]})),
        Ok(pod_spec(json!({"containers": [
            {"name": "log-tailer", "image": "log-tailer-1.0"},
            {"name": "nginx", "image": "nginx-1.0"}
        ]}))),
    );
}

#[test]
fn design_doc_directives() {
    let two = pod_spec(json!({"containers": [
        {"name": "nginx", "image": "nginx-1.0"},
        {"name": "log-tailer", "image": "log-tailer-1.0"}
    ]}));
    // replace on a map: taken literally.
    check(
        pod(),
        pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}], "restartPolicy": "Always"}),
        ),
        json!({"spec": {"$patch": "replace", "containers": [{"name": "nginx", "image": "nginx-2.0"}]}}),
        Ok(pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-2.0"}]}),
        )),
    );
    // replace on a list of maps.
    check(
        pod(),
        two.clone(),
        pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}, {"$patch": "replace"}]}),
        ),
        Ok(pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}]}),
        )),
    );
    // delete an element of a merged list by its merge key.
    check(
        pod(),
        two,
        pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}, {"$patch": "delete", "name": "log-tailer"}]}),
        ),
        Ok(pod_spec(
            json!({"containers": [{"name": "nginx", "image": "nginx-1.0"}]}),
        )),
    );
    // delete a map with null. The document says `$patch: delete` is equivalent; in
    // Kubernetes' code it empties an existing map instead (and removes a new one).
    let strategy = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}});
    check(
        deployment(),
        strategy.clone(),
        json!({"spec": {"strategy": {"rollingUpdate": null}}}),
        Ok(json!({"spec": {"strategy": {"type": "RollingUpdate"}}})),
    );
    check(
        deployment(),
        strategy,
        json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}}),
        Ok(json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}})),
    );
    check(
        deployment(),
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
        json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}}),
        Ok(json!({"spec": {"strategy": {"type": "Recreate"}}})),
    );
    // deleteFromPrimitiveList on finalizers.
    check(
        pod(),
        json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "c"]}}),
        Ok(json!({"metadata": {"finalizers": ["a"]}})),
    );
    // setElementOrder on a primitive list and on a list of maps.
    check(
        pod(),
        json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
        json!({"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"]}}),
        Ok(json!({"metadata": {"finalizers": ["b", "c", "a"]}})),
    );
    check(
        pod(),
        pod_spec(
            json!({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "3"}]}),
        ),
        pod_spec(
            json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}),
        ),
        Ok(pod_spec(
            json!({"containers": [{"name": "b", "image": "2"}, {"name": "c", "image": "3"}, {"name": "a", "image": "1"}]}),
        )),
    );
    // retainKeys on a union.
    check(
        &PatchMeta::new(),
        json!({"union": {"foo": "a", "other": "b"}}),
        json!({"union": {"$retainKeys": ["another", "bar"], "another": "d", "bar": "c"}}),
        Ok(json!({"union": {"another": "d", "bar": "c"}})),
    );
}

#[test]
fn kubectl_patch_task() {
    let demo = template(json!({
        "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
        "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]
    }));
    // patch-file.yaml: containers merge, the new one first.
    check(
        deployment(),
        demo.clone(),
        template(json!({"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]})),
        Ok(template(json!({
            "containers": [{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}],
            "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]
        }))),
    );
    // patch-file-tolerations.yaml: tolerations have no strategy and are replaced.
    check(
        deployment(),
        demo,
        template(
            json!({"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}),
        ),
        Ok(template(json!({
            "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
            "tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]
        }))),
    );
    // retainKeys on the Deployment strategy (patch-file-retainkeys.yaml).
    let rolling = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
    check(
        deployment(),
        rolling.clone(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        Ok(json!({"spec": {"strategy": {"type": "Recreate"}}})),
    );
    // Without the directive the old rollingUpdate stays (and validation would refuse it).
    check(
        deployment(),
        rolling,
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
        Ok(
            json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}),
        ),
    );
}

#[test]
fn what_kubectl_apply_sends() {
    let live = json!({
        "metadata": {"name": "web", "labels": {"app": "web", "old": "x"}, "annotations": {"a": "1"}},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "proxy:1"}
        ]}}}
    });
    let patch = json!({
        "metadata": {"labels": {"old": null}, "annotations": {"a": "2"}},
        "spec": {"replicas": 3, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{
                "name": "app", "image": "app:2",
                "$setElementOrder/env": [{"name": "B"}, {"name": "A"}, {"name": "C"}],
                "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                "$setElementOrder/ports": [{"containerPort": 8080}],
                "ports": [{"containerPort": 8080}, {"$patch": "delete", "containerPort": 80}]
            }]
        }}}
    });
    check(
        deployment(),
        live,
        patch,
        Ok(json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a": "2"}},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
                 "ports": [{"containerPort": 8080}]},
                {"name": "sidecar", "image": "proxy:1"}
            ]}}}
        })),
    );
}

#[test]
fn merge_keys_of_served_kinds() {
    // Node status from the kubelet: conditions by type, addresses by type.
    let node = patch_meta("v1", "Node").unwrap();
    check(
        node,
        json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            {"type": "MemoryPressure", "status": "False"}
        ], "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
        json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
                          "addresses": [{"type": "Hostname", "address": "n1"}]}}),
        Ok(json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "KubeletNotReady"},
            {"type": "MemoryPressure", "status": "False"}
        ], "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}]}})),
    );
    // Service ports by port.
    check(
        patch_meta("v1", "Service").unwrap(),
        json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        Ok(json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}})),
    );
    // ownerReferences by uid, finalizers as a set; a new finalizer goes first.
    check(
        patch_meta("v1", "ConfigMap").unwrap(),
        json!({"metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "1", "name": "x"}]}}),
        json!({"metadata": {"finalizers": ["c", "a"], "ownerReferences": [{"uid": "2", "name": "y"}]}}),
        Ok(
            json!({"metadata": {"finalizers": ["c", "a", "b"], "ownerReferences": [{"uid": "2", "name": "y"}, {"uid": "1", "name": "x"}]}}),
        ),
    );
    // Volumes by name with $retainKeys on the element (a union).
    check(
        pod(),
        pod_spec(
            json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "secret": {"secretName": "s"}}]}),
        ),
        pod_spec(
            json!({"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}),
        ),
        Ok(pod_spec(
            json!({"volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "secret": {"secretName": "s"}}]}),
        )),
    );
    // ServiceAccount secrets merge; imagePullSecrets have no strategy and are replaced.
    check(
        patch_meta("v1", "ServiceAccount").unwrap(),
        json!({"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "p"}]}),
        json!({"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "q"}]}),
        Ok(json!({"secrets": [{"name": "b"}, {"name": "a"}], "imagePullSecrets": [{"name": "q"}]})),
    );
    // Pod templates of every workload kind merge containers by name.
    for (api_version, kind) in [
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "StatefulSet"),
        ("batch/v1", "Job"),
    ] {
        check(
            patch_meta(api_version, kind).unwrap(),
            template(
                json!({"containers": [{"name": "a", "image": "1"}], "initContainers": [{"name": "i", "image": "1"}]}),
            ),
            template(
                json!({"containers": [{"name": "a", "image": "2"}], "initContainers": [{"name": "j", "image": "1"}]}),
            ),
            Ok(template(
                json!({"containers": [{"name": "a", "image": "2"}], "initContainers": [{"name": "j", "image": "1"}, {"name": "i", "image": "1"}]}),
            )),
        );
    }
    // Lease, RBAC: no strategies beyond ObjectMeta, lists replaced.
    check(
        patch_meta("rbac.authorization.k8s.io/v1", "Role").unwrap(),
        json!({"rules": [{"verbs": ["get"]}]}),
        json!({"rules": [{"verbs": ["list"]}]}),
        Ok(json!({"rules": [{"verbs": ["list"]}]})),
    );
    assert!(patch_meta("example.com/v1", "Widget").is_none());
    assert_eq!(
        deployment()
            .lookup("spec.template.spec.containers.env")
            .and_then(|f| f.merge_key()),
        Some("name")
    );
    assert_eq!(
        deployment()
            .lookup("spec.strategy")
            .and_then(|f| f.strategy()),
        Some(PatchStrategy::RetainKeys)
    );
    assert_eq!(
        pod().lookup("spec.volumes").and_then(|f| f.strategy()),
        Some(PatchStrategy::MergeRetainKeys)
    );
}

#[test]
fn nulls_and_new_values() {
    check(
        pod(),
        json!({"metadata": {"labels": {"a": "1"}}}),
        json!({"metadata": {"labels": {"a": null, "b": null, "c": "3"}, "annotations": {"x": null, "y": {"z": null}}}}),
        Ok(json!({"metadata": {"labels": {"c": "3"}, "annotations": {"y": {}}}})),
    );
    // A new member that is itself a deletion directive is dropped.
    check(
        pod(),
        json!({}),
        json!({"spec": {"x": {"$patch": "delete"}, "y": 1}}),
        Ok(json!({"spec": {"y": 1}})),
    );
    // Directive keys never reach the result, even in appended elements.
    check(
        pod(),
        pod_spec(json!({"volumes": []})),
        pod_spec(
            json!({"volumes": [{"name": "v", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}]}),
        ),
        Ok(pod_spec(
            json!({"volumes": [{"name": "v", "emptyDir": {}}]}),
        )),
    );
    // A null patch changes nothing.
    check(pod(), json!({"a": 1}), json!(null), Ok(json!({"a": 1})));
    // Deleting the whole object.
    check(
        pod(),
        json!({"a": 1}),
        json!({"$patch": "delete"}),
        Ok(json!({})),
    );
}

#[test]
fn kubernetes_messages() {
    let cases: Vec<(Value, Value, u16, &str)> = vec![
        (
            pod_spec(json!({"containers": [{"name": "a"}]})),
            pod_spec(json!({"containers": [{"image": "x"}]})),
            500,
            "map: map[image:x] does not contain declared merge key: name",
        ),
        (
            pod_spec(json!({"containers": [{"name": "a"}]})),
            pod_spec(json!({"containers": [{"$patch": "merge", "name": "a"}]})),
            500,
            "merging lists cannot yet be specified in the patch",
        ),
        (
            pod_spec(json!({"containers": [{"name": "a"}]})),
            pod_spec(json!({"containers": [{"$patch": "frob", "name": "a"}]})),
            500,
            "unknown patch type: frob in map: map[$patch:frob name:a]",
        ),
        (json!({"spec": {}}), json!({"spec": {"$patch": "merge"}}), 500, "unknown patch type: merge in map: map[$patch:merge]"),
        (json!({"spec": {"a": 1}}), json!({"spec": {"$retainKeys": "a"}}), 400, "invalid patch format of retainKeys"),
        (json!({"spec": {"a": 1}}), json!({"spec": {"$retainKeys": ["a"], "b": 2}}), 400, "invalid patch format of retainKeys"),
        (json!({"metadata": {"finalizers": ["a"]}}), json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}), 400, "invalid patch format of primitive list"),
        (json!({"metadata": {"finalizers": ["a"]}}), json!({"metadata": {"$setElementOrderfinalizers": ["a"]}}), 400, "invalid patch format of setElementOrder list"),
        (
            pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            pod_spec(json!({"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "b", "image": "x"}]})),
            500,
            "The order in patch list:\n[map[image:x name:b]]\n doesn't match $setElementOrder list:\n[map[name:a]]\n",
        ),
        (json!({"metadata": {"finalizers": [["a"]]}}), json!({"metadata": {"finalizers": [["b"]]}}), 422, "lists of lists are not supported"),
        (
            json!({"metadata": {"finalizers": ["a"]}}),
            json!({"metadata": {"finalizers": [1]}}),
            500,
            "list element types are not identical: [[a] [1]]",
        ),
        (json!({}), json!([1]), 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ];
    for (doc, patch, status, message) in cases {
        check(pod(), doc, patch, Err((status, message)));
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn subset(&mut self) -> Vec<String> {
        ["a", "b", "c", "d", "e"]
            .iter()
            .filter(|_| self.next() % 2 == 0)
            .map(|s| s.to_string())
            .collect()
    }
}

#[test]
fn merged_primitive_lists_behave_as_sets() {
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let live = rng.subset();
        let added = rng.subset();
        let deleted = rng.subset();
        let mut patch = json!({"metadata": {"finalizers": added}});
        if !deleted.is_empty() && rng.next() % 2 == 0 {
            patch["metadata"]["$deleteFromPrimitiveList/finalizers"] = json!(deleted);
        } else {
            patch["metadata"]["$deleteFromPrimitiveList/finalizers"] = json!([]);
        }
        let doc = json!({"metadata": {"finalizers": live}});
        let got = strategic_merge_patch(&doc, &patch, pod()).unwrap();
        let got: Vec<String> =
            serde_json::from_value(got["metadata"]["finalizers"].clone()).unwrap();
        let deletions: Vec<String> = serde_json::from_value(
            patch["metadata"]["$deleteFromPrimitiveList/finalizers"].clone(),
        )
        .unwrap();
        // Berth applies deletions first (key order), then additions.
        let mut want: Vec<String> = live
            .iter()
            .filter(|f| !deletions.contains(f))
            .cloned()
            .collect();
        for f in &added {
            if !want.contains(f) {
                want.push(f.clone());
            }
        }
        let mut sorted_got = got.clone();
        sorted_got.sort();
        sorted_got.dedup();
        want.sort();
        assert_eq!(sorted_got, want, "live {live:?} patch {patch}");
        assert_eq!(sorted_got.len(), got.len(), "duplicates in {got:?}");
        // Order: the patch's items keep the patch's order.
        let positions: Vec<usize> = added
            .iter()
            .filter_map(|f| got.iter().position(|g| g == f))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "patch order lost: {got:?} for {added:?}"
        );
    }
}

#[test]
fn long_lists_keep_the_requested_order() {
    // More than 20 elements: the stable sort's merge phase is exercised.
    let names: Vec<String> = (0..45).map(|i| format!("f{i:02}")).collect();
    let mut reversed = names.clone();
    reversed.reverse();
    check(
        pod(),
        json!({"metadata": {"finalizers": names}}),
        json!({"metadata": {"$setElementOrder/finalizers": reversed}}),
        Ok(json!({"metadata": {"finalizers": reversed}})),
    );
    let live: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("c{i:02}"), "image": "old"}))
        .collect();
    let added: Vec<Value> = (30..60)
        .rev()
        .map(|i| json!({"name": format!("c{i:02}"), "image": "new"}))
        .collect();
    let mut want = added.clone();
    want.extend(live.iter().cloned());
    check(
        pod(),
        pod_spec(json!({"containers": live})),
        pod_spec(json!({"containers": added})),
        Ok(pod_spec(json!({"containers": want}))),
    );
    // Interleaved: every other live container (the odd ones) is patched, in reverse order.
    let live: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("c{i:02}")}))
        .collect();
    let patched: Vec<Value> = (0..40)
        .rev()
        .step_by(2)
        .map(|i| json!({"name": format!("c{i:02}"), "image": "x"}))
        .collect();
    let got = strategic_merge_patch(
        &pod_spec(json!({"containers": live})),
        &pod_spec(json!({"containers": patched})),
        pod(),
    )
    .unwrap();
    let got_names: Vec<&str> = got["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let patched_names: Vec<&str> = got_names
        .iter()
        .copied()
        .filter(|n| n[1..].parse::<u32>().unwrap() % 2 == 1)
        .collect();
    let expected_patched: Vec<String> = (0..40)
        .rev()
        .step_by(2)
        .map(|i| format!("c{i:02}"))
        .collect();
    assert_eq!(
        patched_names, expected_patched,
        "patch order kept for patched items"
    );
    let server_only: Vec<&str> = got_names
        .iter()
        .copied()
        .filter(|n| n[1..].parse::<u32>().unwrap() % 2 == 0)
        .collect();
    let expected_server_only: Vec<String> = (0..40)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("c{i:02}"))
        .collect();
    assert_eq!(
        server_only, expected_server_only,
        "live order kept for the rest"
    );
}
