//! The API client against a small fake API server on loopback (mTLS, HTTP/2): a kubeconfig
//! with inline credentials, JSON verbs and their content types, Status errors, a watch whose
//! lines arrive split across frames, and many requests multiplexed on one connection.

use base64::Engine as _;
use berth_node_agent::apiclient::{
    ApiError, Client, ClientConfig, EventKind, Kubeconfig, PatchType,
};
use berth_node_agent::server::{tls_config, TlsFiles};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(code: u16, v: Value) -> http::Response<Body> {
    http::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .expect("response")
}

async fn answer(req: http::Request<Incoming>) -> http::Response<Body> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = req.into_body().collect().await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), path.as_str()) {
        ("GET", "/api/v1/pods") if query.contains("watch=1") => {
            // Lines split across frames, then an expired watch.
            let chunks = [
                "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MOD",
                "IFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}\n\n",
                "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n",
            ];
            let frames = futures::stream::iter(
                chunks.map(|c| Ok::<_, Infallible>(Frame::data(Bytes::from(c)))),
            );
            http::Response::builder()
                .status(200)
                .body(StreamBody::new(frames).boxed())
                .expect("response")
        }
        ("GET", "/api/v1/pods") => full(200, json!({"kind": "PodList", "query": query})),
        ("GET", "/api/v1/nodes/missing") => full(
            404,
            json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "nodes \"missing\" not found"}),
        ),
        ("GET", "/plain-error") => http::Response::builder()
            .status(503)
            .body(Full::new(Bytes::from("overloaded")).boxed())
            .expect("response"),
        ("GET", p) => full(
            200,
            json!({"kind": "Node", "metadata": {"name": p.rsplit('/').next()}}),
        ),
        (m, p) => full(
            if m == "POST" { 201 } else { 200 },
            json!({"method": m, "path": p, "contentType": ct, "body": body}),
        ),
    }
}

struct Fake {
    port: u16,
    connections: Arc<AtomicUsize>,
}

async fn start_fake(dir: &Path) -> Fake {
    let tls = tls_config(&TlsFiles {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        client_ca: dir.join("ca.crt"),
    })
    .expect("server TLS");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|req| async move {
                    Ok::<_, Infallible>(answer(req).await)
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Fake { port, connections }
}

fn write_certs(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, &ca_key);
    let mut server = CertificateParams::new(Vec::<String>::new()).expect("params");
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().expect("key");
    let server_cert = server.signed_by(&server_key, &issuer).expect("sign");
    let mut client = CertificateParams::new(Vec::<String>::new()).expect("params");
    client.distinguished_name.push(DnType::CommonName, "admin");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().expect("key");
    let client_cert = client.signed_by(&client_key, &issuer).expect("sign");
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).expect("write");
    std::fs::write(dir.join("server.crt"), server_cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).expect("write");
    std::fs::write(dir.join("client.crt"), client_cert.pem()).expect("write");
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).expect("write");
}

/// A client from a kubeconfig with inline credentials (the CA and client pair in `dir`).
fn client_for(dir: &Path, port: u16) -> Client {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("read cert");
    let (ca, cert, key) = (read("ca.crt"), read("client.crt"), read("client.key"));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&cert),
        b64(&key)
    );
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
        b64(&ca)
    );
    let kc = Kubeconfig::parse(&yaml, dir).expect("kubeconfig");
    Client::new(
        &kc,
        ClientConfig {
            max_inflight: 8,
            request_timeout_ms: 5000,
        },
    )
    .expect("client")
}

#[tokio::test]
async fn verbs_errors_and_watch_over_one_http2_connection() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    write_certs(dir.path());
    let fake = start_fake(dir.path()).await;
    let client = client_for(dir.path(), fake.port);

    let node = client.get("/api/v1/nodes/n1").await.expect("get");
    assert_eq!(node["metadata"]["name"], "n1");
    let list = client
        .list(&berth_node_agent::apiclient::with_query(
            "/api/v1/pods",
            &[("fieldSelector", "spec.nodeName!=")],
        ))
        .await
        .expect("list");
    assert_eq!(list["query"], "fieldSelector=spec.nodeName%21%3D");
    let created = client
        .create("/api/v1/nodes", &json!({"metadata": {"name": "n2"}}))
        .await
        .expect("create");
    assert_eq!(
        (created["method"].as_str(), created["contentType"].as_str()),
        (Some("POST"), Some("application/json"))
    );
    assert_eq!(created["body"]["metadata"]["name"], "n2");
    for (ty, want) in [
        (PatchType::Merge, "application/merge-patch+json"),
        (
            PatchType::StrategicMerge,
            "application/strategic-merge-patch+json",
        ),
        (PatchType::Json, "application/json-patch+json"),
    ] {
        let r = client
            .patch("/api/v1/nodes/n2/status", ty, &json!({}))
            .await
            .expect("patch");
        assert_eq!(
            (r["method"].as_str(), r["contentType"].as_str()),
            (Some("PATCH"), Some(want))
        );
    }
    let r = client
        .update("/api/v1/nodes/n2", &json!({}))
        .await
        .expect("update");
    assert_eq!(r["method"], "PUT");
    let r = client
        .delete("/api/v1/nodes/n2", &json!({"gracePeriodSeconds": 0}))
        .await
        .expect("delete");
    assert_eq!(
        (
            r["method"].as_str(),
            r["body"]["gracePeriodSeconds"].as_i64()
        ),
        (Some("DELETE"), Some(0))
    );

    let e = client.get("/api/v1/nodes/missing").await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(e.to_string(), "404 NotFound: nodes \"missing\" not found");
    let e = client.get("/plain-error").await.unwrap_err();
    assert!(
        matches!(&e, ApiError::Status { code: 503, .. }) && e.is_retryable(),
        "{e:?}"
    );

    let mut w = client
        .watch("/api/v1/pods?watch=1", 5000)
        .await
        .expect("watch");
    let a = w.next().await.expect("event").expect("some");
    assert_eq!(
        (a.kind, a.object["metadata"]["name"].as_str()),
        (EventKind::Added, Some("a"))
    );
    let m = w.next().await.expect("event").expect("some");
    assert_eq!(m.kind, EventKind::Modified);
    assert_eq!(m.object["metadata"]["resourceVersion"], "7");
    let gone = w.next().await.unwrap_err();
    assert!(gone.is_gone(), "{gone:?}");

    // 200 requests at once (8 in flight), all on the one connection.
    let gets = (0..200).map(|i| {
        let c = client.clone();
        async move { c.get(&format!("/api/v1/nodes/n{i}")).await }
    });
    for r in futures::future::join_all(gets).await {
        r.expect("get");
    }
    assert_eq!(fake.connections.load(Ordering::SeqCst), 1);
}
