//! The Cluster service: MemberList, MemberAdd, MemberRemove, MemberUpdate, MemberPromote,
//! each passed to the Store, which owns membership.

use crate::convert;
use crate::status::to_status;
use berth_replication::Store;
use etcd_client::proto::{
    PbClusterService, PbMember, PbMemberAddRequest, PbMemberAddResponse, PbMemberListRequest,
    PbMemberListResponse, PbMemberPromoteRequest, PbMemberPromoteResponse, PbMemberRemoveRequest,
    PbMemberRemoveResponse, PbMemberUpdateRequest, PbMemberUpdateResponse, PbResponseHeader,
};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct ClusterService<S> {
    store: Arc<S>,
}

impl<S> ClusterService<S> {
    pub fn new(store: Arc<S>) -> Self {
        ClusterService { store }
    }
}

impl<S: Store> ClusterService<S> {
    async fn members(&self) -> Result<(PbResponseHeader, Vec<PbMember>), Status> {
        let members = self.store.member_list().await.map_err(to_status)?;
        Ok((
            convert::header(self.store.header(), 0),
            members.into_iter().map(convert::member).collect(),
        ))
    }
}

#[tonic::async_trait]
impl<S: Store> PbClusterService for ClusterService<S> {
    async fn member_add(
        &self,
        request: Request<PbMemberAddRequest>,
    ) -> Result<Response<PbMemberAddResponse>, Status> {
        let r = request.into_inner();
        let added = self
            .store
            .member_add(r.peer_ur_ls, r.is_learner)
            .await
            .map_err(to_status)?;
        let (header, members) = self.members().await?;
        Ok(Response::new(PbMemberAddResponse {
            header: Some(header),
            member: Some(convert::member(added)),
            members,
        }))
    }

    async fn member_remove(
        &self,
        request: Request<PbMemberRemoveRequest>,
    ) -> Result<Response<PbMemberRemoveResponse>, Status> {
        self.store
            .member_remove(request.into_inner().id)
            .await
            .map_err(to_status)?;
        let (header, members) = self.members().await?;
        Ok(Response::new(PbMemberRemoveResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_update(
        &self,
        request: Request<PbMemberUpdateRequest>,
    ) -> Result<Response<PbMemberUpdateResponse>, Status> {
        let r = request.into_inner();
        self.store
            .member_update(r.id, r.peer_ur_ls)
            .await
            .map_err(to_status)?;
        let (header, members) = self.members().await?;
        Ok(Response::new(PbMemberUpdateResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_list(
        &self,
        _request: Request<PbMemberListRequest>,
    ) -> Result<Response<PbMemberListResponse>, Status> {
        let (header, members) = self.members().await?;
        Ok(Response::new(PbMemberListResponse {
            header: Some(header),
            members,
        }))
    }

    async fn member_promote(
        &self,
        request: Request<PbMemberPromoteRequest>,
    ) -> Result<Response<PbMemberPromoteResponse>, Status> {
        self.store
            .member_promote(request.into_inner().id)
            .await
            .map_err(to_status)?;
        let (header, members) = self.members().await?;
        Ok(Response::new(PbMemberPromoteResponse {
            header: Some(header),
            members,
        }))
    }
}
