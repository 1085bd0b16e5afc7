//! Berth's replicated store: the [`Store`] interface the API layers program against, and its
//! implementations: [`LocalStore`] (one engine, no replication) and [`Replica`] (openraft
//! over the storage engine, the peer transport, leases and membership).

mod local;
mod log_store;
pub mod network;
mod replica;
mod state_machine;
mod store;
pub mod types;

/// Keys of the Raft state family, as the replication layer writes them (bincode values):
/// `kvctl` reads them offline.
pub mod state_keys {
    pub const VOTE: &[u8] = b"vote";
    pub const COMMITTED: &[u8] = b"committed";
    pub const LAST_PURGED_LOG_ID: &[u8] = b"last_purged_log_id";
    pub const MEMBER_ID: &[u8] = b"member_id";
    pub const CLUSTER_ID: &[u8] = b"cluster_id";
}

pub use local::{LocalStore, ETCD_COMPAT_VERSION};
pub use replica::{ClusterState, Replica, ReplicaConfig, STORE_DIR};
pub use state_machine::AppliedState;
pub use store::*;
