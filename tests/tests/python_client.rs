//! The official Python client (`python3-kubernetes`) against a 3-replica cluster: the script
//! in tests/python/ does CRUD, 409/404, a Deployment and a watch, and fails on a mismatch.

use berth_system_tests::etcdctl::run_with_timeout;
use berth_system_tests::{Cluster, Kubectl, Opts};
use std::process::Command;
use std::time::Duration;

#[test]
fn python_client_crud_conflicts_and_watch() {
    let c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            ..Opts::default()
        },
    );
    let k = Kubectl::new(&c.kubeconfig(1));
    k.wait_ready();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/client_crud.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script).arg(c.kubeconfig(1));
    let out = run_with_timeout(
        cmd,
        "python3 client_crud.py".into(),
        None,
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "the Python client failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("python client: ok"), "{}", out.stdout);
}
