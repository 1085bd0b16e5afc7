//! The checkers: pure functions from a recorded history to verdicts. Each has unit tests
//! on hand-made good and bad histories (each can fail).

pub mod lease;
pub mod linearizable;
pub mod lost_write;
pub mod watch;

use crate::history::{operations, Op, Outcome, Record};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// Search steps per key before linearizability is called inconclusive.
    pub step_budget: u64,
    /// How late past its TTL an abandoned lease may expire once the cluster is quiet.
    pub lease_grace_ns: u64,
    /// After the quiet phase starts, how long the cluster may take to serve every replica.
    pub recovery_grace_ns: u64,
    /// Replicas that must report HashKV at the end.
    pub n_nodes: usize,
}

/// One checker's verdict, for the summary.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub name: &'static str,
    pub ok: bool,
    pub summary: String,
    pub violations: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Verdicts {
    pub verdicts: Vec<Verdict>,
    /// Register keys whose search passed its budget (not violations, but not proven).
    pub inconclusive_keys: Vec<String>,
}

impl Verdicts {
    pub fn ok(&self) -> bool {
        self.verdicts.iter().all(|v| v.ok)
    }
}

pub fn check_all(records: &[Record], cfg: &CheckConfig) -> Verdicts {
    let ops = operations(records);
    let mut verdicts = Vec::new();

    let lin = linearizable::check(&ops, cfg.step_budget);
    verdicts.push(Verdict {
        name: "linearizable",
        ok: lin.ok(),
        summary: format!("{} keys, {} ops, {} inconclusive", lin.keys_checked, lin.ops_checked, lin.inconclusive.len()),
        violations: lin
            .violations
            .iter()
            .map(|(k, v)| match v {
                linearizable::KeyVerdict::Violation { blocked, placed, total } => format!(
                    "key {k}: no linearization; deepest search placed {placed} of {total} ops and could not place op {} ({:?} by process {} on node {}, {}..{} ms, {:?} {:?})",
                    blocked.id,
                    blocked.op,
                    blocked.process,
                    blocked.node,
                    blocked.invoke_ns / 1_000_000,
                    blocked.complete_ns.map(|c| c / 1_000_000).unwrap_or(u64::MAX),
                    blocked.outcome,
                    blocked.result
                ),
                other => format!("key {k}: {other:?}"),
            })
            .chain(lin.violations.iter().filter_map(|(k, v)| match v {
                linearizable::KeyVerdict::Violation { blocked, .. } => Some(excerpt(&ops, k, blocked)),
                _ => None,
            }))
            .collect(),
    });

    let w = watch::check(records, &ops, true);
    verdicts.push(Verdict {
        name: "watch",
        ok: w.ok(),
        summary: format!(
            "{} watchers, {} events, {} bookmarks, {} restarts ({} compacted), final revision {}",
            w.watchers, w.events, w.bookmarks, w.restarts, w.compacted, w.final_revision
        ),
        violations: w.violations.clone(),
    });

    let quiet_ns = records.iter().find_map(|r| {
        if let Record::QuietStart { t_ns } = r {
            Some(*t_ns)
        } else {
            None
        }
    });
    let end_ns = records.iter().find_map(|r| {
        if let Record::WorkloadEnd { t_ns } = r {
            Some(*t_ns)
        } else {
            None
        }
    });
    let l = lease::check(&ops, quiet_ns, cfg.lease_grace_ns);
    verdicts.push(Verdict {
        name: "lease",
        ok: l.ok(),
        summary: format!(
            "{} leases, {} keep-alives ok, {} seen expired",
            l.leases, l.keep_alives_ok, l.expired_seen
        ),
        violations: l.violations,
    });

    let lw = lost_write::check(&ops, &w.merged, end_ns.unwrap_or(u64::MAX));
    verdicts.push(Verdict {
        name: "no-lost-writes",
        ok: lw.ok(),
        summary: format!(
            "{} acknowledged writes, {} final reads",
            lw.acknowledged_writes, lw.final_reads
        ),
        violations: lw.violations,
    });

    verdicts.push(hashkv(records, cfg.n_nodes));
    if let (Some(q), Some(e)) = (quiet_ns, end_ns) {
        verdicts.push(recovery(&ops, q + cfg.recovery_grace_ns, e));
    }
    Verdicts {
        verdicts,
        inconclusive_keys: lin.inconclusive,
    }
}

/// The context of a linearizability violation: the last writes of `key` that completed
/// before the blocked operation was invoked, and the operations overlapping it.
fn excerpt(
    ops: &[crate::history::Operation],
    key: &str,
    blocked: &crate::history::Operation,
) -> String {
    let on_key: Vec<&crate::history::Operation> = ops
        .iter()
        .filter(|o| {
            o.op.key() == Some(key)
                && matches!(o.op, Op::Get { .. } | Op::Put { .. } | Op::Cas { .. })
        })
        .collect();
    let fmt = |o: &crate::history::Operation| {
        format!(
            "op {} p{} n{} {}..{} ms {:?} -> {:?} {:?}",
            o.id,
            o.process,
            o.node,
            o.invoke_ns / 1_000_000,
            o.complete_ns.map(|c| c / 1_000_000).unwrap_or(u64::MAX),
            o.op,
            o.outcome,
            o.result
        )
    };
    let before: Vec<String> = on_key
        .iter()
        .filter(|o| {
            o.outcome == Outcome::Ok
                && !matches!(o.op, Op::Get { .. })
                && o.complete_ns.is_some_and(|c| c < blocked.invoke_ns)
        })
        .rev()
        .take(3)
        .map(|o| fmt(o))
        .collect();
    let during: Vec<String> = on_key
        .iter()
        .filter(|o| {
            o.id != blocked.id
                && o.invoke_ns <= blocked.complete_ns.unwrap_or(u64::MAX)
                && o.complete_ns.is_none_or(|c| c >= blocked.invoke_ns)
        })
        .take(6)
        .map(|o| fmt(o))
        .collect();
    format!(
        "key {key} excerpt: blocked {}; last writes completed before it: [{}]; overlapping: [{}]",
        fmt(blocked),
        before.join("; "),
        during.join("; ")
    )
}

/// Equal HashKV on all replicas at the end (at the highest revision asked).
fn hashkv(records: &[Record], n_nodes: usize) -> Verdict {
    let mut at: BTreeMap<i64, BTreeMap<usize, u32>> = BTreeMap::new();
    for r in records {
        if let Record::HashKv {
            node,
            revision,
            hash,
            ..
        } = r
        {
            at.entry(*revision).or_default().insert(*node, *hash);
        }
    }
    let mut violations = Vec::new();
    let summary = match at.iter().next_back() {
        None => {
            violations.push("no replica reported HashKV".into());
            "none".into()
        }
        Some((rev, hashes)) => {
            let distinct: BTreeSet<u32> = hashes.values().copied().collect();
            if distinct.len() > 1 {
                violations.push(format!("replicas disagree at revision {rev}: {hashes:?}"));
            }
            if hashes.len() < n_nodes {
                violations.push(format!(
                    "only {} of {n_nodes} replicas reported HashKV at revision {rev}: {hashes:?}",
                    hashes.len()
                ));
            }
            format!(
                "{} replicas at revision {rev}, {} distinct hash(es)",
                hashes.len(),
                distinct.len()
            )
        }
    };
    Verdict {
        name: "hashkv",
        ok: violations.is_empty(),
        summary,
        violations,
    }
}

/// Liveness after the faults heal: every replica serves a successful operation in the
/// window `[from_ns, to_ns]`.
fn recovery(ops: &[crate::history::Operation], from_ns: u64, to_ns: u64) -> Verdict {
    let nodes: BTreeSet<usize> = ops
        .iter()
        .filter(|o| matches!(o.op, Op::Get { .. } | Op::Put { .. } | Op::Cas { .. }))
        .map(|o| o.node)
        .collect();
    let served: BTreeSet<usize> = ops
        .iter()
        .filter(|o| {
            o.outcome == Outcome::Ok
                && o.invoke_ns >= from_ns
                && o.complete_ns.is_some_and(|c| c <= to_ns)
        })
        .map(|o| o.node)
        .collect();
    let missing: Vec<usize> = nodes.difference(&served).copied().collect();
    if to_ns <= from_ns {
        return Verdict {
            name: "recovery",
            ok: true,
            summary: "quiet phase too short to judge".into(),
            violations: vec![],
        };
    }
    Verdict {
        name: "recovery",
        ok: missing.is_empty(),
        summary: format!(
            "{} of {} replicas served ok ops in the last {} ms of the quiet phase",
            served.len(),
            nodes.len(),
            (to_ns - from_ns) / 1_000_000
        ),
        violations: missing
            .iter()
            .map(|n| format!("replica {n} served no successful operation after the faults healed"))
            .collect(),
    }
}
