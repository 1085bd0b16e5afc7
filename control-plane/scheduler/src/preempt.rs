//! DefaultPreemption: for a pod that fits nowhere, find a node where evicting lower-priority
//! pods makes it fit, with the fewest and least important victims.
//!
//! Differences from kube-scheduler: PodDisruptionBudgets are not considered (every candidate
//! has zero PDB violations), nominated pods are not added to the dry runs, and the
//! "terminating pod on the nominated node" eligibility check is left to the shell.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::cache::{NodeInfo, Snapshot};
use crate::filter::{filter, PreFilterState, Prepared};
use crate::podinfo::{PodInfo, PodRef};
use crate::{FitError, SchedulerState};

/// kube-scheduler's DefaultPreemption minCandidateNodesPercentage.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// kube-scheduler's DefaultPreemption minCandidateNodesAbsolute.
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

const REASON_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const REASON_NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Where to make room and whom to evict. The shell deletes the victims and sets the pod's
/// status.nominatedNodeName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The node to make room on.
    pub node_name: String,
    /// Pods to evict, most important first.
    pub victims: Vec<PodRef>,
}

/// Why preemption found no candidate. `Display` is the PostFilter message kube-scheduler
/// appends to the FitError: `preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreemptionFailure {
    message: String,
}

impl fmt::Display for PreemptionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "preemption: {}", self.message)
    }
}

/// `calculateNumCandidates`: 10 % of the nodes, at least 100, at most all.
fn num_candidates(n_nodes: usize) -> usize {
    (n_nodes * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(n_nodes)
}

/// kube-scheduler's `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| start_time_key(a.start_time()).cmp(&start_time_key(b.start_time())))
}

/// A missing start time counts as now, i.e. later than any recorded one.
fn start_time_key(t: Option<&Time>) -> (bool, Option<Time>) {
    (t.is_none(), t.cloned())
}

struct Victims {
    node_idx: usize,
    pods: Vec<Arc<PodInfo>>,
}

/// Finds a preemption candidate for `pod`, which just failed `schedule_one` on `snapshot`.
pub fn preempt(
    pod: &Arc<Pod>,
    snapshot: &Snapshot,
    state: &mut SchedulerState,
) -> Result<Candidate, PreemptionFailure> {
    let info = PodInfo::new(Arc::clone(pod));
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref());
    if policy == Some("Never") {
        return Err(PreemptionFailure {
            message: "not eligible due to preemptionPolicy=Never.".to_string(),
        });
    }
    let prepared = Prepared::new(&info);
    let pre = PreFilterState::compute(&prepared, snapshot);
    let n_nodes = snapshot.nodes.len();

    // nodesWherePreemptionMightHelp
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut potential = Vec::new();
    for (idx, node) in snapshot.nodes.iter().enumerate() {
        match filter(&prepared, &pre, node) {
            Err(r) if r.unresolvable() => {
                *statuses.entry(REASON_NOT_HELPFUL.to_string()).or_default() += 1
            }
            _ => potential.push(idx),
        }
    }
    if potential.is_empty() {
        return Err(PreemptionFailure {
            message: FitError::new(n_nodes, statuses).to_string(),
        });
    }

    // dryRunPreemption from a random offset, until enough candidates.
    let want = num_candidates(potential.len());
    let offset = state.below(potential.len());
    let mut candidates = Vec::new();
    for i in 0..potential.len() {
        let idx = potential[(offset + i) % potential.len()];
        match select_victims(&prepared, &pre, snapshot, idx) {
            Ok(pods) => {
                candidates.push(Victims {
                    node_idx: idx,
                    pods,
                });
                if candidates.len() >= want {
                    break;
                }
            }
            Err(reasons) => {
                for r in reasons {
                    *statuses.entry(r).or_default() += 1;
                }
            }
        }
    }
    let Some(best) = pick_one(candidates) else {
        return Err(PreemptionFailure {
            message: FitError::new(n_nodes, statuses).to_string(),
        });
    };
    Ok(Candidate {
        node_name: snapshot.nodes[best.node_idx].name().to_string(),
        victims: best.pods.iter().map(|p| p.pod_ref.clone()).collect(),
    })
}

/// `SelectVictimsOnNode`: remove every lower-priority pod; if the pod then fits, add them back
/// most important first while it still fits. Err holds the node's failure reasons.
fn select_victims(
    prepared: &Prepared<'_>,
    pre: &PreFilterState,
    snapshot: &Snapshot,
    idx: usize,
) -> Result<Vec<Arc<PodInfo>>, Vec<String>> {
    let original = &snapshot.nodes[idx];
    let mut node: NodeInfo = (**original).clone();
    let mut pre = pre.clone();
    let mut potential: Vec<Arc<PodInfo>> = original
        .pods
        .iter()
        .filter(|p| p.priority < prepared.pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(vec![REASON_NO_VICTIMS.to_string()]);
    }
    for p in &potential {
        node.remove_pod(&p.pod_ref.key());
        pre.update(prepared, p, &node, snapshot, -1);
    }
    if let Err(r) = filter(prepared, &pre, &node) {
        return Err(r.reasons(&node, prepared.pod));
    }
    potential.sort_by(|a, b| more_important(a, b));
    let mut victims = Vec::new();
    for p in potential {
        node.add_pod(Arc::clone(&p));
        pre.update(prepared, &p, &node, snapshot, 1);
        if filter(prepared, &pre, &node).is_err() {
            node.remove_pod(&p.pod_ref.key());
            pre.update(prepared, &p, &node, snapshot, -1);
            victims.push(p);
        }
    }
    Ok(victims)
}

/// `pickOneNodeForPreemption` without PDBs: lowest highest-victim priority, smallest sum of
/// priorities, fewest victims, latest start of the highest-priority victims, then first.
fn pick_one(candidates: Vec<Victims>) -> Option<Victims> {
    // A node needing no victims wins outright.
    if let Some(i) = candidates.iter().position(|c| c.pods.is_empty()) {
        return candidates.into_iter().nth(i);
    }
    let highest = |c: &Victims| c.pods.iter().map(|p| p.priority).max().unwrap_or(i32::MIN);
    let sum = |c: &Victims| {
        c.pods
            .iter()
            .map(|p| i64::from(i32::MAX) + i64::from(p.priority) + 1)
            .sum::<i64>()
    };
    // The earliest start among the highest-priority victims (missing = now = latest).
    let earliest = |c: &Victims| {
        let top = highest(c);
        c.pods
            .iter()
            .filter(|p| p.priority == top)
            .map(|p| start_time_key(p.start_time()))
            .min()
    };
    let mut best: Option<Victims> = None;
    for c in candidates {
        let better = match &best {
            None => true,
            Some(b) => {
                highest(&c)
                    .cmp(&highest(b))
                    .then_with(|| sum(&c).cmp(&sum(b)))
                    .then_with(|| c.pods.len().cmp(&b.pods.len()))
                    .then_with(|| earliest(b).cmp(&earliest(&c)))
                    == Ordering::Less
            }
        };
        if better {
            best = Some(c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{NodeBuilder, PodSpecBuilder};
    use crate::{schedule_one, Cache, Error, SchedulerConfig};

    fn snapshot(nodes: Vec<NodeBuilder>, pods: Vec<PodSpecBuilder>) -> Snapshot {
        let mut cache = Cache::new();
        for n in nodes {
            cache.add_node(n.arc());
        }
        for p in pods {
            cache.add_pod(p.arc());
        }
        let mut snap = Snapshot::new();
        cache.update_snapshot(&mut snap);
        snap
    }

    /// Preempts for `pod` and compares the outcome: `Ok((node, victim names))` or the full
    /// FailedScheduling message (FitError plus preemption part).
    fn check(
        name: &str,
        snap: &Snapshot,
        pod: PodSpecBuilder,
        want: Result<(&str, &[&str]), &str>,
    ) {
        let pod = pod.arc();
        let mut state = SchedulerState::new(5);
        let fit = match schedule_one(&pod, snap, &mut state, &SchedulerConfig::default()) {
            Err(Error::Unschedulable(fit)) => fit,
            other => panic!("{name}: expected unschedulable, got {other:?}"),
        };
        let got = preempt(&pod, snap, &mut state);
        match (got, want) {
            (Ok(c), Ok((node, victims))) => {
                let names: Vec<&str> = c.victims.iter().map(|v| v.name.as_str()).collect();
                assert_eq!(
                    (c.node_name.as_str(), names.as_slice()),
                    (node, victims),
                    "{name}"
                );
            }
            (Err(f), Err(msg)) => assert_eq!(fit.message_with_preemption(&f), msg, "{name}"),
            (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }

    fn node(name: &str) -> NodeBuilder {
        NodeBuilder::new(name, "4", "8Gi")
    }

    fn running(name: &str, node: &str, cpu: &str, priority: i32) -> PodSpecBuilder {
        PodSpecBuilder::new(name)
            .req(cpu, "")
            .priority(priority)
            .node(node)
    }

    #[test]
    fn chooses_fewest_and_lowest_victims() {
        // n1: two low pods of 2 cpu; n2: one low pod of 4 cpu; n3: a priority-5 pod of 4 cpu.
        let snap = snapshot(
            vec![node("n1"), node("n2"), node("n3")],
            vec![
                running("a", "n1", "2", 1),
                running("b", "n1", "2", 1),
                running("c", "n2", "4", 1),
                running("d", "n3", "4", 5),
            ],
        );
        check(
            "fewest victims",
            &snap,
            PodSpecBuilder::new("p").req("3", "").priority(10),
            Ok(("n2", &["c"])),
        );
        // Only 2 cpu needed: one victim on n1 suffices; reprieve keeps the other.
        check(
            "reprieve",
            &snap,
            PodSpecBuilder::new("p").req("2", "").priority(10),
            Ok(("n1", &["b"])),
        );
        // Lowest highest-victim priority beats fewer victims.
        let snap = snapshot(
            vec![node("n1"), node("n2")],
            vec![
                running("a", "n1", "2", 1),
                running("b", "n1", "2", 1),
                running("c", "n2", "4", 3),
            ],
        );
        check(
            "lowest priority",
            &snap,
            PodSpecBuilder::new("p").req("3", "").priority(10),
            Ok(("n1", &["a", "b"])),
        );
        // Equal priorities and counts: the node whose victims started latest.
        let snap = snapshot(
            vec![node("n1"), node("n2")],
            vec![
                running("old", "n1", "4", 1).start_time(0),
                running("new", "n2", "4", 1).start_time(100),
            ],
        );
        check(
            "latest start",
            &snap,
            PodSpecBuilder::new("p").req("3", "").priority(10),
            Ok(("n2", &["new"])),
        );
    }

    #[test]
    fn preemption_failures() {
        let snap = snapshot(
            vec![node("n1"), node("n2")],
            vec![running("a", "n1", "4", 10), running("b", "n2", "4", 10)],
        );
        check(
            "equal priority victims do not count",
            &snap,
            PodSpecBuilder::new("p").req("1", "").priority(10),
            Err("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."),
        );
        check(
            "preemptionPolicy Never",
            &snap,
            PodSpecBuilder::new("p").req("1", "").priority(100).preemption_never(),
            Err("0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."),
        );
        let snap = snapshot(
            vec![node("n1").unschedulable(), node("n2"), node("n3")],
            vec![running("a", "n2", "4", 10), running("b", "n3", "3", 0)],
        );
        check(
            "not helpful and no victims",
            &snap,
            PodSpecBuilder::new("p").req("2", "").priority(5),
            Ok(("n3", &["b"])),
        );
        check(
            "mixed failures",
            &snap,
            PodSpecBuilder::new("p").req("2", "").priority(0),
            Err("0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."),
        );
        // Asking more than a node has in total: unresolvable.
        check(
            "larger than any node",
            &snap,
            PodSpecBuilder::new("p").req("5", "").priority(100),
            Err("0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."),
        );
        // Evicting everything is not enough when the pod also misses a port held by a higher pod.
        let snap = snapshot(
            vec![node("n1")],
            vec![
                running("a", "n1", "3", 0),
                PodSpecBuilder::new("h")
                    .host_port(80, "", "")
                    .priority(50)
                    .node("n1"),
            ],
        );
        check(
            "still does not fit",
            &snap,
            PodSpecBuilder::new("p").req("2", "").host_port(80, "", "").priority(10),
            Err("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."),
        );
    }

    #[test]
    fn anti_affinity_victims() {
        use crate::testutil::affinity_term;
        // The incoming pod's anti-affinity is violated by a lower-priority pod: evicting it helps.
        let snap = snapshot(
            vec![node("n1")],
            vec![PodSpecBuilder::new("w")
                .labels(&[("app", "web")])
                .priority(0)
                .node("n1")],
        );
        check(
            "evict the anti-affine pod",
            &snap,
            PodSpecBuilder::new("p")
                .priority(10)
                .pod_anti_affinity(affinity_term(&[("app", "web")], "kubernetes.io/hostname")),
            Ok(("n1", &["w"])),
        );
    }
}
