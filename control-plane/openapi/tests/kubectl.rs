//! Runs the real kubectl against a tiny HTTP server that serves discovery and this crate's
//! documents: `kubectl explain` reads the v3 documents, and kubectl's client-side validation
//! (`apply`/`create`, also with `--dry-run=client`) reads the v2 protobuf document.
//!
//! kubectl is taken from `KUBECTL` or `PATH`; without one the test says so and passes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_openapi::{FieldValidation, Scope};
use serde_json::{json, Value};

const MAX_REQUEST_BYTES: usize = 16 << 20;

struct Request {
    method: String,
    target: String,
    accept: String,
    body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let (mut accept, mut length) = (String::new(), 0usize);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header == "\r\n" {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "accept" => accept = value.trim().to_owned(),
            "content-length" => length = value.trim().parse().ok()?,
            _ => {}
        }
    }
    if length > MAX_REQUEST_BYTES {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        accept,
        body,
    })
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
}

fn group_versions() -> Vec<String> {
    let mut gvs: Vec<String> = berth_openapi::served_kinds()
        .iter()
        .filter(|k| k.scope != Scope::Subresource)
        .map(|k| k.kind.api_version())
        .collect();
    gvs.sort();
    gvs.dedup();
    gvs
}

fn resource_list(api_version: &str) -> Value {
    let mut resources = Vec::new();
    for served in berth_openapi::served_kinds() {
        if served.scope == Scope::Subresource {
            for parent in served.parents {
                let parent_gv = parent
                    .group_version_path
                    .trim_start_matches("api/")
                    .trim_start_matches("apis/");
                if parent_gv == api_version {
                    resources.push(json!({
                        "name": format!("{}/{}", parent.plural, served.plural), "namespaced": parent.namespaced,
                        "group": served.kind.group, "version": served.kind.version,
                        "kind": served.kind.kind, "verbs": ["get", "patch", "update", "create"],
                    }));
                }
            }
        } else if served.kind.api_version() == api_version {
            let verbs = if served.list_kind.is_some() {
                json!(["create", "delete", "get", "list", "patch", "update", "watch"])
            } else {
                json!(["create"])
            };
            resources.push(json!({
                "name": served.plural, "singularName": served.kind.kind.to_lowercase(),
                "namespaced": served.scope == Scope::Namespaced, "kind": served.kind.kind, "verbs": verbs,
            }));
        }
    }
    json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources })
}

fn status(code: u16, reason: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }))
    .unwrap_or_default()
}

/// Serves one request; `log` records `METHOD target` lines, and the body of PATCH requests.
/// `existing` is the object that every GET of a named object returns, if any.
fn serve(
    mut stream: TcpStream,
    validation: FieldValidation,
    existing: Option<&Value>,
    log: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(req) = read_request(&mut stream) else {
        return;
    };
    if let Ok(mut log) = log.lock() {
        log.push(format!("{} {}", req.method, req.target));
        if req.method == "PATCH" {
            log.push(String::from_utf8_lossy(&req.body).into_owned());
        }
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let json_type = "application/json";
    match path {
        "/version" => {
            let body = json!({ "major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64" });
            respond(
                &mut stream,
                "200 OK",
                json_type,
                body.to_string().as_bytes(),
            );
        }
        "/api" => {
            let body = json!({ "kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [] });
            respond(
                &mut stream,
                "200 OK",
                json_type,
                body.to_string().as_bytes(),
            );
        }
        "/apis" => {
            let groups: Vec<Value> = group_versions()
                .iter()
                .filter_map(|gv| gv.split_once('/'))
                .map(|(group, version)| {
                    let gv =
                        json!({ "groupVersion": format!("{group}/{version}"), "version": version });
                    json!({ "name": group, "versions": [gv.clone()], "preferredVersion": gv })
                })
                .collect();
            let body = json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups });
            respond(
                &mut stream,
                "200 OK",
                json_type,
                body.to_string().as_bytes(),
            );
        }
        "/openapi/v2" if req.accept.contains("protobuf") => respond(
            &mut stream,
            "200 OK",
            berth_openapi::V2_PROTOBUF_CONTENT_TYPE,
            berth_openapi::v2_protobuf(),
        ),
        "/openapi/v2" => respond(&mut stream, "200 OK", json_type, berth_openapi::v2()),
        "/openapi/v3" => respond(
            &mut stream,
            "200 OK",
            json_type,
            berth_openapi::v3_index_for(validation),
        ),
        _ if path.starts_with("/openapi/v3/") => {
            match berth_openapi::v3_group_version_for(validation, path) {
                Some(doc) => respond(&mut stream, "200 OK", json_type, doc),
                None => respond(
                    &mut stream,
                    "404 Not Found",
                    json_type,
                    &status(404, "NotFound", "not found"),
                ),
            }
        }
        _ if req.method == "GET"
            && (path == "/api/v1"
                || group_versions()
                    .iter()
                    .any(|gv| path == format!("/apis/{gv}"))) =>
        {
            let api_version = path
                .trim_start_matches("/api/")
                .trim_start_matches("/apis/");
            respond(
                &mut stream,
                "200 OK",
                json_type,
                resource_list(api_version).to_string().as_bytes(),
            );
        }
        _ if matches!(req.method.as_str(), "GET" | "PATCH")
            && existing.is_some()
            && path.contains("/namespaces/default/") =>
        {
            let body = existing.map(Value::to_string).unwrap_or_default();
            respond(&mut stream, "200 OK", json_type, body.as_bytes());
        }
        _ if req.method == "POST" => {
            // A create: check fields the way kube-apiserver does for fieldValidation=Strict.
            let obj: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let unknown = berth_openapi::unknown_fields(api_version, kind, &obj);
            if query.contains("fieldValidation=Strict") && !unknown.is_empty() {
                let version = api_version.rsplit('/').next().unwrap_or(api_version);
                let message = format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                    unknown.join(", ")
                );
                respond(
                    &mut stream,
                    "400 Bad Request",
                    json_type,
                    &status(400, "BadRequest", &message),
                );
            } else {
                respond(&mut stream, "201 Created", json_type, &req.body);
            }
        }
        _ => respond(
            &mut stream,
            "404 Not Found",
            json_type,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        ),
    }
}

struct Server {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn start(validation: FieldValidation, existing: Option<Value>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let thread_log = Arc::clone(&log);
    let existing = Arc::new(existing);
    // The accept loop lives as long as the test process.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&thread_log);
            let existing = Arc::clone(&existing);
            std::thread::spawn(move || serve(stream, validation, existing.as_ref().as_ref(), &log));
        }
    });
    Server { url, log }
}

fn kubectl_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
}

struct Kubectl {
    binary: PathBuf,
    home: tempdir::Dir,
    server: Server,
}

/// A throwaway directory, removed on drop.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("berth-openapi-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("create a temporary directory");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Kubectl {
    fn new(name: &str, validation: FieldValidation, existing: Option<Value>) -> Option<Kubectl> {
        let Some(binary) = kubectl_binary() else {
            eprintln!("kubectl not found (set KUBECTL or PATH); skipping the kubectl checks");
            return None;
        };
        let server = start(validation, existing);
        let home = tempdir::Dir::new(name);
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: {}\n\
             contexts:\n- name: berth\n  context:\n    cluster: berth\n    namespace: default\n    user: berth\n\
             current-context: berth\nusers:\n- name: berth\n  user: {{}}\n",
            server.url
        );
        std::fs::write(home.path().join("config"), config).expect("write the kubeconfig");
        Some(Kubectl {
            binary,
            home,
            server,
        })
    }

    /// Runs kubectl with `args` and `stdin`; returns (success, stdout, stderr).
    fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let home: &Path = self.home.path();
        let mut child = Command::new(&self.binary)
            .arg(format!("--kubeconfig={}", home.join("config").display()))
            .arg(format!("--cache-dir={}", home.join("cache").display()))
            .arg("--request-timeout=20s")
            .args(args)
            .env("HOME", home)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kubectl");
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.as_bytes())
                .expect("write kubectl's stdin");
        }
        let out = child.wait_with_output().expect("wait for kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn requests(&self) -> Vec<String> {
        self.server
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

/// Expected outcome of one kubectl command.
struct Case {
    args: &'static [&'static str],
    stdin: &'static str,
    succeeds: bool,
    /// Substrings of stdout (on success) or stderr (on failure).
    output: &'static [&'static str],
}

fn check(kubectl: &Kubectl, case: &Case) {
    let (ok, stdout, stderr) = kubectl.run(case.args, case.stdin);
    let shown = if case.succeeds { &stdout } else { &stderr };
    assert_eq!(
        ok,
        case.succeeds,
        "kubectl {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nrequests: {:?}",
        case.args,
        kubectl.requests()
    );
    for want in case.output {
        assert!(
            shown.contains(want),
            "kubectl {:?}: {want:?} missing from\n{shown}\nstderr:\n{stderr}",
            case.args
        );
    }
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: 1, memory: 1Gi}
        readinessProbe:
          httpGet: {path: /, port: 80}
"#;

const DEPLOYMENT_UNKNOWN_FIELD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  foo: bar
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"#;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: busybox
    livenessProbe:
      tcpSocket: {port: http}
"#;

const CONFIGMAP_TYPO: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  lables: {a: b}
data: {k: v}
"#;

#[test]
fn kubectl_explain_and_client_side_validation() {
    let Some(kubectl) = Kubectl::new("client", FieldValidation::Client, None) else {
        return;
    };
    let cases = [
        Case {
            args: &["explain", "pods.spec.containers"],
            stdin: "",
            succeeds: true,
            output: &["KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>", "A single application container", "imagePullPolicy\t<string>", "-required-"],
        },
        Case {
            args: &["explain", "deployments.spec.strategy.rollingUpdate"],
            stdin: "",
            succeeds: true,
            output: &["GROUP:      apps", "maxSurge\t<IntOrString>"],
        },
        Case {
            args: &["explain", "cronjobs.spec.jobTemplate.spec.template.spec.containers.resources.limits"],
            stdin: "",
            succeeds: true,
            output: &["GROUP:      batch", "FIELD: limits <map[string]Quantity>"],
        },
        Case {
            args: &["explain", "rolebindings.subjects"],
            stdin: "",
            succeeds: true,
            output: &["GROUP:      rbac.authorization.k8s.io", "kind\t<string> -required-"],
        },
        Case {
            args: &["apply", "--dry-run=client", "-f", "-"],
            stdin: DEPLOYMENT,
            succeeds: true,
            output: &["deployment.apps/web created (dry run)"],
        },
        Case {
            args: &["create", "--dry-run=client", "-f", "-"],
            stdin: POD,
            succeeds: true,
            output: &["pod/p created (dry run)"],
        },
        Case {
            args: &["apply", "--dry-run=client", "-f", "-"],
            stdin: DEPLOYMENT_UNKNOWN_FIELD,
            succeeds: false,
            output: &[
                "error validating data: ValidationError(Deployment.spec): unknown field \"foo\" in io.k8s.api.apps.v1.DeploymentSpec",
                "--validate=false",
            ],
        },
        Case {
            args: &["create", "--dry-run=client", "-f", "-"],
            stdin: CONFIGMAP_TYPO,
            succeeds: false,
            output: &["unknown field \"lables\" in io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"],
        },
    ];
    for case in &cases {
        check(&kubectl, case);
    }
}

#[test]
fn kubectl_leaves_validation_to_a_server_that_takes_field_validation() {
    let Some(kubectl) = Kubectl::new("server", FieldValidation::Server, None) else {
        return;
    };
    let cases = [
        Case {
            args: &["create", "-f", "-"],
            stdin: DEPLOYMENT_UNKNOWN_FIELD,
            succeeds: false,
            output: &[
                "Error from server (BadRequest)",
                "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\"",
            ],
        },
        Case { args: &["create", "-f", "-"], stdin: DEPLOYMENT, succeeds: true, output: &["deployment.apps/web created"] },
    ];
    for case in &cases {
        check(&kubectl, case);
    }
    assert!(
        kubectl
            .requests()
            .iter()
            .any(|r| r.starts_with("POST ") && r.contains("fieldValidation=Strict")),
        "kubectl did not ask for strict validation: {:?}",
        kubectl.requests()
    );
}

/// Client-side `kubectl apply` to an existing object sends a strategic merge patch built from
/// the v3 documents' patch markers: containers merge by name instead of being replaced.
#[test]
fn kubectl_apply_patches_lists_by_merge_key() {
    let last_applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.26"}, {"name": "side", "image": "busybox"}]}}},
    });
    let mut existing = last_applied.clone();
    existing["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied.to_string()});
    existing["metadata"]["resourceVersion"] = json!("7");
    let Some(kubectl) = Kubectl::new("patch", FieldValidation::Client, Some(existing)) else {
        return;
    };
    let update = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27"}
      - {name: side, image: busybox}
"#;
    check(
        &kubectl,
        &Case {
            args: &["apply", "-f", "-"],
            stdin: update,
            succeeds: true,
            output: &["deployment.apps/web configured"],
        },
    );
    let requests = kubectl.requests();
    let patch = requests
        .iter()
        .skip_while(|r| !r.starts_with("PATCH "))
        .nth(1)
        .unwrap_or_else(|| panic!("no PATCH sent: {requests:?}"));
    let patch: Value = serde_json::from_str(patch).expect("the patch is JSON");
    let spec = &patch["spec"]["template"]["spec"];
    assert_eq!(
        spec["$setElementOrder/containers"],
        json!([{"name": "web"}, {"name": "side"}]),
        "{patch}"
    );
    assert_eq!(
        spec["containers"],
        json!([{"image": "nginx:1.27", "name": "web"}]),
        "{patch}"
    );
}
