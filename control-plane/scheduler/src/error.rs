//! The crate's one error enum, and `FitError`: why a pod fits on no node, in kube-scheduler's words.

use std::fmt;

/// Everything this crate can fail with. `Unschedulable` is an expected outcome (the pod goes
/// to the unschedulable queue); the others are errors (the pod goes to backoff).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The snapshot holds no nodes (kube-scheduler's `ErrNoNodesAvailable`).
    #[error("no nodes available to schedule pods")]
    NoNodesAvailable,
    /// No node passed the filters.
    #[error(transparent)]
    Unschedulable(#[from] FitError),
    /// A Kubernetes quantity string that does not parse.
    #[error("invalid quantity {0:?}")]
    InvalidQuantity(String),
    /// `Cache::assume` of a pod the cache already holds.
    #[error("pod {0} is in the cache, so can't be assumed")]
    AlreadyInCache(String),
    /// `Cache::forget` or `Cache::confirm` of a pod that is not assumed.
    #[error("pod {0} wasn't assumed so cannot be forgotten")]
    NotAssumed(String),
}

/// Why a pod fits on no node: the filter reasons counted per node.
///
/// `Display` is kube-scheduler's `FitError.Error()`:
/// `0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.`
/// Each node contributes one count per distinct reason; the "N reason" strings are sorted as
/// strings (Go's `sort.Strings`), as Kubernetes does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Nodes in the snapshot when the cycle ran.
    pub n_nodes: usize,
    /// Sorted "N reason" strings.
    histogram: Vec<String>,
}

impl FitError {
    /// Builds the error from `(reason, n_nodes)` counts in any order.
    pub fn new(n_nodes: usize, counts: impl IntoIterator<Item = (String, usize)>) -> FitError {
        let mut histogram: Vec<String> = counts
            .into_iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        histogram.sort();
        FitError { n_nodes, histogram }
    }

    /// The full message with the preemption (PostFilter) part appended, as the shell writes it
    /// into the FailedScheduling event and the PodScheduled condition:
    /// `0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`
    pub fn message_with_preemption(&self, failure: &crate::PreemptionFailure) -> String {
        format!("{self} {failure}")
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.n_nodes)?;
        if !self.histogram.is_empty() {
            write!(f, " {}.", self.histogram.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}
