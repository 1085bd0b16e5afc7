//! Snapshots: `snapshot save` streams Maintenance.Snapshot into a file (checking etcd's
//! trailing SHA-256 and stripping it and the stream's zero padding, so the file is exactly
//! the Berth snapshot, then checking that with `storage::verify_snapshot`), and `snapshot
//! restore` creates a new replica data dir from such a file.

use crate::render::{fields, human_bytes, Report};
use anyhow::{anyhow, bail, Context, Result};
use berth_replication::STORE_DIR;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use storage::{Engine, EngineConfig};

/// etcd ends the snapshot stream with the SHA-256 of everything before it.
const SHA_BYTES: usize = 32;
/// The server pads the stream to a multiple of this (etcd clients expect it).
const MAX_PADDING_BYTES: u64 = 512;

/// Receives the stream's bytes: writes all but the last 32 (held back) and hashes them;
/// at the end the held-back bytes must be their SHA-256.
pub struct ShaTail {
    hasher: Sha256,
    tail: Vec<u8>,
    content_bytes: u64,
}

impl Default for ShaTail {
    fn default() -> Self {
        ShaTail {
            hasher: Sha256::new(),
            tail: Vec::with_capacity(2 * SHA_BYTES),
            content_bytes: 0,
        }
    }
}

impl ShaTail {
    /// Takes the next chunk; returns the bytes now known to be content (to write).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.tail.extend_from_slice(chunk);
        if self.tail.len() <= SHA_BYTES {
            return Vec::new();
        }
        let keep_from = self.tail.len() - SHA_BYTES;
        let rest = self.tail.split_off(keep_from);
        let content = std::mem::replace(&mut self.tail, rest);
        self.hasher.update(&content);
        self.content_bytes += content.len() as u64;
        content
    }

    /// Checks the trailer; returns the content length.
    pub fn finish(self) -> Result<u64> {
        if self.tail.len() < SHA_BYTES {
            bail!(
                "snapshot stream ended after {} bytes, before its SHA-256 trailer",
                self.content_bytes + self.tail.len() as u64
            );
        }
        let digest = self.hasher.finalize();
        if digest.as_slice() != self.tail.as_slice() {
            bail!("snapshot stream failed its SHA-256 check (corrupted in transit or truncated)");
        }
        Ok(self.content_bytes)
    }
}

#[derive(Debug, Serialize)]
pub struct SaveReport {
    pub file: PathBuf,
    pub size_bytes: u64,
    pub revision: i64,
    pub applied_index: u64,
    pub crc32: u32,
}

impl Report for SaveReport {
    fn table(&self) -> String {
        let mut s = format!("Snapshot saved at {}\n", self.file.display());
        s.push_str(&fields(&[
            (
                "size",
                format!(
                    "{} ({} bytes)",
                    human_bytes(self.size_bytes),
                    self.size_bytes
                ),
            ),
            ("revision", self.revision.to_string()),
            ("applied index", self.applied_index.to_string()),
            ("crc32", format!("{:08x}", self.crc32)),
        ]));
        s
    }
}

/// Where the stream goes until it is checked: `FILE.part` next to FILE.
pub fn part_path(file: &Path) -> PathBuf {
    let mut name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    file.with_file_name(name)
}

/// Streams the snapshot from `client` (one endpoint) into `file`.
pub async fn save(
    client: &mut etcd_client::Client,
    file: &Path,
    timeout: Duration,
) -> Result<SaveReport> {
    if file.as_os_str().is_empty() || file.is_dir() {
        bail!("{} is not a file name", file.display());
    }
    let part = part_path(file);
    let result = save_to(client, file, &part, timeout).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

async fn save_to(
    client: &mut etcd_client::Client,
    file: &Path,
    part: &Path,
    timeout: Duration,
) -> Result<SaveReport> {
    // The server writes the whole snapshot before it answers: give the start more time.
    let start_timeout = (timeout * 12).max(Duration::from_secs(60));
    let mut stream = tokio::time::timeout(start_timeout, client.snapshot())
        .await
        .map_err(|_| anyhow!("no snapshot from the server within {start_timeout:?}"))?
        .map_err(crate::online::rpc_error)?;
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(part)
            .with_context(|| format!("failed to create {}", part.display()))?,
    );
    let mut tail = ShaTail::default();
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut received = 0u64;
    let mut first = true;
    loop {
        let wait = if first { start_timeout } else { timeout };
        let msg = tokio::time::timeout(wait, stream.message())
            .await
            .map_err(|_| {
                anyhow!("snapshot stream stalled: no data for {wait:?} after {received} bytes")
            })?
            .map_err(crate::online::rpc_error)?;
        let Some(msg) = msg else { break };
        let blob = msg.blob();
        received += blob.len() as u64;
        if first {
            bar.set_length(received + msg.remaining_bytes());
            first = false;
        }
        bar.set_position(received);
        let content = tail.push(blob);
        out.write_all(&content)
            .with_context(|| format!("failed to write {}", part.display()))?;
    }
    bar.finish_and_clear();
    if first {
        bail!("the server sent an empty snapshot stream");
    }
    let content_bytes = tail.finish()?;
    let mut f = out
        .into_inner()
        .map_err(|e| anyhow!("failed to write {}: {}", part.display(), e.error()))?;
    f.flush()?;
    // The content is the Berth snapshot, then zero padding: keep exactly the snapshot.
    let info = storage::verify_snapshot(part)
        .map_err(|e| anyhow!("the server sent an invalid snapshot: {e}"))?;
    if info.size_bytes > content_bytes || content_bytes - info.size_bytes >= MAX_PADDING_BYTES {
        bail!(
            "the snapshot stream has {} bytes beyond the {}-byte snapshot",
            content_bytes.saturating_sub(info.size_bytes),
            info.size_bytes
        );
    }
    check_zero_padding(&mut f, info.size_bytes, content_bytes)
        .with_context(|| format!("failed to check {}", part.display()))?;
    f.set_len(info.size_bytes)
        .with_context(|| format!("failed to truncate {}", part.display()))?;
    f.sync_all()
        .with_context(|| format!("failed to fsync {}", part.display()))?;
    drop(f);
    std::fs::rename(part, file)
        .with_context(|| format!("failed to rename {} to {}", part.display(), file.display()))?;
    sync_parent(file)?;
    Ok(SaveReport {
        file: file.to_path_buf(),
        size_bytes: info.size_bytes,
        revision: info.revision,
        applied_index: info.applied_index,
        crc32: info.crc32,
    })
}

fn check_zero_padding(f: &mut File, from: u64, to: u64) -> Result<()> {
    f.seek(SeekFrom::Start(from))?;
    let mut pad = vec![0u8; (to - from) as usize];
    f.read_exact(&mut pad)?;
    if pad.iter().any(|b| *b != 0) {
        bail!("unexpected data after the snapshot's checksum");
    }
    Ok(())
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("failed to fsync {}", dir.display()))?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub data_dir: PathBuf,
    pub revision: i64,
    pub compact_revision: i64,
    pub live_keys: i64,
    pub hash: u32,
    /// The old cluster's applied index recorded in the snapshot (forgotten by the restore).
    pub snapshot_applied_index: u64,
}

impl Report for RestoreReport {
    fn table(&self) -> String {
        let mut s = format!("Restored the snapshot into {}\n", self.data_dir.display());
        s.push_str(&fields(&[
            ("revision", self.revision.to_string()),
            ("compact revision", self.compact_revision.to_string()),
            ("live keys", self.live_keys.to_string()),
            ("hashkv", self.hash.to_string()),
        ]));
        s.push_str(&format!(
            "Start a new cluster on it: control-plane --data-dir {} --initial-cluster-state new --name ... --initial-cluster ...\n",
            self.data_dir.display()
        ));
        s
    }
}

/// Creates `data_dir/store` from the snapshot `file`: verified first, so a bad file creates
/// nothing; refused when `data_dir` exists and is not empty; on failure, what was created
/// is removed.
pub fn restore(file: &Path, data_dir: &Path) -> Result<RestoreReport> {
    storage::verify_snapshot(file)
        .map_err(|e| anyhow!("snapshot {} is not valid: {e}", file.display()))?;
    let existed = match std::fs::metadata(data_dir) {
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a directory", data_dir.display()),
        Ok(_) => {
            let mut entries = std::fs::read_dir(data_dir)
                .with_context(|| format!("failed to read {}", data_dir.display()))?;
            if entries.next().is_some() {
                bail!(
                    "data dir {} exists and is not empty; restore needs a new or empty one",
                    data_dir.display()
                );
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => bail!("failed to read {}: {e}", data_dir.display()),
    };
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("failed to create {}", data_dir.display()))?;
    let result = restore_into(file, data_dir);
    if result.is_err() {
        if existed {
            let _ = std::fs::remove_dir_all(data_dir.join(STORE_DIR));
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    result
}

fn restore_into(file: &Path, data_dir: &Path) -> Result<RestoreReport> {
    let store = data_dir.join(STORE_DIR);
    let engine = Engine::open(&store, EngineConfig::default())
        .with_context(|| format!("failed to create the store {}", store.display()))?;
    let info = engine
        .restore_snapshot(file)
        .with_context(|| format!("failed to restore {}", file.display()))?;
    let hash = engine
        .hash_kv(0)
        .context("failed to hash the restored store")?;
    engine
        .flush()
        .context("failed to flush the restored store")?;
    let report = RestoreReport {
        data_dir: data_dir.to_path_buf(),
        revision: engine.current_revision().0,
        compact_revision: engine.compact_revision().0,
        live_keys: engine.live_keys(),
        hash: hash.hash,
        snapshot_applied_index: info.applied_index,
    };
    engine.close();
    drop(engine);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(content: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut all = content.to_vec();
        all.extend_from_slice(&Sha256::digest(content));
        all.chunks(chunk.max(1)).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn sha_tail_strips_and_checks_the_trailer_whatever_the_chunking() {
        let content: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
        for chunk in [1, 5, 31, 32, 33, 100, 4096] {
            let mut t = ShaTail::default();
            let mut got = Vec::new();
            for c in stream(&content, chunk) {
                got.extend(t.push(&c));
            }
            assert_eq!(t.finish().unwrap(), content.len() as u64, "chunk {chunk}");
            assert_eq!(got, content, "chunk {chunk}");
        }
    }

    #[test]
    fn sha_tail_refuses_bad_or_short_streams() {
        let mut chunks = stream(b"hello snapshot", 4);
        chunks[1][0] ^= 1;
        let mut t = ShaTail::default();
        for c in &chunks {
            t.push(c);
        }
        assert!(t.finish().unwrap_err().to_string().contains("SHA-256"));
        let mut t = ShaTail::default();
        t.push(b"short");
        assert!(t
            .finish()
            .unwrap_err()
            .to_string()
            .contains("before its SHA-256"));
    }

    #[test]
    fn part_file_is_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("/tmp/x/snap.db")),
            PathBuf::from("/tmp/x/snap.db.part")
        );
        assert_eq!(part_path(Path::new("snap")), PathBuf::from("snap.part"));
    }
}
