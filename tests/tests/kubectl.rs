//! The real kubectl against a 3-replica Berth cluster over mTLS: discovery, CRUD of the
//! served kinds (typed commands send protobuf), apply (client- and server-side), every patch
//! type, optimistic concurrency, deletion policies, lists and pages, selectors, watches,
//! tokens, bad input, and a failover under a client.

use berth_system_tests::{Cluster, Kubectl, Opts};
use serde_json::Value;
use std::time::Duration;

fn cluster() -> Cluster {
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            ..Opts::default()
        },
    );
    for i in 0..3 {
        let k = Kubectl::new(&c.kubeconfig(i));
        k.wait_ready();
    }
    // The controllers' first writes in `default` (the root CA publisher's ConfigMap) are
    // done before a test compares lists, as on a settled Kubernetes cluster.
    let k = Kubectl::new(&c.kubeconfig(0));
    berth_system_tests::wait_for(
        "kube-root-ca.crt in default",
        Duration::from_secs(30),
        || {
            let out = k.run(&["get", "configmap", "kube-root-ca.crt"], None);
            if out.status.success() {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    c
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox:1.35
        command: ["httpd", "-f", "-p", "80"]
        ports: [{containerPort: 80}]
        resources: {limits: {cpu: "1", memory: 64Mi}}
"#;

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";

#[test]
fn discovery_crud_apply_patch_and_delete() {
    let c = cluster();
    let k = Kubectl::new(&c.kubeconfig(0));
    let k2 = Kubectl::new(&c.kubeconfig(2));

    // Discovery and OpenAPI.
    let res = k.ok(&["api-resources"]);
    for want in [
        "deployments",
        "leases",
        "endpointslices",
        "clusterroles",
        "selfsubjectreviews",
    ] {
        assert!(res.contains(want), "api-resources lacks {want}: {res}");
    }
    let versions = k.ok(&["api-versions"]);
    assert!(
        versions.contains("apps/v1") && versions.contains("coordination.k8s.io/v1"),
        "{versions}"
    );
    assert!(k
        .ok(&["explain", "deployment.spec.strategy"])
        .contains("rollingUpdate"));

    // Typed create commands (protobuf bodies).
    k.ok(&["create", "namespace", "team-a"]);
    k.ok(&[
        "-n",
        "team-a",
        "create",
        "configmap",
        "c1",
        "--from-literal=a=b",
    ]);
    k.ok(&[
        "-n",
        "team-a",
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=p=q",
    ]);
    k.ok(&[
        "-n",
        "team-a",
        "create",
        "deployment",
        "d1",
        "--image=busybox:1.35",
        "--replicas=2",
    ]);
    k.ok(&[
        "-n",
        "team-a",
        "create",
        "service",
        "nodeport",
        "svc1",
        "--tcp=80:8080",
    ]);
    k.ok(&["-n", "team-a", "create", "serviceaccount", "builder"]);
    let secret = json(&k2.ok(&["-n", "team-a", "get", "secret", "s1", "-o", "json"]));
    assert_eq!(secret["data"]["p"], "cQ==");
    let svc = json(&k2.ok(&["-n", "team-a", "get", "svc", "svc1", "-o", "json"]));
    let ip = svc["spec"]["clusterIP"].as_str().unwrap();
    assert!(ip.starts_with("10."), "{svc}");
    let np = svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&np), "{svc}");

    // Stored under kube-apiserver's keys, readable with etcdctl.
    let raw = c
        .etcdctl(&[
            "get",
            "/registry/deployments/team-a/d1",
            "--print-value-only",
        ])
        .ok()
        .to_string();
    let stored = json(raw.trim());
    assert_eq!(stored["kind"], "Deployment");
    assert!(
        stored["metadata"].get("resourceVersion").is_none(),
        "resourceVersion is not stored: {stored}"
    );

    // Client-side apply: created, unchanged, configured.
    assert!(k
        .ok_stdin(&["apply", "-f", "-"], CONFIGMAP)
        .contains("configmap/settings created"));
    assert!(k
        .ok_stdin(&["apply", "-f", "-"], CONFIGMAP)
        .contains("configmap/settings unchanged"));
    assert!(k
        .ok_stdin(&["apply", "-f", "-"], &CONFIGMAP.replace("fast", "slow"))
        .contains("configmap/settings configured"));
    assert!(k
        .ok_stdin(&["apply", "-f", "-"], DEPLOYMENT)
        .contains("deployment.apps/web created"));
    let d = json(&k2.ok(&["get", "deploy", "web", "-o", "json"]));
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(!d["metadata"]["uid"].as_str().unwrap().is_empty());
    // diff exits 1 when the live object differs.
    let diff = k.run(
        &["diff", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 3", "replicas: 4")),
    );
    assert_eq!(
        diff.status.code(),
        Some(1),
        "{}{}",
        diff.stdout,
        diff.stderr
    );
    assert!(diff.stdout.contains("replicas: 4"), "{}", diff.stdout);

    // Every patch type, label, annotate, scale; generation counts spec changes only.
    k.ok(&["patch", "deploy", "web", "-p", r#"{"spec":{"replicas":2}}"#]);
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"fe"}}}"#,
    ]);
    k.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":5}]"#,
    ]);
    k.ok(&["label", "deploy", "web", "team=a"]);
    k.ok(&["annotate", "deploy", "web", "note=hello"]);
    k.ok(&["scale", "deploy", "web", "--replicas=6"]);
    let out = k2.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.metadata.labels.tier} {.metadata.labels.team} {.metadata.annotations.note} {.metadata.generation}"]);
    assert_eq!(out, "6 fe a hello 4");
    let bad = k.fails(
        &[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":99}]"#,
        ],
        None,
    );
    assert!(bad.contains("test failed"), "{bad}");

    // Optimistic concurrency: a stale resourceVersion is a conflict.
    let stale = CONFIGMAP.replace(
        "metadata: {name: settings}",
        "metadata: {name: settings, resourceVersion: \"2\"}",
    );
    let err = k.fails(&["replace", "-f", "-"], Some(&stale));
    assert!(err.contains("the object has been modified; please apply your changes to the latest version and try again"), "{err}");
    let err = k.fails(&["create", "namespace", "team-a"], None);
    assert!(
        err.contains("AlreadyExists") && err.contains("namespaces \"team-a\" already exists"),
        "{err}"
    );
    let err = k.fails(&["get", "pod", "nope"], None);
    assert!(err.contains("pods \"nope\" not found"), "{err}");

    // Server-side apply: a conflict with the client-side manager, then forced.
    let ssa = DEPLOYMENT.replace("replicas: 3", "replicas: 9");
    let err = k.fails(
        &["apply", "--server-side", "--field-manager=ops", "-f", "-"],
        Some(&ssa),
    );
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    assert!(k
        .ok_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=ops",
                "--force-conflicts",
                "-f",
                "-"
            ],
            &ssa
        )
        .contains("serverside-applied"));
    let managed = json(&k2.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]));
    let managers: Vec<&str> = managed["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"ops"), "{managers:?}");
    assert_eq!(managed["spec"]["replicas"], 9);

    // Tokens and identity.
    let token = k.ok(&["-n", "team-a", "create", "token", "builder"]);
    let whoami = k.ok(&["auth", "whoami", "--token", token.trim()]);
    assert!(
        whoami.contains("system:serviceaccount:team-a:builder"),
        "{whoami}"
    );
    assert!(k.ok(&["auth", "whoami"]).contains("admin"));
    assert_eq!(k.ok(&["auth", "can-i", "create", "pods"]).trim(), "yes");

    // /metrics under kube-apiserver's names passes promtool.
    let metrics = k.ok(&["get", "--raw", "/metrics"]);
    for name in [
        "apiserver_request_total",
        "apiserver_request_duration_seconds_bucket",
        "apiserver_current_inflight_requests",
        "apiserver_watch_cache_events_received_total",
        "etcd_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    assert!(metrics.contains(r#"apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments""#), "no count of the deployment creates");
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Deletion: propagation policies; a namespace terminates with its content.
    k.ok(&["delete", "deploy", "web", "--cascade=foreground"]);
    k.ok(&["-n", "team-a", "delete", "deploy", "d1", "--cascade=orphan"]);
    k.ok(&["delete", "configmap", "settings", "--cascade=background"]);
    k.ok(&["delete", "namespace", "team-a", "--timeout=30s"]);
    let err = k2.fails(&["get", "namespace", "team-a"], None);
    assert!(err.contains("not found"), "{err}");
    let gone = c
        .etcdctl(&[
            "get",
            "--prefix",
            "/registry/configmaps/team-a/",
            "--keys-only",
        ])
        .ok()
        .to_string();
    assert!(gone.trim().is_empty(), "namespace content left: {gone}");
}

#[test]
fn lists_pages_selectors_and_watches() {
    let c = cluster();
    let k = Kubectl::new(&c.kubeconfig(0));
    let k1 = Kubectl::new(&c.kubeconfig(1));
    for i in 0..7 {
        k.ok(&[
            "create",
            "configmap",
            &format!("cm{i}"),
            &format!("--from-literal=i={i}"),
        ]);
        k.ok(&[
            "label",
            "configmap",
            &format!("cm{i}"),
            &format!("parity={}", if i % 2 == 0 { "even" } else { "odd" }),
        ]);
    }
    // Pages: --chunk-size and raw limit/continue.
    let all = k1.ok(&["get", "configmaps", "--chunk-size=2", "-o", "name"]);
    for i in 0..7 {
        assert!(all.contains(&format!("configmap/cm{i}")), "{all}");
    }
    let page = json(&k1.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?limit=3",
    ]));
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let cont = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    assert!(
        page["metadata"]["remainingItemCount"].as_i64().unwrap() >= 4,
        "{page}"
    );
    let rest = json(&k.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/configmaps?limit=100&continue={cont}"),
    ]));
    assert_eq!(
        page["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len(),
        7 + usize::from(
            rest["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["metadata"]["name"] == "kube-root-ca.crt")
        )
    );
    assert_eq!(
        rest["metadata"]["resourceVersion"], page["metadata"]["resourceVersion"],
        "pages are read at one revision"
    );

    // Selectors.
    let even = k1.ok(&["get", "configmaps", "-l", "parity=even", "-o", "name"]);
    assert_eq!(even.lines().count(), 4, "{even}");
    let set = k1.ok(&[
        "get",
        "configmaps",
        "-l",
        "parity in (odd),parity!=even",
        "-o",
        "name",
    ]);
    assert_eq!(set.lines().count(), 3, "{set}");
    let one = k1.ok(&[
        "get",
        "configmaps",
        "--field-selector",
        "metadata.name=cm3",
        "-o",
        "name",
    ]);
    assert_eq!(one.trim(), "configmap/cm3");
    let err = k1.fails(&["get", "pods", "--field-selector", "spec.bogus=x"], None);
    assert!(err.contains("field label not supported"), "{err}");
    let err = k1.fails(&["get", "configmaps", "-l", "a in b"], None);
    assert!(
        err.contains("BadRequest") || err.contains("unable to parse"),
        "{err}"
    );
    let wide = k1.ok(&["get", "svc", "kubernetes", "-o", "wide"]);
    assert!(
        wide.contains("10.96.0.1") && wide.contains("SELECTOR"),
        "{wide}"
    );

    // A raw watch from a list's resourceVersion on another replica: exactly the later events.
    let list = json(&k.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]));
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    k.ok(&["create", "configmap", "late", "--from-literal=x=1"]);
    k.ok(&["patch", "configmap", "late", "-p", r#"{"data":{"x":"2"}}"#]);
    k.ok(&["delete", "configmap", "late"]);
    let stream = k1.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=3&allowWatchBookmarks=true")]);
    let events: Vec<Value> = stream
        .lines()
        .map(json)
        .filter(|e| e["type"] != "BOOKMARK")
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"], "{stream}");
    let rvs: Vec<i64> = events
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        rvs.windows(2).all(|w| w[0] < w[1]),
        "events in resourceVersion order: {rvs:?}"
    );

    // Watch-list: initial events end with the annotated bookmark.
    let wl = k1.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2"]);
    let lines: Vec<Value> = wl.lines().map(json).collect();
    let end = lines
        .iter()
        .position(|e| {
            e["type"] == "BOOKMARK"
                && e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
        })
        .expect("initial-events-end bookmark");
    assert!(end >= 7, "{wl}");

    // A compacted revision is 410 Gone for a watch.
    let old = c.etcdctl(&["get", "x", "-w", "json"]).ok().to_string();
    let head = json(old.trim())["header"]["revision"].as_i64().unwrap();
    c.etcdctl(&["compaction", &head.to_string()]).ok();
    // A continue token of a compacted revision is 410 Expired.
    let err = k1.fails(
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?limit=100&continue={cont}"),
        ],
        None,
    );
    assert!(
        err.contains("Expired") || err.contains("410") || err.contains("too old"),
        "{err}"
    );
    let gone = k1.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2&timeoutSeconds=2",
    ]);
    assert!(gone.contains("\"ERROR\"") && gone.contains("410"), "{gone}");

    // kubectl get -w sees a change made through another replica.
    let watcher = std::thread::spawn({
        let k = k1.clone();
        move || {
            k.run(
                &[
                    "get",
                    "configmaps",
                    "-w",
                    "--request-timeout=6s",
                    "-o",
                    "name",
                ],
                None,
            )
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    k.ok(&["create", "configmap", "watched"]);
    let out = watcher.join().unwrap();
    assert!(
        out.stdout.contains("configmap/watched"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let c = cluster();
    let k = Kubectl::new(&c.kubeconfig(0));
    let dir = c.dir().to_path_buf();
    let post = |path: &str, body: &str| {
        let f = dir.join("body");
        std::fs::write(&f, body).unwrap();
        k.run(&["create", "--raw", path, "-f", f.to_str().unwrap()], None)
    };
    let before = k.ok(&["get", "configmaps", "-o", "name"]);
    let cases: &[(&str, &str, &str)] = &[
        (
            "/api/v1/namespaces/default/configmaps",
            "{not json",
            "BadRequest",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            "BadRequest",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            "BadRequest",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            &format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{}"}}}}"#,
                "a".repeat(300)
            ),
            "Invalid",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
            "Invalid",
        ),
        (
            "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"bogus":1}"#,
            "strict decoding error",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":"nope"}"#,
            "BadRequest",
        ),
        (
            "/api/v1/namespaces/nope/configmaps",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            "NotFound",
        ),
        (
            "/api/v1/namespaces/default/pods",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}"#,
            "spec.containers: Required value",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#,
            "does not match template",
        ),
    ];
    for (path, body, want) in cases {
        let out = post(path, body);
        assert!(!out.status.success(), "{path} accepted {body}");
        assert!(
            out.stderr.contains(want),
            "{path} {body}: want {want}, got {}",
            out.stderr
        );
    }
    let huge = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(4 << 20)
    );
    let out = post("/api/v1/namespaces/default/configmaps", &huge);
    assert!(
        !out.status.success() && (out.stderr.contains("too large") || out.stderr.contains("413")),
        "{}",
        out.stderr
    );
    // Nothing was written and the server still serves.
    assert_eq!(k.ok(&["get", "configmaps", "-o", "name"]), before);
    assert!(k.ok(&["get", "--raw", "/readyz"]).contains("ok"));

    // Authentication: no credentials, a bad token, a certificate from a foreign CA: 401.
    let url = c.kube_url(0).to_string();
    let ca = c.certs.ca();
    std::fs::write(dir.join("none"), "apiVersion: v1\nkind: Config\n").unwrap();
    let anon = Kubectl::new(&dir.join("none"));
    let base = [
        "--server",
        url.as_str(),
        "--certificate-authority",
        ca.to_str().unwrap(),
    ];
    // No credentials at all (curl: kubectl would prompt for a password).
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                ca.to_str().unwrap(),
                &format!("{url}{path}"),
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl("/api/v1/pods"), "401");
    assert_eq!(curl("/version"), "200");
    assert_eq!(curl("/readyz"), "200");
    let err = anon.fails(
        &[&base[..], &["--token", "nope", "get", "pods"]].concat(),
        None,
    );
    assert!(err.contains("Unauthorized"), "{err}");
    let foreign = berth_system_tests::Certs::generate(&dir.join("foreign"));
    let fc = foreign.dir.join("admin.crt");
    let fk = foreign.dir.join("admin.key");
    let err = anon.fails(
        &[
            &base[..],
            &[
                "--client-certificate",
                fc.to_str().unwrap(),
                "--client-key",
                fk.to_str().unwrap(),
                "get",
                "pods",
            ],
        ]
        .concat(),
        None,
    );
    assert!(err.contains("Unauthorized"), "{err}");
}

#[test]
fn kubectl_keeps_working_when_its_replica_is_killed() {
    let mut c = cluster();
    let k0 = Kubectl::new(&c.kubeconfig(0));
    let k1 = Kubectl::new(&c.kubeconfig(1));
    let k2 = Kubectl::new(&c.kubeconfig(2));
    k0.ok(&["create", "configmap", "before"]);
    let list = json(&k0.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]));
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    c.kill(0);
    for i in 0..5 {
        k1.ok(&["create", "configmap", &format!("after{i}")]);
    }
    assert!(k2
        .ok(&["get", "configmaps", "-o", "name"])
        .contains("configmap/after4"));
    // The watch resumed on another replica from the last resourceVersion sees each event once.
    let stream = k2.ok(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=3"
        ),
    ]);
    // (The root CA publisher's `kube-root-ca.crt` may appear too, as on Kubernetes.)
    let names: Vec<String> = stream
        .lines()
        .map(json)
        .map(|e| {
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|n| n.starts_with("after"))
        .collect();
    assert_eq!(
        names,
        (0..5).map(|i| format!("after{i}")).collect::<Vec<_>>(),
        "{stream}"
    );
    c.restart(0);
    k0.wait_ready();
    assert!(k0
        .ok(&["get", "configmaps", "-o", "name"])
        .contains("configmap/after4"));
}

#[test]
fn pods_bind_delete_gracefully_and_namespaces_terminate() {
    let c = cluster();
    let k = Kubectl::new(&c.kubeconfig(0));
    let k2 = Kubectl::new(&c.kubeconfig(2));
    let dir = c.dir().to_path_buf();
    let post = |path: &str, body: &str| {
        let f = dir.join("body");
        std::fs::write(&f, body).unwrap();
        k.run(&["create", "--raw", path, "-f", f.to_str().unwrap()], None)
    };
    // Defaults and admission on a pod; the binding subresource assigns it once.
    k.ok(&["run", "p1", "--image=busybox:1.35", "--", "sleep", "1000"]);
    let pod = json(&k2.ok(&["get", "pod", "p1", "-o", "json"]));
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(
        pod["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let binding = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"node-a"}}"#;
    let out = post("/api/v1/namespaces/default/pods/p1/binding", binding);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        k2.ok(&["get", "pod", "p1", "-o", "jsonpath={.spec.nodeName}"]),
        "node-a"
    );
    let again = post("/api/v1/namespaces/default/pods/p1/binding", binding);
    assert!(
        !again.status.success() && again.stderr.contains("already assigned"),
        "{}",
        again.stderr
    );
    // A bound pod is deleted gracefully: it stays, marked, until its node confirms (grace 0).
    k.ok(&["delete", "pod", "p1", "--wait=false"]);
    let marked = json(&k2.ok(&["get", "pod", "p1", "-o", "json"]));
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    k.ok(&["delete", "pod", "p1", "--grace-period=0", "--force"]);
    assert!(k2.fails(&["get", "pod", "p1"], None).contains("not found"));

    // dryRun writes nothing; generateName makes a unique name.
    assert!(k
        .ok(&["create", "configmap", "dry", "--dry-run=server"])
        .contains("server dry run"));
    assert!(k2
        .fails(&["get", "configmap", "dry"], None)
        .contains("not found"));
    let out = post(
        "/api/v1/namespaces/default/configmaps",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-"}}"#,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let name = json(&out.stdout)["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // Garbage collection: a dependent goes with its owner (background); orphaning keeps it
    // and removes the reference.
    let owner_of = |owner: &str, dep: &str| {
        let uid = k.ok(&["get", "configmap", owner, "-o", "jsonpath={.metadata.uid}"]);
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {dep}\n  ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: {owner}, uid: {uid}}}]\n")
    };
    k.ok(&["create", "configmap", "owner1"]);
    k.ok_stdin(&["apply", "-f", "-"], &owner_of("owner1", "dep1"));
    k.ok(&["delete", "configmap", "owner1"]);
    berth_system_tests::wait_for(
        "the dependent to be collected",
        Duration::from_secs(15),
        || {
            let out = k2.run(&["get", "configmap", "dep1"], None);
            if !out.status.success() {
                Ok(())
            } else {
                Err(out.stdout)
            }
        },
    );
    k.ok(&["create", "configmap", "owner2"]);
    k.ok_stdin(&["apply", "-f", "-"], &owner_of("owner2", "dep2"));
    k.ok(&["delete", "configmap", "owner2", "--cascade=orphan"]);
    berth_system_tests::wait_for(
        "the owner to go and the dependent to be orphaned",
        Duration::from_secs(15),
        || {
            let owner = k2.run(&["get", "configmap", "owner2"], None);
            let refs = k2.ok(&[
                "get",
                "configmap",
                "dep2",
                "-o",
                "jsonpath={.metadata.ownerReferences}",
            ]);
            if !owner.status.success() && refs.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "owner present: {}, refs: {refs}",
                    owner.status.success()
                ))
            }
        },
    );

    // A namespace whose content is held by a finalizer stays Terminating and refuses new
    // content; releasing the finalizer lets it go.
    k.ok(&["create", "namespace", "held"]);
    k.ok_stdin(&["apply", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, namespace: held, finalizers: [example.com/hold]}\n");
    k.ok(&["delete", "namespace", "held", "--wait=false"]);
    berth_system_tests::wait_for(
        "the namespace to be Terminating",
        Duration::from_secs(10),
        || {
            let phase = k2.ok(&["get", "namespace", "held", "-o", "jsonpath={.status.phase}"]);
            if phase == "Terminating" {
                Ok(())
            } else {
                Err(phase)
            }
        },
    );
    let err = k.fails(&["-n", "held", "create", "configmap", "late"], None);
    assert!(err.contains("because it is being terminated"), "{err}");
    k.ok(&[
        "-n",
        "held",
        "patch",
        "configmap",
        "keep",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    berth_system_tests::wait_for("the namespace to go", Duration::from_secs(15), || {
        let out = k2.run(&["get", "namespace", "held"], None);
        if !out.status.success() && out.stderr.contains("not found") {
            Ok(())
        } else {
            Err(out.stdout)
        }
    });
}
