"""The official Python client (Debian's python3-kubernetes) against Berth's API server:
version, CRUD, 409 and 404, a Deployment, a watch. Exits non-zero on the first mismatch."""

import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def expect_status(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        assert e.status == code, f"want HTTP {code}, got {e.status}: {e.body}"
        return e
    raise AssertionError(f"want HTTP {code}, the call succeeded")


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    v = client.VersionApi().get_code()
    assert v.major == "1" and v.git_version.startswith("v1."), v
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    ns = "py"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings", labels={"app": "py"}), data={"a": "1"})
    created = core.create_namespaced_config_map(ns, cm)
    assert created.metadata.uid and created.metadata.resource_version, created.metadata
    e = expect_status(409, core.create_namespaced_config_map, ns, cm)
    assert "AlreadyExists" in e.body, e.body
    expect_status(404, core.read_namespaced_config_map, "missing", ns)

    got = core.read_namespaced_config_map("settings", ns)
    got.data["a"] = "2"
    updated = core.replace_namespaced_config_map("settings", ns, got)
    assert updated.data["a"] == "2"
    # A stale resourceVersion is a conflict.
    got.data["a"] = "3"
    e = expect_status(409, core.replace_namespaced_config_map, "settings", ns, got)
    assert "the object has been modified" in e.body, e.body
    patched = core.patch_namespaced_config_map("settings", ns, {"data": {"b": "x"}})
    assert patched.data == {"a": "2", "b": "x"}, patched.data
    listed = core.list_namespaced_config_map(ns, label_selector="app=py")
    assert [i.metadata.name for i in listed.items] == ["settings"], listed.items

    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.35")]),
            ),
        ),
    )
    d = apps.create_namespaced_deployment(ns, dep)
    assert d.spec.strategy.type == "RollingUpdate" and d.spec.revision_history_limit == 10, d.spec
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4, scale

    # A watch from the list's resourceVersion sees the later changes, in order.
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen = []

    def watcher():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=4):
            # The root CA publisher's kube-root-ca.crt may be created meanwhile, as on Kubernetes.
            if ev["object"].metadata.name != "kube-root-ca.crt":
                seen.append((ev["type"], ev["object"].metadata.name))

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1")))
    core.delete_namespaced_config_map("w1", ns)
    t.join()
    assert seen == [("ADDED", "w1"), ("DELETED", "w1")], seen

    core.delete_namespaced_config_map("settings", ns)
    expect_status(404, core.read_namespaced_config_map, "settings", ns)
    print("python client: ok")


if __name__ == "__main__":
    main(sys.argv[1])
