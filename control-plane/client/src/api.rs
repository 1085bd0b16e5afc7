//! Requests by resource: paths built from a `Resource` (API prefix, plural, scope), JSON
//! bodies, typed answers, and the fence header when the client acts for a Lease holder.

use crate::error::ClientError;
use crate::leader::{Fence, FENCE_HEADER};
use crate::transport::{Request, Transport};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// A served resource as a client addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resource {
    /// `/api/v1` or `/apis/<group>/<version>`.
    pub prefix: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Resource {
    pub const PODS: Resource = Resource::core("pods", true);
    pub const NODES: Resource = Resource::core("nodes", false);
    pub const EVENTS: Resource = Resource::core("events", true);
    pub const NAMESPACES: Resource = Resource::core("namespaces", false);
    pub const SERVICES: Resource = Resource::core("services", true);
    pub const ENDPOINTS: Resource = Resource::core("endpoints", true);
    pub const CONFIGMAPS: Resource = Resource::core("configmaps", true);
    pub const SERVICE_ACCOUNTS: Resource = Resource::core("serviceaccounts", true);
    pub const LEASES: Resource = Resource {
        prefix: "/apis/coordination.k8s.io/v1",
        plural: "leases",
        namespaced: true,
    };

    pub const fn core(plural: &'static str, namespaced: bool) -> Resource {
        Resource {
            prefix: "/api/v1",
            plural,
            namespaced,
        }
    }

    /// The collection path (all namespaces when `ns` is empty or the kind is cluster-scoped).
    pub fn collection(&self, ns: &str) -> String {
        if self.namespaced && !ns.is_empty() {
            format!("{}/namespaces/{}/{}", self.prefix, seg(ns), self.plural)
        } else {
            format!("{}/{}", self.prefix, self.plural)
        }
    }

    /// One object's path, with an optional subresource.
    pub fn object(&self, ns: &str, name: &str, sub: Option<&str>) -> String {
        let mut p = format!("{}/{}", self.collection(ns), seg(name));
        if let Some(s) = sub {
            p.push('/');
            p.push_str(s);
        }
        p
    }
}

fn seg(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
}

/// Encodes one query parameter value.
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Strategic,
    Json,
}

impl PatchType {
    fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        }
    }
}

/// A client: a transport plus what every request carries (the fence of a Lease holder).
#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn Transport>,
    fence: Option<HeaderValue>,
}

impl Client {
    pub fn new(transport: Arc<dyn Transport>) -> Client {
        Client {
            transport,
            fence: None,
        }
    }

    /// The same client with every write conditioned on `fence` (the Lease still held).
    pub fn fenced(&self, fence: &Fence) -> Client {
        Client {
            transport: self.transport.clone(),
            fence: Some(fence.header_value()),
        }
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    fn request(&self, method: Method, path: String, content_type: &str, body: Bytes) -> Request {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        if !body.is_empty() {
            if let Ok(v) = HeaderValue::from_str(content_type) {
                headers.insert(http::header::CONTENT_TYPE, v);
            }
        }
        if let Some(f) = &self.fence {
            if method != Method::GET {
                headers.insert(FENCE_HEADER, f.clone());
            }
        }
        Request {
            method,
            path,
            headers,
            body,
        }
    }

    /// Sends a request and decodes the 2xx answer; anything else is an error.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        content_type: &str,
        body: Bytes,
    ) -> Result<T, ClientError> {
        let req = self.request(method, path, content_type, body);
        let resp = self.transport.call(req).await?;
        if !(200..300).contains(&resp.status) {
            return Err(ClientError::from_status(resp.status, &resp.body));
        }
        serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
    ) -> Result<T, ClientError> {
        self.send(Method::GET, r.object(ns, name, None), "", Bytes::new())
            .await
    }

    /// A list (`query` without the leading `?`, e.g. `labelSelector=app%3Dx`).
    pub async fn list(&self, r: &Resource, ns: &str, query: &str) -> Result<Value, ClientError> {
        let mut path = r.collection(ns);
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        self.send(Method::GET, path, "", Bytes::new()).await
    }

    pub async fn create<T: DeserializeOwned>(
        &self,
        r: &Resource,
        ns: &str,
        obj: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.send(
            Method::POST,
            r.collection(ns),
            "application/json",
            to_body(obj)?,
        )
        .await
    }

    /// POST to a subresource (`binding`, `eviction`).
    pub async fn create_sub<T: DeserializeOwned>(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
        sub: &str,
        obj: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.send(
            Method::POST,
            r.object(ns, name, Some(sub)),
            "application/json",
            to_body(obj)?,
        )
        .await
    }

    /// PUT (conditional when the object carries a resourceVersion).
    pub async fn replace<T: DeserializeOwned>(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
        sub: Option<&str>,
        obj: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.send(
            Method::PUT,
            r.object(ns, name, sub),
            "application/json",
            to_body(obj)?,
        )
        .await
    }

    pub async fn patch<T: DeserializeOwned>(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
        sub: Option<&str>,
        kind: PatchType,
        patch: &Value,
    ) -> Result<T, ClientError> {
        self.send(
            Method::PATCH,
            r.object(ns, name, sub),
            kind.content_type(),
            to_body(patch)?,
        )
        .await
    }

    /// DELETE with a DeleteOptions body (preconditions, grace period, propagation).
    pub async fn delete(
        &self,
        r: &Resource,
        ns: &str,
        name: &str,
        options: &Value,
    ) -> Result<Value, ClientError> {
        let body = if options.is_null() {
            Bytes::new()
        } else {
            to_body(options)?
        };
        self.send(
            Method::DELETE,
            r.object(ns, name, None),
            "application/json",
            body,
        )
        .await
    }

    /// Opens a watch; `query` carries resourceVersion, selectors, bookmarks.
    pub async fn watch(
        &self,
        r: &Resource,
        ns: &str,
        query: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, ClientError>>, ClientError> {
        let path = format!("{}?watch=1&{query}", r.collection(ns));
        let req = self.request(Method::GET, path, "", Bytes::new());
        self.transport.stream(req).await
    }
}

fn to_body(v: &impl Serialize) -> Result<Bytes, ClientError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| ClientError::Decode(format!("failed to encode the request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let cases = [
            (Resource::PODS.collection(""), "/api/v1/pods"),
            (
                Resource::PODS.collection("ns-1"),
                "/api/v1/namespaces/ns-1/pods",
            ),
            (Resource::NODES.collection("ignored"), "/api/v1/nodes"),
            (
                Resource::PODS.object("default", "web.1", Some("binding")),
                "/api/v1/namespaces/default/pods/web.1/binding",
            ),
            (
                Resource::LEASES.object("kube-system", "kube-scheduler", None),
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
            ),
            (
                Resource::NODES.object("", "a/b", None),
                "/api/v1/nodes/a%2Fb",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
