//! Test harness: a private containerd (its own root, state, socket and CNI dirs) with
//! locally built busybox images, a node agent process against it, an mTLS client for the
//! agent server, and a clean-up that leaves no sandbox, shim, mount, bridge or cgroup behind.
#![allow(dead_code)]

use berth_node_agent::runtime::cri::CriRuntime;
use berth_node_agent::runtime::Runtime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BUSYBOX: &str = "berth.local/busybox:1";
pub const PAUSE: &str = "berth.local/pause:1";

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The root filesystem layer: busybox with a symlink per applet, /etc/passwd, empty
/// mount points, and /www for httpd.
fn busybox_layer() -> Vec<u8> {
    let busybox =
        std::fs::read("/usr/bin/busybox").expect("busybox-static is installed (/usr/bin/busybox)");
    let out = Command::new("/usr/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    let applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|a| a != "busybox" && !a.is_empty())
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, path, std::io::empty())
            .expect("tar dir");
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        b.append_data(&mut h, path, data).expect("tar file");
    };
    for (d, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("www", 0o755),
        ("root", 0o700),
        ("var", 0o755),
    ] {
        dir(&mut b, d, mode);
    }
    file(&mut b, "bin/busybox", 0o755, &busybox);
    for a in &applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .expect("tar symlink");
    }
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    );
    file(&mut b, "etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    file(&mut b, "www/index.html", 0o644, b"hello from berth\n");
    b.into_inner().expect("tar finish")
}

/// An OCI image layout as a tarball, named for `ctr images import`.
pub fn oci_image_tar(name: &str, layer: &[u8], entrypoint: &[&str], cmd: &[&str]) -> Vec<u8> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let layer_digest = format!("sha256:{}", sha256_hex(layer));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Entrypoint": entrypoint, "Cmd": cmd, "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
    }))
    .expect("json");
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }],
    }))
    .expect("json");
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": arch, "os": "linux" },
            "annotations": { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag },
        }],
    }))
    .expect("json");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        b.append_data(&mut h, path, data).expect("tar");
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    for (digest, data) in [
        (&layer_digest, layer),
        (&config_digest, &config[..]),
        (&manifest_digest, &manifest[..]),
    ] {
        add(
            &format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
            data,
        );
    }
    b.into_inner().expect("tar finish")
}

fn containerd_config(dir: &Path, snapshotter: &str) -> String {
    let d = dir.display();
    format!(
        r#"version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Negative oom_score_adj (the sandbox default, -998) is refused in some VMs and
  # containers; restrict it to containerd's own.
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "{snapshotter}"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni-conf"
    max_conf_num = 1
"#
    )
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

static NODE_SEQ: AtomicU32 = AtomicU32::new(0);

pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn write_certs(dir: &Path) -> Certs {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };
    std::fs::create_dir_all(dir).expect("certs dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, &ca_key);
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().expect("key");
    let server_cert = server.signed_by(&server_key, &issuer).expect("sign");
    let mut client = CertificateParams::new(Vec::<String>::new()).expect("params");
    client
        .distinguished_name
        .push(DnType::CommonName, "apiserver");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().expect("key");
    let client_cert = client.signed_by(&client_key, &issuer).expect("sign");
    let w = |n: &str, s: String| {
        let p = dir.join(n);
        std::fs::write(&p, s).expect("write cert");
        p
    };
    Certs {
        ca: w("ca.crt", ca_cert.pem()),
        server_cert: w("server.crt", server_cert.pem()),
        server_key: w("server.key", server_key.serialize_pem()),
        client_cert: w("client.crt", client_cert.pem()),
        client_key: w("client.key", client_key.serialize_pem()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Agent flags a test may change.
#[derive(Clone)]
pub struct AgentOptions {
    pub relist_period_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub max_parallel_syncs: usize,
    pub manifest_poll_ms: u64,
}

impl Default for AgentOptions {
    /// Short periods and back-off so that tests converge in seconds.
    fn default() -> Self {
        AgentOptions {
            relist_period_ms: 200,
            backoff_initial_ms: 1000,
            backoff_max_ms: 4000,
            max_parallel_syncs: 16,
            manifest_poll_ms: 100,
        }
    }
}

impl AgentOptions {
    /// The agent's own defaults (what a deployment runs with).
    pub fn production() -> Self {
        AgentOptions {
            relist_period_ms: 1000,
            backoff_initial_ms: 10_000,
            backoff_max_ms: 300_000,
            max_parallel_syncs: 16,
            manifest_poll_ms: 250,
        }
    }
}

/// One node: containerd + node agent, in a temp dir.
pub struct Node {
    pub dir: tempfile::TempDir,
    containerd: Option<Child>,
    agent: Option<Child>,
    pub sock: PathBuf,
    pub manifests: PathBuf,
    pub root: PathBuf,
    pub bridge: String,
    pub cidr: String,
    pub cgroup_root: String,
    pub port: u16,
    pub certs: Certs,
    pub options: AgentOptions,
    snapshotter: String,
    rt: tokio::runtime::Runtime,
    agent_runs: u32,
}

impl Node {
    pub fn start() -> Node {
        Self::start_with(AgentOptions::default())
    }

    pub fn start_with(options: AgentOptions) -> Node {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let seq = NODE_SEQ.fetch_add(1, Ordering::SeqCst);
        let tag = (std::process::id() * 8 + seq) % 0xffffff;
        let dir = tempfile::Builder::new()
            .prefix("berth-agent-")
            .tempdir()
            .expect("tempdir");
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests).expect("manifests dir");
        let certs = write_certs(&dir.path().join("certs"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut node = Node {
            sock: dir.path().join("containerd.sock"),
            root: dir.path().join("agent-root"),
            bridge: format!("bna{tag:06x}"),
            cidr: format!("198.19.{}.0/24", tag % 250 + 1),
            cgroup_root: format!("berth-test-{tag:06x}"),
            port: free_port(),
            manifests,
            certs,
            options,
            containerd: None,
            agent: None,
            snapshotter: "overlayfs".into(),
            rt,
            agent_runs: 0,
            dir,
        };
        node.start_containerd();
        let images = node.dir.path().join("images");
        std::fs::create_dir_all(&images).expect("images dir");
        let layer = busybox_layer();
        for (name, entrypoint, cmd) in [
            (BUSYBOX, vec![], vec!["sh"]),
            (PAUSE, vec!["/bin/sleep"], vec!["2147483647"]),
        ] {
            let path = images.join(format!("{}.tar", name.replace(['/', ':'], "_")));
            std::fs::write(&path, oci_image_tar(name, &layer, &entrypoint, &cmd))
                .expect("write image");
            let out = Command::new("ctr")
                .args([
                    "-a",
                    &node.sock.display().to_string(),
                    "-n",
                    "k8s.io",
                    "images",
                    "import",
                    "--snapshotter",
                    &node.snapshotter,
                ])
                .arg(&path)
                .output()
                .expect("ctr runs");
            assert!(
                out.status.success(),
                "ctr images import {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        node.start_agent();
        node
    }

    pub fn start_containerd(&mut self) {
        let cfg = self.dir.path().join("containerd.toml");
        std::fs::write(&cfg, containerd_config(self.dir.path(), &self.snapshotter))
            .expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("containerd.log"))
            .expect("log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("containerd starts (is the containerd package installed?)");
        self.containerd = Some(child);
        let sock = self.sock.clone();
        wait_until("containerd's socket", Duration::from_secs(20), || {
            let ok = Command::new("ctr")
                .args(["-a", &sock.display().to_string(), "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            ok.then_some(())
        });
    }

    /// Stops containerd (SIGTERM); its shims and so the pods keep running.
    pub fn stop_containerd(&mut self) {
        if let Some(mut c) = self.containerd.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn agent_log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("agent-{run}.log"))
    }

    pub fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "agent already running");
        self.agent_runs += 1;
        let log = std::fs::File::create(self.agent_log_path(self.agent_runs)).expect("agent log");
        let o = &self.options;
        let child = Command::new(env!("CARGO_BIN_EXE_node-agent"))
            .args(["--node-name", "test-node"])
            .arg("--pod-manifest-path")
            .arg(&self.manifests)
            .arg("--container-runtime-endpoint")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--root-dir")
            .arg(&self.root)
            .args([
                "--pod-cidr",
                &self.cidr,
                "--cni-bridge",
                &self.bridge,
                "--cgroup-root",
                &self.cgroup_root,
            ])
            .arg("--cni-conf-dir")
            .arg(self.dir.path().join("cni-conf"))
            .args(["--address", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--tls-cert-file")
            .arg(&self.certs.server_cert)
            .arg("--tls-private-key-file")
            .arg(&self.certs.server_key)
            .arg("--client-ca-file")
            .arg(&self.certs.ca)
            .args([
                "--relist-period-ms",
                &o.relist_period_ms.to_string(),
                "--manifest-poll-ms",
                &o.manifest_poll_ms.to_string(),
            ])
            .args([
                "--backoff-initial-ms",
                &o.backoff_initial_ms.to_string(),
                "--backoff-max-ms",
                &o.backoff_max_ms.to_string(),
            ])
            .args(["--max-parallel-syncs", &o.max_parallel_syncs.to_string()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("node-agent starts");
        self.agent = Some(child);
        wait_until("the agent server", Duration::from_secs(20), || {
            self.try_get("/healthz")
                .ok()
                .filter(|(code, _)| *code == 200)
                .map(|_| ())
        });
    }

    /// Stops the agent with SIGTERM (its pods keep running).
    pub fn stop_agent(&mut self) {
        if let Some(mut c) = self.agent.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn agent_log(&self) -> String {
        (1..=self.agent_runs)
            .map(|r| std::fs::read_to_string(self.agent_log_path(r)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- agent restart ---\n")
    }

    pub fn write_manifest(&self, file: &str, contents: &str) {
        // Written aside and renamed in, so the agent never reads half a file.
        let tmp = self.dir.path().join(format!(".{file}"));
        std::fs::write(&tmp, contents).expect("write manifest");
        std::fs::rename(&tmp, self.manifests.join(file)).expect("rename manifest");
    }

    pub fn remove_manifest(&self, file: &str) {
        std::fs::remove_file(self.manifests.join(file)).expect("remove manifest");
    }

    fn tls_client(&self) -> tokio_rustls::TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.certs.ca).expect("ca") {
            roots.add(c.expect("ca cert")).expect("add ca");
        }
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&self.certs.client_cert)
                .expect("cert")
                .map(|c| c.expect("cert"))
                .collect();
        let key = PrivateKeyDer::from_pem_file(&self.certs.client_key).expect("key");
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .expect("client cert");
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    /// GET over mTLS; the body is read to its end (or for `max` at most).
    pub fn try_get_for(&self, path: &str, max: Duration) -> Result<(u16, String), String> {
        let connector = self.tls_client();
        let port = self.port;
        let path = path.to_string();
        self.rt.block_on(async move {
            use http_body_util::BodyExt;
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            let tls = connector
                .connect(ServerName::try_from("localhost").expect("name"), tcp)
                .await
                .map_err(|e| e.to_string())?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let req = http::Request::get(path)
                .header("host", "localhost")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .expect("request");
            let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
                .await
                .map_err(|_| "timeout".to_string())?
                .map_err(|e| e.to_string())?;
            let code = resp.status().as_u16();
            let mut body = resp.into_body();
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + max;
            loop {
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    Ok(Some(Ok(f))) => {
                        if let Ok(d) = f.into_data() {
                            out.extend_from_slice(&d);
                        }
                    }
                    Ok(Some(Err(e))) => return Err(e.to_string()),
                    Ok(None) | Err(_) => break,
                }
            }
            Ok((code, String::from_utf8_lossy(&out).into_owned()))
        })
    }

    pub fn try_get(&self, path: &str) -> Result<(u16, String), String> {
        self.try_get_for(path, Duration::from_secs(10))
    }

    pub fn pods(&self) -> Value {
        let (code, body) = self.try_get("/pods").expect("GET /pods");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("PodList JSON")
    }

    pub fn pod(&self, name: &str) -> Option<Value> {
        self.pods()["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|p| p["metadata"]["name"] == name)
            .cloned()
    }

    /// Polls `/pods` until `f` accepts the pod (or the deadline passes, failing with the
    /// pod's last status and the agent's log).
    pub fn wait_pod<T>(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            if let Ok((200, body)) = self.try_get("/pods") {
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    if let Some(p) = v["items"]
                        .as_array()
                        .and_then(|a| a.iter().find(|p| p["metadata"]["name"] == name))
                        .cloned()
                    {
                        if let Some(r) = f(&p) {
                            return r;
                        }
                        last = p;
                    }
                }
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for pod {name} to be {what}; last: {}\nagent log:\n{}", serde_json::to_string_pretty(&last["status"]).unwrap_or_default(), self.agent_log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a CRI call against this node's containerd.
    pub fn cri<T>(&self, f: impl AsyncFnOnce(&CriRuntime) -> T) -> T {
        let _guard = self.rt.enter();
        let rt = CriRuntime::new(&format!("unix://{}", self.sock.display())).expect("endpoint");
        self.rt.block_on(f(&rt))
    }

    fn cleanup(&mut self) {
        self.stop_agent();
        if self.containerd.is_some() {
            // Every sandbox goes (CNI teardown included) while containerd still runs.
            let result = self.cri(async |rt| {
                let sandboxes = tokio::time::timeout(Duration::from_secs(10), rt.list_sandboxes())
                    .await
                    .map_err(|_| "list timed out".to_string())?
                    .map_err(|e| e.to_string())?;
                let containers = rt.list_containers().await.map_err(|e| e.to_string())?;
                for c in containers {
                    let _ = rt.stop_container(&c.id, 0).await;
                }
                for s in sandboxes {
                    rt.stop_sandbox(&s.id).await.map_err(|e| e.to_string())?;
                    rt.remove_sandbox(&s.id).await.map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            });
            if let Err(e) = result {
                eprintln!("clean-up: failed to remove the sandboxes: {e}");
            }
        }
        self.stop_containerd();
        // Shims of this containerd (if any survived) are found by its socket in their args.
        let sock = self.sock.display().to_string();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&sock) {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        // Mounts under the temp dir, deepest first.
        let base = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut targets: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&base))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let _ = Command::new("umount").arg("-l").arg(t).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        // Pod cgroups under this node's cgroup root, deepest first.
        if let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in ctrls.flatten() {
                let root = c.path().join(&self.cgroup_root);
                if root.is_dir() {
                    if let Ok(pods) = std::fs::read_dir(&root) {
                        for p in pods.flatten().filter(|p| p.path().is_dir()) {
                            if let Ok(cs) = std::fs::read_dir(p.path()) {
                                for c in cs.flatten().filter(|c| c.path().is_dir()) {
                                    let _ = std::fs::remove_dir(c.path());
                                }
                            }
                            let _ = std::fs::remove_dir(p.path());
                        }
                    }
                    let _ = std::fs::remove_dir(&root);
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.cleanup();
        if std::env::var_os("BERTH_TEST_KEEP_DIR").is_some() {
            // For debugging: keep the logs, configs and images.
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// A pod manifest with one busybox container running `script` under `sh -c`.
pub fn pod_yaml(
    name: &str,
    restart_policy: &str,
    script: &str,
    extra_container_yaml: &str,
) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: {restart_policy}\n  terminationGracePeriodSeconds: 5\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    command: [sh, -c]\n    args: [{script:?}]\n{extra_container_yaml}"
    )
}

pub fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

pub fn condition(p: &Value, t: &str) -> Option<bool> {
    p["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)
        .map(|c| c["status"] == "True")
}

pub fn container_status<'a>(p: &'a Value, name: &str) -> Option<&'a Value> {
    p["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

pub fn all_running(p: &Value) -> bool {
    p["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c["state"]["running"].is_object()))
}
