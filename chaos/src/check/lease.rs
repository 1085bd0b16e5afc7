//! Lease guarantees from the lease workload's operations: no lease expires before its TTL
//! has run from the last successful keep-alive (or the grant), its attached key vanishes
//! with it and not before, and an abandoned lease does expire once the cluster is quiet.

use crate::history::{Op, OpResult, Operation, Outcome};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub leases: usize,
    pub keep_alives_ok: usize,
    pub expired_seen: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

#[derive(Default)]
struct LeaseOps<'a> {
    ttl_ns: u64,
    granted: Option<&'a Operation>,
    put_ok: Option<&'a Operation>,
    /// Successful keep-alives with a positive TTL.
    alive: Vec<&'a Operation>,
    /// Successful observations that the lease is gone, with their completion time.
    gone: Vec<(&'a Operation, u64)>,
    /// Successful reads finding the key.
    key_found: Vec<&'a Operation>,
    abandoned_ns: Option<u64>,
}

/// `quiet_ns`: when the final quiet phase started; `grace_ns`: how late past its TTL an
/// abandoned lease may expire in a quiet cluster (tick, failover extension).
pub fn check(ops: &[Operation], quiet_ns: Option<u64>, grace_ns: u64) -> Report {
    let mut r = Report::default();
    let mut leases: BTreeMap<i64, LeaseOps> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        match (&o.op, &o.result) {
            (Op::LeaseGrant { .. }, Some(OpResult::LeaseGrant { lease, ttl_s })) => {
                let l = leases.entry(*lease).or_default();
                l.ttl_ns = (*ttl_s).max(0) as u64 * 1_000_000_000;
                l.granted = Some(o);
            }
            (Op::LeasePut { lease, .. }, _) => leases.entry(*lease).or_default().put_ok = Some(o),
            (Op::LeaseKeepAlive { lease }, Some(OpResult::LeaseKeepAlive { ttl_s })) => {
                r.keep_alives_ok += 1;
                let l = leases.entry(*lease).or_default();
                if *ttl_s > 0 {
                    l.alive.push(o);
                } else {
                    l.gone.push((o, o.complete_ns.unwrap_or(u64::MAX)));
                }
            }
            (Op::LeaseGet { lease, .. }, Some(OpResult::LeaseGet { found, .. })) => {
                let l = leases.entry(*lease).or_default();
                if *found {
                    l.key_found.push(o);
                } else if l
                    .put_ok
                    .is_some_and(|p| p.complete_ns.is_some_and(|c| c < o.invoke_ns))
                {
                    // Only the lease's expiry deletes its key (once the put is known done).
                    l.gone.push((o, o.complete_ns.unwrap_or(u64::MAX)));
                }
            }
            (Op::LeaseAbandon { lease }, _) => {
                leases.entry(*lease).or_default().abandoned_ns = Some(o.invoke_ns)
            }
            _ => {}
        }
    }
    r.leases = leases.len();
    for (id, l) in &leases {
        if l.granted.is_none() {
            continue;
        }
        if !l.gone.is_empty() {
            r.expired_seen += 1;
        }
        // No early expiry: the lease lives at least TTL after any successful renewal's
        // invocation (the leader's clock read the request after it was sent).
        let mut lower_bounds: Vec<(u64, &Operation)> = l
            .alive
            .iter()
            .map(|k| (k.invoke_ns + l.ttl_ns, *k))
            .collect();
        if let Some(g) = l.granted {
            lower_bounds.push((g.invoke_ns + l.ttl_ns, g));
        }
        for (g, gone_by) in &l.gone {
            if let Some((bound, k)) = lower_bounds
                .iter()
                .filter(|(b, _)| *gone_by < *b)
                .max_by_key(|(b, _)| *b)
            {
                r.violations.push(format!(
                    "early expiry: lease {id:x} seen gone by {} ms (op {} {}) but renewed by op {} to live until {} ms",
                    gone_by / 1_000_000,
                    g.id,
                    g.op.name(),
                    k.id,
                    bound / 1_000_000
                ));
                break;
            }
        }
        // The key vanishes with the lease: no read finds it after the lease is gone.
        for (g, gone_by) in &l.gone {
            if let Some(f) = l.key_found.iter().find(|f| f.invoke_ns > *gone_by) {
                r.violations.push(format!("key outlived lease: lease {id:x} was gone by {} ms (op {}), op {} still found its key", gone_by / 1_000_000, g.id, f.id));
                break;
            }
        }
        // An abandoned lease expires in a quiet cluster.
        if let (Some(a), Some(q)) = (l.abandoned_ns, quiet_ns) {
            let due = a.max(q) + l.ttl_ns + grace_ns;
            if let Some(f) = l.key_found.iter().find(|f| f.invoke_ns > due) {
                r.violations.push(format!(
                    "no expiry: lease {id:x} abandoned at {} ms still had its key at {} ms (op {})",
                    a / 1_000_000,
                    f.invoke_ns / 1_000_000,
                    f.id
                ));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn op(id: u64, invoke_s: f64, complete_s: f64, op: Op, result: OpResult) -> Operation {
        Operation {
            id,
            process: 0,
            node: 0,
            op,
            invoke_ns: (invoke_s * S as f64) as u64,
            complete_ns: Some((complete_s * S as f64) as u64),
            outcome: Outcome::Ok,
            result: Some(result),
            error: None,
        }
    }
    fn grant(t: f64) -> Operation {
        op(
            0,
            t,
            t + 0.01,
            Op::LeaseGrant { ttl_s: 4 },
            OpResult::LeaseGrant { lease: 7, ttl_s: 4 },
        )
    }
    fn lease_put(t: f64) -> Operation {
        op(
            1,
            t,
            t + 0.01,
            Op::LeasePut {
                key: "l".into(),
                lease: 7,
                value: "v".into(),
            },
            OpResult::Put { revision: 2 },
        )
    }
    fn keep_alive(id: u64, t: f64, ttl_s: i64) -> Operation {
        op(
            id,
            t,
            t + 0.01,
            Op::LeaseKeepAlive { lease: 7 },
            OpResult::LeaseKeepAlive { ttl_s },
        )
    }
    fn lease_get(id: u64, t: f64, found: bool) -> Operation {
        op(
            id,
            t,
            t + 0.01,
            Op::LeaseGet {
                key: "l".into(),
                lease: 7,
            },
            OpResult::LeaseGet { found, revision: 3 },
        )
    }

    #[test]
    fn a_lease_kept_alive_then_expiring_after_its_ttl_passes() {
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            keep_alive(2, 1.0, 4),
            lease_get(3, 1.1, true),
            keep_alive(4, 2.0, 4),
            lease_get(5, 7.0, false),
            keep_alive(6, 7.1, 0),
            lease_get(7, 8.0, false),
        ];
        let r = check(&ops, None, 0);
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.expired_seen, 1);
    }

    #[test]
    fn expiring_before_the_ttl_is_a_violation() {
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            keep_alive(2, 2.0, 4),
            lease_get(3, 3.0, false),
        ];
        let r = check(&ops, None, 0);
        assert!(
            r.violations.iter().any(|v| v.starts_with("early expiry")),
            "{:?}",
            r.violations
        );
        // A keep-alive saying "not found" early is one too.
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            keep_alive(2, 2.0, 4),
            keep_alive(3, 3.0, 0),
        ];
        assert!(!check(&ops, None, 0).ok());
    }

    #[test]
    fn a_key_outliving_its_lease_is_a_violation() {
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            keep_alive(2, 5.0, 0),
            lease_get(3, 6.0, true),
        ];
        let r = check(&ops, None, 0);
        assert!(
            r.violations.iter().any(|v| v.starts_with("key outlived")),
            "{:?}",
            r.violations
        );
    }

    #[test]
    fn an_abandoned_lease_must_expire_when_quiet() {
        let abandon = op(9, 1.0, 1.0, Op::LeaseAbandon { lease: 7 }, OpResult::Done);
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            abandon.clone(),
            lease_get(3, 20.0, true),
        ];
        assert!(check(&ops, Some(2 * S), S)
            .violations
            .iter()
            .any(|v| v.starts_with("no expiry")));
        let ops = vec![
            grant(0.0),
            lease_put(0.1),
            abandon,
            lease_get(3, 20.0, false),
        ];
        assert!(check(&ops, Some(2 * S), S).ok());
    }
}
