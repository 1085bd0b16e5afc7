//! Errors at the edge: every [`StoreError`] as the gRPC code and message etcd 3.4 sends for
//! it (its `rpctypes` table), so that etcd clients map them back to their typed errors.

use berth_replication::StoreError;
use storage::Error as E;
use tonic::{Code, Status};

// etcd's messages, as clients match them (etcd `api/v3rpc/rpctypes/error.go`).
pub const EMPTY_KEY: &str = "etcdserver: key is not provided";
pub const KEY_NOT_FOUND: &str = "etcdserver: key not found";
pub const VALUE_PROVIDED: &str = "etcdserver: value is provided";
pub const LEASE_PROVIDED: &str = "etcdserver: lease is provided";
pub const TOO_MANY_OPS: &str = "etcdserver: too many operations in txn request";
pub const DUPLICATE_KEY: &str = "etcdserver: duplicate key given in txn request";
pub const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";
pub const FUTURE_REV: &str = "etcdserver: mvcc: required revision is a future revision";
pub const NO_SPACE: &str = "etcdserver: mvcc: database space exceeded";
pub const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";
pub const LEASE_EXISTS: &str = "etcdserver: lease already exists";
pub const LEASE_TTL_TOO_LARGE: &str = "etcdserver: too large lease TTL";
pub const MEMBER_NOT_FOUND: &str = "etcdserver: member not found";
pub const PEER_URL_EXISTS: &str = "etcdserver: Peer URLs already exists";
pub const MEMBER_NOT_LEARNER: &str = "etcdserver: can only promote a learner member";
pub const LEARNER_NOT_READY: &str =
    "etcdserver: can only promote a learner member which is in sync with leader";
pub const REQUEST_TOO_LARGE: &str = "etcdserver: request is too large";
pub const NO_LEADER: &str = "etcdserver: no leader";
pub const LEADER_CHANGED: &str = "etcdserver: leader changed";
pub const STOPPED: &str = "etcdserver: server stopped";
pub const TIMEOUT: &str = "etcdserver: request timed out";
pub const CORRUPT: &str = "etcdserver: corrupt cluster";
pub const INVALID_SORT_OPTION: &str = "etcdserver: invalid sort option";
/// Berth's own (etcd has no depth limit of its own; its message limit bounds nesting).
pub const TXN_TOO_DEEP: &str = "etcdserver: txn request nested too deep";
/// Berth's own: an inverted range that reached the engine (the edge rewrites them first).
pub const INVALID_RANGE: &str = "etcdserver: invalid range";

/// The status an etcd client expects for a store error.
pub fn to_status(e: StoreError) -> Status {
    match e {
        StoreError::Storage(e) => storage_status(e),
        StoreError::NoLeader => Status::unavailable(NO_LEADER),
        StoreError::LeaderChanged => Status::unavailable(LEADER_CHANGED),
        StoreError::Timeout => Status::unavailable(TIMEOUT),
        StoreError::MemberNotFound => Status::not_found(MEMBER_NOT_FOUND),
        StoreError::PeerUrlExists => Status::failed_precondition(PEER_URL_EXISTS),
        StoreError::MemberNotLearner => Status::failed_precondition(MEMBER_NOT_LEARNER),
        StoreError::LearnerNotReady => Status::failed_precondition(LEARNER_NOT_READY),
        StoreError::Unsupported(what) => Status::failed_precondition(format!("etcdserver: {what}")),
        StoreError::Stopped => Status::unavailable(STOPPED),
        StoreError::Internal(what) => {
            tracing::error!(error = %what, "internal store error");
            Status::internal(format!("etcdserver: {what}"))
        }
    }
}

fn storage_status(e: E) -> Status {
    match e {
        E::Compacted { .. } => Status::out_of_range(COMPACTED),
        E::FutureRevision { .. } => Status::out_of_range(FUTURE_REV),
        E::KeyNotFound => Status::invalid_argument(KEY_NOT_FOUND),
        E::LeaseNotFound => Status::not_found(LEASE_NOT_FOUND),
        E::LeaseExists => Status::failed_precondition(LEASE_EXISTS),
        E::LeaseTtlTooLarge => Status::out_of_range(LEASE_TTL_TOO_LARGE),
        E::NoSpace => Status::resource_exhausted(NO_SPACE),
        E::TooManyOps { .. } => Status::invalid_argument(TOO_MANY_OPS),
        E::RequestTooLarge { .. } => Status::invalid_argument(REQUEST_TOO_LARGE),
        E::DuplicateKey => Status::invalid_argument(DUPLICATE_KEY),
        E::InvalidRange => Status::invalid_argument(INVALID_RANGE),
        E::EmptyKey => Status::invalid_argument(EMPTY_KEY),
        E::ValueProvided => Status::invalid_argument(VALUE_PROVIDED),
        E::LeaseProvided => Status::invalid_argument(LEASE_PROVIDED),
        E::TxnTooDeep { .. } => Status::invalid_argument(TXN_TOO_DEEP),
        E::Stopped => Status::unavailable(STOPPED),
        E::Corrupted(what) => {
            tracing::error!(error = %what, "storage corrupted");
            Status::new(Code::DataLoss, CORRUPT)
        }
        E::Rocks(what) => {
            tracing::error!(error = %what, "storage backend error");
            Status::internal(format!("etcdserver: storage backend error: {what}"))
        }
        // The engine retries these itself; one reaching a client is a bug.
        E::GroupConflict => Status::internal(format!("etcdserver: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::Revision;

    fn check(e: StoreError, code: Code, message: &str) {
        let s = to_status(e.clone());
        assert_eq!((s.code(), s.message()), (code, message), "for {e:?}");
    }

    #[test]
    fn codes_and_messages_match_etcd() {
        let s = StoreError::Storage;
        check(
            s(E::Compacted {
                compact_revision: Revision(3),
            }),
            Code::OutOfRange,
            COMPACTED,
        );
        check(
            s(E::FutureRevision {
                current_revision: Revision(3),
            }),
            Code::OutOfRange,
            FUTURE_REV,
        );
        check(
            s(E::KeyNotFound),
            Code::InvalidArgument,
            "etcdserver: key not found",
        );
        check(
            s(E::LeaseNotFound),
            Code::NotFound,
            "etcdserver: requested lease not found",
        );
        check(
            s(E::LeaseExists),
            Code::FailedPrecondition,
            "etcdserver: lease already exists",
        );
        check(
            s(E::LeaseTtlTooLarge),
            Code::OutOfRange,
            "etcdserver: too large lease TTL",
        );
        check(
            s(E::NoSpace),
            Code::ResourceExhausted,
            "etcdserver: mvcc: database space exceeded",
        );
        check(
            s(E::TooManyOps { limit: 128 }),
            Code::InvalidArgument,
            "etcdserver: too many operations in txn request",
        );
        check(
            s(E::RequestTooLarge {
                size_bytes: 2,
                limit_bytes: 1,
            }),
            Code::InvalidArgument,
            "etcdserver: request is too large",
        );
        check(
            s(E::DuplicateKey),
            Code::InvalidArgument,
            "etcdserver: duplicate key given in txn request",
        );
        check(
            s(E::EmptyKey),
            Code::InvalidArgument,
            "etcdserver: key is not provided",
        );
        check(
            s(E::ValueProvided),
            Code::InvalidArgument,
            "etcdserver: value is provided",
        );
        check(
            s(E::LeaseProvided),
            Code::InvalidArgument,
            "etcdserver: lease is provided",
        );
        check(
            s(E::Corrupted("x".into())),
            Code::DataLoss,
            "etcdserver: corrupt cluster",
        );
        check(
            StoreError::NoLeader,
            Code::Unavailable,
            "etcdserver: no leader",
        );
        check(
            StoreError::LeaderChanged,
            Code::Unavailable,
            "etcdserver: leader changed",
        );
        check(
            StoreError::Timeout,
            Code::Unavailable,
            "etcdserver: request timed out",
        );
        check(
            StoreError::Stopped,
            Code::Unavailable,
            "etcdserver: server stopped",
        );
        check(
            StoreError::MemberNotFound,
            Code::NotFound,
            "etcdserver: member not found",
        );
        check(
            StoreError::PeerUrlExists,
            Code::FailedPrecondition,
            "etcdserver: Peer URLs already exists",
        );
        check(
            StoreError::MemberNotLearner,
            Code::FailedPrecondition,
            "etcdserver: can only promote a learner member",
        );
    }
}
