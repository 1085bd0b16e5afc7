//! Probes: the pure threshold state machine (kubelet's consecutive-result rule) and the
//! probe runners (exec through the runtime, HTTP GET and TCP connect to the pod IP).

use crate::model::ProbeAction;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

/// Consecutive-result tracking: the result flips to success after `success_threshold`
/// successes in a row and to failure after `failure_threshold` failures in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeState {
    success_threshold: u32,
    failure_threshold: u32,
    last: Option<bool>,
    run: u32,
    /// The settled result (`None` until a threshold is first crossed).
    pub result: Option<bool>,
}

impl ProbeState {
    pub fn new(success_threshold: u32, failure_threshold: u32) -> Self {
        assert!(
            success_threshold >= 1 && failure_threshold >= 1,
            "thresholds are validated to be at least 1"
        );
        ProbeState {
            success_threshold,
            failure_threshold,
            last: None,
            run: 0,
            result: None,
        }
    }

    /// Records one outcome; returns the new result if it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if self.last == Some(success) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(success);
            self.run = 1;
        }
        let threshold = if success {
            self.success_threshold
        } else {
            self.failure_threshold
        };
        if self.run >= threshold && self.result != Some(success) {
            self.result = Some(success);
            return Some(success);
        }
        None
    }
}

/// Upper bound on what an HTTP probe reads of the response.
const MAX_HTTP_PROBE_READ_BYTES: usize = 4096;

/// Runs one HTTP GET probe: success on a 2xx or 3xx status within `timeout`.
pub async fn http_get(ip: &str, port: u16, path: &str, timeout: Duration) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect((ip, port)).await.ok()?;
        let host = if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        };
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = vec![0u8; MAX_HTTP_PROBE_READ_BYTES];
        let mut n = 0;
        while n < buf.len() {
            let k = s.read(&mut buf[n..]).await.ok()?;
            if k == 0 || buf[..n + k].windows(2).any(|w| w == b"\r\n") {
                n += k;
                break;
            }
            n += k;
        }
        http_status(&buf[..n])
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(code)) if (200..400).contains(&code))
}

/// The status code of an HTTP/1.x status line.
pub fn http_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Runs one TCP probe: success when a connection opens within `timeout`.
pub async fn tcp_connect(ip: &str, port: u16, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect((ip, port))).await,
        Ok(Ok(_))
    )
}

/// Runs a network probe action (exec is the runtime's, see `agent`).
pub async fn run_network(action: &ProbeAction, ip: Option<&str>, timeout: Duration) -> bool {
    match (action, ip) {
        (ProbeAction::Http { port, path }, Some(ip)) => http_get(ip, *port, path, timeout).await,
        (ProbeAction::Tcp { port }, Some(ip)) => tcp_connect(ip, *port, timeout).await,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds outcomes ('s' success, 'f' failure) and returns the settled result after each.
    fn check(success_threshold: u32, failure_threshold: u32, outcomes: &str, expected: &str) {
        let mut st = ProbeState::new(success_threshold, failure_threshold);
        let got: String = outcomes
            .chars()
            .map(|c| {
                st.record(c == 's');
                match st.result {
                    None => '-',
                    Some(true) => 'S',
                    Some(false) => 'F',
                }
            })
            .collect();
        assert_eq!(
            got, expected,
            "thresholds {success_threshold}/{failure_threshold}, outcomes {outcomes}"
        );
    }

    #[test]
    fn thresholds() {
        check(1, 3, "sffsfff", "SSSSSSF");
        check(1, 1, "sfsf", "SFSF");
        check(2, 1, "sfss", "-FFS");
        check(3, 2, "fsssff", "---SSF");
        check(1, 3, "fff", "--F");
    }

    #[test]
    fn status_lines() {
        assert_eq!(http_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(http_status(b"HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(http_status(b"SSH-2.0\r\n"), None);
        assert_eq!(http_status(b""), None);
    }

    #[tokio::test]
    async fn network_probes_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let ok = buf[..n].starts_with(b"GET /ok ");
                let resp: &[u8] = if ok {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                } else {
                    b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
                };
                let _ = s.write_all(resp).await;
            }
        });
        let t = Duration::from_secs(2);
        assert!(http_get("127.0.0.1", port, "/ok", t).await);
        assert!(!http_get("127.0.0.1", port, "/bad", t).await);
        assert!(tcp_connect("127.0.0.1", port, t).await);
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        assert!(!tcp_connect("127.0.0.1", closed, t).await);
    }
}
