//! Watch guarantees over the watchers' recorded responses (etcd's robustness-test
//! definitions): ordered, unique, atomic, reliable, resumable, bookmarkable, prev_kv correct,
//! and every watcher's log converging to one log that matches the KV history.
//!
//! Assumption of the harness: every write of the run is under the watched prefix, so the
//! merged log has an event at every revision from 2 to the final revision.

use crate::history::{
    EventKind, KvVersion, Op, OpResult, Operation, Outcome, Record, WatchEvent, WatcherId,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The one log every watcher's log converges to: revision -> that revision's events.
pub type MergedLog = BTreeMap<i64, Vec<WatchEvent>>;

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub watchers: usize,
    pub events: usize,
    pub bookmarks: usize,
    pub restarts: usize,
    /// Restarts forced by compaction (a legitimate gap).
    pub compacted: usize,
    pub final_revision: i64,
    pub violations: Vec<String>,
    pub merged: MergedLog,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

#[derive(Default)]
struct WatcherState {
    started: bool,
    first_start: i64,
    session_start: i64,
    last_event_rev: i64,
    last_event_resp: usize,
    last_progress: i64,
    covered: i64,
    seen: HashSet<(i64, String)>,
    by_rev: BTreeMap<i64, Vec<WatchEvent>>,
    /// Revision ranges a compaction let this watcher skip.
    gaps: Vec<(i64, i64)>,
}

const MAX_REPORTED: usize = 20;

fn push(v: &mut Vec<String>, s: String) {
    if v.len() < MAX_REPORTED {
        v.push(s);
    } else if v.len() == MAX_REPORTED {
        v.push("... (more violations not listed)".into());
    }
}

/// Checks the watch records of `records` against each other and the KV operations `ops`;
/// `require_converged`: each watcher must have covered the final revision (end of a run).
pub fn check(records: &[Record], ops: &[Operation], require_converged: bool) -> Report {
    let mut r = Report::default();
    let mut ws: BTreeMap<WatcherId, WatcherState> = BTreeMap::new();
    let mut resp_idx = 0usize;
    for rec in records {
        match rec {
            Record::WatchStart {
                watcher,
                start_revision,
                ..
            } => {
                let w = ws.entry(*watcher).or_default();
                if !w.started {
                    w.started = true;
                    w.first_start = *start_revision;
                    w.covered = start_revision - 1;
                } else {
                    r.restarts += 1;
                    // Resumable: a re-watch continues right after what was delivered.
                    if *start_revision != w.covered + 1 {
                        push(&mut r.violations, format!("resumable: watcher {watcher} restarted at {start_revision}, not {} (last delivered + 1)", w.covered + 1));
                    }
                }
                w.session_start = *start_revision;
            }
            Record::WatchEvents {
                watcher, events, ..
            } => {
                resp_idx += 1;
                let w = ws.entry(*watcher).or_default();
                for ev in events {
                    r.events += 1;
                    if ev.revision < w.session_start {
                        push(&mut r.violations, format!("resumable: watcher {watcher} got revision {} before its start revision {}", ev.revision, w.session_start));
                    }
                    if !w.seen.insert((ev.revision, ev.key.clone())) {
                        push(
                            &mut r.violations,
                            format!(
                                "unique: watcher {watcher} got {} at revision {} twice",
                                ev.key, ev.revision
                            ),
                        );
                        continue;
                    }
                    if ev.revision < w.last_event_rev {
                        push(
                            &mut r.violations,
                            format!(
                                "ordered: watcher {watcher} got revision {} after {}",
                                ev.revision, w.last_event_rev
                            ),
                        );
                    } else if ev.revision == w.last_event_rev && w.last_event_resp != resp_idx {
                        push(&mut r.violations, format!("atomic: watcher {watcher} got revision {} split over two responses", ev.revision));
                    }
                    if ev.revision <= w.last_progress {
                        push(&mut r.violations, format!("bookmarkable: watcher {watcher} got revision {} after a bookmark at {}", ev.revision, w.last_progress));
                    }
                    if let (EventKind::Put, Some(kv)) = (&ev.kind, &ev.kv) {
                        if kv.mod_revision != ev.revision {
                            push(&mut r.violations, format!("event: watcher {watcher} got {} with mod revision {} in an event at {}", ev.key, kv.mod_revision, ev.revision));
                        }
                    }
                    w.last_event_rev = w.last_event_rev.max(ev.revision);
                    w.last_event_resp = resp_idx;
                    w.covered = w.covered.max(ev.revision);
                    w.by_rev.entry(ev.revision).or_default().push(ev.clone());
                }
            }
            Record::WatchProgress {
                watcher, revision, ..
            } => {
                r.bookmarks += 1;
                let w = ws.entry(*watcher).or_default();
                if *revision < w.last_event_rev {
                    push(&mut r.violations, format!("bookmarkable: watcher {watcher} got a bookmark at {revision} after an event at {}", w.last_event_rev));
                }
                w.last_progress = w.last_progress.max(*revision);
                w.covered = w.covered.max(*revision);
            }
            Record::WatchEnd {
                watcher,
                compact_revision,
                ..
            } if *compact_revision > 0 => {
                r.compacted += 1;
                let w = ws.entry(*watcher).or_default();
                if *compact_revision > w.covered + 1 {
                    w.gaps.push((w.covered + 1, compact_revision - 1));
                    // The restart at the compact revision is the resumption point.
                    w.covered = compact_revision - 1;
                }
            }
            _ => {}
        }
    }
    r.watchers = ws.len();

    // Converge to one log: a revision's events are the same for every watcher that has it.
    let mut merged: MergedLog = BTreeMap::new();
    for (id, w) in &ws {
        for (rev, evs) in &w.by_rev {
            match merged.get(rev) {
                None => {
                    merged.insert(*rev, evs.clone());
                }
                Some(m) => {
                    if !same_events(m, evs) {
                        push(&mut r.violations, format!("converge: watcher {id} has different events at revision {rev}: {evs:?} vs {m:?}"));
                    }
                }
            }
        }
    }

    // The final revision: the highest any successful operation reported.
    let final_revision = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .filter_map(|o| result_revision(o.result.as_ref()?))
        .max()
        .unwrap_or(1);
    r.final_revision = final_revision;

    // Reliable: every revision 2..=final has events (all writes are under the prefix) ...
    let last_merged = merged.keys().next_back().copied().unwrap_or(1);
    let mut missing = 0;
    for rev in 2..=final_revision.max(last_merged) {
        if !merged.contains_key(&rev)
            && !ws
                .values()
                .any(|w| w.gaps.iter().any(|&(a, b)| a <= rev && rev <= b))
        {
            missing += 1;
            if missing <= 5 {
                push(
                    &mut r.violations,
                    format!("reliable: no watcher got revision {rev}"),
                );
            }
        }
    }
    // ... and each watcher has every revision of the merged log it covered.
    for (id, w) in &ws {
        let mut lacks = Vec::new();
        for rev in merged.range(w.first_start..=w.covered).map(|(r, _)| *r) {
            if !w.by_rev.contains_key(&rev) && !w.gaps.iter().any(|&(a, b)| a <= rev && rev <= b) {
                lacks.push(rev);
            }
        }
        if !lacks.is_empty() {
            push(
                &mut r.violations,
                format!(
                    "reliable: watcher {id} skipped {} revisions it covered, first {:?}",
                    lacks.len(),
                    &lacks[..lacks.len().min(5)]
                ),
            );
        }
        if require_converged && w.covered < final_revision {
            push(
                &mut r.violations,
                format!(
                    "converge: watcher {id} reached only revision {} of {final_revision}",
                    w.covered
                ),
            );
        }
    }

    // prev_kv, version and create revision, replaying the merged log key by key.
    let compacted_somewhere = ws.values().any(|w| !w.gaps.is_empty());
    let mut complete_from_start = ws.values().any(|w| w.first_start <= 1)
        && merged.keys().next().is_none_or(|&first| first <= 2);
    let mut last: HashMap<&str, &WatchEvent> = HashMap::new();
    let mut prev_rev: Option<i64> = None;
    for (rev, evs) in &merged {
        // After a gap (compaction) the log no longer knows each key's previous version.
        if prev_rev.is_some_and(|p| *rev != p + 1) {
            last.clear();
            complete_from_start = false;
        }
        prev_rev = Some(*rev);
        for ev in evs {
            let prev = last.get(ev.key.as_str()).copied();
            let expected_prev: Option<Option<&KvVersion>> = match prev {
                Some(p) if p.kind == EventKind::Put => Some(p.kv.as_ref()),
                Some(_) => Some(None),
                None if complete_from_start => Some(None),
                None => None,
            };
            if let Some(exp) = expected_prev {
                if ev.prev.as_ref() != exp {
                    push(
                        &mut r.violations,
                        format!(
                            "prev_kv: {} at revision {rev} carries prev {:?}, the log says {:?}",
                            ev.key, ev.prev, exp
                        ),
                    );
                }
                if let (EventKind::Put, Some(kv)) = (&ev.kind, &ev.kv) {
                    let (version, create) = match exp {
                        Some(p) => (p.version + 1, p.create_revision),
                        None => (1, *rev),
                    };
                    if kv.version != version || kv.create_revision != create {
                        push(&mut r.violations, format!("version: {} at revision {rev} has version {} created at {}, the log says {version} created at {create}", ev.key, kv.version, kv.create_revision));
                    }
                }
            }
            last.insert(&ev.key, ev);
        }
    }

    // The log matches the KV history: no value appears that was never written or whose
    // write failed, and every successful read returns the log's state at its revision.
    let mut writes: HashMap<(&str, &str), Outcome> = HashMap::new();
    for o in ops {
        if let Op::Put { key, value }
        | Op::Cas { key, value, .. }
        | Op::LeasePut { key, value, .. } = &o.op
        {
            writes.insert((key, value), o.outcome);
        }
    }
    // Every write carries a unique value, so a value put twice is a write applied twice.
    let mut applied_at: HashMap<(&str, &str), i64> = HashMap::new();
    for (rev, evs) in &merged {
        for ev in evs {
            if let (EventKind::Put, Some(kv)) = (&ev.kind, &ev.kv) {
                if let Some(first) = applied_at.insert((ev.key.as_str(), kv.value.as_str()), *rev) {
                    push(
                        &mut r.violations,
                        format!(
                            "kv-history: {} = {} applied twice, at revisions {first} and {rev}",
                            ev.key, kv.value
                        ),
                    );
                }
                match writes.get(&(ev.key.as_str(), kv.value.as_str())) {
                    None => push(
                        &mut r.violations,
                        format!(
                            "kv-history: {} = {} at revision {rev} was never written",
                            ev.key, kv.value
                        ),
                    ),
                    Some(Outcome::Fail) => push(
                        &mut r.violations,
                        format!(
                            "kv-history: {} = {} at revision {rev} is a write that failed",
                            ev.key, kv.value
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
    if !compacted_somewhere {
        for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
            let (key, got, at) = match (&o.op, &o.result) {
                (Op::Get { key }, Some(OpResult::Get { value, revision })) => {
                    (key, value.clone(), *revision)
                }
                (Op::LeaseGet { key, .. }, Some(OpResult::LeaseGet { found, revision })) => {
                    (key, found.then(String::new), *revision)
                }
                _ => continue,
            };
            if at > last_merged {
                continue;
            }
            let state = state_at(&merged, key, at);
            let agrees = match (&o.op, &got) {
                (Op::LeaseGet { .. }, g) => g.is_some() == state.is_some(),
                (_, g) => g.as_deref() == state,
            };
            if !agrees {
                push(&mut r.violations, format!("kv-history: a read of {key} at revision {at} returned {got:?}, the log says {state:?} (op {})", o.id));
            }
        }
    }
    r.merged = merged;
    r
}

fn same_events(a: &[WatchEvent], b: &[WatchEvent]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(|x, y| x.key.cmp(&y.key));
    b.sort_by(|x, y| x.key.cmp(&y.key));
    a == b
}

/// The revision a successful result names (its header revision).
pub fn result_revision(r: &OpResult) -> Option<i64> {
    match r {
        OpResult::Get { revision, .. }
        | OpResult::Put { revision }
        | OpResult::Cas { revision, .. }
        | OpResult::LeaseGet { revision, .. } => Some(*revision),
        _ => None,
    }
}

/// The value of `key` in the merged log as of revision `at` (None: absent).
pub fn state_at<'a>(merged: &'a MergedLog, key: &str, at: i64) -> Option<&'a str> {
    let mut v = None;
    for evs in merged.range(..=at).map(|(_, e)| e) {
        for ev in evs.iter().filter(|e| e.key == key) {
            v = match ev.kind {
                EventKind::Put => ev.kv.as_ref().map(|kv| kv.value.as_str()),
                EventKind::Delete => None,
            };
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(value: &str, rev: i64, create: i64, version: i64) -> KvVersion {
        KvVersion {
            value: value.into(),
            mod_revision: rev,
            create_revision: create,
            version,
            lease: 0,
        }
    }
    fn put(
        key: &str,
        value: &str,
        rev: i64,
        create: i64,
        version: i64,
        prev: Option<KvVersion>,
    ) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Put,
            key: key.into(),
            revision: rev,
            kv: Some(kv(value, rev, create, version)),
            prev,
        }
    }
    fn start(w: u32, rev: i64) -> Record {
        Record::WatchStart {
            t_ns: 0,
            watcher: w,
            node: 0,
            start_revision: rev,
        }
    }
    fn events(w: u32, evs: Vec<WatchEvent>) -> Record {
        Record::WatchEvents {
            t_ns: 0,
            watcher: w,
            events: evs,
        }
    }
    fn progress(w: u32, rev: i64) -> Record {
        Record::WatchProgress {
            t_ns: 0,
            watcher: w,
            revision: rev,
        }
    }
    fn write(id: u64, key: &str, value: &str, rev: i64) -> Operation {
        Operation {
            id,
            process: 0,
            node: 0,
            op: Op::Put {
                key: key.into(),
                value: value.into(),
            },
            invoke_ns: 0,
            complete_ns: Some(1),
            outcome: Outcome::Ok,
            result: Some(OpResult::Put { revision: rev }),
            error: None,
        }
    }

    /// A good history: two writes to k at revisions 2 and 3, two watchers, one restarted.
    fn good() -> (Vec<Record>, Vec<Operation>) {
        let e2 = put("k", "a", 2, 2, 1, None);
        let e3 = put("k", "b", 3, 2, 2, Some(kv("a", 2, 2, 1)));
        let recs = vec![
            start(0, 1),
            start(1, 1),
            events(0, vec![e2.clone()]),
            events(1, vec![e2]),
            progress(1, 2),
            start(1, 3),
            events(0, vec![e3.clone()]),
            events(1, vec![e3]),
            progress(0, 3),
            progress(1, 3),
        ];
        (recs, vec![write(0, "k", "a", 2), write(1, "k", "b", 3)])
    }

    fn check_fails(recs: Vec<Record>, ops: Vec<Operation>, what: &str) {
        let r = check(&recs, &ops, true);
        assert!(
            r.violations.iter().any(|v| v.starts_with(what)),
            "expected a {what} violation, got {:?}",
            r.violations
        );
    }

    #[test]
    fn a_good_history_passes() {
        let (recs, ops) = good();
        let r = check(&recs, &ops, true);
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.merged.len(), 2);
        assert_eq!(r.restarts, 1);
    }

    #[test]
    fn each_guarantee_can_fail() {
        let (mut recs, ops) = good();
        // Unique: a duplicate delivery.
        recs.push(events(
            0,
            vec![put("k", "b", 3, 2, 2, Some(kv("a", 2, 2, 1)))],
        ));
        check_fails(recs, ops.clone(), "unique");
        // Ordered: revision 2 after 3.
        let (mut recs, _) = good();
        recs.insert(7, events(0, vec![put("j", "x", 2, 2, 1, None)]));
        check_fails(recs, ops.clone(), "ordered");
        // Resumable: a restart that skips.
        let (mut recs, _) = good();
        recs[5] = start(1, 4);
        check_fails(recs, ops.clone(), "resumable");
        // Reliable: watcher 1 loses revision 3 but claims progress past it.
        let (mut recs, _) = good();
        recs.remove(7);
        check_fails(recs, ops.clone(), "reliable");
        // Converge: a watcher sees another value at the same revision.
        let (mut recs, _) = good();
        recs[7] = events(1, vec![put("k", "zz", 3, 2, 2, Some(kv("a", 2, 2, 1)))]);
        check_fails(recs, ops.clone(), "converge");
        // prev_kv wrong.
        let (mut recs, _) = good();
        recs[6] = events(0, vec![put("k", "b", 3, 2, 2, None)]);
        check_fails(recs, ops.clone(), "prev_kv");
        // Atomic: one revision's two events split across responses.
        let (mut recs, _) = good();
        recs.push(events(0, vec![put("k2", "c", 4, 4, 1, None)]));
        recs.push(events(0, vec![put("k3", "d", 4, 4, 1, None)]));
        let mut ops2 = ops.clone();
        ops2.push(write(5, "k2", "c", 4));
        ops2.push(write(6, "k3", "d", 4));
        check_fails(recs, ops2, "atomic");
    }

    #[test]
    fn the_log_must_match_the_kv_history() {
        let (recs, mut ops) = good();
        // A value nobody wrote.
        ops[1].op = Op::Put {
            key: "k".into(),
            value: "other".into(),
        };
        check_fails(recs.clone(), ops, "kv-history");
        // A read that disagrees with the log at its revision.
        let (recs, mut ops) = good();
        ops.push(Operation {
            id: 9,
            process: 0,
            node: 0,
            op: Op::Get { key: "k".into() },
            invoke_ns: 0,
            complete_ns: Some(1),
            outcome: Outcome::Ok,
            result: Some(OpResult::Get {
                value: Some("a".into()),
                revision: 3,
            }),
            error: None,
        });
        check_fails(recs, ops, "kv-history");
        // A write at a revision no watcher ever got, and a watcher that never caught up.
        let (mut recs, mut ops) = good();
        ops.push(write(7, "k", "c", 4));
        recs.truncate(8);
        check_fails(recs.clone(), ops.clone(), "reliable");
        check_fails(recs, ops, "converge");
    }

    #[test]
    fn a_write_applied_twice_is_a_violation() {
        // The same put (unique value) at revisions 2 and 3, as a retried forward applies it.
        let e2 = put("k", "a", 2, 2, 1, None);
        let e3 = put("k", "a", 3, 2, 2, Some(kv("a", 2, 2, 1)));
        let recs = vec![
            start(0, 1),
            events(0, vec![e2]),
            events(0, vec![e3]),
            progress(0, 3),
        ];
        let mut ops = vec![write(0, "k", "a", 3)];
        ops[0].result = Some(OpResult::Put { revision: 3 });
        check_fails(recs, ops, "kv-history: k = a applied twice");
    }

    #[test]
    fn a_compaction_gap_is_not_a_violation() {
        let e2 = put("k", "a", 2, 2, 1, None);
        let e4 = put("k", "c", 4, 2, 3, Some(kv("b", 3, 2, 2)));
        let recs = vec![
            start(0, 1),
            events(0, vec![e2]),
            Record::WatchEnd {
                t_ns: 0,
                watcher: 0,
                reason: "compacted".into(),
                compact_revision: 4,
            },
            start(0, 4),
            events(0, vec![e4]),
            progress(0, 4),
        ];
        let ops = vec![
            write(0, "k", "a", 2),
            write(1, "k", "b", 3),
            write(2, "k", "c", 4),
        ];
        let r = check(&recs, &ops, true);
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.compacted, 1);
    }
}
