//! InterPodAffinity: required affinity and anti-affinity (the incoming pod's and existing
//! pods'), and the preferred-terms score, with topology counts computed once per cycle.

use std::collections::{BTreeMap, HashMap};

use crate::cache::{NodeInfo, Snapshot};
use crate::filter::Rejection;
use crate::podinfo::{AffinityTerm, PodInfo};

/// topology key -> topology value -> count; entries that reach zero are removed.
type TopologyCounts = HashMap<String, HashMap<String, i64>>;

fn bump(m: &mut TopologyCounts, labels: &BTreeMap<String, String>, key: &str, delta: i64) {
    let Some(value) = labels.get(key) else { return };
    let values = m.entry(key.to_string()).or_default();
    let n = values.entry(value.clone()).or_insert(0);
    *n += delta;
    if *n == 0 {
        values.remove(value.as_str());
        if values.is_empty() {
            m.remove(key);
        }
    }
}

fn get(m: &TopologyCounts, key: &str, value: &str) -> i64 {
    m.get(key).and_then(|v| v.get(value)).copied().unwrap_or(0)
}

/// `podMatchesAllAffinityTerms`: false for no terms.
fn matches_all(
    terms: &[AffinityTerm],
    pod: &PodInfo,
    ns_labels: &BTreeMap<String, String>,
) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns_labels))
}

/// PreFilter state.
#[derive(Debug, Clone, Default)]
pub(crate) struct InterPodFilterState {
    /// Existing pods' required anti-affinity terms that match the incoming pod.
    existing_anti: TopologyCounts,
    /// Existing pods matching all of the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Existing pods matching each of the incoming pod's required anti-affinity terms.
    anti: TopologyCounts,
    /// The incoming pod matches all its own affinity terms (first-pod-of-a-group rule).
    self_affine: bool,
}

impl InterPodFilterState {
    /// `None` when nothing can fail (kube-scheduler's Skip).
    pub(crate) fn compute(pod: &PodInfo, snapshot: &Snapshot) -> Option<InterPodFilterState> {
        let own_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !own_terms && snapshot.with_required_anti_affinity.is_empty() {
            return None;
        }
        let mut s = InterPodFilterState {
            self_affine: matches_all(
                &pod.required_affinity,
                pod,
                snapshot.namespace_labels(&pod.pod_ref.namespace),
            ),
            ..Default::default()
        };
        if own_terms {
            for node in &snapshot.nodes {
                for existing in &node.pods {
                    s.update(pod, existing, node.labels(), snapshot, 1);
                }
            }
        } else {
            for &idx in &snapshot.with_required_anti_affinity {
                let node = &snapshot.nodes[idx];
                for existing in node
                    .pods
                    .iter()
                    .filter(|p| !p.required_anti_affinity.is_empty())
                {
                    s.update(pod, existing, node.labels(), snapshot, 1);
                }
            }
        }
        if s.existing_anti.is_empty() && !own_terms {
            return None;
        }
        Some(s)
    }

    /// Accounts for `existing` added to (`delta` 1) or removed from (-1) a node with `labels`.
    pub(crate) fn update(
        &mut self,
        pod: &PodInfo,
        existing: &PodInfo,
        labels: &BTreeMap<String, String>,
        snapshot: &Snapshot,
        delta: i64,
    ) {
        let pod_ns = snapshot.namespace_labels(&pod.pod_ref.namespace);
        for t in &existing.required_anti_affinity {
            if t.matches(pod, pod_ns) {
                bump(&mut self.existing_anti, labels, &t.topology_key, delta);
            }
        }
        if pod.required_affinity.is_empty() && pod.required_anti_affinity.is_empty() {
            return;
        }
        let existing_ns = snapshot.namespace_labels(&existing.pod_ref.namespace);
        if matches_all(&pod.required_affinity, existing, existing_ns) {
            for t in &pod.required_affinity {
                bump(&mut self.affinity, labels, &t.topology_key, delta);
            }
        }
        for t in &pod.required_anti_affinity {
            if t.matches(existing, existing_ns) {
                bump(&mut self.anti, labels, &t.topology_key, delta);
            }
        }
    }

    pub(crate) fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Rejection> {
        let labels = node.labels();
        // satisfyPodAffinity
        let mut pods_exist = true;
        for t in &pod.required_affinity {
            match labels.get(&t.topology_key) {
                Some(v) => pods_exist &= get(&self.affinity, &t.topology_key, v) > 0,
                None => return Err(Rejection::PodAffinity),
            }
        }
        // The first pod of a group whose affinity matches itself may go anywhere while no
        // pod matches yet.
        let first_of_group = self.affinity.is_empty() && self.self_affine;
        if !pods_exist && !first_of_group {
            return Err(Rejection::PodAffinity);
        }
        // satisfyPodAntiAffinity
        for t in &pod.required_anti_affinity {
            if labels
                .get(&t.topology_key)
                .is_some_and(|v| get(&self.anti, &t.topology_key, v) > 0)
            {
                return Err(Rejection::PodAntiAffinity);
            }
        }
        // satisfyExistingPodsAntiAffinity
        for (key, values) in &self.existing_anti {
            if labels
                .get(key)
                .is_some_and(|v| values.get(v.as_str()).is_some_and(|n| *n > 0))
            {
                return Err(Rejection::ExistingAntiAffinity);
            }
        }
        Ok(())
    }
}

/// PreScore state: topology key -> value -> summed weights.
pub(crate) struct InterPodScoreState {
    scores: TopologyCounts,
}

impl InterPodScoreState {
    /// `None` when no term contributes (the plugin is skipped).
    pub(crate) fn compute(
        pod: &PodInfo,
        snapshot: &Snapshot,
        hard_pod_affinity_weight: i64,
    ) -> Option<InterPodScoreState> {
        let has_preferred =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if !has_preferred && snapshot.with_affinity.is_empty() {
            return None;
        }
        let mut scores = TopologyCounts::new();
        let pod_ns = snapshot.namespace_labels(&pod.pod_ref.namespace);
        let mut process = |node: &NodeInfo| {
            let labels = node.labels();
            if labels.is_empty() {
                return;
            }
            for existing in node
                .pods
                .iter()
                .filter(|p| has_preferred || p.has_pod_affinity)
            {
                let existing_ns = snapshot.namespace_labels(&existing.pod_ref.namespace);
                for (w, t) in &pod.preferred_affinity {
                    if t.matches(existing, existing_ns) {
                        bump(&mut scores, labels, &t.topology_key, i64::from(*w));
                    }
                }
                for (w, t) in &pod.preferred_anti_affinity {
                    if t.matches(existing, existing_ns) {
                        bump(&mut scores, labels, &t.topology_key, -i64::from(*w));
                    }
                }
                if hard_pod_affinity_weight > 0 {
                    for t in &existing.required_affinity {
                        if t.matches(pod, pod_ns) {
                            bump(
                                &mut scores,
                                labels,
                                &t.topology_key,
                                hard_pod_affinity_weight,
                            );
                        }
                    }
                }
                for (w, t) in &existing.preferred_affinity {
                    if t.matches(pod, pod_ns) {
                        bump(&mut scores, labels, &t.topology_key, i64::from(*w));
                    }
                }
                for (w, t) in &existing.preferred_anti_affinity {
                    if t.matches(pod, pod_ns) {
                        bump(&mut scores, labels, &t.topology_key, -i64::from(*w));
                    }
                }
            }
        };
        if has_preferred {
            snapshot.nodes.iter().for_each(|n| process(n));
        } else {
            snapshot
                .with_affinity
                .iter()
                .for_each(|&i| process(&snapshot.nodes[i]));
        }
        (!scores.is_empty()).then_some(InterPodScoreState { scores })
    }

    /// Normalized 0..=100 scores (min-max) for the feasible nodes, in order.
    pub(crate) fn scores(&self, snapshot: &Snapshot, feasible: &[usize], out: &mut Vec<i64>) {
        out.clear();
        for &idx in feasible {
            let labels = snapshot.nodes[idx].labels();
            let mut score = 0;
            for (key, values) in &self.scores {
                if let Some(v) = labels.get(key) {
                    score += values.get(v.as_str()).copied().unwrap_or(0);
                }
            }
            out.push(score);
        }
        let min = out.iter().copied().min().unwrap_or(0);
        let max = out.iter().copied().max().unwrap_or(0);
        for s in out.iter_mut() {
            *s = if max > min {
                (100.0 * ((*s - min) as f64 / (max - min) as f64)) as i64
            } else {
                0
            };
        }
    }
}
