//! Lease deadlines: in-memory, never replicated, driven by the caller's clock.
//!
//! The replicated lease table (id, granted TTL, attached keys) lives in RocksDB and changes
//! only through applied entries. When a lease expires is a local matter of the leader: this
//! table keeps a deadline per lease, set from the `now_ms` the caller passes, and answers
//! "which leases have expired as of `now_ms`", so the leader can propose revokes. The table
//! never reads a clock itself, which keeps it deterministic and testable.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline {
    ttl_secs: i64,
    /// None until the leader first observes the lease (then `now + ttl`).
    deadline_ms: Option<u64>,
}

#[derive(Debug, Default)]
pub struct LeaseTable {
    leases: HashMap<i64, Deadline>,
}

impl LeaseTable {
    pub fn insert(&mut self, id: i64, ttl_secs: i64) {
        self.leases.insert(
            id,
            Deadline {
                ttl_secs,
                deadline_ms: None,
            },
        );
    }

    pub fn remove(&mut self, id: i64) {
        self.leases.remove(&id);
    }

    pub fn contains(&self, id: i64) -> bool {
        self.leases.contains_key(&id)
    }

    pub fn ttl_secs(&self, id: i64) -> Option<i64> {
        self.leases.get(&id).map(|d| d.ttl_secs)
    }

    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.leases.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Keep-alive: the lease lives `ttl` from `now_ms`. Returns the TTL, or None if unknown.
    pub fn renew(&mut self, id: i64, now_ms: u64) -> Option<i64> {
        let d = self.leases.get_mut(&id)?;
        d.deadline_ms = Some(now_ms + ttl_ms(d.ttl_secs));
        Some(d.ttl_secs)
    }

    /// A new leader takes over: every lease gets a fresh deadline of `now + ttl + extend`,
    /// so that no lease expires early because of the failover.
    pub fn promote(&mut self, now_ms: u64, extend_ms: u64) {
        for d in self.leases.values_mut() {
            d.deadline_ms = Some(now_ms + ttl_ms(d.ttl_secs) + extend_ms);
        }
    }

    /// Seconds left as of `now_ms` (rounded up), or the full TTL when no deadline is set.
    pub fn remaining_secs(&self, id: i64, now_ms: u64) -> Option<i64> {
        let d = self.leases.get(&id)?;
        Some(match d.deadline_ms {
            None => d.ttl_secs,
            Some(deadline) => (deadline.saturating_sub(now_ms)).div_ceil(1000) as i64,
        })
    }

    /// The leases whose deadline has passed as of `now_ms`, in id order. A lease seen for
    /// the first time gets its deadline now (it can only expire later, never earlier).
    pub fn expired(&mut self, now_ms: u64) -> Vec<i64> {
        let mut out = Vec::new();
        for (&id, d) in self.leases.iter_mut() {
            match d.deadline_ms {
                None => d.deadline_ms = Some(now_ms + ttl_ms(d.ttl_secs)),
                Some(deadline) if deadline <= now_ms => out.push(id),
                Some(_) => {}
            }
        }
        out.sort_unstable();
        out
    }
}

fn ttl_ms(ttl_secs: i64) -> u64 {
    (ttl_secs.max(0) as u64).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_never_expires_before_its_ttl() {
        let mut t = LeaseTable::default();
        t.insert(1, 10);
        assert!(t.expired(1_000).is_empty(), "first sight sets the deadline");
        assert!(t.expired(10_999).is_empty());
        assert_eq!(t.expired(11_000), vec![1]);
    }

    #[test]
    fn renew_and_promote_push_the_deadline() {
        let mut t = LeaseTable::default();
        t.insert(1, 5);
        t.insert(2, 5);
        t.renew(1, 0);
        t.renew(2, 0);
        assert_eq!(t.renew(1, 4_000), Some(5));
        assert_eq!(t.expired(5_000), vec![2]);
        t.promote(5_000, 1_000);
        assert!(t.expired(10_999).is_empty());
        assert_eq!(t.expired(11_000), vec![1, 2]);
        assert_eq!(t.remaining_secs(1, 10_001), Some(1));
        assert_eq!(t.renew(3, 0), None);
    }
}
