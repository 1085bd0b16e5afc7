//! The Lease service: Grant, Revoke, the KeepAlive stream, TimeToLive (with keys), Leases.
//!
//! As etcd: a keep-alive of an unknown lease answers TTL 0, TimeToLive of one answers TTL -1.
//! Bounded: each keep-alive stream is paced to `keepalives_per_sec` (a token bucket with a
//! burst of as many), handled one request at a time, with a small response buffer.

use crate::call::{unexpected, write};
use crate::convert;
use crate::server::ApiConfig;
use crate::status::to_status;
use berth_replication::{Store, StoreError};
use etcd_client::proto::{
    PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse,
    PbLeaseLeasesRequest, PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse,
    PbLeaseService, PbLeaseStatus, PbLeaseTimeToLiveRequest, PbLeaseTimeToLiveResponse,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{WriteRequest, WriteResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

pub struct LeaseService<S> {
    store: Arc<S>,
    config: Arc<ApiConfig>,
}

impl<S> LeaseService<S> {
    pub fn new(store: Arc<S>, config: Arc<ApiConfig>) -> Self {
        LeaseService { store, config }
    }
}

/// Paces a stream to `rate` requests a second with a burst of `rate`.
struct Pacer {
    rate_per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    fn new(rate_per_sec: u32) -> Pacer {
        let rate_per_sec = f64::from(rate_per_sec.max(1));
        Pacer {
            rate_per_sec,
            tokens: rate_per_sec,
            last: Instant::now(),
        }
    }

    /// How long to wait before the next request may go (and takes its token).
    fn delay(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_sec).min(self.rate_per_sec);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate_per_sec)
        }
    }
}

async fn keep_alive_loop<S: Store>(
    store: Arc<S>,
    mut inbound: Streaming<PbLeaseKeepAliveRequest>,
    tx: mpsc::Sender<Result<PbLeaseKeepAliveResponse, Status>>,
    rate_per_sec: u32,
) {
    let mut pacer = Pacer::new(rate_per_sec);
    loop {
        let msg = tokio::select! {
            m = inbound.message() => m,
            _ = tx.closed() => return,
        };
        let req = match msg {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(status) => {
                tracing::debug!(error = %status, "lease keep-alive stream ended");
                return;
            }
        };
        let wait = pacer.delay(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // As etcd: the header is taken before the renewal, so a keep-alive never claims a
        // revision after one at which the lease was revoked.
        let header = convert::header(store.header(), 0);
        let ttl = match store.lease_keep_alive(req.id).await {
            Ok(ttl) => ttl,
            Err(StoreError::Storage(storage::Error::LeaseNotFound)) => 0,
            Err(e) => {
                let _ = tx.send(Err(to_status(e))).await;
                return;
            }
        };
        if tx
            .send(Ok(PbLeaseKeepAliveResponse {
                header: Some(header),
                id: req.id,
                ttl,
            }))
            .await
            .is_err()
        {
            return;
        }
    }
}

#[tonic::async_trait]
impl<S: Store> PbLeaseService for LeaseService<S> {
    async fn lease_grant(
        &self,
        request: Request<PbLeaseGrantRequest>,
    ) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let r = request.into_inner();
        match write(
            &self.store,
            WriteRequest::LeaseGrant {
                id: r.id,
                ttl_secs: r.ttl,
            },
        )
        .await?
        {
            WriteResponse::LeaseGrant {
                id,
                ttl_secs,
                revision,
            } => Ok(Response::new(PbLeaseGrantResponse {
                header: Some(convert::header(self.store.header(), revision)),
                id,
                ttl: ttl_secs,
                error: String::new(),
            })),
            other => Err(unexpected(other)),
        }
    }

    async fn lease_revoke(
        &self,
        request: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        let id = request.into_inner().id;
        match write(&self.store, WriteRequest::LeaseRevoke { id }).await? {
            WriteResponse::LeaseRevoke { revision } => Ok(Response::new(PbLeaseRevokeResponse {
                header: Some(convert::header(self.store.header(), revision)),
            })),
            other => Err(unexpected(other)),
        }
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<PbLeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        request: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(keep_alive_loop(
            self.store.clone(),
            request.into_inner(),
            tx,
            self.config.keepalives_per_sec,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let r = request.into_inner();
        let header = Some(convert::header(self.store.header(), 0));
        match self.store.lease_time_to_live(r.id, r.keys).await {
            Ok(info) => Ok(Response::new(PbLeaseTimeToLiveResponse {
                header,
                id: info.id,
                ttl: info.ttl_secs,
                granted_ttl: info.granted_ttl_secs,
                keys: info.keys,
            })),
            Err(StoreError::Storage(storage::Error::LeaseNotFound)) => {
                Ok(Response::new(PbLeaseTimeToLiveResponse {
                    header,
                    id: r.id,
                    ttl: -1,
                    granted_ttl: 0,
                    keys: Vec::new(),
                }))
            }
            Err(e) => Err(to_status(e)),
        }
    }

    async fn lease_leases(
        &self,
        _request: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        let ids = self.store.lease_list().await.map_err(to_status)?;
        Ok(Response::new(PbLeaseLeasesResponse {
            header: Some(convert::header(self.store.header(), 0)),
            leases: ids.into_iter().map(|id| PbLeaseStatus { id }).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_allows_a_burst_then_spaces_requests() {
        let t0 = Instant::now();
        let mut p = Pacer::new(10);
        for _ in 0..10 {
            assert_eq!(p.delay(t0), Duration::ZERO);
        }
        let d = p.delay(t0);
        assert!(
            d > Duration::from_millis(90) && d <= Duration::from_millis(100),
            "{d:?}"
        );
        // After seconds idle the bucket is full again, but never more than full.
        let t1 = t0 + Duration::from_secs(5);
        for _ in 0..10 {
            assert_eq!(p.delay(t1), Duration::ZERO);
        }
        assert!(p.delay(t1) > Duration::ZERO);
    }
}
