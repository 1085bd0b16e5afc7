//! Offline inspection of a stopped replica's data dir (`<data-dir>/store`, opened
//! read-only): live keys at a revision, one key's retained history, leases, the applied
//! state and HashKV. Never writes.

use crate::raft::{applied_state, LogIdOut, MembershipOut};
use crate::render::{fields, lease_hex, ser_lease, Bytes, Report, Table};
use anyhow::{bail, Context, Result};
use berth_replication::STORE_DIR;
use serde::Serialize;
use std::path::{Path, PathBuf};
use storage::{Engine, KeyValue, LeaseId, RangeRequest};

/// Opens `<data_dir>/store` read-only, with a clear error for each way `data_dir` can be
/// wrong.
pub fn open(data_dir: &Path) -> Result<Engine> {
    let store = store_dir(data_dir)?;
    Engine::open_read_only(&store).map_err(|e| match e {
        storage::Error::Corrupted(msg) if msg.contains("holds no Berth store") => anyhow::anyhow!(
            "{} is not a Berth store (no format marker)",
            store.display()
        ),
        other => anyhow::anyhow!(
            "failed to open the store {} read-only: {other}",
            store.display()
        ),
    })
}

fn store_dir(data_dir: &Path) -> Result<PathBuf> {
    let meta = match std::fs::metadata(data_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("data dir {} does not exist", data_dir.display())
        }
        Err(e) => bail!("failed to read data dir {}: {e}", data_dir.display()),
    };
    if !meta.is_dir() {
        bail!("data dir {} is not a directory", data_dir.display());
    }
    let store = data_dir.join(STORE_DIR);
    if !store.is_dir() {
        if data_dir.join("CURRENT").is_file() {
            bail!("{} looks like the store itself; pass the replica's data dir (its parent, holding {STORE_DIR}/)", data_dir.display());
        }
        bail!(
            "{} is not a Berth data dir: it holds no {STORE_DIR}/ directory",
            data_dir.display()
        );
    }
    if !store.join("CURRENT").is_file() {
        bail!(
            "{} is not a Berth store: no RocksDB database in it",
            store.display()
        );
    }
    Ok(store)
}

/// One version of a key for output.
#[derive(Debug, Clone, Serialize)]
pub struct KvOut {
    pub key: Bytes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Bytes>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    #[serde(serialize_with = "ser_lease")]
    pub lease: i64,
}

impl From<KeyValue> for KvOut {
    fn from(kv: KeyValue) -> Self {
        KvOut {
            key: Bytes(kv.key),
            value: Some(Bytes(kv.value)),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        }
    }
}

/// The usual table of key-values (values left out when none has one).
pub fn kv_table(kvs: &[KvOut]) -> String {
    let with_values = kvs.iter().any(|kv| kv.value.is_some());
    let mut header = vec!["KEY"];
    if with_values {
        header.push("VALUE");
    }
    header.extend(["CREATE_REV", "MOD_REV", "VERSION", "LEASE"]);
    let mut t = Table::new(header);
    for kv in kvs {
        let mut row = vec![kv.key.show()];
        if with_values {
            row.push(kv.value.as_ref().map(Bytes::show).unwrap_or_default());
        }
        row.extend([
            kv.create_revision.to_string(),
            kv.mod_revision.to_string(),
            kv.version.to_string(),
            lease_hex(kv.lease),
        ]);
        t.row(row);
    }
    t.render()
}

#[derive(Debug, Serialize)]
pub struct KeysReport {
    /// The revision read at.
    pub revision: i64,
    pub current_revision: i64,
    pub compact_revision: i64,
    /// Keys in the range (before the limit).
    pub count: i64,
    pub more: bool,
    pub kvs: Vec<KvOut>,
}

impl Report for KeysReport {
    fn table(&self) -> String {
        let mut s = kv_table(&self.kvs);
        s.push_str(&format!(
            "{} keys at revision {} (current {}, compacted up to {})",
            self.count, self.revision, self.current_revision, self.compact_revision
        ));
        if self.more {
            s.push_str(&format!("; showing {}", self.kvs.len()));
        }
        s.push('\n');
        s
    }
}

pub fn keys(engine: &Engine, prefix: Option<&str>, rev: i64, limit: i64) -> Result<KeysReport> {
    let mut req = match prefix {
        Some(p) if !p.is_empty() => RangeRequest::prefix(p.as_bytes()),
        _ => RangeRequest::range(vec![0], vec![0]),
    };
    req.revision = rev;
    req.limit = limit.max(0);
    let resp = engine.range(&req).with_context(|| {
        format!(
            "failed to read keys at revision {}",
            if rev > 0 {
                rev
            } else {
                engine.current_revision().0
            }
        )
    })?;
    Ok(KeysReport {
        revision: if rev > 0 { rev } else { resp.revision },
        current_revision: engine.current_revision().0,
        compact_revision: engine.compact_revision().0,
        count: resp.count,
        more: resp.more,
        kvs: resp.kvs.into_iter().map(KvOut::from).collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct VersionOut {
    pub mod_revision: i64,
    /// `put` or `delete`.
    pub kind: &'static str,
    pub version: i64,
    pub create_revision: i64,
    #[serde(serialize_with = "ser_lease")]
    pub lease: i64,
    pub value: Bytes,
    /// Below the compact revision and not readable any more (physical compaction has not
    /// removed it yet).
    pub compacted: bool,
}

#[derive(Debug, Serialize)]
pub struct HistoryReport {
    pub key: Bytes,
    pub current_revision: i64,
    pub compact_revision: i64,
    /// Newest first.
    pub versions: Vec<VersionOut>,
}

impl Report for HistoryReport {
    fn table(&self) -> String {
        if self.versions.is_empty() {
            return format!("no versions of {} retained\n", self.key.show());
        }
        let mut t = Table::new(["MOD_REV", "KIND", "VERSION", "CREATE_REV", "LEASE", "VALUE"]);
        for v in &self.versions {
            let kind = if v.compacted {
                format!("{} (compacted)", v.kind)
            } else {
                v.kind.to_string()
            };
            t.row([
                v.mod_revision.to_string(),
                kind,
                v.version.to_string(),
                v.create_revision.to_string(),
                lease_hex(v.lease),
                v.value.show(),
            ]);
        }
        let mut s = t.render();
        s.push_str(&format!(
            "{} versions of {} (current revision {}, compacted up to {})\n",
            self.versions.len(),
            self.key.show(),
            self.current_revision,
            self.compact_revision
        ));
        s
    }
}

/// Which of one key's versions (newest first: mod revision, is a tombstone) compaction at
/// `compact` has made unreadable: the same rule as the engine's HashKV and compactor (every
/// version below the newest one at or below `compact`; that one too if it is a tombstone
/// below `compact`).
pub fn compacted_flags(versions: &[(i64, bool)], compact: i64) -> Vec<bool> {
    let mut seen_at_or_below = false;
    versions
        .iter()
        .map(|&(m, tombstone)| {
            let keep = if m >= compact {
                true
            } else {
                !seen_at_or_below && !tombstone
            };
            if m <= compact {
                seen_at_or_below = true;
            }
            !keep
        })
        .collect()
}

pub fn history(engine: &Engine, key: &str) -> Result<HistoryReport> {
    let versions = engine
        .key_history(key.as_bytes())
        .with_context(|| format!("failed to read the history of {key}"))?;
    let compact = engine.compact_revision().0;
    // A tombstone is stored as version 0 with no create revision.
    let flags = compacted_flags(
        &versions
            .iter()
            .map(|kv| (kv.mod_revision, kv.version == 0))
            .collect::<Vec<_>>(),
        compact,
    );
    let versions = versions
        .into_iter()
        .zip(flags)
        .map(|(kv, compacted)| VersionOut {
            mod_revision: kv.mod_revision,
            kind: if kv.version == 0 { "delete" } else { "put" },
            version: kv.version,
            create_revision: kv.create_revision,
            lease: kv.lease,
            value: Bytes(kv.value),
            compacted,
        })
        .collect();
    Ok(HistoryReport {
        key: Bytes(key.as_bytes().to_vec()),
        current_revision: engine.current_revision().0,
        compact_revision: compact,
        versions,
    })
}

#[derive(Debug, Serialize)]
pub struct LeaseOut {
    #[serde(serialize_with = "ser_lease")]
    pub id: i64,
    pub granted_ttl_secs: i64,
    pub keys: Vec<Bytes>,
}

#[derive(Debug, Serialize)]
pub struct LeasesReport {
    pub leases: Vec<LeaseOut>,
}

impl Report for LeasesReport {
    fn table(&self) -> String {
        let mut t = Table::new(["ID", "GRANTED_TTL", "KEYS"]);
        for l in &self.leases {
            let keys: Vec<String> = l.keys.iter().map(Bytes::show).collect();
            t.row([
                lease_hex(l.id),
                format!("{}s", l.granted_ttl_secs),
                keys.join(" "),
            ]);
        }
        let mut s = t.render();
        s.push_str(&format!(
            "{} leases (remaining TTLs live only in the running leader's memory)\n",
            self.leases.len()
        ));
        s
    }
}

pub fn leases(engine: &Engine) -> Result<LeasesReport> {
    let mut out = Vec::new();
    for id in engine.lease_ids() {
        let info = engine
            .lease_info(LeaseId(id), 0, true)
            .with_context(|| format!("failed to read lease {}", lease_hex(id)))?;
        out.push(LeaseOut {
            id,
            granted_ttl_secs: info.granted_ttl_secs,
            keys: info.keys.into_iter().map(Bytes).collect(),
        });
    }
    Ok(LeasesReport { leases: out })
}

#[derive(Debug, Serialize)]
pub struct AppliedReport {
    pub applied_index: u64,
    pub revision: i64,
    pub compact_revision: i64,
    pub live_keys: i64,
    pub alarms: Vec<String>,
    /// The replication layer's record of the last applied entry (none for a store that
    /// never ran under Raft, e.g. just restored from a snapshot).
    pub last_applied_log_id: Option<LogIdOut>,
    pub membership: Option<MembershipOut>,
}

impl Report for AppliedReport {
    fn table(&self) -> String {
        let alarms = if self.alarms.is_empty() {
            "none".to_string()
        } else {
            self.alarms.join(", ")
        };
        let mut rows = vec![
            ("applied index", self.applied_index.to_string()),
            ("revision", self.revision.to_string()),
            ("compact revision", self.compact_revision.to_string()),
            ("live keys", self.live_keys.to_string()),
            ("alarms", alarms),
            (
                "last applied log id",
                self.last_applied_log_id
                    .as_ref()
                    .map(LogIdOut::show)
                    .unwrap_or_else(|| "none".into()),
            ),
        ];
        match &self.membership {
            Some(m) => {
                rows.push((
                    "membership log id",
                    m.log_id
                        .as_ref()
                        .map(LogIdOut::show)
                        .unwrap_or_else(|| "none".into()),
                ));
                rows.push(("membership", m.summary()));
            }
            None => rows.push(("membership", "none".into())),
        }
        let mut s = fields(&rows);
        s.push_str("log ids are term-leader-index\n");
        s
    }
}

pub fn applied(engine: &Engine) -> Result<AppliedReport> {
    let state = applied_state(engine)?;
    Ok(AppliedReport {
        applied_index: engine.applied_index(),
        revision: engine.current_revision().0,
        compact_revision: engine.compact_revision().0,
        live_keys: engine.live_keys(),
        alarms: engine
            .alarms()
            .iter()
            .map(|a| format!("{:?} (member {})", a.kind, crate::render::hex(a.member_id)))
            .collect(),
        last_applied_log_id: state
            .as_ref()
            .and_then(|s| s.last_applied.as_ref().map(LogIdOut::from)),
        membership: state
            .as_ref()
            .map(|s| MembershipOut::from_stored(&s.membership)),
    })
}

#[derive(Debug, Serialize)]
pub struct HashKvReport {
    pub hash: u32,
    pub revision: i64,
    pub compact_revision: i64,
}

impl Report for HashKvReport {
    fn table(&self) -> String {
        fields(&[
            ("hash", self.hash.to_string()),
            ("revision", self.revision.to_string()),
            ("compact revision", self.compact_revision.to_string()),
        ])
    }
}

pub fn hash_kv(engine: &Engine, rev: i64) -> Result<HashKvReport> {
    let h = engine.hash_kv(rev).context("failed to compute HashKV")?;
    Ok(HashKvReport {
        hash: h.hash,
        revision: h.revision,
        compact_revision: h.compact_revision,
    })
}

#[cfg(test)]
mod tests {
    use super::compacted_flags;

    #[test]
    fn compaction_keeps_the_newest_version_at_or_below_the_compact_revision() {
        // (mod revision, tombstone), newest first; compact revision 5.
        let check = |versions: &[(i64, bool)], expected: &[bool]| {
            assert_eq!(compacted_flags(versions, 5), expected, "{versions:?}")
        };
        check(
            &[(9, false), (7, false), (3, false), (2, false)],
            &[false, false, false, true],
        );
        check(&[(9, false), (5, false), (3, false)], &[false, false, true]);
        // A tombstone exactly at the compact revision stays readable there.
        check(&[(5, true), (3, false)], &[false, true]);
        // A tombstone below it goes, and everything older.
        check(&[(8, false), (4, true), (2, false)], &[false, true, true]);
        check(&[(6, true), (4, false)], &[false, false]);
        // Never compacted: everything stays.
        assert_eq!(
            compacted_flags(&[(3, false), (2, true)], 0),
            vec![false, false]
        );
    }
}
