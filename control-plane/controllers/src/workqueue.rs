//! client-go's rate-limited work queue: a key is queued at most once (the dirty set), a key
//! being processed is never handed to a second worker (the processing set; a key added while
//! processing runs again after `done`), delayed adds, per-key exponential backoff combined
//! with an overall token bucket (`DefaultControllerRateLimiter`), shutdown, and the
//! `workqueue_*` metrics under client-go's names.

use parking_lot::Mutex;
use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Per-key backoff start and cap (client-go: 5 ms doubling to 1000 s).
pub const BASE_DELAY: Duration = Duration::from_millis(5);
pub const MAX_DELAY: Duration = Duration::from_secs(1000);
/// The overall bucket (client-go: 10 qps, burst 100).
pub const BUCKET_QPS: f64 = 10.0;
pub const BUCKET_BURST: f64 = 100.0;
/// Keys waiting for a delayed add, at most (beyond it a delayed add becomes an immediate add:
/// the queue itself is bounded by the number of distinct keys).
pub const MAX_WAITING: usize = 100_000;

/// The queue metrics, registered once per process and labelled by queue `name`.
#[derive(Clone)]
pub struct QueueMetrics {
    depth: IntGaugeVec,
    adds: IntCounterVec,
    queue_duration: HistogramVec,
    work_duration: HistogramVec,
    retries: IntCounterVec,
    longest_running: GaugeVec,
    unfinished: GaugeVec,
}

impl QueueMetrics {
    pub fn new(registry: &prometheus::Registry) -> Result<QueueMetrics, prometheus::Error> {
        // client-go's buckets: 1 ns * 10^k for k in 0..10.
        let buckets: Vec<f64> = (0..10).map(|k| 1e-9 * 10f64.powi(k)).collect();
        let m = QueueMetrics {
            depth: IntGaugeVec::new(
                Opts::new("workqueue_depth", "Current depth of workqueue"),
                &["name"],
            )?,
            adds: IntCounterVec::new(
                Opts::new("workqueue_adds_total", "Total number of adds handled by workqueue"),
                &["name"],
            )?,
            queue_duration: HistogramVec::new(
                HistogramOpts::new(
                    "workqueue_queue_duration_seconds",
                    "How long in seconds an item stays in workqueue before being requested.",
                )
                .buckets(buckets.clone()),
                &["name"],
            )?,
            work_duration: HistogramVec::new(
                HistogramOpts::new(
                    "workqueue_work_duration_seconds",
                    "How long in seconds processing an item from workqueue takes.",
                )
                .buckets(buckets),
                &["name"],
            )?,
            retries: IntCounterVec::new(
                Opts::new("workqueue_retries_total", "Total number of retries handled by workqueue"),
                &["name"],
            )?,
            longest_running: GaugeVec::new(
                Opts::new(
                    "workqueue_longest_running_processor_seconds",
                    "How many seconds has the longest running processor for workqueue been running.",
                ),
                &["name"],
            )?,
            unfinished: GaugeVec::new(
                Opts::new(
                    "workqueue_unfinished_work_seconds",
                    "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
                ),
                &["name"],
            )?,
        };
        registry.register(Box::new(m.depth.clone()))?;
        registry.register(Box::new(m.adds.clone()))?;
        registry.register(Box::new(m.queue_duration.clone()))?;
        registry.register(Box::new(m.work_duration.clone()))?;
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.longest_running.clone()))?;
        registry.register(Box::new(m.unfinished.clone()))?;
        Ok(m)
    }
}

/// Per-key exponential backoff, max'ed with a token bucket over all keys.
struct RateLimiter {
    failures: HashMap<String, u32>,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    fn new(now: Instant) -> RateLimiter {
        RateLimiter {
            failures: HashMap::new(),
            tokens: BUCKET_BURST,
            last: now,
        }
    }

    fn when(&mut self, key: &str, now: Instant) -> Duration {
        let n = self.failures.entry(key.to_string()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let per_key = if exp >= 30 {
            MAX_DELAY
        } else {
            BASE_DELAY.saturating_mul(1u32 << exp).min(MAX_DELAY)
        };
        // golang.org/x/time/rate's Reserve: tokens may go negative; the delay is the time
        // until the balance is back at zero.
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * BUCKET_QPS).min(BUCKET_BURST) - 1.0;
        let bucket = if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / BUCKET_QPS)
        };
        per_key.max(bucket)
    }
}

struct Inner {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashMap<String, Instant>,
    added_at: HashMap<String, Instant>,
    /// Delayed adds: key -> when (the earliest wins), and a heap with lazy deletion.
    waiting: HashMap<String, Instant>,
    heap: BinaryHeap<Reverse<(Instant, String)>>,
    limiter: RateLimiter,
    shutting_down: bool,
}

pub struct WorkQueue {
    name: String,
    inner: Mutex<Inner>,
    notify: Notify,
    metrics: Option<QueueMetrics>,
}

impl WorkQueue {
    pub fn new(name: &str, metrics: Option<QueueMetrics>) -> WorkQueue {
        WorkQueue {
            name: name.to_string(),
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashMap::new(),
                added_at: HashMap::new(),
                waiting: HashMap::new(),
                heap: BinaryHeap::new(),
                limiter: RateLimiter::new(Instant::now()),
                shutting_down: false,
            }),
            notify: Notify::new(),
            metrics,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues `key` unless it is queued already; a key in processing runs again after `done`.
    pub fn add(&self, key: &str) {
        let mut g = self.inner.lock();
        if self.add_locked(&mut g, key) {
            drop(g);
            self.notify.notify_one();
        }
    }

    fn add_locked(&self, g: &mut Inner, key: &str) -> bool {
        if g.shutting_down || g.dirty.contains(key) {
            return false;
        }
        if let Some(m) = &self.metrics {
            m.adds.with_label_values(&[&self.name]).inc();
        }
        g.dirty.insert(key.to_string());
        if g.processing.contains_key(key) {
            return false;
        }
        g.added_at.insert(key.to_string(), Instant::now());
        g.queue.push_back(key.to_string());
        self.set_depth(g);
        true
    }

    fn set_depth(&self, g: &Inner) {
        if let Some(m) = &self.metrics {
            m.depth
                .with_label_values(&[&self.name])
                .set(g.queue.len() as i64);
        }
    }

    /// Queues `key` once `delay` has passed (at once for a zero delay).
    pub fn add_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let mut g = self.inner.lock();
        if g.shutting_down {
            return;
        }
        let at = Instant::now() + delay;
        if g.waiting.len() >= MAX_WAITING && !g.waiting.contains_key(key) {
            if self.add_locked(&mut g, key) {
                drop(g);
                self.notify.notify_one();
            }
            return;
        }
        match g.waiting.get(key) {
            Some(t) if *t <= at => return,
            _ => {}
        }
        g.waiting.insert(key.to_string(), at);
        g.heap.push(Reverse((at, key.to_string())));
        drop(g);
        // A waiter may be sleeping until a later deadline: wake them all to re-plan.
        self.notify.notify_waiters();
    }

    /// Queues `key` after its backoff (client-go's `AddRateLimited`).
    pub fn add_rate_limited(&self, key: &str) {
        let delay = self.inner.lock().limiter.when(key, Instant::now());
        if let Some(m) = &self.metrics {
            m.retries.with_label_values(&[&self.name]).inc();
        }
        self.add_after(key, delay);
    }

    /// Resets the backoff of `key`.
    pub fn forget(&self, key: &str) {
        self.inner.lock().limiter.failures.remove(key);
    }

    pub fn num_requeues(&self, key: &str) -> u32 {
        self.inner
            .lock()
            .limiter
            .failures
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves delayed keys whose time has come into the queue; the next deadline, if any.
    fn promote(&self, g: &mut Inner, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, key))) = g.heap.peek().cloned() {
            if g.waiting.get(&key) != Some(&at) {
                g.heap.pop(); // superseded by an earlier deadline, or already added
                continue;
            }
            if at > now {
                return Some(at);
            }
            g.heap.pop();
            g.waiting.remove(&key);
            self.add_locked(g, &key);
        }
        None
    }

    /// The next key to process, waiting for one; `None` once shut down.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let deadline = {
                let mut g = self.inner.lock();
                if g.shutting_down {
                    return None;
                }
                let now = Instant::now();
                let deadline = self.promote(&mut g, now);
                if let Some(key) = g.queue.pop_front() {
                    g.dirty.remove(&key);
                    g.processing.insert(key.clone(), now);
                    if let (Some(m), Some(at)) = (&self.metrics, g.added_at.remove(&key)) {
                        m.queue_duration
                            .with_label_values(&[&self.name])
                            .observe(now.saturating_duration_since(at).as_secs_f64());
                    }
                    self.set_depth(&g);
                    return Some(key);
                }
                deadline
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` processed; a key added meanwhile is queued again.
    pub fn done(&self, key: &str) {
        let mut g = self.inner.lock();
        if let Some(started) = g.processing.remove(key) {
            if let Some(m) = &self.metrics {
                m.work_duration
                    .with_label_values(&[&self.name])
                    .observe(started.elapsed().as_secs_f64());
            }
        }
        if g.dirty.contains(key) && !g.shutting_down {
            g.added_at.insert(key.to_string(), Instant::now());
            g.queue.push_back(key.to_string());
            self.set_depth(&g);
            drop(g);
            self.notify.notify_one();
        }
    }

    /// Stops handing out keys; `get` answers `None` from now on.
    pub fn shutdown(&self) {
        self.inner.lock().shutting_down = true;
        self.notify.notify_waiters();
    }

    /// Updates the two in-flight gauges (client-go refreshes them every 500 ms).
    pub fn update_unfinished_work(&self) {
        let Some(m) = &self.metrics else { return };
        let g = self.inner.lock();
        let now = Instant::now();
        let mut total = 0.0;
        let mut longest = 0.0f64;
        for t in g.processing.values() {
            let s = now.saturating_duration_since(*t).as_secs_f64();
            total += s;
            longest = longest.max(s);
        }
        m.unfinished.with_label_values(&[&self.name]).set(total);
        m.longest_running
            .with_label_values(&[&self.name])
            .set(longest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn next(q: &WorkQueue) -> Option<String> {
        tokio::time::timeout(Duration::from_millis(1), q.get())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test(start_paused = true)]
    async fn dedup_and_processing() {
        let q = WorkQueue::new("t", None);
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(next(&q).await.as_deref(), Some("a"));
        // "a" is processing: a re-add waits for `done`, and no second worker gets it.
        q.add("a");
        assert_eq!(next(&q).await.as_deref(), Some("b"));
        assert_eq!(next(&q).await, None);
        q.done("a");
        assert_eq!(next(&q).await.as_deref(), Some("a"));
        q.done("a");
        q.done("b");
        assert_eq!(next(&q).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_keeps_earliest() {
        let q = WorkQueue::new("t", None);
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(2));
        q.add_after("a", Duration::from_secs(5));
        assert_eq!(next(&q).await, None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(next(&q).await.as_deref(), Some("a"));
        q.done("a");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(
            next(&q).await,
            None,
            "superseded deadlines do not add again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_get_wakes_for_delayed_key() {
        let q = Arc::new(WorkQueue::new("t", None));
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.get().await });
        tokio::task::yield_now().await;
        q.add_after("x", Duration::from_secs(3));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(h.await.unwrap().as_deref(), Some("x"));
    }

    #[test]
    fn backoff_sequence() {
        // (failures so far, expected per-key delay), with the bucket never empty.
        let cases = [(0u32, 5u64), (1, 10), (2, 20), (3, 40), (10, 5120)];
        for (n, want_ms) in cases {
            let now = Instant::now();
            let mut l = RateLimiter::new(now);
            l.failures.insert("k".into(), n);
            assert_eq!(
                l.when("k", now),
                Duration::from_millis(want_ms),
                "after {n}"
            );
        }
        let now = Instant::now();
        let mut l = RateLimiter::new(now);
        l.failures.insert("k".into(), 40);
        assert_eq!(l.when("k", now), MAX_DELAY);
    }

    #[test]
    fn bucket_limits_many_keys() {
        let now = Instant::now();
        let mut l = RateLimiter::new(now);
        for i in 0..100 {
            assert_eq!(
                l.when(&format!("k{i}"), now),
                BASE_DELAY,
                "within the burst"
            );
        }
        // The 101st key waits for a token: 100 ms at 10 qps.
        assert_eq!(l.when("k100", now), Duration::from_millis(100));
        assert_eq!(l.when("k101", now), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_and_forget() {
        let q = WorkQueue::new("t", None);
        q.add_rate_limited("a");
        assert_eq!(q.num_requeues("a"), 1);
        assert_eq!(next(&q).await, None);
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(next(&q).await.as_deref(), Some("a"));
        q.done("a");
        q.forget("a");
        assert_eq!(q.num_requeues("a"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_get() {
        let q = Arc::new(WorkQueue::new("t", None));
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.get().await });
        tokio::task::yield_now().await;
        q.shutdown();
        assert_eq!(h.await.unwrap(), None);
        q.add("a");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_count_adds_and_depth() {
        let reg = prometheus::Registry::new();
        let m = QueueMetrics::new(&reg).unwrap();
        let q = WorkQueue::new("replicaset", Some(m.clone()));
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(m.adds.with_label_values(&["replicaset"]).get(), 2);
        assert_eq!(m.depth.with_label_values(&["replicaset"]).get(), 2);
        let k = q.get().await.unwrap();
        assert_eq!(m.depth.with_label_values(&["replicaset"]).get(), 1);
        tokio::time::advance(Duration::from_secs(3)).await;
        q.update_unfinished_work();
        assert_eq!(
            m.longest_running.with_label_values(&["replicaset"]).get(),
            3.0
        );
        q.done(&k);
        let names: Vec<String> = reg.gather().iter().map(|f| f.name().to_string()).collect();
        for n in [
            "workqueue_depth",
            "workqueue_adds_total",
            "workqueue_queue_duration_seconds",
            "workqueue_work_duration_seconds",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }
}
