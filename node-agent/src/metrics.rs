//! The agent's Prometheus metrics, under kubelet's names where kubelet has one.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

pub struct Metrics {
    pub registry: Registry,
    pub running_pods: IntGauge,
    pub running_containers: IntGauge,
    pub container_restarts: IntCounter,
    pub pod_start_duration: Histogram,
    pub sync_errors: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let running_pods = IntGauge::new(
            "kubelet_running_pods",
            "Number of pods that have a running pod sandbox",
        )
        .expect("valid metric");
        let running_containers = IntGauge::new(
            "kubelet_running_containers",
            "Number of containers currently running",
        )
        .expect("valid metric");
        let container_restarts = IntCounter::new(
            "berth_node_agent_container_restarts_total",
            "Containers restarted by the agent (restart policy or failed probe)",
        )
        .expect("valid metric");
        let pod_start_duration = Histogram::with_opts(
            HistogramOpts::new("kubelet_pod_start_duration_seconds", "Duration in seconds from the agent seeing a pod for the first time to all its containers running")
                .buckets(vec![0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0]),
        )
        .expect("valid metric");
        let sync_errors = IntCounter::new(
            "berth_node_agent_sync_errors_total",
            "Runtime calls that failed while converging pods",
        )
        .expect("valid metric");
        for m in [
            Box::new(running_pods.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(running_containers.clone()),
            Box::new(container_restarts.clone()),
            Box::new(pod_start_duration.clone()),
            Box::new(sync_errors.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        Metrics {
            registry,
            running_pods,
            running_containers,
            container_restarts,
            pod_start_duration,
            sync_errors,
        }
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut buf)
            .expect("text encoding does not fail");
        buf
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
