//! Running `etcdctl` (API v3) against a cluster: one-shot commands with a hard timeout and
//! captured output, and long-running ones (`watch`, `lease keep-alive`) read line by line.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a finished command printed, and how it exited.
#[derive(Debug)]
pub struct Output {
    pub command: String,
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

impl Output {
    /// The stdout of a command that must have succeeded.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success(),
            "`{}` failed ({}):\nstdout: {}\nstderr: {}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// The stderr of a command that must have failed.
    #[track_caller]
    pub fn err(&self) -> &str {
        assert!(
            !self.status.success(),
            "`{}` succeeded but should have failed:\nstdout: {}\nstderr: {}",
            self.command,
            self.stdout,
            self.stderr
        );
        &self.stderr
    }

    /// The stderr of a command that must have failed with a message containing `expected`.
    #[track_caller]
    pub fn err_contains(&self, expected: &str) {
        let stderr = self.err();
        assert!(
            stderr.contains(expected),
            "`{}` failed, but without {expected:?} in stderr:\n{stderr}",
            self.command
        );
    }

    /// The stdout of a successful command with `-w json`, parsed.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("`{}` printed no valid JSON ({e}):\n{out}", self.command))
    }

    /// Non-empty stdout lines of a successful command.
    #[track_caller]
    pub fn lines(&self) -> Vec<&str> {
        self.ok().lines().filter(|l| !l.is_empty()).collect()
    }
}

/// TLS files etcdctl is given.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// `--cacert`: the CA server certificates must chain to.
    pub ca: PathBuf,
    /// `--cert` and `--key`; None: no client certificate.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// Arguments every etcdctl invocation gets: TLS files and endpoints.
#[derive(Clone, Debug)]
pub struct Target {
    pub endpoints: Vec<String>,
    /// None: no TLS flags at all.
    pub tls: Option<ClientTls>,
}

impl Target {
    fn command(&self) -> Command {
        let mut cmd = Command::new(crate::bins::etcdctl());
        cmd.env("ETCDCTL_API", "3").env_remove("ETCDCTL_ENDPOINTS");
        cmd.arg(format!("--endpoints={}", self.endpoints.join(",")));
        cmd.arg("--dial-timeout=2s").arg("--command-timeout=5s");
        if let Some(tls) = &self.tls {
            cmd.arg(format!("--cacert={}", tls.ca.display()));
            if let Some((cert, key)) = &tls.identity {
                cmd.arg(format!("--cert={}", cert.display()))
                    .arg(format!("--key={}", key.display()));
            }
        }
        cmd
    }

    /// Runs `etcdctl ARGS` with `stdin`, killed after `timeout`.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        let description = format!(
            "etcdctl --endpoints={} {}",
            self.endpoints.join(","),
            args.iter()
                .map(|a| shorten(a))
                .collect::<Vec<_>>()
                .join(" ")
        );
        run_with_timeout(cmd, description, stdin, timeout)
    }

    /// Starts `etcdctl ARGS` (a watch, a keep-alive) and reads its stdout lines.
    pub fn spawn(&self, args: &[&str]) -> Watch {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let description = format!("etcdctl {}", args.join(" "));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start `{description}`: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut s);
            s
        });
        Watch {
            description,
            child,
            lines,
            stderr: Some(stderr_thread),
        }
    }
}

fn shorten(arg: &str) -> String {
    if arg.len() > 80 {
        format!("{}...({} bytes)", &arg[..40], arg.len())
    } else {
        arg.to_string()
    }
}

/// Runs any command with piped stdio, killed (SIGKILL) after `timeout`.
pub fn run_with_timeout(
    mut cmd: Command,
    description: String,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start `{description}`: {e}"));
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let stdout = read_in_thread(child.stdout.take().expect("piped stdout"));
    let stderr = read_in_thread(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{description}` did not finish within {timeout:?}");
            }
            Err(e) => panic!("failed to wait for `{description}`: {e}"),
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&stdout.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned();
    Output {
        command: description,
        stdout,
        stderr,
        status,
    }
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// A running etcdctl whose stdout is read line by line; killed on drop.
pub struct Watch {
    description: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Watch {
    /// The next `n` non-empty lines (etcdctl prints an empty value as an empty line, e.g.
    /// for a DELETE event), waiting at most `timeout` in all.
    #[track_caller]
    pub fn next_lines(&mut self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.is_empty() => {}
                Ok(line) => out.push(line),
                Err(_) => {
                    let stderr = self.stop();
                    panic!("`{}` printed {} of {n} expected lines within {timeout:?}: {out:?}\nstderr: {stderr}", self.description, out.len());
                }
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
            out.push(line);
        }
        out
    }

    /// Kills the process; returns what it wrote to stderr.
    pub fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcdctl's txn stdin format: compares, a blank line, success ops, a blank line, failure
/// ops, a blank line.
pub fn txn_script(compares: &[&str], success: &[&str], failure: &[&str]) -> Vec<u8> {
    let mut s = String::new();
    for section in [compares, success, failure] {
        for line in section {
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
    }
    s.into_bytes()
}
