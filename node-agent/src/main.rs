//! `node-agent`: Berth's kubelet. Flags in kubelet's spelling; wires the CRI runtime, the
//! pod network's CNI config, the agent loop and the agent server. Stopping the agent leaves
//! its pods running (a restarted agent adopts them).

use anyhow::Context;
use berth_node_agent::agent::{Agent, Config};
use berth_node_agent::plan::BackoffConfig;
use berth_node_agent::runtime::cri::CriRuntime;
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
    #[arg(long)]
    node_name: String,
    /// Directory of static Pod manifests (YAML or JSON).
    #[arg(long)]
    pod_manifest_path: PathBuf,
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
    #[arg(long)]
    tls_cert_file: PathBuf,
    #[arg(long)]
    tls_private_key_file: PathBuf,
    #[arg(long)]
    client_ca_file: PathBuf,
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
        cert: flags.tls_cert_file.clone(),
        key: flags.tls_private_key_file.clone(),
        client_ca: flags.client_ca_file.clone(),
    })?;
    let runtime = CriRuntime::new(&flags.container_runtime_endpoint)?;
    match runtime.version().await {
        Ok(v) => tracing::info!(runtime = %v, "connected to the container runtime"),
        Err(e) => tracing::warn!(error = %e, "the container runtime does not answer yet; retrying"),
    }
    let config = Config {
        node_name: flags.node_name.clone(),
        manifest_dir: flags.pod_manifest_path.clone(),
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
