//! HTTP handling: routing of every request (health, version, metrics, discovery, OpenAPI,
//! resources), authentication, in-flight limits and timeouts, body decoding (JSON, YAML,
//! protobuf), the verbs over the registry, subresources, tables and watch streams.

use crate::auth::{self, UserInfo};
use crate::cache::{CacheEvent, EventType, WindowError};
use crate::filter::Filter;
use crate::registry::{DeleteOptions, Deleted, ListOptions, WriteOptions};
use crate::request::{self, Accept, Query, ResourceRequest, Verb};
use crate::resources::{self, Resource, Storage, Sub};
use crate::status::{ApiError, ApiResult};
use crate::{discovery, meta, table, ApiServer};
use berth_replication::Store;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type Body = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

pub fn respond(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}

pub fn json_response(code: u16, v: &Value) -> Response<Body> {
    respond(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code(), &e.to_status());
    if let ApiError::TooManyRequests {
        retry_after_secs, ..
    } = e
    {
        r.headers_mut().insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(*retry_after_secs),
        );
    }
    r
}

/// What one request carries besides its path.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub user: Option<UserInfo>,
    /// An in-process component's request: exempt from the max-inflight limits (as
    /// kube-apiserver's priority and fairness keeps system components' requests from being
    /// crowded out by users); each component bounds its own concurrency.
    pub exempt: bool,
}

/// The writer's Lease fence, when the request carries one.
fn fence_of(req: &Req) -> ApiResult<Option<crate::fence::LeaseFence>> {
    req.headers
        .get(crate::fence::HEADER)
        .map(|v| crate::fence::LeaseFence::parse(v.as_bytes()))
        .transpose()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Paths anyone may read without credentials (kube-apiserver's system:public-info-viewer).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// Warnings (`Warning: 299 - "..."`) to attach to a response.
type Warnings = Vec<String>;

fn with_warnings(mut r: Response<Body>, warnings: &Warnings) -> Response<Body> {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(http::header::WARNING, v);
        }
    }
    r
}

impl<S: Store> ApiServer<S> {
    /// Resolves the user: the client certificate (already verified by TLS), else a bearer
    /// token. An Authorization header that does not authenticate is a 401 even when a
    /// certificate was presented, as in Kubernetes.
    async fn authenticate(
        &self,
        cert_user: Option<UserInfo>,
        headers: &HeaderMap,
    ) -> Result<Option<UserInfo>, ApiError> {
        let Some(authz) = header(headers, "authorization") else {
            return Ok(cert_user);
        };
        let Some(token) = authz
            .strip_prefix("Bearer ")
            .or_else(|| authz.strip_prefix("bearer "))
            .map(str::trim)
        else {
            return Err(ApiError::Unauthorized);
        };
        if let Some(u) = self.config.token_users.get(token) {
            return Ok(Some(u.clone()));
        }
        if let Some(u) = self.service_account_token(token).await {
            return Ok(Some(u));
        }
        Err(ApiError::Unauthorized)
    }

    /// A valid ServiceAccount token whose account (and bound pod) still exist.
    async fn service_account_token(&self, token: &str) -> Option<UserInfo> {
        let claims = self.config.token_verifier.as_ref()?.verify(token)?;
        let sar = resources::find("", "v1", "serviceaccounts")?;
        let sa = self
            .registry
            .get(sar, &claims.namespace, &claims.name, Some("0"))
            .await
            .ok()?;
        if !claims.uid.is_empty() && meta::uid(&sa) != claims.uid {
            return None;
        }
        if let Some((pod, uid)) = &claims.pod {
            let pr = resources::find("", "v1", "pods")?;
            let p = self
                .registry
                .get(pr, &claims.namespace, pod, Some("0"))
                .await
                .ok()?;
            if meta::uid(&p) != uid {
                return None;
            }
        }
        Some(auth::service_account_user(&claims))
    }

    /// A request from a component in this process (scheduler, controllers): the same path
    /// as a network request (limits, routing, validation, admission, metrics), with the
    /// caller's identity given instead of authenticated from TLS or a token.
    pub async fn handle_local(
        self: Arc<Self>,
        req: http::Request<Bytes>,
        user: UserInfo,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let req = Req {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: request::Query::parse(parts.uri.query()),
            headers: parts.headers,
            body,
            user: Some(user),
            exempt: true,
        };
        self.handle(req).await
    }

    /// The whole request: authentication, limits, routing, metrics.
    pub async fn handle(self: Arc<Self>, req: Req) -> Response<Body> {
        let started = Instant::now();
        let user = match self.authenticate(req.user.clone(), &req.headers).await {
            Ok(u) => u,
            Err(e) => return error_response(&e),
        };
        if user.is_none() && !is_public(&req.path) {
            return error_response(&ApiError::Unauthorized);
        }
        let req = Req { user, ..req };
        match request::parse(&req.method, &req.path, &req.query) {
            None => self.non_resource(&req).await,
            Some(Err(e)) => error_response(&e),
            Some(Ok(rr)) => {
                let labels = metric_labels(&rr, req.query.dry_run().unwrap_or(false));
                let response = if rr.verb == Verb::Watch {
                    // The long-running gauge counts open streams (see `watch_inner`).
                    self.clone().watch(&rr, &req).await
                } else {
                    self.clone().limited(rr.clone(), req).await
                };
                let code = response.status().as_u16().to_string();
                let l = &labels;
                self.metrics
                    .requests
                    .with_label_values(&[
                        rr.verb.metric(),
                        l.dry_run,
                        rr.resource.group,
                        rr.resource.version,
                        rr.resource.plural,
                        &rr.sub_name,
                        l.scope,
                        "apiserver",
                        &code,
                    ])
                    .inc();
                if rr.verb != Verb::Watch {
                    self.metrics
                        .duration
                        .with_label_values(&[
                            rr.verb.metric(),
                            l.dry_run,
                            rr.resource.group,
                            rr.resource.version,
                            rr.resource.plural,
                            &rr.sub_name,
                            l.scope,
                            "apiserver",
                        ])
                        .observe(started.elapsed().as_secs_f64());
                }
                response
            }
        }
    }

    /// In-flight limits (429 when full) and the request timeout (504), with the work in its
    /// own task so a client that goes away does not cancel a write half-way.
    async fn limited(self: Arc<Self>, rr: ResourceRequest, req: Req) -> Response<Body> {
        let mutating = rr.verb.is_mutating();
        let sem = if mutating {
            &self.mutating
        } else {
            &self.readonly
        };
        let permit = if req.exempt {
            None
        } else {
            match sem.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => {
                    return error_response(&ApiError::TooManyRequests {
                        message: "Too many requests, please try again later.".into(),
                        retry_after_secs: 1,
                    })
                }
            }
        };
        let kind = if mutating { "mutating" } else { "readOnly" };
        let gauge = self.metrics.inflight.with_label_values(&[kind]);
        gauge.inc();
        let timeout = match req.query.get("timeout").map(parse_go_duration) {
            Some(Some(d)) => d.min(self.config.request_timeout),
            Some(None) => {
                gauge.dec();
                return error_response(&ApiError::BadRequest(format!(
                    "invalid timeout {:?}",
                    req.query.get("timeout").unwrap_or("")
                )));
            }
            None => self.config.request_timeout,
        };
        let me = self.clone();
        let work = tokio::spawn(async move { me.resource(&rr, &req).await });
        let out = match tokio::time::timeout(timeout, work).await {
            Ok(Ok(Ok(r))) => r,
            Ok(Ok(Err(e))) => error_response(&e),
            Ok(Err(join)) => {
                tracing::error!(error = %join, "request handler failed");
                error_response(&ApiError::internal("the request handler failed"))
            }
            Err(_) => error_response(&ApiError::Timeout(
                "Timeout: request did not complete within the allotted timeout".into(),
            )),
        };
        drop(permit);
        gauge.dec();
        out
    }

    async fn non_resource(&self, req: &Req) -> Response<Body> {
        let accept = request::accept(header(&req.headers, "accept"));
        let path = req.path.trim_end_matches('/');
        if req.method != Method::GET && req.method != Method::HEAD {
            return error_response(&ApiError::MethodNotAllowed);
        }
        match path {
            "/healthz" | "/livez" | "/healthz/ping" | "/livez/ping" => {
                respond(200, "text/plain; charset=utf-8", "ok")
            }
            "/readyz" => {
                if self.ready() {
                    respond(200, "text/plain; charset=utf-8", "ok")
                } else {
                    respond(500, "text/plain; charset=utf-8", "[-]informer-sync failed: not all watch caches are synced\nreadyz check failed\n")
                }
            }
            "/version" => json_response(200, &discovery::version()),
            "/metrics" => respond(200, "text/plain; version=0.0.4", self.metrics.render()),
            "/api" if accept == Accept::Discovery => respond(
                200,
                discovery::AGGREGATED_CONTENT_TYPE,
                serde_json::to_vec(&discovery::aggregated(true)).unwrap_or_default(),
            ),
            "/apis" if accept == Accept::Discovery => respond(
                200,
                discovery::AGGREGATED_CONTENT_TYPE,
                serde_json::to_vec(&discovery::aggregated(false)).unwrap_or_default(),
            ),
            "/api" => json_response(
                200,
                &discovery::api_versions(&self.config.advertise_address),
            ),
            "/apis" => json_response(200, &discovery::api_group_list()),
            "/openapi/v2" => {
                let wants_proto =
                    header(&req.headers, "accept").is_some_and(|a| a.contains("protobuf"));
                if wants_proto {
                    respond(
                        200,
                        berth_openapi::V2_PROTOBUF_CONTENT_TYPE,
                        berth_openapi::v2_protobuf(),
                    )
                } else {
                    respond(200, "application/json", berth_openapi::v2())
                }
            }
            "/openapi/v3" => respond(
                200,
                "application/json",
                berth_openapi::v3_index_for(berth_openapi::FieldValidation::Server),
            ),
            p if p.starts_with("/openapi/v3/") => {
                match berth_openapi::v3_group_version_for(berth_openapi::FieldValidation::Server, p)
                {
                    Some(doc) => respond(200, "application/json", doc),
                    None => error_response(&request::not_found()),
                }
            }
            p => {
                let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                let doc = match parts.as_slice() {
                    ["api", v] => discovery::resource_list("", v),
                    ["apis", g] => discovery::api_group(g),
                    ["apis", g, v] => discovery::resource_list(g, v),
                    _ => None,
                };
                match doc {
                    Some(d) => json_response(200, &d),
                    None => error_response(&request::not_found()),
                }
            }
        }
    }

    /// The verbs other than watch.
    async fn resource(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let accept = request::accept(header(&req.headers, "accept"));
        if r.storage == Storage::Virtual {
            return match rr.verb {
                Verb::Create => self.review(rr, req).await,
                _ => Err(ApiError::MethodNotAllowed),
            };
        }
        match (rr.verb, rr.sub) {
            (Verb::Get, None) => {
                let obj = self
                    .registry
                    .get(r, &rr.namespace, &rr.name, req.query.get("resourceVersion"))
                    .await?;
                Ok(self.render_one(r, obj, accept, &req.query))
            }
            (Verb::Get, Some(Sub::Status)) => Ok(json_response(
                200,
                &self
                    .registry
                    .get(r, &rr.namespace, &rr.name, req.query.get("resourceVersion"))
                    .await?,
            )),
            (Verb::Get, Some(Sub::Scale)) => {
                let obj = self.registry.get(r, &rr.namespace, &rr.name, None).await?;
                Ok(json_response(200, &to_scale(&obj)))
            }
            (Verb::Get, Some(Sub::Log | Sub::Exec | Sub::Attach | Sub::PortForward))
            | (Verb::Create, Some(Sub::Exec | Sub::Attach | Sub::PortForward)) => {
                self.node_stream(rr).await
            }
            (Verb::List, None) => self.list(rr, req, accept).await,
            (Verb::Create, None) => self.create(rr, req).await,
            (Verb::Create, Some(Sub::Binding)) => self.bind(rr, req).await,
            (Verb::Create, Some(Sub::Eviction)) => self.evict(rr, req).await,
            (Verb::Create, Some(Sub::Token)) => self.token_request(rr, req).await,
            (Verb::Update, None | Some(Sub::Status) | Some(Sub::Finalize)) => {
                self.update(rr, req).await
            }
            (Verb::Update, Some(Sub::Scale)) => self.update_scale(rr, req).await,
            (Verb::Patch, None | Some(Sub::Status) | Some(Sub::Scale)) => self.patch(rr, req).await,
            (Verb::Delete, None) => self.delete(rr, req).await,
            (Verb::DeleteCollection, None) => self.delete_collection(rr, req).await,
            _ => Err(ApiError::MethodNotAllowed),
        }
    }

    fn render_one(&self, r: &Resource, obj: Value, accept: Accept, q: &Query) -> Response<Body> {
        match accept {
            Accept::Table => {
                let rv = meta::str_field(&obj, "resourceVersion").parse().ok();
                json_response(
                    200,
                    &table::table(
                        r,
                        &[obj],
                        rv,
                        None,
                        q.get("includeObject").unwrap_or("Metadata"),
                        true,
                    ),
                )
            }
            Accept::PartialObjectMetadata => json_response(200, &partial(&obj)),
            _ => json_response(200, &obj),
        }
    }

    async fn list(
        &self,
        rr: &ResourceRequest,
        req: &Req,
        accept: Accept,
    ) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let q = &req.query;
        let opts = ListOptions {
            filter: Filter::parse(r, q.get("labelSelector"), q.get("fieldSelector"))?,
            resource_version: q.get("resourceVersion").map(str::to_string),
            resource_version_match: q.get("resourceVersionMatch").map(str::to_string),
            limit: q.int("limit")?,
            continue_token: q
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        };
        let ns = (!rr.namespace.is_empty()).then_some(rr.namespace.as_str());
        let res = self.registry.list(r, ns, &opts).await?;
        match accept {
            Accept::Table => {
                let items: Vec<Value> = res.items.iter().map(|o| o.value()).collect();
                Ok(json_response(
                    200,
                    &table::table(
                        r,
                        &items,
                        Some(res.rv),
                        res.continue_token.as_deref(),
                        q.get("includeObject").unwrap_or("Metadata"),
                        true,
                    ),
                ))
            }
            Accept::PartialObjectMetadata => {
                let items: Vec<Value> = res.items.iter().map(|o| partial(&o.value())).collect();
                let mut meta = json!({"resourceVersion": res.rv.to_string()});
                if let Some(c) = &res.continue_token {
                    meta["continue"] = c.clone().into();
                }
                Ok(json_response(
                    200,
                    &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
                ))
            }
            _ => {
                // Assembled from the cached bytes: no re-encoding of the items.
                let mut meta = json!({"resourceVersion": res.rv.to_string()});
                if let Some(c) = &res.continue_token {
                    meta["continue"] = c.clone().into();
                }
                if let Some(n) = res.remaining {
                    meta["remainingItemCount"] = n.into();
                }
                let head = format!(
                    "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
                    r.list_kind(),
                    r.api_version(),
                    meta
                );
                let size: usize =
                    res.items.iter().map(|o| o.json.len() + 1).sum::<usize>() + head.len() + 2;
                let mut out = Vec::with_capacity(size);
                out.extend_from_slice(head.as_bytes());
                for (i, o) in res.items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&o.json);
                }
                out.extend_from_slice(b"]}");
                Ok(respond(200, "application/json", out))
            }
        }
    }

    /// Decodes, type-checks and canonicalizes a body for `r`; returns the object and the
    /// warnings of `fieldValidation=Warn`.
    fn decode_object(
        &self,
        r: &Resource,
        req: &Req,
        expect_kind: Option<(&str, &str)>,
    ) -> ApiResult<(Value, Warnings)> {
        let mut raw = decode_body(header(&req.headers, "content-type"), &req.body)?;
        if r.storage == Storage::Virtual {
            if let Some(o) = raw.as_object_mut() {
                o.remove("status"); // a review's status is the answer
            }
        }
        let (api_version, kind) = match expect_kind {
            Some((av, k)) => (av.to_string(), k.to_string()),
            None => (r.api_version(), r.kind.to_string()),
        };
        check_type(&mut raw, &api_version, &kind)?;
        let warnings = field_validation(&req.query, &api_version, &kind, &raw)?;
        let obj = canonicalize(r, raw, &api_version, &kind)?;
        Ok((obj, warnings))
    }

    fn write_options(&self, req: &Req) -> ApiResult<WriteOptions> {
        let manager = req
            .query
            .get("fieldManager")
            .map(str::to_string)
            .or_else(|| header(&req.headers, "user-agent").map(default_manager));
        if let Some(m) = &manager {
            if m.len() > 128 {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    vec![crate::status::Cause::invalid(
                        "fieldManager",
                        &Value::String(m.clone()),
                        "must be less than 128 characters",
                    )],
                ));
            }
        }
        Ok(WriteOptions {
            dry_run: req.query.dry_run()?,
            field_manager: manager,
            fence: fence_of(req)?,
        })
    }

    async fn create(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let (obj, warnings) = self.decode_object(r, req, None)?;
        let body_ns = meta::namespace(&obj);
        if r.namespaced && !body_ns.is_empty() && body_ns != rr.namespace {
            return Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()));
        }
        let opts = self.write_options(req)?;
        let created = self.registry.create(r, &rr.namespace, obj, &opts).await?;
        Ok(with_warnings(json_response(201, &created), &warnings))
    }

    async fn update(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let (obj, warnings) = self.decode_object(r, req, None)?;
        let opts = self.write_options(req)?;
        let updated = self
            .registry
            .update(r, &rr.namespace, &rr.name, obj, rr.sub, &opts)
            .await?;
        Ok(with_warnings(json_response(200, &updated), &warnings))
    }

    async fn update_scale(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let scale = decode_sub(req, Sub::Scale, "autoscaling/v1", "Scale")?;
        let replicas = scale["spec"]["replicas"].as_i64().unwrap_or(0);
        let wanted = meta::parse_resource_version(meta::str_field(&scale, "resourceVersion"))
            .map_err(ApiError::BadRequest)?;
        let opts = self.write_options(req)?;
        let updated = self
            .registry
            .update_with(r, &rr.namespace, &rr.name, None, &opts, wanted, |cur| {
                let mut n = cur.clone();
                n["spec"]["replicas"] = replicas.into();
                Ok(n)
            })
            .await?;
        Ok(json_response(200, &to_scale(&updated)))
    }

    async fn patch(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let ct = header(&req.headers, "content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut patch: Value = match ct.as_str() {
            "application/apply-patch+yaml" | "application/yaml" => serde_yaml_ng::from_slice(&req.body).map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?,
            "application/json-patch+json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                serde_json::from_slice(&req.body).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?
            }
            _ => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
                )))
            }
        };
        if ct == "application/apply-patch+yaml" {
            // As the typed decode of an applied configuration would: `cpu: 1` is "1".
            quantities_to_strings(&mut patch);
            strip_nulls(&mut patch);
        }
        let mut opts = self.write_options(req)?;
        let force = req.query.flag("force");
        let is_apply = ct == "application/apply-patch+yaml";
        if is_apply {
            let Some(manager) = req.query.get("fieldManager").filter(|m| !m.is_empty()) else {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    vec![crate::status::Cause::required("fieldManager")],
                ));
            };
            opts.field_manager = Some(manager.to_string());
        } else if force {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                vec![crate::status::Cause::forbidden(
                    "force",
                    "may not be specified for non-apply patch",
                )],
            ));
        }
        let sub = rr.sub;
        let warnings = std::sync::Mutex::new(Vec::new());
        let apply_patch = |cur: &Value| -> ApiResult<Value> {
            let base = if sub == Some(Sub::Scale) {
                to_scale(cur)
            } else {
                cur.clone()
            };
            let mut patched = match ct.as_str() {
                "application/json-patch+json" => {
                    berth_apimachinery::patch::json_patch(&base, &patch).map_err(patch_error)?
                }
                "application/merge-patch+json" => {
                    berth_apimachinery::patch::merge_patch(&base, &patch).map_err(patch_error)?
                }
                "application/strategic-merge-patch+json" => {
                    let (av, kind) = if sub == Some(Sub::Scale) {
                        ("autoscaling/v1".to_string(), "Scale")
                    } else {
                        (r.api_version(), r.kind)
                    };
                    let empty = berth_apimachinery::patch::PatchMeta::new();
                    let pm = berth_apimachinery::patch::patch_meta(&av, kind).unwrap_or(&empty);
                    berth_apimachinery::patch::strategic_merge_patch(&base, &patch, pm)
                        .map_err(patch_error)?
                }
                _ => crate::managed::apply(
                    r,
                    Some(&base),
                    &patch,
                    opts.field_manager.as_deref().unwrap_or(""),
                    force,
                )?,
            };
            if sub == Some(Sub::Scale) {
                let replicas = patched["spec"]["replicas"].as_i64().ok_or_else(|| {
                    ApiError::BadRequest("spec.replicas must be an integer".into())
                })?;
                let mut n = cur.clone();
                n["spec"]["replicas"] = replicas.into();
                return Ok(n);
            }
            // A resourceVersion in the patch is a precondition.
            let prv = meta::str_field(&patched, "resourceVersion");
            if !prv.is_empty() && prv != meta::str_field(cur, "resourceVersion") {
                return Err(ApiError::conflict_modified(
                    r.plural,
                    r.group,
                    meta::name(cur),
                ));
            }
            check_type(&mut patched, &r.api_version(), r.kind)?;
            let w = field_validation(&req.query, &r.api_version(), r.kind, &patched)?;
            *warnings.lock().unwrap_or_else(|p| p.into_inner()) = w;
            canonicalize(r, patched, &r.api_version(), r.kind)
        };
        let mut update_opts = opts.clone();
        if is_apply {
            update_opts.field_manager = None; // the apply entry is the record
        }
        let res = self
            .registry
            .update_with(
                r,
                &rr.namespace,
                &rr.name,
                sub,
                &update_opts,
                None,
                &apply_patch,
            )
            .await;
        let obj = match res {
            Err(ApiError::NotFound { .. }) if is_apply && sub.is_none() => {
                // Server-side apply creates what does not exist.
                let mut obj = crate::managed::apply(
                    r,
                    None,
                    &patch,
                    opts.field_manager.as_deref().unwrap_or(""),
                    force,
                )?;
                meta::metadata_mut(&mut obj).insert("name".into(), rr.name.clone().into());
                check_type(&mut obj, &r.api_version(), r.kind)?;
                let obj = canonicalize(r, obj, &r.api_version(), r.kind)?;
                let mut created_opts = opts.clone();
                created_opts.field_manager = None; // apply already recorded ownership
                let created = self
                    .registry
                    .create(r, &rr.namespace, obj, &created_opts)
                    .await?;
                return Ok(json_response(201, &created));
            }
            other => other?,
        };
        let warnings = warnings.into_inner().unwrap_or_else(|p| p.into_inner());
        let body = if sub == Some(Sub::Scale) {
            to_scale(&obj)
        } else {
            obj
        };
        Ok(with_warnings(json_response(200, &body), &warnings))
    }

    fn delete_options(&self, req: &Req) -> ApiResult<DeleteOptions> {
        let mut o = DeleteOptions {
            dry_run: req.query.dry_run()?,
            ..Default::default()
        };
        if !req.body.is_empty() {
            // decode_body refuses anything but an object.
            let body = decode_body(header(&req.headers, "content-type"), &req.body)?;
            o = delete_options_from(&body, o.dry_run);
        }
        if let Some(g) = req.query.int("gracePeriodSeconds")? {
            o.grace_period_seconds = Some(g);
        }
        if let Some(p) = req.query.get("propagationPolicy") {
            o.propagation_policy = Some(p.to_string());
        }
        if req.query.flag("orphanDependents") && o.propagation_policy.is_none() {
            o.propagation_policy = Some("Orphan".into());
        }
        o.fence = fence_of(req)?;
        Ok(o)
    }

    async fn delete(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let opts = self.delete_options(req)?;
        match self
            .registry
            .delete(r, &rr.namespace, &rr.name, &opts)
            .await?
        {
            Deleted::Pending(obj) => Ok(json_response(200, &obj)),
            Deleted::Now(obj) => {
                if matches!(r.kind, "Pod" | "Service" | "Namespace") && r.group.is_empty()
                    || r.group == "apps"
                {
                    Ok(json_response(200, &obj))
                } else {
                    Ok(json_response(
                        200,
                        &crate::status::success(r.plural, r.group, &rr.name, meta::uid(&obj)),
                    ))
                }
            }
        }
    }

    async fn delete_collection(
        &self,
        rr: &ResourceRequest,
        req: &Req,
    ) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        let opts = self.delete_options(req)?;
        let list_opts = ListOptions {
            filter: Filter::parse(
                r,
                req.query.get("labelSelector"),
                req.query.get("fieldSelector"),
            )?,
            ..Default::default()
        };
        let ns = (!rr.namespace.is_empty()).then_some(rr.namespace.as_str());
        let res = self.registry.list(r, ns, &list_opts).await?;
        let mut deleted = Vec::new();
        for o in &res.items {
            let v = o.value();
            match self
                .registry
                .delete(r, meta::namespace(&v), meta::name(&v), &opts)
                .await
            {
                Ok(Deleted::Now(x) | Deleted::Pending(x)) => deleted.push(x),
                Err(e) if e.code() == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            200,
            &json!({"kind": r.list_kind(), "apiVersion": r.api_version(), "metadata": {"resourceVersion": res.rv.to_string()}, "items": deleted}),
        ))
    }

    /// pods/binding (and POST .../bindings): assigns an unbound pod to a node.
    async fn bind(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let binding = decode_sub(req, Sub::Binding, "v1", "Binding")?;
        let pod_name = if rr.name.is_empty() {
            meta::name(&binding).to_string()
        } else {
            rr.name.clone()
        };
        self.bind_pod(
            &rr.namespace,
            &pod_name,
            &binding,
            &self.write_options(req)?,
        )
        .await
    }

    async fn bind_pod(
        &self,
        ns: &str,
        pod_name: &str,
        binding: &Value,
        opts: &WriteOptions,
    ) -> ApiResult<Response<Body>> {
        let pods = resources::find("", "v1", "pods").expect("pods are served");
        let node = binding["target"]["name"].as_str().unwrap_or("").to_string();
        if node.is_empty() {
            return Err(ApiError::invalid(
                "Binding",
                "",
                pod_name,
                vec![crate::status::Cause::required("target.name")],
            ));
        }
        let pn = pod_name.to_string();
        self.registry
            .update_with(pods, ns, pod_name, Some(Sub::Binding), opts, None, |cur| {
                if meta::deletion_timestamp(cur).is_some() {
                    return Err(ApiError::conflict("pods", "", &pn, &format!("pod {pn} is being deleted, cannot be assigned to a host")));
                }
                if let Some(existing) = cur["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                    return Err(ApiError::conflict("pods", "", &pn, &format!("pod {pn} is already assigned to node {existing:?}")));
                }
                let mut n = cur.clone();
                n["spec"]["nodeName"] = node.clone().into();
                let conds = n["status"]["conditions"].as_array().cloned().unwrap_or_default();
                let mut conds: Vec<Value> = conds.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
                conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now()}));
                n["status"]["conditions"] = Value::Array(conds);
                Ok(n)
            })
            .await?;
        Ok(json_response(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }

    /// pods/eviction: a delete (PodDisruptionBudgets are not checked yet).
    async fn evict(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let ev = decode_sub(req, Sub::Eviction, "policy/v1", "Eviction")?;
        let mut opts = delete_options_from(&ev["deleteOptions"], req.query.dry_run()?);
        opts.fence = fence_of(req)?;
        self.registry
            .delete(rr.resource, &rr.namespace, &rr.name, &opts)
            .await?;
        Ok(json_response(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ))
    }

    /// serviceaccounts/token: TokenRequest.
    async fn token_request(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let Some(signer) = &self.config.token_signer else {
            return Err(ApiError::ServiceUnavailable(
                "token issuing is not configured (--service-account-signing-key-file)".into(),
            ));
        };
        let sa = self
            .registry
            .get(rr.resource, &rr.namespace, &rr.name, None)
            .await?;
        let mut tr = decode_sub(req, Sub::Token, "authentication.k8s.io/v1", "TokenRequest")?;
        let audiences: Vec<String> = match tr["spec"]["audiences"].as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => self.config.api_audiences.clone(),
        };
        let exp = tr["spec"]["expirationSeconds"].as_i64().unwrap_or(3600);
        if exp < 600 {
            return Err(ApiError::invalid(
                "TokenRequest",
                "authentication.k8s.io",
                &rr.name,
                vec![crate::status::Cause::invalid(
                    "spec.expirationSeconds",
                    &exp.into(),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        let exp = exp.min(48 * 3600);
        let mut claims = auth::SaClaims {
            namespace: rr.namespace.clone(),
            name: rr.name.clone(),
            uid: meta::uid(&sa).to_string(),
            pod: None,
        };
        let bound = &tr["spec"]["boundObjectRef"];
        if bound["kind"] == "Pod" {
            let pods = resources::find("", "v1", "pods").expect("pods are served");
            let pname = bound["name"].as_str().unwrap_or("");
            let pod = self.registry.get(pods, &rr.namespace, pname, None).await?;
            claims.pod = Some((pname.to_string(), meta::uid(&pod).to_string()));
        }
        let (token, exp_at) = signer
            .sign(&audiences, exp, &claims)
            .map_err(ApiError::internal)?;
        tr["spec"]["audiences"] = json!(audiences);
        tr["spec"]["expirationSeconds"] = exp.into();
        tr["status"] = json!({"token": token, "expirationTimestamp": meta::rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(exp_at.max(0) as u64))});
        tr["metadata"]["name"] = rr.name.clone().into();
        tr["metadata"]["namespace"] = rr.namespace.clone().into();
        tr["metadata"]["creationTimestamp"] = meta::now().into();
        Ok(json_response(201, &tr))
    }

    /// pods/log, exec, attach, portforward: answered by the node agent of the pod's node.
    async fn node_stream(&self, rr: &ResourceRequest) -> ApiResult<Response<Body>> {
        let pod = self
            .registry
            .get(rr.resource, &rr.namespace, &rr.name, None)
            .await?;
        if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::BadRequest(format!(
                "pod {} does not have a host assigned",
                rr.name
            )));
        }
        Err(ApiError::ServiceUnavailable(format!(
            "the node agent of node {} is not reachable from the API server for {}",
            pod["spec"]["nodeName"].as_str().unwrap_or(""),
            rr.sub_name
        )))
    }

    /// Create-only reviews answered from the request.
    async fn review(&self, rr: &ResourceRequest, req: &Req) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        if r.kind == "Binding" {
            // POST .../bindings: the pod is named by the Binding.
            return self.bind(rr, req).await;
        }
        let (mut obj, _) = self.decode_object(r, req, None)?;
        let user = req.user.clone().unwrap_or_default();
        obj["metadata"] = json!({"creationTimestamp": null});
        match r.kind {
            "SelfSubjectReview" => obj["status"] = json!({"userInfo": user.to_json()}),
            "SelfSubjectAccessReview" | "SubjectAccessReview" => {
                obj["status"] = json!({"allowed": true, "reason": "every authenticated user is allowed (no authorizer configured)"});
            }
            "SelfSubjectRulesReview" => {
                obj["status"] = json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": false});
            }
            "TokenReview" => {
                let token = obj["spec"]["token"].as_str().unwrap_or("").to_string();
                let mut h = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    h.insert("authorization", v);
                }
                obj["status"] = match self.authenticate(None, &h).await {
                    Ok(Some(u)) => {
                        json!({"authenticated": true, "user": u.to_json(), "audiences": self.config.api_audiences})
                    }
                    _ => json!({"authenticated": false, "error": "invalid bearer token"}),
                };
            }
            _ => return Err(ApiError::MethodNotAllowed),
        }
        Ok(json_response(201, &obj))
    }
}

struct MetricLabels {
    dry_run: &'static str,
    scope: &'static str,
}

fn metric_labels(rr: &ResourceRequest, dry_run: bool) -> MetricLabels {
    let scope = if !rr.name.is_empty() {
        "resource"
    } else if !rr.namespace.is_empty() {
        "namespace"
    } else {
        "cluster"
    };
    MetricLabels {
        dry_run: if dry_run { "All" } else { "" },
        scope,
    }
}

/// `kubectl/v1.32.4 (linux/amd64) kubernetes/abc` -> `kubectl`, as kube-apiserver derives
/// the default field manager from the user agent.
fn default_manager(ua: &str) -> String {
    let first = ua.split('/').next().unwrap_or(ua);
    first.chars().take(128).collect()
}

/// Go-style durations in the `timeout` parameter: `30s`, `1m`, `1m30s`, `500ms`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return None;
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() || n == 'µ' {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        total += v * match unit.as_str() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// A `DeleteOptions` body (of a DELETE, or inside an Eviction).
fn delete_options_from(body: &Value, dry_run: bool) -> DeleteOptions {
    let mut propagation_policy = body["propagationPolicy"].as_str().map(str::to_string);
    if body["orphanDependents"] == true && propagation_policy.is_none() {
        propagation_policy = Some("Orphan".into());
    }
    DeleteOptions {
        grace_period_seconds: body["gracePeriodSeconds"].as_i64(),
        propagation_policy,
        precondition_uid: body["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_rv: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
        dry_run: dry_run
            || body["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "All")),
        fence: None,
    }
}

fn patch_error(e: berth_apimachinery::patch::PatchError) -> ApiError {
    match e.http_status() {
        422 => ApiError::Invalid {
            message: e.to_string(),
            subject: Default::default(),
            causes: vec![],
        },
        409 => ApiError::Conflict {
            message: e.to_string(),
            subject: Default::default(),
            causes: vec![],
        },
        _ => ApiError::BadRequest(e.to_string()),
    }
}

fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

fn to_scale(obj: &Value) -> Value {
    let m = obj.get("metadata").cloned().unwrap_or(json!({}));
    let keep = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": keep("name"), "namespace": keep("namespace"), "uid": keep("uid"), "resourceVersion": keep("resourceVersion"), "creationTimestamp": keep("creationTimestamp")},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": table::selector_string(&obj["spec"]["selector"])},
    })
}

/// Decodes a request body by its Content-Type: JSON (default), YAML, or Kubernetes
/// protobuf (`k8s\0` + runtime.Unknown).
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> ApiResult<Value> {
    let ct = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let v: Value = match ct {
        "application/vnd.kubernetes.protobuf" => {
            berth_kube_proto::decode(body).map_err(|e| match e {
                berth_kube_proto::ProtoError::UnsupportedKind { .. } => {
                    ApiError::UnsupportedMediaType(format!(
                        "the body of the request was in an unknown format: {e}"
                    ))
                }
                other => {
                    ApiError::BadRequest(format!("failed to decode the protobuf body: {other}"))
                }
            })?
        }
        "application/yaml" | "application/apply-patch+yaml" => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?,
        "application/json" | "" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {other})")));
        }
    };
    if !v.is_object() {
        return Err(ApiError::BadRequest(
            "couldn't get version/kind; json parse error: the body is not an object".into(),
        ));
    }
    Ok(v)
}

/// The body's apiVersion and kind must name what the URL serves; missing ones are taken
/// from the URL, as kube-apiserver's decoder defaults them (the Python client omits them).
fn check_type(obj: &mut Value, api_version: &str, kind: &str) -> ApiResult<()> {
    let got_kind = obj["kind"].as_str().unwrap_or("").to_string();
    let got_av = obj["apiVersion"].as_str().unwrap_or("").to_string();
    if !got_av.is_empty() && got_av != api_version {
        return Err(ApiError::BadRequest(format!("the API version in the data ({got_av}) does not match the expected API version ({api_version})")));
    }
    if !got_kind.is_empty() && got_kind != kind {
        let (_, v) = resources::split_api_version(api_version);
        return Err(ApiError::BadRequest(format!("{got_kind} in version {v:?} cannot be handled as a {kind}: no kind {got_kind:?} is registered for version {api_version:?} in scheme \"berth\"")));
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), api_version.into());
        o.insert("kind".into(), kind.into());
    }
    Ok(())
}

/// `fieldValidation`: Strict refuses unknown fields (400), Warn (the default) returns them
/// as warnings, Ignore drops them silently.
fn field_validation(q: &Query, api_version: &str, kind: &str, obj: &Value) -> ApiResult<Warnings> {
    let mode = q.get("fieldValidation").unwrap_or("Warn");
    if !["Strict", "Warn", "Ignore"].contains(&mode) {
        return Err(ApiError::BadRequest(format!("fieldValidation parameter unsupported: {mode:?}; allowed values are Ignore, Warn and Strict")));
    }
    if mode == "Ignore" {
        return Ok(vec![]);
    }
    let unknown = berth_openapi::unknown_fields(api_version, kind, obj);
    if unknown.is_empty() {
        return Ok(vec![]);
    }
    let msgs: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    if mode == "Strict" {
        let (_, v) = resources::split_api_version(api_version);
        let detail = if msgs.len() == 1 {
            msgs[0].clone()
        } else {
            format!("[{}]", msgs.join(", "))
        };
        return Err(ApiError::BadRequest(format!("{kind} in version {v:?} cannot be handled as a {kind}: strict decoding error: {detail}")));
    }
    Ok(msgs)
}

/// Resource quantities may be written as numbers in YAML (`cpu: 1`); Kubernetes accepts them
/// and stores strings.
fn quantities_to_strings(v: &mut Value) {
    const QUANTITY_MAPS: &[&str] = &[
        "limits",
        "requests",
        "capacity",
        "allocatable",
        "hard",
        "used",
        "overhead",
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    ];
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if QUANTITY_MAPS.contains(&k.as_str()) {
                    if let Some(q) = child.as_object_mut() {
                        for qv in q.values_mut() {
                            if let Value::Number(n) = qv {
                                *qv = Value::String(n.to_string());
                            }
                        }
                    }
                }
                if k == "sizeLimit" {
                    if let Value::Number(n) = child {
                        *child = Value::String(n.to_string());
                    }
                }
                quantities_to_strings(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(quantities_to_strings),
        _ => {}
    }
}

/// Go decodes `null` into a field's zero value; dropping null members gives the typed
/// decoder the same input (`creationTimestamp: null`, a TokenRequest's empty status).
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, c| !c.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A subresource's own body (Scale, Binding, Eviction, TokenRequest): decoded, type-checked
/// and canonicalized as its kind; a status in it is the server's to set and is dropped.
fn decode_sub(req: &Req, sub: Sub, api_version: &str, kind: &str) -> ApiResult<Value> {
    let mut raw = decode_body(header(&req.headers, "content-type"), &req.body)?;
    check_type(&mut raw, api_version, kind)?;
    if sub == Sub::Token {
        if let Some(o) = raw.as_object_mut() {
            o.remove("status");
        }
    }
    let canonical = resources::canonical_sub(sub)
        .ok_or_else(|| ApiError::internal(format!("no type for {}", sub.name())))?;
    let (_, v) = resources::split_api_version(api_version);
    canonical(without_nulls(raw)).map_err(|e| {
        ApiError::BadRequest(format!(
            "{kind} in version {v:?} cannot be handled as a {kind}: {e}"
        ))
    })
}

fn without_nulls(mut v: Value) -> Value {
    strip_nulls(&mut v);
    v
}

fn canonicalize(r: &Resource, mut obj: Value, api_version: &str, kind: &str) -> ApiResult<Value> {
    quantities_to_strings(&mut obj);
    strip_nulls(&mut obj);
    let mut out = (r.canonical)(obj).map_err(|e| {
        let (_, v) = resources::split_api_version(api_version);
        ApiError::BadRequest(format!(
            "{kind} in version {v:?} cannot be handled as a {kind}: {e}"
        ))
    })?;
    // Go's `omitempty`: an emptied label or annotation map, finalizer or owner list is absent.
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|k, v| {
            let empty = matches!(v, Value::Object(o) if o.is_empty())
                || matches!(v, Value::Array(a) if a.is_empty());
            !(empty
                && matches!(
                    k.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences" | "managedFields"
                ))
        });
    }
    Ok(out)
}

// ---- watch ----

/// The most bytes of watch events sent as one write.
const WATCH_BATCH_BYTES: usize = 128 * 1024;

/// Converts a cache event into the watch event a client with `filter` sees, if any.
fn visible(e: &CacheEvent, filter: &Filter) -> Option<EventType> {
    let now = filter.matches(&e.obj);
    let before = e.prev.as_ref().is_some_and(|p| filter.matches(p));
    match e.kind {
        EventType::Added => now.then_some(EventType::Added),
        EventType::Modified => match (before, now) {
            (true, true) => Some(EventType::Modified),
            (false, true) => Some(EventType::Added),
            (true, false) => Some(EventType::Deleted),
            (false, false) => None,
        },
        EventType::Deleted => now.then_some(EventType::Deleted),
    }
}

impl<S: Store> ApiServer<S> {
    async fn watch(self: Arc<Self>, rr: &ResourceRequest, req: &Req) -> Response<Body> {
        match self.clone().watch_inner(rr, req).await {
            Ok(r) => r,
            Err(e) => error_response(&e),
        }
    }

    async fn watch_inner(
        self: Arc<Self>,
        rr: &ResourceRequest,
        req: &Req,
    ) -> ApiResult<Response<Body>> {
        let r = rr.resource;
        if r.storage != Storage::Stored || rr.sub.is_some() {
            return Err(ApiError::MethodNotAllowed);
        }
        let q = &req.query;
        let mut filter_fields = q.get("fieldSelector").unwrap_or("").to_string();
        if !rr.name.is_empty() {
            // Legacy `/watch/.../<name>`: a watch of one object.
            filter_fields = if filter_fields.is_empty() {
                format!("metadata.name={}", rr.name)
            } else {
                format!("{filter_fields},metadata.name={}", rr.name)
            };
        }
        let filter = Filter::parse(r, q.get("labelSelector"), Some(&filter_fields))?;
        let cache = self
            .registry
            .cache(r)
            .ok_or(ApiError::MethodNotAllowed)?
            .clone();
        let rv = meta::parse_resource_version(q.get("resourceVersion").unwrap_or(""))
            .map_err(ApiError::BadRequest)?;
        let send_initial = q.flag("sendInitialEvents");
        let bookmarks = q.flag("allowWatchBookmarks");
        if q.get("sendInitialEvents").is_some() {
            if q.get("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks {
                return Err(ApiError::invalid(
                    "ListOptions",
                    "meta.k8s.io",
                    "",
                    vec![crate::status::Cause::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled; it requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true")],
                ));
            }
        }
        let timeout = match q.int("timeoutSeconds")? {
            Some(t) if t > 0 => Duration::from_secs(t as u64),
            _ => Duration::from_secs(1800 + rand::random_range(0..1800)),
        };
        let accept = request::accept(header(&req.headers, "accept"));
        let ns = (!rr.namespace.is_empty()).then(|| rr.namespace.clone());

        // Where the stream starts: an initial state (ADDED events) or after a revision.
        let initial_state = send_initial || matches!(rv, None | Some(0));
        let min_rev = match rv {
            None | Some(0) if !initial_state => None,
            None => Some(self.registry.current_revision(r).await?),
            Some(0) => None,
            Some(n) => Some(n),
        };
        let waited = match min_rev {
            Some(m) => cache.wait_for(m, Duration::from_secs(3)).await,
            None => cache.synced() || cache.wait_for(0, Duration::from_secs(3)).await,
        };
        if !waited {
            return Err(ApiError::Timeout(format!(
                "Too large resource version: {}, current: {}",
                min_rev.unwrap_or(0),
                cache.revision()
            )));
        }
        // Bounded per watcher: a few writes of at most WATCH_BATCH_BYTES each in flight.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let (epoch, mut pos, initial): (u64, i64, Vec<Arc<crate::cache::CachedObject>>) =
            if initial_state {
                let (rev, epoch, items) = cache.list(ns.as_deref());
                let objs = items.into_iter().filter(|o| filter.matches(o)).collect();
                (epoch, rev, objs)
            } else {
                let (epoch, window_start, _) = cache.window();
                let n = rv.unwrap_or(0);
                // Older than the cache's window, or than the store's compaction: 410.
                let compacted = !self.registry.revision_available(r, n).await?;
                if n < window_start || compacted {
                    // Not an HTTP error: the watch opens and carries one ERROR event, as Kubernetes.
                    let status = ApiError::Expired(format!(
                        "too old resource version: {n} ({})",
                        window_start + 1
                    ))
                    .to_status();
                    let line = serde_json::to_vec(&json!({"type": "ERROR", "object": status}))
                        .unwrap_or_default();
                    let mut body = line;
                    body.push(b'\n');
                    return Ok(respond(200, "application/json", body));
                }
                (epoch, n, Vec::new())
            };
        let me = self.clone();
        let table_mode = accept == Accept::Table;
        let include = q.get("includeObject").unwrap_or("Metadata").to_string();
        let scope = metric_labels(rr, false).scope;
        let gauge = self.metrics.longrunning.with_label_values(&[
            "WATCH",
            r.group,
            r.version,
            r.plural,
            "",
            scope,
            "apiserver",
        ]);
        gauge.inc();
        let counter = self
            .metrics
            .watch_events
            .with_label_values(&[r.group, r.version, r.kind]);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let encode = |ty: &str, obj: Value, first: bool| -> Bytes {
                let obj = if table_mode && ty != "BOOKMARK" && ty != "ERROR" {
                    table::table(r, &[obj], None, None, &include, first)
                } else {
                    obj
                };
                let mut b =
                    serde_json::to_vec(&json!({"type": ty, "object": obj})).unwrap_or_default();
                b.push(b'\n');
                Bytes::from(b)
            };
            // The common case, a JSON watch: the event line is spliced from the object's
            // cached bytes, with no parsing or re-encoding per watcher.
            let encode_cached =
                |ty: &str, obj: &crate::cache::CachedObject, first: bool| -> Bytes {
                    if table_mode {
                        return encode(ty, obj.value(), first);
                    }
                    let head = format!("{{\"type\":\"{ty}\",\"object\":");
                    let mut b = Vec::with_capacity(head.len() + obj.json.len() + 2);
                    b.extend_from_slice(head.as_bytes());
                    b.extend_from_slice(&obj.json);
                    b.extend_from_slice(b"}\n");
                    Bytes::from(b)
                };
            let bookmark = |rev: i64, end_of_initial: bool| -> Bytes {
                let mut m = json!({"resourceVersion": rev.to_string(), "creationTimestamp": null});
                if end_of_initial {
                    m["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                }
                let mut b = serde_json::to_vec(&json!({"type": "BOOKMARK", "object": {"kind": r.kind, "apiVersion": r.api_version(), "metadata": m}})).unwrap_or_default();
                b.push(b'\n');
                Bytes::from(b)
            };
            let mut first = true;
            for obj in initial {
                counter.inc();
                if tx.send(encode_cached("ADDED", &obj, first)).await.is_err() {
                    gauge.dec();
                    return;
                }
                first = false;
            }
            if send_initial && tx.send(bookmark(pos, true)).await.is_err() {
                gauge.dec();
                return;
            }
            let mut ticks = me.registry.cache(r).map(|c| c.subscribe());
            let mut last_bookmark = tokio::time::Instant::now();
            loop {
                match cache.events_after(epoch, pos, 500) {
                    Ok((events, cache_rev)) => {
                        let complete = events.len() < 500;
                        // One write (one DATA frame or chunk) for all the events of a wake-up:
                        // a watcher that fell behind catches up in few frames.
                        let mut batch: Vec<u8> = Vec::new();
                        for e in &events {
                            if let Some(ns) = &ns {
                                if e.obj.namespace() != ns {
                                    continue;
                                }
                            }
                            if let Some(ty) = visible(e, &filter) {
                                counter.inc();
                                batch.extend_from_slice(&encode_cached(ty.as_str(), &e.obj, first));
                                first = false;
                                if batch.len() >= WATCH_BATCH_BYTES {
                                    if tx
                                        .send(Bytes::from(std::mem::take(&mut batch)))
                                        .await
                                        .is_err()
                                    {
                                        gauge.dec();
                                        return;
                                    }
                                }
                            }
                        }
                        if !batch.is_empty() && tx.send(Bytes::from(batch)).await.is_err() {
                            gauge.dec();
                            return;
                        }
                        if let Some(last) = events.last() {
                            pos = last.rev;
                        }
                        if complete {
                            pos = pos.max(cache_rev);
                        } else {
                            continue;
                        }
                    }
                    Err(WindowError::TooOld { requested, oldest }) => {
                        let status = ApiError::Expired(format!(
                            "too old resource version: {requested} ({oldest})"
                        ))
                        .to_status();
                        let _ = tx.send(encode("ERROR", status, false)).await;
                        break;
                    }
                    Err(WindowError::Restarted) => break,
                }
                if bookmarks && last_bookmark.elapsed() >= Duration::from_secs(10) {
                    if tx.send(bookmark(pos, false)).await.is_err() {
                        break;
                    }
                    last_bookmark = tokio::time::Instant::now();
                }
                let Some(rx) = ticks.as_mut() else { break };
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    changed = rx.changed() => if changed.is_err() { break },
                    _ = tx.closed() => break,
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            gauge.dec();
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let body = StreamBody::new(futures::StreamExt::map(stream, |b| {
            Ok::<_, Infallible>(hyper::body::Frame::data(b))
        }));
        let mut resp = Response::new(BodyExt::boxed(body));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("x"), None);
    }

    #[test]
    fn bodies_decode_or_fail_typed() {
        assert!(decode_body(Some("application/json"), b"{\"a\":1}").is_ok());
        assert_eq!(
            decode_body(Some("application/json"), b"{nope")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            decode_body(Some("application/yaml"), b"a: [")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            decode_body(Some("text/plain"), b"x").unwrap_err().code(),
            415
        );
        assert_eq!(
            decode_body(Some("application/json"), b"[1]")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            decode_body(Some("application/vnd.kubernetes.protobuf"), b"junk")
                .unwrap_err()
                .code(),
            400
        );
    }

    #[test]
    fn type_checks() {
        assert!(check_type(&mut json!({"apiVersion": "v1", "kind": "Pod"}), "v1", "Pod").is_ok());
        let err = check_type(
            &mut json!({"apiVersion": "apps/v1", "kind": "Pod"}),
            "v1",
            "Pod",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the API version in the data (apps/v1) does not match the expected API version (v1)"
        );
        assert_eq!(
            check_type(
                &mut json!({"apiVersion": "v1", "kind": "Secret"}),
                "v1",
                "Pod"
            )
            .unwrap_err()
            .code(),
            400
        );
        let mut bare = json!({"metadata": {"name": "p"}});
        check_type(&mut bare, "v1", "Pod").unwrap();
        assert_eq!(
            (bare["apiVersion"].as_str(), bare["kind"].as_str()),
            (Some("v1"), Some("Pod"))
        );
    }

    #[test]
    fn numeric_quantities_become_strings() {
        let mut v = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]}});
        quantities_to_strings(&mut v);
        assert_eq!(
            v["spec"]["containers"][0]["resources"]["limits"]["cpu"],
            "1"
        );
    }
}
