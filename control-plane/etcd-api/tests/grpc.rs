//! The etcd API at the protocol level, through a gRPC client (`etcd-client`) and raw gRPC
//! calls: what etcdctl cannot show (watch ids, fragments, stream-wide progress, filters,
//! per-stream limits) and malformed or oversized messages.

mod common;

use berth_etcd_api::ApiConfig;
use common::TestServer;
use etcd_client::{
    Client, Compare, CompareOp, EventType, PutOptions, Txn, TxnOp, WatchFilterType, WatchOptions,
    WatchResponse, WatchStream,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn client(s: &TestServer) -> Client {
    Client::connect([s.endpoint()], None)
        .await
        .expect("connect")
}

async fn next(stream: &mut WatchStream) -> WatchResponse {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("watch response in time")
        .expect("watch stream")
        .expect("watch stream open")
}

/// Nothing more arrives on the stream for a while.
async fn quiet(stream: &mut WatchStream) {
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
        panic!("unexpected watch message: {m:?}");
    }
}

fn status_of(e: etcd_client::Error) -> (tonic::Code, String) {
    match e {
        etcd_client::Error::GRpcStatus(s) => (s.code(), s.message().to_string()),
        other => panic!("not a gRPC status: {other:?}"),
    }
}

#[test]
fn watch_ids_cancel_filters_and_prev_kv() {
    let s = TestServer::start();
    s.block_on(async {
        let c = client(&s).await;
        let mut kv = c.kv_client();
        kv.put("a", "0", None).await.unwrap(); // revision 2
        let mut stream = c.watch_client().watch("a", None).await.unwrap();
        let created = next(&mut stream).await;
        assert!(created.created() && !created.canceled());
        assert_eq!(created.watch_id(), 0, "server-assigned ids start at 0");
        assert_eq!(
            created.header().unwrap().revision(),
            2,
            "the revision the watch starts after"
        );

        // A client-chosen id, a duplicate (refused), and the next server-assigned id.
        stream
            .watch(
                "b",
                Some(WatchOptions::new().with_watch_id(7).with_prev_key()),
            )
            .await
            .unwrap();
        let r = next(&mut stream).await;
        assert_eq!((r.watch_id(), r.created()), (7, true));
        stream
            .watch("c", Some(WatchOptions::new().with_watch_id(7)))
            .await
            .unwrap();
        let r = next(&mut stream).await;
        assert!(r.created() && r.canceled(), "{r:?}");
        assert_eq!(r.watch_id(), -1);
        assert_eq!(
            r.cancel_reason(),
            "mvcc: duplicate watch ID provided on the WatchStream"
        );
        stream
            .watch(
                "d",
                Some(WatchOptions::new().with_filters([WatchFilterType::NoPut])),
            )
            .await
            .unwrap();
        assert_eq!(next(&mut stream).await.watch_id(), 1);
        // An empty range cannot be watched.
        stream
            .watch("z", Some(WatchOptions::new().with_range("a")))
            .await
            .unwrap();
        let r = next(&mut stream).await;
        assert_eq!(
            (r.watch_id(), r.canceled(), r.cancel_reason()),
            (-1, true, "mvcc: watcher range is empty")
        );

        kv.put("a", "1", Some(PutOptions::new().with_prev_key()))
            .await
            .unwrap(); // 3
        let r = next(&mut stream).await;
        assert_eq!((r.watch_id(), r.header().unwrap().revision()), (0, 3));
        assert_eq!(r.events().len(), 1);
        assert!(r.events()[0].prev_kv().is_none(), "prev_kv only when asked");
        kv.put("b", "1", None).await.unwrap(); // 4
        kv.put("b", "2", None).await.unwrap(); // 5
        let r = next(&mut stream).await;
        assert_eq!(r.watch_id(), 7);
        assert!(
            r.events()[0].prev_kv().is_none(),
            "a create has no previous version"
        );
        let r = next(&mut stream).await;
        assert_eq!(
            r.events()[0].prev_kv().map(|kv| kv.value()),
            Some(&b"1"[..])
        );

        // NOPUT: only the delete of d arrives.
        kv.put("d", "1", None).await.unwrap(); // 6
        kv.delete("d", None).await.unwrap(); // 7
        let r = next(&mut stream).await;
        assert_eq!(r.watch_id(), 1);
        assert_eq!(r.events()[0].event_type(), EventType::Delete);
        assert_eq!(r.events()[0].kv().unwrap().mod_revision(), 7);

        // Cancel: answered once, then nothing more for that watch.
        stream.cancel(0).await.unwrap();
        let r = next(&mut stream).await;
        assert_eq!((r.watch_id(), r.canceled(), r.created()), (0, true, false));
        kv.put("a", "2", None).await.unwrap();
        quiet(&mut stream).await;
        stream.cancel(42).await.unwrap(); // unknown: not answered
        quiet(&mut stream).await;

        // Stream-wide progress: watch id -1, at a revision every watch has reached.
        stream.request_progress().await.unwrap();
        let r = next(&mut stream).await;
        assert_eq!(
            (r.watch_id(), r.events().len(), r.created(), r.canceled()),
            (-1, 0, false, false)
        );
        assert_eq!(r.header().unwrap().revision(), 8);
    });
}

#[test]
fn a_watch_catching_up_gets_progress_only_after_its_events() {
    let s = TestServer::start();
    s.block_on(async {
        let c = client(&s).await;
        let mut kv = c.kv_client();
        for i in 0..300 {
            kv.put(format!("k{i:03}"), "v", None).await.unwrap(); // 2..=301
        }
        let mut stream = c
            .watch_client()
            .watch(
                "k",
                Some(WatchOptions::new().with_prefix().with_start_revision(2)),
            )
            .await
            .unwrap();
        assert!(next(&mut stream).await.created());
        stream.request_progress().await.unwrap();
        let mut seen = 0;
        loop {
            let r = next(&mut stream).await;
            if r.events().is_empty() {
                assert_eq!(r.watch_id(), -1);
                assert_eq!(
                    seen, 300,
                    "progress came before every event up to its revision"
                );
                assert!(r.header().unwrap().revision() >= 301);
                break;
            }
            seen += r.events().len();
        }
    });
}

#[test]
fn stream_progress_is_a_bookmark_for_every_watch_and_never_goes_back() {
    let s = TestServer::start();
    s.block_on(async {
        let c = client(&s).await;
        let mut kv = c.kv_client();
        for i in 0..300 {
            kv.put(format!("b{i:03}"), "v", None).await.unwrap(); // 2..=301
        }
        let mut stream = c.watch_client().watch("a", None).await.unwrap();
        let mut max_seen = next(&mut stream).await.header().unwrap().revision();
        assert_eq!(max_seen, 301);
        stream
            .watch(
                "b",
                Some(WatchOptions::new().with_prefix().with_start_revision(2)),
            )
            .await
            .unwrap();
        // Writes to "a" while the "b" watch catches up and the progress request is answered.
        let writer = tokio::spawn(async move {
            for i in 0..100 {
                kv.put("a", format!("{i}"), None).await.unwrap(); // 302..=401
            }
        });
        stream.request_progress().await.unwrap();
        let (mut a_events, mut b_events) = (0i64, 0i64);
        loop {
            let r = next(&mut stream).await;
            let rev = r.header().unwrap().revision();
            if r.watch_id() == -1 {
                assert!(
                    rev >= max_seen,
                    "progress at {rev} after revision {max_seen} was sent"
                );
                assert_eq!(b_events, 300, "every b event up to {rev}");
                assert_eq!(a_events, rev - 301, "every a event up to {rev}");
                break;
            }
            max_seen = max_seen.max(rev);
            match r.watch_id() {
                0 => a_events += r.events().len() as i64,
                1 => b_events += r.events().len() as i64,
                other => panic!("watch {other}"),
            }
        }
        writer.await.unwrap();
    });
}

#[test]
fn large_responses_are_fragmented_when_asked() {
    let config = ApiConfig {
        max_request_bytes: 64 * 1024,
        ..ApiConfig::default()
    };
    let s = TestServer::start_with(None, config);
    s.block_on(async {
        let c = client(&s).await;
        let mut kv = c.kv_client();
        let mut plain = c
            .watch_client()
            .watch("f/", Some(WatchOptions::new().with_prefix()))
            .await
            .unwrap();
        let mut fragmented = c
            .watch_client()
            .watch(
                "f/",
                Some(WatchOptions::new().with_prefix().with_fragment()),
            )
            .await
            .unwrap();
        assert!(next(&mut plain).await.created());
        assert!(next(&mut fragmented).await.created());
        // One txn (one revision) of 40 puts of 4 KiB: about 160 KiB of events.
        let ops: Vec<TxnOp> = (0..40)
            .map(|i| TxnOp::put(format!("f/{i:02}"), vec![b'x'; 4096], None))
            .collect();
        kv.txn(Txn::new().and_then(ops)).await.unwrap();

        let whole = next(&mut plain).await;
        assert_eq!(whole.events().len(), 40);
        assert!(!whole.0.fragment);

        let mut parts = Vec::new();
        loop {
            let r = next(&mut fragmented).await;
            let more = r.0.fragment;
            parts.push(r);
            if !more {
                break;
            }
        }
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let keys: Vec<Vec<u8>> = parts
            .iter()
            .flat_map(|p| p.events().iter().map(|e| e.kv().unwrap().key().to_vec()))
            .collect();
        let expected: Vec<Vec<u8>> = (0..40).map(|i| format!("f/{i:02}").into_bytes()).collect();
        assert_eq!(keys, expected);
        assert!(parts.iter().all(|p| p.header().unwrap().revision() == 2));
    });
}

#[test]
fn watches_per_stream_are_bounded() {
    let config = ApiConfig {
        max_watches_per_stream: 2,
        ..ApiConfig::default()
    };
    let s = TestServer::start_with(None, config);
    s.block_on(async {
        let c = client(&s).await;
        let mut stream = c.watch_client().watch("a", None).await.unwrap();
        assert!(next(&mut stream).await.created());
        stream.watch("b", None).await.unwrap();
        assert_eq!(next(&mut stream).await.watch_id(), 1);
        stream.watch("c", None).await.unwrap();
        let r = next(&mut stream).await;
        assert!(r.canceled() && r.created());
        assert_eq!(
            r.cancel_reason(),
            "etcdserver: too many watches on one stream"
        );
        // Once one is canceled, there is room again.
        stream.cancel(0).await.unwrap();
        assert!(next(&mut stream).await.canceled());
        stream.watch("c", None).await.unwrap();
        let r = next(&mut stream).await;
        assert!(r.created() && !r.canceled());
    });
}

#[test]
fn lease_keep_alive_stream_and_errors() {
    let s = TestServer::start();
    s.block_on(async {
        let c = client(&s).await;
        let mut lease = c.lease_client();
        let granted = lease.grant(30, None).await.unwrap();
        let (mut keeper, mut responses) = lease.keep_alive(granted.id()).await.unwrap();
        for _ in 0..3 {
            keeper.keep_alive().await.unwrap();
            let r = tokio::time::timeout(WAIT, responses.message())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!((r.id(), r.ttl()), (granted.id(), 30));
        }
        // An unknown lease: TTL 0 on the keep-alive stream, -1 from TimeToLive.
        // (The client reads the first answer itself and reports TTL 0 as "not found".)
        match lease.keep_alive(0x7777).await {
            Err(etcd_client::Error::LeaseKeepAliveError(e)) => assert_eq!(e, "lease not found"),
            other => panic!("{other:?}"),
        }
        assert_eq!(lease.time_to_live(0x7777, None).await.unwrap().ttl(), -1);
        // A TTL above etcd's maximum.
        let (code, msg) = status_of(lease.grant(9_000_000_001, None).await.unwrap_err());
        assert_eq!(
            (code, msg.as_str()),
            (tonic::Code::OutOfRange, "etcdserver: too large lease TTL")
        );
        // A grant with an id in use.
        let (code, msg) = status_of(
            lease
                .grant(
                    30,
                    Some(etcd_client::LeaseGrantOptions::new().with_id(granted.id())),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (code, msg.as_str()),
            (
                tonic::Code::FailedPrecondition,
                "etcdserver: lease already exists"
            )
        );
    });
}

#[test]
fn kv_errors_carry_etcd_codes() {
    let s = TestServer::start();
    s.block_on(async {
        let c = client(&s).await;
        let mut kv = c.kv_client();
        let (code, msg) = status_of(kv.put("", "v", None).await.unwrap_err());
        assert_eq!(
            (code, msg.as_str()),
            (
                tonic::Code::InvalidArgument,
                "etcdserver: key is not provided"
            )
        );
        let (code, msg) = status_of(
            kv.put("k", "v", Some(PutOptions::new().with_ignore_value()))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (code, msg.as_str()),
            (
                tonic::Code::InvalidArgument,
                "etcdserver: value is provided"
            )
        );
        let (code, msg) = status_of(
            kv.put("nope", "", Some(PutOptions::new().with_ignore_value()))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (code, msg.as_str()),
            (tonic::Code::InvalidArgument, "etcdserver: key not found")
        );
        let (code, msg) = status_of(
            kv.put("k", "v", Some(PutOptions::new().with_lease(99)))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (code, msg.as_str()),
            (
                tonic::Code::NotFound,
                "etcdserver: requested lease not found"
            )
        );

        // An inverted range inside a txn: empty, as in etcd.
        kv.put("m", "1", None).await.unwrap();
        let t = Txn::new()
            .when([Compare::version("m", CompareOp::Greater, 0)])
            .and_then([
                TxnOp::get("z", Some(etcd_client::GetOptions::new().with_range("a"))),
                TxnOp::delete("z", Some(etcd_client::DeleteOptions::new().with_range("a"))),
            ]);
        let r = kv.txn(t).await.unwrap();
        assert!(r.succeeded());
        assert_eq!(kv.get("m", None).await.unwrap().count(), 1);

        // Txns nested deeper than the engine allows, and deeper than protobuf decodes.
        let nest = |depth: usize| {
            let mut t = Txn::new().and_then([TxnOp::put("deep", "v", None)]);
            for _ in 0..depth {
                t = Txn::new().and_then([TxnOp::txn(t)]);
            }
            t
        };
        let (code, msg) = status_of(kv.txn(nest(40)).await.unwrap_err());
        assert_eq!(
            (code, msg.as_str()),
            (
                tonic::Code::InvalidArgument,
                "etcdserver: txn request nested too deep"
            )
        );
        let (code, _) = status_of(kv.txn(nest(300)).await.unwrap_err());
        assert_ne!(code, tonic::Code::Ok);
        assert_eq!(kv.get("deep", None).await.unwrap().count(), 0);

        // A message over gRPC's limit (request limit + 512 KiB) is refused before decoding.
        let (code, _) = status_of(kv.put("huge", vec![b'h'; 3 << 20], None).await.unwrap_err());
        assert_ne!(code, tonic::Code::Ok);
        assert_eq!(kv.get("huge", None).await.unwrap().count(), 0);
        kv.put("after", "ok", None).await.unwrap();
    });
    s.assert_running();
}

/// A codec that sends and receives raw bytes, to put malformed protobuf on the wire.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

#[test]
fn malformed_protobuf_is_refused_and_the_server_keeps_serving() {
    let s = TestServer::start();
    s.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.endpoint()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let junk: [&[u8]; 4] = [
            &[0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0x12],
            &[
                0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
        ];
        for method in [
            "/etcdserverpb.KV/Range",
            "/etcdserverpb.KV/Put",
            "/etcdserverpb.KV/Txn",
            "/etcdserverpb.Lease/LeaseGrant",
            "/etcdserverpb.Maintenance/Status",
        ] {
            for bytes in junk {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                grpc.ready().await.unwrap();
                let path = http::uri::PathAndQuery::from_static(method);
                let r = grpc
                    .unary(tonic::Request::new(bytes.to_vec()), path, RawCodec)
                    .await;
                // Some junk happens to decode (as an empty message); either way, no harm.
                if let Err(status) = r {
                    assert!(
                        matches!(
                            status.code(),
                            tonic::Code::Internal | tonic::Code::InvalidArgument
                        ),
                        "{method}: {status:?}"
                    );
                }
            }
        }
        // A streaming method with junk in the stream.
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/etcdserverpb.Watch/Watch");
        let requests = tokio_stream::iter(vec![vec![0xffu8, 0xff, 0xff]]);
        if let Ok(resp) = grpc
            .streaming(tonic::Request::new(requests), path, RawCodec)
            .await
        {
            let mut inbound = resp.into_inner();
            let r = tokio::time::timeout(WAIT, inbound.message())
                .await
                .expect("an answer in time");
            assert!(r.is_err() || matches!(r, Ok(None)), "{r:?}");
        }
        let c = client(&s).await;
        c.kv_client().put("still", "here", None).await.unwrap();
    });
    s.assert_running();
}
