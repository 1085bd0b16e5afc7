//! Conversion between etcd's protobuf messages and the storage engine's types: the only
//! place that knows both. Also etcd's compatibility rewrites at the edge (inverted ranges
//! are empty ranges, as etcd treats them, where the engine refuses them).

use crate::status::{INVALID_SORT_OPTION, KEY_NOT_FOUND};
use berth_replication::{Header, Member};
use etcd_client::proto::{
    PbAlarmMember, PbCompare, PbDeleteRequest, PbDeleteResponse, PbEvent, PbKeyValue, PbMember,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbResponseHeader, PbResponseOp,
    PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest, PbTxnRequestOp, PbTxnResponse,
};
use storage::{
    Alarm, AlarmKind, Compare, CompareResult, CompareTarget, DeleteRangeRequest,
    DeleteRangeResponse, Event, EventKind, KeyValue, PutRequest, PutResponse, RangeRequest,
    RangeResponse, RequestOp, ResponseOp, SortOrder, SortTarget, TxnRequest, TxnResponse,
    WatchRequest,
};
use tonic::Status;

/// etcd's event types (`mvccpb.Event.EventType`).
const EVENT_PUT: i32 = 0;
const EVENT_DELETE: i32 = 1;
/// etcd's watch filters (`WatchCreateRequest.FilterType`).
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;
/// etcd's alarm types (`AlarmType`).
pub const ALARM_NONE: i32 = 0;
pub const ALARM_NOSPACE: i32 = 1;
pub const ALARM_CORRUPT: i32 = 2;

/// A response header: this member and term from `h`, and `revision` (0: `h`'s revision).
pub fn header(h: Header, revision: i64) -> PbResponseHeader {
    PbResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: if revision > 0 { revision } else { h.revision },
        raft_term: h.raft_term,
    }
}

/// etcd treats a range whose end sorts before its key as empty; the engine refuses it. The
/// empty range `[key, key)` behaves like etcd's (nothing matches, revisions are still
/// checked). `""` (one key) and `"\0"` (every key from `key`) are not ranges to fix.
pub fn fix_inverted(key: &[u8], range_end: Vec<u8>) -> Vec<u8> {
    if !range_end.is_empty() && range_end != [0] && range_end.as_slice() < key {
        key.to_vec()
    } else {
        range_end
    }
}

pub fn kv(kv: KeyValue) -> PbKeyValue {
    PbKeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// A watch event; `prev_kv` only when the watcher asked for it.
pub fn event(ev: &Event, with_prev_kv: bool) -> PbEvent {
    PbEvent {
        r#type: match ev.kind {
            EventKind::Put => EVENT_PUT,
            EventKind::Delete => EVENT_DELETE,
        },
        kv: Some(kv(ev.kv.clone())),
        prev_kv: if with_prev_kv {
            ev.prev_kv.clone().map(kv)
        } else {
            None
        },
    }
}

fn sort_order(v: i32) -> Result<SortOrder, Status> {
    Ok(match v {
        0 => SortOrder::None,
        1 => SortOrder::Ascend,
        2 => SortOrder::Descend,
        _ => return Err(Status::invalid_argument(INVALID_SORT_OPTION)),
    })
}

fn sort_target(v: i32) -> Result<SortTarget, Status> {
    Ok(match v {
        0 => SortTarget::Key,
        1 => SortTarget::Version,
        2 => SortTarget::Create,
        3 => SortTarget::Mod,
        4 => SortTarget::Value,
        _ => return Err(Status::invalid_argument(INVALID_SORT_OPTION)),
    })
}

/// The engine's range request (`serializable` is the caller's to read).
pub fn range_request(r: PbRangeRequest) -> Result<RangeRequest, Status> {
    let range_end = fix_inverted(&r.key, r.range_end);
    Ok(RangeRequest {
        key: r.key,
        range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order: sort_order(r.sort_order)?,
        sort_target: sort_target(r.sort_target)?,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    })
}

pub fn range_response(r: RangeResponse, h: Header) -> PbRangeResponse {
    PbRangeResponse {
        header: Some(header(h, r.revision)),
        kvs: r.kvs.into_iter().map(kv).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_request(r: PbPutRequest) -> PutRequest {
    PutRequest {
        key: r.key,
        value: r.value,
        lease: r.lease,
        prev_kv: r.prev_kv,
        ignore_value: r.ignore_value,
        ignore_lease: r.ignore_lease,
    }
}

pub fn put_response(r: PutResponse, h: Header) -> PbPutResponse {
    PbPutResponse {
        header: Some(header(h, r.revision)),
        prev_kv: r.prev_kv.map(kv),
    }
}

pub fn delete_request(r: PbDeleteRequest) -> DeleteRangeRequest {
    let range_end = fix_inverted(&r.key, r.range_end);
    DeleteRangeRequest {
        key: r.key,
        range_end,
        prev_kv: r.prev_kv,
    }
}

pub fn delete_response(r: DeleteRangeResponse, h: Header) -> PbDeleteResponse {
    PbDeleteResponse {
        header: Some(header(h, r.revision)),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(kv).collect(),
    }
}

fn compare(c: PbCompare) -> Result<Compare, Status> {
    let result = match c.result {
        0 => CompareResult::Equal,
        1 => CompareResult::Greater,
        2 => CompareResult::Less,
        3 => CompareResult::NotEqual,
        other => {
            return Err(Status::invalid_argument(format!(
                "etcdserver: unknown compare result {other}"
            )))
        }
    };
    // As etcd: the operand is the union's value when it matches the target, else zero.
    let u = c.target_union;
    let target = match c.target {
        0 => CompareTarget::Version(if let Some(PbTargetUnion::Version(v)) = u {
            v
        } else {
            0
        }),
        1 => CompareTarget::Create(if let Some(PbTargetUnion::CreateRevision(v)) = u {
            v
        } else {
            0
        }),
        2 => CompareTarget::Mod(if let Some(PbTargetUnion::ModRevision(v)) = u {
            v
        } else {
            0
        }),
        3 => CompareTarget::Value(if let Some(PbTargetUnion::Value(v)) = u {
            v
        } else {
            Vec::new()
        }),
        4 => CompareTarget::Lease(if let Some(PbTargetUnion::Lease(v)) = u {
            v
        } else {
            0
        }),
        other => {
            return Err(Status::invalid_argument(format!(
                "etcdserver: unknown compare target {other}"
            )))
        }
    };
    let range_end = fix_inverted(&c.key, c.range_end);
    Ok(Compare {
        key: c.key,
        range_end,
        target,
        result,
    })
}

fn request_op(op: PbTxnRequestOp) -> Result<RequestOp, Status> {
    Ok(match op.request {
        Some(PbTxnOpRequest::RequestRange(r)) => RequestOp::Range(range_request(r)?),
        Some(PbTxnOpRequest::RequestPut(p)) => RequestOp::Put(put_request(p)),
        Some(PbTxnOpRequest::RequestDeleteRange(d)) => RequestOp::DeleteRange(delete_request(d)),
        Some(PbTxnOpRequest::RequestTxn(t)) => RequestOp::Txn(txn_request(t)?),
        // etcd's answer to an empty op.
        None => return Err(Status::invalid_argument(KEY_NOT_FOUND)),
    })
}

/// The engine's txn. Nesting is bounded by the protobuf decoder's recursion limit, and
/// then by the engine's depth limit.
pub fn txn_request(t: PbTxnRequest) -> Result<TxnRequest, Status> {
    Ok(TxnRequest {
        compare: t
            .compare
            .into_iter()
            .map(compare)
            .collect::<Result<_, _>>()?,
        success: t
            .success
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
        failure: t
            .failure
            .into_iter()
            .map(request_op)
            .collect::<Result<_, _>>()?,
    })
}

pub fn txn_response(t: TxnResponse, h: Header) -> PbTxnResponse {
    let responses = t
        .responses
        .into_iter()
        .map(|op| PbResponseOp {
            response: Some(match op {
                ResponseOp::Range(r) => PbTxnOpResponse::ResponseRange(range_response(r, h)),
                ResponseOp::Put(p) => PbTxnOpResponse::ResponsePut(put_response(p, h)),
                ResponseOp::DeleteRange(d) => {
                    PbTxnOpResponse::ResponseDeleteRange(delete_response(d, h))
                }
                ResponseOp::Txn(t) => PbTxnOpResponse::ResponseTxn(txn_response(t, h)),
            }),
        })
        .collect();
    PbTxnResponse {
        header: Some(header(h, t.revision)),
        succeeded: t.succeeded,
        responses,
    }
}

/// Why a watch cannot be created (sent as the cancel reason).
pub const WATCH_RANGE_EMPTY: &str = "mvcc: watcher range is empty";

/// The engine's watch request from a `WatchCreateRequest`'s fields, with etcd's rules: an
/// empty key is `"\0"` (the smallest key); a range that holds no key is refused.
pub fn watch_request(
    key: Vec<u8>,
    range_end: Vec<u8>,
    start_revision: i64,
    filters: &[i32],
    prev_kv: bool,
    progress_notify: bool,
) -> Result<WatchRequest, &'static str> {
    let key = if key.is_empty() { vec![0] } else { key };
    if !range_end.is_empty() && range_end != [0] && key >= range_end {
        return Err(WATCH_RANGE_EMPTY);
    }
    Ok(WatchRequest {
        key,
        range_end,
        start_revision,
        prev_kv,
        no_put: filters.contains(&FILTER_NOPUT),
        no_delete: filters.contains(&FILTER_NODELETE),
        progress_notify,
    })
}

pub fn alarm_kind(v: i32) -> Option<AlarmKind> {
    match v {
        ALARM_NOSPACE => Some(AlarmKind::NoSpace),
        ALARM_CORRUPT => Some(AlarmKind::Corrupt),
        _ => None,
    }
}

pub fn alarm(a: Alarm) -> PbAlarmMember {
    PbAlarmMember {
        member_id: a.member_id,
        alarm: match a.kind {
            AlarmKind::NoSpace => ALARM_NOSPACE,
            AlarmKind::Corrupt => ALARM_CORRUPT,
        },
    }
}

pub fn member(m: Member) -> PbMember {
    PbMember {
        id: m.id,
        name: m.name,
        peer_ur_ls: m.peer_urls,
        client_ur_ls: m.client_urls,
        is_learner: m.is_learner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_ranges_become_empty_ranges() {
        let check = |key: &[u8], end: &[u8], want: &[u8]| {
            assert_eq!(fix_inverted(key, end.to_vec()), want, "{key:?}..{end:?}")
        };
        check(b"b", b"a", b"b");
        check(b"b", b"", b"");
        check(b"b", b"\0", b"\0");
        check(b"a", b"b", b"b");
        check(b"a", b"a", b"a");
    }

    #[test]
    fn watch_ranges_follow_etcd() {
        let w = |k: &[u8], e: &[u8]| {
            watch_request(k.to_vec(), e.to_vec(), 0, &[], false, false)
                .map(|r| (r.key, r.range_end))
        };
        assert_eq!(w(b"", b"\0"), Ok((vec![0], vec![0])));
        assert_eq!(w(b"a", b""), Ok((b"a".to_vec(), vec![])));
        assert_eq!(w(b"b", b"a"), Err(WATCH_RANGE_EMPTY));
        assert_eq!(w(b"a", b"a"), Err(WATCH_RANGE_EMPTY));
        let r = watch_request(b"a".to_vec(), vec![], 5, &[FILTER_NOPUT, 7], true, true).unwrap();
        assert!(
            r.no_put && !r.no_delete && r.prev_kv && r.progress_notify && r.start_revision == 5
        );
    }

    #[test]
    fn compare_operand_follows_target() {
        let c = PbCompare {
            result: 0,
            target: 3,
            key: b"k".to_vec(),
            range_end: vec![],
            target_union: Some(PbTargetUnion::Version(4)),
        };
        assert_eq!(compare(c).unwrap().target, CompareTarget::Value(vec![]));
        let c = PbCompare {
            result: 3,
            target: 0,
            key: b"k".to_vec(),
            range_end: vec![],
            target_union: Some(PbTargetUnion::Version(4)),
        };
        let c = compare(c).unwrap();
        assert_eq!(
            (c.target, c.result),
            (CompareTarget::Version(4), CompareResult::NotEqual)
        );
        let bad = PbCompare {
            result: 9,
            target: 0,
            key: b"k".to_vec(),
            range_end: vec![],
            target_union: None,
        };
        assert!(compare(bad).is_err());
    }

    #[test]
    fn empty_txn_op_is_key_not_found() {
        let t = PbTxnRequest {
            compare: vec![],
            success: vec![PbTxnRequestOp { request: None }],
            failure: vec![],
        };
        assert_eq!(txn_request(t).unwrap_err().message(), KEY_NOT_FOUND);
    }
}
