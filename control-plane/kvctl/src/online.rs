//! Online commands over the etcd v3 API (`etcd-client`): connecting (TLS from the cluster
//! CA and a client certificate), KV, watch, txn, leases, members, status, compaction,
//! defragmentation. Every request is bounded by `--timeout`; streams (watch, keep-alive)
//! run until Ctrl-C.

use crate::cli::{GetArgs, Global, LeaseCommand, MemberCommand};
use crate::offline::{kv_table, KvOut};
use crate::render::{
    self, emit, fields, hex, human_bytes, lease_hex, ser_hex, ser_lease, Bytes, Format, Report,
    Table,
};
use crate::txn::{CmpOp, KeyRange, OpSpec, Target, TxnSpec};
use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, PutOptions, TlsOptions,
    Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use serde::Serialize;
use std::future::Future;
use std::io::Read;
use std::time::Duration;

/// A failed RPC as one line: etcd's own message when it has one.
pub fn rpc_error(e: etcd_client::Error) -> anyhow::Error {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            let msg = s.message().replace('\n', " ");
            if msg.starts_with("etcdserver:") || msg.starts_with("mvcc:") {
                anyhow!("{msg}")
            } else if msg.is_empty() {
                anyhow!("{:?}", s.code())
            } else {
                anyhow!("{:?}: {msg}", s.code())
            }
        }
        etcd_client::Error::TransportError(t) => {
            let mut msg = t.to_string();
            let mut src = std::error::Error::source(&t);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            anyhow!("transport error: {msg}")
        }
        other => anyhow!("{other}"),
    }
}

/// Runs one request under the timeout.
pub async fn call<T>(
    timeout: Duration,
    fut: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(rpc_error),
        Err(_) => bail!("request timed out after {timeout:?}"),
    }
}

/// `host:port` of an endpoint URL.
fn authority(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest)
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("failed to read the {what} {}", path.display()))
}

/// Connection settings from the global flags.
fn options(g: &Global) -> Result<ConnectOptions> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(g.timeout)
        .with_keep_alive(Duration::from_secs(30), g.timeout);
    let tls_flags = g.cacert.is_some() || g.cert.is_some();
    if tls_flags {
        if let Some(e) = g.endpoints.iter().find(|e| e.starts_with("http://")) {
            bail!("--cacert/--cert/--key need https:// endpoints, not {e}");
        }
        let mut tls = TlsOptions::new();
        if let Some(ca) = &g.cacert {
            tls = tls.ca_certificate(etcd_client::Certificate::from_pem(read_file(
                ca,
                "CA certificate",
            )?));
        }
        if let (Some(cert), Some(key)) = (&g.cert, &g.key_file) {
            tls = tls.identity(etcd_client::Identity::from_pem(
                read_file(cert, "client certificate")?,
                read_file(key, "client key")?,
            ));
        }
        opts = opts.with_tls(tls);
    } else if g.endpoints.iter().any(|e| e.starts_with("https://")) {
        bail!("https:// endpoints need --cacert (the cluster CA), and --cert/--key if the server asks for a client certificate");
    }
    Ok(opts)
}

fn check_endpoints(endpoints: &[String]) -> Result<Vec<String>> {
    let eps: Vec<String> = endpoints
        .iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if eps.is_empty() {
        bail!("no endpoints given");
    }
    for e in &eps {
        if e.contains("://") && !(e.starts_with("http://") || e.starts_with("https://")) {
            bail!("endpoint {e} must start with http:// or https://");
        }
        if !authority(e).contains(':') {
            bail!("endpoint {e} has no port");
        }
    }
    Ok(eps)
}

/// Connects to the endpoints that accept a TCP connection (a client over unreachable
/// endpoints would only wait); fails with the first dial error when none does.
pub async fn connect(g: &Global, endpoints: &[String]) -> Result<Client> {
    let eps = check_endpoints(endpoints)?;
    let opts = options(g)?;
    let mut reachable = Vec::new();
    let mut errors = Vec::new();
    for e in &eps {
        match tokio::time::timeout(g.timeout, tokio::net::TcpStream::connect(authority(e))).await {
            Ok(Ok(_)) => reachable.push(e.clone()),
            Ok(Err(err)) => errors.push(format!("{e}: {err}")),
            Err(_) => errors.push(format!("{e}: timed out after {:?}", g.timeout)),
        }
    }
    if reachable.is_empty() {
        bail!("failed to connect to {}", errors.join("; "));
    }
    match tokio::time::timeout(g.timeout, Client::connect(&reachable, Some(opts))).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            Err(rpc_error(e).context(format!("failed to connect to {}", reachable.join(","))))
        }
        Err(_) => bail!(
            "failed to connect to {}: timed out after {:?}",
            reachable.join(","),
            g.timeout
        ),
    }
}

fn kv_out(kv: &etcd_client::KeyValue, with_value: bool) -> KvOut {
    KvOut {
        key: Bytes(kv.key().to_vec()),
        value: with_value.then(|| Bytes(kv.value().to_vec())),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

fn header_revision(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.map(|h| h.revision()).unwrap_or(0)
}

// ---- get / put / del ------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub revision: i64,
    pub count: i64,
    pub more: bool,
    pub kvs: Vec<KvOut>,
}

impl Report for GetReport {
    fn table(&self) -> String {
        let mut s = kv_table(&self.kvs);
        s.push_str(&format!("{} keys, revision {}", self.count, self.revision));
        if self.more {
            s.push_str(&format!("; showing {}", self.kvs.len()));
        }
        s.push('\n');
        s
    }
}

pub async fn get(c: &mut Client, g: &Global, a: &GetArgs) -> Result<GetReport> {
    let mut o = GetOptions::new();
    if a.prefix {
        o = o.with_prefix();
    }
    if a.from_key {
        o = o.with_from_key();
    }
    if a.rev > 0 {
        o = o.with_revision(a.rev);
    }
    if a.limit > 0 {
        o = o.with_limit(a.limit);
    }
    if a.keys_only {
        o = o.with_keys_only();
    }
    let resp = call(g.timeout, c.get(a.key.as_bytes(), Some(o)))
        .await
        .with_context(|| format!("failed to get {}", a.key))?;
    Ok(GetReport {
        revision: header_revision(resp.header()),
        count: resp.count(),
        more: resp.more(),
        kvs: resp
            .kvs()
            .iter()
            .map(|kv| kv_out(kv, !a.keys_only))
            .collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct PutReport {
    pub revision: i64,
}

impl Report for PutReport {
    fn table(&self) -> String {
        format!("OK (revision {})", self.revision)
    }
}

pub async fn put(
    c: &mut Client,
    g: &Global,
    key: &str,
    value: &str,
    lease: Option<i64>,
) -> Result<PutReport> {
    let o = lease.map(|l| PutOptions::new().with_lease(l));
    let resp = call(g.timeout, c.put(key.as_bytes(), value.as_bytes(), o))
        .await
        .with_context(|| format!("failed to put {key}"))?;
    Ok(PutReport {
        revision: header_revision(resp.header()),
    })
}

#[derive(Debug, Serialize)]
pub struct DelReport {
    pub deleted: i64,
    pub revision: i64,
}

impl Report for DelReport {
    fn table(&self) -> String {
        format!("{} deleted (revision {})", self.deleted, self.revision)
    }
}

pub async fn del(c: &mut Client, g: &Global, key: &str, prefix: bool) -> Result<DelReport> {
    let o = prefix.then(|| DeleteOptions::new().with_prefix());
    let resp = call(g.timeout, c.delete(key.as_bytes(), o))
        .await
        .with_context(|| format!("failed to delete {key}"))?;
    Ok(DelReport {
        deleted: resp.deleted(),
        revision: header_revision(resp.header()),
    })
}

// ---- watch ----------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct EventOut {
    #[serde(rename = "type")]
    kind: &'static str,
    key: Bytes,
    value: Bytes,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    #[serde(serialize_with = "ser_lease")]
    lease: i64,
}

/// Prints events as they come (one line each) until Ctrl-C.
pub async fn watch(
    c: &mut Client,
    g: &Global,
    key: &str,
    prefix: bool,
    rev: Option<i64>,
) -> Result<()> {
    let mut o = WatchOptions::new();
    if prefix {
        o = o.with_prefix();
    }
    if let Some(r) = rev {
        o = o.with_start_revision(r);
    }
    let mut stream = call(g.timeout, c.watch(key.as_bytes(), Some(o)))
        .await
        .with_context(|| format!("failed to watch {key}"))?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let msg = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            m = stream.message() => m,
        };
        let resp = match msg.map_err(rpc_error).context("watch failed")? {
            Some(r) => r,
            None => bail!("the server closed the watch"),
        };
        if resp.canceled() {
            let why = resp.cancel_reason();
            if resp.compact_revision() > 0 {
                bail!("watch canceled: revision compacted (compact revision {}); restart it from a later --rev", resp.compact_revision());
            }
            bail!(
                "watch canceled{}",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            );
        }
        let mut out = String::new();
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let kind = match ev.event_type() {
                etcd_client::EventType::Put => "PUT",
                etcd_client::EventType::Delete => "DELETE",
            };
            match g.output {
                Format::Json => {
                    let e = EventOut {
                        kind: if kind == "PUT" { "put" } else { "delete" },
                        key: Bytes(kv.key().to_vec()),
                        value: Bytes(kv.value().to_vec()),
                        create_revision: kv.create_revision(),
                        mod_revision: kv.mod_revision(),
                        version: kv.version(),
                        lease: kv.lease(),
                    };
                    out.push_str(&serde_json::to_string(&e).unwrap_or_default());
                }
                Format::Table => {
                    out.push_str(&format!("{kind:<6}  {}", render::show_bytes(kv.key())));
                    if kind == "PUT" {
                        out.push_str(&format!("  {}", render::show_bytes(kv.value())));
                    }
                    out.push_str(&format!("  (revision {})", kv.mod_revision()));
                }
            }
            out.push('\n');
        }
        render::write_stdout(&out);
    }
}

// ---- txn ------------------------------------------------------------------------------

/// The longest txn spec read from stdin.
const MAX_TXN_INPUT_BYTES: u64 = 16 << 20;

pub fn read_txn_spec() -> Result<TxnSpec> {
    let mut input = String::new();
    std::io::stdin()
        .take(MAX_TXN_INPUT_BYTES)
        .read_to_string(&mut input)
        .context("failed to read the txn from stdin")?;
    crate::txn::parse(&input).map_err(|e| anyhow!("bad txn: {e}"))
}

fn to_range_get(range: &KeyRange, o: GetOptions) -> GetOptions {
    match range {
        KeyRange::One => o,
        KeyRange::Prefix => o.with_prefix(),
        KeyRange::FromKey => o.with_from_key(),
        KeyRange::To(end) => o.with_range(end.clone()),
    }
}

fn to_txn(spec: &TxnSpec) -> Txn {
    let cmp_op = |op: CmpOp| match op {
        CmpOp::Equal => CompareOp::Equal,
        CmpOp::NotEqual => CompareOp::NotEqual,
        CmpOp::Greater => CompareOp::Greater,
        CmpOp::Less => CompareOp::Less,
    };
    let compares: Vec<Compare> = spec
        .compares
        .iter()
        .map(|c| {
            let k = c.key.clone();
            match &c.target {
                Target::Value(v) => Compare::value(k, cmp_op(c.op), v.clone()),
                Target::Version(v) => Compare::version(k, cmp_op(c.op), *v),
                Target::Create(v) => Compare::create_revision(k, cmp_op(c.op), *v),
                Target::Mod(v) => Compare::mod_revision(k, cmp_op(c.op), *v),
                Target::Lease(v) => Compare::lease(k, cmp_op(c.op), *v),
            }
        })
        .collect();
    let ops = |ops: &[OpSpec]| -> Vec<TxnOp> {
        ops.iter()
            .map(|op| match op {
                OpSpec::Get {
                    key,
                    range,
                    limit,
                    rev,
                    keys_only,
                } => {
                    let mut o = to_range_get(range, GetOptions::new());
                    if *limit > 0 {
                        o = o.with_limit(*limit);
                    }
                    if *rev > 0 {
                        o = o.with_revision(*rev);
                    }
                    if *keys_only {
                        o = o.with_keys_only();
                    }
                    TxnOp::get(key.clone(), Some(o))
                }
                OpSpec::Put { key, value, lease } => TxnOp::put(
                    key.clone(),
                    value.clone(),
                    (*lease != 0).then(|| PutOptions::new().with_lease(*lease)),
                ),
                OpSpec::Del { key, range } => {
                    let o = match range {
                        KeyRange::One => None,
                        KeyRange::Prefix => Some(DeleteOptions::new().with_prefix()),
                        KeyRange::FromKey => Some(DeleteOptions::new().with_from_key()),
                        KeyRange::To(end) => Some(DeleteOptions::new().with_range(end.clone())),
                    };
                    TxnOp::delete(key.clone(), o)
                }
            })
            .collect()
    };
    Txn::new()
        .when(compares)
        .and_then(ops(&spec.success))
        .or_else(ops(&spec.failure))
}

#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum OpResult {
    Get {
        count: i64,
        more: bool,
        kvs: Vec<KvOut>,
    },
    Put {
        revision: i64,
    },
    Del {
        deleted: i64,
    },
    Txn {
        succeeded: bool,
    },
}

#[derive(Debug, Serialize)]
pub struct TxnReport {
    pub succeeded: bool,
    pub revision: i64,
    pub responses: Vec<OpResult>,
}

impl Report for TxnReport {
    fn table(&self) -> String {
        let mut s = format!(
            "{} (revision {})\n",
            if self.succeeded { "SUCCESS" } else { "FAILURE" },
            self.revision
        );
        for r in &self.responses {
            match r {
                OpResult::Get { count, kvs, .. } => {
                    s.push_str(&format!("\nget: {count} keys\n"));
                    if !kvs.is_empty() {
                        s.push_str(&kv_table(kvs));
                    }
                }
                OpResult::Put { .. } => s.push_str("\nput: OK\n"),
                OpResult::Del { deleted } => s.push_str(&format!("\ndel: {deleted} deleted\n")),
                OpResult::Txn { succeeded } => s.push_str(&format!(
                    "\ntxn: {}\n",
                    if *succeeded { "SUCCESS" } else { "FAILURE" }
                )),
            }
        }
        s
    }
}

pub async fn txn(c: &mut Client, g: &Global, spec: &TxnSpec) -> Result<TxnReport> {
    let resp = call(g.timeout, c.txn(to_txn(spec)))
        .await
        .context("txn failed")?;
    let keys_only: Vec<bool> = if resp.succeeded() {
        &spec.success
    } else {
        &spec.failure
    }
    .iter()
    .map(|op| {
        matches!(
            op,
            OpSpec::Get {
                keys_only: true,
                ..
            }
        )
    })
    .collect();
    let responses = resp
        .op_responses()
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            TxnOpResponse::Get(g) => OpResult::Get {
                count: g.count(),
                more: g.more(),
                kvs: g
                    .kvs()
                    .iter()
                    .map(|kv| kv_out(kv, !keys_only.get(i).copied().unwrap_or(false)))
                    .collect(),
            },
            TxnOpResponse::Put(p) => OpResult::Put {
                revision: header_revision(p.header()),
            },
            TxnOpResponse::Delete(d) => OpResult::Del {
                deleted: d.deleted(),
            },
            TxnOpResponse::Txn(t) => OpResult::Txn {
                succeeded: t.succeeded(),
            },
        })
        .collect();
    Ok(TxnReport {
        succeeded: resp.succeeded(),
        revision: header_revision(resp.header()),
        responses,
    })
}

// ---- leases ---------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct LeaseReport {
    #[serde(serialize_with = "ser_lease")]
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_ttl_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<Bytes>>,
    #[serde(skip)]
    pub what: &'static str,
}

impl Report for LeaseReport {
    fn table(&self) -> String {
        let id = lease_hex(self.id);
        match self.what {
            "grant" => format!(
                "lease {id} granted with TTL({}s)",
                self.ttl_secs.unwrap_or(0)
            ),
            "revoke" => format!("lease {id} revoked"),
            "keep-alive" => format!(
                "lease {id} keepalived with TTL({})",
                self.ttl_secs.unwrap_or(0)
            ),
            _ => {
                let mut s = fields(&[
                    ("id", id),
                    (
                        "granted TTL",
                        format!("{}s", self.granted_ttl_secs.unwrap_or(0)),
                    ),
                    ("remaining TTL", format!("{}s", self.ttl_secs.unwrap_or(0))),
                ]);
                if let Some(keys) = &self.keys {
                    let mut t = Table::new(["ATTACHED KEY"]);
                    for k in keys {
                        t.row([k.show()]);
                    }
                    s.push_str(&t.render());
                }
                s
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LeaseListReport {
    #[serde(serialize_with = "ser_lease_list")]
    pub leases: Vec<i64>,
}

fn ser_lease_list<S: serde::Serializer>(ids: &[i64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(|i| lease_hex(*i)))
}

impl Report for LeaseListReport {
    fn table(&self) -> String {
        let mut t = Table::new(["ID"]);
        for id in &self.leases {
            t.row([lease_hex(*id)]);
        }
        let mut s = t.render();
        s.push_str(&format!("{} leases\n", self.leases.len()));
        s
    }
}

pub async fn lease(c: &mut Client, g: &Global, cmd: &LeaseCommand) -> Result<()> {
    let none = LeaseReport {
        id: 0,
        ttl_secs: None,
        granted_ttl_secs: None,
        keys: None,
        what: "",
    };
    match cmd {
        LeaseCommand::Grant { ttl_secs } => {
            let r = call(g.timeout, c.lease_grant(*ttl_secs, None))
                .await
                .context("failed to grant a lease")?;
            if !r.error().is_empty() {
                bail!("failed to grant a lease: {}", r.error());
            }
            emit(
                &LeaseReport {
                    id: r.id(),
                    ttl_secs: Some(r.ttl()),
                    what: "grant",
                    ..none
                },
                g.output,
            );
        }
        LeaseCommand::Revoke { id } => {
            call(g.timeout, c.lease_revoke(*id))
                .await
                .with_context(|| format!("failed to revoke lease {}", lease_hex(*id)))?;
            emit(
                &LeaseReport {
                    id: *id,
                    what: "revoke",
                    ..none
                },
                g.output,
            );
        }
        LeaseCommand::Timetolive { id, keys } => {
            let o = keys.then(|| etcd_client::LeaseTimeToLiveOptions::new().with_keys());
            let r = call(g.timeout, c.lease_time_to_live(*id, o))
                .await
                .with_context(|| format!("failed to read lease {}", lease_hex(*id)))?;
            if r.ttl() == -1 {
                bail!("lease {} not found (expired or revoked)", lease_hex(*id));
            }
            let report = LeaseReport {
                id: *id,
                ttl_secs: Some(r.ttl()),
                granted_ttl_secs: Some(r.granted_ttl()),
                keys: keys.then(|| r.keys().iter().map(|k| Bytes(k.clone())).collect()),
                what: "timetolive",
            };
            emit(&report, g.output);
        }
        LeaseCommand::List => {
            let r = call(g.timeout, c.leases())
                .await
                .context("failed to list leases")?;
            emit(
                &LeaseListReport {
                    leases: r.leases().iter().map(|l| l.id()).collect(),
                },
                g.output,
            );
        }
        LeaseCommand::KeepAlive { id, once } => keep_alive(c, g, *id, *once).await?,
    }
    Ok(())
}

async fn keep_alive(c: &mut Client, g: &Global, id: i64, once: bool) -> Result<()> {
    let what = || format!("failed to keep lease {} alive", lease_hex(id));
    // Opening the stream renews once and fails if the lease is gone.
    let (mut keeper, mut stream) = call(g.timeout, c.lease_keep_alive(id))
        .await
        .with_context(what)?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        call(g.timeout, keeper.keep_alive())
            .await
            .with_context(what)?;
        let resp = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            r = tokio::time::timeout(g.timeout, stream.message()) => r,
        };
        let resp = match resp {
            Err(_) => bail!("{}: no answer within {:?}", what(), g.timeout),
            Ok(r) => r.map_err(rpc_error).with_context(what)?,
        };
        let Some(resp) = resp else {
            bail!("{}: the server closed the stream", what())
        };
        if resp.ttl() <= 0 {
            bail!("lease {} expired or was revoked", lease_hex(id));
        }
        let report = LeaseReport {
            id,
            ttl_secs: Some(resp.ttl()),
            granted_ttl_secs: None,
            keys: None,
            what: "keep-alive",
        };
        match g.output {
            Format::Json => render::write_stdout(&format!(
                "{}\n",
                serde_json::to_string(&report).unwrap_or_default()
            )),
            Format::Table => render::write_stdout(&format!("{}\n", report.table())),
        }
        if once {
            return Ok(());
        }
        // Renew at a third of the TTL, as etcd's clients do.
        let wait = Duration::from_millis((resp.ttl() as u64 * 1000 / 3).max(500));
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

// ---- members --------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct MemberOut {
    #[serde(serialize_with = "ser_hex")]
    pub id: u64,
    pub name: String,
    /// `started` once the member has published its name, `unstarted` before.
    pub status: &'static str,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

fn member_out(m: &etcd_client::Member) -> MemberOut {
    MemberOut {
        id: m.id(),
        name: m.name().to_string(),
        status: if m.name().is_empty() {
            "unstarted"
        } else {
            "started"
        },
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        is_learner: m.is_learner(),
    }
}

fn members_table(members: &[MemberOut]) -> String {
    let mut t = Table::new([
        "ID",
        "STATUS",
        "NAME",
        "PEER ADDRS",
        "CLIENT ADDRS",
        "IS LEARNER",
    ]);
    for m in members {
        t.row([
            hex(m.id),
            m.status.to_string(),
            m.name.clone(),
            m.peer_urls.join(","),
            m.client_urls.join(","),
            m.is_learner.to_string(),
        ]);
    }
    t.render()
}

#[derive(Debug, Serialize)]
pub struct MemberListReport {
    #[serde(serialize_with = "ser_hex")]
    pub cluster_id: u64,
    pub members: Vec<MemberOut>,
}

impl Report for MemberListReport {
    fn table(&self) -> String {
        members_table(&self.members)
    }
}

#[derive(Debug, Serialize)]
pub struct MemberChangeReport {
    pub action: &'static str,
    #[serde(serialize_with = "ser_hex")]
    pub id: u64,
    #[serde(serialize_with = "ser_hex")]
    pub cluster_id: u64,
    /// For `add`: the new member's name and the `--initial-cluster` to start it with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_cluster: Option<String>,
    pub members: Vec<MemberOut>,
}

impl Report for MemberChangeReport {
    fn table(&self) -> String {
        let mut s = match self.action {
            "add" => format!(
                "Member {} added to cluster {}\n",
                hex(self.id),
                hex(self.cluster_id)
            ),
            "remove" => format!(
                "Member {} removed from cluster {}\n",
                hex(self.id),
                hex(self.cluster_id)
            ),
            "update" => format!(
                "Member {} updated in cluster {}\n",
                hex(self.id),
                hex(self.cluster_id)
            ),
            _ => format!(
                "Member {} promoted in cluster {}\n",
                hex(self.id),
                hex(self.cluster_id)
            ),
        };
        if let (Some(name), Some(ic)) = (&self.name, &self.initial_cluster) {
            let urls = self
                .members
                .iter()
                .find(|m| m.id == self.id)
                .map(|m| m.peer_urls.join(","))
                .unwrap_or_default();
            s.push_str(&format!(
                "\nStart it with:\n  control-plane --name {name} --initial-advertise-peer-urls {urls} --initial-cluster {ic} --initial-cluster-state existing ...\n\n"
            ));
        }
        s.push_str(&members_table(&self.members));
        s
    }
}

/// `name=url,...` for every started member and the new one (etcd's ETCD_INITIAL_CLUSTER).
fn initial_cluster(members: &[MemberOut], new_id: u64, new_name: &str) -> String {
    let mut parts = Vec::new();
    for m in members {
        let name = if m.id == new_id {
            new_name
        } else {
            m.name.as_str()
        };
        if name.is_empty() {
            continue;
        }
        for u in &m.peer_urls {
            parts.push(format!("{name}={u}"));
        }
    }
    parts.join(",")
}

pub async fn member(c: &mut Client, g: &Global, cmd: &MemberCommand) -> Result<()> {
    let cluster_id =
        |h: Option<&etcd_client::ResponseHeader>| h.map(|h| h.cluster_id()).unwrap_or(0);
    match cmd {
        MemberCommand::List => {
            let r = call(g.timeout, c.member_list())
                .await
                .context("failed to list members")?;
            emit(
                &MemberListReport {
                    cluster_id: cluster_id(r.header()),
                    members: r.members().iter().map(member_out).collect(),
                },
                g.output,
            );
        }
        MemberCommand::Add {
            name,
            peer_urls,
            learner,
        } => {
            let o = learner.then(|| etcd_client::MemberAddOptions::new().with_is_learner());
            let r = call(g.timeout, c.member_add(peer_urls.clone(), o))
                .await
                .with_context(|| format!("failed to add member {name}"))?;
            let id = r
                .member()
                .map(|m| m.id())
                .ok_or_else(|| anyhow!("the server did not return the new member"))?;
            let members: Vec<MemberOut> = r.member_list().iter().map(member_out).collect();
            let report = MemberChangeReport {
                action: "add",
                id,
                cluster_id: cluster_id(r.header()),
                name: Some(name.clone()),
                initial_cluster: Some(initial_cluster(&members, id, name)),
                members,
            };
            emit(&report, g.output);
        }
        MemberCommand::Remove { id } => {
            let r = call(g.timeout, c.member_remove(*id))
                .await
                .with_context(|| format!("failed to remove member {}", hex(*id)))?;
            emit(
                &MemberChangeReport {
                    action: "remove",
                    id: *id,
                    cluster_id: cluster_id(r.header()),
                    name: None,
                    initial_cluster: None,
                    members: r.members().iter().map(member_out).collect(),
                },
                g.output,
            );
        }
        MemberCommand::Update { id, peer_urls } => {
            let r = call(g.timeout, c.member_update(*id, peer_urls.clone()))
                .await
                .with_context(|| format!("failed to update member {}", hex(*id)))?;
            emit(
                &MemberChangeReport {
                    action: "update",
                    id: *id,
                    cluster_id: cluster_id(r.header()),
                    name: None,
                    initial_cluster: None,
                    members: r.members().iter().map(member_out).collect(),
                },
                g.output,
            );
        }
        MemberCommand::Promote { id } => {
            let r = call(g.timeout, c.member_promote(*id))
                .await
                .with_context(|| format!("failed to promote member {}", hex(*id)))?;
            emit(
                &MemberChangeReport {
                    action: "promote",
                    id: *id,
                    cluster_id: cluster_id(r.header()),
                    name: None,
                    initial_cluster: None,
                    members: r.members().iter().map(member_out).collect(),
                },
                g.output,
            );
        }
    }
    Ok(())
}

// ---- status / compact / defrag ----------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct EndpointStatus {
    pub endpoint: String,
    #[serde(serialize_with = "ser_hex")]
    pub id: u64,
    #[serde(serialize_with = "ser_hex")]
    pub leader: u64,
    pub is_leader: bool,
    pub is_learner: bool,
    pub version: String,
    pub db_size_bytes: i64,
    pub db_size_in_use_bytes: i64,
    pub revision: i64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub endpoints: Vec<EndpointStatus>,
    /// Endpoints that did not answer, with why.
    pub failed: Vec<EndpointError>,
}

#[derive(Debug, Serialize)]
pub struct EndpointError {
    pub endpoint: String,
    pub error: String,
}

impl Report for StatusReport {
    fn table(&self) -> String {
        let mut t = Table::new([
            "ENDPOINT",
            "ID",
            "VERSION",
            "DB SIZE",
            "IS LEADER",
            "IS LEARNER",
            "RAFT TERM",
            "RAFT INDEX",
            "RAFT APPLIED",
            "REVISION",
            "ERRORS",
        ]);
        for s in &self.endpoints {
            t.row([
                s.endpoint.clone(),
                hex(s.id),
                s.version.clone(),
                human_bytes(s.db_size_bytes.max(0) as u64),
                s.is_leader.to_string(),
                s.is_learner.to_string(),
                s.raft_term.to_string(),
                s.raft_index.to_string(),
                s.raft_applied_index.to_string(),
                s.revision.to_string(),
                s.errors.join("; "),
            ]);
        }
        t.render()
    }
}

/// Runs `f` against each endpoint on its own connection; collects answers and failures.
async fn per_endpoint<T, F, Fut>(g: &Global, mut f: F) -> (Vec<T>, Vec<EndpointError>)
where
    F: FnMut(Client, String) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for ep in &g.endpoints {
        let ep = ep.trim().to_string();
        if ep.is_empty() {
            continue;
        }
        let result = match connect(g, std::slice::from_ref(&ep)).await {
            Ok(c) => f(c, ep.clone()).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(v) => ok.push(v),
            Err(e) => failed.push(EndpointError {
                endpoint: ep,
                error: format!("{e:#}"),
            }),
        }
    }
    (ok, failed)
}

fn fail_if_any(failed: &[EndpointError], what: &str) -> Result<()> {
    match failed {
        [] => Ok(()),
        [one] => bail!("failed to {what} {}: {}", one.endpoint, one.error),
        [first, rest @ ..] => bail!(
            "failed to {what} {} endpoints; {}: {} (and {} more)",
            failed.len(),
            first.endpoint,
            first.error,
            rest.len()
        ),
    }
}

pub async fn status(g: &Global) -> Result<()> {
    let timeout = g.timeout;
    let (endpoints, failed) = per_endpoint(g, |mut c, ep| async move {
        let s = call(timeout, c.status()).await?;
        let id = s.header().map(|h| h.member_id()).unwrap_or(0);
        Ok(EndpointStatus {
            endpoint: ep,
            id,
            leader: s.leader(),
            is_leader: id != 0 && s.leader() == id,
            is_learner: s.is_learner(),
            version: s.version().to_string(),
            db_size_bytes: s.db_size(),
            db_size_in_use_bytes: s.raft_used_db_size(),
            revision: header_revision(s.header()),
            raft_term: s.raft_term(),
            raft_index: s.raft_index(),
            raft_applied_index: s.raft_applied_index(),
            errors: s.errors().to_vec(),
        })
    })
    .await;
    let report = StatusReport { endpoints, failed };
    if !report.endpoints.is_empty() || g.output == Format::Json {
        emit(&report, g.output);
    }
    fail_if_any(&report.failed, "get the status of")
}

#[derive(Debug, Serialize)]
pub struct CompactReport {
    pub revision: i64,
}

impl Report for CompactReport {
    fn table(&self) -> String {
        format!("compacted revision {}", self.revision)
    }
}

pub async fn compact(c: &mut Client, g: &Global, rev: i64) -> Result<CompactReport> {
    call(g.timeout, c.compact(rev, None))
        .await
        .with_context(|| format!("failed to compact to revision {rev}"))?;
    Ok(CompactReport { revision: rev })
}

#[derive(Debug, Serialize)]
pub struct DefragReport {
    pub defragmented: Vec<String>,
    pub failed: Vec<EndpointError>,
}

impl Report for DefragReport {
    fn table(&self) -> String {
        self.defragmented
            .iter()
            .map(|e| format!("Finished defragmenting member[{e}]\n"))
            .collect()
    }
}

pub async fn defrag(g: &Global) -> Result<()> {
    // Defragmenting can take a while on a big store.
    let timeout = g.timeout.max(Duration::from_secs(60));
    let (defragmented, failed) = per_endpoint(g, |mut c, ep| async move {
        call(timeout, c.defragment()).await?;
        Ok(ep)
    })
    .await;
    let report = DefragReport {
        defragmented,
        failed,
    };
    if !report.defragmented.is_empty() || g.output == Format::Json {
        emit(&report, g.output);
    }
    fail_if_any(&report.failed, "defragment")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str, urls: &[&str]) -> MemberOut {
        MemberOut {
            id,
            name: name.into(),
            status: "started",
            peer_urls: urls.iter().map(|u| u.to_string()).collect(),
            client_urls: Vec::new(),
            is_learner: false,
        }
    }

    #[test]
    fn initial_cluster_names_started_members_and_the_new_one() {
        let members = [
            member(1, "n0", &["http://a:2380"]),
            member(2, "", &["http://b:2380"]),
            member(3, "", &["http://c:2380", "http://c2:2380"]),
        ];
        assert_eq!(
            initial_cluster(&members, 3, "n2"),
            "n0=http://a:2380,n2=http://c:2380,n2=http://c2:2380"
        );
    }

    #[test]
    fn endpoints_are_checked() {
        assert_eq!(authority("https://10.0.0.1:2379/path"), "10.0.0.1:2379");
        assert_eq!(authority("127.0.0.1:2379"), "127.0.0.1:2379");
        assert_eq!(
            check_endpoints(&[" http://a:1 ".into(), "b:2".into()]).unwrap(),
            vec!["http://a:1".to_string(), "b:2".to_string()]
        );
        assert!(check_endpoints(&["".into()]).is_err());
        assert!(check_endpoints(&["unix://sock:1".into()]).is_err());
        assert!(check_endpoints(&["http://host".into()]).is_err());
    }
}
