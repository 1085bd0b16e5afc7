//! The scheduling queue: activeQ (priority, then arrival), backoffQ (1 s doubling to 10 s by
//! attempts), the unschedulable set (moved out on cluster events, flushed after 5 minutes)
//! and gated pods. Time is an argument; nothing here sleeps.
//!
//! Differences from kube-scheduler: no QueueingHints — every cluster event the shell reports
//! moves every unschedulable pod (to backoffQ while its backoff lasts, else to activeQ).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::pod_key;

/// Queue timings (kube-scheduler's defaults via `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// podInitialBackoffSeconds (1 s).
    pub initial_backoff: Duration,
    /// podMaxBackoffSeconds (10 s).
    pub max_backoff: Duration,
    /// podMaxInUnschedulablePodsDuration (5 min).
    pub max_in_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_in_unschedulable: Duration::from_secs(300),
        }
    }
}

/// A pod popped for a scheduling cycle. Hand it back with `add_unschedulable` or
/// `add_backoff` when the cycle fails, or to `done` when the pod was assumed.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    /// The pod, as last seen.
    pub pod: Arc<Pod>,
    /// Scheduling attempts including this one.
    pub attempts: u32,
    /// The scheduling cycle this pop started.
    pub cycle: u64,
}

/// Pods per queue, for `scheduler_pending_pods{queue=...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueLengths {
    /// queue="active".
    pub active: usize,
    /// queue="backoff".
    pub backoff: usize,
    /// queue="unschedulable".
    pub unschedulable: usize,
    /// queue="gated".
    pub gated: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    place: Place,
    priority: i32,
    attempts: u32,
    /// Arrival order: set when the pod enters the queue or comes back from a cycle.
    seq: u64,
    /// When it entered the queue or last failed (backoff and the 5-minute flush count from here).
    timestamp: Instant,
}

#[derive(Debug, Default)]
struct InFlight {
    latest: Option<Arc<Pod>>,
    deleted: bool,
}

/// The scheduling queue; pods are keyed by uid (see [`crate::pod_key`]).
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    config: QueueConfig,
    entries: HashMap<String, Entry>,
    active: BTreeSet<(Reverse<i32>, u64, String)>,
    backoff: BTreeSet<(Instant, u64, String)>,
    in_flight: HashMap<String, InFlight>,
    next_seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

fn assigned(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// Whether an update can change scheduling (kube-scheduler ignores status-only updates,
/// such as the PodScheduled condition the shell itself writes).
fn scheduling_relevant_change(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> SchedulingQueue {
        SchedulingQueue {
            config,
            ..Default::default()
        }
    }

    /// Backoff after `attempts` attempts: initial, doubled per further attempt, capped.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.config.initial_backoff;
        for _ in 1..attempts {
            if d >= self.config.max_backoff {
                break;
            }
            d = d.saturating_mul(2);
        }
        d.min(self.config.max_backoff)
    }

    fn backoff_expiry(&self, e: &Entry) -> Instant {
        e.timestamp + self.backoff_duration(e.attempts)
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn unlink(&mut self, key: &str) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        match e.place {
            Place::Active => {
                self.active
                    .remove(&(Reverse(e.priority), e.seq, key.to_string()));
            }
            Place::Backoff => {
                let expiry = self.backoff_expiry(&e);
                self.backoff.remove(&(expiry, e.seq, key.to_string()));
            }
            Place::Unschedulable | Place::Gated => {}
        }
        Some(e)
    }

    fn link(&mut self, key: String, mut e: Entry, place: Place) {
        e.place = place;
        match place {
            Place::Active => {
                self.active
                    .insert((Reverse(e.priority), e.seq, key.clone()));
            }
            Place::Backoff => {
                self.backoff
                    .insert((self.backoff_expiry(&e), e.seq, key.clone()));
            }
            Place::Unschedulable | Place::Gated => {}
        }
        self.entries.insert(key, e);
    }

    /// Active unless gated, or backoff while an earlier failure's backoff lasts.
    fn place_for_move(&self, e: &Entry, now: Instant) -> Place {
        if gated(&e.pod) {
            Place::Gated
        } else if e.attempts > 0 && self.backoff_expiry(e) > now {
            Place::Backoff
        } else {
            Place::Active
        }
    }

    /// A new unscheduled pod (or one seen again): queued, or recorded for the cycle running it.
    pub fn add(&mut self, pod: Arc<Pod>, now: Instant) {
        self.update(pod, now);
    }

    /// A pod changed. Assigned pods leave the queue; a queued pod is replaced, and moves out
    /// of the unschedulable set or the gate when the change can make it schedulable.
    pub fn update(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        if assigned(&pod) {
            self.delete(&key);
            return;
        }
        if let Some(f) = self.in_flight.get_mut(&key) {
            f.latest = Some(pod);
            return;
        }
        match self.unlink(&key) {
            Some(mut e) => {
                let relevant = scheduling_relevant_change(&e.pod, &pod);
                e.priority = priority(&pod);
                e.pod = pod;
                let place = match e.place {
                    Place::Unschedulable | Place::Gated if relevant => self.place_for_move(&e, now),
                    Place::Unschedulable => Place::Unschedulable,
                    _ if gated(&e.pod) => Place::Gated,
                    // A pod that lost its gates, or stays where it was.
                    Place::Gated => Place::Active,
                    other => other,
                };
                self.link(key, e, place);
            }
            None => {
                let e = Entry {
                    priority: priority(&pod),
                    place: Place::Active,
                    attempts: 0,
                    seq: self.seq(),
                    timestamp: now,
                    pod,
                };
                let place = if gated(&e.pod) {
                    Place::Gated
                } else {
                    Place::Active
                };
                self.link(key, e, place);
            }
        }
    }

    /// A pod was deleted (or bound): it leaves the queue; a cycle running it will drop it.
    pub fn delete(&mut self, key: &str) {
        self.unlink(key);
        if let Some(f) = self.in_flight.get_mut(key) {
            f.deleted = true;
        }
    }

    /// Moves pods whose backoff completed to activeQ, and pods unschedulable for longer than
    /// `max_in_unschedulable` to backoffQ or activeQ.
    pub fn flush(&mut self, now: Instant) {
        while let Some((expiry, _, key)) = self.backoff.first().cloned() {
            if expiry > now {
                break;
            }
            if let Some(e) = self.unlink(&key) {
                self.link(key, e, Place::Active);
            }
        }
        let stale: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.place == Place::Unschedulable
                    && now.saturating_duration_since(e.timestamp) > self.config.max_in_unschedulable
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(e) = self.unlink(&key) {
                let place = self.place_for_move(&e, now);
                self.link(key, e, place);
            }
        }
    }

    /// The next pod to schedule, highest priority first, then earliest arrival.
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush(now);
        let (_, _, key) = self.active.pop_first()?;
        let mut e = self.entries.remove(&key).expect("active pods have entries");
        e.attempts += 1;
        self.scheduling_cycle += 1;
        self.in_flight.insert(key, InFlight::default());
        Some(QueuedPod {
            pod: e.pod,
            attempts: e.attempts,
            cycle: self.scheduling_cycle,
        })
    }

    /// Ends a cycle; returns the pod to requeue (latest version) or `None` if it was deleted.
    fn finish(&mut self, qp: QueuedPod) -> Option<(String, Arc<Pod>, u32)> {
        let key = pod_key(&qp.pod);
        let f = self.in_flight.remove(&key).unwrap_or_default();
        if f.deleted || self.entries.contains_key(&key) {
            return None;
        }
        let pod = f.latest.unwrap_or(qp.pod);
        (!assigned(&pod)).then_some((key, pod, qp.attempts))
    }

    /// The cycle found no node: the pod waits in the unschedulable set for a cluster event,
    /// or in backoffQ if an event arrived while it was being scheduled.
    pub fn add_unschedulable(&mut self, qp: QueuedPod, now: Instant) {
        let cycle = qp.cycle;
        let Some((key, pod, attempts)) = self.finish(qp) else {
            return;
        };
        let e = Entry {
            priority: priority(&pod),
            place: Place::Unschedulable,
            attempts,
            seq: self.seq(),
            timestamp: now,
            pod,
        };
        let place = if gated(&e.pod) {
            Place::Gated
        } else if self.move_request_cycle >= cycle {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.link(key, e, place);
    }

    /// The cycle failed with an error (or the bind failed): retry after backoff.
    pub fn add_backoff(&mut self, qp: QueuedPod, now: Instant) {
        let Some((key, pod, attempts)) = self.finish(qp) else {
            return;
        };
        let e = Entry {
            priority: priority(&pod),
            place: Place::Backoff,
            attempts,
            seq: self.seq(),
            timestamp: now,
            pod,
        };
        self.link(key, e, Place::Backoff);
    }

    /// The pod was assumed on a node; the queue forgets it.
    pub fn done(&mut self, key: &str) {
        self.in_flight.remove(key);
    }

    /// A cluster event that may make pods schedulable (node added or updated, pod deleted or
    /// terminal, ...): every unschedulable pod moves to backoffQ or activeQ, and pods in a
    /// cycle now will go to backoffQ if they fail.
    pub fn move_all_on_event(&mut self, now: Instant) {
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Unschedulable)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(e) = self.unlink(&key) {
                let place = self.place_for_move(&e, now);
                self.link(key, e, place);
            }
        }
        self.move_request_cycle = self.scheduling_cycle;
    }

    /// When the shell should next call `pop`/`flush`: now if a pod is active, else the
    /// earliest backoff expiry or unschedulable flush; `None` when nothing waits on time.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        if !self.active.is_empty() {
            return Some(now);
        }
        let backoff = self.backoff.first().map(|(t, _, _)| *t);
        let flush = self
            .entries
            .values()
            .filter(|e| e.place == Place::Unschedulable)
            .map(|e| e.timestamp + self.config.max_in_unschedulable + Duration::from_nanos(1))
            .min();
        match (backoff, flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Pods per queue (pods in a cycle are in none).
    pub fn lengths(&self) -> QueueLengths {
        let mut l = QueueLengths {
            active: self.active.len(),
            backoff: self.backoff.len(),
            ..Default::default()
        };
        for e in self.entries.values() {
            match e.place {
                Place::Unschedulable => l.unschedulable += 1,
                Place::Gated => l.gated += 1,
                Place::Active | Place::Backoff => {}
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::PodSpecBuilder;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn names(q: &mut SchedulingQueue, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(p) = q.pop(now) {
            out.push(p.pod.metadata.name.clone().unwrap_or_default());
            q.done(&pod_key(&p.pod));
        }
        out
    }

    fn lengths(active: usize, backoff: usize, unschedulable: usize, gated: usize) -> QueueLengths {
        QueueLengths {
            active,
            backoff,
            unschedulable,
            gated,
        }
    }

    #[test]
    fn priority_then_arrival() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("low").arc(), t0);
        q.add(PodSpecBuilder::new("high").priority(100).arc(), t0);
        q.add(PodSpecBuilder::new("low2").arc(), t0);
        q.add(PodSpecBuilder::new("mid").priority(10).arc(), t0);
        // Re-adding deduplicates and keeps the arrival order.
        q.add(PodSpecBuilder::new("low").arc(), t0);
        // An update that raises priority reorders.
        q.update(PodSpecBuilder::new("low2").priority(50).arc(), t0);
        assert_eq!(q.lengths(), lengths(4, 0, 0, 0));
        assert_eq!(names(&mut q, t0), ["high", "low2", "mid", "low"]);
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let q = SchedulingQueue::new(QueueConfig::default());
        let cases = [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (6, 10), (100, 10)];
        for (attempts, want) in cases {
            assert_eq!(
                q.backoff_duration(attempts),
                secs(want),
                "attempts {attempts}"
            );
        }
    }

    #[test]
    fn backoff_then_active() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("p").arc(), t0);
        let p = q.pop(t0).expect("pod");
        assert_eq!(p.attempts, 1);
        q.add_backoff(p, t0);
        assert_eq!(q.lengths(), lengths(0, 1, 0, 0));
        assert_eq!(q.next_wakeup(t0), Some(t0 + secs(1)));
        assert!(q.pop(t0 + Duration::from_millis(999)).is_none());
        let p = q.pop(t0 + secs(1)).expect("backoff over");
        assert_eq!(p.attempts, 2);
        q.add_backoff(p, t0 + secs(1));
        assert_eq!(q.next_wakeup(t0 + secs(1)), Some(t0 + secs(3)));
    }

    #[test]
    fn unschedulable_moves_on_event_and_flushes() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("a").arc(), t0);
        q.add(PodSpecBuilder::new("b").arc(), t0);
        let a = q.pop(t0).expect("a");
        q.add_unschedulable(a, t0);
        let b = q.pop(t0).expect("b");
        q.add_unschedulable(b, t0);
        assert_eq!(q.lengths(), lengths(0, 0, 2, 0));
        // A status-only update (the PodScheduled condition) does not move it.
        q.update(
            PodSpecBuilder::new("a").phase("Pending").arc(),
            t0 + secs(1),
        );
        assert_eq!(q.lengths(), lengths(0, 0, 2, 0));
        // A node event within the backoff window: to backoffQ, then active.
        q.move_all_on_event(t0 + Duration::from_millis(500));
        assert_eq!(q.lengths(), lengths(0, 2, 0, 0));
        assert_eq!(names(&mut q, t0 + secs(1)), ["a", "b"]);

        // Left alone, the unschedulable set is flushed after 5 minutes.
        q.add(PodSpecBuilder::new("c").arc(), t0);
        let c = q.pop(t0).expect("c");
        q.add_unschedulable(c, t0);
        assert_eq!(
            q.next_wakeup(t0),
            Some(t0 + secs(300) + Duration::from_nanos(1))
        );
        q.flush(t0 + secs(300));
        assert_eq!(q.lengths(), lengths(0, 0, 1, 0));
        q.flush(t0 + secs(301));
        assert_eq!(q.lengths(), lengths(1, 0, 0, 0));
    }

    #[test]
    fn event_during_cycle_sends_failure_to_backoff() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("a").arc(), t0);
        let a = q.pop(t0).expect("a");
        q.move_all_on_event(t0);
        q.add_unschedulable(a, t0);
        assert_eq!(q.lengths(), lengths(0, 1, 0, 0));
    }

    #[test]
    fn in_flight_updates_and_deletes() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("a").arc(), t0);
        q.add(PodSpecBuilder::new("b").arc(), t0);
        let a = q.pop(t0).expect("a");
        let b = q.pop(t0).expect("b");
        // Updated while in a cycle: the latest version is requeued.
        q.update(PodSpecBuilder::new("a").priority(7).arc(), t0);
        q.add_backoff(a, t0);
        // Deleted while in a cycle: dropped.
        q.delete("uid-b");
        q.add_unschedulable(b, t0);
        assert_eq!(q.lengths(), lengths(0, 1, 0, 0));
        let a = q.pop(t0 + secs(1)).expect("a");
        assert_eq!(a.pod.spec.as_ref().and_then(|s| s.priority), Some(7));
        // Bound by the shell: the queue forgets it.
        q.done("uid-a");
        q.update(PodSpecBuilder::new("a").node("n1").arc(), t0);
        assert_eq!(q.lengths(), lengths(0, 0, 0, 0));
        assert_eq!(q.next_wakeup(t0), None);
    }

    #[test]
    fn gated_pods_wait_for_their_gates() {
        let t0 = Instant::now();
        let mut q = SchedulingQueue::new(QueueConfig::default());
        q.add(PodSpecBuilder::new("g").gated().arc(), t0);
        assert_eq!(q.lengths(), lengths(0, 0, 0, 1));
        q.move_all_on_event(t0);
        assert!(q.pop(t0).is_none());
        q.update(PodSpecBuilder::new("g").arc(), t0);
        assert_eq!(q.lengths(), lengths(1, 0, 0, 0));
        q.delete("uid-g");
        assert_eq!(q.lengths(), lengths(0, 0, 0, 0));
    }
}
