//! Model-based property tests of the MVCC engine against an in-memory etcd v3 reference model: random sequences of puts, deletes, txns, compactions, lease grants/revokes, reads and watches; every response, every retained revision, ranges with options, watch streams (live and catch-up), physical compaction, HashKV and a reopen are compared with the model.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use storage::{
    ApplyEntry, Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse,
    Engine, EngineConfig, Error, Event, EventKind, KeyValue, LeaseId, LeaseInfo, PutRequest,
    PutResponse, RangeRequest, RangeResponse, RequestOp, ResponseOp, Revision, SortOrder,
    SortTarget, TxnRequest, TxnResponse, WatchConfig, WatchRequest, Watcher, WriteRequest,
    WriteResponse, MAX_LEASE_TTL_SECS,
};

type Res<T> = std::result::Result<T, String>;
type Log = Vec<(i64, Vec<Event>)>;

/// Fails the case with both sides printed.
macro_rules! ensure_eq {
    ($engine:expr, $model:expr, $($ctx:tt)+) => {{
        let (engine, model) = (&$engine, &$model);
        if engine != model {
            return Err(format!("{}\n  engine: {:?}\n  model:  {:?}", format!($($ctx)+), engine, model));
        }
    }};
}

macro_rules! ensure {
    ($cond:expr, $($ctx:tt)+) => {{
        if !$cond {
            return Err(format!($($ctx)+));
        }
    }};
}

fn config() -> EngineConfig {
    EngineConfig {
        watch: WatchConfig {
            sync_interval: Duration::from_millis(1),
            ..WatchConfig::default()
        },
        ..EngineConfig::default()
    }
}

// ---- the reference model ---------------------------------------------------------------

fn in_range(k: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        k == start
    } else if end == [0] {
        k >= start
    } else {
        k >= start && k < end
    }
}

fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

fn check_range_args(key: &[u8], end: &[u8]) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if !end.is_empty() && end != [0] && end < key {
        return Err(Error::InvalidRange);
    }
    Ok(())
}

fn check_put(p: &PutRequest) -> Result<(), Error> {
    if p.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if p.ignore_value && !p.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if p.ignore_lease && p.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// etcd's request checks for the (flat) requests this test generates.
fn validate(req: &WriteRequest) -> Result<(), Error> {
    match req {
        WriteRequest::Put(p) => check_put(p),
        WriteRequest::DeleteRange(d) => check_range_args(&d.key, &d.range_end),
        WriteRequest::Txn(t) => {
            for c in &t.compare {
                check_range_args(&c.key, &c.range_end)?;
            }
            for op in t.success.iter().chain(&t.failure) {
                match op {
                    RequestOp::Range(r) => check_range_args(&r.key, &r.range_end)?,
                    RequestOp::Put(p) => check_put(p)?,
                    RequestOp::DeleteRange(d) => check_range_args(&d.key, &d.range_end)?,
                    RequestOp::Txn(_) => unreachable!("the generator makes flat txns only"),
                }
            }
            check_intervals(&t.success)?;
            check_intervals(&t.failure)
        }
        WriteRequest::LeaseGrant { ttl_secs, .. } if *ttl_secs > MAX_LEASE_TTL_SECS => {
            Err(Error::LeaseTtlTooLarge)
        }
        _ => Ok(()),
    }
}

/// Within one branch a key may be put once and not both put and deleted.
fn check_intervals(ops: &[RequestOp]) -> Result<(), Error> {
    let dels: Vec<(&[u8], &[u8])> = ops
        .iter()
        .filter_map(|op| match op {
            RequestOp::DeleteRange(d) => Some((d.key.as_slice(), d.range_end.as_slice())),
            _ => None,
        })
        .collect();
    let mut puts: Vec<&[u8]> = Vec::new();
    for op in ops {
        if let RequestOp::Put(p) = op {
            if puts.contains(&p.key.as_slice()) || dels.iter().any(|(s, e)| in_range(&p.key, s, e))
            {
                return Err(Error::DuplicateKey);
            }
            puts.push(&p.key);
        }
    }
    Ok(())
}

fn sort_cmp(a: &KeyValue, b: &KeyValue, target: SortTarget) -> std::cmp::Ordering {
    match target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    }
}

/// etcd's executeRange on the live kvs of a range (key order): count, filter, sort, limit,
/// then keys_only. Sorts are stable, so ties stay in key order.
fn shape(r: &RangeRequest, header: i64, mut kvs: Vec<KeyValue>) -> RangeResponse {
    let count = kvs.len() as i64;
    if r.count_only {
        return RangeResponse {
            revision: header,
            kvs: Vec::new(),
            more: false,
            count,
        };
    }
    kvs.retain(|kv| {
        !(r.max_mod_revision != 0 && kv.mod_revision > r.max_mod_revision
            || r.min_mod_revision != 0 && kv.mod_revision < r.min_mod_revision
            || r.max_create_revision != 0 && kv.create_revision > r.max_create_revision
            || r.min_create_revision != 0 && kv.create_revision < r.min_create_revision)
    });
    let order = if r.sort_target != SortTarget::Key && r.sort_order == SortOrder::None {
        SortOrder::Ascend
    } else {
        r.sort_order
    };
    match order {
        SortOrder::None => {}
        SortOrder::Ascend => kvs.sort_by(|a, b| sort_cmp(a, b, r.sort_target)),
        SortOrder::Descend => kvs.sort_by(|a, b| sort_cmp(b, a, r.sort_target)),
    }
    let mut more = false;
    if r.limit > 0 && kvs.len() > r.limit as usize {
        kvs.truncate(r.limit as usize);
        more = true;
    }
    if r.keys_only {
        kvs.iter_mut().for_each(|kv| kv.value.clear());
    }
    RangeResponse {
        revision: header,
        kvs,
        more,
        count,
    }
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use std::cmp::Ordering as O;
    let ord = match &c.target {
        CompareTarget::Value(v) => kv.value.as_slice().cmp(v.as_slice()),
        CompareTarget::Version(v) => kv.version.cmp(v),
        CompareTarget::Create(v) => kv.create_revision.cmp(v),
        CompareTarget::Mod(v) => kv.mod_revision.cmp(v),
        CompareTarget::Lease(v) => kv.lease.cmp(v),
    };
    match c.result {
        CompareResult::Equal => ord == O::Equal,
        CompareResult::NotEqual => ord != O::Equal,
        CompareResult::Greater => ord == O::Greater,
        CompareResult::Less => ord == O::Less,
    }
}

fn fix_txn_revisions(resp: &mut TxnResponse, rev: i64) {
    resp.revision = rev;
    for r in &mut resp.responses {
        match r {
            ResponseOp::Range(_) => {}
            ResponseOp::Put(p) => p.revision = rev,
            ResponseOp::DeleteRange(d) => d.revision = rev,
            ResponseOp::Txn(t) => fix_txn_revisions(t, rev),
        }
    }
}

#[derive(Debug, Clone)]
struct Model {
    /// Every version of every key ever written, oldest first: (mod revision, the version or
    /// None for a delete).
    hist: BTreeMap<Vec<u8>, Vec<(i64, Option<KeyValue>)>>,
    /// The live keys at `rev`.
    cur: BTreeMap<Vec<u8>, KeyValue>,
    rev: i64,
    compact: i64,
    /// Granted leases: id -> TTL.
    leases: BTreeMap<i64, i64>,
    applied: u64,
    /// Every changing revision with its events, in order.
    log: Log,
}

/// What a request did, before it is committed to the model.
#[derive(Default)]
struct Effects {
    cur: BTreeMap<Vec<u8>, KeyValue>,
    changes: Vec<(Vec<u8>, Option<KeyValue>)>,
    events: Vec<Event>,
    grant: Option<(i64, i64)>,
    revoke: Option<i64>,
    compact: Option<i64>,
}

/// One request's execution: a working copy of the live keys, so reads inside a txn see
/// the txn's earlier writes.
struct Work<'a> {
    m: &'a Model,
    fx: Effects,
}

impl Work<'_> {
    fn new_rev(&self) -> i64 {
        self.m.rev + 1
    }

    fn view(&self) -> i64 {
        if self.fx.changes.is_empty() {
            self.m.rev
        } else {
            self.m.rev + 1
        }
    }

    fn put(&mut self, p: &PutRequest) -> Result<PutResponse, Error> {
        let prev = self.fx.cur.get(&p.key).cloned();
        let value = if p.ignore_value {
            prev.as_ref().ok_or(Error::KeyNotFound)?.value.clone()
        } else {
            p.value.clone()
        };
        let lease = if p.ignore_lease {
            prev.as_ref().ok_or(Error::KeyNotFound)?.lease
        } else {
            p.lease
        };
        if lease != 0 && !self.m.leases.contains_key(&lease) {
            return Err(Error::LeaseNotFound);
        }
        let rev = self.new_rev();
        let kv = KeyValue {
            key: p.key.clone(),
            create_revision: prev.as_ref().map_or(rev, |k| k.create_revision),
            mod_revision: rev,
            version: prev.as_ref().map_or(1, |k| k.version + 1),
            value,
            lease,
        };
        self.fx.events.push(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev_kv: prev.clone(),
        });
        self.fx.changes.push((p.key.clone(), Some(kv.clone())));
        self.fx.cur.insert(p.key.clone(), kv);
        Ok(PutResponse {
            revision: rev,
            prev_kv: if p.prev_kv { prev } else { None },
        })
    }

    fn delete_key(&mut self, key: &[u8]) -> KeyValue {
        let prev = self.fx.cur.remove(key).expect("deleting a live key");
        let rev = self.new_rev();
        let kv = KeyValue {
            key: key.to_vec(),
            mod_revision: rev,
            ..KeyValue::default()
        };
        self.fx.events.push(Event {
            kind: EventKind::Delete,
            kv,
            prev_kv: Some(prev.clone()),
        });
        self.fx.changes.push((key.to_vec(), None));
        prev
    }

    fn delete_range(&mut self, d: &DeleteRangeRequest) -> DeleteRangeResponse {
        let victims: Vec<Vec<u8>> = self
            .fx
            .cur
            .keys()
            .filter(|k| in_range(k, &d.key, &d.range_end))
            .cloned()
            .collect();
        let mut prev_kvs = Vec::new();
        for k in &victims {
            let prev = self.delete_key(k);
            if d.prev_kv {
                prev_kvs.push(prev);
            }
        }
        DeleteRangeResponse {
            revision: 0,
            deleted: victims.len() as i64,
            prev_kvs,
        }
    }

    fn range(&self, r: &RangeRequest) -> Result<RangeResponse, Error> {
        // etcd checks a txn's ranges against the revision before the txn (checkTxn ->
        // checkRange): only revision 0 reads the txn's own writes.
        let view = self.view();
        let rev = if r.revision <= 0 { view } else { r.revision };
        if r.revision > self.m.rev {
            return Err(Error::FutureRevision {
                current_revision: Revision(self.m.rev),
            });
        }
        if rev < self.m.compact {
            return Err(Error::Compacted {
                compact_revision: Revision(self.m.compact),
            });
        }
        let source = if rev == view {
            self.fx.cur.clone()
        } else {
            self.m.state_at(rev)
        };
        let kvs = source
            .into_values()
            .filter(|kv| in_range(&kv.key, &r.key, &r.range_end))
            .collect();
        Ok(shape(r, view, kvs))
    }

    fn compare(&self, c: &Compare) -> bool {
        let items: Vec<&KeyValue> = self
            .fx
            .cur
            .values()
            .filter(|kv| in_range(&kv.key, &c.key, &c.range_end))
            .collect();
        if items.is_empty() {
            return !matches!(c.target, CompareTarget::Value(_))
                && compare_kv(c, &KeyValue::default());
        }
        items.iter().all(|kv| compare_kv(c, kv))
    }

    fn txn(&mut self, t: &TxnRequest) -> Result<TxnResponse, Error> {
        let succeeded = t.compare.iter().all(|c| self.compare(c));
        let ops = if succeeded { &t.success } else { &t.failure };
        let mut responses = Vec::new();
        for op in ops {
            responses.push(match op {
                RequestOp::Range(r) => ResponseOp::Range(self.range(r)?),
                RequestOp::Put(p) => ResponseOp::Put(self.put(p)?),
                RequestOp::DeleteRange(d) => ResponseOp::DeleteRange(self.delete_range(d)),
                RequestOp::Txn(inner) => ResponseOp::Txn(self.txn(inner)?),
            });
        }
        Ok(TxnResponse {
            revision: 0,
            succeeded,
            responses,
        })
    }

    fn revoke(&mut self, id: i64) -> Result<WriteResponse, Error> {
        if !self.m.leases.contains_key(&id) {
            return Err(Error::LeaseNotFound);
        }
        let keys: Vec<Vec<u8>> = self
            .fx
            .cur
            .values()
            .filter(|kv| kv.lease == id)
            .map(|kv| kv.key.clone())
            .collect();
        for k in &keys {
            self.delete_key(k);
        }
        self.fx.revoke = Some(id);
        Ok(WriteResponse::LeaseRevoke {
            revision: self.view(),
        })
    }
}

impl Model {
    fn new() -> Model {
        Model {
            hist: BTreeMap::new(),
            cur: BTreeMap::new(),
            rev: 1,
            compact: 0,
            leases: BTreeMap::new(),
            applied: 0,
            log: Vec::new(),
        }
    }

    /// The live keys at `rev`.
    fn state_at(&self, rev: i64) -> BTreeMap<Vec<u8>, KeyValue> {
        let mut out = BTreeMap::new();
        for (k, versions) in &self.hist {
            if let Some((_, Some(kv))) = versions.iter().rev().find(|(r, _)| *r <= rev) {
                out.insert(k.clone(), kv.clone());
            }
        }
        out
    }

    fn range(&self, r: &RangeRequest) -> Result<RangeResponse, Error> {
        check_range_args(&r.key, &r.range_end)?;
        let rev = if r.revision <= 0 {
            self.rev
        } else {
            r.revision
        };
        if rev > self.rev {
            return Err(Error::FutureRevision {
                current_revision: Revision(self.rev),
            });
        }
        if rev < self.compact {
            return Err(Error::Compacted {
                compact_revision: Revision(self.compact),
            });
        }
        let kvs = self
            .state_at(rev)
            .into_values()
            .filter(|kv| in_range(&kv.key, &r.key, &r.range_end))
            .collect();
        Ok(shape(r, self.rev, kvs))
    }

    /// Applies `req` as `Engine::write` would and returns the expected answer. `engine` is
    /// the engine's answer, consulted only for the id of a `LeaseGrant { id: 0 }`.
    fn apply(
        &mut self,
        req: &WriteRequest,
        engine: &Result<WriteResponse, Error>,
    ) -> Result<WriteResponse, Error> {
        validate(req)?;
        self.applied += 1;
        let (result, fx) = self.exec(req, engine);
        if result.is_ok() {
            if !fx.changes.is_empty() {
                self.rev += 1;
                for (k, v) in fx.changes {
                    self.hist.entry(k).or_default().push((self.rev, v));
                }
                self.cur = fx.cur;
                self.log.push((self.rev, fx.events));
            }
            if let Some((id, ttl)) = fx.grant {
                self.leases.insert(id, ttl);
            }
            if let Some(id) = fx.revoke {
                self.leases.remove(&id);
            }
            if let Some(c) = fx.compact {
                self.compact = c;
            }
        }
        result
    }

    fn exec(
        &self,
        req: &WriteRequest,
        engine: &Result<WriteResponse, Error>,
    ) -> (Result<WriteResponse, Error>, Effects) {
        let mut w = Work {
            m: self,
            fx: Effects {
                cur: self.cur.clone(),
                ..Effects::default()
            },
        };
        let result = match req {
            WriteRequest::Put(p) => w.put(p).map(WriteResponse::Put),
            WriteRequest::DeleteRange(d) => {
                let mut resp = w.delete_range(d);
                resp.revision = w.view();
                Ok(WriteResponse::DeleteRange(resp))
            }
            WriteRequest::Txn(t) => w.txn(t).map(|mut resp| {
                fix_txn_revisions(&mut resp, w.view());
                WriteResponse::Txn(resp)
            }),
            WriteRequest::Compact { revision } => {
                if *revision <= self.compact {
                    Err(Error::Compacted {
                        compact_revision: Revision(self.compact),
                    })
                } else if *revision > self.rev {
                    Err(Error::FutureRevision {
                        current_revision: Revision(self.rev),
                    })
                } else {
                    w.fx.compact = Some(*revision);
                    Ok(WriteResponse::Compact { revision: self.rev })
                }
            }
            WriteRequest::LeaseGrant { id, ttl_secs } => {
                // id 0: the engine picks one; any unused positive id is fine.
                let id = match (id, engine) {
                    (0, Ok(WriteResponse::LeaseGrant { id: got, .. }))
                        if *got > 0 && !self.leases.contains_key(got) =>
                    {
                        *got
                    }
                    (0, _) => -1,
                    (id, _) => *id,
                };
                if self.leases.contains_key(&id) {
                    Err(Error::LeaseExists)
                } else {
                    let ttl = (*ttl_secs).max(1);
                    w.fx.grant = Some((id, ttl));
                    Ok(WriteResponse::LeaseGrant {
                        id,
                        ttl_secs: ttl,
                        revision: self.rev,
                    })
                }
            }
            WriteRequest::LeaseRevoke { id } => w.revoke(*id),
            WriteRequest::Noop => Ok(WriteResponse::Noop { revision: self.rev }),
            other => unreachable!("not generated: {other:?}"),
        };
        (result, w.fx)
    }

    /// The events of revisions >= `from` a watcher on `[key, end)` gets. `prev_kv` is
    /// expected when the previous version is readable at `rev - 1`, i.e. `rev - 1 >=
    /// compact` (etcd's rule); pass `compact` 0 for watchers that got the events live.
    fn expected_events(
        &self,
        from: i64,
        key: &[u8],
        end: &[u8],
        no_delete: bool,
        compact: i64,
    ) -> Log {
        let mut out = Vec::new();
        for (rev, events) in &self.log {
            if *rev < from {
                continue;
            }
            let mine: Vec<Event> = events
                .iter()
                .filter(|e| {
                    in_range(&e.kv.key, key, end) && !(no_delete && e.kind == EventKind::Delete)
                })
                .map(|e| {
                    let mut e = e.clone();
                    if rev - 1 < compact {
                        e.prev_kv = None;
                    }
                    e
                })
                .collect();
            if !mine.is_empty() {
                out.push((*rev, mine));
            }
        }
        out
    }

    /// The versions of `key` a finished physical compaction keeps, newest first, as
    /// `Engine::key_history` reports them (a delete as version 0).
    fn retained_versions(&self, key: &[u8]) -> Vec<KeyValue> {
        let c = self.compact;
        let versions = &self.hist[key];
        let newest_at_or_below = versions.iter().rposition(|(r, _)| *r <= c);
        let mut out = Vec::new();
        for (i, (r, v)) in versions.iter().enumerate() {
            let keep = *r > c || (Some(i) == newest_at_or_below && (*r == c || v.is_some()));
            if keep {
                out.push(v.clone().unwrap_or_else(|| KeyValue {
                    key: key.to_vec(),
                    mod_revision: *r,
                    ..KeyValue::default()
                }));
            }
        }
        out.reverse();
        out
    }

    fn lease_info(&self, id: i64) -> LeaseInfo {
        let ttl = self.leases[&id];
        let keys = self
            .cur
            .values()
            .filter(|kv| kv.lease == id)
            .map(|kv| kv.key.clone())
            .collect();
        LeaseInfo {
            id,
            granted_ttl_secs: ttl,
            ttl_secs: ttl,
            keys,
        }
    }
}

// ---- generated operations ----------------------------------------------------------------

/// A revision chosen relative to the state when the operation runs.
#[derive(Debug, Clone, Copy)]
enum RevSel {
    Current,
    Back(i64),
    AtCompact,
    BelowCompact,
    Future,
}

/// A numeric compare operand: absolute, or relative to the current revision.
#[derive(Debug, Clone, Copy)]
enum NumSel {
    Abs(i64),
    Back(i64),
}

#[derive(Debug, Clone)]
struct ReadSpec {
    key: Vec<u8>,
    range_end: Vec<u8>,
    rev: RevSel,
    limit: i64,
    sort_order: SortOrder,
    sort_target: SortTarget,
    keys_only: bool,
    count_only: bool,
    /// (which of min/max mod/create, value)
    filter: Option<(u8, RevSel)>,
}

#[derive(Debug, Clone)]
enum CmpSpec {
    Version(i64),
    Create(NumSel),
    Mod(NumSel),
    Value(Vec<u8>),
    Lease(i64),
}

#[derive(Debug, Clone)]
enum TxnOpSpec {
    Range(ReadSpec),
    Put(PutRequest),
    Delete(DeleteRangeRequest),
}

#[derive(Debug, Clone)]
enum Op {
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn {
        compare: Vec<(Vec<u8>, Vec<u8>, CmpSpec, CompareResult)>,
        success: Vec<TxnOpSpec>,
        failure: Vec<TxnOpSpec>,
    },
    Compact(RevSel),
    Grant {
        id: i64,
        ttl_secs: i64,
    },
    Revoke(i64),
    Noop,
    Read(ReadSpec),
    /// Starts a watcher on every key from the chosen revision, checked at the end.
    Watch(RevSel),
}

impl Model {
    fn resolve(&self, s: RevSel) -> i64 {
        match s {
            RevSel::Current => 0,
            RevSel::Back(d) => self.rev - d,
            RevSel::AtCompact => self.compact,
            RevSel::BelowCompact => self.compact - 1,
            RevSel::Future => self.rev + 1,
        }
    }

    fn num(&self, s: NumSel) -> i64 {
        match s {
            NumSel::Abs(v) => v,
            NumSel::Back(d) => self.rev - d,
        }
    }

    fn read_request(&self, s: &ReadSpec) -> RangeRequest {
        let mut r = RangeRequest {
            key: s.key.clone(),
            range_end: s.range_end.clone(),
            limit: s.limit,
            revision: self.resolve(s.rev),
            sort_order: s.sort_order,
            sort_target: s.sort_target,
            keys_only: s.keys_only,
            count_only: s.count_only,
            ..RangeRequest::default()
        };
        if let Some((which, sel)) = s.filter {
            let v = self.resolve(sel);
            match which {
                0 => r.min_mod_revision = v,
                1 => r.max_mod_revision = v,
                2 => r.min_create_revision = v,
                _ => r.max_create_revision = v,
            }
        }
        r
    }

    fn txn_op(&self, s: &TxnOpSpec) -> RequestOp {
        match s {
            TxnOpSpec::Range(r) => RequestOp::Range(self.read_request(r)),
            TxnOpSpec::Put(p) => RequestOp::Put(p.clone()),
            TxnOpSpec::Delete(d) => RequestOp::DeleteRange(d.clone()),
        }
    }

    fn write_request(&self, op: &Op) -> WriteRequest {
        match op {
            Op::Put(p) => WriteRequest::Put(p.clone()),
            Op::Delete(d) => WriteRequest::DeleteRange(d.clone()),
            Op::Txn {
                compare,
                success,
                failure,
            } => WriteRequest::Txn(TxnRequest {
                compare: compare
                    .iter()
                    .map(|(key, range_end, target, result)| Compare {
                        key: key.clone(),
                        range_end: range_end.clone(),
                        target: match target {
                            CmpSpec::Version(v) => CompareTarget::Version(*v),
                            CmpSpec::Create(n) => CompareTarget::Create(self.num(*n)),
                            CmpSpec::Mod(n) => CompareTarget::Mod(self.num(*n)),
                            CmpSpec::Value(v) => CompareTarget::Value(v.clone()),
                            CmpSpec::Lease(l) => CompareTarget::Lease(*l),
                        },
                        result: *result,
                    })
                    .collect(),
                success: success.iter().map(|s| self.txn_op(s)).collect(),
                failure: failure.iter().map(|s| self.txn_op(s)).collect(),
            }),
            Op::Compact(sel) => WriteRequest::Compact {
                revision: self.resolve(*sel),
            },
            Op::Grant { id, ttl_secs } => WriteRequest::LeaseGrant {
                id: *id,
                ttl_secs: *ttl_secs,
            },
            Op::Revoke(id) => WriteRequest::LeaseRevoke { id: *id },
            Op::Noop => WriteRequest::Noop,
            Op::Read(_) | Op::Watch(_) => unreachable!("not a write"),
        }
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'c', 0u8, 0xff]),
        1..=2,
    )
}

/// A key, rarely the (invalid) empty one.
fn any_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![80 => key(), 1 => Just(Vec::new())]
}

/// A key with a range end: the single key, every key from it, its prefix, or another key
/// (possibly before it: an invalid range).
fn key_and_end() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        any_key(),
        prop_oneof![6 => Just(0u8), 2 => Just(1), 2 => Just(2), 1 => Just(3)],
        key(),
    )
        .prop_map(|(k, sel, other)| {
            let end = match sel {
                0 => Vec::new(),
                1 => vec![0],
                2 => prefix_end(&k),
                _ => other,
            };
            (k, end)
        })
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"".to_vec(),
        b"x".to_vec(),
        b"y".to_vec(),
        b"zz".to_vec(),
    ])
}

fn lease_ref() -> impl Strategy<Value = i64> {
    prop_oneof![12 => Just(0i64), 3 => 1i64..=2, 1 => Just(3i64)]
}

fn rev_sel() -> impl Strategy<Value = RevSel> {
    prop_oneof![
        6 => Just(RevSel::Current),
        4 => (0i64..8).prop_map(RevSel::Back),
        1 => Just(RevSel::AtCompact),
        1 => Just(RevSel::BelowCompact),
        1 => Just(RevSel::Future),
    ]
}

fn num_sel() -> impl Strategy<Value = NumSel> {
    prop_oneof![
        (0i64..3).prop_map(NumSel::Abs),
        (-1i64..5).prop_map(NumSel::Back)
    ]
}

fn put() -> impl Strategy<Value = PutRequest> {
    (
        any_key(),
        value(),
        lease_ref(),
        any::<bool>(),
        0u8..24,
        0u8..24,
    )
        .prop_map(|(key, value, lease, prev_kv, iv, il)| {
            // Mostly a plain put; sometimes ignore_value/ignore_lease, usually well-formed.
            let ignore_value = iv < 2;
            let ignore_lease = il < 2;
            let value = if ignore_value && iv == 0 {
                Vec::new()
            } else {
                value
            };
            let lease = if ignore_lease && il == 0 { 0 } else { lease };
            PutRequest {
                key,
                value,
                lease,
                prev_kv,
                ignore_value,
                ignore_lease,
            }
        })
}

fn delete() -> impl Strategy<Value = DeleteRangeRequest> {
    (key_and_end(), any::<bool>()).prop_map(|((key, range_end), prev_kv)| DeleteRangeRequest {
        key,
        range_end,
        prev_kv,
    })
}

fn read() -> impl Strategy<Value = ReadSpec> {
    (
        key_and_end(),
        rev_sel(),
        prop::sample::select(vec![0i64, 0, 0, 1, 2, 3]),
        prop::sample::select(vec![
            SortOrder::None,
            SortOrder::None,
            SortOrder::Ascend,
            SortOrder::Descend,
        ]),
        prop::sample::select(vec![
            SortTarget::Key,
            SortTarget::Key,
            SortTarget::Version,
            SortTarget::Create,
            SortTarget::Mod,
            SortTarget::Value,
        ]),
        0u8..10,
        prop::option::weighted(0.15, (0u8..4, rev_sel())),
    )
        .prop_map(
            |((key, range_end), rev, limit, sort_order, sort_target, flags, filter)| ReadSpec {
                key,
                range_end,
                rev,
                limit,
                sort_order,
                sort_target,
                keys_only: flags < 2,
                count_only: flags == 9,
                filter,
            },
        )
}

fn cmp() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, CmpSpec, CompareResult)> {
    let single = key().prop_map(|k| (k, Vec::new()));
    let keys = prop_oneof![3 => single, 1 => key_and_end()];
    let target = prop_oneof![
        (0i64..4).prop_map(CmpSpec::Version),
        num_sel().prop_map(CmpSpec::Create),
        num_sel().prop_map(CmpSpec::Mod),
        value().prop_map(CmpSpec::Value),
        (0i64..=3).prop_map(CmpSpec::Lease),
    ];
    let result = prop::sample::select(vec![
        CompareResult::Equal,
        CompareResult::NotEqual,
        CompareResult::Greater,
        CompareResult::Less,
    ]);
    (keys, target, result).prop_map(|((k, e), t, r)| (k, e, t, r))
}

fn txn_op() -> impl Strategy<Value = TxnOpSpec> {
    prop_oneof![
        2 => read().prop_map(TxnOpSpec::Range),
        4 => put().prop_map(TxnOpSpec::Put),
        2 => delete().prop_map(TxnOpSpec::Delete),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => put().prop_map(Op::Put),
        3 => delete().prop_map(Op::Delete),
        6 => (prop::collection::vec(cmp(), 0..3), prop::collection::vec(txn_op(), 0..5), prop::collection::vec(txn_op(), 0..4))
            .prop_map(|(compare, success, failure)| Op::Txn { compare, success, failure }),
        2 => prop_oneof![4 => (-1i64..7).prop_map(RevSel::Back), 1 => Just(RevSel::AtCompact)].prop_map(Op::Compact),
        3 => (prop_oneof![1 => Just(0i64), 4 => 1i64..=3], prop::sample::select(vec![-5i64, 0, 1, 30, 30, 30, 30, MAX_LEASE_TTL_SECS, MAX_LEASE_TTL_SECS + 1]))
            .prop_map(|(id, ttl_secs)| Op::Grant { id, ttl_secs }),
        2 => (1i64..=4).prop_map(Op::Revoke),
        1 => Just(Op::Noop),
        3 => read().prop_map(Op::Read),
        1 => rev_sel().prop_map(Op::Watch),
    ]
}

// ---- checks ------------------------------------------------------------------------------

fn all_keys_at(rev: i64) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision: rev,
        ..RangeRequest::default()
    }
}

/// Range options the end-of-sequence check runs on every prefix.
fn option_variants() -> Vec<RangeRequest> {
    let mut out = Vec::new();
    for limit in [0, 1, 2] {
        for (sort_order, sort_target) in [
            (SortOrder::None, SortTarget::Key),
            (SortOrder::Descend, SortTarget::Key),
            (SortOrder::None, SortTarget::Mod),
            (SortOrder::Descend, SortTarget::Version),
            (SortOrder::Ascend, SortTarget::Create),
            (SortOrder::Descend, SortTarget::Value),
        ] {
            for keys_only in [false, true] {
                out.push(RangeRequest {
                    limit,
                    sort_order,
                    sort_target,
                    keys_only,
                    ..RangeRequest::default()
                });
            }
        }
    }
    out.push(RangeRequest {
        count_only: true,
        ..RangeRequest::default()
    });
    out.push(RangeRequest {
        count_only: true,
        limit: 1,
        ..RangeRequest::default()
    });
    out
}

/// Everything readable: every retained revision, the edges, prefix ranges with options,
/// leases, counters.
fn check_state(engine: &Engine, model: &Model, label: &str) -> Res<()> {
    ensure_eq!(
        engine.current_revision().0,
        model.rev,
        "{label}: current revision"
    );
    ensure_eq!(
        engine.compact_revision().0,
        model.compact,
        "{label}: compact revision"
    );
    ensure_eq!(
        engine.applied_index(),
        model.applied,
        "{label}: applied index"
    );
    ensure_eq!(
        engine.live_keys(),
        model.cur.len() as i64,
        "{label}: live keys"
    );
    let first = model.compact.max(1);
    for rev in first..=model.rev {
        let r = all_keys_at(rev);
        ensure_eq!(
            engine.range(&r),
            model.range(&r),
            "{label}: all keys at revision {rev}"
        );
    }
    for rev in [model.compact - 1, model.rev + 1] {
        if rev >= 1 {
            let r = all_keys_at(rev);
            ensure_eq!(
                engine.range(&r),
                model.range(&r),
                "{label}: all keys at revision {rev}"
            );
        }
    }
    let prefixes: [&[u8]; 5] = [b"a", b"b", b"\0", b"\xff", b"c"];
    for prefix in prefixes {
        for rev in [0, first, (first + model.rev) / 2] {
            for mut r in option_variants() {
                r.key = prefix.to_vec();
                r.range_end = prefix_end(prefix);
                r.revision = rev;
                ensure_eq!(engine.range(&r), model.range(&r), "{label}: {r:?}");
            }
        }
        let mut r = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            ..RangeRequest::default()
        };
        r.min_mod_revision = (first + model.rev) / 2;
        ensure_eq!(engine.range(&r), model.range(&r), "{label}: {r:?}");
        r.min_mod_revision = 0;
        r.max_create_revision = (first + model.rev) / 2;
        ensure_eq!(engine.range(&r), model.range(&r), "{label}: {r:?}");
    }
    let ids: Vec<i64> = model.leases.keys().copied().collect();
    ensure_eq!(engine.lease_ids(), ids, "{label}: lease ids");
    for id in ids {
        ensure_eq!(
            engine.lease_info(LeaseId(id), 0, true),
            Ok(model.lease_info(id)),
            "{label}: lease {id}"
        );
    }
    Ok(())
}

/// Waits until physical compaction has removed exactly what the compact revision makes
/// unreachable (no more, no less).
fn wait_for_physical_compaction(engine: &Engine, model: &Model, label: &str) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut diff = None;
        for key in model.hist.keys() {
            let got = engine
                .key_history(key)
                .map_err(|e| format!("{label}: key_history({key:?}): {e}"))?;
            let want = model.retained_versions(key);
            if got != want {
                diff = Some(format!("{label}: retained versions of {key:?} after compaction to {}\n  engine: {got:?}\n  model:  {want:?}", model.compact));
                break;
            }
        }
        match diff {
            None => return Ok(()),
            Some(d) if Instant::now() > deadline => return Err(d),
            Some(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Receives until a progress notification at `current` (requested here), checking that
/// each message holds whole revisions in order; returns the events by revision.
fn collect(
    w: &mut Watcher,
    current: i64,
    label: &str,
) -> Res<std::result::Result<Log, (Log, i64)>> {
    w.request_progress();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out: Log = Vec::new();
    loop {
        let Some(msg) = w.try_recv() else {
            ensure!(
                Instant::now() < deadline,
                "{label}: no progress notification within 10 s; got {out:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        if msg.canceled {
            ensure!(
                msg.events.is_empty(),
                "{label}: canceled message with events: {msg:?}"
            );
            return Ok(Err((out, msg.compact_revision)));
        }
        if msg.events.is_empty() {
            ensure_eq!(
                msg.revision,
                current,
                "{label}: progress notification revision"
            );
            return Ok(Ok(out));
        }
        let last_seen = out.last().map_or(0, |(r, _)| *r);
        let first = msg.events[0].kv.mod_revision;
        ensure!(first > last_seen, "{label}: message starting at revision {first} after revision {last_seen} (a revision split or out of order): {msg:?}");
        for ev in &msg.events {
            let rev = ev.kv.mod_revision;
            match out.last_mut() {
                Some((r, evs)) if *r == rev => evs.push((**ev).clone()),
                Some((r, _)) if *r > rev => {
                    return Err(format!("{label}: events out of order in {msg:?}"))
                }
                _ => out.push((rev, vec![(**ev).clone()])),
            }
        }
        let last = out.last().map_or(0, |(r, _)| *r);
        ensure_eq!(
            msg.revision,
            last,
            "{label}: message revision is its last event's revision"
        );
    }
}

fn check_watch(w: &mut Watcher, model: &Model, want: &Log, label: &str) -> Res<()> {
    match collect(w, model.rev, label)? {
        Ok(got) => {
            ensure_eq!(got, *want, "{label}: events");
            Ok(())
        }
        Err((got, c)) => Err(format!(
            "{label}: canceled (compact revision {c}) after {got:?}"
        )),
    }
}

/// A watcher started during the sequence, while writes and compactions went on.
struct MidWatch {
    watcher: Watcher,
    /// The revision its events start at.
    from: i64,
    /// The compact revision when it was started.
    compact_at_start: i64,
}

fn check_mid_watch(mw: &mut MidWatch, model: &Model, label: &str) -> Res<()> {
    if mw.from < mw.compact_at_start {
        // Started below the compact revision: one canceled message, nothing else.
        return match collect(&mut mw.watcher, model.rev, label)? {
            Err((got, c)) if got.is_empty() && c >= mw.compact_at_start && c <= model.compact => {
                Ok(())
            }
            other => Err(format!(
                "{label}: from {} below compact {}: want a cancel, got {other:?}",
                mw.from, mw.compact_at_start
            )),
        };
    }
    // Catch-up and a later compaction race: the events may stop at a cancel (if a
    // compaction passed the watcher before it caught up), and prev_kv of an event at a
    // revision the compaction reached may be absent.
    let full = model.expected_events(mw.from, &[0], &[0], false, 0);
    let (got, canceled) = match collect(&mut mw.watcher, model.rev, label)? {
        Ok(got) => (got, None),
        Err((got, c)) => (got, Some(c)),
    };
    ensure!(
        got.len() <= full.len(),
        "{label}: more revisions than the model: {got:?}"
    );
    for ((gr, gevs), (wr, wevs)) in got.iter().zip(&full) {
        ensure_eq!(gr, wr, "{label}: revision");
        ensure_eq!(
            gevs.len(),
            wevs.len(),
            "{label}: event count at {gr}: {gevs:?} vs {wevs:?}"
        );
        for (g, w) in gevs.iter().zip(wevs) {
            let relaxed = gr - 1 < model.compact && g.prev_kv.is_none();
            let mut w = w.clone();
            if relaxed {
                w.prev_kv = None;
            }
            ensure_eq!(*g, w, "{label}: event at {gr}");
        }
    }
    match canceled {
        None => ensure_eq!(
            got.len(),
            full.len(),
            "{label}: revisions delivered from {}",
            mw.from
        ),
        Some(c) => {
            let next = got.last().map_or(mw.from, |(r, _)| r + 1);
            ensure!(
                c > mw.compact_at_start && c <= model.compact && next < c,
                "{label}: canceled at compact {c} with next revision {next} (compact at start {})",
                mw.compact_at_start
            );
        }
    }
    Ok(())
}

fn hashes(engine: &Engine, model: &Model, label: &str) -> Res<Vec<storage::HashKv>> {
    (model.compact.max(1)..=model.rev)
        .map(|r| {
            engine
                .hash_kv(r)
                .map_err(|e| format!("{label}: hash_kv({r}): {e}"))
        })
        .collect()
}

/// Applies the pending writes with one `Engine::apply_batch` (as the replicated layer does)
/// and checks each answer against the model's.
fn flush_batch(
    engine: &Engine,
    pending: &mut Vec<(usize, WriteRequest, Result<WriteResponse, Error>)>,
) -> Res<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let first = engine.applied_index() + 1;
    let entries: Vec<ApplyEntry<'_>> = pending
        .iter()
        .enumerate()
        .map(|(j, (_, req, _))| ApplyEntry {
            index: first + j as u64,
            request: req,
            state: b"state",
        })
        .collect();
    let got = engine
        .apply_batch(&entries)
        .map_err(|e| format!("apply_batch: fatal {e}"))?;
    for ((i, req, want), got) in pending.iter().zip(got) {
        ensure_eq!(got, *want, "op {i} (batched): {req:?}");
    }
    pending.clear();
    Ok(())
}

/// Runs `ops` on a fresh engine and on the model. `batch_len` 1 applies each write alone
/// (`Engine::write`); above 1, runs of up to `batch_len` consecutive valid writes other than
/// lease grants go through `Engine::apply_batch`.
fn run_case(ops: &[Op], batch_len: usize) -> Res<()> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let engine = Engine::open(dir.path(), config()).map_err(|e| format!("open: {e}"))?;
    let mut model = Model::new();
    let mut live_all = engine
        .watch(WatchRequest {
            key: vec![0],
            range_end: vec![0],
            prev_kv: true,
            ..WatchRequest::default()
        })
        .map_err(|e| format!("watch: {e}"))?;
    let mut live_prefix = engine
        .watch(WatchRequest {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
            no_delete: true,
            ..WatchRequest::default()
        })
        .map_err(|e| format!("watch: {e}"))?;
    let mut mid: Vec<MidWatch> = Vec::new();
    let mut pending = Vec::new();

    for (i, op) in ops.iter().enumerate() {
        if batch_len > 1 && !matches!(op, Op::Read(_) | Op::Watch(_) | Op::Grant { .. }) {
            let req = model.write_request(op);
            if validate(&req).is_ok() {
                // The model answers without the engine's (only lease grants consult it).
                let want = model.apply(&req, &Err(Error::Stopped));
                pending.push((i, req, want));
                if pending.len() >= batch_len {
                    flush_batch(&engine, &mut pending)?;
                }
                continue;
            }
        }
        flush_batch(&engine, &mut pending)?;
        match op {
            Op::Read(spec) => {
                let r = model.read_request(spec);
                ensure_eq!(engine.range(&r), model.range(&r), "op {i}: range {r:?}");
            }
            Op::Watch(sel) => {
                let start = model.resolve(*sel);
                let watcher = engine
                    .watch(WatchRequest {
                        key: vec![0],
                        range_end: vec![0],
                        start_revision: start,
                        prev_kv: true,
                        ..WatchRequest::default()
                    })
                    .map_err(|e| format!("op {i}: watch: {e}"))?;
                let from = if start <= 0 { model.rev + 1 } else { start };
                mid.push(MidWatch {
                    watcher,
                    from,
                    compact_at_start: model.compact,
                });
            }
            _ => {
                let req = model.write_request(op);
                // A read-only txn on the read path answers what the write path would.
                let read_path = match &req {
                    WriteRequest::Txn(t) if t.is_read_only() => {
                        Some(engine.read_txn(t).map(WriteResponse::Txn))
                    }
                    _ => None,
                };
                let got = engine.write(&req);
                let want = model.apply(&req, &got);
                ensure_eq!(got, want, "op {i}: {req:?}");
                if let Some(read) = read_path {
                    ensure_eq!(
                        read,
                        want,
                        "op {i}: read-only txn on the read path: {req:?}"
                    );
                }
            }
        }
        ensure_eq!(
            engine.current_revision().0,
            model.rev,
            "op {i}: current revision"
        );
        ensure_eq!(
            engine.compact_revision().0,
            model.compact,
            "op {i}: compact revision"
        );
        ensure_eq!(
            engine.applied_index(),
            model.applied,
            "op {i}: applied index"
        );
        ensure_eq!(
            engine.live_keys(),
            model.cur.len() as i64,
            "op {i}: live keys"
        );
    }
    flush_batch(&engine, &mut pending)?;
    ensure_eq!(
        engine.current_revision().0,
        model.rev,
        "after the last batch: current revision"
    );
    ensure_eq!(
        engine.applied_index(),
        model.applied,
        "after the last batch: applied index"
    );
    ensure_eq!(
        engine.live_keys(),
        model.cur.len() as i64,
        "after the last batch: live keys"
    );

    check_state(&engine, &model, "after the sequence")?;
    let hashes_before = hashes(&engine, &model, "before physical compaction")?;

    check_watch(
        &mut live_all,
        &model,
        &model.expected_events(2, &[0], &[0], false, 0),
        "live watch on every key",
    )?;
    check_watch(
        &mut live_prefix,
        &model,
        &model.expected_events(2, b"a", b"b", true, 0),
        "live watch on prefix a, no deletes",
    )?;
    for (n, mw) in mid.iter_mut().enumerate() {
        check_mid_watch(
            mw,
            &model,
            &format!("watch {n} started during the sequence at {}", mw.from),
        )?;
    }

    wait_for_physical_compaction(&engine, &model, "physical compaction")?;
    ensure_eq!(
        hashes(&engine, &model, "after physical compaction")?,
        hashes_before,
        "hash_kv before and after physical compaction"
    );
    check_state(&engine, &model, "after physical compaction")?;

    // Catch-up from the first retained revision (from storage).
    let from = model.compact.max(2);
    let want = model.expected_events(from, &[0], &[0], false, model.compact);
    let mut w = engine
        .watch(WatchRequest {
            key: vec![0],
            range_end: vec![0],
            start_revision: from,
            prev_kv: true,
            ..WatchRequest::default()
        })
        .map_err(|e| format!("watch: {e}"))?;
    check_watch(
        &mut w,
        &model,
        &want,
        &format!("catch-up watch from {from}"),
    )?;
    if model.compact >= 2 {
        let mut w = engine
            .watch(WatchRequest {
                key: vec![0],
                range_end: vec![0],
                start_revision: model.compact - 1,
                ..WatchRequest::default()
            })
            .map_err(|e| format!("watch: {e}"))?;
        match collect(&mut w, model.rev, "watch below the compact revision")? {
            Err((got, c)) if got.is_empty() && c == model.compact => {}
            other => {
                return Err(format!(
                    "watch from {} below compact {}: want a cancel, got {other:?}",
                    model.compact - 1,
                    model.compact
                ))
            }
        }
    }

    // Reopen: the same state, counters, leases, hashes and history.
    // Watchers hold the store open too: drop them, then the last handle.
    drop((w, live_all, live_prefix, mid));
    drop(engine);
    let engine = Engine::open(dir.path(), config()).map_err(|e| format!("reopen: {e}"))?;
    check_state(&engine, &model, "after reopen")?;
    ensure_eq!(
        hashes(&engine, &model, "after reopen")?,
        hashes_before,
        "hash_kv after reopen"
    );
    wait_for_physical_compaction(&engine, &model, "after reopen")?;
    let mut w = engine
        .watch(WatchRequest {
            key: vec![0],
            range_end: vec![0],
            start_revision: from,
            prev_kv: true,
            ..WatchRequest::default()
        })
        .map_err(|e| format!("watch: {e}"))?;
    check_watch(
        &mut w,
        &model,
        &want,
        &format!("catch-up watch from {from} after reopen"),
    )?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_etcd_model(ops in prop::collection::vec(op(), 1..=60)) {
        if let Err(e) = run_case(&ops, 1) {
            let listing: Vec<String> = ops.iter().enumerate().map(|(i, op)| format!("  {i}: {op:?}")).collect();
            return Err(TestCaseError::fail(format!("{e}\nops:\n{}", listing.join("\n"))));
        }
    }

    /// The same sequences applied in batches (`Engine::apply_batch`, what the replicated
    /// layer does): runs of writes share one RocksDB write, and every answer, revision,
    /// watch stream and the reopened state must still match the model.
    #[test]
    fn batched_apply_matches_the_etcd_model(ops in prop::collection::vec(op(), 1..=60), batch_len in 2usize..=8) {
        if let Err(e) = run_case(&ops, batch_len) {
            let listing: Vec<String> = ops.iter().enumerate().map(|(i, op)| format!("  {i}: {op:?}")).collect();
            return Err(TestCaseError::fail(format!("{e}\nbatch_len {batch_len}\nops:\n{}", listing.join("\n"))));
        }
    }
}

// ---- regressions: deterministic cases for deviations the model found or that need a setup
// the random sequences cannot make ----------------------------------------------------------

fn open_temp(config: EngineConfig) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let engine = Engine::open(dir.path(), config).expect("open a fresh engine");
    (dir, engine)
}

fn put_req(key: &str, value: &str) -> WriteRequest {
    WriteRequest::Put(PutRequest::new(key, value))
}

fn keys_of(r: &RangeResponse) -> Vec<String> {
    r.kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

/// etcd's executeRange sorts (and applies the limit) before it drops the values of a
/// keys_only range; a keys_only range sorted by value is still in value order.
#[test]
fn keys_only_range_sorted_by_value_is_in_value_order() {
    let (_dir, engine) = open_temp(config());
    for (k, v) in [("a", "3"), ("b", "1"), ("c", "2")] {
        engine.write(&put_req(k, v)).expect("put");
    }
    let sorted = RangeRequest {
        key: b"a".to_vec(),
        range_end: b"d".to_vec(),
        sort_order: SortOrder::Ascend,
        sort_target: SortTarget::Value,
        ..RangeRequest::default()
    };
    let with_values = engine.range(&sorted).expect("range sorted by value");
    assert_eq!(
        keys_of(&with_values),
        ["b", "c", "a"],
        "range sorted by value"
    );
    let keys_only = engine
        .range(&RangeRequest {
            keys_only: true,
            ..sorted.clone()
        })
        .expect("keys_only range sorted by value");
    assert_eq!(
        keys_of(&keys_only),
        ["b", "c", "a"],
        "keys_only must not change the order of a range sorted by value"
    );
    assert!(
        keys_only.kvs.iter().all(|kv| kv.value.is_empty()),
        "keys_only drops values: {keys_only:?}"
    );
    let limited = engine
        .range(&RangeRequest {
            keys_only: true,
            limit: 1,
            ..sorted.clone()
        })
        .expect("limited keys_only range");
    assert_eq!(
        keys_of(&limited),
        ["b"],
        "keys_only + limit 1 sorted by value keeps the smallest value's key"
    );
    // The same inside a txn that has written (served from the txn's own view).
    let txn = TxnRequest {
        compare: Vec::new(),
        success: vec![
            RequestOp::Put(PutRequest::new("d", "0")),
            RequestOp::Range(RangeRequest {
                keys_only: true,
                range_end: b"e".to_vec(),
                ..sorted
            }),
        ],
        failure: Vec::new(),
    };
    match engine.write(&WriteRequest::Txn(txn)).expect("txn") {
        WriteResponse::Txn(t) => match &t.responses[1] {
            ResponseOp::Range(r) => assert_eq!(
                keys_of(r),
                ["d", "b", "c", "a"],
                "keys_only range sorted by value inside a txn"
            ),
            other => panic!("expected a range response, got {other:?}"),
        },
        other => panic!("expected a txn response, got {other:?}"),
    }
}

/// etcd checks a txn's ranges against the revision the txn started at (checkTxn -> checkRange):
/// a range at the revision the txn itself is creating is a future revision, and the txn
/// changes nothing.
#[test]
fn txn_range_at_the_revision_the_txn_creates_is_a_future_revision() {
    let (_dir, engine) = open_temp(config());
    engine.write(&put_req("a", "1")).expect("put");
    assert_eq!(engine.current_revision(), Revision(2));
    let txn = TxnRequest {
        compare: Vec::new(),
        success: vec![
            RequestOp::Put(PutRequest::new("a", "2")),
            RequestOp::Range(RangeRequest::key("a").at(3)),
        ],
        failure: Vec::new(),
    };
    let got = engine.write(&WriteRequest::Txn(txn));
    assert_eq!(
        got,
        Err(Error::FutureRevision {
            current_revision: Revision(2)
        }),
        "range at revision 3 in a txn starting at revision 2"
    );
    assert_eq!(
        engine.current_revision(),
        Revision(2),
        "a failed txn changes nothing"
    );
    assert_eq!(
        engine.get(b"a").expect("get").map(|kv| kv.value),
        Some(b"1".to_vec()),
        "a failed txn changes nothing"
    );
}

/// An event at exactly the compact revision has no readable previous version (etcd reads
/// prev_kv at rev - 1, below the compact revision): watch catch-up and `history` must not
/// report one while physical compaction has not yet deleted it, and report none after.
#[test]
fn prev_kv_at_the_compact_revision_does_not_depend_on_physical_compaction() {
    // One revision per physical compaction batch, so deleting the old versions takes a while.
    let (_dir, engine) = open_temp(EngineConfig {
        compaction_batch_entries: 1,
        ..config()
    });
    for i in 0..2000 {
        engine
            .write(&put_req(&format!("k{i:04}"), "v"))
            .expect("put");
    }
    engine.write(&put_req("z", "1")).expect("put z");
    engine.write(&put_req("z", "2")).expect("put z");
    let c = engine.current_revision().0;
    engine
        .write(&WriteRequest::Compact { revision: c })
        .expect("compact");
    let early = engine
        .history(c, c, 10)
        .expect("history at the compact revision");
    let deadline = Instant::now() + Duration::from_secs(20);
    while engine.key_history(b"z").expect("key history").len() > 1 {
        assert!(
            Instant::now() < deadline,
            "physical compaction did not finish within 20 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let late = engine
        .history(c, c, 10)
        .expect("history at the compact revision");
    let prev = |h: &Vec<storage::RevisionEvents>| {
        h.iter()
            .flat_map(|(_, evs)| evs.iter().map(|e| e.prev_kv.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        prev(&late),
        vec![None],
        "prev_kv of the event at the compact revision {c} after physical compaction"
    );
    assert_eq!(
        prev(&early),
        vec![None],
        "prev_kv of the event at the compact revision {c} while physical compaction runs"
    );
}

/// Dropping the last handle closes the store ("also done on drop of the last handle"), so
/// the same directory can be opened again right away.
#[test]
fn reopen_right_after_dropping_the_last_handle() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    for round in 0..5 {
        let engine = Engine::open(dir.path(), config())
            .unwrap_or_else(|e| panic!("open right after drop (round {round}): {e}"));
        engine
            .write(&put_req("k", &round.to_string()))
            .expect("put");
        drop(engine);
    }
}

/// etcd's duplicate-key check lets a txn put a key in one nested txn and delete it in a
/// later sibling: both changes are at one revision. Either the engine refuses it
/// (DuplicateKey) or the history it serves to watch catch-up must be the events the live
/// watchers got: a put of the value, then the delete.
#[test]
fn nested_put_then_delete_of_one_key_keeps_history_intact() {
    let (_dir, engine) = open_temp(config());
    let mut live = engine
        .watch(WatchRequest {
            key: vec![0],
            range_end: vec![0],
            ..WatchRequest::default()
        })
        .expect("watch");
    let nested = |op: RequestOp| {
        RequestOp::Txn(TxnRequest {
            compare: Vec::new(),
            success: vec![op],
            failure: Vec::new(),
        })
    };
    let txn = TxnRequest {
        compare: Vec::new(),
        success: vec![
            nested(RequestOp::Put(PutRequest::new("a", "1"))),
            nested(RequestOp::DeleteRange(DeleteRangeRequest::key("a"))),
        ],
        failure: Vec::new(),
    };
    match engine.write(&WriteRequest::Txn(txn)) {
        Err(Error::DuplicateKey) => return,
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => {}
    }
    assert_eq!(engine.current_revision(), Revision(2));
    let live_events: Vec<Event> = live
        .try_recv()
        .expect("live events of revision 2")
        .events
        .iter()
        .map(|e| (**e).clone())
        .collect();
    let put = KeyValue {
        key: b"a".to_vec(),
        create_revision: 2,
        mod_revision: 2,
        version: 1,
        value: b"1".to_vec(),
        lease: 0,
    };
    assert_eq!(
        live_events[0],
        Event {
            kind: EventKind::Put,
            kv: put.clone(),
            prev_kv: None
        },
        "live put event"
    );
    assert_eq!(live_events[1].kind, EventKind::Delete, "live delete event");
    let stored: Vec<Event> = engine
        .history(2, 2, 10)
        .expect("history")
        .into_iter()
        .flat_map(|(_, evs)| evs.into_iter().map(|e| (*e).clone()))
        .collect();
    assert_eq!(
        stored, live_events,
        "events served from storage (watch catch-up) vs the live events of the same revision"
    );
}

/// etcd evaluates every compare of a txn, nested ones included, against the state before
/// the txn (compareToPath), not against the txn's own earlier writes.
#[test]
fn nested_txn_compares_see_the_state_before_the_txn() {
    let (_dir, engine) = open_temp(config());
    let inner = TxnRequest {
        compare: vec![Compare {
            key: b"a".to_vec(),
            range_end: Vec::new(),
            target: CompareTarget::Version(0),
            result: CompareResult::Equal,
        }],
        success: vec![RequestOp::Put(PutRequest::new("b", "then"))],
        failure: vec![RequestOp::Put(PutRequest::new("b", "else"))],
    };
    let txn = TxnRequest {
        compare: Vec::new(),
        success: vec![
            RequestOp::Put(PutRequest::new("a", "1")),
            RequestOp::Txn(inner),
        ],
        failure: Vec::new(),
    };
    match engine.write(&WriteRequest::Txn(txn)).expect("txn") {
        WriteResponse::Txn(t) => match &t.responses[1] {
            ResponseOp::Txn(inner) => assert!(
                inner.succeeded,
                "the nested compare (version of a == 0) is evaluated before the txn put a"
            ),
            other => panic!("expected a txn response, got {other:?}"),
        },
        other => panic!("expected a txn response, got {other:?}"),
    }
    assert_eq!(
        engine.get(b"b").expect("get").map(|kv| kv.value),
        Some(b"then".to_vec())
    );
}
