//! The leader-elected components each replica runs beside its API server: the scheduler
//! and the controllers. Each reaches the API server through the in-process
//! transport under its own identity, elects a leader on its Lease in `kube-system`, and
//! writes only with that Lease's fence.

use crate::flags::ComponentFlags;
use crate::local::LocalTransport;
use berth_apiserver::auth::UserInfo;
use berth_apiserver::ApiServer;
use berth_client::{Client, LeaderConfig, LeaderElector};
use berth_replication::Replica;
use prometheus::{IntGaugeVec, Opts};
use std::sync::Arc;

fn leader_config(lease: &str, replica: &str, f: &ComponentFlags) -> LeaderConfig {
    let mut c = LeaderConfig::new("kube-system", lease, replica);
    c.lease_duration = f.leader_elect_lease_duration;
    c.renew_deadline = f.leader_elect_renew_deadline;
    c.retry_period = f.leader_elect_retry_period;
    c
}

/// Starts the components; they run until the process ends.
pub fn start(
    replica_name: &str,
    f: &ComponentFlags,
    server: Arc<ApiServer<Replica>>,
    root_ca_pem: &str,
) -> anyhow::Result<()> {
    f.check().map_err(anyhow::Error::msg)?;
    let registry = &server.metrics.registry;
    let leading = IntGaugeVec::new(
        Opts::new(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
        ),
        &["name"],
    )?;
    registry.register(Box::new(leading.clone()))?;
    if f.controllers.trim() != "-*" && !f.controllers.trim().is_empty() {
        let user = UserInfo::component("system:kube-controller-manager", &[]);
        let client = Client::new(LocalTransport::new(server.clone(), user));
        let config = leader_config("kube-controller-manager", replica_name, f);
        let status = leading.with_label_values(&["kube-controller-manager"]);
        status.set(0);
        let (elector, leadership) = LeaderElector::new(config, client.clone(), Some(status));
        elector.spawn();
        let mut cc = berth_controllers::Config {
            controllers: f
                .controllers
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            root_ca_pem: root_ca_pem.to_string(),
            ..berth_controllers::Config::default()
        };
        cc.cluster_cidr = f.cluster_cidr.clone();
        cc.node_monitor_period = f.node_monitor_period;
        cc.node_monitor_grace_period = f.node_monitor_grace_period;
        cc.node_startup_grace_period = f.node_startup_grace_period;
        cc.node_eviction_rate = f.node_eviction_rate;
        berth_controllers::run(client, leadership, cc, registry)?;
    }
    if !f.disable_scheduler {
        let user = UserInfo::component("system:kube-scheduler", &[]);
        let client = Client::new(LocalTransport::new(server.clone(), user));
        let config = leader_config("kube-scheduler", replica_name, f);
        let identity = config.identity.clone();
        let status = leading.with_label_values(&["kube-scheduler"]);
        status.set(0);
        let (elector, leadership) = LeaderElector::new(config, client.clone(), Some(status));
        elector.spawn();
        let metrics = berth_scheduler::run::Metrics::new(registry)?;
        tokio::spawn(berth_scheduler::run::run(
            client,
            leadership,
            identity,
            berth_scheduler::run::Config::default(),
            metrics,
        ));
    }
    Ok(())
}
