//! Running store calls from RPC handlers: writes run in their own task, so a proposal whose
//! client went away (tonic drops the handler's future) still finishes instead of being
//! abandoned half way.

use crate::status::to_status;
use berth_replication::Store;
use std::sync::Arc;
use storage::{WriteRequest, WriteResponse};
use tonic::Status;

/// Proposes `req` and waits for its outcome.
pub(crate) async fn write<S: Store>(
    store: &Arc<S>,
    req: WriteRequest,
) -> Result<WriteResponse, Status> {
    let store = store.clone();
    match tokio::spawn(async move { store.write(req).await }).await {
        Ok(result) => result.map_err(to_status),
        Err(e) => {
            tracing::error!(error = %e, "write task failed");
            Err(Status::internal("etcdserver: write task failed"))
        }
    }
}

/// The store answered a write with a response of another kind: a bug, not the client's.
pub(crate) fn unexpected(resp: WriteResponse) -> Status {
    tracing::error!(response = ?resp, "unexpected write response");
    Status::internal("etcdserver: unexpected response from the store")
}
