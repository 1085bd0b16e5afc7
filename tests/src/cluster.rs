//! A cluster of real `control-plane` replicas on loopback: certificates, ports, data dirs
//! and logs in one temporary directory; start, SIGKILL, SIGTERM and restart of replicas;
//! etcdctl pointed at them; status, leader and HashKV read through etcdctl.

use crate::etcdctl::{ClientTls, Output, Target, Watch};
use crate::ports::PortBlock;
use crate::wait::wait_for;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a one-shot etcdctl may run before the harness kills it.
pub const ETCDCTL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a cluster (or a restarted replica) may take to become healthy.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs with a replica's index and its data dir before its first start.
pub type PrepareDataDir = Box<dyn Fn(usize, &Path)>;

/// Cluster settings; `Opts::default()` is a fast-failing-over cluster (50 ms heartbeat,
/// 300 ms election timeout) with Berth's default snapshot policy.
pub struct Opts {
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// `--snapshot-count` (applied entries between snapshots).
    pub snapshot_count: Option<u64>,
    /// `--snapshot-catchup-entries` (entries kept behind a snapshot).
    pub snapshot_catchup_entries: Option<u64>,
    /// More flags for every replica.
    pub extra_args: Vec<String>,
    /// Runs with each replica's index and data dir (not yet created) before its first start.
    pub prepare_data_dir: Option<PrepareDataDir>,
    /// Serve the Kubernetes API on every replica (and write an admin kubeconfig per replica).
    pub kube_api: bool,
    /// The replica binary (default: `control-plane`; e.g. the failpoints build).
    pub binary: Option<PathBuf>,
    /// Environment for every replica (e.g. `FAILPOINTS`).
    pub env: Vec<(String, String)>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            heartbeat_ms: 50,
            election_ms: 300,
            snapshot_count: None,
            snapshot_catchup_entries: None,
            extra_args: Vec::new(),
            prepare_data_dir: None,
            kube_api: false,
            binary: None,
            env: Vec::new(),
        }
    }
}

/// A directory written by `control-plane certs`: a CA and server and client certificates.
#[derive(Clone, Debug)]
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    /// Runs `control-plane certs --dir DIR --hosts 127.0.0.1,localhost`.
    pub fn generate(dir: &Path) -> Certs {
        let mut cmd = Command::new(crate::bins::control_plane());
        cmd.arg("certs")
            .arg("--dir")
            .arg(dir)
            .arg("--hosts")
            .arg("127.0.0.1,localhost");
        crate::etcdctl::run_with_timeout(
            cmd,
            format!("control-plane certs --dir {}", dir.display()),
            None,
            Duration::from_secs(30),
        )
        .ok();
        let certs = Certs {
            dir: dir.to_path_buf(),
        };
        for f in [
            certs.ca(),
            certs.server_cert(),
            certs.server_key(),
            certs.client_cert(),
            certs.client_key(),
        ] {
            assert!(
                f.is_file(),
                "control-plane certs did not write {}",
                f.display()
            );
        }
        certs
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.crt")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.dir.join("client.crt")
    }
    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client.key")
    }
}

/// A replica to start outside the initial cluster (a member joining with `existing`).
pub struct ReplicaSpec {
    pub name: String,
    pub initial_cluster: String,
    /// `new` or `existing`.
    pub state: &'static str,
    /// Certificates for the peer port (server and client side).
    pub peer_certs: Certs,
    /// Certificates for the client port (and the CA client certificates must chain to).
    pub client_certs: Certs,
}

struct Replica {
    name: String,
    data_dir: PathBuf,
    log: PathBuf,
    client_url: String,
    peer_url: String,
    metrics_addr: String,
    kube_url: String,
    args: Vec<String>,
    child: Option<Child>,
}

pub struct Cluster {
    dir: Option<tempfile::TempDir>,
    pub certs: Certs,
    replicas: Vec<Replica>,
    ports: PortBlock,
    opts: Opts,
    token: String,
}

impl Cluster {
    /// Starts `n` replicas as one new cluster and waits until every one is healthy.
    pub fn start(n: usize, opts: Opts) -> Cluster {
        let ports = PortBlock::reserve();
        let dir = tempfile::Builder::new()
            .prefix("berth-systest-")
            .tempdir()
            .expect("failed to create a temporary directory");
        let certs = Certs::generate(&dir.path().join("certs"));
        let token = format!("berth-systest-{}", std::process::id());
        let mut cluster = Cluster {
            dir: Some(dir),
            certs,
            replicas: Vec::new(),
            ports,
            opts,
            token,
        };
        let initial_cluster = (0..n)
            .map(|i| format!("n{}={}", i + 1, cluster.peer_url_of(i)))
            .collect::<Vec<_>>()
            .join(",");
        for i in 0..n {
            let spec = ReplicaSpec {
                name: format!("n{}", i + 1),
                initial_cluster: initial_cluster.clone(),
                state: "new",
                peer_certs: cluster.certs.clone(),
                client_certs: cluster.certs.clone(),
            };
            cluster.add_replica(spec);
        }
        cluster.wait_healthy(&(0..n).collect::<Vec<_>>());
        cluster
    }

    fn peer_url_of(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.ports.port(4 * i as u16 + 1))
    }

    /// The peer URL the next replica added with [`Cluster::add_replica`] gets.
    pub fn next_peer_url(&self) -> String {
        self.peer_url_of(self.replicas.len())
    }

    /// Starts one more replica (index = the number of replicas so far) without waiting.
    pub fn add_replica(&mut self, spec: ReplicaSpec) -> usize {
        let i = self.replicas.len();
        let client_url = format!("https://127.0.0.1:{}", self.ports.port(4 * i as u16));
        let peer_url = self.peer_url_of(i);
        let metrics_addr = format!("127.0.0.1:{}", self.ports.port(4 * i as u16 + 2));
        let data_dir = self.dir().join(&spec.name);
        let log = self.dir().join(format!("{}.log", spec.name));
        let (p, c) = (&spec.peer_certs, &spec.client_certs);
        let mut args: Vec<String> = vec![
            format!("--name={}", spec.name),
            format!("--data-dir={}", data_dir.display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster={}", spec.initial_cluster),
            format!("--initial-cluster-state={}", spec.state),
            format!("--initial-cluster-token={}", self.token),
            format!("--cert-file={}", c.server_cert().display()),
            format!("--key-file={}", c.server_key().display()),
            format!("--trusted-ca-file={}", c.ca().display()),
            "--client-cert-auth".into(),
            format!("--peer-cert-file={}", p.server_cert().display()),
            format!("--peer-key-file={}", p.server_key().display()),
            format!("--peer-trusted-ca-file={}", p.ca().display()),
            "--peer-client-cert-auth".into(),
            format!("--listen-metrics-urls=http://{metrics_addr}"),
            format!("--heartbeat-interval={}", self.opts.heartbeat_ms),
            format!("--election-timeout={}", self.opts.election_ms),
        ];
        if let Some(n) = self.opts.snapshot_count {
            args.push(format!("--snapshot-count={n}"));
        }
        if let Some(n) = self.opts.snapshot_catchup_entries {
            args.push(format!("--snapshot-catchup-entries={n}"));
        }
        let kube_url = format!("https://127.0.0.1:{}", self.ports.port(4 * i as u16 + 3));
        if self.opts.kube_api {
            args.extend([
                format!("--secure-port={}", self.ports.port(4 * i as u16 + 3)),
                "--bind-address=127.0.0.1".into(),
                format!("--tls-cert-file={}", c.server_cert().display()),
                format!("--tls-private-key-file={}", c.server_key().display()),
                format!("--client-ca-file={}", c.ca().display()),
                format!(
                    "--service-account-signing-key-file={}",
                    c.dir.join("sa.key").display()
                ),
            ]);
            let kubeconfig = self.dir().join(format!("kubeconfig-{}", spec.name));
            let out = Command::new(crate::bins::control_plane())
                .args(["kubeconfig", "--user", "admin", "--group", "system:masters"])
                .arg("--certs-dir")
                .arg(&c.dir)
                .arg("--server")
                .arg(&kube_url)
                .arg("--out")
                .arg(&kubeconfig)
                .output()
                .expect("failed to run control-plane kubeconfig");
            assert!(
                out.status.success(),
                "control-plane kubeconfig failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        args.extend(self.opts.extra_args.iter().cloned());
        if let Some(prepare) = &self.opts.prepare_data_dir {
            prepare(i, &data_dir);
        }
        self.replicas.push(Replica {
            name: spec.name,
            data_dir,
            log,
            client_url,
            peer_url,
            metrics_addr,
            kube_url,
            args,
            child: None,
        });
        self.spawn(i);
        i
    }

    fn spawn(&mut self, i: usize) {
        let r = &mut self.replicas[i];
        assert!(r.child.is_none(), "replica {} is already running", r.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&r.log)
            .unwrap_or_else(|e| panic!("failed to open {}: {e}", r.log.display()));
        let log2 = log
            .try_clone()
            .expect("failed to duplicate the log file handle");
        let binary = self
            .opts
            .binary
            .clone()
            .unwrap_or_else(crate::bins::control_plane);
        let mut cmd = Command::new(binary);
        cmd.args(&r.args)
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child
        // if this test process dies without running Drop (a harness timeout kill).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        r.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("failed to start control-plane {}: {e}", r.name)),
        );
    }

    /// The directory holding certificates, data dirs and logs.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("cluster directory").path()
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.replicas[i].name
    }

    pub fn endpoint(&self, i: usize) -> &str {
        &self.replicas[i].client_url
    }

    pub fn peer_url(&self, i: usize) -> &str {
        &self.replicas[i].peer_url
    }

    /// `https://127.0.0.1:port` of the replica's Kubernetes API (with `Opts::kube_api`).
    pub fn kube_url(&self, i: usize) -> &str {
        &self.replicas[i].kube_url
    }

    /// The admin kubeconfig pointing at replica `i` (with `Opts::kube_api`).
    pub fn kubeconfig(&self, i: usize) -> PathBuf {
        self.dir()
            .join(format!("kubeconfig-{}", self.replicas[i].name))
    }

    /// `127.0.0.1:port` of the replica's `--listen-metrics-urls`.
    pub fn metrics_addr(&self, i: usize) -> &str {
        &self.replicas[i].metrics_addr
    }

    pub fn data_dir(&self, i: usize) -> &Path {
        &self.replicas[i].data_dir
    }

    /// Everything the replica has logged (all its runs).
    pub fn log(&self, i: usize) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.replicas[i].log).unwrap_or_default())
            .into_owned()
    }

    /// Indexes of the replicas whose process is running (as far as the harness knows).
    pub fn running(&self) -> Vec<usize> {
        (0..self.replicas.len())
            .filter(|&i| self.replicas[i].child.is_some())
            .collect()
    }

    /// Client URLs of the running replicas.
    pub fn endpoints(&self) -> Vec<String> {
        self.running()
            .into_iter()
            .map(|i| self.replicas[i].client_url.clone())
            .collect()
    }

    /// The exit status if the replica's process has exited (reaping it), else None.
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let r = &mut self.replicas[i];
        let status = r.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            r.child = None;
        }
        status
    }

    /// SIGSTOP: the replica freezes (a stalled process: timers, renewals, everything).
    pub fn pause(&self, i: usize) {
        self.signal(i, libc::SIGSTOP);
    }

    /// SIGCONT after `pause`.
    pub fn resume(&self, i: usize) {
        self.signal(i, libc::SIGCONT);
    }

    fn signal(&self, i: usize, sig: libc::c_int) {
        let r = &self.replicas[i];
        let child = r
            .child
            .as_ref()
            .unwrap_or_else(|| panic!("replica {} is not running", r.name));
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self, i: usize) {
        let r = &mut self.replicas[i];
        let mut child = r
            .child
            .take()
            .unwrap_or_else(|| panic!("replica {} is not running", r.name));
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM, then wait for a clean exit (panics if it takes over 10 s or fails).
    pub fn stop(&mut self, i: usize) {
        let r = &mut self.replicas[i];
        let mut child = r
            .child
            .take()
            .unwrap_or_else(|| panic!("replica {} is not running", r.name));
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("failed to wait for a replica") {
                assert!(
                    status.success(),
                    "replica {} exited with {status} after SIGTERM",
                    r.name
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("replica {} did not exit within 10 s of SIGTERM", r.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts a stopped or killed replica again from its data dir, with the same flags.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
    }

    /// Waits until `etcdctl endpoint health` succeeds on each of `idx`.
    pub fn wait_healthy(&self, idx: &[usize]) {
        for &i in idx {
            wait_for(
                &format!("replica {} to be healthy", self.name(i)),
                HEALTHY_TIMEOUT,
                || {
                    let target = Target {
                        endpoints: vec![self.endpoint(i).to_string()],
                        tls: self.tls(),
                    };
                    let out = target.run(
                        &[
                            "endpoint",
                            "health",
                            "--dial-timeout=1s",
                            "--command-timeout=2s",
                        ],
                        None,
                        ETCDCTL_TIMEOUT,
                    );
                    if out.status.success() {
                        Ok(())
                    } else {
                        Err(format!("{}{}", out.stdout, out.stderr))
                    }
                },
            );
        }
    }

    fn tls(&self) -> Option<ClientTls> {
        Some(ClientTls {
            ca: self.certs.ca(),
            identity: Some((self.certs.client_cert(), self.certs.client_key())),
        })
    }

    /// etcdctl with this cluster's TLS files, pointed at `endpoints`.
    pub fn target(&self, endpoints: Vec<String>) -> Target {
        Target {
            endpoints,
            tls: self.tls(),
        }
    }

    /// `etcdctl ARGS` against every running replica.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        self.target(self.endpoints())
            .run(args, None, ETCDCTL_TIMEOUT)
    }

    /// The store's current revision (from the running replicas).
    pub fn store_revision(&self) -> i64 {
        let out = self.etcdctl(&[
            "get",
            "/",
            "--prefix",
            "--keys-only",
            "--limit=1",
            "-w",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("etcdctl get: not JSON ({e}): {}", out.stdout));
        v["header"]["revision"].as_i64().expect("a revision")
    }

    /// The JSON values under `prefix` at revision `rev`, by key (Kubernetes objects as the
    /// API server stores them).
    pub fn values_at(
        &self,
        prefix: &str,
        rev: i64,
    ) -> std::collections::HashMap<String, serde_json::Value> {
        use base64::Engine;
        let out = self.etcdctl(&[
            "get",
            prefix,
            "--prefix",
            &format!("--rev={rev}"),
            "-w",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("etcdctl get: not JSON ({e}): {}", out.stdout));
        let b64 = base64::engine::general_purpose::STANDARD;
        v["kvs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|kv| {
                let key = b64
                    .decode(kv["key"].as_str().unwrap_or(""))
                    .expect("base64 key");
                let value = b64
                    .decode(kv["value"].as_str().unwrap_or(""))
                    .expect("base64 value");
                (
                    String::from_utf8_lossy(&key).into_owned(),
                    serde_json::from_slice(&value).expect("a stored object is JSON"),
                )
            })
            .collect()
    }

    /// `etcdctl ARGS < stdin` against every running replica.
    pub fn etcdctl_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.target(self.endpoints())
            .run(args, Some(stdin), ETCDCTL_TIMEOUT)
    }

    /// `etcdctl ARGS` against the replicas `idx`.
    pub fn etcdctl_on(&self, idx: &[usize], args: &[&str]) -> Output {
        self.target(idx.iter().map(|&i| self.endpoint(i).to_string()).collect())
            .run(args, None, ETCDCTL_TIMEOUT)
    }

    /// `etcdctl ARGS` against replica `i` only.
    pub fn etcdctl_at(&self, i: usize, args: &[&str]) -> Output {
        self.target(vec![self.endpoint(i).to_string()])
            .run(args, None, ETCDCTL_TIMEOUT)
    }

    /// A long-running `etcdctl ARGS` (watch) against replica `i`.
    pub fn spawn_etcdctl_at(&self, i: usize, args: &[&str]) -> Watch {
        self.target(vec![self.endpoint(i).to_string()]).spawn(args)
    }

    /// The `Status` object of `etcdctl endpoint status -w json` for replica `i`.
    pub fn status(&self, i: usize) -> serde_json::Value {
        let v = self
            .etcdctl_at(i, &["endpoint", "status", "-w", "json"])
            .json();
        v[0]["Status"].clone()
    }

    /// The replica's member id (from its status header).
    pub fn member_id(&self, i: usize) -> u64 {
        self.status(i)["header"]["member_id"]
            .as_u64()
            .expect("status has header.member_id")
    }

    /// The leader replica `i` knows of (0: none), by status; None if it does not answer.
    pub fn leader_seen_by(&self, i: usize) -> Option<u64> {
        let out = self.target(vec![self.endpoint(i).to_string()]).run(
            &["endpoint", "status", "-w", "json", "--command-timeout=1s"],
            None,
            ETCDCTL_TIMEOUT,
        );
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).ok()?;
        v[0]["Status"]["leader"].as_u64()
    }

    /// Index of the replica every one of `idx` agrees is the leader, waiting for agreement.
    pub fn wait_leader(&self, idx: &[usize]) -> usize {
        let ids: Vec<(usize, u64)> = idx.iter().map(|&i| (i, self.member_id(i))).collect();
        wait_for(
            "the replicas to agree on a leader",
            Duration::from_secs(15),
            || {
                let seen: Vec<Option<u64>> = idx.iter().map(|&i| self.leader_seen_by(i)).collect();
                match seen[0] {
                    Some(l) if l != 0 && seen.iter().all(|s| *s == Some(l)) => ids
                        .iter()
                        .find(|(_, id)| *id == l)
                        .map(|(i, _)| *i)
                        .ok_or(format!("leader {l:x} is not among {idx:?}")),
                    _ => Err(format!("leaders seen: {seen:?}")),
                }
            },
        )
    }

    /// (hash, revision, compact revision) from `etcdctl endpoint hashkv` on replica `i`.
    pub fn hashkv(&self, i: usize) -> (u64, i64, i64) {
        let v = self
            .etcdctl_at(i, &["endpoint", "hashkv", "-w", "json"])
            .json();
        let h = &v[0]["HashKV"];
        (
            h["hash"].as_u64().unwrap_or(0),
            h["header"]["revision"].as_i64().unwrap_or(0),
            h["compact_revision"].as_i64().unwrap_or(0),
        )
    }

    /// Waits until the replicas `idx` report the same revision and the same HashKV.
    pub fn wait_converged(&self, idx: &[usize], timeout: Duration) -> (u64, i64) {
        wait_for(
            &format!("replicas {idx:?} to have equal revision and HashKV"),
            timeout,
            || {
                let all: Vec<(u64, i64, i64)> = idx.iter().map(|&i| self.hashkv(i)).collect();
                if all.iter().all(|h| (h.0, h.1) == (all[0].0, all[0].1)) {
                    Ok((all[0].0, all[0].1))
                } else {
                    Err(format!(
                        "(hash, revision, compact revision) per replica: {all:?}"
                    ))
                }
            },
        )
    }

    /// The current revision, by a linearizable read.
    pub fn revision(&self) -> i64 {
        self.etcdctl(&["get", "revision-probe", "-w", "json"])
            .json()["header"]["revision"]
            .as_i64()
            .expect("get has header.revision")
    }

    /// Keeps the directory (data, logs, certificates) after the cluster is dropped.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir
            .take()
            .map(|d| d.keep())
            .expect("cluster directory")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for r in &mut self.replicas {
            if let Some(mut child) = r.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::env::var_os("BERTH_KEEP_TEST_DIRS").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!(
                    "BERTH_KEEP_TEST_DIRS: cluster directory kept in {}",
                    dir.keep().display()
                );
            }
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let path = dir.keep();
                // RocksDB preallocates ~70 MB per replica: keep logs and certificates only.
                for r in &self.replicas {
                    let _ = std::fs::remove_dir_all(&r.data_dir);
                }
                eprintln!("\n=== the test failed; logs and certificates kept in {} (data dirs too with BERTH_KEEP_TEST_DIRS=1)", path.display());
                for r in &self.replicas {
                    let log = String::from_utf8_lossy(&std::fs::read(&r.log).unwrap_or_default())
                        .into_owned();
                    let tail: Vec<&str> = log.lines().rev().take(12).collect();
                    eprintln!("--- last lines of {} ({}):", r.name, r.log.display());
                    for line in tail.into_iter().rev() {
                        let cut = line
                            .char_indices()
                            .nth(300)
                            .map(|(at, _)| at)
                            .unwrap_or(line.len());
                        eprintln!("{}", &line[..cut]);
                    }
                }
            }
        }
    }
}
