//! The KV service: Range (and RangeStream), Put, DeleteRange, Txn, Compact.
//!
//! A Txn whose operations are all ranges takes the read path (no log entry), like etcd's
//! read-only txns: serializable when every range asks for it, else linearizable.
//!
//! Difference from etcd: `Compact { physical: true }` does not wait for physical
//! compaction (reads below the compact revision fail at once either way).

use crate::call::{unexpected, write};
use crate::convert;
use crate::status::to_status;
use berth_replication::{ReadConsistency, Store};
use etcd_client::proto::{
    PbCompactionRequest, PbCompactionResponse, PbDeleteRequest, PbDeleteResponse, PbKvService,
    PbPutRequest, PbPutResponse, PbRangeRequest, PbRangeResponse, PbRangeStreamResponse,
    PbTxnRequest, PbTxnResponse,
};
use std::sync::Arc;
use storage::{WriteRequest, WriteResponse};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Bytes of key-values per RangeStream message (besides the last).
const RANGE_STREAM_CHUNK_BYTES: usize = 1 << 20;

pub struct KvService<S> {
    store: Arc<S>,
}

impl<S> KvService<S> {
    pub fn new(store: Arc<S>) -> Self {
        KvService { store }
    }
}

impl<S: Store> KvService<S> {
    async fn do_range(&self, r: PbRangeRequest) -> Result<PbRangeResponse, Status> {
        let consistency = if r.serializable || cfg!(feature = "chaos-bug-stale-reads") {
            ReadConsistency::Serializable
        } else {
            ReadConsistency::Linearizable
        };
        let req = convert::range_request(r)?;
        let resp = self
            .store
            .range(req, consistency)
            .await
            .map_err(to_status)?;
        Ok(convert::range_response(resp, self.store.header()))
    }
}

#[tonic::async_trait]
impl<S: Store> PbKvService for KvService<S> {
    async fn range(
        &self,
        request: Request<PbRangeRequest>,
    ) -> Result<Response<PbRangeResponse>, Status> {
        Ok(Response::new(self.do_range(request.into_inner()).await?))
    }

    type RangeStreamStream = ReceiverStream<Result<PbRangeStreamResponse, Status>>;

    /// The range of `Range`, cut into messages of about 1 MiB of key-values; the header,
    /// `more` and `count` come with the last one.
    async fn range_stream(
        &self,
        request: Request<PbRangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        let mut full = self.do_range(request.into_inner()).await?;
        let kvs = std::mem::take(&mut full.kvs);
        let mut chunks: Vec<PbRangeStreamResponse> = Vec::new();
        let mut current = Vec::new();
        let mut current_bytes = 0;
        for kv in kvs {
            current_bytes += kv.key.len() + kv.value.len() + 32;
            current.push(kv);
            if current_bytes >= RANGE_STREAM_CHUNK_BYTES {
                chunks.push(PbRangeStreamResponse {
                    range_response: Some(PbRangeResponse {
                        kvs: std::mem::take(&mut current),
                        ..Default::default()
                    }),
                });
                current_bytes = 0;
            }
        }
        full.kvs = current;
        chunks.push(PbRangeStreamResponse {
            range_response: Some(full),
        });
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for chunk in chunks {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn put(&self, request: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        let req = convert::put_request(request.into_inner());
        match write(&self.store, WriteRequest::Put(req)).await? {
            WriteResponse::Put(p) => {
                Ok(Response::new(convert::put_response(p, self.store.header())))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        request: Request<PbDeleteRequest>,
    ) -> Result<Response<PbDeleteResponse>, Status> {
        let req = convert::delete_request(request.into_inner());
        match write(&self.store, WriteRequest::DeleteRange(req)).await? {
            WriteResponse::DeleteRange(d) => Ok(Response::new(convert::delete_response(
                d,
                self.store.header(),
            ))),
            other => Err(unexpected(other)),
        }
    }

    async fn txn(&self, request: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        let pb = request.into_inner();
        // etcd's isTxnSerializable: every op is a range that asks for it (an empty txn too).
        let serializable = pb.success.iter().chain(&pb.failure).all(|op| matches!(&op.request, Some(etcd_client::proto::PbTxnOpRequest::RequestRange(r)) if r.serializable));
        let req = convert::txn_request(pb)?;
        if req.is_read_only() {
            let consistency = if serializable {
                ReadConsistency::Serializable
            } else {
                ReadConsistency::Linearizable
            };
            let resp = self
                .store
                .read_txn(req, consistency)
                .await
                .map_err(to_status)?;
            return Ok(Response::new(convert::txn_response(
                resp,
                self.store.header(),
            )));
        }
        match write(&self.store, WriteRequest::Txn(req)).await? {
            WriteResponse::Txn(t) => {
                Ok(Response::new(convert::txn_response(t, self.store.header())))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn compact(
        &self,
        request: Request<PbCompactionRequest>,
    ) -> Result<Response<PbCompactionResponse>, Status> {
        let revision = request.into_inner().revision;
        match write(&self.store, WriteRequest::Compact { revision }).await? {
            WriteResponse::Compact { revision } => Ok(Response::new(PbCompactionResponse {
                header: Some(convert::header(self.store.header(), revision)),
            })),
            other => Err(unexpected(other)),
        }
    }
}
