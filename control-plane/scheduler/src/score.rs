//! The Score plugins of the default profile: each scores the feasible nodes 0..=100,
//! normalizes like kube-scheduler, and is weighted and summed.
//!
//! ImageLocality (weight 1 in kube-scheduler) is omitted: the core does not track images.

use crate::cache::{NodeInfo, Snapshot};
use crate::filter::Prepared;
use crate::interpod::InterPodScoreState;
use crate::schedule::{SchedulerConfig, ScoringStrategy};
use crate::selector::Effect;
use crate::spread::SpreadScoreState;

/// kube-scheduler's default plugin weights.
pub(crate) const WEIGHT_TAINT_TOLERATION: i64 = 3;
pub(crate) const WEIGHT_NODE_AFFINITY: i64 = 2;
pub(crate) const WEIGHT_NODE_RESOURCES_FIT: i64 = 1;
pub(crate) const WEIGHT_POD_TOPOLOGY_SPREAD: i64 = 2;
pub(crate) const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
pub(crate) const WEIGHT_BALANCED_ALLOCATION: i64 = 1;

const MAX_NODE_SCORE: i64 = 100;

/// Reusable buffers so scoring does not allocate per cycle.
#[derive(Debug, Default)]
pub(crate) struct ScoreBuffers {
    pub(crate) totals: Vec<i64>,
    plugin: Vec<i64>,
}

/// Sums the weighted scores of every plugin into `buf.totals`, one per feasible node.
pub(crate) fn score_nodes(
    prepared: &Prepared<'_>,
    snapshot: &Snapshot,
    feasible: &[usize],
    config: &SchedulerConfig,
    buf: &mut ScoreBuffers,
) {
    let ScoreBuffers { totals, plugin } = buf;
    totals.clear();
    totals.resize(feasible.len(), 0);
    let nodes = || feasible.iter().map(|&i| &*snapshot.nodes[i]);
    let add = |totals: &mut Vec<i64>, plugin: &[i64], weight: i64| {
        for (t, s) in totals.iter_mut().zip(plugin) {
            *t += s * weight;
        }
    };

    // TaintToleration: intolerable PreferNoSchedule taints, fewer is better.
    plugin.clear();
    plugin.extend(nodes().map(|n| intolerable_prefer_no_schedule(prepared, n)));
    default_normalize(plugin, true);
    add(totals, plugin, WEIGHT_TAINT_TOLERATION);

    // NodeAffinity: weights of matching preferred terms.
    if !prepared.preferred_node_affinity.is_empty() {
        plugin.clear();
        plugin.extend(nodes().map(|n| {
            prepared
                .preferred_node_affinity
                .iter()
                .filter(|(_, t)| t.matches(n.name(), n.labels()))
                .map(|(w, _)| w)
                .sum::<i64>()
        }));
        default_normalize(plugin, false);
        add(totals, plugin, WEIGHT_NODE_AFFINITY);
    }

    // NodeResourcesFit: cpu and memory, weight 1 each, with the non-zero requests.
    let pod = prepared.pod;
    plugin.clear();
    plugin.extend(nodes().map(|n| {
        let cpu = resource_score(
            config.scoring_strategy,
            n.non_zero_milli_cpu + pod.non_zero_milli_cpu,
            n.allocatable.milli_cpu,
        );
        let mem = resource_score(
            config.scoring_strategy,
            n.non_zero_memory_bytes + pod.non_zero_memory_bytes,
            n.allocatable.memory_bytes,
        );
        average(cpu, mem)
    }));
    add(totals, plugin, WEIGHT_NODE_RESOURCES_FIT);

    // NodeResourcesBalancedAllocation: skipped for best-effort pods (kube-scheduler 1.33).
    if pod.requests.milli_cpu != 0 || pod.requests.memory_bytes != 0 {
        plugin.clear();
        plugin.extend(nodes().map(|n| {
            balanced_score(
                (
                    n.requested.milli_cpu + pod.requests.milli_cpu,
                    n.allocatable.milli_cpu,
                ),
                (
                    n.requested.memory_bytes + pod.requests.memory_bytes,
                    n.allocatable.memory_bytes,
                ),
            )
        }));
        add(totals, plugin, WEIGHT_BALANCED_ALLOCATION);
    }

    // PodTopologySpread: ScheduleAnyway constraints.
    if let Some(s) = SpreadScoreState::compute(prepared, snapshot, feasible) {
        s.scores(prepared, snapshot, feasible, plugin);
        add(totals, plugin, WEIGHT_POD_TOPOLOGY_SPREAD);
    }

    // InterPodAffinity: preferred terms both ways, existing pods' required affinity.
    if let Some(s) = InterPodScoreState::compute(pod, snapshot, config.hard_pod_affinity_weight) {
        s.scores(snapshot, feasible, plugin);
        add(totals, plugin, WEIGHT_INTER_POD_AFFINITY);
    }
}

fn intolerable_prefer_no_schedule(prepared: &Prepared<'_>, node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == Effect::PreferNoSchedule)
        .filter(|t| {
            !prepared
                .tolerations
                .iter()
                .any(|tol| tol.applies_to_prefer_no_schedule() && tol.tolerates(t))
        })
        .count() as i64
}

/// `helper.DefaultNormalizeScore`: scale to 0..=100 by the maximum, reversed if asked.
fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        if max == 0 {
            *s = if reverse { MAX_NODE_SCORE } else { 0 };
        } else {
            let v = MAX_NODE_SCORE * *s / max;
            *s = if reverse { MAX_NODE_SCORE - v } else { v };
        }
    }
}

/// LeastAllocated or MostAllocated for one resource; `None` when the node has none of it.
fn resource_score(strategy: ScoringStrategy, requested: i64, capacity: i64) -> Option<i64> {
    if capacity == 0 {
        return None;
    }
    Some(match strategy {
        ScoringStrategy::LeastAllocated => {
            if requested > capacity {
                0
            } else {
                (capacity - requested) * MAX_NODE_SCORE / capacity
            }
        }
        ScoringStrategy::MostAllocated => requested.min(capacity) * MAX_NODE_SCORE / capacity,
    })
}

/// Weighted average (weights 1) of the resources the node has.
fn average(a: Option<i64>, b: Option<i64>) -> i64 {
    match (a, b) {
        (Some(a), Some(b)) => (a + b) / 2,
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 0,
    }
}

/// `balancedResourceScorer` for cpu and memory: 100 * (1 - std of the used fractions).
fn balanced_score(cpu: (i64, i64), memory: (i64, i64)) -> i64 {
    let fraction =
        |(req, alloc): (i64, i64)| (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0));
    let std = match (fraction(cpu), fraction(memory)) {
        (Some(a), Some(b)) => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};

    use super::*;
    use crate::filter::{filter, PreFilterState};
    use crate::podinfo::PodInfo;
    use crate::testutil::{affinity_term, node_req, NodeBuilder, PodSpecBuilder};
    use crate::Cache;

    #[test]
    fn resource_scores() {
        use ScoringStrategy::*;
        let cases = [
            (LeastAllocated, 0, 1000, Some(100)),
            (LeastAllocated, 250, 1000, Some(75)),
            (LeastAllocated, 1000, 1000, Some(0)),
            (LeastAllocated, 1500, 1000, Some(0)),
            (MostAllocated, 250, 1000, Some(25)),
            (MostAllocated, 1500, 1000, Some(100)),
            (LeastAllocated, 10, 0, None),
        ];
        for (strategy, req, cap, want) in cases {
            assert_eq!(
                resource_score(strategy, req, cap),
                want,
                "{strategy:?} {req}/{cap}"
            );
        }
        assert_eq!(balanced_score((500, 1000), (500, 1000)), 100);
        assert_eq!(balanced_score((1000, 1000), (0, 1000)), 50);
        assert_eq!(balanced_score((3000, 1000), (0, 1000)), 50);
        assert_eq!(balanced_score((600, 1000), (200, 1000)), 80);
        let mut s = [0, 2, 4];
        default_normalize(&mut s, false);
        assert_eq!(s, [0, 50, 100]);
        let mut s = [0, 2, 4];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 50, 0]);
        let mut s = [0, 0];
        default_normalize(&mut s, true);
        assert_eq!(s, [100, 100]);
    }

    /// Total weighted scores of every node for `pod`, in node-name order.
    fn check(
        name: &str,
        pod: Pod,
        nodes: Vec<Arc<Node>>,
        existing: Vec<Pod>,
        config: &SchedulerConfig,
        want: &[(&str, i64)],
    ) {
        let mut cache = Cache::new();
        for n in nodes {
            cache.add_node(n);
        }
        for p in existing {
            cache.add_pod(Arc::new(p));
        }
        let mut snap = Snapshot::new();
        cache.update_snapshot(&mut snap);
        let info = PodInfo::new(Arc::new(pod));
        let prepared = Prepared::new(&info);
        let pre = PreFilterState::compute(&prepared, &snap);
        let feasible: Vec<usize> = (0..snap.nodes.len())
            .filter(|&i| filter(&prepared, &pre, &snap.nodes[i]).is_ok())
            .collect();
        let mut buf = ScoreBuffers::default();
        score_nodes(&prepared, &snap, &feasible, config, &mut buf);
        let mut got: Vec<(&str, i64)> = feasible
            .iter()
            .zip(&buf.totals)
            .map(|(&i, &s)| (snap.nodes[i].name(), s))
            .collect();
        got.sort();
        assert_eq!(got, want, "{name}");
    }

    const ZONE: &str = "topology.kubernetes.io/zone";

    #[test]
    fn weighted_scores() {
        let least = SchedulerConfig::default();
        let most = SchedulerConfig {
            scoring_strategy: ScoringStrategy::MostAllocated,
            ..Default::default()
        };
        let two = || {
            vec![
                NodeBuilder::new("a", "4", "4Gi").arc(),
                NodeBuilder::new("b", "4", "4Gi").arc(),
            ]
        };
        let busy_a = vec![PodSpecBuilder::new("e").req("2", "2Gi").node("a").build()];
        let pod = || PodSpecBuilder::new("p").req("1", "1Gi");
        // Taint 300 + fit + balanced 100 on both.
        // a: cpu 3000/4000 -> 25, mem 3Gi/4Gi -> 25: fit 25. b: 75, 75: fit 75.
        check(
            "least allocated",
            pod().build(),
            two(),
            busy_a.clone(),
            &least,
            &[("a", 300 + 25 + 100), ("b", 300 + 75 + 100)],
        );
        check(
            "most allocated",
            pod().build(),
            two(),
            busy_a.clone(),
            &most,
            &[("a", 300 + 75 + 100), ("b", 300 + 25 + 100)],
        );
        // Best effort: non-zero defaults 100m/200Mi for fit, balanced skipped.
        // a: cpu (2000+100)/4000 -> 47, mem (2Gi+200Mi)/4Gi -> 45: 46. b: 100/4000 -> 97, 200Mi/4Gi -> 95: 96.
        check(
            "best effort",
            PodSpecBuilder::new("p").req("", "").build(),
            two(),
            busy_a,
            &least,
            &[("a", 300 + 46), ("b", 300 + 96)],
        );
        // Balanced: cpu-heavy pod on a memory-heavy node is better balanced.
        let mem_heavy = vec![PodSpecBuilder::new("e").req("", "2Gi").node("a").build()];
        // a: cpu 2000/4000=.5 mem (2Gi)/4Gi=.5 -> 100; b: .5 vs 0 -> 75.
        // fit a: cpu (100m+2)/4 -> 47, mem (2Gi+200Mi)/4Gi -> 45: 46; b: cpu 50, mem 200Mi -> 95: 72.
        check(
            "balanced",
            PodSpecBuilder::new("p").req("2", "").build(),
            two(),
            mem_heavy,
            &least,
            &[("a", 300 + 46 + 100), ("b", 300 + 72 + 75)],
        );
    }

    #[test]
    fn taint_and_node_affinity_scores() {
        let config = SchedulerConfig::default();
        let nodes = || {
            vec![
                NodeBuilder::new("a", "4", "4Gi")
                    .taint("x", "1", "PreferNoSchedule")
                    .taint("y", "1", "PreferNoSchedule")
                    .arc(),
                NodeBuilder::new("b", "4", "4Gi")
                    .taint("x", "1", "PreferNoSchedule")
                    .label("disk", "ssd")
                    .arc(),
                NodeBuilder::new("c", "4", "4Gi")
                    .label("disk", "ssd")
                    .label("gpu", "yes")
                    .arc(),
            ]
        };
        // Resource scores are equal everywhere (fit 97 for 100m/200Mi on 4/4Gi: cpu 97, mem 95 -> 96).
        let fit = 96;
        // Taint counts 2,1,0 -> normalized reversed 0,50,100 -> x3.
        check(
            "prefer no schedule",
            PodSpecBuilder::new("p").req("", "").build(),
            nodes(),
            vec![],
            &config,
            &[("a", fit), ("b", 150 + fit), ("c", 300 + fit)],
        );
        check(
            "tolerated prefer no schedule",
            PodSpecBuilder::new("p")
                .req("", "")
                .toleration("x", "Exists", "", "PreferNoSchedule")
                .build(),
            nodes(),
            vec![],
            &config,
            &[("a", fit), ("b", 300 + fit), ("c", 300 + fit)],
        );
        // Preferred node affinity: weights 10 (ssd) and 30 (gpu): a 0, b 10, c 40 -> 0, 25, 100 -> x2.
        check(
            "preferred node affinity",
            PodSpecBuilder::new("p")
                .req("", "")
                .toleration("", "Exists", "", "")
                .preferred_node_affinity(10, vec![node_req("disk", "In", &["ssd"])])
                .preferred_node_affinity(30, vec![node_req("gpu", "Exists", &[])])
                .build(),
            nodes(),
            vec![],
            &config,
            &[
                ("a", 300 + fit),
                ("b", 300 + 50 + fit),
                ("c", 300 + 200 + fit),
            ],
        );
    }

    #[test]
    fn spread_and_inter_pod_scores() {
        let config = SchedulerConfig::default();
        let nodes = || {
            vec![
                NodeBuilder::new("a1", "4", "4Gi").zone("a").arc(),
                NodeBuilder::new("a2", "4", "4Gi").zone("a").arc(),
                NodeBuilder::new("b1", "4", "4Gi").zone("b").arc(),
            ]
        };
        let web = |name: &str, node: &str| {
            PodSpecBuilder::new(name)
                .req("", "")
                .labels(&[("app", "web")])
                .node(node)
                .build()
        };
        let existing = vec![web("w1", "a1"), web("w2", "a2")];
        // Base: taint 300; fit differs on a1/a2 (existing pods have no requests: non-zero 100m/200Mi).
        // a1/a2: cpu (100+100)/4000 -> 95, mem 400Mi/4Gi -> 90: 92. b1: 96.
        // Spread (soft, zone, maxSkew 1): weight ln(2+2); a: 2*1.386 = 2.77 -> 3, b: 0.
        // Normalized: 100*(3+0-s)/3: a 0, b 100 -> x2.
        check(
            "soft spread",
            PodSpecBuilder::new("p")
                .req("", "")
                .labels(&[("app", "web")])
                .spread(1, ZONE, false, &[("app", "web")])
                .build(),
            nodes(),
            existing.clone(),
            &config,
            &[("a1", 300 + 92), ("a2", 300 + 92), ("b1", 300 + 96 + 200)],
        );
        // Preferred affinity to web, weight 5: zone a scores 10, zone b 0 -> 100, 0 -> x2.
        check(
            "preferred affinity",
            PodSpecBuilder::new("p")
                .req("", "")
                .preferred_pod_affinity(5, affinity_term(&[("app", "web")], ZONE))
                .build(),
            nodes(),
            existing.clone(),
            &config,
            &[
                ("a1", 300 + 92 + 200),
                ("a2", 300 + 92 + 200),
                ("b1", 300 + 96),
            ],
        );
        check(
            "preferred anti-affinity",
            PodSpecBuilder::new("p")
                .req("", "")
                .preferred_pod_anti_affinity(5, affinity_term(&[("app", "web")], ZONE))
                .build(),
            nodes(),
            existing.clone(),
            &config,
            &[("a1", 300 + 92), ("a2", 300 + 92), ("b1", 300 + 96 + 200)],
        );
        // An existing pod's required affinity to the incoming pod attracts it (hard weight 1).
        let lover = vec![PodSpecBuilder::new("l")
            .req("", "")
            .pod_affinity(affinity_term(&[("app", "db")], "kubernetes.io/hostname"))
            .node("b1")
            .build()];
        check(
            "existing required affinity",
            PodSpecBuilder::new("p")
                .req("", "")
                .labels(&[("app", "db")])
                .build(),
            nodes(),
            lover,
            &config,
            &[("a1", 300 + 96), ("a2", 300 + 96), ("b1", 300 + 92 + 200)],
        );
    }
}
