//! The in-process transport: the scheduler and controllers reach this replica's API server
//! by calling its handler directly, under their own identity, through the same routing,
//! limits, validation and admission as a network client.

use berth_apiserver::auth::UserInfo;
use berth_apiserver::ApiServer;
use berth_client::{ClientError, Request, Response, Transport};
use berth_replication::Store;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use http_body_util::BodyExt;
use std::sync::Arc;

pub struct LocalTransport<S: Store> {
    server: Arc<ApiServer<S>>,
    user: UserInfo,
}

impl<S: Store> LocalTransport<S> {
    pub fn new(server: Arc<ApiServer<S>>, user: UserInfo) -> Arc<LocalTransport<S>> {
        Arc::new(LocalTransport { server, user })
    }

    fn http_request(req: Request) -> Result<http::Request<Bytes>, ClientError> {
        let mut b = http::Request::builder().method(req.method).uri(&req.path);
        if let Some(h) = b.headers_mut() {
            *h = req.headers;
        }
        b.body(req.body)
            .map_err(|e| ClientError::Transport(format!("bad request {}: {e}", req.path)))
    }
}

impl<S: Store> Transport for LocalTransport<S> {
    fn call(&self, req: Request) -> BoxFuture<'static, Result<Response, ClientError>> {
        let server = self.server.clone();
        let user = self.user.clone();
        Box::pin(async move {
            let resp = server.handle_local(Self::http_request(req)?, user).await;
            let status = resp.status().as_u16();
            let body = match resp.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(never) => match never {},
            };
            Ok(Response { status, body })
        })
    }

    fn stream(
        &self,
        req: Request,
    ) -> BoxFuture<'static, Result<BoxStream<'static, Result<Bytes, ClientError>>, ClientError>>
    {
        let server = self.server.clone();
        let user = self.user.clone();
        Box::pin(async move {
            let resp = server.handle_local(Self::http_request(req)?, user).await;
            let status = resp.status().as_u16();
            if status != 200 {
                let body = match resp.into_body().collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(never) => match never {},
                };
                return Err(ClientError::from_status(status, &body));
            }
            let chunks = resp
                .into_body()
                .into_data_stream()
                .map(|r| r.map_err(|never| match never {}));
            Ok(chunks.boxed())
        })
    }
}
