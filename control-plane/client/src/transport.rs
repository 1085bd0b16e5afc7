//! How requests reach an API server: a `Transport` turns a `Request` into a `Response`, or
//! into a stream of body chunks for watches. The control plane's in-process transport calls
//! the API server's handler directly (same authentication, validation, admission and
//! authorization as any client, no socket, no TLS).

use crate::error::ClientError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http::{HeaderMap, Method};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, e.g. `/api/v1/namespaces/default/pods?limit=500`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

pub trait Transport: Send + Sync + 'static {
    /// One request, whole answer.
    fn call(&self, req: Request) -> BoxFuture<'static, Result<Response, ClientError>>;
    /// A watch: the answer's status (a failure answers with its whole body) and, on 200, the
    /// body as it arrives, in chunks that need not align with the event lines.
    fn stream(
        &self,
        req: Request,
    ) -> BoxFuture<'static, Result<BoxStream<'static, Result<Bytes, ClientError>>, ClientError>>;
}
