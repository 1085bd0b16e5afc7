//! No acknowledged write lost: every write acknowledged at revision R is in the store's
//! history at R, and each key's final read returns a value written no earlier than its last
//! acknowledged write.

use crate::check::watch::MergedLog;
use crate::history::{EventKind, Op, OpResult, Operation, Outcome};
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub acknowledged_writes: usize,
    pub final_reads: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// `merged`: the watchers' merged log; `final_after_ns`: reads invoked after this are the
/// final reads (after the workload stopped).
pub fn check(ops: &[Operation], merged: &MergedLog, final_after_ns: u64) -> Report {
    let mut r = Report::default();
    // (key, value) -> revision of acknowledged writes; key -> highest acknowledged revision.
    let mut acked: HashMap<(&str, &str), i64> = HashMap::new();
    let mut last_acked: HashMap<&str, i64> = HashMap::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let (key, value, rev) = match (&o.op, &o.result) {
            (Op::Put { key, value }, Some(OpResult::Put { revision }))
            | (Op::LeasePut { key, value, .. }, Some(OpResult::Put { revision })) => {
                (key, value, *revision)
            }
            (
                Op::Cas { key, value, .. },
                Some(OpResult::Cas {
                    succeeded: true,
                    revision,
                }),
            ) => (key, value, *revision),
            _ => continue,
        };
        r.acknowledged_writes += 1;
        acked.insert((key, value), rev);
        if matches!(o.op, Op::Put { .. } | Op::Cas { .. }) {
            let e = last_acked.entry(key).or_insert(rev);
            *e = (*e).max(rev);
        }
        if let Some(evs) = merged.get(&rev) {
            let found = evs.iter().any(|e| {
                e.kind == EventKind::Put
                    && e.key == *key
                    && e.kv.as_ref().is_some_and(|kv| kv.value == *value)
            });
            if !found {
                r.violations.push(format!("lost: {key} = {value} acknowledged at revision {rev} (op {}), the log has {:?} there", o.id, evs.iter().map(|e| (&e.key, e.kv.as_ref().map(|k| &k.value))).collect::<Vec<_>>()));
            }
        }
    }
    for o in ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.invoke_ns > final_after_ns)
    {
        let (Op::Get { key }, Some(OpResult::Get { value, .. })) = (&o.op, &o.result) else {
            continue;
        };
        r.final_reads += 1;
        let Some(&want) = last_acked.get(key.as_str()) else {
            continue;
        };
        match value {
            None => r.violations.push(format!("lost: the final read of {key} found nothing, a write was acknowledged at revision {want}")),
            Some(v) => {
                if let Some(&got) = acked.get(&(key.as_str(), v.as_str())) {
                    if got < want {
                        r.violations.push(format!("lost: the final read of {key} returned the write of revision {got}, a write was acknowledged at revision {want}"));
                    }
                }
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{KvVersion, WatchEvent};

    fn w(id: u64, value: &str, rev: i64) -> Operation {
        Operation {
            id,
            process: 0,
            node: 0,
            op: Op::Put {
                key: "k".into(),
                value: value.into(),
            },
            invoke_ns: id * 10,
            complete_ns: Some(id * 10 + 1),
            outcome: Outcome::Ok,
            result: Some(OpResult::Put { revision: rev }),
            error: None,
        }
    }
    fn final_get(value: Option<&str>) -> Operation {
        Operation {
            id: 99,
            process: 0,
            node: 0,
            op: Op::Get { key: "k".into() },
            invoke_ns: 1000,
            complete_ns: Some(1001),
            outcome: Outcome::Ok,
            result: Some(OpResult::Get {
                value: value.map(String::from),
                revision: 3,
            }),
            error: None,
        }
    }
    fn log(entries: &[(&str, i64)]) -> MergedLog {
        entries
            .iter()
            .map(|(v, rev)| {
                (
                    *rev,
                    vec![WatchEvent {
                        kind: EventKind::Put,
                        key: "k".into(),
                        revision: *rev,
                        kv: Some(KvVersion {
                            value: v.to_string(),
                            mod_revision: *rev,
                            create_revision: 2,
                            version: 1,
                            lease: 0,
                        }),
                        prev: None,
                    }],
                )
            })
            .collect()
    }

    #[test]
    fn kept_writes_pass() {
        let r = check(
            &[w(1, "a", 2), w(2, "b", 3), final_get(Some("b"))],
            &log(&[("a", 2), ("b", 3)]),
            500,
        );
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!((r.acknowledged_writes, r.final_reads), (2, 1));
    }

    #[test]
    fn a_lost_write_is_caught() {
        // Not in the log at its revision.
        assert!(!check(
            &[w(1, "a", 2), w(2, "b", 3)],
            &log(&[("a", 2), ("x", 3)]),
            500
        )
        .ok());
        // The final read went back to an older acknowledged write.
        assert!(!check(
            &[w(1, "a", 2), w(2, "b", 3), final_get(Some("a"))],
            &log(&[("a", 2), ("b", 3)]),
            500
        )
        .ok());
        assert!(!check(&[w(1, "a", 2), final_get(None)], &log(&[("a", 2)]), 500).ok());
    }
}
