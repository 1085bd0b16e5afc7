//! Harness for system tests: starts real Berth processes on loopback and drives real clients.
//!
//! A test starts a [`Cluster`] (n `control-plane` replicas with mutual TLS on client and
//! peer ports, certificates from `control-plane certs`), talks to it with the real `etcdctl`
//! 3.4 ([`Cluster::etcdctl`]) or the `etcd-client` crate ([`client`]), kills, stops and
//! restarts replicas, and reads their metrics over plain HTTP ([`metrics`]). Every process
//! is killed when the cluster is dropped, also on panic; on panic the logs and certificates
//! are kept and their path printed (everything, data dirs too, with `BERTH_KEEP_TEST_DIRS=1`).

pub mod bins;
pub mod client;
pub mod cluster;
pub mod etcdctl;
pub mod kubectl;
pub mod metrics;
pub mod ports;
pub mod sim;
pub mod wait;

pub use cluster::{Certs, Cluster, Opts, ReplicaSpec};
pub use etcdctl::{Output, Watch};
pub use kubectl::Kubectl;
pub use sim::SimNodes;
pub use wait::wait_for;
