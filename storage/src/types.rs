//! The engine's request, response and record types (etcd v3 semantics, no wire format).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A main revision of the keyspace. The empty store is at revision 1, as in etcd; every
/// write request that changes a key advances it by one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Revision(pub i64);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A lease id. 0 means "no lease".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LeaseId(pub i64);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// One version of a key, as etcd's `mvccpb.KeyValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: Vec<u8>,
    pub lease: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change of one key. For a delete, `kv` carries the key and the deleting revision
/// (value empty, version 0), as etcd's delete events do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    /// The key's previous version, when it had one and it has not been compacted away.
    pub prev_kv: Option<KeyValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    #[default]
    None,
    Ascend,
    Descend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortTarget {
    #[default]
    Key,
    Version,
    Create,
    Mod,
    Value,
}

/// etcd's RangeRequest. `range_end` empty: the single key; `[0]`: every key >= `key`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub limit: i64,
    /// 0 (or below) means the current revision.
    pub revision: i64,
    pub sort_order: SortOrder,
    pub sort_target: SortTarget,
    pub keys_only: bool,
    pub count_only: bool,
    pub min_mod_revision: i64,
    pub max_mod_revision: i64,
    pub min_create_revision: i64,
    pub max_create_revision: i64,
}

impl RangeRequest {
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        RangeRequest {
            key: key.into(),
            ..Default::default()
        }
    }
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let key = prefix.into();
        let range_end = prefix_end(&key);
        RangeRequest {
            key,
            range_end,
            ..Default::default()
        }
    }
    pub fn range(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> Self {
        RangeRequest {
            key: key.into(),
            range_end: range_end.into(),
            ..Default::default()
        }
    }
    pub fn at(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RangeResponse {
    /// The revision the range was served at (the header revision).
    pub revision: i64,
    pub kvs: Vec<KeyValue>,
    pub more: bool,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutRequest {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub lease: i64,
    pub prev_kv: bool,
    pub ignore_value: bool,
    pub ignore_lease: bool,
}

impl PutRequest {
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PutResponse {
    pub revision: i64,
    pub prev_kv: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub prev_kv: bool,
}

impl DeleteRangeRequest {
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        DeleteRangeRequest {
            key: key.into(),
            ..Default::default()
        }
    }
    pub fn range(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> Self {
        DeleteRangeRequest {
            key: key.into(),
            range_end: range_end.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRangeResponse {
    pub revision: i64,
    pub deleted: i64,
    pub prev_kvs: Vec<KeyValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareResult {
    Equal,
    Greater,
    Less,
    NotEqual,
}

/// What a compare looks at, with the operand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareTarget {
    Version(i64),
    Create(i64),
    Mod(i64),
    Value(Vec<u8>),
    Lease(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    pub target: CompareTarget,
    pub result: CompareResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOp {
    Range(RangeRequest),
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    pub failure: Vec<RequestOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseOp {
    Range(RangeResponse),
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnResponse {
    pub revision: i64,
    pub succeeded: bool,
    pub responses: Vec<ResponseOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmKind {
    NoSpace,
    Corrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Alarm {
    pub member_id: u64,
    pub kind: AlarmKind,
}

/// A request that changes replicated state: what a Raft entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteRequest {
    Put(PutRequest),
    DeleteRange(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact {
        revision: i64,
    },
    /// `id` 0: the engine picks one, deterministically from the entry's index.
    LeaseGrant {
        id: i64,
        ttl_secs: i64,
    },
    LeaseRevoke {
        id: i64,
    },
    AlarmActivate(Alarm),
    AlarmDeactivate(Alarm),
    /// An entry that changes nothing but the applied index (Raft blank and membership entries).
    Noop,
}

impl WriteRequest {
    /// True when the request can make the store bigger (refused under NOSPACE).
    pub fn may_grow(&self) -> bool {
        match self {
            WriteRequest::Put(_) | WriteRequest::LeaseGrant { .. } => true,
            WriteRequest::Txn(t) => txn_has_put(t),
            _ => false,
        }
    }

    /// True when the work of applying it is bounded by its own size: puts, deletes of one
    /// key, and txns made only of those, compares on one key and reads of one key. A range
    /// delete, a range read in a txn, a lease revoke (its keys) or a compaction may touch
    /// any number of keys.
    pub fn is_point(&self) -> bool {
        match self {
            WriteRequest::Put(_) | WriteRequest::Noop => true,
            WriteRequest::DeleteRange(d) => d.range_end.is_empty(),
            WriteRequest::Txn(t) => txn_is_point(t),
            WriteRequest::LeaseGrant { .. }
            | WriteRequest::AlarmActivate(_)
            | WriteRequest::AlarmDeactivate(_) => true,
            WriteRequest::Compact { .. } | WriteRequest::LeaseRevoke { .. } => false,
        }
    }

    /// The request's size as the limit counts it: the bytes it carries plus a small
    /// per-op overhead, close to its protobuf encoding.
    pub fn size_bytes(&self) -> usize {
        match self {
            WriteRequest::Put(p) => put_size(p),
            WriteRequest::DeleteRange(d) => d.key.len() + d.range_end.len() + 8,
            WriteRequest::Txn(t) => txn_size(t),
            _ => 16,
        }
    }
}

impl TxnRequest {
    /// True when every operation (in both branches) is a range: etcd serves such a txn on
    /// the read path, without a log entry (`isTxnReadonly`; a nested txn is not read-only).
    pub fn is_read_only(&self) -> bool {
        self.success
            .iter()
            .chain(&self.failure)
            .all(|op| matches!(op, RequestOp::Range(_)))
    }
}

fn txn_is_point(t: &TxnRequest) -> bool {
    t.compare.iter().all(|c| c.range_end.is_empty())
        && t.success.iter().chain(&t.failure).all(|op| match op {
            RequestOp::Put(_) => true,
            RequestOp::Range(r) => r.range_end.is_empty(),
            RequestOp::DeleteRange(d) => d.range_end.is_empty(),
            RequestOp::Txn(inner) => txn_is_point(inner),
        })
}

fn txn_has_put(t: &TxnRequest) -> bool {
    t.success.iter().chain(&t.failure).any(|op| match op {
        RequestOp::Put(_) => true,
        RequestOp::Txn(inner) => txn_has_put(inner),
        _ => false,
    })
}

fn put_size(p: &PutRequest) -> usize {
    p.key.len() + p.value.len() + 16
}

fn txn_size(t: &TxnRequest) -> usize {
    let compares: usize = t
        .compare
        .iter()
        .map(|c| {
            c.key.len()
                + c.range_end.len()
                + 16
                + match &c.target {
                    CompareTarget::Value(v) => v.len(),
                    _ => 0,
                }
        })
        .sum();
    let ops: usize = t
        .success
        .iter()
        .chain(&t.failure)
        .map(|op| match op {
            RequestOp::Range(r) => r.key.len() + r.range_end.len() + 16,
            RequestOp::Put(p) => put_size(p),
            RequestOp::DeleteRange(d) => d.key.len() + d.range_end.len() + 8,
            RequestOp::Txn(inner) => txn_size(inner),
        })
        .sum();
    compares + ops + 8
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteResponse {
    Put(PutResponse),
    DeleteRange(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact {
        revision: i64,
    },
    LeaseGrant {
        id: i64,
        ttl_secs: i64,
        revision: i64,
    },
    LeaseRevoke {
        revision: i64,
    },
    Alarm {
        alarms: Vec<Alarm>,
        revision: i64,
    },
    Noop {
        revision: i64,
    },
    /// The entry's index was at or below the applied index: already applied, nothing done.
    AlreadyApplied,
}

/// A lease as `LeaseTimeToLive` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    pub id: i64,
    pub granted_ttl_secs: i64,
    /// Remaining seconds as of the `now` given; `granted_ttl_secs` when no deadline is known.
    pub ttl_secs: i64,
    pub keys: Vec<Vec<u8>>,
}

/// The end of the range that holds exactly the keys starting with `prefix` (etcd's
/// `GetPrefixRangeEnd`): the prefix with its last non-0xff byte incremented; `[0]`
/// (every key) when the prefix is empty or all 0xff.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_requests_are_those_bounded_by_their_own_size() {
        let put = || RequestOp::Put(PutRequest::new("k", "v"));
        assert!(WriteRequest::Put(PutRequest::new("k", "v")).is_point());
        assert!(WriteRequest::DeleteRange(DeleteRangeRequest::key("k")).is_point());
        assert!(!WriteRequest::DeleteRange(DeleteRangeRequest::range("a", "z")).is_point());
        assert!(!WriteRequest::LeaseRevoke { id: 1 }.is_point());
        assert!(!WriteRequest::Compact { revision: 5 }.is_point());
        let txn = |success: Vec<RequestOp>| {
            WriteRequest::Txn(TxnRequest {
                compare: Vec::new(),
                success,
                failure: Vec::new(),
            })
        };
        assert!(txn(vec![put(), RequestOp::Range(RangeRequest::key("k"))]).is_point());
        assert!(!txn(vec![put(), RequestOp::Range(RangeRequest::range("a", "z"))]).is_point());
        assert!(!txn(vec![RequestOp::Txn(TxnRequest {
            compare: Vec::new(),
            success: vec![RequestOp::DeleteRange(DeleteRangeRequest::range("a", "z"))],
            failure: Vec::new()
        })])
        .is_point());
    }
}
