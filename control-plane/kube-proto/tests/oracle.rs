//! Oracle: messages built with independent prost types for the Kubernetes protos, encoded by
//! prost, must decode to the JSON Kubernetes writes for them; and encoding that JSON must give
//! back the same message.

use std::collections::BTreeMap;

use berth_kube_proto::{decode, encode, MAGIC};
use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::api::policy::v1 as policy;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| (*x).to_owned()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity { string: s(v) }))
        .collect()
}

fn int(n: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(n),
        str_val: None,
    })
}

fn string(text: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: None,
        str_val: s(text),
    })
}

fn time(seconds: i64) -> Option<meta::Time> {
    Some(meta::Time {
        seconds: Some(seconds),
        nanos: None,
    })
}

fn micro_time(seconds: i64, nanos: i32) -> Option<meta::MicroTime> {
    Some(meta::MicroTime {
        seconds: Some(seconds),
        nanos: Some(nanos),
    })
}

/// Paths where `got` and `want` differ, with both values.
fn diff(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for key in g.keys().chain(w.keys().filter(|k| !g.contains_key(*k))) {
                let (gv, wv) = (
                    g.get(key).unwrap_or(&Value::Null),
                    w.get(key).unwrap_or(&Value::Null),
                );
                if g.contains_key(key) != w.contains_key(key) {
                    out.push(format!(
                        "{path}.{key}: got {:?}, want {:?}",
                        g.get(key),
                        w.get(key)
                    ));
                } else {
                    diff(&format!("{path}.{key}"), gv, wv, out);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (idx, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{idx}]"), gv, wv, out);
            }
        }
        _ if got != want => out.push(format!("{path}: got {got}, want {want}")),
        _ => {}
    }
}

fn body_of<M: Message>(api_version: &str, kind: &str, object: &M) -> Vec<u8> {
    let envelope = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: None,
        content_type: None,
    };
    let mut body = MAGIC.to_vec();
    body.extend(envelope.encode_to_vec());
    body
}

/// `object` decodes to `expected`, and `expected` encodes back to `object`.
fn check<M: Message + Default + PartialEq + std::fmt::Debug>(
    api_version: &str,
    kind: &str,
    object: &M,
    expected: Value,
) {
    let decoded = decode(&body_of(api_version, kind, object)).expect("decode");
    let mut differences = Vec::new();
    diff("$", &decoded, &expected, &mut differences);
    assert!(
        differences.is_empty(),
        "decoded differs from expected:\n{}",
        differences.join("\n")
    );
    let encoded = encode(&expected).expect("encode");
    assert_eq!(encoded[..4], MAGIC);
    let envelope = Unknown::decode(&encoded[4..]).expect("envelope");
    let type_meta = envelope.type_meta.clone().unwrap_or_default();
    assert_eq!(
        (type_meta.api_version.as_deref(), type_meta.kind.as_deref()),
        (Some(api_version), Some(kind))
    );
    let back = M::decode(envelope.raw.as_deref().unwrap_or_default()).expect("prost decode");
    assert!(
        back == *object,
        "encode did not give back the message: {back:?}"
    );
}

fn container() -> core::Container {
    core::Container {
        name: s("app"),
        image: s("registry.example/app:1.0"),
        command: strings(&["/app"]),
        args: strings(&["--port=8080"]),
        working_dir: s("/srv"),
        ports: vec![core::ContainerPort {
            name: s("http"),
            container_port: Some(8080),
            protocol: s("TCP"),
            ..Default::default()
        }],
        env_from: vec![core::EnvFromSource {
            prefix: s("CFG_"),
            config_map_ref: Some(core::ConfigMapEnvSource {
                local_object_reference: Some(core::LocalObjectReference {
                    name: s("settings"),
                }),
                optional: Some(false),
            }),
            ..Default::default()
        }],
        env: vec![
            core::EnvVar {
                name: s("MODE"),
                value: s("fast"),
                value_from: None,
            },
            core::EnvVar {
                name: s("POD_IP"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    field_ref: Some(core::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s("status.podIP"),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("PASSWORD"),
                value: None,
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("creds"),
                        }),
                        key: s("password"),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::ResourceRequirements {
            limits: quantities(&[("cpu", "500m"), ("memory", "256Mi")]),
            requests: quantities(&[("cpu", "100m")]),
            claims: vec![],
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            mount_path: s("/data"),
            read_only: Some(true),
            ..Default::default()
        }],
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: string("http"),
                    scheme: s("HTTP"),
                    http_headers: vec![core::HttpHeader {
                        name: s("X-Probe"),
                        value: s("1"),
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            period_seconds: Some(10),
            termination_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction {
                    port: int(8080),
                    host: None,
                }),
                ..Default::default()
            }),
            failure_threshold: Some(3),
            ..Default::default()
        }),
        startup_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                exec: Some(core::ExecAction {
                    command: strings(&["cat", "/tmp/ready"]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        lifecycle: Some(core::Lifecycle {
            pre_stop: Some(core::LifecycleHandler {
                sleep: Some(core::SleepAction { seconds: Some(5) }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(core::SecurityContext {
            capabilities: Some(core::Capabilities {
                add: strings(&["NET_BIND_SERVICE"]),
                drop: strings(&["ALL"]),
            }),
            run_as_user: Some(1000),
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            seccomp_profile: Some(core::SeccompProfile {
                r#type: s("RuntimeDefault"),
                localhost_profile: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_json() -> Value {
    json!({
        "name": "app",
        "image": "registry.example/app:1.0",
        "command": ["/app"],
        "args": ["--port=8080"],
        "workingDir": "/srv",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "settings", "optional": false}}],
        "env": [
            {"name": "MODE", "value": "fast"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                        "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
            "terminationGracePeriodSeconds": 0
        },
        "readinessProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 3},
        "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "runAsUser": 1000,
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "seccompProfile": {"type": "RuntimeDefault"}
        }
    })
}

fn label_selector(app: &str) -> Option<meta::LabelSelector> {
    Some(meta::LabelSelector {
        match_labels: labels(&[("app", app)]),
        match_expressions: vec![meta::LabelSelectorRequirement {
            key: s("tier"),
            operator: s("In"),
            values: strings(&["web", "api"]),
        }],
    })
}

fn label_selector_json(app: &str) -> Value {
    json!({"matchLabels": {"app": app}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]})
}

fn pod_spec() -> core::PodSpec {
    core::PodSpec {
        volumes: vec![
            core::Volume {
                name: s("data"),
                volume_source: Some(core::VolumeSource {
                    persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                        claim_name: s("data-pvc"),
                        read_only: None,
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("cache"),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: s("Memory"),
                        size_limit: Some(Quantity { string: s("64Mi") }),
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("config"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("settings"),
                        }),
                        items: vec![core::KeyToPath {
                            key: s("mode"),
                            path: s("mode.txt"),
                            mode: Some(0o400),
                        }],
                        default_mode: Some(0o644),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("certs"),
                volume_source: Some(core::VolumeSource {
                    secret: Some(core::SecretVolumeSource {
                        secret_name: s("site-tls"),
                        default_mode: Some(0o600),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("host"),
                volume_source: Some(core::VolumeSource {
                    host_path: Some(core::HostPathVolumeSource {
                        path: s("/var/log"),
                        r#type: s("Directory"),
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("token"),
                volume_source: Some(core::VolumeSource {
                    projected: Some(core::ProjectedVolumeSource {
                        sources: vec![core::VolumeProjection {
                            service_account_token: Some(core::ServiceAccountTokenProjection {
                                audience: s("vault"),
                                expiration_seconds: Some(3600),
                                path: s("token"),
                            }),
                            ..Default::default()
                        }],
                        default_mode: None,
                    }),
                    ..Default::default()
                }),
            },
        ],
        init_containers: vec![core::Container {
            name: s("init"),
            image: s("busybox"),
            command: strings(&["true"]),
            ..Default::default()
        }],
        containers: vec![container()],
        restart_policy: s("Always"),
        termination_grace_period_seconds: Some(30),
        dns_policy: s("ClusterFirst"),
        node_selector: labels(&[("disk", "ssd")]),
        service_account_name: s("builder"),
        automount_service_account_token: Some(false),
        security_context: Some(core::PodSecurityContext {
            run_as_user: Some(1000),
            fs_group: Some(2000),
            supplemental_groups: vec![3000, 4000],
            sysctls: vec![core::Sysctl {
                name: s("net.core.somaxconn"),
                value: s("1024"),
            }],
            ..Default::default()
        }),
        image_pull_secrets: vec![core::LocalObjectReference { name: s("pull") }],
        affinity: Some(core::Affinity {
            node_affinity: Some(core::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(core::NodeSelector {
                    node_selector_terms: vec![core::NodeSelectorTerm {
                        match_expressions: vec![core::NodeSelectorRequirement {
                            key: s("kubernetes.io/arch"),
                            operator: s("In"),
                            values: strings(&["amd64"]),
                        }],
                        match_fields: vec![],
                    }],
                }),
                preferred_during_scheduling_ignored_during_execution: vec![
                    core::PreferredSchedulingTerm {
                        weight: Some(10),
                        preference: Some(core::NodeSelectorTerm {
                            match_expressions: vec![core::NodeSelectorRequirement {
                                key: s("zone"),
                                operator: s("Exists"),
                                values: vec![],
                            }],
                            match_fields: vec![],
                        }),
                    },
                ],
            }),
            pod_anti_affinity: Some(core::PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: vec![
                    core::WeightedPodAffinityTerm {
                        weight: Some(100),
                        pod_affinity_term: Some(core::PodAffinityTerm {
                            label_selector: label_selector("web"),
                            topology_key: s("kubernetes.io/hostname"),
                            ..Default::default()
                        }),
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        }),
        tolerations: vec![
            core::Toleration {
                key: s("dedicated"),
                operator: s("Equal"),
                value: s("web"),
                effect: s("NoSchedule"),
                toleration_seconds: None,
            },
            core::Toleration {
                key: s("node.kubernetes.io/unreachable"),
                operator: s("Exists"),
                effect: s("NoExecute"),
                toleration_seconds: Some(300),
                value: None,
            },
        ],
        host_aliases: vec![core::HostAlias {
            ip: s("10.0.0.1"),
            hostnames: strings(&["db.local"]),
        }],
        priority_class_name: s("high"),
        priority: Some(1000),
        topology_spread_constraints: vec![core::TopologySpreadConstraint {
            max_skew: Some(1),
            topology_key: s("zone"),
            when_unsatisfiable: s("ScheduleAnyway"),
            label_selector: label_selector("web"),
            ..Default::default()
        }],
        enable_service_links: Some(false),
        ..Default::default()
    }
}

fn pod_spec_json() -> Value {
    json!({
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc"}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "config", "configMap": {"name": "settings", "items": [{"key": "mode", "path": "mode.txt", "mode": 256}],
                                             "defaultMode": 420}},
            {"name": "certs", "secret": {"secretName": "site-tls", "defaultMode": 384}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3600,
                                                                               "path": "token"}}]}}
        ],
        // Go always writes `resources` (a struct, not a pointer); prost leaves it out when unset.
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "containers": [container_json()],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"disk": "ssd"},
        "serviceAccountName": "builder",
        "automountServiceAccountToken": false,
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [3000, 4000],
                            "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
        "imagePullSecrets": [{"name": "pull"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                ]},
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}
                ]
            },
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": label_selector_json("web"),
                                                    "topologyKey": "kubernetes.io/hostname"}}
            ]}
        },
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db.local"]}],
        "priorityClassName": "high",
        "priority": 1000,
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": label_selector_json("web")}],
        "enableServiceLinks": false
    })
}

#[test]
fn deployment_with_a_full_pod_template() {
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            namespace: s("prod"),
            labels: labels(&[("app", "web")]),
            annotations: labels(&[("deployment.kubernetes.io/revision", "3")]),
            generation: Some(7),
            creation_timestamp: time(1_700_000_000),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            selector: label_selector("web"),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels(&[("app", "web")]),
                    ..Default::default()
                }),
                spec: Some(pod_spec()),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: string("25%"),
                    max_surge: int(1),
                }),
            }),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus {
            observed_generation: Some(7),
            replicas: Some(2),
            conditions: vec![apps::DeploymentCondition {
                r#type: s("Available"),
                status: s("True"),
                last_update_time: time(1_700_000_100),
                last_transition_time: time(1_700_000_050),
                reason: s("MinimumReplicasAvailable"),
                message: None,
            }],
            ..Default::default()
        }),
    };
    check(
        "apps/v1",
        "Deployment",
        &deployment,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "prod",
                "labels": {"app": "web"},
                "annotations": {"deployment.kubernetes.io/revision": "3"},
                "generation": 7,
                "creationTimestamp": "2023-11-14T22:13:20Z"
            },
            "spec": {
                "replicas": 0,
                "selector": label_selector_json("web"),
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec_json()},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            },
            "status": {
                "observedGeneration": 7,
                "replicas": 2,
                "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2023-11-14T22:15:00Z",
                                "lastTransitionTime": "2023-11-14T22:14:10Z", "reason": "MinimumReplicasAvailable"}]
            }
        }),
    );
}

#[test]
fn pod_with_status_owner_and_managed_fields() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("web-1"),
            namespace: s("prod"),
            uid: s("2f1c"),
            resource_version: s("42"),
            deletion_timestamp: time(1_700_000_500),
            deletion_grace_period_seconds: Some(30),
            finalizers: strings(&["example.com/keep"]),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s("web-5d8f"),
                uid: s("9a7b"),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl-create"),
                operation: s("Update"),
                api_version: s("v1"),
                time: time(1_700_000_000),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:spec":{"f:nodeName":{}}}"#.to_vec()),
                }),
                subresource: None,
            }],
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                image: s("nginx"),
                ..Default::default()
            }],
            node_name: s("node1"),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            conditions: vec![core::PodCondition {
                r#type: s("Ready"),
                status: s("True"),
                last_transition_time: time(1_700_000_010),
                ..Default::default()
            }],
            host_ip: s("10.0.0.5"),
            pod_ip: s("10.1.0.7"),
            pod_ips: vec![core::PodIp { ip: s("10.1.0.7") }],
            start_time: time(1_700_000_001),
            container_statuses: vec![core::ContainerStatus {
                name: s("c"),
                state: Some(core::ContainerState {
                    running: Some(core::ContainerStateRunning {
                        started_at: time(1_700_000_002),
                    }),
                    ..Default::default()
                }),
                last_state: Some(core::ContainerState {
                    terminated: Some(core::ContainerStateTerminated {
                        exit_code: Some(137),
                        signal: Some(9),
                        reason: s("OOMKilled"),
                        finished_at: time(1_700_000_001),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ready: Some(true),
                restart_count: Some(0),
                image: s("nginx"),
                image_id: s("sha256:abc"),
                started: Some(true),
                ..Default::default()
            }],
            qos_class: s("BestEffort"),
            ..Default::default()
        }),
    };
    check(
        "v1",
        "Pod",
        &pod,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-1",
                "namespace": "prod",
                "uid": "2f1c",
                "resourceVersion": "42",
                "deletionTimestamp": "2023-11-14T22:21:40Z",
                "deletionGracePeriodSeconds": 30,
                "finalizers": ["example.com/keep"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "9a7b",
                                     "controller": true, "blockOwnerDeletion": true}],
                "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                                   "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                                   "fieldsV1": {"f:spec": {"f:nodeName": {}}}}]
            },
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "node1"},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T22:13:30Z"}],
                "hostIP": "10.0.0.5",
                "podIP": "10.1.0.7",
                "podIPs": [{"ip": "10.1.0.7"}],
                "startTime": "2023-11-14T22:13:21Z",
                "containerStatuses": [{
                    "name": "c",
                    "state": {"running": {"startedAt": "2023-11-14T22:13:22Z"}},
                    // Go would also write `"startedAt": null`; prost does not send the unset struct.
                    "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled",
                                                 "finishedAt": "2023-11-14T22:13:21Z"}},
                    "ready": true,
                    "restartCount": 0,
                    "image": "nginx",
                    "imageID": "sha256:abc",
                    "started": true
                }],
                "qosClass": "BestEffort"
            }
        }),
    );
}

#[test]
fn lease_keeps_microseconds() {
    let lease = coordination::Lease {
        metadata: Some(meta::ObjectMeta {
            name: s("kube-scheduler"),
            namespace: s("kube-system"),
            ..Default::default()
        }),
        spec: Some(coordination::LeaseSpec {
            holder_identity: s("node-a_1234"),
            lease_duration_seconds: Some(15),
            acquire_time: micro_time(1_700_000_000, 123_456_000),
            renew_time: micro_time(1_700_000_010, 5_000),
            lease_transitions: Some(0),
            ..Default::default()
        }),
    };
    check(
        "coordination.k8s.io/v1",
        "Lease",
        &lease,
        json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
            "spec": {
                "holderIdentity": "node-a_1234",
                "leaseDurationSeconds": 15,
                "acquireTime": "2023-11-14T22:13:20.123456Z",
                "renewTime": "2023-11-14T22:13:30.000005Z",
                "leaseTransitions": 0
            }
        }),
    );
}

#[test]
fn core_event_with_micro_time_and_source() {
    let event = core::Event {
        metadata: Some(meta::ObjectMeta {
            name: s("web-1.17a"),
            namespace: s("prod"),
            ..Default::default()
        }),
        involved_object: Some(core::ObjectReference {
            kind: s("Pod"),
            namespace: s("prod"),
            name: s("web-1"),
            field_path: s("spec.containers{c}"),
            ..Default::default()
        }),
        reason: s("Pulled"),
        message: s("Successfully pulled image"),
        source: Some(core::EventSource {
            component: s("kubelet"),
            host: s("node1"),
        }),
        first_timestamp: time(1_700_000_000),
        last_timestamp: time(1_700_000_060),
        count: Some(2),
        r#type: s("Normal"),
        event_time: micro_time(1_700_000_000, 999_999_000),
        reporting_component: s("kubelet"),
        reporting_instance: s("node1"),
        ..Default::default()
    };
    check(
        "v1",
        "Event",
        &event,
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web-1.17a", "namespace": "prod"},
            "involvedObject": {"kind": "Pod", "namespace": "prod", "name": "web-1", "fieldPath": "spec.containers{c}"},
            "reason": "Pulled",
            "message": "Successfully pulled image",
            "source": {"component": "kubelet", "host": "node1"},
            "firstTimestamp": "2023-11-14T22:13:20Z",
            "lastTimestamp": "2023-11-14T22:14:20Z",
            "count": 2,
            "type": "Normal",
            "eventTime": "2023-11-14T22:13:20.999999Z",
            "reportingComponent": "kubelet",
            "reportingInstance": "node1"
        }),
    );
}

#[test]
fn eviction_with_delete_options() {
    let eviction = policy::Eviction {
        metadata: Some(meta::ObjectMeta {
            name: s("web-1"),
            namespace: s("prod"),
            ..Default::default()
        }),
        delete_options: Some(meta::DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(meta::Preconditions {
                uid: s("2f1c"),
                resource_version: None,
            }),
            propagation_policy: s("Foreground"),
            dry_run: strings(&["All"]),
            ..Default::default()
        }),
    };
    check(
        "policy/v1",
        "Eviction",
        &eviction,
        json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "web-1", "namespace": "prod"},
            "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "2f1c"},
                              "propagationPolicy": "Foreground", "dryRun": ["All"]}
        }),
    );
}

#[test]
fn endpoint_slice_with_conditions_and_ports() {
    let slice = discovery::EndpointSlice {
        metadata: Some(meta::ObjectMeta {
            name: s("api-x1"),
            labels: labels(&[("kubernetes.io/service-name", "api")]),
            ..Default::default()
        }),
        address_type: s("IPv4"),
        endpoints: vec![discovery::Endpoint {
            addresses: strings(&["10.1.0.7"]),
            conditions: Some(discovery::EndpointConditions {
                ready: Some(true),
                serving: Some(true),
                terminating: Some(false),
            }),
            target_ref: Some(core::ObjectReference {
                kind: s("Pod"),
                name: s("web-1"),
                ..Default::default()
            }),
            node_name: s("node1"),
            zone: s("a"),
            ..Default::default()
        }],
        ports: vec![discovery::EndpointPort {
            name: s("http"),
            protocol: s("TCP"),
            port: Some(8080),
            app_protocol: None,
        }],
    };
    check(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        &slice,
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "api-x1", "labels": {"kubernetes.io/service-name": "api"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.0.7"], "conditions": {"ready": true, "serving": true, "terminating": false},
                           "targetRef": {"kind": "Pod", "name": "web-1"}, "nodeName": "node1", "zone": "a"}],
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]
        }),
    );
}

#[test]
fn node_with_taints_and_capacity() {
    let node = core::Node {
        metadata: Some(meta::ObjectMeta {
            name: s("node1"),
            ..Default::default()
        }),
        spec: Some(core::NodeSpec {
            pod_cidr: s("10.1.0.0/24"),
            pod_cid_rs: strings(&["10.1.0.0/24"]),
            unschedulable: Some(true),
            taints: vec![core::Taint {
                key: s("node.kubernetes.io/unschedulable"),
                value: None,
                effect: s("NoSchedule"),
                time_added: time(1_700_000_000),
            }],
            ..Default::default()
        }),
        status: Some(core::NodeStatus {
            capacity: quantities(&[("cpu", "2"), ("memory", "4041684Ki"), ("pods", "110")]),
            allocatable: quantities(&[("cpu", "1900m")]),
            addresses: vec![core::NodeAddress {
                r#type: s("InternalIP"),
                address: s("10.0.0.5"),
            }],
            node_info: Some(core::NodeSystemInfo {
                machine_id: s("m"),
                system_uuid: s("u"),
                boot_id: s("b"),
                kernel_version: s("6.1"),
                os_image: s("Debian"),
                container_runtime_version: s("berth://0.1"),
                kubelet_version: s("v1.32.0"),
                kube_proxy_version: s(""),
                operating_system: s("linux"),
                architecture: s("amd64"),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    check(
        "v1",
        "Node",
        &node,
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "node1"},
            "spec": {
                "podCIDR": "10.1.0.0/24",
                "podCIDRs": ["10.1.0.0/24"],
                "unschedulable": true,
                "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                            "timeAdded": "2023-11-14T22:13:20Z"}]
            },
            "status": {
                "capacity": {"cpu": "2", "memory": "4041684Ki", "pods": "110"},
                "allocatable": {"cpu": "1900m"},
                "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
                "nodeInfo": {"machineID": "m", "systemUUID": "u", "bootID": "b", "kernelVersion": "6.1",
                             "osImage": "Debian", "containerRuntimeVersion": "berth://0.1",
                             "kubeletVersion": "v1.32.0", "kubeProxyVersion": "", "operatingSystem": "linux",
                             "architecture": "amd64"}
            }
        }),
    );
}

#[test]
fn secret_bytes_are_base64() {
    let mut data = BTreeMap::new();
    data.insert("key".to_owned(), vec![0u8, 1, 2, 0xff]);
    data.insert("empty".to_owned(), vec![]);
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("raw"),
            ..Default::default()
        }),
        immutable: Some(true),
        data,
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    check(
        "v1",
        "Secret",
        &secret,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "raw"},
            "immutable": true,
            "data": {"key": "AAEC/w==", "empty": ""},
            "type": "Opaque"
        }),
    );
}

#[test]
fn status_for_an_unsupported_media_type() {
    let status = meta::Status {
        metadata: Some(meta::ListMeta::default()),
        status: s("Failure"),
        message: s("the body's kind is not supported in protobuf"),
        reason: s("UnsupportedMediaType"),
        details: Some(meta::StatusDetails {
            kind: s("Widget"),
            causes: vec![meta::StatusCause {
                reason: s("FieldValueNotSupported"),
                message: s("kind"),
                field: s("kind"),
            }],
            ..Default::default()
        }),
        code: Some(415),
    };
    check(
        "v1",
        "Status",
        &status,
        json!({
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": "the body's kind is not supported in protobuf",
            "reason": "UnsupportedMediaType",
            "details": {"kind": "Widget", "causes": [{"reason": "FieldValueNotSupported", "message": "kind", "field": "kind"}]},
            "code": 415
        }),
    );
}
