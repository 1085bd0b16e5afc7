//! `node-agent`: Berth's kubelet. Flags in kubelet's spelling; wires the CRI runtime, the
//! pod network's CNI config, the agent loop and the agent server. Stopping the agent leaves
//! its pods running (a restarted agent adopts them). With `--simulate N` it runs only the
//! node simulator (N fake nodes through the Kubernetes API, as kwok).

use anyhow::Context;
use berth_node_agent::agent::{Agent, Config};
use berth_node_agent::apiclient::{self, Kubeconfig};
use berth_node_agent::plan::BackoffConfig;
use berth_node_agent::runtime::cri::CriRuntime;
use berth_node_agent::sim_model::{Cidr, NodeTemplate};
use berth_node_agent::simulate::{self, SimConfig};
use berth_node_agent::{cni, server};
use clap::Parser;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "node-agent",
    about = "Berth's node agent: runs pods on containerd through CRI"
)]
struct Flags {
    /// This node's name.
    #[arg(long, required_unless_present = "simulate")]
    node_name: Option<String>,
    /// Directory of static Pod manifests (YAML or JSON).
    #[arg(long, required_unless_present = "simulate")]
    pod_manifest_path: Option<PathBuf>,
    /// The CRI endpoint, unix:///path/to/containerd.sock.
    #[arg(long, default_value = "unix:///run/containerd/containerd.sock")]
    container_runtime_endpoint: String,
    /// The agent's own directory (pod logs, IPAM state).
    #[arg(long, default_value = "/var/lib/berth-node-agent")]
    root_dir: PathBuf,
    /// This node's pod CIDR (IPv4); with it the agent writes the bridge CNI config.
    #[arg(long)]
    pod_cidr: Option<String>,
    /// Where containerd's CRI plugin reads CNI configs.
    #[arg(long, default_value = "/etc/cni/net.d")]
    cni_conf_dir: PathBuf,
    /// The pod bridge's name.
    #[arg(long, default_value = "berth0")]
    cni_bridge: String,
    /// cgroupfs parent of every pod's cgroup.
    #[arg(long, default_value = "berth")]
    cgroup_root: String,
    #[arg(long, default_value = "0.0.0.0")]
    address: IpAddr,
    #[arg(long, default_value_t = 10250)]
    port: u16,
    #[arg(long, required_unless_present = "simulate")]
    tls_cert_file: Option<PathBuf>,
    #[arg(long, required_unless_present = "simulate")]
    tls_private_key_file: Option<PathBuf>,
    #[arg(long, required_unless_present = "simulate")]
    client_ca_file: Option<PathBuf>,
    /// How often the runtime is relisted (besides after every change).
    #[arg(long, default_value_t = 1000)]
    relist_period_ms: u64,
    /// How often the manifest directory is read.
    #[arg(long, default_value_t = 250)]
    manifest_poll_ms: u64,
    /// Restart back-off: first delay, cap, and how long a container must run to reset it.
    #[arg(long, default_value_t = 10_000)]
    backoff_initial_ms: u64,
    #[arg(long, default_value_t = 300_000)]
    backoff_max_ms: u64,
    #[arg(long, default_value_t = 600_000)]
    backoff_reset_ms: u64,
    /// Pods synced at once.
    #[arg(long, default_value_t = 16)]
    max_parallel_syncs: usize,
    #[command(flatten)]
    sim: SimFlags,
}

/// The node simulator's flags (only with `--simulate`).
#[derive(clap::Args, Debug)]
struct SimFlags {
    /// Simulate this many nodes through the Kubernetes API instead of running pods.
    #[arg(long, requires = "kubeconfig")]
    simulate: Option<u32>,
    /// Simulated nodes are named <prefix><index>.
    #[arg(long, default_value = "sim-")]
    name_prefix: String,
    /// The API server and credentials (the current context).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Zones, assigned round-robin (topology.kubernetes.io/zone).
    #[arg(long, value_delimiter = ',', default_value = "zone-a,zone-b,zone-c")]
    zones: Vec<String>,
    /// Extra node labels, k=v,...
    #[arg(long, value_delimiter = ',')]
    node_labels: Vec<String>,
    #[arg(long, default_value = "32")]
    node_cpu: String,
    #[arg(long, default_value = "256Gi")]
    node_memory: String,
    #[arg(long, default_value_t = 110)]
    node_pods: u32,
    /// Pod addresses: each simulated node gets the /24 at its index (spec.podCIDR).
    #[arg(long, default_value = "100.64.0.0/10")]
    cluster_cidr: String,
    #[arg(long, default_value_t = 10_000)]
    node_lease_renew_interval_ms: u64,
    #[arg(long, default_value_t = 300_000)]
    node_status_report_ms: u64,
    /// Simulator requests in flight at once (pod status writes, deletes, lease renewals).
    #[arg(long, default_value_t = 64)]
    max_inflight: usize,
    /// Time limit of each API request.
    #[arg(long, default_value_t = 30_000)]
    api_request_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // One crypto provider for every TLS user in the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let flags = Flags::parse();
    if let Some(n_nodes) = flags.sim.simulate {
        return run_simulator(&flags.sim, n_nodes).await;
    }
    let need = |v: &Option<PathBuf>| v.clone().context("missing a required flag");
    let node_name = flags.node_name.clone().context("--node-name is required")?;
    let manifest_dir = need(&flags.pod_manifest_path)?;
    anyhow::ensure!(
        flags.backoff_initial_ms > 0 && flags.backoff_initial_ms <= flags.backoff_max_ms,
        "--backoff-initial-ms must be in 1..=--backoff-max-ms"
    );
    std::fs::create_dir_all(&flags.root_dir)
        .with_context(|| format!("failed to create the root dir {}", flags.root_dir.display()))?;
    if let Some(cidr) = &flags.pod_cidr {
        let cidr = cni::Cidr::parse(cidr)?;
        let conf = cni::render(
            "berth",
            &flags.cni_bridge,
            &cidr,
            &flags.root_dir.join("cni-ipam"),
        )?;
        cni::install(&flags.cni_conf_dir, "10-berth.conflist", &conf)?;
        tracing::info!(dir = %flags.cni_conf_dir.display(), bridge = %flags.cni_bridge, cidr = ?cidr, "pod network configured");
    }
    let tls = server::tls_config(&server::TlsFiles {
        cert: need(&flags.tls_cert_file)?,
        key: need(&flags.tls_private_key_file)?,
        client_ca: need(&flags.client_ca_file)?,
    })?;
    let runtime = CriRuntime::new(&flags.container_runtime_endpoint)?;
    match runtime.version().await {
        Ok(v) => tracing::info!(runtime = %v, "connected to the container runtime"),
        Err(e) => tracing::warn!(error = %e, "the container runtime does not answer yet; retrying"),
    }
    let config = Config {
        node_name,
        manifest_dir,
        root_dir: flags.root_dir.clone(),
        cgroup_root: flags.cgroup_root.clone(),
        cgroup_mount: PathBuf::from("/sys/fs/cgroup"),
        relist_period: Duration::from_millis(flags.relist_period_ms.max(10)),
        manifest_poll: Duration::from_millis(flags.manifest_poll_ms.max(10)),
        backoff: BackoffConfig {
            initial_ms: flags.backoff_initial_ms,
            max_ms: flags.backoff_max_ms,
            reset_after_ms: flags.backoff_reset_ms,
        },
        max_parallel_syncs: flags.max_parallel_syncs.clamp(1, 256),
    };
    let agent = Agent::new(config, runtime);
    let shared = agent.shared();
    let addr = SocketAddr::new(flags.address, flags.port);
    let mut server = tokio::spawn(server::serve(addr, tls, shared));
    let mut agent = tokio::spawn(agent.run());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to install the SIGTERM handler")?;
    tokio::select! {
        r = &mut server => {
            r.context("the agent server panicked")??;
        }
        r = &mut agent => r.context("the agent loop panicked")?,
        _ = term.recv() => tracing::info!("SIGTERM: stopping (pods keep running)"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping (pods keep running)"),
    }
    Ok(())
}

async fn run_simulator(f: &SimFlags, n_nodes: u32) -> anyhow::Result<()> {
    let mut extra_labels = vec![];
    for kv in f.node_labels.iter().filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--node-labels: {kv:?} is not k=v"))?;
        extra_labels.push((k.to_string(), v.to_string()));
    }
    for q in [&f.node_cpu, &f.node_memory] {
        berth_node_agent::quantity::parse_milli(q)
            .map_err(|e| anyhow::anyhow!("{q:?} is not a quantity: {}", e.0))?;
    }
    let template = NodeTemplate {
        name_prefix: f.name_prefix.clone(),
        n_nodes,
        zones: f.zones.iter().filter(|z| !z.is_empty()).cloned().collect(),
        extra_labels,
        cpu: f.node_cpu.clone(),
        memory: f.node_memory.clone(),
        max_pods: f.node_pods,
        ephemeral_storage: "100Gi".into(),
        cluster_cidr: Cidr::parse(&f.cluster_cidr)
            .map_err(|e| anyhow::anyhow!("--cluster-cidr: {e}"))?,
    };
    template.validate().map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(
        f.node_lease_renew_interval_ms >= 100 && f.node_status_report_ms >= 100,
        "--node-lease-renew-interval-ms and --node-status-report-ms must be at least 100"
    );
    let path = f
        .kubeconfig
        .clone()
        .context("--simulate needs --kubeconfig")?;
    let kc = Kubeconfig::load(&path)
        .with_context(|| format!("failed to load the kubeconfig {}", path.display()))?;
    let max_inflight = f.max_inflight.clamp(1, 1000);
    let client = apiclient::Client::new(
        &kc,
        apiclient::ClientConfig {
            // Pod writes and periodic writes each hold at most max_inflight.
            max_inflight: max_inflight * 2,
            request_timeout_ms: f.api_request_timeout_ms.max(100),
        },
    )
    .context("failed to set up the API client")?;
    tracing::info!(server = %kc.server, nodes = n_nodes, prefix = %f.name_prefix, "simulating nodes");
    let config = SimConfig {
        template,
        lease_renew_interval_ms: f.node_lease_renew_interval_ms,
        status_report_ms: f.node_status_report_ms,
        max_inflight,
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to install the SIGTERM handler")?;
    tokio::select! {
        r = simulate::run(client, config) => r.context("the simulator stopped")?,
        _ = term.recv() => tracing::info!("SIGTERM: stopping (simulated nodes stay registered)"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping (simulated nodes stay registered)"),
    }
    Ok(())
}
