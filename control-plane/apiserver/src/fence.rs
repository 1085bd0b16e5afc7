//! Lease fencing on the store side. Every Lease (`coordination.k8s.io/v1`) has a fence
//! record beside it, `/berth/lease-fences/<namespace>/<name>`, holding its holderIdentity
//! and leaseTransitions; the registry writes it in the same transaction as any Lease write
//! that changes either (and deletes it with the Lease), so it always matches the Lease.
//! Renewals leave it alone. A request with an `X-Berth-Lease-Fence` header (a leader-elected
//! component's write) gets a compare on that record's value in its own transaction: once
//! another holder has taken the Lease, the write fails with 409 (cause `LeaseNotHeld`) and
//! nothing is written.

use crate::resources::Resource;
use crate::status::{ApiError, Cause, Subject};
use serde_json::Value;
use storage::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    ResponseOp, TxnRequest,
};

/// The request header carrying a fence (JSON: namespace, name, holderIdentity,
/// leaseTransitions).
pub const HEADER: &str = "x-berth-lease-fence";
/// `details.causes[].reason` of a refused fenced write.
pub const CAUSE: &str = "LeaseNotHeld";
const PREFIX: &str = "/berth/lease-fences/";

/// A write's condition: Lease `namespace/name` is held by `holder` at `transitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseFence {
    pub namespace: String,
    pub name: String,
    pub holder: String,
    pub transitions: i64,
}

fn record_key(ns: &str, name: &str) -> Vec<u8> {
    format!("{PREFIX}{ns}/{name}").into_bytes()
}

/// The record's value: what a fence compares against.
fn record_value(holder: &str, transitions: i64) -> Vec<u8> {
    format!("{transitions}\n{holder}").into_bytes()
}

fn is_lease(r: &Resource) -> bool {
    r.group == "coordination.k8s.io" && r.plural == "leases"
}

fn lease_record(lease: &Value) -> Vec<u8> {
    record_value(
        lease["spec"]["holderIdentity"].as_str().unwrap_or(""),
        lease["spec"]["leaseTransitions"].as_i64().unwrap_or(0),
    )
}

impl LeaseFence {
    /// Parses the header; a malformed fence is a 400, never "no fence".
    pub fn parse(header: &[u8]) -> Result<LeaseFence, ApiError> {
        let bad = |why: &str| {
            ApiError::BadRequest(format!(
                "invalid {HEADER} header: {why}; want {{\"namespace\":..,\"name\":..,\"holderIdentity\":..,\"leaseTransitions\":..}}"
            ))
        };
        let v: Value = serde_json::from_slice(header).map_err(|_| bad("not JSON"))?;
        let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        Ok(LeaseFence {
            namespace: s("namespace").ok_or_else(|| bad("no namespace"))?,
            name: s("name").ok_or_else(|| bad("no name"))?,
            holder: s("holderIdentity").ok_or_else(|| bad("no holderIdentity"))?,
            transitions: v["leaseTransitions"]
                .as_i64()
                .ok_or_else(|| bad("no leaseTransitions"))?,
        })
    }

    /// Conditions `txn` on the fence and asks, on failure, for the record (appended last
    /// to `failure`, so `refused` can tell a fence failure from the write's own conflict).
    pub fn guard(&self, txn: &mut TxnRequest) {
        let key = record_key(&self.namespace, &self.name);
        txn.compare.push(Compare {
            key: key.clone(),
            range_end: vec![],
            target: CompareTarget::Value(record_value(&self.holder, self.transitions)),
            result: CompareResult::Equal,
        });
        txn.failure.push(RequestOp::Range(RangeRequest::key(key)));
    }

    /// After a failed guarded transaction: the error to answer with when the fence was what
    /// failed.
    pub fn refused(&self, failure: &[ResponseOp]) -> Option<ApiError> {
        let Some(ResponseOp::Range(rr)) = failure.last() else {
            return None;
        };
        let want = record_value(&self.holder, self.transitions);
        if rr.kvs.first().is_some_and(|kv| kv.value == want) {
            return None;
        }
        let message = format!(
            "Operation cannot be fulfilled: the lease {}/{} is no longer held by {} (leaseTransitions {}); the write was fenced",
            self.namespace, self.name, self.holder, self.transitions
        );
        Some(ApiError::Conflict {
            message: message.clone(),
            subject: Subject {
                group: "coordination.k8s.io".into(),
                kind: "leases".into(),
                name: self.name.clone(),
            },
            causes: vec![Cause {
                reason: CAUSE,
                field: "metadata.annotations".into(),
                message,
            }],
        })
    }
}

/// Keeps the fence record of a Lease in step with a write of the Lease: `old` and `new` are
/// the object before and after (`None`: did not exist / is deleted).
pub fn maintain(r: &Resource, old: Option<&Value>, new: Option<&Value>, txn: &mut TxnRequest) {
    if !is_lease(r) {
        return;
    }
    let Some(any) = new.or(old) else { return };
    let key = record_key(crate::meta::namespace(any), crate::meta::name(any));
    match new {
        None => txn
            .success
            .push(RequestOp::DeleteRange(DeleteRangeRequest::key(key))),
        Some(n) => {
            if old.map(lease_record) != Some(lease_record(n)) {
                txn.success
                    .push(RequestOp::Put(PutRequest::new(key, lease_record(n))));
            }
        }
    }
}
