//! Simulated nodes for system tests: `node-agent --simulate N` against a cluster's API
//! (kwok-like: Nodes and their Leases kept alive, pods bound to them made Running with an
//! IP), killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct SimNodes {
    child: Child,
}

impl SimNodes {
    /// Starts `n` simulated nodes `<prefix>0..` through `kubeconfig`; their log goes to `log`.
    pub fn start(
        kubeconfig: &Path,
        n: usize,
        prefix: &str,
        log: &Path,
        extra: &[&str],
    ) -> SimNodes {
        let out = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("failed to create {}: {e}", log.display()));
        let child = Command::new(crate::bins::node_agent())
            .args(["--simulate", &n.to_string(), "--name-prefix", prefix])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start node-agent --simulate: {e}"));
        SimNodes { child }
    }

    /// Stops the simulator (its nodes stop renewing their Leases).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        self.kill();
    }
}
