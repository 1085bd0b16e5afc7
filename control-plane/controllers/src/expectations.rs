//! ControllerExpectations: how many creations and which deletions a controller is waiting
//! to see in its informer before it trusts the cache again. A controller that just created
//! three pods must not create three more because the cache has not shown them yet. An entry
//! is satisfied when every expected change was observed, or when it is older than the TTL
//! (a lost watch event must not wedge a controller forever).

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// client-go's `ExpectationsTimeout`.
pub const EXPECTATIONS_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
struct Entry {
    adds: i64,
    /// Keys (namespace/name) of objects whose deletion is awaited.
    deletes: HashSet<String>,
    set_at: Instant,
}

pub struct Expectations {
    entries: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations::new(EXPECTATIONS_TTL)
    }
}

impl Expectations {
    pub fn new(ttl: Duration) -> Expectations {
        Expectations {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// True when the controller may trust its cache for `key`.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.entries.lock().get(key) {
            None => true,
            Some(e) => (e.adds <= 0 && e.deletes.is_empty()) || e.set_at.elapsed() > self.ttl,
        }
    }

    /// Replaces the entry: `adds` creations and the deletion of `deletes` are expected.
    pub fn expect(&self, key: &str, adds: usize, deletes: impl IntoIterator<Item = String>) {
        self.entries.lock().insert(
            key.to_string(),
            Entry {
                adds: adds as i64,
                deletes: deletes.into_iter().collect(),
                set_at: Instant::now(),
            },
        );
    }

    /// One expected creation happened (or will never happen: a failed create).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.entries.lock().get_mut(key) {
            e.adds -= 1;
        }
    }

    /// `n` expected creations will never happen (skipped after a failed batch).
    pub fn lower_adds(&self, key: &str, n: usize) {
        if let Some(e) = self.entries.lock().get_mut(key) {
            e.adds -= n as i64;
        }
    }

    /// The object `obj_key` is gone (or its deletion failed): stop waiting for it.
    pub fn deletion_observed(&self, key: &str, obj_key: &str) {
        if let Some(e) = self.entries.lock().get_mut(key) {
            e.deletes.remove(obj_key);
        }
    }

    /// Forgets `key` (its controller object is gone).
    pub fn delete(&self, key: &str) {
        self.entries.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Expect(usize, &'static [&'static str]),
        Created,
        Deleted(&'static str),
        Lower(usize),
        Wait(u64),
        Forget,
    }

    async fn check(ops: &[Op], want_satisfied: bool) {
        let e = Expectations::new(Duration::from_secs(300));
        for op in ops {
            match *op {
                Op::Expect(n, dels) => e.expect("ns/rs", n, dels.iter().map(|s| s.to_string())),
                Op::Created => e.creation_observed("ns/rs"),
                Op::Deleted(k) => e.deletion_observed("ns/rs", k),
                Op::Lower(n) => e.lower_adds("ns/rs", n),
                Op::Wait(s) => tokio::time::advance(Duration::from_secs(s)).await,
                Op::Forget => e.delete("ns/rs"),
            }
        }
        assert_eq!(e.satisfied("ns/rs"), want_satisfied, "{ops:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn table() {
        use Op::*;
        check(&[], true).await;
        check(&[Expect(2, &[])], false).await;
        check(&[Expect(2, &[]), Created], false).await;
        check(&[Expect(2, &[]), Created, Created], true).await;
        check(&[Expect(3, &[]), Created, Lower(2)], true).await;
        check(&[Expect(0, &["ns/a", "ns/b"]), Deleted("ns/a")], false).await;
        check(
            &[
                Expect(0, &["ns/a", "ns/b"]),
                Deleted("ns/a"),
                Deleted("ns/b"),
            ],
            true,
        )
        .await;
        check(&[Expect(0, &["ns/a"]), Deleted("ns/other")], false).await;
        check(&[Expect(1, &[]), Wait(301)], true).await;
        check(&[Expect(1, &[]), Wait(299)], false).await;
        check(&[Expect(1, &[]), Forget], true).await;
        check(&[Created, Created], true).await;
    }
}
