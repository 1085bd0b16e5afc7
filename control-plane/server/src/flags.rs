//! Command-line flags, named like etcd's, and the parsing of URL lists.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "control-plane",
    version,
    about = "A Berth control-plane replica: the replicated store behind the etcd v3 API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerFlags,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a cluster CA and certificates: ca.crt ca.key server.crt server.key client.crt
    /// client.key admin.crt admin.key (CN admin, O system:masters) sa.key sa.pub (the
    /// service-account token key pair).
    Certs(CertsFlags),
    /// Write a kubeconfig whose user is a client certificate signed by the cluster CA.
    Kubeconfig(KubeconfigFlags),
}

#[derive(Args, Debug)]
pub struct KubeconfigFlags {
    /// Directory holding ca.crt and ca.key (what `control-plane certs` wrote).
    #[arg(long)]
    pub certs_dir: PathBuf,
    /// The API server URL, e.g. https://127.0.0.1:6443.
    #[arg(long)]
    pub server: String,
    /// The user name (the certificate's CN).
    #[arg(long)]
    pub user: String,
    /// Groups (the certificate's O), repeatable.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// The kubeconfig file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct CertsFlags {
    /// Directory to write into (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
    /// Comma-separated IP addresses and DNS names the server certificate is valid for
    /// (the defaults include the names and first service IP pods reach the API server by).
    #[arg(
        long,
        default_value = "127.0.0.1,localhost,kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local,10.96.0.1"
    )]
    pub hosts: String,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ServerFlags {
    /// Human-readable name of this member.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Path to the data directory.
    #[arg(long, default_value = "default.berth")]
    pub data_dir: PathBuf,
    /// URLs to listen on for client traffic (http or https).
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    pub listen_client_urls: String,
    /// Client URLs to advertise to the cluster (default: the listen URLs).
    #[arg(long)]
    pub advertise_client_urls: Option<String>,
    /// URLs to listen on for peer traffic.
    #[arg(long, default_value = "http://127.0.0.1:2380")]
    pub listen_peer_urls: String,
    /// This member's peer URLs to advertise (default: its entry in --initial-cluster).
    #[arg(long)]
    pub initial_advertise_peer_urls: Option<String>,
    /// Initial cluster configuration: name=peer-url,name=peer-url,...
    #[arg(long, default_value = "default=http://127.0.0.1:2380")]
    pub initial_cluster: String,
    /// new (bootstrap) or existing (join a cluster that added this member).
    #[arg(long, default_value = "new")]
    pub initial_cluster_state: String,
    /// Initial cluster token; distinguishes clusters bootstrapped from the same configuration.
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// Client server TLS certificate file.
    #[arg(long)]
    pub cert_file: Option<PathBuf>,
    /// Client server TLS key file.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// CA that client certificates must chain to.
    #[arg(long)]
    pub trusted_ca_file: Option<PathBuf>,
    /// Require client certificates (from --trusted-ca-file).
    #[arg(long)]
    pub client_cert_auth: bool,
    /// Peer TLS certificate file (used as both client and server certificate).
    #[arg(long)]
    pub peer_cert_file: Option<PathBuf>,
    /// Peer TLS key file.
    #[arg(long)]
    pub peer_key_file: Option<PathBuf>,
    /// CA for peer certificates.
    #[arg(long)]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Require peer client certificates (from --peer-trusted-ca-file).
    #[arg(long)]
    pub peer_client_cert_auth: bool,
    /// Heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Election timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub election_timeout: u64,
    /// Backend size limit in bytes; past it, writes fail with NOSPACE.
    #[arg(long, default_value_t = 8 << 30)]
    pub quota_backend_bytes: u64,
    /// Maximum client request size in bytes.
    #[arg(long, default_value_t = 3 << 19)]
    pub max_request_bytes: usize,
    /// Auto-compaction retention in hours (periodic mode); 0 disables it.
    #[arg(long, default_value_t = 0)]
    pub auto_compaction_retention: u64,
    /// Applied entries between snapshots (etcd 3.4's default). A snapshot is a full copy of
    /// the state, so a small count costs a dump of the whole store every few seconds under load.
    #[arg(long, default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Entries kept behind a snapshot for slow followers.
    #[arg(long, default_value_t = 5_000)]
    pub snapshot_catchup_entries: u64,
    /// Extra plain-HTTP URLs serving /metrics and /health.
    #[arg(long)]
    pub listen_metrics_urls: Option<String>,
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(flatten)]
    pub components: ComponentFlags,
    /// Log level (trace, debug, info, warn, error); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// The Kubernetes API server's flags, in kube-apiserver's names. The API server runs when
/// --tls-cert-file is given.
#[derive(Args, Debug)]
pub struct KubeFlags {
    /// The port of the Kubernetes API (HTTPS).
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// The address to serve the Kubernetes API on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// The address advertised to clients in discovery (default: bind address and port).
    #[arg(long)]
    pub advertise_address: Option<String>,
    /// The Kubernetes API's serving certificate (PEM); turns the API server on.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// CA that client certificates are verified against (user = CN, groups = O).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Static bearer tokens: token,user,uid[,"group1,group2"] per line.
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Public key(s) that verify ServiceAccount tokens (PEM; a private key works too).
    #[arg(long)]
    pub service_account_key_file: Option<PathBuf>,
    /// Private key (P-256, PKCS#8 PEM) that signs ServiceAccount tokens.
    #[arg(long)]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// The `iss` of ServiceAccount tokens.
    #[arg(long, default_value = "https://kubernetes.default.svc.cluster.local")]
    pub service_account_issuer: String,
    /// Audiences tokens are issued for by default and accepted with (default: the issuer).
    #[arg(long)]
    pub api_audiences: Option<String>,
    /// ClusterIPs are allocated from this IPv4 CIDR.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: String,
    /// NodePorts are allocated from this range.
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// Most mutating requests in flight at once (429 beyond).
    #[arg(long, default_value_t = 200)]
    pub max_mutating_requests_inflight: usize,
    /// Most read-only requests in flight at once (429 beyond).
    #[arg(long, default_value_t = 400)]
    pub max_requests_inflight: usize,
}

/// The leader-elected components run in every replica (one acts, by Lease), with
/// kube-scheduler's and kube-controller-manager's leader election flags. Leader election is
/// always on (a single replica simply wins it): every write of theirs is fenced by the Lease.
#[derive(Args, Debug)]
pub struct ComponentFlags {
    /// How long a Lease holds without renewal before others may take it.
    #[arg(long, default_value = "15s", value_parser = go_duration)]
    pub leader_elect_lease_duration: Duration,
    /// A leader stops acting once this long has passed since its last renewal.
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    pub leader_elect_renew_deadline: Duration,
    /// How often a leader renews and a candidate retries.
    #[arg(long, default_value = "2s", value_parser = go_duration)]
    pub leader_elect_retry_period: Duration,
    /// Do not run the scheduler in this replica.
    #[arg(long)]
    pub disable_scheduler: bool,
    /// Controllers to run (kube-controller-manager's `--controllers`: `*` for all, `-name`
    /// to leave one out, `-*` for none).
    #[arg(long, default_value = "*")]
    pub controllers: String,
    /// The pod network; node IPAM hands each Node a /24 of it.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// How often the node lifecycle controller checks node health.
    #[arg(long, default_value = "5s", value_parser = go_duration)]
    pub node_monitor_period: Duration,
    /// A node whose Lease and status were not renewed for this long becomes Ready=Unknown.
    #[arg(long, default_value = "40s", value_parser = go_duration)]
    pub node_monitor_grace_period: Duration,
    /// The same for a node not yet seen posting status.
    #[arg(long, default_value = "1m0s", value_parser = go_duration)]
    pub node_startup_grace_period: Duration,
    /// Nodes per second whose pods are evicted (NoExecute taint added), per healthy zone.
    #[arg(long, default_value_t = 0.1)]
    pub node_eviction_rate: f64,
}

impl ComponentFlags {
    pub fn check(&self) -> Result<(), String> {
        if self.leader_elect_renew_deadline >= self.leader_elect_lease_duration {
            return Err(
                "--leader-elect-renew-deadline must be less than --leader-elect-lease-duration"
                    .into(),
            );
        }
        if self.leader_elect_retry_period.is_zero()
            || self.leader_elect_retry_period >= self.leader_elect_renew_deadline
        {
            return Err("--leader-elect-retry-period must be positive and less than --leader-elect-renew-deadline".into());
        }
        if self.node_monitor_period.is_zero() {
            return Err("--node-monitor-period must be positive".into());
        }
        if !self.node_eviction_rate.is_finite() || self.node_eviction_rate < 0.0 {
            return Err("--node-eviction-rate must be a non-negative number".into());
        }
        Ok(())
    }
}

fn go_duration(s: &str) -> Result<Duration, String> {
    berth_apiserver::parse_go_duration(s)
        .ok_or_else(|| format!("invalid duration {s:?} (e.g. 15s, 500ms, 1m)"))
}

pub fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Parses `http(s)://host:port,...` into (url, socket address, is https).
pub fn parse_urls(s: &str) -> Result<Vec<(String, SocketAddr, bool)>, String> {
    let mut out = Vec::new();
    for url in split(s) {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url}: expected http:// or https://"));
        };
        let hostport = rest.trim_end_matches('/');
        let addr: SocketAddr = match hostport.parse() {
            Ok(a) => a,
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(hostport)
                .map_err(|e| format!("{url}: {e}"))?
                .next()
                .ok_or_else(|| format!("{url}: no address"))?,
        };
        out.push((url.clone(), addr, https));
    }
    if out.is_empty() {
        return Err("no URL given".into());
    }
    Ok(out)
}

/// Parses `name=url,name=url,...`.
pub fn parse_initial_cluster(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in split(s) {
        let (name, url) = part
            .split_once('=')
            .ok_or_else(|| format!("{part}: expected name=peer-url"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("{part}: the peer URL must be http:// or https://"));
        }
        out.push((name.to_string(), url.to_string()));
    }
    if out.is_empty() {
        return Err("empty initial cluster".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_initial_cluster_parse_like_etcd() {
        let u = parse_urls("https://127.0.0.1:2379, http://127.0.0.1:22379").unwrap();
        assert_eq!(u.len(), 2);
        assert!(u[0].2 && !u[1].2);
        assert_eq!(u[1].1, "127.0.0.1:22379".parse().unwrap());
        assert!(parse_urls("tcp://x:1").is_err());
        assert!(parse_urls("").is_err());
        let c =
            parse_initial_cluster("n1=https://127.0.0.1:2380,n2=https://127.0.0.1:12380").unwrap();
        assert_eq!(
            c[1],
            ("n2".to_string(), "https://127.0.0.1:12380".to_string())
        );
        assert!(parse_initial_cluster("n1").is_err());
        assert!(parse_initial_cluster("n1=127.0.0.1:2380").is_err());
    }
}
