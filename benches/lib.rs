//! Shared helpers for Berth's benchmarks: latency summaries, RSS, a reference etcd process,
//! and the markdown table every bench prints.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Latency samples in microseconds.
#[derive(Default, Clone)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn record(&mut self, since: Instant) {
        self.0.push(since.elapsed().as_micros() as u64);
    }

    /// The q-quantile (0..=1) in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let idx = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[idx]
    }

    pub fn summary(&self) -> String {
        format!(
            "p50 {} / p99 {} / max {}",
            fmt_us(self.quantile_us(0.5)),
            fmt_us(self.quantile_us(0.99)),
            fmt_us(self.quantile_us(1.0))
        )
    }
}

pub fn fmt_us(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

pub fn per_sec(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Resident set size of a process in MiB (from /proc).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Total size of the files under `dir`, in MiB.
pub fn dir_mib(dir: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let md = e.metadata();
                        match md {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(dir) as f64 / (1024.0 * 1024.0)
}

/// A one-member etcd 3.4 on loopback with its own data dir, killed on drop.
pub struct EtcdProcess {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts `etcd` (Debian's etcd-server) on the given client and peer ports.
    pub fn start(client_port: u16, peer_port: u16) -> Result<EtcdProcess, String> {
        let dir = tempfile::Builder::new()
            .prefix("berth-bench-etcd")
            .tempdir_in(bench_tmp())
            .map_err(|e| e.to_string())?;
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let child = Command::new("etcd")
            .args(["--name", "bench", "--data-dir"])
            .arg(dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("bench={peer}")])
            .args([
                "--quota-backend-bytes",
                &(8u64 << 30).to_string(),
                "--log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("failed to start etcd (is etcd-server installed?): {e}"))?;
        let etcd = EtcdProcess {
            child,
            endpoint: client,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", client_port)).is_err() {
            if Instant::now() > deadline {
                return Err("etcd did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(etcd)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data_mib(&self) -> f64 {
        dir_mib(self._dir.path())
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 3-process cluster (etcd or Berth) on loopback, plain HTTP, killed on drop.
pub struct ClusterProcesses {
    pub children: Vec<Child>,
    pub endpoints: Vec<String>,
    _dir: tempfile::TempDir,
}

impl ClusterProcesses {
    /// Three etcd 3.4 members (`etcd` from Debian's etcd-server), client ports base..base+2.
    pub fn etcd(base_port: u16) -> Result<ClusterProcesses, String> {
        Self::start(
            base_port,
            |i, dir, client, peer, initial| {
                let mut c = Command::new("etcd");
                c.args(["--name", &format!("e{i}"), "--data-dir"])
                    .arg(dir.join(format!("e{i}")));
                c.args([
                    "--listen-client-urls",
                    client,
                    "--advertise-client-urls",
                    client,
                ]);
                c.args([
                    "--listen-peer-urls",
                    peer,
                    "--initial-advertise-peer-urls",
                    peer,
                ]);
                c.args([
                    "--initial-cluster",
                    initial,
                    "--initial-cluster-state",
                    "new",
                    "--quota-backend-bytes",
                    &(8u64 << 30).to_string(),
                    "--log-level",
                    "error",
                ]);
                c
            },
            "e",
        )
    }

    /// Three Berth replicas (`control-plane`, built next to this bench), same settings.
    pub fn berth(base_port: u16) -> Result<ClusterProcesses, String> {
        Self::berth_with(base_port, |_| Vec::new())
    }

    /// Three Berth replicas with `extra(i)` appended to replica i's flags (e.g. the
    /// Kubernetes API's).
    pub fn berth_with(
        base_port: u16,
        extra: impl Fn(usize) -> Vec<std::ffi::OsString>,
    ) -> Result<ClusterProcesses, String> {
        let bin = berth_bin()?;
        Self::start(
            base_port,
            move |i, dir, client, peer, initial| {
                let mut c = Command::new(&bin);
                c.args(["--name", &format!("b{i}"), "--data-dir"])
                    .arg(dir.join(format!("b{i}")));
                c.args([
                    "--listen-client-urls",
                    client,
                    "--advertise-client-urls",
                    client,
                ]);
                c.args([
                    "--listen-peer-urls",
                    peer,
                    "--initial-advertise-peer-urls",
                    peer,
                ]);
                c.args([
                    "--initial-cluster",
                    initial,
                    "--initial-cluster-state",
                    "new",
                    "--log-level",
                    "warn",
                ]);
                c.args(extra(i));
                c
            },
            "b",
        )
    }

    fn start(
        base_port: u16,
        command: impl Fn(usize, &Path, &str, &str, &str) -> Command,
        prefix: &str,
    ) -> Result<ClusterProcesses, String> {
        let dir = tempfile::Builder::new()
            .prefix("berth-bench-cluster")
            .tempdir_in(bench_tmp())
            .map_err(|e| e.to_string())?;
        let clients: Vec<String> = (0..3)
            .map(|i| format!("http://127.0.0.1:{}", base_port + i))
            .collect();
        let peers: Vec<String> = (0..3)
            .map(|i| format!("http://127.0.0.1:{}", base_port + 100 + i))
            .collect();
        let initial = (0..3)
            .map(|i| format!("{prefix}{i}={}", peers[i]))
            .collect::<Vec<_>>()
            .join(",");
        let mut children = Vec::new();
        for i in 0..3 {
            let child = command(i, dir.path(), &clients[i], &peers[i], &initial)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("failed to start member {i}: {e}"))?;
            children.push(child);
        }
        let cluster = ClusterProcesses {
            children,
            endpoints: clients,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        for i in 0..3 {
            while std::net::TcpStream::connect(("127.0.0.1", base_port + i as u16)).is_err() {
                if Instant::now() > deadline {
                    return Err("cluster did not start listening within 90 s".into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(cluster)
    }

    /// The members' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// (CPU seconds, peak RSS MiB) of each member so far.
    pub fn usage(&self) -> Vec<(f64, f64)> {
        self.children
            .iter()
            .map(|c| (cpu_secs(c.id()), peak_rss_mib(c.id())))
            .collect()
    }
}

impl Drop for ClusterProcesses {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// User + system CPU seconds of a process (from /proc/PID/stat, clock ticks of 1/100 s).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size (VmHWM) of a process in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The `control-plane` binary built next to the running bench, or `BERTH_BIN` (another build
/// to compare, e.g. the previous commit's).
pub fn berth_bin() -> Result<PathBuf, String> {
    let bin = match std::env::var_os("BERTH_BIN") {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("control-plane"))
            .ok_or("no target dir")?,
    };
    if !bin.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p berth-control-plane",
            bin.display()
        ));
    }
    Ok(bin)
}

/// Where benches put their data: the same disk for Berth and the reference.
pub fn bench_tmp() -> PathBuf {
    std::env::var_os("BERTH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A markdown table collected row by row and printed at the end.
#[derive(Default)]
pub struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    pub fn row(&mut self, what: &str, berth: String, reference: String, note: &str) {
        println!("  {what}: berth {berth} | etcd {reference}");
        self.rows
            .push([what.to_string(), berth, reference, note.to_string()]);
    }

    pub fn print(&self, title: &str) {
        println!("\n### {title}\n");
        println!("| measure | Berth storage engine (in-process) | etcd 3.4.23 (1 member, gRPC, loopback) | note |");
        println!("|---|---|---|---|");
        for r in &self.rows {
            println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
        }
    }
}

/// Three Berth replicas with the Kubernetes API on (ports `base_port + 200 ..`), serving
/// certificates from `control-plane certs`, killed on drop.
pub struct KubeCluster {
    pub processes: ClusterProcesses,
    pub api_ports: Vec<u16>,
    // Dropped after the processes (declaration order).
    pub certs: tempfile::TempDir,
}

impl KubeCluster {
    pub fn start(base_port: u16) -> Result<KubeCluster, String> {
        let certs = tempfile::Builder::new()
            .prefix("berth-bench-certs")
            .tempdir_in(bench_tmp())
            .map_err(|e| e.to_string())?;
        let out = Command::new(berth_bin()?)
            .args(["certs", "--dir"])
            .arg(certs.path())
            .output()
            .map_err(|e| format!("failed to run control-plane certs: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "control-plane certs failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let api_ports: Vec<u16> = (0..3).map(|i| base_port + 200 + i).collect();
        let dir = certs.path().to_path_buf();
        let ports = api_ports.clone();
        let processes = ClusterProcesses::berth_with(base_port, move |i| {
            let mut a: Vec<std::ffi::OsString> = vec![
                "--secure-port".into(),
                ports[i].to_string().into(),
                "--bind-address".into(),
                "127.0.0.1".into(),
            ];
            for (flag, file) in [
                ("--tls-cert-file", "server.crt"),
                ("--tls-private-key-file", "server.key"),
                ("--client-ca-file", "ca.crt"),
            ] {
                a.push(flag.into());
                a.push(dir.join(file).into_os_string());
            }
            a
        })?;
        Ok(KubeCluster {
            processes,
            api_ports,
            certs,
        })
    }
}

/// Runs `cmd` to completion; its stderr in the error.
pub fn run_ok(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("failed to run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The `node-agent` binary next to `control-plane`.
pub fn node_agent_bin() -> Result<PathBuf, String> {
    let bin = berth_bin()?
        .parent()
        .map(|d| d.join("node-agent"))
        .ok_or("no target dir")?;
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: cargo build --release -p berth-node-agent",
            bin.display()
        ))
    }
}

impl KubeCluster {
    /// An admin kubeconfig (`system:masters`) per replica, in the certificates' directory.
    pub fn kubeconfigs(&self) -> Result<Vec<PathBuf>, String> {
        let mut out = Vec::new();
        for (i, port) in self.api_ports.iter().enumerate() {
            let path = self.certs.path().join(format!("kubeconfig-{i}"));
            run_ok(
                Command::new(berth_bin()?)
                    .args(["kubeconfig", "--user", "admin", "--group", "system:masters"])
                    .arg("--certs-dir")
                    .arg(self.certs.path())
                    .arg("--server")
                    .arg(format!("https://127.0.0.1:{port}"))
                    .arg("--out")
                    .arg(&path),
                "control-plane kubeconfig",
            )?;
            out.push(path);
        }
        Ok(out)
    }
}

/// `node-agent --simulate N` (kwok-like simulated nodes), killed on drop.
pub struct SimNodes {
    pub child: Child,
}

impl SimNodes {
    pub fn start(
        kubeconfig: &Path,
        n: usize,
        log: &Path,
        extra: &[&str],
    ) -> Result<SimNodes, String> {
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = Command::new(node_agent_bin()?)
            .args(["--simulate", &n.to_string(), "--name-prefix", "sim-"])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("failed to start the simulated nodes: {e}"))?;
        Ok(SimNodes { child })
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node agent's API client (HTTP/2, mTLS) for a kubeconfig.
pub fn api_client(
    path: &Path,
    inflight: usize,
) -> Result<berth_node_agent::apiclient::Client, String> {
    use berth_node_agent::apiclient::{Client, ClientConfig, Kubeconfig};
    let kc = Kubeconfig::load(path).map_err(|e| e.to_string())?;
    Client::new(
        &kc,
        ClientConfig {
            max_inflight: inflight,
            request_timeout_ms: 60_000,
        },
    )
    .map_err(|e| e.to_string())
}

/// Polls `check` every 500 ms until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) | Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Ok(false) => return Err(format!("timed out waiting for {what}")),
            Err(e) => return Err(format!("timed out waiting for {what}: {e}")),
        }
    }
}

/// Waits until `n` nodes are Ready; returns how long it took.
pub async fn wait_nodes_ready(
    admin: &berth_node_agent::apiclient::Client,
    n: usize,
) -> Result<Duration, String> {
    let t = Instant::now();
    wait_until(
        &format!("{n} Ready nodes"),
        Duration::from_secs(600),
        || async {
            let l = admin
                .list("/api/v1/nodes")
                .await
                .map_err(|e| e.to_string())?;
            let ready = l["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|node| {
                    node["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
                .count();
            Ok(ready >= n)
        },
    )
    .await?;
    Ok(t.elapsed())
}
