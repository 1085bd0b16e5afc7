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

pub use local::{LocalStore, ETCD_COMPAT_VERSION};
pub use replica::{ClusterState, Replica, ReplicaConfig, STORE_DIR};
pub use state_machine::AppliedState;
pub use store::*;
