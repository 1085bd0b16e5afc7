//! The openraft type configuration and the values replicas exchange: proposals, apply
//! results, member nodes, forwarded requests, and their bincode encoding.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;
use storage::{LeaseInfo, WriteRequest, WriteResponse};

use crate::store::{Member, StoreError};

/// A write request as a Raft entry carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal(pub WriteRequest);

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            WriteRequest::Put(_) => "put",
            WriteRequest::DeleteRange(_) => "delete-range",
            WriteRequest::Txn(_) => "txn",
            WriteRequest::Compact { .. } => "compact",
            WriteRequest::LeaseGrant { .. } => "lease-grant",
            WriteRequest::LeaseRevoke { .. } => "lease-revoke",
            WriteRequest::AlarmActivate(_) => "alarm-activate",
            WriteRequest::AlarmDeactivate(_) => "alarm-deactivate",
            WriteRequest::Noop => "noop",
        };
        f.write_str(kind)
    }
}

/// What applying an entry produced (an expected error is a result too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult(pub Result<WriteResponse, storage::Error>);

/// A member as Raft's membership records it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PeerNode {
    /// Empty until the member has started (etcd shows unstarted members without a name).
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Proposal,
        R = ApplyResult,
        NodeId = u64,
        Node = PeerNode,
);

pub type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachine>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;

/// Requests a follower forwards to the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardRequest {
    Write(WriteRequest),
    /// ReadIndex: the leader confirms its leadership and answers the index to wait for.
    ReadIndex,
    LeaseKeepAlive(i64),
    LeaseTimeToLive {
        id: i64,
        keys: bool,
    },
    MemberAdd {
        peer_urls: Vec<String>,
        is_learner: bool,
    },
    MemberRemove(u64),
    MemberUpdate {
        id: u64,
        peer_urls: Vec<String>,
    },
    MemberPromote(u64),
    /// A starting member asks for the member list to find its own id...
    MemberList,
    /// ... and for the cluster id.
    ClusterId,
    /// A started member records its name and client URLs in the membership.
    Publish {
        id: u64,
        node: PeerNode,
    },
    MoveLeader(u64),
}

impl ForwardRequest {
    /// Whether doing it twice is the same as doing it once, so that a request whose fate
    /// is unknown (the connection broke after it was sent) may be sent again.
    pub fn is_idempotent(&self) -> bool {
        !matches!(
            self,
            ForwardRequest::Write(_) | ForwardRequest::MemberAdd { .. }
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardResponse {
    Write(WriteResponse),
    ReadIndex(u64),
    LeaseTtl(i64),
    LeaseInfo(LeaseInfo),
    Member(Member),
    Members(Vec<Member>),
    ClusterId(u64),
    Done,
}

pub type ForwardResult = Result<ForwardResponse, StoreError>;

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(value, bincode_config())
        .map_err(|e| StoreError::Internal(format!("failed to encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let (value, _) = bincode::serde::decode_from_slice(bytes, bincode_config())
        .map_err(|e| StoreError::Internal(format!("failed to decode: {e}")))?;
    Ok(value)
}

pub fn io_err(e: impl fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// etcd-style member id: a stable hash of the member's name and peer URLs.
pub fn member_id(name: &str, peer_urls: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name
        .bytes()
        .chain([0u8])
        .chain(peer_urls.iter().flat_map(|u| u.bytes().chain([0u8])))
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

pub fn to_member(id: u64, node: &PeerNode, is_learner: bool) -> Member {
    Member {
        id,
        name: node.name.clone(),
        peer_urls: node.peer_urls.clone(),
        client_urls: node.client_urls.clone(),
        is_learner,
    }
}
