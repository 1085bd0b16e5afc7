//! Server-side printing: `meta.k8s.io/v1 Table` responses with kube-apiserver's columns for
//! each kind, so `kubectl get` (and `-o wide`, priority-1 columns) prints what it prints
//! against Kubernetes.

use crate::meta;
use crate::resources::Resource;
use serde_json::{json, Value};

struct Col {
    name: &'static str,
    ty: &'static str,
    priority: u8,
    desc: &'static str,
}

const fn col(name: &'static str, ty: &'static str, priority: u8, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        priority,
        desc,
    }
}

const NAME: Col = col(
    "Name",
    "string",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Col = col(
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

fn columns(r: &Resource) -> Vec<Col> {
    match (r.group, r.kind) {
        ("", "Pod") => vec![
            NAME,
            col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", "string", 0, "The aggregate status of the containers in this pod."),
            col("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            AGE,
            col("IP", "string", 1, "IP address allocated to the pod."),
            col("Node", "string", 1, "Name of the node where the pod is scheduled."),
            col("Nominated Node", "string", 1, "Name of the node where the pod is nominated."),
            col("Readiness Gates", "string", 1, "The readiness gates of the pod."),
        ],
        ("", "Namespace") => vec![NAME, col("Status", "string", 0, "The status of the namespace"), AGE],
        ("", "Node") => vec![
            NAME,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            AGE,
            col("Version", "string", 0, "Kubelet Version reported by the node."),
            col("Internal-IP", "string", 1, "List of internal IPs."),
            col("External-IP", "string", 1, "List of external IPs."),
            col("OS-Image", "string", 1, "OS Image reported by the node."),
            col("Kernel-Version", "string", 1, "Kernel Version reported by the node."),
            col("Container-Runtime", "string", 1, "Container Runtime Version reported by the node."),
        ],
        ("", "Service") => vec![
            NAME,
            col("Type", "string", 0, "The type of service."),
            col("Cluster-IP", "string", 0, "The cluster IP of the service."),
            col("External-IP", "string", 0, "The external IP of the service."),
            col("Port(s)", "string", 0, "The ports of the service."),
            AGE,
            col("Selector", "string", 1, "The selector of the service."),
        ],
        ("", "ConfigMap") => vec![NAME, col("Data", "string", 0, "The number of entries in the data."), AGE],
        ("", "Secret") => vec![NAME, col("Type", "string", 0, "The type of the secret."), col("Data", "string", 0, "The number of entries in the data."), AGE],
        ("", "ServiceAccount") => vec![NAME, col("Secrets", "string", 0, "The number of secrets."), AGE],
        ("", "Endpoints") => vec![NAME, col("Endpoints", "string", 0, "Endpoints of the service."), AGE],
        ("", "Event") => vec![
            col("Last Seen", "string", 0, "Time when last seen."),
            col("Type", "string", 0, "Type of event."),
            col("Reason", "string", 0, "Reason of the event."),
            col("Object", "string", 0, "The object the event is about."),
            col("Message", "string", 0, "Message of the event."),
        ],
        ("apps", "Deployment") => vec![
            NAME,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            col("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            AGE,
            col("Containers", "string", 1, "Names of each container in the template."),
            col("Images", "string", 1, "Images referenced by each container in the template."),
            col("Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
        ],
        ("apps", "ReplicaSet") => vec![
            NAME,
            col("Desired", "string", 0, "Number of desired pods."),
            col("Current", "string", 0, "Number of actual pods."),
            col("Ready", "string", 0, "Number of ready pods."),
            AGE,
            col("Containers", "string", 1, "Names of each container in the template."),
            col("Images", "string", 1, "Images referenced by each container in the template."),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        ("apps", "DaemonSet") => vec![
            NAME,
            col("Desired", "string", 0, "The number of nodes that should be running the daemon pod."),
            col("Current", "string", 0, "The number of nodes running at least one daemon pod."),
            col("Ready", "string", 0, "The number of nodes with a ready daemon pod."),
            col("Up-to-date", "string", 0, "The number of nodes running the updated daemon pod."),
            col("Available", "string", 0, "The number of nodes with an available daemon pod."),
            col("Node Selector", "string", 0, "The node selector of the daemon pods."),
            AGE,
        ],
        ("apps", "StatefulSet") => vec![NAME, col("Ready", "string", 0, "Number of the pod with ready state"), AGE],
        ("batch", "Job") => vec![NAME, col("Status", "string", 0, "Status of the job."), col("Completions", "string", 0, "The completion status of the job."), col("Duration", "string", 0, "Time required to complete the job."), AGE],
        ("coordination.k8s.io", "Lease") => vec![NAME, col("Holder", "string", 0, "The holder of the lease."), AGE],
        ("discovery.k8s.io", "EndpointSlice") => vec![
            NAME,
            col("AddressType", "string", 0, "Type of address."),
            col("Ports", "string", 0, "Ports of the slice."),
            col("Endpoints", "string", 0, "Endpoints of the slice."),
            AGE,
        ],
        _ => vec![NAME, col("Created At", "date", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.")],
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn count(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}

fn or_none(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

fn cells(r: &Resource, o: &Value) -> Vec<Value> {
    let name = json!(meta::name(o));
    let created = meta::str_field(o, "creationTimestamp");
    let age = json!(meta::age(created));
    match (r.group, r.kind) {
        ("", "Pod") => {
            let statuses = o["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            let mut status = o["status"]["reason"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s(&o["status"]["phase"]));
            for c in &statuses {
                if let Some(w) = c["state"]["waiting"]["reason"].as_str() {
                    status = w.to_string();
                } else if let Some(t) = c["state"]["terminated"]["reason"].as_str() {
                    status = t.to_string();
                }
            }
            if meta::deletion_timestamp(o).is_some() {
                status = "Terminating".into();
            }
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts.to_string()),
                age,
                json!(or_none(s(&o["status"]["podIP"]))),
                json!(or_none(s(&o["spec"]["nodeName"]))),
                json!(or_none(s(&o["status"]["nominatedNodeName"]))),
                json!("<none>"),
            ]
        }
        ("", "Namespace") => vec![name, json!(s(&o["status"]["phase"])), age],
        ("", "Node") => {
            let ready = o["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready");
            let mut status = match ready.map(|c| s(&c["status"])) {
                Some(st) if st == "True" => "Ready".to_string(),
                Some(_) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if o["spec"]["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<String> = meta::labels(o)
                .into_iter()
                .flatten()
                .filter_map(|(k, _)| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                })
                .collect();
            let addr = |t: &str| {
                o["status"]["addresses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["type"] == t)
                    .map(|a| s(&a["address"]))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let info = &o["status"]["nodeInfo"];
            vec![
                name,
                json!(status),
                json!(or_none(roles.join(","))),
                age,
                json!(s(&info["kubeletVersion"])),
                json!(or_none(addr("InternalIP"))),
                json!(or_none(addr("ExternalIP"))),
                json!(s(&info["osImage"])),
                json!(s(&info["kernelVersion"])),
                json!(s(&info["containerRuntimeVersion"])),
            ]
        }
        ("", "Service") => {
            let spec = &o["spec"];
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["nodePort"].as_i64() {
                    Some(np) => format!("{}:{np}/{}", s(&p["port"]), s(&p["protocol"])),
                    None => format!("{}/{}", s(&p["port"]), s(&p["protocol"])),
                })
                .collect();
            let ext: Vec<String> = spec["externalIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect();
            let ty = s(&spec["type"]);
            let external = if !ext.is_empty() {
                ext.join(",")
            } else if ty == "LoadBalancer" {
                "<pending>".into()
            } else if ty == "ExternalName" {
                s(&spec["externalName"])
            } else {
                "<none>".into()
            };
            let sel: Vec<String> = spec["selector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect();
            vec![
                name,
                json!(ty),
                json!(or_none(s(&spec["clusterIP"]))),
                json!(external),
                json!(or_none(ports.join(","))),
                age,
                json!(or_none(sel.join(","))),
            ]
        }
        ("", "ConfigMap") => vec![
            name,
            json!(count(&o["data"]) + count(&o["binaryData"])),
            age,
        ],
        ("", "Secret") => vec![name, json!(s(&o["type"])), json!(count(&o["data"])), age],
        ("", "ServiceAccount") => vec![
            name,
            json!(o["secrets"].as_array().map_or(0, Vec::len)),
            age,
        ],
        ("", "Endpoints") => {
            let mut eps = Vec::new();
            for sub in o["subsets"].as_array().into_iter().flatten() {
                for a in sub["addresses"].as_array().into_iter().flatten() {
                    for p in sub["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", s(&a["ip"]), s(&p["port"])));
                    }
                }
            }
            vec![name, json!(or_none(eps.join(","))), age]
        }
        ("", "Event") => {
            let last = o["lastTimestamp"]
                .as_str()
                .or(o["eventTime"].as_str())
                .unwrap_or(created);
            let io = &o["involvedObject"];
            vec![
                json!(meta::age(last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&io["kind"]).to_lowercase(),
                    s(&io["name"])
                )),
                json!(s(&o["message"])),
            ]
        }
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            let st = &o["status"];
            let containers = &o["spec"]["template"]["spec"]["containers"];
            let names: Vec<String> = containers
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| s(&c["name"]))
                .collect();
            let images: Vec<String> = containers
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| s(&c["image"]))
                .collect();
            let sel = selector_string(&o["spec"]["selector"]);
            let n = |v: &Value| v.as_i64().unwrap_or(0);
            if r.kind == "Deployment" {
                vec![
                    name,
                    json!(format!(
                        "{}/{}",
                        n(&st["readyReplicas"]),
                        n(&o["spec"]["replicas"])
                    )),
                    json!(n(&st["updatedReplicas"])),
                    json!(n(&st["availableReplicas"])),
                    age,
                    json!(names.join(",")),
                    json!(images.join(",")),
                    json!(sel),
                ]
            } else {
                vec![
                    name,
                    json!(n(&o["spec"]["replicas"])),
                    json!(n(&st["replicas"])),
                    json!(n(&st["readyReplicas"])),
                    age,
                    json!(names.join(",")),
                    json!(images.join(",")),
                    json!(sel),
                ]
            }
        }
        ("apps", "DaemonSet") => {
            let st = &o["status"];
            let n = |v: &Value| v.as_i64().unwrap_or(0);
            let sel: Vec<String> = o["spec"]["template"]["spec"]["nodeSelector"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", s(v)))
                .collect();
            vec![
                name,
                json!(n(&st["desiredNumberScheduled"])),
                json!(n(&st["currentNumberScheduled"])),
                json!(n(&st["numberReady"])),
                json!(n(&st["updatedNumberScheduled"])),
                json!(n(&st["numberAvailable"])),
                json!(or_none(sel.join(","))),
                age,
            ]
        }
        ("apps", "StatefulSet") => vec![
            name,
            json!(format!(
                "{}/{}",
                o["status"]["readyReplicas"].as_i64().unwrap_or(0),
                o["spec"]["replicas"].as_i64().unwrap_or(1)
            )),
            age,
        ],
        ("batch", "Job") => {
            let st = &o["status"];
            let succeeded = st["succeeded"].as_i64().unwrap_or(0);
            let completions = o["spec"]["completions"]
                .as_i64()
                .map_or("<none>".to_string(), |c| c.to_string());
            let complete = st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True");
            let failed = st["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Failed" && c["status"] == "True");
            let status = if complete {
                "Complete"
            } else if failed {
                "Failed"
            } else {
                "Running"
            };
            vec![
                name,
                json!(status),
                json!(format!("{succeeded}/{completions}")),
                json!(""),
                age,
            ]
        }
        ("coordination.k8s.io", "Lease") => vec![name, json!(s(&o["spec"]["holderIdentity"])), age],
        ("discovery.k8s.io", "EndpointSlice") => {
            let ports: Vec<String> = o["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| s(&p["port"]))
                .collect();
            let addrs: Vec<String> = o["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                .map(|a| s(&a))
                .collect();
            vec![
                name,
                json!(s(&o["addressType"])),
                json!(or_none(ports.join(","))),
                json!(or_none(addrs.join(","))),
                age,
            ]
        }
        _ => vec![name, json!(created)],
    }
}

/// `app=web,tier in (a,b)` from a metav1.LabelSelector.
pub fn selector_string(sel: &Value) -> String {
    match berth_apimachinery::labels::Selector::from_label_selector(sel) {
        Ok(s) => s.to_string(),
        Err(_) => String::new(),
    }
}

/// The object a row carries: PartialObjectMetadata (kubectl's default) or the full object.
fn row_object(o: &Value, include: &str) -> Value {
    match include {
        "None" => Value::Null,
        "Object" => o.clone(),
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))})
        }
    }
}

/// A Table of `items`. `include_object` is the `includeObject` query parameter.
pub fn table(
    r: &Resource,
    items: &[Value],
    resource_version: Option<i64>,
    continue_token: Option<&str>,
    include_object: &str,
    with_columns: bool,
) -> Value {
    let cols: Vec<Value> = if with_columns {
        columns(r)
            .into_iter()
            .map(|c| {
                let format = if c.name == "Name" { "name" } else { "" };
                json!({"name": c.name, "type": c.ty, "format": format, "description": c.desc, "priority": c.priority})
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": cells(r, o), "object": row_object(o, include_object)}))
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = rv.to_string().into();
    }
    if let Some(c) = continue_token {
        metadata["continue"] = c.into();
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": cols, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn service_row() {
        let r = find("", "v1", "services").unwrap();
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}], "selector": {"app": "web"}}});
        let t = table(r, &[svc], Some(7), None, "Metadata", true);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web",
                "NodePort",
                "10.96.0.5",
                "<none>",
                "80:30080/TCP",
                meta::age("2020-01-01T00:00:00Z"),
                "app=web"
            ])
        );
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 7);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn every_kind_has_as_many_cells_as_columns() {
        for r in crate::resources::RESOURCES {
            let o = json!({"metadata": {"name": "x"}});
            assert_eq!(cells(r, &o).len(), columns(r).len(), "{r:?}");
        }
    }
}
