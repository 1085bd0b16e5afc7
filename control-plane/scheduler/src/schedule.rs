//! `schedule_one`: one scheduling cycle (PreFilter, Filter over an adaptive share of the
//! nodes from a rotating start, PreScore, Score, host selection) on a snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::cache::Snapshot;
use crate::filter::{filter, PreFilterState, Prepared, Rejection};
use crate::podinfo::PodInfo;
use crate::score::{score_nodes, ScoreBuffers};
use crate::{Error, FitError};

/// kube-scheduler's minFeasibleNodesToFind.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// kube-scheduler's minFeasibleNodesPercentageToFind.
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// NodeResourcesFit's scoring strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoringStrategy {
    /// Prefer nodes with the most free cpu and memory (spreading; the default).
    #[default]
    LeastAllocated,
    /// Prefer nodes with the least free cpu and memory (bin packing).
    MostAllocated,
}

/// The profile's knobs (kube-scheduler's defaults via `Default`). Plugin weights are
/// kube-scheduler's defaults and fixed: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
/// InterPodAffinity 2, NodeResourcesFit 1, NodeResourcesBalancedAllocation 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// percentageOfNodesToScore: 0 = adaptive (50 - nodes/125, at least 5 %), else 1..=100.
    pub percentage_of_nodes_to_score: u32,
    /// NodeResourcesFit scoring.
    pub scoring_strategy: ScoringStrategy,
    /// InterPodAffinity's hardPodAffinityWeight (default 1).
    pub hard_pod_affinity_weight: i64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            percentage_of_nodes_to_score: 0,
            scoring_strategy: ScoringStrategy::LeastAllocated,
            hard_pod_affinity_weight: 1,
        }
    }
}

/// State carried across cycles: the round-robin start index, the tie-breaking RNG, and
/// reusable buffers.
#[derive(Debug)]
pub struct SchedulerState {
    next_start_node_index: usize,
    rng: u64,
    feasible: Vec<usize>,
    rejections: Vec<(usize, Rejection)>,
    scores: ScoreBuffers,
}

impl SchedulerState {
    /// A fresh state; `seed` drives tie-breaking (and preemption's candidate offset).
    pub fn new(seed: u64) -> SchedulerState {
        SchedulerState {
            next_start_node_index: 0,
            rng: seed,
            feasible: Vec::new(),
            rejections: Vec::new(),
            scores: ScoreBuffers::default(),
        }
    }

    /// splitmix64.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Where the pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node_name: String,
    /// Nodes the filters ran on.
    pub evaluated_nodes: usize,
    /// Nodes that passed them.
    pub feasible_nodes: usize,
}

/// kube-scheduler's `numFeasibleNodesToFind`: all nodes below 100; else the percentage
/// (adaptive when 0: 50 - nodes/125, floored at 5) of the nodes, at least 100.
pub fn num_feasible_nodes_to_find(percentage_of_nodes_to_score: u32, n_nodes: usize) -> usize {
    if n_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return n_nodes;
    }
    let mut percentage = percentage_of_nodes_to_score.min(100) as usize;
    if percentage == 0 {
        percentage = 50usize
            .saturating_sub(n_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (n_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Builds the FitError for rejections of `n_nodes` nodes.
pub(crate) fn fit_error(
    snapshot: &Snapshot,
    pod: &PodInfo,
    n_nodes: usize,
    rejections: &[(usize, Rejection)],
) -> FitError {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (idx, r) in rejections {
        for reason in r.reasons(&snapshot.nodes[*idx], pod) {
            *counts.entry(reason).or_insert(0) += 1;
        }
    }
    FitError::new(n_nodes, counts)
}

/// Runs one scheduling cycle for `pod` on `snapshot`.
///
/// Errors: `Error::NoNodesAvailable` for an empty snapshot, `Error::Unschedulable` with
/// kube-scheduler's message when no node passes the filters (then consider [`crate::preempt`]).
pub fn schedule_one(
    pod: &Arc<Pod>,
    snapshot: &Snapshot,
    state: &mut SchedulerState,
    config: &SchedulerConfig,
) -> Result<ScheduleResult, Error> {
    let n_nodes = snapshot.nodes.len();
    if n_nodes == 0 {
        return Err(Error::NoNodesAvailable);
    }
    let info = PodInfo::new(Arc::clone(pod));
    let prepared = Prepared::new(&info);
    let pre = PreFilterState::compute(&prepared, snapshot);

    // A pod nominated by an earlier preemption tries its node first.
    let nominated = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(node) = nominated.and_then(|n| snapshot.node(n)) {
        if filter(&prepared, &pre, node).is_ok() {
            return Ok(ScheduleResult {
                node_name: node.name().to_string(),
                evaluated_nodes: 1,
                feasible_nodes: 1,
            });
        }
    }

    let to_find = num_feasible_nodes_to_find(config.percentage_of_nodes_to_score, n_nodes);
    state.feasible.clear();
    state.rejections.clear();
    let start = state.next_start_node_index % n_nodes;
    for i in 0..n_nodes {
        let idx = (start + i) % n_nodes;
        match filter(&prepared, &pre, &snapshot.nodes[idx]) {
            Ok(()) => {
                state.feasible.push(idx);
                if state.feasible.len() >= to_find {
                    break;
                }
            }
            Err(r) => state.rejections.push((idx, r)),
        }
    }
    let evaluated_nodes = state.feasible.len() + state.rejections.len();
    state.next_start_node_index = (start + evaluated_nodes) % n_nodes;

    if state.feasible.is_empty() {
        return Err(Error::Unschedulable(fit_error(
            snapshot,
            &info,
            n_nodes,
            &state.rejections,
        )));
    }
    let feasible_nodes = state.feasible.len();
    if feasible_nodes == 1 {
        let node_name = snapshot.nodes[state.feasible[0]].name().to_string();
        return Ok(ScheduleResult {
            node_name,
            evaluated_nodes,
            feasible_nodes,
        });
    }

    score_nodes(
        &prepared,
        snapshot,
        &state.feasible,
        config,
        &mut state.scores,
    );
    // Highest score; ties broken uniformly at random (reservoir sampling, as selectHost).
    let mut best = 0;
    let mut n_best = 1;
    for i in 1..state.scores.totals.len() {
        let (score, best_score) = (state.scores.totals[i], state.scores.totals[best]);
        if score > best_score {
            best = i;
            n_best = 1;
        } else if score == best_score {
            n_best += 1;
            if state.below(n_best) == 0 {
                best = i;
            }
        }
    }
    let node_name = snapshot.nodes[state.feasible[best]].name().to_string();
    Ok(ScheduleResult {
        node_name,
        evaluated_nodes,
        feasible_nodes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use super::*;
    use crate::testutil::{NodeBuilder, PodSpecBuilder};
    use crate::Cache;

    #[test]
    fn feasible_nodes_to_find() {
        let cases = [
            (0, 0, 0),
            (0, 99, 99),
            (0, 100, 100),
            (0, 1000, 420),
            (0, 5000, 500),
            (0, 6000, 300),
            (0, 10000, 500),
            (0, 1000, 420),
            (10, 500, 100),
            (50, 5000, 2500),
            (100, 5000, 5000),
            (200, 5000, 5000),
        ];
        for (pct, n, want) in cases {
            assert_eq!(num_feasible_nodes_to_find(pct, n), want, "{pct}% of {n}");
        }
    }

    fn cluster(nodes: Vec<NodeBuilder>, pods: Vec<Pod>) -> (Cache, Snapshot) {
        let mut cache = Cache::new();
        for n in nodes {
            cache.add_node(n.arc());
        }
        for p in pods {
            cache.add_pod(Arc::new(p));
        }
        let mut snap = Snapshot::new();
        cache.update_snapshot(&mut snap);
        (cache, snap)
    }

    /// The FitError message for `pod` on the cluster.
    fn check_fit_error(nodes: Vec<NodeBuilder>, pods: Vec<Pod>, pod: Pod, want: &str) {
        let (_, snap) = cluster(nodes, pods);
        let got = schedule_one(
            &Arc::new(pod),
            &snap,
            &mut SchedulerState::new(1),
            &SchedulerConfig::default(),
        );
        match got {
            Err(Error::Unschedulable(e)) => assert_eq!(e.to_string(), want),
            other => panic!("expected a FitError, got {other:?}"),
        }
    }

    #[test]
    fn fit_error_messages() {
        let n = |name: &str| NodeBuilder::new(name, "1", "1Gi");
        check_fit_error(
            vec![n("a").unschedulable(), n("b"), n("c")],
            vec![],
            PodSpecBuilder::new("p").req("2", "").build(),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.",
        );
        check_fit_error(
            vec![n("a"), n("b").taint("node.kubernetes.io/unreachable", "", "NoExecute"), n("c")],
            vec![],
            PodSpecBuilder::new("p").req("2", "2Gi").build(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient cpu, 2 Insufficient memory.",
        );
        // Sorted as strings: "10 ..." before "2 ...".
        let mut nodes: Vec<NodeBuilder> = (0..10)
            .map(|i| n(&format!("u{i}")).unschedulable())
            .collect();
        nodes.push(n("x").label("disk", "hdd"));
        nodes.push(n("y").label("disk", "hdd"));
        check_fit_error(
            nodes,
            vec![],
            PodSpecBuilder::new("p").node_selector(&[("disk", "ssd")]).build(),
            "0/12 nodes are available: 10 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.",
        );
        let (_, empty) = cluster(vec![], vec![]);
        let got = schedule_one(
            &PodSpecBuilder::new("p").arc(),
            &empty,
            &mut SchedulerState::new(1),
            &SchedulerConfig::default(),
        );
        assert_eq!(got, Err(Error::NoNodesAvailable));
        assert_eq!(
            Error::NoNodesAvailable.to_string(),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn picks_the_best_node_and_rotates_start() {
        let nodes = vec![
            NodeBuilder::new("small", "1", "1Gi"),
            NodeBuilder::new("big", "8", "16Gi"),
            NodeBuilder::new("mid", "4", "8Gi"),
        ];
        let (_, snap) = cluster(nodes, vec![]);
        let mut state = SchedulerState::new(7);
        let pod = PodSpecBuilder::new("p").req("500m", "512Mi").arc();
        let r = schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
        assert_eq!(
            r,
            ScheduleResult {
                node_name: "big".into(),
                evaluated_nodes: 3,
                feasible_nodes: 3
            }
        );
        // The nominated node is tried first and wins if it fits.
        let nominated = PodSpecBuilder::new("p")
            .req("500m", "512Mi")
            .nominated("small")
            .arc();
        let r =
            schedule_one(&nominated, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
        assert_eq!(
            r,
            ScheduleResult {
                node_name: "small".into(),
                evaluated_nodes: 1,
                feasible_nodes: 1
            }
        );
    }

    #[test]
    fn stops_after_enough_feasible_nodes_and_rotates() {
        let nodes: Vec<NodeBuilder> = (0..1000)
            .map(|i| NodeBuilder::new(&format!("n{i:04}"), "4", "8Gi"))
            .collect();
        let (_, snap) = cluster(nodes, vec![]);
        let mut state = SchedulerState::new(7);
        let pod = PodSpecBuilder::new("p").req("100m", "").arc();
        let r = schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
        assert_eq!((r.evaluated_nodes, r.feasible_nodes), (420, 420));
        assert_eq!(state.next_start_node_index, 420);
        schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
        schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
        assert_eq!(state.next_start_node_index, 260);
    }

    #[test]
    fn ties_are_broken_by_the_seed() {
        let nodes: Vec<NodeBuilder> = (0..5)
            .map(|i| NodeBuilder::new(&format!("n{i}"), "4", "8Gi"))
            .collect();
        let (_, snap) = cluster(nodes, vec![]);
        let pod = PodSpecBuilder::new("p").req("100m", "").arc();
        let pick = |seed| {
            let mut state = SchedulerState::new(seed);
            schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default())
                .expect("fits")
                .node_name
        };
        assert_eq!(pick(3), pick(3));
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50 {
            seen.insert(pick(seed));
        }
        assert_eq!(
            seen.len(),
            5,
            "every tied node gets picked for some seed: {seen:?}"
        );
    }

    #[test]
    fn assume_then_schedule_spreads_load() {
        let nodes = vec![
            NodeBuilder::new("a", "2", "4Gi"),
            NodeBuilder::new("b", "2", "4Gi"),
        ];
        let (mut cache, mut snap) = cluster(nodes, vec![]);
        let mut state = SchedulerState::new(1);
        let mut placed: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..4 {
            let pod = PodSpecBuilder::new(&format!("p{i}")).req("1", "1Gi").arc();
            cache.update_snapshot(&mut snap);
            let r =
                schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default()).expect("fits");
            cache.assume(pod, &r.node_name).expect("assume");
            *placed.entry(r.node_name).or_default() += 1;
        }
        assert_eq!(
            placed,
            BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 2)])
        );
        cache.update_snapshot(&mut snap);
        let pod = PodSpecBuilder::new("p9").req("1", "1Gi").arc();
        let err = schedule_one(&pod, &snap, &mut state, &SchedulerConfig::default());
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("0/2 nodes are available: 2 Insufficient cpu.".to_string())
        );
    }

    /// Not a timed assertion: prints µs per schedule_one at 5,000 nodes (run with
    /// `--release -- --nocapture bench_schedule_one` for meaningful numbers).
    #[test]
    fn bench_schedule_one() {
        let n_nodes = 5000;
        let mut cache = Cache::new();
        for i in 0..n_nodes {
            cache.add_node(
                NodeBuilder::new(&format!("node-{i:05}"), "32", "128Gi")
                    .zone(&format!("z{}", i % 3))
                    .arc(),
            );
        }
        for i in 0..n_nodes * 10 {
            let pod = PodSpecBuilder::new(&format!("old-{i}"))
                .req("100m", "128Mi")
                .node(&format!("node-{:05}", i % n_nodes))
                .arc();
            cache.add_pod(pod);
        }
        let mut snap = Snapshot::new();
        let mut state = SchedulerState::new(42);
        let config = SchedulerConfig::default();
        let n_pods = if cfg!(debug_assertions) { 200 } else { 5000 };
        let pods: Vec<Arc<Pod>> = (0..n_pods)
            .map(|i| {
                PodSpecBuilder::new(&format!("new-{i}"))
                    .req("250m", "256Mi")
                    .arc()
            })
            .collect();
        let t0 = Instant::now();
        let mut schedule_ns = 0u128;
        for pod in &pods {
            cache.update_snapshot(&mut snap);
            let t = Instant::now();
            let r = schedule_one(pod, &snap, &mut state, &config).expect("fits");
            schedule_ns += t.elapsed().as_nanos();
            cache.assume(Arc::clone(pod), &r.node_name).expect("assume");
        }
        let total = t0.elapsed();
        println!(
            "schedule_one at {n_nodes} nodes: {:.1} µs per pod; with snapshot update and assume: {:.1} µs per pod ({} pods)",
            schedule_ns as f64 / n_pods as f64 / 1000.0,
            total.as_secs_f64() * 1e6 / n_pods as f64,
            n_pods
        );
    }
}
