//! Physical compaction: deletes the versions a logical compaction made unreachable, in the
//! background, in bounded batches, so writes never stall behind it.
//!
//! `Compact(rev)` only records the new compact revision (atomically with its index); reads
//! below it fail from then on. This thread then walks the `rev` history below the compact
//! revision and deletes each version that is superseded at or below it, or is a tombstone,
//! together with the history entry. Progress ("compact_done") is saved with each batch, so
//! a crash resumes where it stopped; deleting again is harmless.

use crate::codec::{self, Record};
use crate::engine::{Inner, Wake, CF_KV, CF_META, CF_REV, META_COMPACT_DONE};
use crate::error::Result;
use rocksdb::WriteBatch;
use rocksdb::{ColumnFamily, DBRawIterator};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub(crate) fn run(inner: Weak<Inner>, wake: Arc<Wake>) {
    loop {
        let more = {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            if strong.shutdown.load(Ordering::Acquire) {
                return;
            }
            match compact_step(&strong) {
                Ok(more) => more,
                Err(e) => {
                    tracing::error!(error = %e, "physical compaction failed; will retry");
                    false
                }
            }
        };
        if more {
            continue;
        }
        // Wait (without keeping the store open) for a new compaction, or retry later.
        let mut pending = wake.pending.lock();
        if !*pending {
            wake.cv.wait_for(&mut pending, Duration::from_millis(500));
        }
        *pending = false;
    }
}

/// One bounded batch. Returns true when there is more to do.
pub(crate) fn compact_step(inner: &Inner) -> Result<bool> {
    let _guard = inner.compactor_lock.lock();
    let target = inner.compact_rev.load(Ordering::Acquire);
    let done = inner.meta_i64(META_COMPACT_DONE)?;
    if done >= target {
        return Ok(false);
    }
    let kv_cf = inner.cf(CF_KV);
    let rev_cf = inner.cf(CF_REV);
    let mut hist = inner.db.raw_iterator_cf(rev_cf);
    let mut kv = inner
        .db
        .raw_iterator_cf_opt(kv_cf, crate::read::kv_scan_options());
    hist.seek(codec::rev_key(done, 0));
    let mut batch = WriteBatch::default();
    let mut n_entries = 0usize;
    let mut last_main = done;
    let mut next_done = target;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    while hist.valid() {
        let (k, v) = hist.item().expect("valid iterator");
        let (main, sub) = codec::split_rev_key(k)?;
        if main > target {
            break;
        }
        if main != last_main && n_entries >= inner.config.compaction_batch_entries {
            next_done = main;
            break;
        }
        last_main = main;
        let key = v
            .get(1..)
            .ok_or_else(|| crate::error::Error::Corrupted("empty history entry".into()))?
            .to_vec();
        if seen.insert(key.clone()) {
            delete_unreachable(&mut kv, &mut batch, kv_cf, &key, target)?;
        }
        // History at the target itself stays: a watch may start exactly there.
        if main < target {
            batch.delete_cf(rev_cf, codec::rev_key(main, sub));
        }
        n_entries += 1;
        hist.next();
    }
    hist.status()?;
    batch.put_cf(
        inner.cf(CF_META),
        META_COMPACT_DONE,
        next_done.to_be_bytes(),
    );
    inner.db.write(batch)?;
    Ok(next_done < target)
}

/// Deletes the versions of `key` that no read at or above `target` can see: every version
/// older than the newest one at or below `target`, and that one too if it is a tombstone
/// below `target`. One batch, so a reader never sees an older version resurface.
fn delete_unreachable(
    kv: &mut DBRawIterator,
    batch: &mut WriteBatch,
    kv_cf: &ColumnFamily,
    key: &[u8],
    target: i64,
) -> Result<()> {
    let prefix = codec::kv_key_first(key);
    kv.seek(codec::kv_key(key, target));
    let mut newest = true;
    while kv.valid() {
        let (k, raw) = kv.item().expect("valid iterator");
        if codec::kv_key_user_part(k) != prefix.as_slice() {
            break;
        }
        let m = codec::kv_key_rev(k)?;
        if !newest || (m < target && Record::decode(raw)?.tombstone) {
            batch.delete_cf(kv_cf, k);
        }
        newest = false;
        kv.next();
    }
    kv.status()?;
    Ok(())
}
