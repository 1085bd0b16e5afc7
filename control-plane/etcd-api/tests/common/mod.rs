//! Test harness: an etcd API server over a `LocalStore` in a temp dir, on 127.0.0.1 with
//! an ephemeral port, in its own runtime; and a driver for the real `etcdctl` (v3 API).
#![allow(dead_code)]

use berth_etcd_api::{ApiConfig, TlsConfig};
use berth_replication::{LocalStore, Member};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use storage::EngineConfig;

pub const MEMBER_ID: u64 = 0x8e9e_05c5_2164_694d;
pub const CLUSTER_ID: u64 = 0xcdf8_1819_4e3a_8c32;
pub const MEMBER_NAME: &str = "berth-test";
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

pub struct TestServer {
    rt: Option<tokio::runtime::Runtime>,
    pub store: LocalStore,
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), berth_etcd_api::ServeError>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(None, ApiConfig::default())
    }

    pub fn start_with(tls: Option<TlsConfig>, config: ApiConfig) -> TestServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let member = Member {
            id: MEMBER_ID,
            name: MEMBER_NAME.into(),
            peer_urls: vec!["http://127.0.0.1:2380".into()],
            client_urls: vec![format!("http://127.0.0.1:{port}")],
            is_learner: false,
        };
        let store = rt
            .block_on(async {
                LocalStore::open(dir.path(), EngineConfig::default(), member, CLUSTER_ID)
            })
            .expect("open store");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(berth_etcd_api::serve(
            Arc::new(store.clone()),
            listener,
            tls,
            config,
            async {
                let _ = rx.await;
            },
        ));
        TestServer {
            rt: Some(rt),
            store,
            port,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ctl(&self) -> Ctl {
        Ctl {
            endpoint: self.endpoint(),
            extra: Vec::new(),
        }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime").block_on(f)
    }

    /// The server task is still running (it did not stop or panic).
    pub fn assert_running(&self) {
        assert!(
            !self.server.as_ref().expect("server").is_finished(),
            "the server stopped"
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// Runs the real etcdctl against one endpoint.
pub struct Ctl {
    pub endpoint: String,
    /// Extra global flags (TLS files).
    pub extra: Vec<String>,
}

impl Ctl {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ETCDCTL);
        c.env_clear()
            .env("ETCDCTL_API", "3")
            .env("PATH", "/usr/bin:/bin")
            .arg("--endpoints")
            .arg(&self.endpoint)
            .args(["--dial-timeout", "3s", "--command-timeout", "10s"])
            .args(&self.extra)
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.command(args);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("failed to start etcdctl");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            let input = input.to_vec();
            // Written from a thread so a large input cannot deadlock against the outputs.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        child.wait_with_output().expect("failed to run etcdctl")
    }

    /// Runs etcdctl, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, None)
    }

    pub fn ok_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs etcdctl, expects failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.fails_with_stdin(args, None)
    }

    pub fn fails_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "etcdctl {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs etcdctl with `-w json` and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-w", "json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("etcdctl {args:?}: bad json ({e}): {out}"))
    }

    /// Starts a long-running etcdctl (watch) whose stdout lines can be read.
    pub fn spawn(&self, args: &[&str], stdin: bool) -> Spawned {
        let mut c = self.command(args);
        c.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("failed to start etcdctl");
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        Spawned { child, lines: rx }
    }
}

/// A running etcdctl; killed when dropped. Reads stdout and stderr lines together.
pub struct Spawned {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl Spawned {
    /// The next `n` output lines that are not etcdctl's own log lines; panics on timeout.
    pub fn lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if is_log_line(&line) => {}
                Ok(line) => out.push(line),
                Err(_) => panic!("timed out waiting for {n} lines; got {out:?}"),
            }
        }
        out
    }

    /// Lines that arrive within `wait` (for checking that nothing more comes).
    pub fn lines_within(&mut self, wait: Duration) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if !is_log_line(&line) {
                out.push(line);
            }
        }
        out
    }

    pub fn send(&mut self, input: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write to etcdctl");
        stdin.flush().expect("flush");
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "etcdctl did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcdctl's (zap/capnslog) log lines, which are not command output.
fn is_log_line(line: &str) -> bool {
    line.starts_with('{') && line.contains("\"level\"")
        || line.contains(" W | ")
        || line.contains(" I | ")
        || line.contains(" N | ")
}

/// Decodes etcdctl's base64 JSON bytes.
pub fn b64(v: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .expect("base64")
}

/// The keys of a `get -w json` answer, as strings.
pub fn json_keys(v: &serde_json::Value) -> Vec<String> {
    v["kvs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|kv| String::from_utf8(b64(&kv["key"])).expect("utf-8 key"))
                .collect()
        })
        .unwrap_or_default()
}
