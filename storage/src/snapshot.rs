//! Snapshots: the whole replicated state (keyspace, history, leases, meta) as one
//! checksummed stream, and its atomic install in place of the current state.
//!
//! Format: `BERTHSN1`, then records `[family u8][key len uvarint][key][value len uvarint]
//! [value]`, then `0xff`, then the CRC32 (little-endian) of every byte before it.
//!
//! Install is crash-safe: the file is verified, a marker naming it is written (synced), the
//! old state is deleted and the new one loaded in bounded batches, and the last batch
//! removes the marker (synced). A crash in between leaves the marker, and `Engine::open`
//! redoes the install from the file before serving anything.

use crate::codec;
use crate::engine::{
    Engine, CF_KV, CF_LEASE, CF_META, CF_REV, META_APPLIED, META_COMPACT_DONE, META_INSTALLING,
    META_RAFT, META_REV,
};
use crate::error::{Error, Result};
use rocksdb::{WriteBatch, WriteOptions};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"BERTHSN1";
const END: u8 = 0xff;
const FAMILIES: [&str; 4] = [CF_KV, CF_REV, CF_LEASE, CF_META];
/// Largest key or value a snapshot record may hold (a sanity bound on untrusted input).
const MAX_RECORD_BYTES: u64 = 64 << 20;
const INSTALL_BATCH_BYTES: usize = 4 << 20;

/// What a snapshot holds, read from its own meta records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub applied_index: u64,
    pub revision: i64,
    pub size_bytes: u64,
    pub crc32: u32,
    /// The replication layer's applied state as of this snapshot (see `apply_with_state`).
    pub replication_state: Option<Vec<u8>>,
}

/// Meta keys that describe this replica's local progress, not replicated state.
fn local_only(key: &[u8]) -> bool {
    key == META_INSTALLING || key == META_COMPACT_DONE
}

struct CrcWriter<W: Write> {
    out: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        self.out
            .write_all(bytes)
            .map_err(|e| Error::Rocks(format!("failed to write snapshot: {e}")))
    }
}

impl Engine {
    /// Streams a consistent snapshot of the state to `out`.
    pub fn write_snapshot(&self, out: impl Write) -> Result<SnapshotInfo> {
        let inner = &self.inner;
        let snap = inner.db.snapshot();
        let mut w = CrcWriter {
            out,
            hasher: crc32fast::Hasher::new(),
            written: 0,
        };
        w.put(MAGIC)?;
        let mut applied_index = 0;
        let mut revision = 0;
        let mut replication_state = None;
        for (idx, name) in FAMILIES.iter().enumerate() {
            let mut ro = crate::read::kv_scan_options();
            ro.set_snapshot(&snap);
            ro.fill_cache(false);
            let mut it = inner.db.raw_iterator_cf_opt(inner.cf(name), ro);
            it.seek_to_first();
            while it.valid() {
                let (k, v) = it.item().expect("valid iterator");
                if *name == CF_META {
                    if local_only(k) {
                        it.next();
                        continue;
                    }
                    if k == META_APPLIED {
                        applied_index = be_u64(v)?;
                    } else if k == META_REV {
                        revision = be_u64(v)? as i64;
                    } else if k == META_RAFT {
                        replication_state = Some(v.to_vec());
                    }
                }
                let mut head = Vec::with_capacity(12);
                head.push(idx as u8);
                codec::put_uvarint(&mut head, k.len() as u64);
                w.put(&head)?;
                w.put(k)?;
                head.clear();
                codec::put_uvarint(&mut head, v.len() as u64);
                w.put(&head)?;
                w.put(v)?;
                it.next();
            }
            it.status()?;
        }
        w.put(&[END])?;
        let crc32 = w.hasher.clone().finalize();
        w.out
            .write_all(&crc32.to_le_bytes())
            .map_err(|e| Error::Rocks(format!("failed to write snapshot: {e}")))?;
        w.out
            .flush()
            .map_err(|e| Error::Rocks(format!("failed to write snapshot: {e}")))?;
        Ok(SnapshotInfo {
            applied_index,
            revision,
            size_bytes: w.written + 4,
            crc32,
            replication_state,
        })
    }

    /// Writes a snapshot file durably (temp file, fsync, rename).
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotInfo> {
        let tmp = path.with_extension("tmp");
        let file = File::create(&tmp)
            .map_err(|e| Error::Rocks(format!("failed to create {}: {e}", tmp.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let info = self.write_snapshot(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| Error::Rocks(format!("failed to write {}: {e}", tmp.display())))?;
        file.sync_all()
            .map_err(|e| Error::Rocks(format!("failed to fsync {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| Error::Rocks(format!("failed to rename {}: {e}", tmp.display())))?;
        sync_parent(path)?;
        Ok(info)
    }

    /// Replaces the whole state with the snapshot in `path` (which must stay in place until
    /// this returns). Watchers then catch up from the new history, or get a compacted
    /// response when their revision is gone.
    pub fn install_snapshot(&self, path: &Path) -> Result<SnapshotInfo> {
        let info = verify_snapshot(path)?;
        let abs = std::fs::canonicalize(path)
            .map_err(|e| Error::Rocks(format!("failed to resolve {}: {e}", path.display())))?;
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.inner.db.put_cf_opt(
            self.inner.cf(CF_META),
            META_INSTALLING,
            abs.to_string_lossy().as_bytes(),
            &wo,
        )?;
        install(self, &abs)?;
        Ok(info)
    }
}

impl Engine {
    /// `kvctl snapshot restore`: a store for a *new* cluster from a snapshot file. Installs
    /// the snapshot into this (fresh) store, then forgets the old cluster's Raft position:
    /// the applied index goes back to 0 and the replication state is dropped, so the new
    /// cluster's entries 1, 2, ... apply. Keys, revisions, history and leases stay.
    pub fn restore_snapshot(&self, path: &Path) -> Result<SnapshotInfo> {
        if self.applied_index() != 0 || self.current_revision().0 != 1 {
            return Err(Error::Rocks(format!(
                "restore needs an empty store; {} holds data",
                self.path().display()
            )));
        }
        let info = self.install_snapshot(path)?;
        let inner = &self.inner;
        let mut w = inner.writer.lock();
        let mut batch = WriteBatch::default();
        batch.put_cf(inner.cf(CF_META), META_APPLIED, 0u64.to_be_bytes());
        batch.delete_cf(inner.cf(CF_META), META_RAFT);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        inner.db.write_opt(batch, &wo)?;
        self.load_state_locked(&mut w)?;
        Ok(info)
    }
}

/// Reads a whole snapshot file and checks its structure and checksum.
pub fn verify_snapshot(path: &Path) -> Result<SnapshotInfo> {
    let file = File::open(path)
        .map_err(|e| Error::Rocks(format!("failed to open snapshot {}: {e}", path.display())))?;
    let mut info = SnapshotInfo {
        applied_index: 0,
        revision: 0,
        size_bytes: 0,
        crc32: 0,
        replication_state: None,
    };
    let crc = read_records(BufReader::with_capacity(1 << 20, file), &mut |fam, k, v| {
        if FAMILIES[fam] == CF_META {
            if k == META_APPLIED {
                info.applied_index = be_u64(v)?;
            } else if k == META_REV {
                info.revision = be_u64(v)? as i64;
            } else if k == META_RAFT {
                info.replication_state = Some(v.to_vec());
            }
        }
        Ok(())
    })?;
    info.crc32 = crc.0;
    info.size_bytes = crc.1;
    Ok(info)
}

/// Parses records, calling `f(family, key, value)`; fails on any structural error or a
/// checksum mismatch. Returns (crc, total size).
/// A snapshot reader's callback: (family index, key, value).
type RecordFn<'a> = dyn FnMut(usize, &[u8], &[u8]) -> Result<()> + 'a;

fn read_records(mut r: impl Read, f: &mut RecordFn) -> Result<(u32, u64)> {
    let mut hasher = crc32fast::Hasher::new();
    let mut total = 0u64;
    let mut read =
        |buf: &mut [u8], hasher: &mut crc32fast::Hasher, total: &mut u64| -> Result<()> {
            r.read_exact(buf)
                .map_err(|e| Error::Corrupted(format!("snapshot truncated: {e}")))?;
            hasher.update(buf);
            *total += buf.len() as u64;
            Ok(())
        };
    let mut magic = [0u8; 8];
    read(&mut magic, &mut hasher, &mut total)?;
    if &magic != MAGIC {
        return Err(Error::Corrupted("not a Berth snapshot".into()));
    }
    let mut key = Vec::new();
    let mut val = Vec::new();
    loop {
        let mut fam = [0u8; 1];
        read(&mut fam, &mut hasher, &mut total)?;
        if fam[0] == END {
            break;
        }
        let fam = fam[0] as usize;
        if fam >= FAMILIES.len() {
            return Err(Error::Corrupted(format!(
                "snapshot names unknown family {fam}"
            )));
        }
        for buf in [&mut key, &mut val] {
            let mut len = 0u64;
            for shift in (0..64).step_by(7) {
                let mut b = [0u8; 1];
                read(&mut b, &mut hasher, &mut total)?;
                len |= u64::from(b[0] & 0x7f) << shift;
                if b[0] < 0x80 {
                    break;
                }
            }
            if len > MAX_RECORD_BYTES {
                return Err(Error::Corrupted(format!("snapshot record of {len} bytes")));
            }
            buf.resize(len as usize, 0);
            read(buf, &mut hasher, &mut total)?;
        }
        f(fam, &key, &val)?;
    }
    let crc = hasher.finalize();
    let mut trailer = [0u8; 4];
    r.read_exact(&mut trailer)
        .map_err(|e| Error::Corrupted(format!("snapshot truncated: {e}")))?;
    if u32::from_le_bytes(trailer) != crc {
        return Err(Error::Corrupted("snapshot checksum mismatch".into()));
    }
    Ok((crc, total + 4))
}

/// Replaces the state with the (verified) snapshot file; the install marker is already
/// set. Also the recovery path after a crash during install.
pub(crate) fn install(engine: &Engine, path: &Path) -> Result<()> {
    let inner = &engine.inner;
    let mut w = inner.writer.lock();
    let _compactor = inner.compactor_lock.lock();
    // Delete the old state.
    let mut batch = WriteBatch::default();
    for name in [CF_KV, CF_REV, CF_LEASE] {
        let cf = inner.cf(name);
        let mut it = inner
            .db
            .raw_iterator_cf_opt(cf, crate::read::kv_scan_options());
        it.seek_to_last();
        if it.valid() {
            let last = it.key().expect("valid iterator").to_vec();
            batch.delete_range_cf(cf, [].as_slice(), last.as_slice());
            batch.delete_cf(cf, &last);
        }
        it.status()?;
    }
    let meta = inner.cf(CF_META);
    let mut it = inner.db.raw_iterator_cf(meta);
    it.seek_to_first();
    while it.valid() {
        let k = it.key().expect("valid iterator");
        if k != META_INSTALLING {
            batch.delete_cf(meta, k);
        }
        it.next();
    }
    it.status()?;
    drop(it);
    inner.db.write(batch)?;
    // Load the new one in bounded batches.
    let file = File::open(path)
        .map_err(|e| Error::Rocks(format!("failed to open snapshot {}: {e}", path.display())))?;
    let mut batch = WriteBatch::default();
    read_records(BufReader::with_capacity(1 << 20, file), &mut |fam, k, v| {
        if FAMILIES[fam] == CF_META && local_only(k) {
            return Ok(());
        }
        batch.put_cf(inner.cf(FAMILIES[fam]), k, v);
        if batch.size_in_bytes() >= INSTALL_BATCH_BYTES {
            inner.db.write(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    batch.put_cf(meta, META_COMPACT_DONE, 0i64.to_be_bytes());
    batch.delete_cf(meta, META_INSTALLING);
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    inner.db.write_opt(batch, &wo)?;
    engine.load_state_locked(&mut w)?;
    inner.compactor_wake.notify();
    tracing::info!(path = %path.display(), applied = w.applied_index, revision = w.rev, "installed snapshot");
    Ok(())
}

fn be_u64(v: &[u8]) -> Result<u64> {
    let arr: [u8; 8] = v
        .try_into()
        .map_err(|_| Error::Corrupted("meta value is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::Rocks(format!("failed to fsync {}: {e}", dir.display())))?;
    }
    Ok(())
}
