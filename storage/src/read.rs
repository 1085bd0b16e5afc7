//! Reads: ranges at a revision, one key's history, the revision-ordered history that
//! watches catch up from, and HashKV. All reads go through RocksDB iterators (each an
//! implicit snapshot), so they never block writers.

use crate::codec::{self, Record};
use crate::engine::{Engine, Inner, CF_KV, CF_REV};
use crate::error::{Error, Result};
use crate::types::*;
use rocksdb::{ColumnFamily, DBRawIterator, ReadOptions, DB};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Versions of one key to step over with `next()` before seeking past the rest.
const SKIP_BY_NEXT: usize = 3;

/// A scan's callback: (user key, mod revision, raw record) -> continue?
type ScanFn<'a> = dyn FnMut(&[u8], i64, &[u8]) -> Result<bool> + 'a;

fn is_tombstone(raw: &[u8]) -> bool {
    raw.first().is_some_and(|f| f & 1 != 0)
}

/// Read options for every iterator over the `kv` family except one key's versions: that
/// family has a prefix extractor (the user key) for its Bloom filters, and RocksDB's
/// default prefix mode gives undefined results once an iterator leaves the seek key's
/// prefix; total-order seeks ignore the filters.
pub(crate) fn kv_scan_options() -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.set_total_order_seek(true);
    ro
}

/// The newest stored version of `key` (a tombstone included). A seek bounded to the key's
/// own versions, so the prefix Bloom filters skip every SST that never held the key: a
/// put of a new key reads no SST block (this seek was ~11 % of a leader's CPU under
/// `etcdctl check perf`, benches/RESULTS.md).
pub(crate) fn get_latest(db: &DB, cf: &ColumnFamily, key: &[u8]) -> Result<Option<(i64, Record)>> {
    let mut ro = ReadOptions::default();
    ro.set_prefix_same_as_start(true);
    let mut it = db.raw_iterator_cf_opt(cf, ro);
    get_at(&mut it, key, i64::MAX)
}

/// The newest version of `key` at or below `rev` (a tombstone included).
fn get_at(it: &mut DBRawIterator, key: &[u8], rev: i64) -> Result<Option<(i64, Record)>> {
    let prefix = codec::kv_key_first(key);
    it.seek(codec::kv_key(key, rev.max(0)));
    if it.valid() {
        let k = it.key().expect("valid iterator");
        if codec::kv_key_user_part(k) == prefix.as_slice() {
            let m = codec::kv_key_rev(k)?;
            return Ok(Some((
                m,
                Record::decode(it.value().expect("valid iterator"))?,
            )));
        }
    }
    it.status()?;
    Ok(None)
}

/// An iterator over the `kv` family bounded above by `end` (etcd range end semantics).
fn kv_iter<'a>(
    db: &'a DB,
    cf: &ColumnFamily,
    end: &[u8],
    snapshot: Option<&rocksdb::Snapshot>,
) -> DBRawIterator<'a> {
    let mut ro = kv_scan_options();
    if let Some(s) = snapshot {
        ro.set_snapshot(s);
    }
    if !end.is_empty() && end != [0] {
        ro.set_iterate_upper_bound(codec::kv_key_first(end));
    }
    db.raw_iterator_cf_opt(cf, ro)
}

/// Calls `f(key, mod_revision, raw_record)` for the newest version at or below `rev` of
/// every key in `[key, end)`, in key order, tombstones included (the caller skips them).
/// `f` returns false to stop.
pub(crate) fn scan_latest(
    db: &DB,
    cf: &ColumnFamily,
    key: &[u8],
    end: &[u8],
    rev: i64,
    f: &mut ScanFn,
) -> Result<()> {
    let mut it = kv_iter(db, cf, end, None);
    scan_with(&mut it, key, end, rev, f)
}

fn scan_with(
    it: &mut DBRawIterator,
    key: &[u8],
    end: &[u8],
    rev: i64,
    f: &mut ScanFn,
) -> Result<()> {
    if end.is_empty() {
        let prefix = codec::kv_key_first(key);
        it.seek(codec::kv_key(key, rev));
        if it.valid() {
            let k = it.key().expect("valid iterator");
            if codec::kv_key_user_part(k) == prefix.as_slice() {
                let m = codec::kv_key_rev(k)?;
                f(key, m, it.value().expect("valid iterator"))?;
            }
        }
        return Ok(it.status()?);
    }
    it.seek(codec::kv_key_first(key));
    while it.valid() {
        let k = it.key().expect("valid iterator");
        let m = codec::kv_key_rev(k)?;
        let user_part = codec::kv_key_user_part(k).to_vec();
        if m > rev {
            // Newer than asked for: jump to this key's newest version at or below `rev`.
            let mut target = user_part;
            target.extend_from_slice(&(u64::MAX - rev as u64).to_be_bytes());
            it.seek(target);
            continue;
        }
        let (user_key, _) = codec::decode_user_key(&user_part)?;
        if !f(&user_key, m, it.value().expect("valid iterator"))? {
            return Ok(());
        }
        // Step over this key's older versions: a few next() calls, then a seek.
        let mut moved = false;
        for _ in 0..SKIP_BY_NEXT {
            it.next();
            if !it.valid()
                || codec::kv_key_user_part(it.key().expect("valid iterator"))
                    != user_part.as_slice()
            {
                moved = true;
                break;
            }
        }
        if !moved {
            let mut target = user_part;
            target.extend_from_slice(&[0xff; 9]);
            it.seek(target);
        }
    }
    Ok(it.status()?)
}

/// A range served from storage at `rev` (already checked against compaction).
pub(crate) fn range_at(
    db: &DB,
    cf: &ColumnFamily,
    r: &RangeRequest,
    rev: i64,
    header_rev: i64,
) -> Result<RangeResponse> {
    let mut it = kv_iter(db, cf, &r.range_end, None);
    range_with(&mut it, r, rev, header_rev)
}

fn range_with(
    it: &mut DBRawIterator,
    r: &RangeRequest,
    rev: i64,
    header_rev: i64,
) -> Result<RangeResponse> {
    let (sort_order, _) = effective_sort(r);
    let filtered = r.min_mod_revision != 0
        || r.max_mod_revision != 0
        || r.min_create_revision != 0
        || r.max_create_revision != 0;
    let limit = r.limit.max(0) as usize;
    // Without sorting or filters, keep limit + 1 items (for `more`) and only count the rest.
    let keep = if sort_order != SortOrder::None || filtered || limit == 0 {
        usize::MAX
    } else {
        limit + 1
    };
    let mut kvs = Vec::new();
    let mut count = 0i64;
    scan_with(it, &r.key, &r.range_end, rev, &mut |k, m, raw| {
        if is_tombstone(raw) {
            return Ok(true);
        }
        count += 1;
        if !r.count_only && kvs.len() < keep {
            kvs.push(Record::decode(raw)?.into_kv(k.to_vec(), m));
        }
        Ok(true)
    })?;
    Ok(finish_range(r, header_rev, kvs, count))
}

/// Shapes an in-memory list of live kvs (key order) as a range response.
pub(crate) fn shape_range(r: &RangeRequest, header_rev: i64, kvs: Vec<KeyValue>) -> RangeResponse {
    let count = kvs.len() as i64;
    finish_range(r, header_rev, kvs, count)
}

fn effective_sort(r: &RangeRequest) -> (SortOrder, SortTarget) {
    // etcd: a non-key target without an order sorts ascending.
    let order = if r.sort_target != SortTarget::Key && r.sort_order == SortOrder::None {
        SortOrder::Ascend
    } else {
        r.sort_order
    };
    (order, r.sort_target)
}

/// etcd's order of operations: count before filters; filter by revisions; sort; limit;
/// then drop values for keys_only (a sort by value must see them).
fn finish_range(
    r: &RangeRequest,
    header_rev: i64,
    mut kvs: Vec<KeyValue>,
    count: i64,
) -> RangeResponse {
    if r.count_only {
        return RangeResponse {
            revision: header_rev,
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
    let (order, target) = effective_sort(r);
    if order != SortOrder::None {
        let key_of = |kv: &KeyValue| -> (i64, Vec<u8>) {
            match target {
                SortTarget::Key => (0, kv.key.clone()),
                SortTarget::Version => (kv.version, Vec::new()),
                SortTarget::Create => (kv.create_revision, Vec::new()),
                SortTarget::Mod => (kv.mod_revision, Vec::new()),
                SortTarget::Value => (0, kv.value.clone()),
            }
        };
        match order {
            SortOrder::Descend => kvs.sort_by_key(|kv| std::cmp::Reverse(key_of(kv))),
            _ => kvs.sort_by_key(key_of),
        }
    }
    let mut more = false;
    if r.limit > 0 && kvs.len() > r.limit as usize {
        kvs.truncate(r.limit as usize);
        more = true;
    }
    if r.keys_only {
        kvs.iter_mut().for_each(|kv| kv.value = Vec::new());
    }
    RangeResponse {
        revision: header_rev,
        kvs,
        more,
        count,
    }
}

/// Events of one revision, all of them, in sub-revision order.
pub type RevisionEvents = (i64, Vec<Arc<Event>>);

/// HashKV's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    pub hash: u32,
    pub revision: i64,
    pub compact_revision: i64,
}

impl Engine {
    /// Range at the current or a historic revision.
    pub fn range(&self, r: &RangeRequest) -> Result<RangeResponse> {
        crate::engine::validate_range(&r.key, &r.range_end)?;
        let inner = &self.inner;
        let current = inner.current_rev.load(Ordering::Acquire);
        let rev = if r.revision <= 0 { current } else { r.revision };
        if rev > current {
            return Err(Error::FutureRevision {
                current_revision: Revision(current),
            });
        }
        let snapshot = inner.db.snapshot();
        let compact = inner.compact_rev.load(Ordering::Acquire);
        if rev < compact {
            return Err(Error::Compacted {
                compact_revision: Revision(compact),
            });
        }
        let mut it = kv_iter(&inner.db, inner.cf(CF_KV), &r.range_end, Some(&snapshot));
        range_with(&mut it, r, rev, current)
    }

    /// The current version of one key, if it exists.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        Ok(self.range(&RangeRequest::key(key))?.kvs.pop())
    }

    /// Every retained version of one key, newest first (tombstones as version 0).
    pub fn key_history(&self, key: &[u8]) -> Result<Vec<KeyValue>> {
        let inner = &self.inner;
        let prefix = codec::kv_key_first(key);
        let mut it = inner
            .db
            .raw_iterator_cf_opt(inner.cf(CF_KV), kv_scan_options());
        it.seek(&prefix);
        let mut out = Vec::new();
        while it.valid() {
            let k = it.key().expect("valid iterator");
            if codec::kv_key_user_part(k) != prefix.as_slice() {
                break;
            }
            let m = codec::kv_key_rev(k)?;
            out.push(Record::decode(it.value().expect("valid iterator"))?.into_kv(key.to_vec(), m));
            it.next();
        }
        it.status()?;
        Ok(out)
    }

    /// The events of revisions `from..=to`, whole revisions only, stopping after the
    /// revision that reaches `max_events`. Fails with `Compacted` if `from` is below the
    /// compact revision.
    pub fn history(&self, from: i64, to: i64, max_events: usize) -> Result<Vec<RevisionEvents>> {
        self.inner.history(from, to, max_events)
    }

    /// A hash of every version a compaction at the current compact revision keeps, up to
    /// `rev` (0: current). Equal on every replica that applied the same entries, whatever
    /// their physical compaction progress.
    pub fn hash_kv(&self, rev: i64) -> Result<HashKv> {
        let inner = &self.inner;
        let snapshot = inner.db.snapshot();
        let current = inner.current_rev.load(Ordering::Acquire);
        let compact = inner.compact_rev.load(Ordering::Acquire);
        let rev = if rev <= 0 { current } else { rev };
        if rev > current {
            return Err(Error::FutureRevision {
                current_revision: Revision(current),
            });
        }
        if rev < compact {
            return Err(Error::Compacted {
                compact_revision: Revision(compact),
            });
        }
        let mut ro = kv_scan_options();
        ro.set_snapshot(&snapshot);
        let mut it = inner.db.raw_iterator_cf_opt(inner.cf(CF_KV), ro);
        it.seek_to_first();
        let mut hasher = crc32fast::Hasher::new();
        let mut last_user: Vec<u8> = Vec::new();
        let mut seen_at_or_below_compact = false;
        while it.valid() {
            let (k, v) = it.item().expect("valid iterator");
            let user = codec::kv_key_user_part(k);
            if user != last_user.as_slice() {
                last_user = user.to_vec();
                seen_at_or_below_compact = false;
            }
            let m = codec::kv_key_rev(k)?;
            if m <= rev {
                let keep = if m >= compact {
                    true
                } else if !seen_at_or_below_compact {
                    !is_tombstone(v)
                } else {
                    false
                };
                if m <= compact {
                    seen_at_or_below_compact = true;
                }
                if keep {
                    hasher.update(k);
                    hasher.update(v);
                }
            }
            it.next();
        }
        it.status()?;
        Ok(HashKv {
            hash: hasher.finalize(),
            revision: rev,
            compact_revision: compact,
        })
    }
}

impl Inner {
    pub(crate) fn history(
        &self,
        from: i64,
        to: i64,
        max_events: usize,
    ) -> Result<Vec<RevisionEvents>> {
        let inner = self;
        let snapshot = inner.db.snapshot();
        let compact = inner.compact_rev.load(Ordering::Acquire);
        if from < compact {
            return Err(Error::Compacted {
                compact_revision: Revision(compact),
            });
        }
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&snapshot);
        ro.set_iterate_upper_bound(codec::rev_key(to.saturating_add(1), 0).to_vec());
        let mut hist = inner.db.raw_iterator_cf_opt(inner.cf(CF_REV), ro);
        let mut ro = kv_scan_options();
        ro.set_snapshot(&snapshot);
        let mut kv = inner.db.raw_iterator_cf_opt(inner.cf(CF_KV), ro);
        hist.seek(codec::rev_key(from, 0));
        let mut out: Vec<RevisionEvents> = Vec::new();
        let mut n_events = 0usize;
        while hist.valid() {
            let (k, v) = hist.item().expect("valid iterator");
            let (main, _sub) = codec::split_rev_key(k)?;
            if out.last().map(|(r, _)| *r) != Some(main) {
                if n_events >= max_events {
                    break;
                }
                out.push((main, Vec::new()));
            }
            let (&kind, key) = v
                .split_first()
                .ok_or_else(|| Error::Corrupted("empty history entry".into()))?;
            let (_, rec) = get_at(&mut kv, key, main)?.ok_or_else(|| {
                Error::Corrupted(format!("history names a missing version at {main}"))
            })?;
            // The previous version, unless it is below the compact revision (then it is gone,
            // or about to be: never served, whatever physical compaction's progress).
            let prev_kv = if main > compact {
                match get_at(&mut kv, key, main - 1)? {
                    Some((pm, prev)) if !prev.tombstone => Some(prev.into_kv(key.to_vec(), pm)),
                    _ => None,
                }
            } else {
                None
            };
            let event = if kind == 1 {
                Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key.to_vec(),
                        mod_revision: main,
                        ..Default::default()
                    },
                    prev_kv,
                }
            } else {
                Event {
                    kind: EventKind::Put,
                    kv: rec.into_kv(key.to_vec(), main),
                    prev_kv,
                }
            };
            out.last_mut()
                .expect("pushed above")
                .1
                .push(Arc::new(event));
            n_events += 1;
            hist.next();
        }
        hist.status()?;
        Ok(out)
    }
}
