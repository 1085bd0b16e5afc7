//! A Kubernetes API client for Berth's own components (the scheduler and controllers run in
//! the control-plane process and reach the API server through an in-process transport; the
//! same code works over HTTPS). It owns the request shapes, typed API errors, informers
//! (list, then watch from the list's resourceVersion, relist on 410) and leader election on
//! a `coordination.k8s.io/v1` Lease with fencing: while a component leads, every write it
//! makes carries the Lease's holder and transition count, and the API server refuses the
//! write, in the same store transaction, once the Lease has moved on.

pub mod api;
pub mod error;
pub mod events;
pub mod informer;
pub mod leader;
pub mod transport;

pub use api::{Client, Resource};
pub use error::ClientError;
pub use leader::{Fence, LeaderConfig, LeaderElector, Leadership};
pub use transport::{Request, Response, Transport};
