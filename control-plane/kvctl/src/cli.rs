//! kvctl's command line: global flags and every subcommand (clap derive), with the help
//! texts users read. No behaviour here.

use crate::render::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "kvctl",
    version,
    about = "Inspect Berth's replicated store: online through the etcd v3 API, offline from a stopped replica's data dir",
    long_about = "Inspect Berth's replicated store.\n\n\
        Online commands (get, put, del, watch, txn, lease, member, status, compact, defrag, \
        snapshot save) talk to running control-plane replicas through the etcd v3 API.\n\
        Offline commands (offline ..., snapshot restore) read a stopped replica's data dir \
        (the control-plane --data-dir, holding store/ and snapshots/) and never write to it.\n\n\
        Errors go to stderr as one line, with exit code 1. Ids (leases, members) are hex, as \
        etcdctl prints them."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Comma-separated etcd API endpoints (http://host:port, or https://host:port with TLS).
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:2379",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,
    /// CA certificate (PEM) that the servers' certificates must chain to (https endpoints).
    #[arg(long, global = true)]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --key.
    #[arg(long, global = true, requires = "key_file")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS; needs --cert.
    #[arg(long = "key", global = true, requires = "cert")]
    pub key_file: Option<PathBuf>,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value = "table"
    )]
    pub output: Format,
    /// Timeout of connecting and of each request (e.g. 5s, 500ms, 1m).
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a key, a prefix or a range.
    Get(GetArgs),
    /// Write a key.
    Put {
        key: String,
        value: String,
        /// Attach the key to this lease (hex id).
        #[arg(long, value_parser = crate::render::parse_lease_id)]
        lease: Option<i64>,
    },
    /// Delete a key or every key with a prefix.
    Del {
        key: String,
        /// Delete every key starting with KEY.
        #[arg(long)]
        prefix: bool,
    },
    /// Stream changes of a key or prefix until Ctrl-C (JSON: one object per line).
    Watch {
        key: String,
        /// Watch every key starting with KEY.
        #[arg(long)]
        prefix: bool,
        /// Start from this revision (replays history from it).
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Run a transaction read from stdin (etcdctl's format), for example:
    ///
    ///   mod("key1") > "0"
    ///   value("key2") = "v"
    ///
    ///   put key1 "new value"
    ///   get key2
    ///
    ///   put key1 "created" --lease=694d77aa9e38260f
    ///   del key3 --prefix
    ///
    /// Compares (value, version, create, mod, lease with =, !=, >, <), a blank line, the
    /// operations run if all compares hold (get, put, del), a blank line, the operations
    /// run otherwise. Strings may be "quoted" with \" \\ \n \t \xNN escapes.
    #[command(verbatim_doc_comment)]
    Txn,
    /// Grant, revoke, keep alive and inspect leases.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// List and change cluster members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Status of every endpoint: member id, leader, revision, Raft term/index/applied, DB size, version.
    Status,
    /// Compact the history up to a revision (reads below it then fail).
    Compact { rev: i64 },
    /// Defragment every endpoint's store (gives back space of deleted data).
    Defrag,
    /// Save a snapshot from a running replica, or restore one into a new data dir.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Inspect a stopped replica's data dir (read-only; the replica must not be running).
    Offline {
        /// The replica's data dir (the control-plane --data-dir, holding store/).
        #[arg(long)]
        data_dir: PathBuf,
        #[command(subcommand)]
        command: OfflineCommand,
    },
}

#[derive(Debug, Args)]
pub struct GetArgs {
    pub key: String,
    /// Every key starting with KEY.
    #[arg(long, conflicts_with = "from_key")]
    pub prefix: bool,
    /// Every key greater than or equal to KEY.
    #[arg(long)]
    pub from_key: bool,
    /// Read at this revision (0: current).
    #[arg(long, default_value_t = 0)]
    pub rev: i64,
    /// At most this many keys (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub limit: i64,
    /// Keys and revisions only, no values.
    #[arg(long)]
    pub keys_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Grant a lease with a TTL in seconds; prints its id.
    Grant { ttl_secs: i64 },
    /// Revoke a lease, deleting its keys.
    Revoke {
        #[arg(value_parser = crate::render::parse_lease_id)]
        id: i64,
    },
    /// Keep a lease alive until Ctrl-C (or once with --once).
    KeepAlive {
        #[arg(value_parser = crate::render::parse_lease_id)]
        id: i64,
        /// Renew once and exit.
        #[arg(long)]
        once: bool,
    },
    /// A lease's granted and remaining TTL.
    Timetolive {
        #[arg(value_parser = crate::render::parse_lease_id)]
        id: i64,
        /// Also list the keys attached to it.
        #[arg(long)]
        keys: bool,
    },
    /// Every lease.
    List,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Every member.
    List,
    /// Add a member (start it afterwards with --initial-cluster-state existing).
    Add {
        name: String,
        /// Comma-separated peer URLs of the new member.
        #[arg(long, required = true, value_delimiter = ',')]
        peer_urls: Vec<String>,
        /// Add it as a learner (non-voting until promoted).
        #[arg(long)]
        learner: bool,
    },
    /// Remove a member (hex id).
    Remove {
        #[arg(value_parser = crate::render::parse_hex_id)]
        id: u64,
    },
    /// Change a member's peer URLs.
    Update {
        #[arg(value_parser = crate::render::parse_hex_id)]
        id: u64,
        #[arg(long, required = true, value_delimiter = ',')]
        peer_urls: Vec<String>,
    },
    /// Promote a learner to a voting member.
    Promote {
        #[arg(value_parser = crate::render::parse_hex_id)]
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stream a snapshot from one endpoint into FILE (checked, then renamed into place).
    Save { file: PathBuf },
    /// Create a new replica data dir from a snapshot FILE (like etcdutl snapshot restore).
    ///
    /// Verifies FILE, then creates DATA_DIR/store holding the snapshot's keys, history and
    /// leases, without the old cluster's Raft position (applied index 0, no membership).
    /// DATA_DIR must not exist or be empty; nothing is created if FILE is bad.
    ///
    /// Then start a new cluster on it, for example:
    ///
    ///   control-plane --name n0 --data-dir DATA_DIR --initial-cluster-state new \
    ///     --initial-cluster n0=http://10.0.0.1:2380 ...
    ///
    /// For a multi-member cluster, restore the same file into each member's data dir and
    /// start them all with the same --initial-cluster and --initial-cluster-state new.
    #[command(verbatim_doc_comment)]
    Restore {
        file: PathBuf,
        /// The new replica's data dir (must not exist, or be empty).
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OfflineCommand {
    /// Live keys (at the current revision or --rev).
    Keys {
        /// Only keys starting with this.
        #[arg(long)]
        prefix: Option<String>,
        /// Read at this revision (0: current).
        #[arg(long, default_value_t = 0)]
        rev: i64,
        /// At most this many keys (0: no limit).
        #[arg(long, default_value_t = 0)]
        limit: i64,
    },
    /// Every retained version of one key, newest first.
    History { key: String },
    /// Leases: ids, granted TTLs and attached keys.
    Leases,
    /// The Raft log and Raft state (default: state).
    Raft {
        #[command(subcommand)]
        command: Option<RaftCommand>,
    },
    /// Applied index, revision, compact revision, the applied log id and membership.
    Applied,
    /// HashKV (compare replicas: equal when they applied the same entries).
    Hashkv {
        /// Hash up to this revision (0: current).
        #[arg(long, default_value_t = 0)]
        rev: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Log entries, decoded: log id, payload kind and what it carries.
    Entries {
        /// First index to show (default: the first in the log).
        #[arg(long)]
        from: Option<u64>,
        /// Last index to show, inclusive (default: the last in the log).
        #[arg(long)]
        to: Option<u64>,
        /// At most this many entries.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// The saved vote (term, voted-for member, committed).
    Vote,
    /// The membership: the applied one and the newest in the log.
    Membership,
    /// Every Raft state value: vote, committed, purged, member and cluster ids, log bounds.
    State,
}

/// Parses `5s`, `500ms`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 5s, 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 365.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("five").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
