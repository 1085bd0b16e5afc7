//! The controllers' configuration: kube-controller-manager's flags (named in each field's
//! doc comment) with their defaults.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// `--controllers`: which controllers run; `*` is all of them, `-name` turns one off.
    /// Names as kube-controller-manager's: `replicaset`, `deployment`, `endpointslice`,
    /// `endpoint`, `namespace`, `serviceaccount`, `root-ca-certificate-publisher`,
    /// `garbage-collector`, `node-ipam`, `pod-garbage-collector`, `nodelifecycle`,
    /// `taint-eviction-controller`, `daemonset`, `job`, `ttl-after-finished`.
    pub controllers: Vec<String>,
    /// `--concurrent-replicaset-syncs` (5).
    pub concurrent_replicaset_syncs: usize,
    /// `--concurrent-deployment-syncs` (5).
    pub concurrent_deployment_syncs: usize,
    /// `--concurrent-service-endpoint-syncs` (5): EndpointSlice workers.
    pub concurrent_service_endpoint_syncs: usize,
    /// `--concurrent-endpoint-syncs` (5): legacy Endpoints workers.
    pub concurrent_endpoint_syncs: usize,
    /// `--concurrent-namespace-syncs` (10).
    pub concurrent_namespace_syncs: usize,
    /// `--concurrent-gc-syncs` (20).
    pub concurrent_gc_syncs: usize,
    /// `--max-endpoints-per-slice` (100).
    pub max_endpoints_per_slice: usize,
    /// `--min-resync-period`: every controller re-queues all its keys this often. Kubernetes
    /// defaults to 12 h; Berth uses 5 min because its informers deliver no old object for
    /// some transitions (an owner change) and a resync is the safety net.
    pub min_resync_period: Duration,
    /// `--node-monitor-period` (5 s): how often node health is checked.
    pub node_monitor_period: Duration,
    /// `--node-monitor-grace-period` (40 s): a node whose Lease and status were not renewed
    /// for this long becomes Ready=Unknown.
    pub node_monitor_grace_period: Duration,
    /// `--node-startup-grace-period` (60 s): the same for a node that never posted status.
    pub node_startup_grace_period: Duration,
    /// `--node-eviction-rate` (0.1): nodes per second whose pods are evicted (taint
    /// `NoExecute` added), in a healthy zone.
    pub node_eviction_rate: f64,
    /// `--secondary-node-eviction-rate` (0.01): the same in a partially disrupted zone of
    /// more than `large_cluster_size_threshold` nodes (a smaller one gets none).
    pub secondary_node_eviction_rate: f64,
    /// `--unhealthy-zone-threshold` (0.55): the fraction of not-ready nodes (at least 3)
    /// that makes a zone partially disrupted.
    pub unhealthy_zone_threshold: f64,
    /// `--large-cluster-size-threshold` (50).
    pub large_cluster_size_threshold: usize,
    /// `--concurrent-daemonset-syncs` (2).
    pub concurrent_daemonset_syncs: usize,
    /// `--concurrent-job-syncs` (5).
    pub concurrent_job_syncs: usize,
    /// `--allocate-node-cidrs` (Berth: true): the node IPAM controller assigns podCIDRs.
    pub allocate_node_cidrs: bool,
    /// `--cluster-cidr` (10.244.0.0/16).
    pub cluster_cidr: String,
    /// `--node-cidr-mask-size` (24).
    pub node_cidr_mask_size: u8,
    /// `--terminated-pod-gc-threshold` (12500).
    pub terminated_pod_gc_threshold: usize,
    /// How long a pod bound to a node that does not exist waits before it is deleted
    /// (kube-controller-manager's pod GC quarantine, 40 s).
    pub orphaned_pod_grace_period: Duration,
    /// How often the pod GC runs (`gcCheckPeriod`, 20 s).
    pub pod_gc_period: Duration,
    /// `--root-ca-file`'s contents: the PEM published as `ca.crt` in every namespace's
    /// `kube-root-ca.crt` ConfigMap (empty: the publisher does not run).
    pub root_ca_pem: String,
    /// Capacity of each informer's event channel.
    pub informer_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            controllers: vec!["*".into()],
            concurrent_replicaset_syncs: 5,
            concurrent_deployment_syncs: 5,
            concurrent_service_endpoint_syncs: 5,
            concurrent_endpoint_syncs: 5,
            concurrent_namespace_syncs: 10,
            concurrent_gc_syncs: 20,
            max_endpoints_per_slice: 100,
            min_resync_period: Duration::from_secs(300),
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
            concurrent_daemonset_syncs: 2,
            concurrent_job_syncs: 5,
            allocate_node_cidrs: true,
            cluster_cidr: "10.244.0.0/16".into(),
            node_cidr_mask_size: 24,
            terminated_pod_gc_threshold: 12500,
            orphaned_pod_grace_period: Duration::from_secs(40),
            pod_gc_period: Duration::from_secs(20),
            root_ca_pem: String::new(),
            informer_buffer: 1024,
        }
    }
}

impl Config {
    /// kube-controller-manager's rule: a name listed wins, `-name` disables, `*` enables
    /// the rest.
    pub fn enabled(&self, name: &str) -> bool {
        let mut star = false;
        for c in &self.controllers {
            if c == name {
                return true;
            }
            if c.strip_prefix('-') == Some(name) {
                return false;
            }
            star |= c == "*";
        }
        star
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled() {
        let check = |list: &[&str], name: &str, want: bool| {
            let c = Config {
                controllers: list.iter().map(|s| s.to_string()).collect(),
                ..Config::default()
            };
            assert_eq!(c.enabled(name), want, "{list:?} {name}");
        };
        check(&["*"], "replicaset", true);
        check(&["*", "-replicaset"], "replicaset", false);
        check(&["*", "-replicaset"], "deployment", true);
        check(&["deployment"], "replicaset", false);
        check(&["deployment"], "deployment", true);
        check(&[], "deployment", false);
    }
}
