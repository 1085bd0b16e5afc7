//! The generic registry: get, list, create, update, delete of any kind in the resource
//! table, over the store. Every write is one store transaction conditioned on what it read
//! (create: the key does not exist; update and delete: the key's mod revision is the one
//! read), so concurrent writers on any replica serialize through the store and a stale
//! writer gets 409 Conflict. Kind-specific behaviour comes from `strategy`.

use crate::cache::{Cache, CacheConfig, CachedObject};
use crate::fence::{self, LeaseFence};
use crate::filter::Filter;
use crate::meta;
use crate::resources::{Resource, Storage, Sub, RESOURCES};
use crate::services::{self, Allocation, ServiceRanges};
use crate::status::{ApiError, ApiResult, Cause};
use crate::strategy;
use berth_replication::{ReadConsistency, Store, StoreError};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest,
    RequestOp, ResponseOp, TxnRequest, WriteRequest, WriteResponse,
};

/// How long a consistent read waits for the watch cache before reading the store instead.
const CACHE_WAIT: Duration = Duration::from_secs(3);
/// Internal retries of an unconditional update or a patch that lost a race.
const MAX_RETRIES: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// The writer's Lease must still be held by it (see `fence`).
    pub fence: Option<LeaseFence>,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
    pub fence: Option<LeaseFence>,
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub filter: Filter,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: Option<i64>,
    pub continue_token: Option<String>,
}

pub struct ListResult {
    pub rv: i64,
    pub items: Vec<Arc<CachedObject>>,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

/// The outcome of a delete: gone now, or marked (finalizers, grace period) and still there.
pub enum Deleted {
    Now(Value),
    Pending(Value),
}

/// Observes store calls (for `etcd_request_duration_seconds`).
pub type StoreObserver = Arc<dyn Fn(&'static str, &str, Duration) + Send + Sync>;

pub struct Registry<S: Store> {
    pub store: Arc<S>,
    caches: Vec<Option<Arc<Cache>>>,
    pub ranges: ServiceRanges,
    observe: StoreObserver,
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Storage(storage::Error::Compacted { .. }) => {
            ApiError::Expired("The resourceVersion for the provided list is too old.".into())
        }
        StoreError::Storage(storage::Error::FutureRevision { .. }) => {
            ApiError::Timeout("Too large resource version".into())
        }
        StoreError::NoLeader => {
            ApiError::ServiceUnavailable("the store has no leader; try again".into())
        }
        StoreError::Timeout | StoreError::LeaderChanged => {
            ApiError::Timeout(format!("storage request did not finish: {e}"))
        }
        other => ApiError::internal(format!("storage: {other}")),
    }
}

/// Decodes a stored value into the cache's form, with `resourceVersion` set to `rv`.
pub fn decode(r: &Resource, key: &str, value: &[u8], rv: i64) -> Option<CachedObject> {
    let mut obj: Value = serde_json::from_slice(value).ok()?;
    if !obj.is_object() {
        return None;
    }
    meta::set_resource_version(&mut obj, rv);
    let labels = meta::labels(&obj).cloned();
    let fields = strategy::field_values(r, &obj);
    let json = Bytes::from(serde_json::to_vec(&obj).ok()?);
    let uid = meta::uid(&obj).into();
    let gc_relevant = meta::deletion_timestamp(&obj).is_some()
        || obj["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
    Some(CachedObject {
        key: key.into(),
        rv,
        json,
        labels,
        fields,
        uid,
        gc_relevant,
    })
}

fn index_of(r: &Resource) -> usize {
    RESOURCES
        .iter()
        .position(|x| std::ptr::eq(x, r))
        .expect("resources come from the table")
}

impl<S: Store> Registry<S> {
    pub fn new(
        store: Arc<S>,
        ranges: ServiceRanges,
        cache_config: CacheConfig,
        events_received: &prometheus::IntCounterVec,
        observe: StoreObserver,
    ) -> Arc<Self> {
        let caches = RESOURCES
            .iter()
            .map(|r| {
                (r.storage == Storage::Stored).then(|| {
                    Cache::new(
                        r,
                        cache_config,
                        decode,
                        events_received.with_label_values(&[&r.group_resource()]),
                    )
                })
            })
            .collect();
        Arc::new(Registry {
            store,
            caches,
            ranges,
            observe,
        })
    }

    /// Starts every watch cache.
    pub fn start(&self) {
        for c in self.caches.iter().flatten() {
            c.spawn(self.store.clone());
        }
    }

    pub fn cache(&self, r: &Resource) -> Option<&Arc<Cache>> {
        self.caches[index_of(r)].as_ref()
    }

    pub fn caches(&self) -> impl Iterator<Item = &Arc<Cache>> {
        self.caches.iter().flatten()
    }

    pub fn all_synced(&self) -> bool {
        self.caches().all(|c| c.synced())
    }

    fn cache_of(&self, r: &Resource) -> ApiResult<&Arc<Cache>> {
        self.cache(r).ok_or(ApiError::MethodNotAllowed)
    }

    // ---- store access ----

    async fn read(&self, key: &str) -> ApiResult<(Option<KeyValue>, i64)> {
        let t = Instant::now();
        let resp = self
            .store
            .range(
                RangeRequest::key(key.as_bytes().to_vec()),
                ReadConsistency::Linearizable,
            )
            .await;
        (self.observe)("get", key, t.elapsed());
        let resp = resp.map_err(store_err)?;
        Ok((resp.kvs.into_iter().next(), resp.revision))
    }

    /// The store's current revision, linearizably (what a consistent read must reach).
    pub async fn current_revision(&self, r: &Resource) -> ApiResult<i64> {
        let mut req = RangeRequest::key(r.key_prefix().into_bytes());
        req.count_only = true;
        let t = Instant::now();
        let resp = self.store.range(req, ReadConsistency::Linearizable).await;
        (self.observe)("getRevision", &r.key_prefix(), t.elapsed());
        Ok(resp.map_err(store_err)?.revision)
    }

    /// Whether the store still has revision `rev` (it was not compacted away).
    pub async fn revision_available(&self, r: &Resource, rev: i64) -> ApiResult<bool> {
        let mut req = RangeRequest::key(r.key_prefix().into_bytes()).at(rev);
        req.count_only = true;
        match self.store.range(req, ReadConsistency::Linearizable).await {
            Ok(_) => Ok(true),
            Err(StoreError::Storage(storage::Error::Compacted { .. })) => Ok(false),
            Err(StoreError::Storage(storage::Error::FutureRevision { .. })) => Ok(true),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The watch cache's copy of an object and its mod revision, when the cache is synced.
    fn cached(&self, r: &Resource, ns: &str, name: &str) -> Option<(Value, i64)> {
        let c = self.cache(r).filter(|c| c.synced())?;
        let key = if r.namespaced {
            format!("{ns}/{name}")
        } else {
            name.to_string()
        };
        let o = c.get(&key)?;
        let v = o.value();
        v.is_object().then_some((v, o.rv))
    }

    async fn txn(
        &self,
        op: &'static str,
        key: &str,
        txn: TxnRequest,
    ) -> ApiResult<storage::TxnResponse> {
        let t = Instant::now();
        let resp = self.store.write(WriteRequest::Txn(txn)).await;
        (self.observe)(op, key, t.elapsed());
        match resp.map_err(store_err)? {
            WriteResponse::Txn(t) => Ok(t),
            other => Err(ApiError::internal(format!(
                "unexpected store response {other:?}"
            ))),
        }
    }

    fn value_of(kv: &KeyValue) -> ApiResult<Value> {
        let mut v: Value = serde_json::from_slice(&kv.value).map_err(|e| {
            ApiError::internal(format!(
                "stored object {} does not decode: {e}",
                String::from_utf8_lossy(&kv.key)
            ))
        })?;
        meta::set_resource_version(&mut v, kv.mod_revision);
        Ok(v)
    }

    fn encode_for_store(obj: &Value) -> ApiResult<Vec<u8>> {
        let mut o = obj.clone();
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
            m.remove("selfLink");
        }
        serde_json::to_vec(&o).map_err(ApiError::internal)
    }

    // ---- reads ----

    /// GET: a consistent read from the store, or (resourceVersion=0) whatever the cache has.
    pub async fn get(
        &self,
        r: &'static Resource,
        ns: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> ApiResult<Value> {
        if resource_version == Some("0") {
            if let Some(c) = self.cache(r).filter(|c| c.synced()) {
                let key = if r.namespaced {
                    format!("{ns}/{name}")
                } else {
                    name.to_string()
                };
                return match c.get(&key) {
                    Some(o) => Ok(o.value()),
                    None => Err(ApiError::not_found(r.plural, r.group, name)),
                };
            }
        }
        match self.read(&r.key(ns, name)).await? {
            (Some(kv), _) => Self::value_of(&kv),
            (None, _) => Err(ApiError::not_found(r.plural, r.group, name)),
        }
    }

    /// LIST with Kubernetes' resourceVersion semantics. Unpaginated lists come from the
    /// watch cache (consistent: after it reached the store's current revision); pages and
    /// exact-revision reads come from the store at the page's revision.
    pub async fn list(
        &self,
        r: &'static Resource,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> ApiResult<ListResult> {
        let cache = self.cache_of(r)?;
        let rv = match opts.resource_version.as_deref() {
            None | Some("") => None,
            Some(s) => Some(
                meta::parse_resource_version(s)
                    .map_err(ApiError::BadRequest)?
                    .unwrap_or(0),
            ),
        };
        let exact = opts.resource_version_match.as_deref() == Some("Exact");
        if let Some(m) = opts.resource_version_match.as_deref() {
            if !["Exact", "NotOlderThan", ""].contains(&m) {
                return Err(ApiError::BadRequest(format!(
                    "unsupported resourceVersionMatch: {m:?}"
                )));
            }
            if !m.is_empty() && rv.is_none() {
                return Err(ApiError::invalid(
                    "ListOptions",
                    "meta.k8s.io",
                    "",
                    vec![Cause::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    )],
                ));
            }
        }
        let limit = opts.limit.filter(|l| *l > 0);
        if opts.continue_token.is_some()
            || (limit.is_some() && rv != Some(0))
            || (exact && rv.is_some_and(|v| v > 0))
        {
            return self
                .list_from_store(r, ns, opts, rv.filter(|_| exact), limit)
                .await;
        }
        // From the cache: rv unset = consistent; 0 = any; N (NotOlderThan) = at least N.
        let min_rev = match rv {
            None => Some(self.current_revision(r).await?),
            Some(0) => None,
            Some(n) => Some(n),
        };
        let fresh = match min_rev {
            Some(m) => cache.wait_for(m, CACHE_WAIT).await,
            None => cache.synced() || cache.wait_for(0, CACHE_WAIT).await,
        };
        if !fresh {
            if rv.is_some_and(|v| v > 0) {
                return Err(ApiError::Timeout(format!(
                    "Too large resource version: {}, current: {}",
                    rv.unwrap_or(0),
                    cache.revision()
                )));
            }
            return self.list_from_store(r, ns, opts, None, limit).await;
        }
        let (rev, _, items) = cache.list(ns);
        // A limit with resourceVersion=0 is ignored, as kube-apiserver's cache does: the whole
        // list, never a truncated one without a continue token.
        let items: Vec<_> = items
            .into_iter()
            .filter(|o| opts.filter.matches(o))
            .collect();
        Ok(ListResult {
            rv: rev,
            items,
            continue_token: None,
            remaining: None,
        })
    }

    async fn list_from_store(
        &self,
        r: &'static Resource,
        ns: Option<&str>,
        opts: &ListOptions,
        at: Option<i64>,
        limit: Option<i64>,
    ) -> ApiResult<ListResult> {
        let prefix = match ns {
            Some(ns) if r.namespaced => format!("{}{ns}/", r.key_prefix()),
            _ => r.key_prefix(),
        };
        let end = storage::prefix_end(prefix.as_bytes());
        let (mut start, mut rev) = match &opts.continue_token {
            Some(tok) => {
                let (rev, start) = crate::continuation::decode(tok, &prefix)?;
                (start.into_bytes(), rev)
            }
            None => (prefix.clone().into_bytes(), at.unwrap_or(0)),
        };
        let mut items = Vec::new();
        let want = limit.unwrap_or(i64::MAX);
        loop {
            let mut req = RangeRequest::range(start.clone(), end.clone());
            // Over-fetch a little: the filter may drop some.
            req.limit = if limit.is_some() {
                (want - items.len() as i64).clamp(1, 10_000)
            } else {
                10_000
            };
            let consistency = if rev == 0 {
                ReadConsistency::Linearizable
            } else {
                ReadConsistency::Serializable
            };
            if rev != 0 {
                req = req.at(rev);
            }
            let t = Instant::now();
            let resp = self.store.range(req, consistency).await;
            (self.observe)("list", &prefix, t.elapsed());
            let resp = match resp {
                Err(StoreError::Storage(storage::Error::Compacted { .. }))
                    if opts.continue_token.is_some() =>
                {
                    return Err(ApiError::Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into()));
                }
                other => other.map_err(store_err)?,
            };
            if rev == 0 {
                rev = resp.revision;
            }
            let more = resp.more;
            let last_key = resp.kvs.last().map(|kv| kv.key.clone());
            for kv in &resp.kvs {
                let key = String::from_utf8_lossy(&kv.key);
                let Some(k) = key.strip_prefix(&r.key_prefix()) else {
                    continue;
                };
                if let Some(o) = decode(r, k, &kv.value, kv.mod_revision) {
                    if opts.filter.matches(&o) {
                        items.push(Arc::new(o));
                    }
                }
            }
            let Some(last) = last_key else { break };
            start = last;
            start.push(0);
            if !more {
                break;
            }
            if items.len() as i64 >= want {
                // More exist: hand out a continue token from after the last key returned.
                let remaining = self.count_from(&start, &end, rev).await.ok();
                let token =
                    crate::continuation::encode(rev, &String::from_utf8_lossy(&start), &prefix);
                return Ok(ListResult {
                    rv: rev,
                    items,
                    continue_token: Some(token),
                    remaining,
                });
            }
        }
        Ok(ListResult {
            rv: rev,
            items,
            continue_token: None,
            remaining: None,
        })
    }

    async fn count_from(&self, start: &[u8], end: &[u8], rev: i64) -> ApiResult<i64> {
        let mut req = RangeRequest::range(start.to_vec(), end.to_vec()).at(rev);
        req.count_only = true;
        Ok(self
            .store
            .range(req, ReadConsistency::Serializable)
            .await
            .map_err(store_err)?
            .count)
    }

    // ---- writes ----

    /// Checks NamespaceLifecycle: the namespace exists and is not terminating.
    async fn check_namespace(&self, r: &Resource, ns: &str, name: &str) -> ApiResult<()> {
        if !r.namespaced {
            return Ok(());
        }
        let nsr = crate::resources::find("", "v1", "namespaces").expect("namespaces are served");
        let obj = match self.cache(nsr).and_then(|c| c.get(ns)) {
            Some(o) => o.value(),
            // Not in this replica's cache (yet): ask the store.
            None => match self.read(&nsr.key("", ns)).await? {
                (Some(kv), _) => Self::value_of(&kv)?,
                (None, _) => return Err(ApiError::not_found("namespaces", "", ns)),
            },
        };
        if obj
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Value::as_str)
            == Some("Terminating")
            || meta::deletion_timestamp(&obj).is_some()
        {
            return Err(ApiError::Forbidden {
                message: format!("{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", crate::status::qualified(r.plural, r.group)),
                subject: Some(crate::status::Subject { group: r.group.into(), kind: r.plural.into(), name: name.into() }),
            });
        }
        Ok(())
    }

    fn priority_of(&self, class: &str) -> Option<i64> {
        let pcr = crate::resources::find("scheduling.k8s.io", "v1", "priorityclasses")?;
        let pc = self.cache(pcr)?.get(class)?.value();
        pc.get("value").and_then(Value::as_i64)
    }

    /// CREATE: the object must not exist. Returns the stored object with its resourceVersion.
    pub async fn create(
        &self,
        r: &'static Resource,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        if r.namespaced {
            meta::metadata_mut(&mut obj).insert("namespace".into(), ns.into());
        } else {
            meta::metadata_mut(&mut obj).remove("namespace");
        }
        let generate = meta::str_field(&obj, "generateName").to_string();
        if meta::name(&obj).is_empty() && !generate.is_empty() {
            meta::metadata_mut(&mut obj).insert(
                "name".into(),
                format!(
                    "{generate}{}",
                    berth_apimachinery::names::generate_name_suffix(rand::random())
                )
                .into(),
            );
        }
        strategy::prepare_create(r, &mut obj);
        strategy::default(r, &mut obj);
        self.check_namespace(r, ns, &meta::name(&obj).to_string())
            .await?;
        if let Err(c) = strategy::admit_create(r, &mut obj, |c| self.priority_of(c)) {
            return Err(ApiError::invalid(
                r.kind,
                r.group,
                meta::name(&obj),
                vec![c],
            ));
        }
        let name = meta::name(&obj).to_string();
        let causes = strategy::validate(r, &obj, None);
        if !causes.is_empty() {
            return Err(ApiError::invalid(r.kind, r.group, &name, causes));
        }
        if let Some(m) = &opts.field_manager {
            crate::managed::track(r, None, &mut obj, m, None);
        }
        let key = r.key(ns, &name);
        for _attempt in 0..MAX_RETRIES {
            let mut candidate = obj.clone();
            let alloc = if r.kind == "Service" && r.group.is_empty() {
                services::allocate(self, &mut candidate, None).await?
            } else {
                Allocation::default()
            };
            if opts.dry_run {
                return Ok(candidate);
            }
            let mut txn = TxnRequest {
                compare: vec![Compare {
                    key: key.clone().into_bytes(),
                    range_end: vec![],
                    target: CompareTarget::Create(0),
                    result: CompareResult::Equal,
                }],
                ..Default::default()
            };
            txn.success.push(RequestOp::Put(PutRequest::new(
                key.clone(),
                Self::encode_for_store(&candidate)?,
            )));
            alloc.add_to(&mut txn, &key);
            fence::maintain(r, None, Some(&candidate), &mut txn);
            txn.failure.push(RequestOp::Range(RangeRequest::key(
                key.clone().into_bytes(),
            )));
            if let Some(f) = &opts.fence {
                f.guard(&mut txn);
            }
            let resp = self.txn("create", &key, txn).await?;
            if resp.succeeded {
                meta::set_resource_version(&mut candidate, resp.revision);
                return Ok(candidate);
            }
            if let Some(e) = opts.fence.as_ref().and_then(|f| f.refused(&resp.responses)) {
                return Err(e);
            }
            let exists =
                matches!(resp.responses.first(), Some(ResponseOp::Range(rr)) if !rr.kvs.is_empty());
            if exists {
                return Err(ApiError::already_exists(r.plural, r.group, &name));
            }
            // An allocation raced with another writer: pick again.
        }
        Err(ApiError::internal(
            "could not allocate the service's addresses after several attempts",
        ))
    }

    /// UPDATE (PUT) of the main resource or a subresource. `obj` is the full new object.
    /// With a resourceVersion in `obj` the update is conditional on it (409 otherwise);
    /// without, it applies to whatever is current.
    pub async fn update(
        &self,
        r: &'static Resource,
        ns: &str,
        name: &str,
        obj: Value,
        sub: Option<Sub>,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        let wanted_rv = meta::parse_resource_version(meta::str_field(&obj, "resourceVersion"))
            .map_err(ApiError::BadRequest)?;
        self.update_with(r, ns, name, sub, opts, wanted_rv, |_| Ok(obj.clone()))
            .await
    }

    /// Read-modify-write: `mutate` maps the current object to the new one. Retries on a
    /// lost race unless the caller fixed a resourceVersion.
    pub async fn update_with(
        &self,
        r: &'static Resource,
        ns: &str,
        name: &str,
        sub: Option<Sub>,
        opts: &WriteOptions,
        wanted_rv: Option<i64>,
        mutate: impl Fn(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Value> {
        let key = r.key(ns, name);
        for attempt in 0..MAX_RETRIES {
            // First try the watch cache's copy as the current object (kube-apiserver's
            // GuaranteedUpdate does the same): the transaction's compare on its mod revision
            // makes a stale copy harmless, it only costs a retry from the store. This saves
            // a linearizable read (a ReadIndex round trip) on most updates.
            let cached = if attempt == 0 {
                self.cached(r, ns, name)
                    .filter(|(_, rv)| wanted_rv.is_none_or(|w| w == *rv))
            } else {
                None
            };
            let from_cache = cached.is_some();
            let (old, mod_revision) = match cached {
                Some(c) => c,
                None => {
                    let (kv, _) = self.read(&key).await?;
                    let Some(kv) = kv else {
                        return Err(ApiError::not_found(r.plural, r.group, name));
                    };
                    if let Some(w) = wanted_rv {
                        if w != kv.mod_revision {
                            return Err(ApiError::conflict_modified(r.plural, r.group, name));
                        }
                    }
                    (Self::value_of(&kv)?, kv.mod_revision)
                }
            };
            let mut new = match mutate(&old) {
                // A precondition failed against a possibly stale copy: ask the store.
                Err(ApiError::Conflict { .. }) if from_cache => continue,
                other => other?,
            };
            if meta::name(&new).is_empty() {
                meta::metadata_mut(&mut new).insert("name".into(), name.into());
            }
            if meta::name(&new) != name {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta::name(&new)
                )));
            }
            if r.namespaced {
                let body_ns = meta::namespace(&new).to_string();
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()));
                }
                meta::metadata_mut(&mut new).insert("namespace".into(), ns.into());
            }
            strategy::prepare_update(r, &mut new, &old, sub);
            strategy::default(r, &mut new);
            // Binding is the one way to set a pod's nodeName: not an update of an immutable spec.
            let causes = strategy::validate(
                r,
                &new,
                if sub == Some(Sub::Binding) {
                    None
                } else {
                    Some(&old)
                },
            );
            if !causes.is_empty() {
                return Err(ApiError::invalid(r.kind, r.group, name, causes));
            }
            if let Some(m) = &opts.field_manager {
                crate::managed::track(r, Some(&old), &mut new, m, sub);
            }
            let mut alloc = Allocation::default();
            if r.kind == "Service" && r.group.is_empty() && sub.is_none() {
                alloc = services::allocate(self, &mut new, Some(&old)).await?;
            }
            // Deleting and no finalizer left: the update completes the deletion.
            let finalize_now = meta::deletion_timestamp(&new).is_some()
                && meta::finalizers(&new).is_empty()
                && namespace_finalizers_done(r, &new)
                && !is_graceful_pod_pending(r, &new);
            let unchanged = strip_rv(&new) == strip_rv(&old);
            if unchanged && !finalize_now && from_cache {
                // Nothing to write against a copy that may be stale: confirm with the store.
                continue;
            }
            if unchanged && !finalize_now {
                // A no-op update writes nothing (Kubernetes skips the store write too).
                meta::set_resource_version(&mut new, mod_revision);
                return Ok(new);
            }
            if opts.dry_run {
                meta::set_resource_version(&mut new, mod_revision);
                return Ok(new);
            }
            let cmp = Compare {
                key: key.clone().into_bytes(),
                range_end: vec![],
                target: CompareTarget::Mod(mod_revision),
                result: CompareResult::Equal,
            };
            let mut txn = TxnRequest {
                compare: vec![cmp],
                ..Default::default()
            };
            if finalize_now {
                txn.success
                    .push(RequestOp::DeleteRange(DeleteRangeRequest::key(key.clone())));
                services::release_ops(r, &old, &mut txn);
                fence::maintain(r, Some(&old), None, &mut txn);
            } else {
                txn.success.push(RequestOp::Put(PutRequest::new(
                    key.clone(),
                    Self::encode_for_store(&new)?,
                )));
                alloc.add_to(&mut txn, &key);
                fence::maintain(r, Some(&old), Some(&new), &mut txn);
            }
            if let Some(f) = &opts.fence {
                f.guard(&mut txn);
            }
            let resp = self.txn("update", &key, txn).await?;
            if resp.succeeded {
                meta::set_resource_version(&mut new, resp.revision);
                return Ok(new);
            }
            if let Some(e) = opts.fence.as_ref().and_then(|f| f.refused(&resp.responses)) {
                return Err(e);
            }
            if wanted_rv.is_some() {
                return Err(ApiError::conflict_modified(r.plural, r.group, name));
            }
        }
        Err(ApiError::conflict_modified(r.plural, r.group, name))
    }

    /// DELETE with preconditions, grace period and propagation policy.
    pub async fn delete(
        &self,
        r: &'static Resource,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let key = r.key(ns, name);
        for _attempt in 0..MAX_RETRIES {
            let (kv, _) = self.read(&key).await?;
            let Some(kv) = kv else {
                return Err(ApiError::not_found(r.plural, r.group, name));
            };
            let cur = Self::value_of(&kv)?;
            if let Some(uid) = &opts.precondition_uid {
                if uid != meta::uid(&cur) {
                    return Err(ApiError::conflict(r.plural, r.group, name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta::uid(&cur))));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                if *rv != kv.mod_revision.to_string() {
                    return Err(ApiError::conflict(r.plural, r.group, name, &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", kv.mod_revision)));
                }
            }
            let mut obj = cur.clone();
            let mut finalizers = meta::finalizers(&obj);
            match opts.propagation_policy.as_deref() {
                Some("Orphan") if crate::bootstrap::has_dependents(self, &cur) && !finalizers.iter().any(|f| f == "orphan") => finalizers.push("orphan".into()),
                Some("Foreground") if crate::bootstrap::has_dependents(self, &cur) && !finalizers.iter().any(|f| f == "foregroundDeletion") => finalizers.push("foregroundDeletion".into()),
                Some("Orphan" | "Foreground" | "Background") | None => {}
                Some(other) => return Err(ApiError::BadRequest(format!("propagationPolicy {other:?} is not supported; use Orphan, Background or Foreground"))),
            }
            let grace = pod_grace(r, &cur, opts.grace_period_seconds);
            let is_ns = r.kind == "Namespace" && r.group.is_empty();
            let pending = !finalizers.is_empty()
                || grace > 0
                || (is_ns && !namespace_finalizers_done(r, &cur));
            if pending {
                let already = meta::deletion_timestamp(&cur).is_some();
                let m = meta::metadata_mut(&mut obj);
                if !already || grace > 0 {
                    let when =
                        std::time::SystemTime::now() + Duration::from_secs(grace.max(0) as u64);
                    let shorter = m
                        .get("deletionGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .is_none_or(|g| grace < g);
                    if !already || shorter {
                        m.insert("deletionTimestamp".into(), meta::rfc3339(when).into());
                        m.insert("deletionGracePeriodSeconds".into(), grace.into());
                    }
                }
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                if is_ns {
                    obj["status"]["phase"] = "Terminating".into();
                }
                if strip_rv(&obj) == strip_rv(&cur) || opts.dry_run {
                    return Ok(Deleted::Pending(obj));
                }
                let cmp = Compare {
                    key: key.clone().into_bytes(),
                    range_end: vec![],
                    target: CompareTarget::Mod(kv.mod_revision),
                    result: CompareResult::Equal,
                };
                let mut txn = TxnRequest {
                    compare: vec![cmp],
                    success: vec![RequestOp::Put(PutRequest::new(
                        key.clone(),
                        Self::encode_for_store(&obj)?,
                    ))],
                    failure: vec![],
                };
                fence::maintain(r, Some(&cur), Some(&obj), &mut txn);
                if let Some(f) = &opts.fence {
                    f.guard(&mut txn);
                }
                let resp = self.txn("update", &key, txn).await?;
                if resp.succeeded {
                    meta::set_resource_version(&mut obj, resp.revision);
                    return Ok(Deleted::Pending(obj));
                }
                if let Some(e) = opts.fence.as_ref().and_then(|f| f.refused(&resp.responses)) {
                    return Err(e);
                }
                continue;
            }
            if opts.dry_run {
                return Ok(Deleted::Now(cur));
            }
            let cmp = Compare {
                key: key.clone().into_bytes(),
                range_end: vec![],
                target: CompareTarget::Mod(kv.mod_revision),
                result: CompareResult::Equal,
            };
            let mut txn = TxnRequest {
                compare: vec![cmp],
                success: vec![RequestOp::DeleteRange(DeleteRangeRequest::key(key.clone()))],
                failure: vec![],
            };
            services::release_ops(r, &cur, &mut txn);
            fence::maintain(r, Some(&cur), None, &mut txn);
            if let Some(f) = &opts.fence {
                f.guard(&mut txn);
            }
            let resp = self.txn("delete", &key, txn).await?;
            if resp.succeeded {
                let mut gone = cur;
                meta::set_resource_version(&mut gone, resp.revision);
                return Ok(Deleted::Now(gone));
            }
            if let Some(e) = opts.fence.as_ref().and_then(|f| f.refused(&resp.responses)) {
                return Err(e);
            }
        }
        Err(ApiError::conflict_modified(r.plural, r.group, name))
    }
}

fn strip_rv(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

/// A namespace is removed only once its spec.finalizers (the content cleanup) are empty.
fn namespace_finalizers_done(r: &Resource, obj: &Value) -> bool {
    if r.kind != "Namespace" || !r.group.is_empty() {
        return true;
    }
    obj.get("spec")
        .and_then(|s| s.get("finalizers"))
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
}

/// A pod marked for graceful deletion stays until its node confirms (grace 0 delete).
fn is_graceful_pod_pending(r: &Resource, obj: &Value) -> bool {
    r.kind == "Pod"
        && r.group.is_empty()
        && obj["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .is_some_and(|g| g > 0)
}

/// The grace period a delete of this object gets: pods bound to a node and still running
/// get theirs (the request's, else the pod's terminationGracePeriodSeconds); everything
/// else goes at once.
fn pod_grace(r: &Resource, pod: &Value, requested: Option<i64>) -> i64 {
    if r.kind != "Pod" || !r.group.is_empty() {
        return 0;
    }
    let bound = pod["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    let g = requested.unwrap_or_else(|| {
        pod["spec"]["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(30)
    });
    // Kubernetes turns a requested 0 into 1 unless forced; a forced delete sends 0 too, and
    // the node agent's confirmation sends 0: treat 0 as immediate.
    g.max(0)
}
