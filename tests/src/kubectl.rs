//! The real `kubectl` (1.32, from the machine image) pointed at a replica's Kubernetes API
//! through a kubeconfig, each run under a timeout.

use crate::etcdctl::{run_with_timeout, Output};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// `$KUBECTL` or `kubectl` on PATH; the tests need it (scripts/setup.sh says when it is missing).
pub fn kubectl_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBECTL") {
        return PathBuf::from(p);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("kubectl");
        if p.is_file() {
            return p;
        }
    }
    panic!("kubectl is missing: install kubectl 1.32 (it comes with the machine image; scripts/setup.sh checks)");
}

#[derive(Clone, Debug)]
pub struct Kubectl {
    pub kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(kubeconfig: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(kubectl_bin());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("KUBECTL_COMMAND_HEADERS", "false");
        run_with_timeout(
            cmd,
            format!("kubectl {}", args.join(" ")),
            stdin.map(str::as_bytes),
            KUBECTL_TIMEOUT,
        )
    }

    /// Waits until the API server answers `/readyz` (caches synced, bootstrap objects made).
    pub fn wait_ready(&self) {
        crate::wait_for(
            "the Kubernetes API to be ready",
            std::time::Duration::from_secs(30),
            || {
                let out = self.run(&["get", "--raw", "/readyz"], None);
                if out.status.success() {
                    Ok(())
                } else {
                    Err(out.stderr)
                }
            },
        );
    }

    /// The stdout of a kubectl command that must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// `kubectl <args> -f -` with a manifest on stdin; must succeed.
    #[track_caller]
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> String {
        let out = self.run(args, Some(manifest));
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// The stderr of a kubectl command that must fail.
    #[track_caller]
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {} succeeded but should have failed: {}",
            args.join(" "),
            out.stdout
        );
        out.stderr
    }
}

impl Kubectl {
    /// The replica (index) whose component holds the Lease `kube-system/<lease>` (the
    /// scheduler's `kube-scheduler`, the controllers' `kube-controller-manager`), read from
    /// its holderIdentity (`<replica name>_<id>`, replicas named n1, n2, ...), and that
    /// identity. Waits up to 30 s for a holder.
    pub fn lease_holder(&self, lease: &str) -> (usize, String) {
        crate::wait_for(
            &format!("a replica to hold the {lease} Lease"),
            std::time::Duration::from_secs(30),
            || {
                let out = self.run(
                    &[
                        "get",
                        "lease",
                        "-n",
                        "kube-system",
                        lease,
                        "-o",
                        "jsonpath={.spec.holderIdentity}",
                    ],
                    None,
                );
                let holder = out.stdout.trim().to_string();
                let idx = holder
                    .split('_')
                    .next()
                    .and_then(|n| n.strip_prefix('n'))
                    .and_then(|n| n.parse::<usize>().ok());
                match idx {
                    Some(i) if i >= 1 => Ok((i - 1, holder)),
                    _ => Err(format!("holder {holder:?} {}", out.stderr)),
                }
            },
        )
    }
}
