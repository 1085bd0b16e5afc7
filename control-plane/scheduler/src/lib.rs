//! The pure scheduling core: kube-scheduler v1.33's default profile without IO.
//!
//! The shell (`run`, the crate's only IO) feeds the [`Cache`] from the API server's watch, pops pods
//! from the [`SchedulingQueue`], calls [`schedule_one`] on a [`Snapshot`], binds through the API
//! (calling [`Cache::assume`] first and [`Cache::confirm`] or [`Cache::forget`] after), calls
//! [`preempt`] when a pod fits nowhere, and writes events and conditions with the messages this
//! crate renders. Time is always an argument, randomness a seed: every decision is replayable.
//!
//! Left out (documented where it matters): volumes (VolumeBinding, VolumeZone, VolumeRestrictions,
//! NodeVolumeLimits), ImageLocality, DynamicResources, system-default topology spreading (it
//! needs Service/ReplicaSet selectors), nominated pods in filters, PodDisruptionBudgets in
//! preemption, QueueingHints (every cluster event moves every unschedulable pod).

mod cache;
mod error;
mod filter;
mod interpod;
mod podinfo;
mod preempt;
mod quantity;
mod queue;
pub mod run;
mod schedule;
mod score;
mod selector;
mod spread;

#[cfg(test)]
mod testutil;

pub use cache::{Cache, NodeInfo, Snapshot};
pub use error::{Error, FitError};
pub use podinfo::{pod_key, PodInfo, PodRef, Resources};
pub use preempt::{preempt, Candidate, PreemptionFailure};
pub use quantity::{parse_bytes, parse_milli};
pub use queue::{QueueConfig, QueueLengths, QueuedPod, SchedulingQueue};
pub use schedule::{
    num_feasible_nodes_to_find, schedule_one, ScheduleResult, SchedulerConfig, SchedulerState,
    ScoringStrategy,
};
