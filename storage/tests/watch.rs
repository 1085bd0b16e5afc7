//! Watch guarantees, one test each (as etcd's robustness tests define them): ordered,
//! unique, atomic, reliable, resumable, bookmarkable; filters, prev_kv, compacted starts,
//! and a slow watcher under a write storm that neither blocks writers nor loses events.

use std::time::{Duration, Instant};
use storage::*;
use tempfile::TempDir;

fn open_with(watch: WatchConfig) -> (TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = EngineConfig {
        watch,
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir.path(), config).expect("open engine");
    (dir, engine)
}

fn open() -> (TempDir, Engine) {
    open_with(WatchConfig {
        sync_interval: Duration::from_millis(2),
        ..WatchConfig::default()
    })
}

fn put(e: &Engine, k: &str, v: &str) -> i64 {
    match e
        .write(&WriteRequest::Put(PutRequest::new(k, v)))
        .expect("put")
    {
        WriteResponse::Put(p) => p.revision,
        other => panic!("unexpected {other:?}"),
    }
}

fn everything(start_revision: i64) -> WatchRequest {
    WatchRequest {
        key: vec![0],
        range_end: vec![0],
        start_revision,
        ..Default::default()
    }
}

/// Receives with a deadline.
fn recv(w: &mut Watcher) -> WatchResponse {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(msg) = w.try_recv() {
            return msg;
        }
        assert!(Instant::now() < deadline, "no watch response within 10 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Collects event messages until one reaches `until_rev`; returns (messages, events).
fn collect_until(w: &mut Watcher, until_rev: i64) -> Vec<WatchResponse> {
    let mut out = Vec::new();
    loop {
        let msg = recv(w);
        let done = msg
            .events
            .last()
            .is_some_and(|ev| ev.kv.mod_revision >= until_rev);
        if !msg.is_progress() {
            out.push(msg);
        }
        if done {
            return out;
        }
    }
}

/// Every event revision in order, flattened.
fn revisions(msgs: &[WatchResponse]) -> Vec<i64> {
    msgs.iter()
        .flat_map(|m| m.events.iter().map(|e| e.kv.mod_revision))
        .collect()
}

/// Checks ordered + unique + atomic + reliable for an all-keys watcher from `from`: the
/// distinct revisions are exactly from..=to, each revision's events are all in one message.
fn assert_gap_free(
    msgs: &[WatchResponse],
    from: i64,
    to: i64,
    events_per_rev: impl Fn(i64) -> usize,
) {
    let mut seen = std::collections::BTreeMap::<i64, (usize, usize)>::new(); // rev -> (message idx, count)
    let mut last = 0;
    for (i, m) in msgs.iter().enumerate() {
        for ev in &m.events {
            let r = ev.kv.mod_revision;
            assert!(r >= last, "ordered: {r} after {last}");
            last = r;
            let entry = seen.entry(r).or_insert((i, 0));
            assert_eq!(entry.0, i, "atomic: revision {r} split over two messages");
            entry.1 += 1;
        }
        assert!(m.revision >= last, "header revision covers the events");
    }
    let revs: Vec<i64> = seen.keys().copied().collect();
    assert_eq!(revs, (from..=to).collect::<Vec<_>>(), "reliable: no gaps");
    for (r, (_, n)) in seen {
        assert_eq!(
            n,
            events_per_rev(r),
            "unique: revision {r} delivered once, whole"
        );
    }
}

#[test]
fn ordered_unique_atomic_reliable_live() {
    let (_d, e) = open();
    let mut w = e.watch(everything(0)).unwrap();
    for i in 0..50 {
        let t = TxnRequest {
            success: (0..3)
                .map(|j| RequestOp::Put(PutRequest::new(format!("k{i}-{j}"), "v")))
                .collect(),
            ..Default::default()
        };
        e.write(&WriteRequest::Txn(t)).unwrap();
    }
    let msgs = collect_until(&mut w, 51);
    assert_gap_free(&msgs, 2, 51, |_| 3);
}

#[test]
fn catch_up_from_an_old_revision_then_live() {
    let (_d, e) = open();
    for i in 0..300 {
        put(&e, &format!("k{}", i % 10), &i.to_string());
    }
    let mut w = e.watch(everything(100)).unwrap();
    for i in 0..50 {
        put(&e, "live", &i.to_string());
    }
    let msgs = collect_until(&mut w, 351);
    assert_gap_free(&msgs, 100, 351, |_| 1);
    // prev_kv of a catch-up event is the key's previous version.
    let ev = &msgs[0].events[0];
    let prev = ev.prev_kv.as_ref().expect("prev kv");
    assert_eq!(prev.key, ev.kv.key);
    assert_eq!(prev.mod_revision, 90);
}

#[test]
fn resumable_from_last_revision_plus_one() {
    let (_d, e) = open();
    let mut w = e.watch(everything(0)).unwrap();
    for i in 0..20 {
        put(&e, "k", &i.to_string());
    }
    let first = collect_until(&mut w, 11);
    let last_seen = *revisions(&first).last().unwrap();
    drop(w);
    for i in 20..40 {
        put(&e, "k", &i.to_string());
    }
    let mut w = e.watch(everything(last_seen + 1)).unwrap();
    let rest = collect_until(&mut w, 41);
    let mut all = first;
    all.extend(rest);
    // Drop anything past 41 from the first stream's tail (none expected).
    assert_gap_free(&all, 2, 41, |_| 1);
}

#[test]
fn bookmarkable_progress_is_never_ahead_of_events() {
    let (_d, e) = open();
    let mut w = e.watch(everything(0)).unwrap();
    put(&e, "a", "1");
    w.request_progress();
    let m1 = recv(&mut w);
    assert_eq!(revisions(&[m1]), vec![2]);
    let p = recv(&mut w);
    assert!(p.is_progress());
    assert_eq!(p.revision, 2);

    // An unsynced watcher: progress comes only after the events it covers.
    for i in 0..200 {
        put(&e, "b", &i.to_string());
    }
    let mut old = e.watch(everything(2)).unwrap();
    old.request_progress();
    let mut delivered = 0;
    loop {
        let m = recv(&mut old);
        if m.is_progress() {
            assert!(
                m.revision <= delivered,
                "progress {} ahead of delivered {delivered}",
                m.revision
            );
            assert_eq!(m.revision, 202);
            break;
        }
        delivered = m.events.last().unwrap().kv.mod_revision;
    }
}

#[test]
fn periodic_progress_for_idle_watchers_that_ask() {
    let (_d, e) = open_with(WatchConfig {
        sync_interval: Duration::from_millis(5),
        progress_interval: Duration::from_millis(50),
        ..WatchConfig::default()
    });
    put(&e, "x", "1");
    let mut asks = e
        .watch(WatchRequest {
            progress_notify: true,
            ..WatchRequest {
                key: b"k".to_vec(),
                ..Default::default()
            }
        })
        .unwrap();
    let mut silent = e
        .watch(WatchRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })
        .unwrap();
    let p = recv(&mut asks);
    assert!(p.is_progress());
    assert_eq!(p.revision, 2);
    std::thread::sleep(Duration::from_millis(200));
    assert!(silent.try_recv().is_none(), "no progress unless asked");
}

#[test]
fn filters_and_prev_kv() {
    let (_d, e) = open();
    let mut no_put = e
        .watch(WatchRequest {
            no_put: true,
            ..everything(0)
        })
        .unwrap();
    let mut no_del = e
        .watch(WatchRequest {
            no_delete: true,
            prev_kv: true,
            ..everything(0)
        })
        .unwrap();
    let mut one_key = e
        .watch(WatchRequest {
            key: b"b".to_vec(),
            ..Default::default()
        })
        .unwrap();
    put(&e, "a", "1"); // 2
    put(&e, "a", "2"); // 3
    put(&e, "b", "1"); // 4
    e.write(&WriteRequest::DeleteRange(DeleteRangeRequest::key("a")))
        .unwrap(); // 5
    let m = recv(&mut no_put);
    assert_eq!(
        (
            m.events.len(),
            m.events[0].kind,
            m.events[0].kv.mod_revision
        ),
        (1, EventKind::Delete, 5)
    );
    assert_eq!(m.events[0].prev_kv.as_ref().unwrap().value, b"2");
    let msgs = collect_until(&mut no_del, 4);
    assert_eq!(revisions(&msgs), vec![2, 3, 4]);
    assert_eq!(msgs[1].events[0].prev_kv.as_ref().unwrap().value, b"1");
    assert!(msgs[0].events[0].prev_kv.is_none());
    let m = recv(&mut one_key);
    assert_eq!(revisions(&[m]), vec![4]);
    assert!(one_key.try_recv().is_none());
}

#[test]
fn a_compacted_start_gets_the_compact_revision_and_is_canceled() {
    let (_d, e) = open();
    for i in 0..20 {
        put(&e, "k", &i.to_string());
    }
    e.write(&WriteRequest::Compact { revision: 15 }).unwrap();
    let mut w = e.watch(everything(10)).unwrap();
    let m = recv(&mut w);
    assert!(m.canceled);
    assert_eq!(m.compact_revision, 15);
    // Starting exactly at the compact revision works.
    let mut w = e.watch(everything(15)).unwrap();
    let msgs = collect_until(&mut w, 21);
    assert_gap_free(&msgs, 15, 21, |_| 1);
}

#[test]
fn a_slow_watcher_never_blocks_writers_and_loses_nothing() {
    let (_d, e) = open_with(WatchConfig {
        channel_capacity: 4,
        sync_interval: Duration::from_millis(2),
        max_catchup_events: 64,
        ..WatchConfig::default()
    });
    let mut slow = e.watch(everything(0)).unwrap();
    let mut fast = e.watch(everything(0)).unwrap();
    let n = 5000;
    let writer = {
        let e = e.clone();
        std::thread::spawn(move || {
            for i in 0..n {
                e.write(&WriteRequest::Put(PutRequest::new(
                    format!("k{}", i % 100),
                    i.to_string(),
                )))
                .unwrap();
            }
        })
    };
    // The fast watcher keeps up while the writer runs; the slow one reads nothing yet.
    let fast_msgs = collect_until(&mut fast, n + 1);
    writer
        .join()
        .expect("writer finished while a watcher was not reading");
    assert_gap_free(&fast_msgs, 2, n + 1, |_| 1);
    let (_, unsynced) = e.watcher_counts();
    assert!(unsynced <= 1);
    let slow_msgs = collect_until(&mut slow, n + 1);
    assert_gap_free(&slow_msgs, 2, n + 1, |_| 1);
    // Once caught up it is live again.
    put(&e, "after", "x");
    let m = recv(&mut slow);
    assert_eq!(revisions(&[m]), vec![n + 2]);
    assert_eq!(e.watcher_counts(), (2, 0));
}

#[test]
fn a_lagging_watcher_whose_revision_is_compacted_is_told_so() {
    let (_d, e) = open_with(WatchConfig {
        channel_capacity: 1,
        sync_interval: Duration::from_millis(2),
        ..WatchConfig::default()
    });
    let mut w = e.watch(everything(0)).unwrap();
    for i in 0..50 {
        put(&e, "k", &i.to_string());
    }
    // The watcher holds revision 2 in its channel and is behind from 3.
    e.write(&WriteRequest::Compact { revision: 40 }).unwrap();
    let first = recv(&mut w);
    assert_eq!(revisions(&[first]), vec![2]);
    let m = recv(&mut w);
    assert!(m.canceled, "expected a compacted cancel, got {m:?}");
    assert_eq!(m.compact_revision, 40);
}

#[test]
fn cancel_by_drop_and_watchers_survive_snapshot_install() {
    let (_d, e) = open();
    let w = e.watch(everything(0)).unwrap();
    assert_eq!(e.watcher_counts(), (1, 0));
    drop(w);
    assert_eq!(e.watcher_counts(), (0, 0));

    // A second store moves ahead; installing its snapshot here moves this store's watcher
    // to catch-up over the new history.
    let (_d2, other) = open();
    put(&e, "k", "0");
    put(&other, "k", "0");
    let mut w = e.watch(everything(0)).unwrap();
    for i in 1..10 {
        put(&other, "k", &i.to_string());
    }
    let snap_dir = tempfile::tempdir().unwrap();
    let file = snap_dir.path().join("snap");
    other.save_snapshot(&file).unwrap();
    e.install_snapshot(&file).unwrap();
    let msgs = collect_until(&mut w, 11);
    assert_gap_free(&msgs, 3, 11, |_| 1);
}
