//! Linearizability of the register workload, key by key: a Wing-Gong-Lowe search with
//! memoisation (as in porcupine) over a register model with get, put and compare-and-set.
//!
//! An operation with an unknown outcome may take effect at any time after its invocation or
//! never: it gets no return event, and the search succeeds once every definite operation is
//! placed. Pruning that keeps the search exact:
//! - an unknown operation that would leave the state unchanged is not tried (leaving it out
//!   is at least as good);
//! - unknown writes whose value no one observed are interchangeable once invoked: at each
//!   step only the first pending one is tried, and all of them write one symbolic value.

use crate::history::{Op, OpResult, Operation, Outcome};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The verdict for one key.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyVerdict {
    Linearizable,
    /// No order explains the history; `blocked` is the operation the deepest search could
    /// not place, `placed` how many operations were placed then.
    Violation {
        blocked: Operation,
        placed: usize,
        total: usize,
    },
    /// The search passed its step budget: neither proven nor refuted.
    Inconclusive {
        steps: u64,
    },
}

#[derive(Clone, Debug)]
pub struct Report {
    pub keys_checked: usize,
    pub ops_checked: usize,
    pub violations: Vec<(String, KeyVerdict)>,
    pub inconclusive: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Register ops of the history (get, put, cas), grouped by key.
pub fn by_key(ops: &[Operation]) -> BTreeMap<String, Vec<Operation>> {
    let mut m: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    for o in ops {
        if let Op::Get { key } | Op::Put { key, .. } | Op::Cas { key, .. } = &o.op {
            m.entry(key.clone()).or_default().push(o.clone());
        }
    }
    m
}

/// Checks every key's sub-history; `step_budget` bounds the search per key.
pub fn check(ops: &[Operation], step_budget: u64) -> Report {
    let keys = by_key(ops);
    let mut report = Report {
        keys_checked: keys.len(),
        ops_checked: 0,
        violations: Vec::new(),
        inconclusive: Vec::new(),
    };
    for (key, kops) in keys {
        report.ops_checked += kops.len();
        match check_key(&kops, step_budget) {
            KeyVerdict::Linearizable => {}
            KeyVerdict::Inconclusive { .. } => report.inconclusive.push(key),
            v => report.violations.push((key, v)),
        }
    }
    report
}

const NONE: usize = usize::MAX;
/// The state "key absent".
const ABSENT: u32 = 0;
/// The state "a value no completed read observed".
const UNOBSERVED: u32 = 1;

/// One op as the search sees it. Values are interned: 0 absent, 1 unobserved, 2.. observed.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Requires the state to be `0`.
    Read(u32),
    /// Sets the state.
    Write(u32),
    /// Requires `expected`, sets `value`.
    CasOk { expected: u32, value: u32 },
    /// Requires anything but `expected`.
    CasFailed { expected: u32 },
    /// Unknown outcome: sets `value` if the state is `expected`, else does nothing.
    CasMaybe { expected: u32, value: u32 },
}

struct Entry {
    step: Step,
    definite: bool,
    /// Unknown writes of unobserved values are interchangeable.
    unobserved_write: bool,
    op: Operation,
}

fn apply(step: Step, state: u32) -> Option<u32> {
    match step {
        Step::Read(v) => (state == v).then_some(state),
        Step::Write(v) => Some(v),
        Step::CasOk { expected, value } => (state == expected).then_some(value),
        Step::CasFailed { expected } => (state != expected).then_some(state),
        Step::CasMaybe { expected, value } => (state == expected).then_some(value),
    }
}

/// Checks one key's operations (all on the same key).
pub fn check_key(ops: &[Operation], step_budget: u64) -> KeyVerdict {
    // Values read by a completed get or matched by a successful cas are "observed".
    let mut observed: HashSet<&str> = HashSet::new();
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let (Op::Get { .. }, Some(OpResult::Get { value: Some(v), .. })) = (&o.op, &o.result) {
            observed.insert(v);
        }
    }
    // Every cas compares against its expected value: keep those values distinct too.
    for o in ops {
        if let Op::Cas { expected, .. } = &o.op {
            observed.insert(expected);
        }
    }
    let mut intern: HashMap<String, u32> = HashMap::new();
    let mut id_of = |v: &str| -> u32 {
        if !observed.contains(v) {
            return UNOBSERVED;
        }
        let n = intern.len() as u32 + 2;
        *intern.entry(v.to_string()).or_insert(n)
    };
    let mut entries: Vec<Entry> = Vec::new();
    for o in ops {
        let ok = o.outcome == Outcome::Ok;
        let unknown = o.outcome == Outcome::Unknown;
        let entry = match (&o.op, &o.result) {
            (Op::Get { .. }, Some(OpResult::Get { value, .. })) if ok => Some((
                Step::Read(value.as_deref().map(&mut id_of).unwrap_or(ABSENT)),
                true,
            )),
            (Op::Put { value, .. }, _) if ok || unknown => Some((Step::Write(id_of(value)), ok)),
            (
                Op::Cas {
                    expected, value, ..
                },
                Some(OpResult::Cas {
                    succeeded: true, ..
                }),
            ) if ok => Some((
                Step::CasOk {
                    expected: id_of(expected),
                    value: id_of(value),
                },
                true,
            )),
            (
                Op::Cas { expected, .. },
                Some(OpResult::Cas {
                    succeeded: false, ..
                }),
            ) if ok => Some((
                Step::CasFailed {
                    expected: id_of(expected),
                },
                true,
            )),
            (
                Op::Cas {
                    expected, value, ..
                },
                _,
            ) if unknown => Some((
                Step::CasMaybe {
                    expected: id_of(expected),
                    value: id_of(value),
                },
                false,
            )),
            // Failed ops did not take effect; unknown reads change nothing.
            _ => None,
        };
        if let Some((step, definite)) = entry {
            let unobserved_write = !definite && matches!(step, Step::Write(UNOBSERVED));
            entries.push(Entry {
                step,
                definite,
                unobserved_write,
                op: o.clone(),
            });
        }
    }
    search(&entries, step_budget)
}

/// Event list node: a call or a return of entry `op`.
#[derive(Clone, Copy)]
struct Node {
    op: usize,
    is_call: bool,
    /// For a call: its return node (NONE for unknown ops, which never return).
    ret: usize,
    prev: usize,
    next: usize,
}

fn search(entries: &[Entry], step_budget: u64) -> KeyVerdict {
    let total = entries.len();
    // Events: calls and returns, by time; at equal times calls first (more overlap, never a
    // false violation).
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        events.push((e.op.invoke_ns, true, i));
        if e.definite {
            events.push((e.op.complete_ns.unwrap_or(u64::MAX), false, i));
        }
    }
    events.sort_by_key(|&(t, is_call, i)| (t, !is_call, i));
    // nodes[0] is the head sentinel.
    let mut nodes: Vec<Node> = vec![Node {
        op: NONE,
        is_call: false,
        ret: NONE,
        prev: NONE,
        next: NONE,
    }];
    let mut call_node: Vec<usize> = vec![NONE; total];
    for &(_, is_call, i) in &events {
        let idx = nodes.len();
        let prev = idx - 1;
        nodes[prev].next = idx;
        nodes.push(Node {
            op: i,
            is_call,
            ret: NONE,
            prev,
            next: NONE,
        });
        if is_call {
            call_node[i] = idx;
        } else {
            nodes[call_node[i]].ret = idx;
        }
    }
    // Zobrist keys for the set of placed ops (128 bits: a collision could hide a path).
    let mut rng = crate::rng::Rng::new(0x005e_ed0f_11ea);
    let zobrist: Vec<u128> = (0..total)
        .map(|_| ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128)
        .collect();
    let mut remaining_definite = entries.iter().filter(|e| e.definite).count();
    let mut placed_set: u128 = 0;
    let mut placed = vec![false; total];
    let mut n_placed = 0usize;
    let mut cache: HashSet<(u128, u32)> = HashSet::new();
    let mut stack: Vec<(usize, u32)> = Vec::new();
    let mut state = ABSENT;
    let mut best: (usize, usize) = (0, NONE);
    let mut steps: u64 = 0;
    // Whether an unobserved unknown write was already tried at the current level.
    let mut tried_unobserved_at_level: Vec<bool> = vec![false];

    let lift = |nodes: &mut Vec<Node>, n: usize| {
        let (p, nx) = (nodes[n].prev, nodes[n].next);
        nodes[p].next = nx;
        if nx != NONE {
            nodes[nx].prev = p;
        }
        let r = nodes[n].ret;
        if r != NONE {
            let (p, nx) = (nodes[r].prev, nodes[r].next);
            nodes[p].next = nx;
            if nx != NONE {
                nodes[nx].prev = p;
            }
        }
    };
    let unlift = |nodes: &mut Vec<Node>, n: usize| {
        let r = nodes[n].ret;
        if r != NONE {
            let (p, nx) = (nodes[r].prev, nodes[r].next);
            nodes[p].next = r;
            if nx != NONE {
                nodes[nx].prev = r;
            }
        }
        let (p, nx) = (nodes[n].prev, nodes[n].next);
        nodes[p].next = n;
        if nx != NONE {
            nodes[nx].prev = n;
        }
    };

    let mut cur = nodes[0].next;
    loop {
        if remaining_definite == 0 {
            return KeyVerdict::Linearizable;
        }
        steps += 1;
        if steps > step_budget {
            return KeyVerdict::Inconclusive { steps };
        }
        if cur != NONE && nodes[cur].is_call {
            let i = nodes[cur].op;
            let e = &entries[i];
            let level_tried = *tried_unobserved_at_level.last().unwrap_or(&false);
            let skip = e.unobserved_write && level_tried;
            let next_state = if skip { None } else { apply(e.step, state) };
            // An unknown op that changes nothing is never worth placing.
            let next_state = next_state.filter(|&s| e.definite || s != state);
            if let Some(s) = next_state {
                if e.unobserved_write {
                    if let Some(t) = tried_unobserved_at_level.last_mut() {
                        *t = true;
                    }
                }
                let set = placed_set ^ zobrist[i];
                if cache.insert((set, s)) {
                    stack.push((cur, state));
                    placed_set = set;
                    placed[i] = true;
                    n_placed += 1;
                    if e.definite {
                        remaining_definite -= 1;
                    }
                    state = s;
                    lift(&mut nodes, cur);
                    tried_unobserved_at_level.push(false);
                    cur = nodes[0].next;
                    continue;
                }
            }
            cur = nodes[cur].next;
        } else {
            // A return (or the end) before its call was placed: backtrack.
            if n_placed >= best.0 && cur != NONE {
                best = (n_placed, nodes[cur].op);
            }
            let Some((n, prev_state)) = stack.pop() else {
                let blocked = if best.1 == NONE {
                    entries[0].op.clone()
                } else {
                    entries[best.1].op.clone()
                };
                return KeyVerdict::Violation {
                    blocked,
                    placed: best.0,
                    total,
                };
            };
            tried_unobserved_at_level.pop();
            let i = nodes[n].op;
            unlift(&mut nodes, n);
            placed[i] = false;
            placed_set ^= zobrist[i];
            n_placed -= 1;
            if entries[i].definite {
                remaining_definite += 1;
            }
            state = prev_state;
            cur = nodes[n].next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact op: (invoke, complete or None for unknown, op, result).
    fn op(
        id: u64,
        invoke: u64,
        complete: Option<u64>,
        op: Op,
        result: Option<OpResult>,
    ) -> Operation {
        let outcome = if complete.is_some() {
            Outcome::Ok
        } else {
            Outcome::Unknown
        };
        Operation {
            id,
            process: id,
            node: 0,
            op,
            invoke_ns: invoke,
            complete_ns: complete,
            outcome,
            result,
            error: None,
        }
    }
    fn put(id: u64, i: u64, c: Option<u64>, v: &str) -> Operation {
        op(
            id,
            i,
            c,
            Op::Put {
                key: "k".into(),
                value: v.into(),
            },
            c.map(|_| OpResult::Put { revision: 0 }),
        )
    }
    fn get(id: u64, i: u64, c: u64, v: Option<&str>) -> Operation {
        op(
            id,
            i,
            Some(c),
            Op::Get { key: "k".into() },
            Some(OpResult::Get {
                value: v.map(String::from),
                revision: 0,
            }),
        )
    }
    fn cas(id: u64, i: u64, c: Option<u64>, e: &str, v: &str, ok: bool) -> Operation {
        op(
            id,
            i,
            c,
            Op::Cas {
                key: "k".into(),
                expected: e.into(),
                value: v.into(),
            },
            c.map(|_| OpResult::Cas {
                succeeded: ok,
                revision: 0,
            }),
        )
    }

    fn check(ops: Vec<Operation>, linearizable: bool) {
        let v = check_key(&ops, 1_000_000);
        match (&v, linearizable) {
            (KeyVerdict::Linearizable, true) | (KeyVerdict::Violation { .. }, false) => {}
            _ => panic!("expected linearizable={linearizable}, got {v:?} for {ops:#?}"),
        }
    }

    #[test]
    fn sequential_histories() {
        check(vec![], true);
        check(vec![get(0, 0, 1, None)], true);
        check(vec![get(0, 0, 1, Some("a"))], false);
        check(vec![put(0, 0, Some(1), "a"), get(1, 2, 3, Some("a"))], true);
        check(vec![put(0, 0, Some(1), "a"), get(1, 2, 3, None)], false);
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, Some(3), "b"),
                get(2, 4, 5, Some("a")),
            ],
            false,
        );
        check(
            vec![
                put(0, 0, Some(1), "a"),
                cas(1, 2, Some(3), "a", "b", true),
                get(2, 4, 5, Some("b")),
            ],
            true,
        );
        check(
            vec![put(0, 0, Some(1), "a"), cas(1, 2, Some(3), "x", "b", true)],
            false,
        );
        check(
            vec![put(0, 0, Some(1), "a"), cas(1, 2, Some(3), "a", "b", false)],
            false,
        );
        check(
            vec![
                put(0, 0, Some(1), "a"),
                cas(1, 2, Some(3), "x", "b", false),
                get(2, 4, 5, Some("a")),
            ],
            true,
        );
    }

    #[test]
    fn concurrent_ops_may_take_effect_in_either_order() {
        // put a || put b, then reads see b: fine (a then b).
        check(
            vec![
                put(0, 0, Some(10), "a"),
                put(1, 1, Some(9), "b"),
                get(2, 11, 12, Some("b")),
                get(3, 13, 14, Some("b")),
            ],
            true,
        );
        // A read concurrent with a put sees the old or the new value.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, Some(10), "b"),
                get(2, 3, 4, Some("a")),
                get(3, 5, 6, Some("b")),
            ],
            true,
        );
    }

    #[test]
    fn stale_read_after_a_completed_write_is_a_violation() {
        // The classic stale read: b is acknowledged, then a read returns a.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, Some(3), "b"),
                get(2, 4, 5, Some("a")),
            ],
            false,
        );
        // Reads going back in time: b then a, with no write of a in between.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, Some(20), "b"),
                get(2, 3, 4, Some("b")),
                get(3, 5, 6, Some("a")),
            ],
            false,
        );
    }

    #[test]
    fn unknown_writes_may_or_may_not_take_effect() {
        // Unknown put of b, later observed: it took effect.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, None, "b"),
                get(2, 10, 11, Some("b")),
            ],
            true,
        );
        // Never observed: it did not (or not yet).
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, None, "b"),
                get(2, 10, 11, Some("a")),
            ],
            true,
        );
        // But it cannot take effect before its invocation.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                get(2, 2, 3, Some("b")),
                put(1, 5, None, "b"),
            ],
            false,
        );
        // Once observed and overwritten it cannot come back.
        check(
            vec![
                put(1, 0, None, "b"),
                get(2, 1, 2, Some("b")),
                put(3, 3, Some(4), "c"),
                get(4, 5, 6, Some("b")),
            ],
            false,
        );
        // An unobserved unknown put explains a failed cas.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                put(1, 2, None, "x"),
                cas(2, 3, Some(4), "a", "b", false),
            ],
            true,
        );
        // Unknown cas that must have applied.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                cas(1, 2, None, "a", "b", true),
                get(2, 5, 6, Some("b")),
            ],
            true,
        );
        // Unknown cas whose expectation never held cannot apply.
        check(
            vec![
                put(0, 0, Some(1), "a"),
                cas(1, 2, None, "z", "b", true),
                get(2, 5, 6, Some("b")),
            ],
            false,
        );
    }

    #[test]
    fn failed_ops_never_take_effect() {
        let mut p = put(1, 2, Some(3), "b");
        p.outcome = Outcome::Fail;
        p.result = None;
        check(
            vec![put(0, 0, Some(1), "a"), p, get(2, 4, 5, Some("b"))],
            false,
        );
    }

    #[test]
    fn many_unobserved_unknown_writes_stay_tractable() {
        let mut ops = vec![put(0, 0, Some(1), "a")];
        for i in 0..200u64 {
            ops.push(put(10 + i, 2 + i, None, &format!("u{i}")));
        }
        ops.push(get(1000, 500, 501, Some("a")));
        ops.push(cas(1001, 502, Some(503), "a", "z", false));
        ops.push(get(1002, 504, 505, Some("u7")));
        check(ops.clone(), true);
        assert_eq!(check_key(&ops, 100_000), KeyVerdict::Linearizable);
    }

    #[test]
    fn a_budget_makes_the_search_inconclusive_not_wrong() {
        let ops = vec![put(0, 0, Some(1), "a"), get(1, 2, 3, Some("a"))];
        assert!(matches!(
            check_key(&ops, 1),
            KeyVerdict::Inconclusive { .. }
        ));
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut other = get(5, 0, 1, Some("zz"));
        other.op = Op::Get {
            key: "other".into(),
        };
        let r = super::check(
            &[put(0, 0, Some(1), "a"), get(1, 2, 3, Some("a")), other],
            1_000_000,
        );
        assert_eq!(r.keys_checked, 2);
        assert_eq!(r.violations.len(), 1);
        assert_eq!(r.violations[0].0, "other");
    }
}
