//! The etcd v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance) over a
//! [`berth_replication::Store`], so that etcd clients (`etcdctl`, client libraries,
//! Kubernetes) work against Berth as against etcd 3.4.
//!
//! The only crate of the control plane that knows etcd's protobuf messages: requests are
//! converted to the storage engine's types in [`convert`] and answers converted back there;
//! errors become the gRPC codes and messages etcd clients recognise in [`status`].
//!
//! Use [`routes`] to get the services as `tonic::service::Routes` (to add other HTTP routes
//! on the same port), and [`serve_routes`] or [`serve`] to serve them on a listener, in
//! plain text or TLS (optionally mutual).
//!
//! Not served: Auth (clients get UNIMPLEMENTED), Downgrade. Differences from etcd are listed
//! on each service.

mod call;
mod cluster;
pub mod convert;
mod kv;
mod lease;
mod maintenance;
mod server;
pub mod status;
mod watch;

pub use cluster::ClusterService;
pub use kv::KvService;
pub use lease::LeaseService;
pub use maintenance::MaintenanceService;
pub use server::{
    routes, serve, serve_routes, ApiConfig, ServeError, TlsConfig, GRPC_OVERHEAD_BYTES,
};
pub use watch::WatchService;
