//! The nemesis's fault schedule: a pure function of the seed, the fault classes, the number
//! of replicas and the run's length, generated up front (the same seed gives the same
//! schedule). Targets that depend on the run (the leader) are resolved when executed.

use crate::rng::Rng;
use serde::Serialize;

/// Fault classes, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Network partitions: random halves, majority/minority, the leader isolated, a bridge.
    Partition,
    /// kill -9 of one or more replicas (often the leader), restarted at the heal.
    Kill,
    /// SIGSTOP of one or more replicas, SIGCONT at the heal.
    Pause,
    /// Remove a member, wipe its data, re-add it at the heal.
    Membership,
    /// Compaction and defragmentation under load.
    Compaction,
    /// Slow or failing disk writes through failpoints (needs a `failpoints` build).
    Disk,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Partition,
        Class::Kill,
        Class::Pause,
        Class::Membership,
        Class::Compaction,
        Class::Disk,
    ];

    pub fn parse(s: &str) -> Option<Class> {
        Some(match s {
            "partition" => Class::Partition,
            "kill" => Class::Kill,
            "pause" => Class::Pause,
            "membership" => Class::Membership,
            "compaction" | "compact" => Class::Compaction,
            "disk" | "failpoints" => Class::Disk,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::Partition => "partition",
            Class::Kill => "kill",
            Class::Pause => "pause",
            Class::Membership => "membership",
            Class::Compaction => "compaction",
            Class::Disk => "disk",
        }
    }
}

/// Which replicas a fault hits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The current leader (resolved at execution; a random replica if none is known).
    Leader,
    Nodes(Vec<usize>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Replicas in different groups cannot talk; replicas in no group talk to no one.
    Partition {
        name: String,
        groups: Vec<Vec<usize>>,
    },
    /// The leader alone on one side.
    IsolateLeader,
    Kill {
        target: Target,
    },
    Pause {
        target: Target,
    },
    /// Remove the member, wipe it; the heal re-adds it with an empty data dir.
    Membership {
        node: usize,
    },
    /// Compact at a revision every watcher has passed, then defragment `defrag` replicas.
    Compaction {
        defrag: Vec<usize>,
    },
    /// Restart the replica with failpoints (`failing`: errors, else delays) until the heal.
    Disk {
        node: usize,
        failing: bool,
    },
}

impl Fault {
    pub fn class(&self) -> Class {
        match self {
            Fault::Partition { .. } | Fault::IsolateLeader => Class::Partition,
            Fault::Kill { .. } => Class::Kill,
            Fault::Pause { .. } => Class::Pause,
            Fault::Membership { .. } => Class::Membership,
            Fault::Compaction { .. } => Class::Compaction,
            Fault::Disk { .. } => Class::Disk,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Start(Fault),
    /// Undo every active fault.
    Heal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub at_ms: u64,
    pub action: Action,
}

/// Timing of faults for a run of `duration_ms`: (shortest fault, longest fault, gap).
fn timing(duration_ms: u64) -> (u64, u64, u64) {
    let min = (duration_ms / 24).clamp(1_500, 5_000);
    (min, min * 2, (min / 2).max(1_000))
}

/// The schedule: faults one at a time, each healed before the next, the last healed by
/// `duration_ms`. Pure: the same arguments give the same schedule.
pub fn schedule(seed: u64, classes: &[Class], n_nodes: usize, duration_ms: u64) -> Vec<Step> {
    assert!(n_nodes >= 1, "a schedule needs replicas");
    let mut rng = Rng::new(seed);
    let mut steps = Vec::new();
    if classes.is_empty() {
        return steps;
    }
    let (min_ms, max_ms, gap_ms) = timing(duration_ms);
    let mut t = gap_ms.min(2_000);
    loop {
        let length = rng.range(min_ms, max_ms);
        if t + length + 500 > duration_ms {
            break;
        }
        let class = *rng.pick(classes);
        let fault = fault(&mut rng, class, n_nodes);
        let instant = matches!(fault, Fault::Compaction { .. });
        steps.push(Step {
            at_ms: t,
            action: Action::Start(fault),
        });
        let heal_at = if instant { t + 500 } else { t + length };
        steps.push(Step {
            at_ms: heal_at,
            action: Action::Heal,
        });
        t = heal_at + rng.range(gap_ms, gap_ms * 3 / 2);
    }
    steps
}

fn minority(rng: &mut Rng, n_nodes: usize) -> Vec<usize> {
    let k = rng.range(1, ((n_nodes - 1) / 2).max(1) as u64) as usize;
    let mut v: Vec<usize> = rng.shuffled(n_nodes).into_iter().take(k).collect();
    v.sort();
    v
}

fn fault(rng: &mut Rng, class: Class, n: usize) -> Fault {
    match class {
        Class::Partition => match rng.below(4) {
            0 => {
                // Random halves.
                let p = rng.shuffled(n);
                let cut = n.div_ceil(2);
                let (mut a, mut b) = (p[..cut].to_vec(), p[cut..].to_vec());
                a.sort();
                b.sort();
                Fault::Partition {
                    name: "random halves".into(),
                    groups: vec![a, b],
                }
            }
            1 => {
                let minor = minority(rng, n);
                let major: Vec<usize> = (0..n).filter(|i| !minor.contains(i)).collect();
                Fault::Partition {
                    name: "majority/minority".into(),
                    groups: vec![major, minor],
                }
            }
            2 => Fault::IsolateLeader,
            _ => {
                // A bridge: one replica sees both halves, the halves do not see each other.
                let p = rng.shuffled(n);
                let mid = p[0];
                let rest = &p[1..];
                let half = rest.len() / 2;
                let mut a: Vec<usize> = rest[..half].iter().copied().chain([mid]).collect();
                let mut b: Vec<usize> = rest[half..].iter().copied().chain([mid]).collect();
                a.sort();
                b.sort();
                Fault::Partition {
                    name: format!("bridge through n{}", mid + 1),
                    groups: vec![a, b],
                }
            }
        },
        Class::Kill => {
            if rng.chance(40) {
                Fault::Kill {
                    target: Target::Leader,
                }
            } else {
                Fault::Kill {
                    target: Target::Nodes(minority(rng, n)),
                }
            }
        }
        Class::Pause => {
            if rng.chance(40) {
                Fault::Pause {
                    target: Target::Leader,
                }
            } else {
                Fault::Pause {
                    target: Target::Nodes(minority(rng, n)),
                }
            }
        }
        Class::Membership => Fault::Membership {
            node: rng.below(n as u64) as usize,
        },
        Class::Compaction => {
            let k = rng.range(1, n as u64) as usize;
            let mut defrag: Vec<usize> = rng.shuffled(n).into_iter().take(k).collect();
            defrag.sort();
            Fault::Compaction { defrag }
        }
        Class::Disk => Fault::Disk {
            node: rng.below(n as u64) as usize,
            failing: rng.chance(30),
        },
    }
}

/// The failpoint settings (the `FAILPOINTS` variable) for a disk fault.
pub fn failpoints(failing: bool) -> &'static str {
    if failing {
        "raftlog-before-fsync=3%return;engine-before-apply-write=1%return"
    } else {
        "raftlog-before-fsync=sleep(120);engine-before-apply-write=20%sleep(40)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_schedule() {
        let a = schedule(42, &Class::ALL, 5, 120_000);
        assert_eq!(a, schedule(42, &Class::ALL, 5, 120_000));
        assert_ne!(a, schedule(43, &Class::ALL, 5, 120_000));
        assert!(a.len() >= 10, "{a:?}");
    }

    #[test]
    fn faults_alternate_with_heals_and_end_healed() {
        for seed in 0..50 {
            let s = schedule(seed, &Class::ALL, 5, 60_000);
            for (i, step) in s.iter().enumerate() {
                assert_eq!(
                    matches!(step.action, Action::Heal),
                    i % 2 == 1,
                    "seed {seed}: {s:?}"
                );
                assert!(step.at_ms < 60_000);
                if i > 0 {
                    assert!(step.at_ms > s[i - 1].at_ms);
                }
            }
            assert!(s.last().is_none_or(|l| l.action == Action::Heal));
        }
    }

    #[test]
    fn faults_never_take_a_majority_down() {
        for seed in 0..200 {
            for step in schedule(seed, &[Class::Kill, Class::Pause], 5, 60_000) {
                if let Action::Start(
                    Fault::Kill {
                        target: Target::Nodes(n),
                    }
                    | Fault::Pause {
                        target: Target::Nodes(n),
                    },
                ) = step.action
                {
                    assert!(n.len() <= 2, "{n:?}");
                }
            }
        }
    }

    #[test]
    fn a_short_run_still_gets_a_fault() {
        let s = schedule(1, &[Class::Kill], 3, 8_000);
        assert!(
            s.iter().any(|s| matches!(s.action, Action::Start(_))),
            "{s:?}"
        );
    }
}
