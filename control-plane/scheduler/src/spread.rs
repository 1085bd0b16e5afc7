//! PodTopologySpread: the DoNotSchedule filter and the ScheduleAnyway score, with domain
//! counts computed once per cycle (PreFilter, PreScore) instead of per node.
//!
//! System-default spreading (kube-scheduler's defaults for pods without constraints, built
//! from the Services, ReplicaSets and StatefulSets selecting the pod) is not implemented: this
//! core does not see those objects.

use std::collections::HashMap;

use crate::cache::{NodeInfo, Snapshot};
use crate::filter::{has_all_keys, Prepared, Rejection};
use crate::podinfo::PodInfo;
use crate::selector::{first_untolerated, Requirement, Selector};

const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

/// One parsed topology spread constraint.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: i64,
    /// nodeAffinityPolicy Honor (the default).
    honor_node_affinity: bool,
    /// nodeTaintsPolicy Honor (default Ignore).
    honor_taints: bool,
}

/// The pod's constraints with whenUnsatisfiable DoNotSchedule (`hard`) or ScheduleAnyway,
/// with matchLabelKeys merged into the selector.
pub(crate) fn constraints(pod: &PodInfo, hard: bool) -> Vec<Constraint> {
    let want = if hard {
        "DoNotSchedule"
    } else {
        "ScheduleAnyway"
    };
    let labels = pod.labels();
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == want)
        .map(|c| {
            let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.get(key) {
                    selector.push(Requirement::equals(key, v));
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

impl Constraint {
    /// `matchNodeInclusionPolicies`.
    fn includes(&self, prepared: &Prepared<'_>, node: &NodeInfo) -> bool {
        if self.honor_node_affinity && !prepared.node_affinity.matches(node) {
            return false;
        }
        !(self.honor_taints && first_untolerated(&node.taints, &prepared.tolerations).is_some())
    }

    /// `countPodsMatchSelector`: an empty selector counts nothing, terminating pods and
    /// pods of other namespaces are skipped.
    fn count(&self, pods: &[std::sync::Arc<PodInfo>], namespace: &str) -> i64 {
        if self.selector.is_empty() {
            return 0;
        }
        pods.iter()
            .filter(|p| {
                !p.terminating
                    && p.pod_ref.namespace == namespace
                    && self.selector.matches(p.labels())
            })
            .count() as i64
    }
}

fn has_all_topology_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    has_all_keys(
        node.labels(),
        constraints.iter().map(|c| c.topology_key.as_str()),
    )
}

/// PreFilter state: matching pods per domain for each DoNotSchedule constraint.
#[derive(Debug, Clone)]
pub(crate) struct SpreadFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: topology value -> matching pods (eligible domains only).
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: the smallest count (`i64::MAX` with no domain).
    min_counts: Vec<i64>,
}

impl SpreadFilterState {
    pub(crate) fn compute(
        prepared: &Prepared<'_>,
        snapshot: &Snapshot,
    ) -> Option<SpreadFilterState> {
        if prepared.hard_spread.is_empty() {
            return None;
        }
        let constraints = prepared.hard_spread.clone();
        let mut counts = vec![HashMap::new(); constraints.len()];
        let ns = &prepared.pod.pod_ref.namespace;
        for node in &snapshot.nodes {
            if !has_all_topology_keys(node, &constraints) {
                continue;
            }
            for (c, counts) in constraints.iter().zip(&mut counts) {
                if !c.includes(prepared, node) {
                    continue;
                }
                let value = &node.labels()[&c.topology_key];
                let n = c.count(&node.pods, ns);
                match counts.get_mut(value.as_str()) {
                    Some(have) => *have += n,
                    None => {
                        counts.insert(value.clone(), n);
                    }
                }
            }
        }
        let mut s = SpreadFilterState {
            min_counts: vec![i64::MAX; constraints.len()],
            constraints,
            counts,
        };
        s.refresh_min();
        Some(s)
    }

    fn refresh_min(&mut self) {
        for (min, counts) in self.min_counts.iter_mut().zip(&self.counts) {
            *min = counts.values().copied().min().unwrap_or(i64::MAX);
        }
    }

    pub(crate) fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let labels = node.labels();
        for (i, c) in self.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                return Err(Rejection::SpreadMissingLabel);
            };
            let mut min = self.min_counts[i];
            if (self.counts[i].len() as i64) < c.min_domains {
                min = 0;
            }
            let self_match = i64::from(c.selector.matches(pod.labels()));
            let count = self.counts[i].get(value.as_str()).copied().unwrap_or(0);
            if count.saturating_add(self_match).saturating_sub(min) > c.max_skew {
                return Err(Rejection::Spread);
            }
        }
        Ok(())
    }

    /// Accounts for `pod` added to (`delta` 1) or removed from (-1) `node`.
    pub(crate) fn update(
        &mut self,
        prepared: &Prepared<'_>,
        pod: &PodInfo,
        node: &NodeInfo,
        delta: i64,
    ) {
        if pod.pod_ref.namespace != prepared.pod.pod_ref.namespace
            || pod.terminating
            || !has_all_topology_keys(node, &self.constraints)
        {
            return;
        }
        for (c, counts) in self.constraints.iter().zip(&mut self.counts) {
            if c.selector.is_empty()
                || !c.selector.matches(pod.labels())
                || !c.includes(prepared, node)
            {
                continue;
            }
            *counts
                .entry(node.labels()[&c.topology_key].clone())
                .or_insert(0) += delta;
        }
        self.refresh_min();
    }
}

/// PreScore state for the ScheduleAnyway constraints.
pub(crate) struct SpreadScoreState {
    constraints: Vec<Constraint>,
    /// Per constraint (not hostname): topology value -> matching pods.
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
    /// Per feasible node: lacks a topology key, so it scores 0.
    ignored: Vec<bool>,
}

impl SpreadScoreState {
    /// `None` when the pod has no ScheduleAnyway constraints (the plugin is skipped).
    pub(crate) fn compute(
        prepared: &Prepared<'_>,
        snapshot: &Snapshot,
        feasible: &[usize],
    ) -> Option<SpreadScoreState> {
        let constraints = constraints(prepared.pod, false);
        if constraints.is_empty() || feasible.is_empty() {
            return None;
        }
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        let mut ignored = vec![false; feasible.len()];
        for (slot, &idx) in feasible.iter().enumerate() {
            let node = &snapshot.nodes[idx];
            if !has_all_topology_keys(node, &constraints) {
                ignored[slot] = true;
                continue;
            }
            for (c, counts) in constraints.iter().zip(&mut counts) {
                if c.topology_key != LABEL_HOSTNAME {
                    counts
                        .entry(node.labels()[&c.topology_key].clone())
                        .or_insert(0);
                }
            }
        }
        let n_scored = ignored.iter().filter(|i| !**i).count();
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, counts)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    n_scored
                } else {
                    counts.len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        let ns = &prepared.pod.pod_ref.namespace;
        for node in &snapshot.nodes {
            if !has_all_topology_keys(node, &constraints) {
                continue;
            }
            for (c, counts) in constraints.iter().zip(&mut counts) {
                if !c.includes(prepared, node) {
                    continue;
                }
                if let Some(have) = counts.get_mut(node.labels()[&c.topology_key].as_str()) {
                    *have += c.count(&node.pods, ns);
                }
            }
        }
        Some(SpreadScoreState {
            constraints,
            counts,
            weights,
            ignored,
        })
    }

    /// Normalized 0..=100 scores for the feasible nodes, in order.
    pub(crate) fn scores(
        &self,
        prepared: &Prepared<'_>,
        snapshot: &Snapshot,
        feasible: &[usize],
        out: &mut Vec<i64>,
    ) {
        out.clear();
        let ns = &prepared.pod.pod_ref.namespace;
        for (slot, &idx) in feasible.iter().enumerate() {
            if self.ignored[slot] {
                out.push(-1);
                continue;
            }
            let node = &snapshot.nodes[idx];
            let mut score = 0.0;
            for (i, c) in self.constraints.iter().enumerate() {
                let Some(value) = node.labels().get(&c.topology_key) else {
                    continue;
                };
                let count = if c.topology_key == LABEL_HOSTNAME {
                    c.count(&node.pods, ns)
                } else {
                    self.counts[i].get(value.as_str()).copied().unwrap_or(0)
                };
                score += count as f64 * self.weights[i] + (c.max_skew - 1) as f64;
            }
            out.push(score.round() as i64);
        }
        let valid = || out.iter().copied().filter(|s| *s >= 0);
        let min = valid().min().unwrap_or(0);
        let max = valid().max().unwrap_or(0);
        for s in out.iter_mut() {
            *s = if *s < 0 {
                0
            } else if max == 0 {
                100
            } else {
                100 * (max + min - *s) / max
            };
        }
    }
}
