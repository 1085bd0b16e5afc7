//! Offline view of a stopped replica's Raft log and Raft state: entries decoded with the
//! replication crate's types (log id, payload kind, the write request or membership it
//! carries), the vote, the membership and every Raft state value. Read-only.

use crate::render::{fields, hex, lease_hex, ser_hex, show_bytes, Bytes, Report, Table};
use anyhow::{Context, Result};
use berth_replication::types::{decode, Entry, LogId, PeerNode, Proposal, StoredMembership, Vote};
use berth_replication::AppliedState;
use openraft::{EntryPayload, Membership};
use serde::Serialize;
use storage::{Engine, RaftLogReader, RequestOp, WriteRequest, STATE_PURGED};

// The Raft state keys the replication layer writes (`log_store.rs`, `replica.rs`), each
// a bincode value (`types::encode`).
use berth_replication::state_keys::{
    CLUSTER_ID as KEY_CLUSTER_ID, COMMITTED as KEY_COMMITTED,
    LAST_PURGED_LOG_ID as KEY_LAST_PURGED, MEMBER_ID as KEY_MEMBER_ID, VOTE as KEY_VOTE,
};

/// A log id: the term and member of the leader that proposed it, and its index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogIdOut {
    pub term: u64,
    #[serde(serialize_with = "ser_hex")]
    pub leader: u64,
    pub index: u64,
}

impl From<&LogId> for LogIdOut {
    fn from(l: &LogId) -> Self {
        LogIdOut {
            term: l.leader_id.term,
            leader: l.leader_id.node_id,
            index: l.index,
        }
    }
}

impl LogIdOut {
    pub fn show(&self) -> String {
        format!("{}-{}-{}", self.term, hex(self.leader), self.index)
    }
}

fn show_log_id(l: &Option<LogIdOut>) -> String {
    l.as_ref()
        .map(LogIdOut::show)
        .unwrap_or_else(|| "none".into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberOut {
    #[serde(serialize_with = "ser_hex")]
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// A membership: its configs (one, or two during a joint change) and every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipOut {
    /// The entry that introduced it (none for the initial, empty membership).
    pub log_id: Option<LogIdOut>,
    /// Voter ids of each config (hex).
    pub configs: Vec<Vec<String>>,
    pub members: Vec<MemberOut>,
}

impl MembershipOut {
    pub fn new(log_id: Option<LogIdOut>, m: &Membership<u64, PeerNode>) -> Self {
        let voters: std::collections::BTreeSet<u64> = m.voter_ids().collect();
        let configs = m
            .get_joint_config()
            .iter()
            .map(|c| c.iter().map(|id| hex(*id)).collect())
            .collect();
        let members = m
            .nodes()
            .map(|(id, n)| MemberOut {
                id: *id,
                name: n.name.clone(),
                peer_urls: n.peer_urls.clone(),
                client_urls: n.client_urls.clone(),
                is_learner: !voters.contains(id),
            })
            .collect();
        MembershipOut {
            log_id,
            configs,
            members,
        }
    }

    pub fn from_stored(m: &StoredMembership) -> Self {
        MembershipOut::new(m.log_id().as_ref().map(LogIdOut::from), m.membership())
    }

    /// One line: `voters [a(n0) b(n1)] learners [c]`, joint configs separated by `+`.
    pub fn summary(&self) -> String {
        let name = |id: &str| -> String {
            match self.members.iter().find(|m| hex(m.id) == id) {
                Some(m) if !m.name.is_empty() => format!("{id}({})", m.name),
                _ => id.to_string(),
            }
        };
        let configs: Vec<String> = self
            .configs
            .iter()
            .map(|c| c.iter().map(|id| name(id)).collect::<Vec<_>>().join(" "))
            .collect();
        let learners: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.is_learner)
            .map(|m| name(&hex(m.id)))
            .collect();
        let mut s = format!("voters [{}]", configs.join("] + ["));
        if !learners.is_empty() {
            s.push_str(&format!(" learners [{}]", learners.join(" ")));
        }
        s
    }

    fn members_table(&self) -> String {
        let mut t = Table::new(["ID", "NAME", "ROLE", "PEER URLS", "CLIENT URLS"]);
        for m in &self.members {
            t.row([
                hex(m.id),
                m.name.clone(),
                if m.is_learner { "learner" } else { "voter" }.into(),
                m.peer_urls.join(","),
                m.client_urls.join(","),
            ]);
        }
        t.render()
    }
}

/// One decoded log entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryOut {
    pub index: u64,
    /// None when the entry does not decode.
    pub log_id: Option<LogIdOut>,
    /// `blank`, `normal`, `membership`, or `undecodable`.
    pub kind: &'static str,
    /// For a normal entry: the write request's kind (`put`, `txn`, `lease-grant`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// For a normal entry: the keys it writes or deletes (a txn: every key it names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipOut>,
    /// A one-line description.
    pub detail: String,
    pub size_bytes: usize,
}

/// Decodes one stored entry; a bad one is reported, not fatal.
pub fn describe_entry(index: u64, bytes: &[u8]) -> EntryOut {
    let mut out = EntryOut {
        index,
        log_id: None,
        kind: "undecodable",
        request: None,
        keys: Vec::new(),
        membership: None,
        detail: String::new(),
        size_bytes: bytes.len(),
    };
    let entry: Entry = match decode(bytes) {
        Ok(e) => e,
        Err(e) => {
            out.detail = e.to_string();
            return out;
        }
    };
    let log_id = LogIdOut::from(&entry.log_id);
    let mismatch = (log_id.index != index)
        .then(|| format!(" (stored at index {index} but claims {})", log_id.index));
    out.log_id = Some(log_id.clone());
    match &entry.payload {
        EntryPayload::Blank => {
            out.kind = "blank";
            out.detail = "leader's blank entry".into();
        }
        EntryPayload::Normal(Proposal(req)) => {
            out.kind = "normal";
            let (detail, keys) = describe_request(req);
            out.request = Some(Proposal(req.clone()).to_string());
            out.keys = keys.into_iter().map(Bytes).collect();
            out.detail = detail;
        }
        EntryPayload::Membership(m) => {
            out.kind = "membership";
            let mo = MembershipOut::new(Some(log_id), m);
            out.detail = mo.summary();
            out.membership = Some(mo);
        }
    }
    if let Some(m) = mismatch {
        out.detail.push_str(&m);
    }
    out
}

fn range_text(key: &[u8], end: &[u8]) -> String {
    if end.is_empty() {
        show_bytes(key)
    } else if end == [0] {
        format!("{}..(end)", show_bytes(key))
    } else if storage::prefix_end(key) == end {
        format!("{}*", show_bytes(key))
    } else {
        format!("{}..{}", show_bytes(key), show_bytes(end))
    }
}

/// A write request in one line, and the keys it names.
pub fn describe_request(req: &WriteRequest) -> (String, Vec<Vec<u8>>) {
    match req {
        WriteRequest::Put(p) => {
            let mut s = format!("put {} ({} bytes)", show_bytes(&p.key), p.value.len());
            if p.lease != 0 {
                s.push_str(&format!(" lease {}", lease_hex(p.lease)));
            }
            (s, vec![p.key.clone()])
        }
        WriteRequest::DeleteRange(d) => (
            format!("delete {}", range_text(&d.key, &d.range_end)),
            vec![d.key.clone()],
        ),
        WriteRequest::Txn(t) => {
            let mut keys = Vec::new();
            collect_txn_keys(t, &mut keys);
            let shown: Vec<String> = keys.iter().take(5).map(|k| show_bytes(k)).collect();
            let more = if keys.len() > 5 {
                format!(" +{} more", keys.len() - 5)
            } else {
                String::new()
            };
            (
                format!(
                    "txn: {} compares, {} success ops, {} failure ops; keys {}{more}",
                    t.compare.len(),
                    t.success.len(),
                    t.failure.len(),
                    shown.join(" ")
                ),
                keys,
            )
        }
        WriteRequest::Compact { revision } => {
            (format!("compact to revision {revision}"), Vec::new())
        }
        WriteRequest::LeaseGrant { id, ttl_secs } => {
            let id = if *id == 0 {
                "(id from index)".to_string()
            } else {
                lease_hex(*id)
            };
            (format!("lease grant {id} ttl {ttl_secs}s"), Vec::new())
        }
        WriteRequest::LeaseRevoke { id } => {
            (format!("lease revoke {}", lease_hex(*id)), Vec::new())
        }
        WriteRequest::AlarmActivate(a) => (
            format!("alarm activate {:?} member {}", a.kind, hex(a.member_id)),
            Vec::new(),
        ),
        WriteRequest::AlarmDeactivate(a) => (
            format!("alarm deactivate {:?} member {}", a.kind, hex(a.member_id)),
            Vec::new(),
        ),
        WriteRequest::Noop => ("noop".into(), Vec::new()),
    }
}

fn collect_txn_keys(t: &storage::TxnRequest, keys: &mut Vec<Vec<u8>>) {
    fn add(keys: &mut Vec<Vec<u8>>, k: &[u8]) {
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_vec());
        }
    }
    for c in &t.compare {
        add(keys, &c.key);
    }
    for op in t.success.iter().chain(&t.failure) {
        match op {
            RequestOp::Range(r) => add(keys, &r.key),
            RequestOp::Put(p) => add(keys, &p.key),
            RequestOp::DeleteRange(d) => add(keys, &d.key),
            RequestOp::Txn(inner) => collect_txn_keys(inner, keys),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntriesReport {
    pub first_index: Option<u64>,
    pub last_index: Option<u64>,
    pub entries: Vec<EntryOut>,
    /// More entries in the asked range than the limit allowed.
    pub more: bool,
}

impl Report for EntriesReport {
    fn table(&self) -> String {
        let mut t = Table::new(["INDEX", "TERM", "LEADER", "KIND", "DETAIL"]);
        for e in &self.entries {
            let (term, leader) = match &e.log_id {
                Some(l) => (l.term.to_string(), hex(l.leader)),
                None => (String::new(), String::new()),
            };
            t.row([
                e.index.to_string(),
                term,
                leader,
                e.kind.to_string(),
                e.detail.clone(),
            ]);
        }
        let mut s = t.render();
        match (self.first_index, self.last_index) {
            (Some(f), Some(l)) => s.push_str(&format!("log holds entries {f}..={l}")),
            _ => s.push_str("the log is empty"),
        }
        if self.more {
            s.push_str("; more entries in the range (use --from / --limit)");
        }
        s.push('\n');
        s
    }
}

pub fn entries(
    engine: &Engine,
    from: Option<u64>,
    to: Option<u64>,
    limit: usize,
) -> Result<EntriesReport> {
    let log = engine.raft_log_reader();
    let first_index = log.first_index().context("failed to read the Raft log")?;
    let last_index = log.last_index().context("failed to read the Raft log")?;
    let start = from.or(first_index).unwrap_or(0);
    let end = to.or(last_index).unwrap_or(0).saturating_add(1);
    let limit = limit.max(1);
    let raw = if start < end {
        log.entries(start, end, limit + 1)
            .context("failed to read the Raft log")?
    } else {
        Vec::new()
    };
    let more = raw.len() > limit;
    let entries = raw
        .iter()
        .take(limit)
        .map(|(i, b)| describe_entry(*i, b))
        .collect();
    Ok(EntriesReport {
        first_index,
        last_index,
        entries,
        more,
    })
}

fn read_state<T: serde::de::DeserializeOwned>(
    log: &RaftLogReader,
    key: &[u8],
) -> Result<Option<T>> {
    match log.state(key).context("failed to read the Raft state")? {
        Some(bytes) => Ok(Some(decode(&bytes).with_context(|| {
            format!(
                "failed to decode Raft state {:?}",
                String::from_utf8_lossy(key)
            )
        })?)),
        None => Ok(None),
    }
}

#[derive(Debug, Serialize)]
pub struct VoteReport {
    /// None when no vote was ever saved.
    pub vote: Option<VoteOut>,
}

#[derive(Debug, Serialize)]
pub struct VoteOut {
    pub term: u64,
    /// The member voted for (the leader once committed).
    #[serde(serialize_with = "ser_hex")]
    pub voted_for: u64,
    /// Granted by a quorum: `voted_for` is the leader of `term`.
    pub committed: bool,
}

impl From<&Vote> for VoteOut {
    fn from(v: &Vote) -> Self {
        VoteOut {
            term: v.leader_id.term,
            voted_for: v.leader_id.node_id,
            committed: v.committed,
        }
    }
}

impl Report for VoteReport {
    fn table(&self) -> String {
        match &self.vote {
            None => "no vote saved\n".into(),
            Some(v) => fields(&[
                ("term", v.term.to_string()),
                ("voted for", hex(v.voted_for)),
                ("committed", v.committed.to_string()),
            ]),
        }
    }
}

pub fn vote(engine: &Engine) -> Result<VoteReport> {
    let v: Option<Vote> = read_state(&engine.raft_log_reader(), KEY_VOTE)?;
    Ok(VoteReport {
        vote: v.as_ref().map(VoteOut::from),
    })
}

/// The replication layer's applied state recorded with the last applied entry.
pub fn applied_state(engine: &Engine) -> Result<Option<AppliedState>> {
    match engine
        .replication_state()
        .context("failed to read the applied state")?
    {
        Some(bytes) => Ok(Some(
            decode(&bytes).context("failed to decode the replication layer's applied state")?,
        )),
        None => Ok(None),
    }
}

#[derive(Debug, Serialize)]
pub struct MembershipReport {
    /// The membership as of the last applied entry.
    pub applied: Option<MembershipOut>,
    /// The newest membership entry in the log, if newer than the applied one (Raft uses a
    /// membership from the moment it is in the log, committed or not).
    pub latest_in_log: Option<MembershipOut>,
}

impl Report for MembershipReport {
    fn table(&self) -> String {
        let mut s = String::new();
        match &self.applied {
            Some(m) => s.push_str(&format!(
                "applied membership (log id {}): {}\n{}",
                show_log_id(&m.log_id),
                m.summary(),
                m.members_table()
            )),
            None => s.push_str("no applied membership\n"),
        }
        if let Some(m) = &self.latest_in_log {
            s.push_str(&format!(
                "\nnewer membership in the log (log id {}): {}\n{}",
                show_log_id(&m.log_id),
                m.summary(),
                m.members_table()
            ));
        }
        s
    }
}

/// Entries scanned backwards at most, looking for the newest membership entry.
const MAX_MEMBERSHIP_SCAN: usize = 100_000;

pub fn membership(engine: &Engine) -> Result<MembershipReport> {
    let applied_state = applied_state(engine)?;
    let applied = applied_state
        .as_ref()
        .map(|a| MembershipOut::from_stored(&a.membership));
    let applied_index = applied_state
        .as_ref()
        .and_then(|a| a.membership.log_id().as_ref().map(|l| l.index));
    let log = engine.raft_log_reader();
    let mut latest_in_log = None;
    if let (Some(first), Some(last)) = (log.first_index()?, log.last_index()?) {
        // Scan from the newer of (first entry, applied membership) onwards, in bounded chunks.
        let mut start = first
            .max(applied_index.map(|i| i + 1).unwrap_or(0))
            .max(last.saturating_sub(MAX_MEMBERSHIP_SCAN as u64));
        while start <= last {
            let chunk = log
                .entries(start, last + 1, 1024)
                .context("failed to read the Raft log")?;
            let Some((next, _)) = chunk.last() else { break };
            let next = next + 1;
            for (i, b) in &chunk {
                let e = describe_entry(*i, b);
                if e.membership.is_some() {
                    latest_in_log = e.membership;
                }
            }
            start = next;
        }
    }
    Ok(MembershipReport {
        applied,
        latest_in_log,
    })
}

#[derive(Debug, Serialize)]
pub struct StateReport {
    #[serde(serialize_with = "ser_opt_hex")]
    pub member_id: Option<u64>,
    #[serde(serialize_with = "ser_opt_hex")]
    pub cluster_id: Option<u64>,
    pub vote: Option<VoteOut>,
    pub committed: Option<LogIdOut>,
    pub last_purged_log_id: Option<LogIdOut>,
    /// The highest purged index as the storage engine records it.
    pub purged_index: u64,
    pub first_index: Option<u64>,
    pub last_index: Option<u64>,
    pub last_log_id: Option<LogIdOut>,
    pub applied_index: u64,
    pub last_applied_log_id: Option<LogIdOut>,
    /// Raft state keys kvctl does not know, as raw bytes.
    pub other: Vec<(String, Bytes)>,
}

fn ser_opt_hex<S: serde::Serializer>(id: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&hex(*id)),
        None => s.serialize_none(),
    }
}

impl Report for StateReport {
    fn table(&self) -> String {
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
        let mut rows = vec![
            (
                "member id",
                self.member_id.map(hex).unwrap_or_else(|| "none".into()),
            ),
            (
                "cluster id",
                self.cluster_id.map(hex).unwrap_or_else(|| "none".into()),
            ),
            (
                "vote",
                match &self.vote {
                    Some(v) => format!(
                        "term {} for {}{}",
                        v.term,
                        hex(v.voted_for),
                        if v.committed { " (committed)" } else { "" }
                    ),
                    None => "none".into(),
                },
            ),
            ("committed", show_log_id(&self.committed)),
            ("last purged", show_log_id(&self.last_purged_log_id)),
            ("purged index", self.purged_index.to_string()),
            ("first index", opt(self.first_index)),
            ("last index", opt(self.last_index)),
            ("last log id", show_log_id(&self.last_log_id)),
            ("applied index", self.applied_index.to_string()),
            ("last applied", show_log_id(&self.last_applied_log_id)),
        ];
        for (k, v) in &self.other {
            rows.push((k.as_str(), v.show()));
        }
        let mut s = fields(&rows);
        s.push_str("log ids are term-leader-index\n");
        s
    }
}

pub fn state(engine: &Engine) -> Result<StateReport> {
    let log = engine.raft_log_reader();
    let member_id: Option<u64> = read_state(&log, KEY_MEMBER_ID)?;
    let cluster_id: Option<u64> = read_state(&log, KEY_CLUSTER_ID)?;
    let vote: Option<Vote> = read_state(&log, KEY_VOTE)?;
    let committed: Option<Option<LogId>> = read_state(&log, KEY_COMMITTED)?;
    let last_purged: Option<LogId> = read_state(&log, KEY_LAST_PURGED)?;
    let first_index = log.first_index()?;
    let last_index = log.last_index()?;
    let last_log_id = match last_index {
        Some(i) => log
            .entries(i, i + 1, 1)?
            .first()
            .and_then(|(i, b)| describe_entry(*i, b).log_id),
        None => None,
    };
    let applied = applied_state(engine)?;
    let known: [&[u8]; 6] = [
        KEY_VOTE,
        KEY_COMMITTED,
        KEY_LAST_PURGED,
        KEY_MEMBER_ID,
        KEY_CLUSTER_ID,
        STATE_PURGED,
    ];
    let other = log
        .state_entries()?
        .into_iter()
        .filter(|(k, _)| !known.contains(&k.as_slice()))
        .map(|(k, v)| (show_bytes(&k), Bytes(v)))
        .collect();
    Ok(StateReport {
        member_id,
        cluster_id,
        vote: vote.as_ref().map(VoteOut::from),
        committed: committed.flatten().as_ref().map(LogIdOut::from),
        last_purged_log_id: last_purged.as_ref().map(LogIdOut::from),
        purged_index: log.purged()?,
        first_index,
        last_index,
        last_log_id,
        applied_index: engine.applied_index(),
        last_applied_log_id: applied
            .as_ref()
            .and_then(|a| a.last_applied.as_ref().map(LogIdOut::from)),
        other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_replication::types::encode;
    use openraft::impls::leader_id_adv::LeaderId;
    use std::collections::{BTreeMap, BTreeSet};
    use storage::{DeleteRangeRequest, PutRequest, TxnRequest};

    fn log_id(term: u64, node: u64, index: u64) -> LogId {
        LogId {
            leader_id: LeaderId {
                term,
                node_id: node,
            },
            index,
        }
    }

    fn entry(index: u64, payload: EntryPayload<Proposal, u64, PeerNode>) -> Vec<u8> {
        encode(&Entry {
            log_id: log_id(2, 0xa, index),
            payload,
        })
        .unwrap()
    }

    #[test]
    fn describes_each_payload_kind() {
        let e = describe_entry(1, &entry(1, EntryPayload::Blank));
        assert_eq!(
            (e.kind, e.log_id.unwrap().show()),
            ("blank", "2-a-1".to_string())
        );

        let put = WriteRequest::Put(PutRequest {
            lease: 0x7b,
            ..PutRequest::new("k", "value")
        });
        let e = describe_entry(2, &entry(2, EntryPayload::Normal(Proposal(put))));
        assert_eq!(
            (e.kind, e.request.as_deref(), e.detail.as_str()),
            ("normal", Some("put"), "put k (5 bytes) lease 7b")
        );
        assert_eq!(e.keys, vec![Bytes(b"k".to_vec())]);

        let del =
            WriteRequest::DeleteRange(DeleteRangeRequest::range("p/", storage::prefix_end(b"p/")));
        assert_eq!(
            describe_entry(3, &entry(3, EntryPayload::Normal(Proposal(del)))).detail,
            "delete p/*"
        );

        let txn = WriteRequest::Txn(TxnRequest {
            success: vec![
                RequestOp::Put(PutRequest::new("a", "1")),
                RequestOp::Put(PutRequest::new("b", "2")),
            ],
            ..Default::default()
        });
        let e = describe_entry(4, &entry(4, EntryPayload::Normal(Proposal(txn))));
        assert_eq!((e.request.as_deref(), e.keys.len()), (Some("txn"), 2));

        let nodes: BTreeMap<u64, PeerNode> = [
            (
                1,
                PeerNode {
                    name: "n0".into(),
                    ..Default::default()
                },
            ),
            (2, PeerNode::default()),
        ]
        .into();
        let m = Membership::new(vec![BTreeSet::from([1])], nodes).unwrap();
        let e = describe_entry(5, &entry(5, EntryPayload::Membership(m)));
        assert_eq!(
            (e.kind, e.detail.as_str()),
            ("membership", "voters [1(n0)] learners [2]")
        );

        let e = describe_entry(6, b"\xff\xff garbage");
        assert_eq!(e.kind, "undecodable");
        assert!(e.log_id.is_none());

        // An entry stored under the wrong index says so.
        let e = describe_entry(9, &entry(8, EntryPayload::Blank));
        assert!(
            e.detail.contains("stored at index 9 but claims 8"),
            "{}",
            e.detail
        );
    }
}
