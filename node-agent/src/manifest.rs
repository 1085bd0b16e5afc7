//! Static pod manifests: reading a directory of Pod files (YAML or JSON) and validating a
//! `k8s_openapi` Pod into a [`DesiredPod`]. `to_desired` is pure; `scan_dir` does the reading.

use crate::model::{
    ContainerPort, ContainerSpec, DesiredPod, PodUid, Probe, ProbeAction, Resources, RestartPolicy,
};
use crate::quantity;
use k8s_openapi::api::core::v1 as core;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A manifest larger than this is refused (kubelet's static pods are small).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// At most this many manifest files are read from the directory.
pub const MAX_MANIFESTS: usize = 1000;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ManifestError {
    #[error("failed to read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is larger than {MAX_MANIFEST_BYTES} bytes")]
    TooLarge { path: String },
    #[error("failed to parse {path} as a Pod: {reason}")]
    Parse { path: String, reason: String },
    #[error("invalid pod {namespace}/{name} in {path}: {reason}")]
    Invalid {
        path: String,
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("pod {namespace}/{name} in {path} is already defined in {first}")]
    Duplicate {
        path: String,
        namespace: String,
        name: String,
        first: String,
    },
}

impl ManifestError {
    /// The pod this error belongs to, when the manifest named one.
    pub fn pod_key(&self) -> Option<(String, String)> {
        match self {
            ManifestError::Invalid {
                namespace, name, ..
            } => Some((namespace.clone(), name.clone())),
            _ => None,
        }
    }
}

/// One manifest file's outcome.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub result: Result<DesiredPod, ManifestError>,
    /// The parsed Pod even when it failed validation (to report the error in its status).
    pub pod: Option<core::Pod>,
}

/// Parses one manifest's bytes (YAML is a superset of JSON, but JSON goes through serde_json
/// for its clearer errors) and validates it.
pub fn parse(
    path: &str,
    bytes: &[u8],
    node_name: &str,
) -> (Result<DesiredPod, ManifestError>, Option<core::Pod>) {
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| bytes[i]);
    let pod: Result<core::Pod, String> = if trimmed == Some(b'{') {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::from_slice(bytes).map_err(|e| e.to_string())
    };
    let pod = match pod {
        Ok(p) => p,
        Err(reason) => {
            return (
                Err(ManifestError::Parse {
                    path: path.to_string(),
                    reason,
                }),
                None,
            )
        }
    };
    let uid = static_uid(&pod, bytes, node_name);
    (to_desired(path, pod.clone(), uid), Some(pod))
}

/// A static pod's UID: the manifest's own `metadata.uid` if set, else a hash of the node name
/// and the manifest bytes (so an edited manifest is a new pod, as kubelet does).
pub fn static_uid(pod: &core::Pod, bytes: &[u8], node_name: &str) -> PodUid {
    if let Some(uid) = pod.metadata.uid.as_ref().filter(|u| !u.is_empty()) {
        return PodUid(uid.clone());
    }
    let mut h = Sha256::new();
    h.update(node_name.as_bytes());
    h.update([0]);
    h.update(bytes);
    let d = h.finalize();
    let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    // UUID-shaped, like every other pod UID.
    PodUid(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Validates a Pod into the agent's own types. Pure.
pub fn to_desired(path: &str, pod: core::Pod, uid: PodUid) -> Result<DesiredPod, ManifestError> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let invalid = |reason: String| ManifestError::Invalid {
        path: path.to_string(),
        namespace: namespace.clone(),
        name: name.clone(),
        reason,
    };
    if !is_dns_label(&name, 253) {
        return Err(invalid(format!(
            "metadata.name {name:?} is not a valid DNS subdomain"
        )));
    }
    if !is_dns_label(&namespace, 63) {
        return Err(invalid(format!(
            "metadata.namespace {namespace:?} is not a valid DNS label"
        )));
    }
    let spec = pod
        .spec
        .clone()
        .ok_or_else(|| invalid("spec is missing".into()))?;
    let restart_policy = match spec.restart_policy.as_deref() {
        None | Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure,
        Some("Never") => RestartPolicy::Never,
        Some(other) => {
            return Err(invalid(format!(
                "spec.restartPolicy {other:?} is not Always, OnFailure or Never"
            )))
        }
    };
    let grace_period_s = spec.termination_grace_period_seconds.unwrap_or(30);
    if !(0..=3600).contains(&grace_period_s) {
        return Err(invalid(format!(
            "spec.terminationGracePeriodSeconds {grace_period_s} is outside 0..=3600"
        )));
    }
    if spec.containers.is_empty() {
        return Err(invalid("spec.containers is empty".into()));
    }
    let mut names = std::collections::BTreeSet::new();
    let mut convert = |c: &core::Container, field: &str| -> Result<ContainerSpec, ManifestError> {
        let spec = container(c).map_err(|e| invalid(format!("{field}[{}]: {e}", c.name)))?;
        if !names.insert(spec.name.clone()) {
            return Err(invalid(format!(
                "{field}: container name {:?} is used twice",
                spec.name
            )));
        }
        Ok(spec)
    };
    let init_containers = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| convert(c, "spec.initContainers"))
        .collect::<Result<Vec<_>, _>>()?;
    let containers = spec
        .containers
        .iter()
        .map(|c| convert(c, "spec.containers"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DesiredPod {
        uid,
        namespace,
        name,
        restart_policy,
        grace_period_s,
        init_containers,
        containers,
        manifest: pod,
        source: path.to_string(),
    })
}

fn is_dns_label(s: &str, max_len: usize) -> bool {
    !s.is_empty()
        && s.len() <= max_len
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn container(c: &core::Container) -> Result<ContainerSpec, String> {
    if !is_dns_label(&c.name, 63) || c.name.contains('.') {
        return Err(format!("name {:?} is not a valid DNS label", c.name));
    }
    let image = c
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or("image is missing")?;
    let mut env = Vec::new();
    for e in c.env.iter().flatten() {
        if e.value_from.is_some() {
            return Err(format!("env {}: valueFrom is not supported", e.name));
        }
        env.push((e.name.clone(), e.value.clone().unwrap_or_default()));
    }
    let mut ports = Vec::new();
    for p in c.ports.iter().flatten() {
        let port = u16::try_from(p.container_port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(format!("containerPort {} is not a port", p.container_port))?;
        ports.push(ContainerPort {
            name: p.name.clone(),
            container_port: port,
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        });
    }
    let mut resources = Resources::default();
    if let Some(r) = &c.resources {
        let get =
            |m: &Option<
                BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >,
             k: &str| m.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone());
        let milli = |v: Option<String>| {
            v.map(|s| quantity::parse_milli(&s).map_err(|e| e.to_string()))
                .transpose()
        };
        let units = |v: Option<String>| {
            v.map(|s| quantity::parse_units(&s).map_err(|e| e.to_string()))
                .transpose()
        };
        resources.cpu_request_milli = milli(get(&r.requests, "cpu"))?;
        resources.cpu_limit_milli = milli(get(&r.limits, "cpu"))?;
        resources.memory_request_bytes = units(get(&r.requests, "memory"))?;
        resources.memory_limit_bytes = units(get(&r.limits, "memory"))?;
        if let (Some(req), Some(lim)) =
            (resources.memory_request_bytes, resources.memory_limit_bytes)
        {
            if req > lim {
                return Err(format!("memory request {req} exceeds its limit {lim}"));
            }
        }
        if let (Some(req), Some(lim)) = (resources.cpu_request_milli, resources.cpu_limit_milli) {
            if req > lim {
                return Err(format!("cpu request {req}m exceeds its limit {lim}m"));
            }
        }
        if resources.memory_limit_bytes.is_some_and(|b| b < 4 << 20) {
            return Err("memory limit below 4Mi cannot start a container".into());
        }
    }
    let probe = |p: &Option<core::Probe>, what: &str| -> Result<Option<Probe>, String> {
        p.as_ref()
            .map(|p| probe(p, &ports).map_err(|e| format!("{what}: {e}")))
            .transpose()
    };
    Ok(ContainerSpec {
        name: c.name.clone(),
        image,
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        env,
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        liveness: probe(&c.liveness_probe, "livenessProbe")?,
        readiness: probe(&c.readiness_probe, "readinessProbe")?,
        startup: probe(&c.startup_probe, "startupProbe")?,
        ports,
        resources,
    })
}

fn probe(p: &core::Probe, ports: &[ContainerPort]) -> Result<Probe, String> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let port = |v: &IntOrString| -> Result<u16, String> {
        match v {
            IntOrString::Int(i) => u16::try_from(*i)
                .ok()
                .filter(|p| *p > 0)
                .ok_or(format!("port {i} is not a port")),
            IntOrString::String(name) => ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.container_port)
                .ok_or(format!("no container port is named {name:?}")),
        }
    };
    let action = match (&p.exec, &p.http_get, &p.tcp_socket, &p.grpc) {
        (Some(e), None, None, None) => {
            let command = e.command.clone().unwrap_or_default();
            if command.is_empty() {
                return Err("exec.command is empty".into());
            }
            ProbeAction::Exec { command }
        }
        (None, Some(h), None, None) => {
            if h.scheme.as_deref().is_some_and(|s| s != "HTTP") {
                return Err("httpGet.scheme must be HTTP".into());
            }
            ProbeAction::Http {
                port: port(&h.port)?,
                path: h
                    .path
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "/".into()),
            }
        }
        (None, None, Some(t), None) => ProbeAction::Tcp {
            port: port(&t.port)?,
        },
        (None, None, None, Some(_)) => return Err("grpc probes are not supported".into()),
        _ => return Err("exactly one of exec, httpGet, tcpSocket must be set".into()),
    };
    let pos = |v: Option<i32>, default: u32, field: &str| -> Result<u32, String> {
        match v {
            None => Ok(default),
            Some(v) if (1..=86400).contains(&v) => Ok(v as u32),
            Some(v) => Err(format!("{field} {v} must be in 1..=86400")),
        }
    };
    Ok(Probe {
        action,
        initial_delay_s: match p.initial_delay_seconds {
            None => 0,
            Some(v) if (0..=86400).contains(&v) => v as u32,
            Some(v) => return Err(format!("initialDelaySeconds {v} must be in 0..=86400")),
        },
        period_s: pos(p.period_seconds, 10, "periodSeconds")?,
        timeout_s: pos(p.timeout_seconds, 1, "timeoutSeconds")?,
        success_threshold: pos(p.success_threshold, 1, "successThreshold")?,
        failure_threshold: pos(p.failure_threshold, 3, "failureThreshold")?,
    })
}

/// Reads every `*.yaml`, `*.yml` and `*.json` file of `dir` (sorted by name, at most
/// [`MAX_MANIFESTS`]); a later file naming the same pod as an earlier one is an error.
pub fn scan_dir(
    dir: &Path,
    node_name: &str,
    cache: &mut ScanCache,
) -> std::io::Result<Vec<Loaded>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    paths.sort();
    paths.truncate(MAX_MANIFESTS);
    let mut out = Vec::with_capacity(paths.len());
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut next_cache = ScanCache::default();
    for path in paths {
        let display = path.display().to_string();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                out.push(Loaded {
                    result: Err(ManifestError::Read {
                        path: display,
                        reason: e.to_string(),
                    }),
                    path,
                    pod: None,
                });
                continue;
            }
        };
        let stamp = (meta.len(), meta.modified().ok());
        let (result, pod) = match cache.entries.get(&path).filter(|(s, _, _)| *s == stamp) {
            Some((_, r, p)) => (r.clone(), p.clone()),
            None if meta.len() > MAX_MANIFEST_BYTES => (
                Err(ManifestError::TooLarge {
                    path: display.clone(),
                }),
                None,
            ),
            None => match std::fs::read(&path) {
                Ok(bytes) => parse(&display, &bytes, node_name),
                Err(e) => (
                    Err(ManifestError::Read {
                        path: display.clone(),
                        reason: e.to_string(),
                    }),
                    None,
                ),
            },
        };
        next_cache
            .entries
            .insert(path.clone(), (stamp, result.clone(), pod.clone()));
        let result = match result {
            Ok(d) => {
                let key = (d.namespace.clone(), d.name.clone());
                match seen.get(&key) {
                    Some(first) => Err(ManifestError::Duplicate {
                        path: display.clone(),
                        namespace: key.0,
                        name: key.1,
                        first: first.clone(),
                    }),
                    None => {
                        seen.insert(key, display.clone());
                        Ok(d)
                    }
                }
            }
            Err(e) => Err(e),
        };
        out.push(Loaded { path, result, pod });
    }
    *cache = next_cache;
    Ok(out)
}

type Stamp = (u64, Option<std::time::SystemTime>);
/// A cached parse: the file's stamp, the outcome, and the Pod if it parsed.
type CachedParse = (Stamp, Result<DesiredPod, ManifestError>, Option<core::Pod>);

/// Parsed manifests keyed by path and (size, mtime), so an unchanged file is not re-parsed.
#[derive(Default)]
pub struct ScanCache {
    entries: BTreeMap<PathBuf, CachedParse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(manifest: &str, expected: Result<(), &str>) {
        let (r, _) = parse("m.yaml", manifest.as_bytes(), "node-a");
        match (r, expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(want)) => assert!(
                e.to_string().contains(want),
                "error {e} does not contain {want:?}"
            ),
            (got, want) => panic!("for {manifest}: got {got:?}, want {want:?}"),
        }
    }

    const GOOD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: c, image: busybox}\n";

    #[test]
    fn validation() {
        check(GOOD, Ok(()));
        check("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"j\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}", Ok(()));
        check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web\n",
            Err("failed to parse"),
        );
        check(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n",
            Err("failed to parse"),
        );
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: Web}\nspec: {containers: [{name: c, image: i}]}\n", Err("not a valid DNS"));
        check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: []}\n",
            Err("spec.containers is empty"),
        );
        check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c}]}\n",
            Err("image is missing"),
        );
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {restartPolicy: Sometimes, containers: [{name: c, image: i}]}\n", Err("restartPolicy"));
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, image: i}, {name: c, image: i}]}\n", Err("used twice"));
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, image: i, resources: {limits: {memory: lots}}}]}\n", Err("invalid quantity"));
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, image: i, livenessProbe: {tcpSocket: {port: http}}}]}\n", Err("no container port is named"));
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}], livenessProbe: {tcpSocket: {port: http}}}]}\n", Ok(()));
        check("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec: {containers: [{name: c, image: i, readinessProbe: {periodSeconds: 0, exec: {command: [true]}}}]}\n", Err("periodSeconds"));
    }

    #[test]
    fn conversion() {
        let m = "apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: ns}\nspec:\n  restartPolicy: OnFailure\n  terminationGracePeriodSeconds: 5\n  initContainers: [{name: i, image: img}]\n  containers:\n  - name: c\n    image: img\n    command: [sh, -c]\n    args: [echo hi]\n    env: [{name: A, value: b}]\n    workingDir: /tmp\n    resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {cpu: '1', memory: 64Mi}}\n    readinessProbe: {httpGet: {port: 8080, path: /ready}, periodSeconds: 2, failureThreshold: 1}\n";
        let d = parse("m.yaml", m.as_bytes(), "n").0.expect("valid");
        assert_eq!(
            (
                d.namespace.as_str(),
                d.name.as_str(),
                d.restart_policy,
                d.grace_period_s
            ),
            ("ns", "w", RestartPolicy::OnFailure, 5)
        );
        assert_eq!(d.init_containers.len(), 1);
        let c = &d.containers[0];
        assert_eq!(c.command, vec!["sh", "-c"]);
        assert_eq!(c.args, vec!["echo hi"]);
        assert_eq!(c.env, vec![("A".to_string(), "b".to_string())]);
        assert_eq!(c.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(
            c.resources,
            Resources {
                cpu_request_milli: Some(100),
                cpu_limit_milli: Some(1000),
                memory_request_bytes: Some(32 << 20),
                memory_limit_bytes: Some(64 << 20)
            }
        );
        let r = c.readiness.as_ref().expect("probe");
        assert_eq!(
            (
                r.period_s,
                r.timeout_s,
                r.success_threshold,
                r.failure_threshold
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(
            r.action,
            ProbeAction::Http {
                port: 8080,
                path: "/ready".into()
            }
        );
    }

    #[test]
    fn static_uid_follows_content() {
        let a = parse("m", GOOD.as_bytes(), "n").0.expect("valid").uid;
        let b = parse("m", GOOD.as_bytes(), "n").0.expect("valid").uid;
        let c = parse("m", GOOD.replace("busybox", "busybox2").as_bytes(), "n")
            .0
            .expect("valid")
            .uid;
        let d = parse("m", GOOD.as_bytes(), "other-node")
            .0
            .expect("valid")
            .uid;
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.0.len(), 36);
    }

    #[test]
    fn duplicates_and_bad_files_in_a_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.yaml"), GOOD).expect("write");
        std::fs::write(
            dir.path().join("b.yaml"),
            GOOD.replace("image: busybox", "image: other"),
        )
        .expect("write");
        std::fs::write(dir.path().join("c.json"), "{not json").expect("write");
        std::fs::write(dir.path().join("d.txt"), "ignored").expect("write");
        let mut cache = ScanCache::default();
        let loaded = scan_dir(dir.path(), "n", &mut cache).expect("scan");
        assert_eq!(loaded.len(), 3);
        assert!(loaded[0].result.is_ok());
        assert!(matches!(
            loaded[1].result,
            Err(ManifestError::Duplicate { .. })
        ));
        assert!(matches!(loaded[2].result, Err(ManifestError::Parse { .. })));
        // A second scan comes from the cache and says the same.
        let again = scan_dir(dir.path(), "n", &mut cache).expect("scan");
        assert_eq!(
            again.iter().map(|l| l.result.is_ok()).collect::<Vec<_>>(),
            vec![true, false, false]
        );
    }
}
