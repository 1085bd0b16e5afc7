//! Replica processes in their namespaces (`ip netns exec NS control-plane ...`): start,
//! SIGKILL, SIGSTOP/SIGCONT, restart (optionally with failpoints), wipe, and restart as a
//! re-added member. Processes are killed when the cluster drops, when the harness dies
//! (parent-death signal), and by the cleanup handlers.

use crate::netns::{NetError, Network};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("control-plane certs failed: {0}")]
    Certs(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub n_nodes: usize,
    /// The `control-plane` binary.
    pub binary: PathBuf,
    /// Certificates, data dirs and logs go here.
    pub dir: PathBuf,
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    /// `--snapshot-count` (small values exercise snapshot catch-up).
    pub snapshot_count: Option<u64>,
}

pub const CLIENT_PORT: u16 = 2379;
pub const PEER_PORT: u16 = 2380;
pub const METRICS_PORT: u16 = 2381;

struct Node {
    name: String,
    data_dir: PathBuf,
    log: PathBuf,
    initial_cluster: String,
    state: &'static str,
    child: Option<Child>,
    paused: bool,
}

pub struct Cluster {
    pub net: Network,
    cfg: ClusterConfig,
    certs: PathBuf,
    token: String,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Creates the network and certificates and starts every replica (without waiting).
    pub fn start(cfg: ClusterConfig) -> Result<Cluster, ClusterError> {
        let net = Network::create(cfg.n_nodes)?;
        let certs = cfg.dir.join("certs");
        let mut hosts: Vec<String> = (0..cfg.n_nodes).map(|i| net.addr(i).to_string()).collect();
        hosts.push(net.bridge_addr().to_string());
        hosts.push("127.0.0.1".into());
        let out = Command::new(&cfg.binary)
            .arg("certs")
            .arg("--dir")
            .arg(&certs)
            .arg("--hosts")
            .arg(hosts.join(","))
            .output()
            .map_err(io(format!("run {} certs", cfg.binary.display())))?;
        if !out.status.success() {
            return Err(ClusterError::Certs(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        let token = format!("berth-chaos-{}", net.bridge());
        let initial_cluster = (0..cfg.n_nodes)
            .map(|i| format!("n{}=https://{}:{PEER_PORT}", i + 1, net.addr(i)))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = (0..cfg.n_nodes)
            .map(|i| Node {
                name: format!("n{}", i + 1),
                data_dir: cfg.dir.join(format!("n{}", i + 1)),
                log: cfg.dir.join(format!("n{}.log", i + 1)),
                initial_cluster: initial_cluster.clone(),
                state: "new",
                child: None,
                paused: false,
            })
            .collect();
        let mut c = Cluster {
            net,
            cfg,
            certs,
            token,
            nodes,
        };
        for i in 0..c.nodes.len() {
            c.spawn(i, None)?;
        }
        Ok(c)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    pub fn certs_dir(&self) -> &Path {
        &self.certs
    }

    pub fn client_url(&self, i: usize) -> String {
        format!("https://{}:{CLIENT_PORT}", self.net.addr(i))
    }

    pub fn peer_url(&self, i: usize) -> String {
        format!("https://{}:{PEER_PORT}", self.net.addr(i))
    }

    pub fn client_urls(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.client_url(i)).collect()
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    pub fn is_paused(&self, i: usize) -> bool {
        self.nodes[i].paused
    }

    /// Starts replica `i` from its data dir; `failpoints` sets the `FAILPOINTS` variable.
    pub fn spawn(&mut self, i: usize, failpoints: Option<&str>) -> Result<(), ClusterError> {
        let addr = self.net.addr(i);
        let ns = self.net.ns(i);
        let n = &self.nodes[i];
        assert!(n.child.is_none(), "replica {} is already running", n.name);
        let client = format!("https://{addr}:{CLIENT_PORT}");
        let peer = format!("https://{addr}:{PEER_PORT}");
        let c = &self.certs;
        let args: Vec<String> = vec![
            format!("--name={}", n.name),
            format!("--data-dir={}", n.data_dir.display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={}", n.initial_cluster),
            format!("--initial-cluster-state={}", n.state),
            format!("--initial-cluster-token={}", self.token),
            format!("--cert-file={}", c.join("server.crt").display()),
            format!("--key-file={}", c.join("server.key").display()),
            format!("--trusted-ca-file={}", c.join("ca.crt").display()),
            "--client-cert-auth".into(),
            format!("--peer-cert-file={}", c.join("server.crt").display()),
            format!("--peer-key-file={}", c.join("server.key").display()),
            format!("--peer-trusted-ca-file={}", c.join("ca.crt").display()),
            "--peer-client-cert-auth".into(),
            format!("--listen-metrics-urls=http://{addr}:{METRICS_PORT}"),
            format!("--heartbeat-interval={}", self.cfg.heartbeat_ms),
            format!("--election-timeout={}", self.cfg.election_ms),
        ];
        let mut args = args;
        if let Some(s) = self.cfg.snapshot_count {
            args.push(format!("--snapshot-count={s}"));
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(&n.log)
            .map_err(io(format!("open {}", n.log.display())))?;
        let log2 = log.try_clone().map_err(io("duplicate a log handle"))?;
        let mut cmd = Command::new("ip");
        cmd.arg("netns")
            .arg("exec")
            .arg(&ns)
            .arg(&self.cfg.binary)
            .args(&args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        match failpoints {
            Some(f) => cmd.env("FAILPOINTS", f),
            None => cmd.env_remove("FAILPOINTS"),
        };
        // SAFETY: prctl is async-signal-safe; the kernel SIGKILLs the replica if the
        // thread that started it dies (replicas are started from the run's main thread).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(io(format!("start replica {}", n.name)))?;
        crate::netns::register_pid(self.net.bridge(), child.id() as i32);
        self.nodes[i].child = Some(child);
        self.nodes[i].paused = false;
        Ok(())
    }

    fn signal(&self, i: usize, sig: libc::c_int) {
        if let Some(c) = &self.nodes[i].child {
            // SAFETY: a signal to our own child process.
            unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        }
    }

    /// SIGKILL (resuming a paused replica so it dies), then reap.
    pub fn kill(&mut self, i: usize) {
        self.signal(i, libc::SIGKILL);
        self.signal(i, libc::SIGCONT);
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.wait();
            crate::netns::unregister_pid(self.net.bridge(), c.id() as i32);
        }
        self.nodes[i].paused = false;
    }

    pub fn pause(&mut self, i: usize) {
        if self.nodes[i].child.is_some() {
            self.signal(i, libc::SIGSTOP);
            self.nodes[i].paused = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        self.signal(i, libc::SIGCONT);
        self.nodes[i].paused = false;
    }

    /// Whether the replica's process exited on its own (reaping it).
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let status = self.nodes[i]
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            if let Some(c) = self.nodes[i].child.take() {
                crate::netns::unregister_pid(self.net.bridge(), c.id() as i32);
            }
        }
        status
    }

    /// Deletes the replica's data dir (it must be stopped).
    pub fn wipe(&mut self, i: usize) -> Result<(), ClusterError> {
        assert!(self.nodes[i].child.is_none(), "wipe of a running replica");
        let d = &self.nodes[i].data_dir;
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(io(format!("remove {}", d.display())))?;
        }
        Ok(())
    }

    /// From now on replica `i` starts as a member joining `initial_cluster` (`existing`).
    pub fn set_joining(&mut self, i: usize, initial_cluster: String) {
        self.nodes[i].initial_cluster = initial_cluster;
        self.nodes[i].state = "existing";
    }

    /// The last `n` lines of the replica's log.
    pub fn log_tail(&self, i: usize, n: usize) -> String {
        let s = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
