//! `chaos`: Jepsen-style fault runs of Berth's replicated store. A run starts replicas in
//! network namespaces, drives client workloads while a seeded nemesis injects faults,
//! records a history and checks it.

pub mod check;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod netns;
pub mod report;
pub mod rng;
pub mod run;
pub mod workload;
