//! Discovery documents generated from the resource table: `/api`, `/apis`, the per
//! group-version APIResourceLists, aggregated discovery (apidiscovery.k8s.io/v2) and
//! `/version`.

use crate::resources::{group_versions, Storage, RESOURCES};
use serde_json::{json, Value};

/// The Kubernetes version this server speaks (its types are k8s-openapi's v1_33).
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "33";

pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `version.Info` with every field (the Python client refuses a partial one).
pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": "32",
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-berth.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "berth",
        "gitTreeState": "clean",
        "buildDate": "2026-12-01T00:00:00Z",
        "goVersion": "none (rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (g, v) in group_versions() {
        if g.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(x, _)| *x == g) {
            Some((_, vs)) => vs.push(v),
            None => out.push((g, vec![v])),
        }
    }
    out
}

fn group_json(g: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
}

pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups().iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(group: &str) -> Option<Value> {
    let (g, vs) = groups().into_iter().find(|(g, _)| *g == group)?;
    let mut v = group_json(g, &vs);
    v["kind"] = "APIGroup".into();
    v["apiVersion"] = "v1".into();
    Some(v)
}

/// The APIResourceList of one group-version, or None if not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs()});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        if r.storage == Storage::Stored {
            e["storageVersionHash"] = storage_version_hash(&r.api_version(), r.kind).into();
        }
        list.push(e);
        for s in r.subresources {
            let (verbs, g, v, kind) = s.discovery();
            let mut e = json!({"name": format!("{}/{}", r.plural, s.name()), "singularName": "", "namespaced": r.namespaced, "kind": if kind.is_empty() { r.kind } else { kind }, "verbs": verbs});
            if !g.is_empty() || !v.is_empty() {
                e["group"] = g.into();
                e["version"] = v.into();
            }
            list.push(e);
        }
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

/// An opaque hash of the storage version, as kube-apiserver publishes (8 bytes, base64).
fn storage_version_hash(api_version: &str, kind: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{api_version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&h[..8])
}

fn aggregated_versions(group: &str, versions: &[&str]) -> Vec<Value> {
    versions
        .iter()
        .map(|v| {
            let mut resources = Vec::new();
            for r in RESOURCES.iter().filter(|r| r.group == group && r.version == *v) {
                let subs: Vec<Value> = r
                    .subresources
                    .iter()
                    .map(|s| {
                        let (verbs, g, sv, kind) = s.discovery();
                        let (g, sv, kind) = if kind.is_empty() { (r.group, r.version, r.kind) } else { (g, if sv.is_empty() { r.version } else { sv }, kind) };
                        json!({"subresource": s.name(), "responseKind": {"group": g, "version": sv, "kind": kind}, "verbs": verbs})
                    })
                    .collect();
                let mut e = json!({
                    "resource": r.plural,
                    "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                    "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": r.singular,
                    "verbs": r.verbs(),
                });
                if !r.short_names.is_empty() {
                    e["shortNames"] = json!(r.short_names);
                }
                if !r.categories.is_empty() {
                    e["categories"] = json!(r.categories);
                }
                if !subs.is_empty() {
                    e["subresources"] = Value::Array(subs);
                }
                resources.push(e);
            }
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect()
}

/// Aggregated discovery for `/api` (legacy = true) or `/apis`.
pub fn aggregated(legacy: bool) -> Value {
    let items: Vec<Value> = if legacy {
        vec![
            json!({"metadata": {"name": "", "creationTimestamp": null}, "versions": aggregated_versions("", &["v1"])}),
        ]
    } else {
        groups().iter().map(|(g, vs)| json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": aggregated_versions(g, vs)})).collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_pods_and_subresources() {
        let l = resource_list("", "v1").unwrap();
        let names: Vec<&str> = l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for n in [
            "pods",
            "pods/status",
            "pods/binding",
            "pods/log",
            "namespaces",
            "namespaces/finalize",
            "services",
            "serviceaccounts/token",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(resource_list("apps", "v2").is_none());
    }

    #[test]
    fn aggregated_lists_every_group() {
        let a = aggregated(false);
        let groups: Vec<&str> = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert!(
            groups.contains(&"apps")
                && groups.contains(&"coordination.k8s.io")
                && !groups.contains(&"")
        );
        let scale = &a["items"][0]["versions"][0]["resources"][0]["subresources"];
        assert!(scale.is_array());
    }

    #[test]
    fn version_has_every_field() {
        let v = version();
        for f in [
            "major",
            "minor",
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ] {
            assert!(v[f].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        }
    }
}
