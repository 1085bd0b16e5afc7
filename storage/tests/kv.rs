//! Keyspace semantics against etcd's rules: revisions, ranges, put/delete options, txns,
//! compaction, leases, quota, HashKV, idempotent apply, bad input and corruption.

use storage::*;
use tempfile::TempDir;

fn open() -> (TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(dir.path(), EngineConfig::default()).expect("open engine");
    (dir, engine)
}

fn put(e: &Engine, k: &str, v: &str) -> PutResponse {
    match e
        .write(&WriteRequest::Put(PutRequest::new(k, v)))
        .expect("put")
    {
        WriteResponse::Put(p) => p,
        other => panic!("unexpected response {other:?}"),
    }
}

fn del(e: &Engine, req: DeleteRangeRequest) -> DeleteRangeResponse {
    match e.write(&WriteRequest::DeleteRange(req)).expect("delete") {
        WriteResponse::DeleteRange(d) => d,
        other => panic!("unexpected response {other:?}"),
    }
}

fn txn(e: &Engine, t: TxnRequest) -> TxnResponse {
    match e.write(&WriteRequest::Txn(t)).expect("txn") {
        WriteResponse::Txn(t) => t,
        other => panic!("unexpected response {other:?}"),
    }
}

/// Keys and values of a range, as strings, for compact assertions.
fn kv_pairs(r: &RangeResponse) -> Vec<(String, String)> {
    r.kvs
        .iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(&kv.key).into_owned(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            )
        })
        .collect()
}

fn all(e: &Engine) -> RangeResponse {
    e.range(&RangeRequest::range(vec![0], vec![0]))
        .expect("range all")
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn revisions_versions_and_create_revision_follow_etcd() {
    let (_d, e) = open();
    assert_eq!(
        e.current_revision(),
        Revision(1),
        "the empty store is at revision 1"
    );
    assert_eq!(put(&e, "a", "1").revision, 2);
    assert_eq!(put(&e, "a", "2").revision, 3);
    let kv = e.get(b"a").unwrap().expect("a exists");
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
    assert_eq!(del(&e, DeleteRangeRequest::key("a")).deleted, 1);
    assert_eq!(e.current_revision(), Revision(4));
    assert_eq!(put(&e, "a", "3").revision, 5);
    let kv = e.get(b"a").unwrap().expect("a exists");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (5, 5, 1),
        "version restarts after a delete"
    );
    // Deleting nothing changes nothing, not even the revision.
    assert_eq!(del(&e, DeleteRangeRequest::key("zz")).deleted, 0);
    assert_eq!(e.current_revision(), Revision(5));
    assert_eq!(e.live_keys(), 1);
}

#[test]
fn range_conventions() {
    let (_d, e) = open();
    for (k, v) in [
        ("a", "1"),
        ("ab", "2"),
        ("abc", "3"),
        ("b", "4"),
        ("\u{7f}", "5"),
    ] {
        put(&e, k, v);
    }
    let check = |req: RangeRequest, expected: &[(&str, &str)], count: i64, more: bool| {
        let r = e.range(&req).expect("range");
        assert_eq!(kv_pairs(&r), pairs(expected), "{req:?}");
        assert_eq!((r.count, r.more), (count, more), "{req:?}");
    };
    check(RangeRequest::key("ab"), &[("ab", "2")], 1, false);
    check(RangeRequest::key("zz"), &[], 0, false);
    check(
        RangeRequest::prefix("ab"),
        &[("ab", "2"), ("abc", "3")],
        2,
        false,
    );
    check(
        RangeRequest::range("ab", "b"),
        &[("ab", "2"), ("abc", "3")],
        2,
        false,
    );
    check(
        RangeRequest::range("abc", vec![0]),
        &[("abc", "3"), ("b", "4"), ("\u{7f}", "5")],
        3,
        false,
    );
    check(
        RangeRequest {
            limit: 2,
            ..RangeRequest::range("a", vec![0])
        },
        &[("a", "1"), ("ab", "2")],
        5,
        true,
    );
    check(
        RangeRequest {
            limit: 5,
            ..RangeRequest::range("a", vec![0])
        },
        &[
            ("a", "1"),
            ("ab", "2"),
            ("abc", "3"),
            ("b", "4"),
            ("\u{7f}", "5"),
        ],
        5,
        false,
    );
    check(
        RangeRequest {
            count_only: true,
            ..RangeRequest::prefix("a")
        },
        &[],
        3,
        false,
    );
    check(
        RangeRequest {
            keys_only: true,
            ..RangeRequest::prefix("ab")
        },
        &[("ab", ""), ("abc", "")],
        2,
        false,
    );
    check(
        RangeRequest {
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Key,
            limit: 2,
            ..RangeRequest::prefix("a")
        },
        &[("abc", "3"), ("ab", "2")],
        3,
        true,
    );
    // A non-key target without an order sorts ascending (etcd).
    put(&e, "ab", "0");
    check(
        RangeRequest {
            sort_target: SortTarget::Value,
            ..RangeRequest::prefix("a")
        },
        &[("ab", "0"), ("a", "1"), ("abc", "3")],
        3,
        false,
    );
    check(
        RangeRequest {
            sort_target: SortTarget::Mod,
            sort_order: SortOrder::Descend,
            ..RangeRequest::prefix("a")
        },
        &[("ab", "0"), ("abc", "3"), ("a", "1")],
        3,
        false,
    );
    check(
        RangeRequest {
            sort_target: SortTarget::Version,
            sort_order: SortOrder::Descend,
            limit: 1,
            ..RangeRequest::prefix("a")
        },
        &[("ab", "0")],
        3,
        true,
    );
    check(
        RangeRequest {
            sort_target: SortTarget::Create,
            sort_order: SortOrder::Ascend,
            ..RangeRequest::prefix("a")
        },
        &[("a", "1"), ("ab", "0"), ("abc", "3")],
        3,
        false,
    );
    // Revision filters apply after counting.
    check(
        RangeRequest {
            min_mod_revision: 7,
            ..RangeRequest::prefix("a")
        },
        &[("ab", "0")],
        3,
        false,
    );
    check(
        RangeRequest {
            max_mod_revision: 3,
            ..RangeRequest::prefix("a")
        },
        &[("a", "1")],
        3,
        false,
    );
    check(
        RangeRequest {
            min_create_revision: 3,
            max_create_revision: 4,
            ..RangeRequest::prefix("a")
        },
        &[("ab", "0"), ("abc", "3")],
        3,
        false,
    );
    // Historic revision.
    check(
        RangeRequest::prefix("a").at(3),
        &[("a", "1"), ("ab", "2")],
        2,
        false,
    );
    check(RangeRequest::key("ab").at(6), &[("ab", "2")], 1, false);
    // Every key: key "\0", range_end "\0".
    assert_eq!(all(&e).count, 5);
}

#[test]
fn keys_with_zero_and_ff_bytes_sort_like_etcd() {
    let (_d, e) = open();
    let keys: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0, 0],
        vec![0, 1],
        b"a".to_vec(),
        b"a\0".to_vec(),
        b"a\0\0".to_vec(),
        b"a\x01".to_vec(),
        vec![0xff],
        vec![0xff, 0xff],
    ];
    for k in keys.iter().rev() {
        e.write(&WriteRequest::Put(PutRequest::new(k.clone(), "v")))
            .expect("put");
    }
    let got: Vec<Vec<u8>> = all(&e).kvs.into_iter().map(|kv| kv.key).collect();
    assert_eq!(got, keys);
    let r = e.range(&RangeRequest::prefix(b"a\0".to_vec())).unwrap();
    assert_eq!(r.kvs.len(), 2);
    let r = e.range(&RangeRequest::prefix(vec![0xff])).unwrap();
    assert_eq!(r.kvs.len(), 2);
}

#[test]
fn put_options() {
    let (_d, e) = open();
    let r = e
        .write(&WriteRequest::Put(PutRequest {
            prev_kv: true,
            ..PutRequest::new("k", "v1")
        }))
        .unwrap();
    assert_eq!(
        r,
        WriteResponse::Put(PutResponse {
            revision: 2,
            prev_kv: None
        })
    );
    let r = e
        .write(&WriteRequest::Put(PutRequest {
            prev_kv: true,
            ..PutRequest::new("k", "v2")
        }))
        .unwrap();
    let WriteResponse::Put(p) = r else {
        panic!("put response")
    };
    assert_eq!(p.prev_kv.expect("prev kv").value, b"v1");
    // ignore_value keeps the value, ignore_lease keeps the lease.
    e.write(&WriteRequest::LeaseGrant {
        id: 7,
        ttl_secs: 60,
    })
    .unwrap();
    e.write(&WriteRequest::Put(PutRequest {
        lease: 7,
        ..PutRequest::new("k", "v3")
    }))
    .unwrap();
    e.write(&WriteRequest::Put(PutRequest {
        ignore_value: true,
        ..PutRequest {
            key: b"k".to_vec(),
            lease: 7,
            ..Default::default()
        }
    }))
    .unwrap();
    let kv = e.get(b"k").unwrap().unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.lease, kv.version),
        (&b"v3"[..], 7, 4)
    );
    e.write(&WriteRequest::Put(PutRequest {
        ignore_lease: true,
        ..PutRequest::new("k", "v4")
    }))
    .unwrap();
    let kv = e.get(b"k").unwrap().unwrap();
    assert_eq!((kv.value.as_slice(), kv.lease), (&b"v4"[..], 7));
    // Errors, each changing nothing.
    let rev = e.current_revision();
    let cases: Vec<(PutRequest, Error)> = vec![
        (
            PutRequest {
                ignore_value: true,
                ..PutRequest::new("absent", "")
            },
            Error::KeyNotFound,
        ),
        (
            PutRequest {
                ignore_lease: true,
                ..PutRequest::new("absent", "x")
            },
            Error::KeyNotFound,
        ),
        (
            PutRequest {
                ignore_value: true,
                ..PutRequest::new("k", "x")
            },
            Error::ValueProvided,
        ),
        (
            PutRequest {
                ignore_lease: true,
                lease: 7,
                ..PutRequest::new("k", "x")
            },
            Error::LeaseProvided,
        ),
        (
            PutRequest {
                lease: 99,
                ..PutRequest::new("k", "x")
            },
            Error::LeaseNotFound,
        ),
        (PutRequest::new("", "x"), Error::EmptyKey),
    ];
    for (req, err) in cases {
        assert_eq!(
            e.write(&WriteRequest::Put(req.clone())),
            Err(err),
            "{req:?}"
        );
    }
    assert_eq!(e.current_revision(), rev);
    assert_eq!(e.get(b"k").unwrap().unwrap().value, b"v4");
}

#[test]
fn delete_range_with_prev_kv() {
    let (_d, e) = open();
    for k in ["a", "b", "c", "d"] {
        put(&e, k, k);
    }
    let d = del(
        &e,
        DeleteRangeRequest {
            prev_kv: true,
            ..DeleteRangeRequest::range("b", "d")
        },
    );
    assert_eq!(d.deleted, 2);
    assert_eq!(d.revision, 6, "one revision for the whole delete");
    assert_eq!(
        d.prev_kvs
            .iter()
            .map(|kv| kv.value.clone())
            .collect::<Vec<_>>(),
        vec![b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!(kv_pairs(&all(&e)), pairs(&[("a", "a"), ("d", "d")]));
    // The deleted keys are still visible in history.
    let r = e.range(&RangeRequest::range("a", vec![0]).at(5)).unwrap();
    assert_eq!(r.count, 4);
    let d = del(&e, DeleteRangeRequest::range("a", vec![0]));
    assert_eq!(d.deleted, 2);
    assert_eq!(all(&e).count, 0);
    assert_eq!(e.live_keys(), 0);
}

fn cmp(key: &str, target: CompareTarget, result: CompareResult) -> Compare {
    Compare {
        key: key.into(),
        range_end: Vec::new(),
        target,
        result,
    }
}

#[test]
fn txn_compares_branches_and_one_revision() {
    let (_d, e) = open();
    put(&e, "k", "v"); // rev 2, version 1
    use CompareResult::*;
    use CompareTarget::*;
    let cases: Vec<(Compare, bool)> = vec![
        (cmp("k", Value(b"v".to_vec()), Equal), true),
        (cmp("k", Value(b"u".to_vec()), Greater), true),
        (cmp("k", Value(b"w".to_vec()), Less), true),
        (cmp("k", Value(b"v".to_vec()), NotEqual), false),
        (cmp("k", Version(1), Equal), true),
        (cmp("k", Create(2), Equal), true),
        (cmp("k", Mod(3), Less), true),
        (cmp("k", Lease(0), Equal), true),
        // A missing key: VALUE compares fail, the others compare against 0.
        (cmp("absent", Value(Vec::new()), Equal), false),
        (cmp("absent", Version(0), Equal), true),
        (cmp("absent", Create(0), Equal), true),
        (cmp("absent", Mod(1), Less), true),
    ];
    for (c, expected) in cases {
        let t = txn(
            &e,
            TxnRequest {
                compare: vec![c.clone()],
                success: vec![],
                failure: vec![],
            },
        );
        assert_eq!(t.succeeded, expected, "{c:?}");
    }
    assert_eq!(
        e.current_revision(),
        Revision(2),
        "read-only txns do not advance the revision"
    );

    // A range compare holds only if every key satisfies it.
    put(&e, "k2", "v"); // rev 3
    let c = Compare {
        key: b"k".to_vec(),
        range_end: b"l".to_vec(),
        target: Value(b"v".to_vec()),
        result: Equal,
    };
    assert!(
        txn(
            &e,
            TxnRequest {
                compare: vec![c.clone()],
                ..Default::default()
            }
        )
        .succeeded
    );
    put(&e, "k3", "x"); // rev 4
    assert!(
        !txn(
            &e,
            TxnRequest {
                compare: vec![c],
                ..Default::default()
            }
        )
        .succeeded
    );

    // Both branches; the writes share one revision with increasing sub-revisions; reads in
    // the txn see its own earlier writes.
    let t = txn(
        &e,
        TxnRequest {
            compare: vec![cmp("k", Version(1), Equal)],
            success: vec![
                RequestOp::Put(PutRequest::new("x", "1")),
                RequestOp::Put(PutRequest::new("y", "2")),
                RequestOp::DeleteRange(DeleteRangeRequest::key("k3")),
                RequestOp::Range(RangeRequest::range("k", "z")),
            ],
            failure: vec![RequestOp::Put(PutRequest::new("f", "1"))],
        },
    );
    assert!(t.succeeded);
    assert_eq!(t.revision, 5);
    let ResponseOp::Range(r) = &t.responses[3] else {
        panic!("range response")
    };
    assert_eq!(
        kv_pairs(r),
        pairs(&[("k", "v"), ("k2", "v"), ("x", "1"), ("y", "2")])
    );
    assert_eq!(e.current_revision(), Revision(5));
    assert_eq!(e.get(b"x").unwrap().unwrap().mod_revision, 5);
    assert!(e.get(b"f").unwrap().is_none());

    // Nested txn.
    let t = txn(
        &e,
        TxnRequest {
            compare: vec![cmp("k", Version(5), Equal)],
            success: vec![],
            failure: vec![RequestOp::Txn(TxnRequest {
                compare: vec![cmp("x", Value(b"1".to_vec()), Equal)],
                success: vec![RequestOp::Put(PutRequest::new("nested", "yes"))],
                failure: vec![],
            })],
        },
    );
    assert!(!t.succeeded);
    let ResponseOp::Txn(inner) = &t.responses[0] else {
        panic!("nested txn response")
    };
    assert!(inner.succeeded);
    assert_eq!(e.get(b"nested").unwrap().unwrap().mod_revision, 6);
}

#[test]
fn txn_rejects_duplicate_keys_like_etcd() {
    let (_d, e) = open();
    let put_op = |k: &str| RequestOp::Put(PutRequest::new(k, "v"));
    let rejected = vec![
        vec![put_op("a"), put_op("a")],
        vec![
            RequestOp::DeleteRange(DeleteRangeRequest::range("a", "c")),
            put_op("b"),
        ],
        vec![
            put_op("b"),
            RequestOp::DeleteRange(DeleteRangeRequest::range("a", "c")),
        ],
        vec![
            put_op("a"),
            RequestOp::Txn(TxnRequest {
                success: vec![put_op("a")],
                ..Default::default()
            }),
        ],
    ];
    for ops in rejected {
        let req = WriteRequest::Txn(TxnRequest {
            success: ops.clone(),
            ..Default::default()
        });
        assert_eq!(e.write(&req), Err(Error::DuplicateKey), "{ops:?}");
    }
    // The two branches of a nested txn exclude each other; overlapping deletes are fine.
    let allowed = vec![
        vec![RequestOp::Txn(TxnRequest {
            success: vec![put_op("a")],
            failure: vec![put_op("a")],
            ..Default::default()
        })],
        vec![
            RequestOp::DeleteRange(DeleteRangeRequest::range("a", "c")),
            RequestOp::DeleteRange(DeleteRangeRequest::key("b")),
        ],
    ];
    for ops in allowed {
        e.write(&WriteRequest::Txn(TxnRequest {
            success: ops.clone(),
            ..Default::default()
        }))
        .unwrap_or_else(|err| panic!("{ops:?}: {err}"));
    }
}

#[test]
fn compaction_keeps_the_latest_version_and_deletes_history_in_the_background() {
    let (_d, e) = open();
    for i in 0..10 {
        put(&e, "k", &i.to_string()); // revs 2..=11
    }
    put(&e, "gone", "x"); // 12
    del(&e, DeleteRangeRequest::key("gone")); // 13
    put(&e, "other", "y"); // 14
    assert_eq!(
        e.write(&WriteRequest::Compact { revision: 15 }),
        Err(Error::FutureRevision {
            current_revision: Revision(14)
        })
    );
    e.write(&WriteRequest::Compact { revision: 13 })
        .expect("compact");
    assert_eq!(e.compact_revision(), Revision(13));
    assert_eq!(
        e.write(&WriteRequest::Compact { revision: 13 }),
        Err(Error::Compacted {
            compact_revision: Revision(13)
        })
    );
    assert_eq!(
        e.range(&RangeRequest::key("k").at(12)),
        Err(Error::Compacted {
            compact_revision: Revision(13)
        })
    );
    assert_eq!(
        e.range(&RangeRequest::key("k").at(15)),
        Err(Error::FutureRevision {
            current_revision: Revision(14)
        })
    );
    // At the compact revision the latest version of every key is still there.
    let r = e
        .range(&RangeRequest::range(vec![0], vec![0]).at(13))
        .unwrap();
    assert_eq!(kv_pairs(&r), pairs(&[("k", "9")]));
    // Physical deletion: only the newest version of "k" remains; the tombstone at 13 (the
    // compact revision itself) stays until a later compaction.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while e.key_history(b"k").unwrap().len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "physical compaction did not run"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(e.key_history(b"gone").unwrap().len(), 1);
    put(&e, "k", "10"); // 15
    e.write(&WriteRequest::Compact { revision: 15 })
        .expect("compact");
    while e.key_history(b"gone").unwrap().len() + e.key_history(b"k").unwrap().len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "second physical compaction did not run"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(kv_pairs(&all(&e)), pairs(&[("k", "10"), ("other", "y")]));
}

#[test]
fn leases_grant_revoke_ttl_and_expiry() {
    let (_d, e) = open();
    let WriteResponse::LeaseGrant { id, ttl_secs, .. } = e
        .write(&WriteRequest::LeaseGrant {
            id: 0,
            ttl_secs: 30,
        })
        .unwrap()
    else {
        panic!("grant")
    };
    assert!(id > 0, "a generated id is positive");
    assert_eq!(ttl_secs, 30);
    assert_eq!(
        e.write(&WriteRequest::LeaseGrant { id, ttl_secs: 5 }),
        Err(Error::LeaseExists)
    );
    assert_eq!(
        e.write(&WriteRequest::LeaseGrant {
            id: 1,
            ttl_secs: MAX_LEASE_TTL_SECS + 1
        }),
        Err(Error::LeaseTtlTooLarge)
    );
    e.write(&WriteRequest::LeaseGrant {
        id: 42,
        ttl_secs: 10,
    })
    .unwrap();
    let mut ids = e.lease_ids();
    ids.sort();
    assert_eq!(ids, {
        let mut v = vec![id, 42];
        v.sort();
        v
    });
    for k in ["a", "b", "c"] {
        e.write(&WriteRequest::Put(PutRequest {
            lease: 42,
            ..PutRequest::new(k, "v")
        }))
        .unwrap();
    }
    put(&e, "free", "v");
    // Moving a key to another lease detaches it from the first.
    e.write(&WriteRequest::Put(PutRequest {
        lease: id,
        ..PutRequest::new("c", "v")
    }))
    .unwrap();
    let info = e.lease_info(LeaseId(42), 0, true).unwrap();
    assert_eq!(info.keys, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(info.granted_ttl_secs, 10);

    // Expiry is reported against the caller's clock and never early.
    assert!(e.expired_leases(1_000).is_empty());
    e.lease_renew(LeaseId(42), 5_000).unwrap();
    assert_eq!(e.lease_info(LeaseId(42), 6_000, false).unwrap().ttl_secs, 9);
    assert!(e.expired_leases(14_999).is_empty());
    assert_eq!(e.expired_leases(15_000), vec![LeaseId(42)]);
    assert_eq!(e.lease_renew(LeaseId(999), 0), Err(Error::LeaseNotFound));

    // Revoke deletes the attached keys in one revision.
    let before = e.current_revision();
    let WriteResponse::LeaseRevoke { revision } =
        e.write(&WriteRequest::LeaseRevoke { id: 42 }).unwrap()
    else {
        panic!("revoke")
    };
    assert_eq!(revision, before.0 + 1);
    assert_eq!(kv_pairs(&all(&e)), pairs(&[("c", "v"), ("free", "v")]));
    assert_eq!(
        e.write(&WriteRequest::LeaseRevoke { id: 42 }),
        Err(Error::LeaseNotFound)
    );
    assert_eq!(
        e.lease_info(LeaseId(42), 0, false),
        Err(Error::LeaseNotFound)
    );
    // Leases survive a reopen.
    let path = e.path().to_path_buf();
    drop(e);
    let e = Engine::open(&path, EngineConfig::default()).unwrap();
    assert_eq!(e.lease_ids(), vec![id]);
    assert_eq!(
        e.lease_info(LeaseId(id), 0, true).unwrap().keys,
        vec![b"c".to_vec()]
    );
}

#[test]
fn generated_lease_ids_are_deterministic_across_replicas() {
    let (_a, e1) = open();
    let (_b, e2) = open();
    for index in 1..=20 {
        let req = WriteRequest::LeaseGrant {
            id: 0,
            ttl_secs: 10,
        };
        assert_eq!(
            e1.apply(index, &req).unwrap(),
            e2.apply(index, &req).unwrap()
        );
    }
}

#[test]
fn quota_refuses_growth_but_allows_deletes_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        quota_bytes: 256 << 10,
        ..EngineConfig::default()
    };
    let e = Engine::open(dir.path(), config).unwrap();
    let value = "x".repeat(16 << 10);
    let mut n = 0;
    loop {
        match e.write(&WriteRequest::Put(PutRequest::new(
            format!("k{n}"),
            value.clone(),
        ))) {
            Ok(_) => n += 1,
            Err(Error::NoSpace) => break,
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(n < 1000, "quota never hit");
        if n % 4 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(110));
        }
    }
    let rev = e.current_revision();
    assert_eq!(
        e.write(&WriteRequest::LeaseGrant { id: 1, ttl_secs: 5 }),
        Err(Error::NoSpace)
    );
    let t = TxnRequest {
        success: vec![RequestOp::Put(PutRequest::new("t", "v"))],
        ..Default::default()
    };
    assert_eq!(e.write(&WriteRequest::Txn(t)), Err(Error::NoSpace));
    assert_eq!(e.current_revision(), rev, "refused writes change nothing");
    del(&e, DeleteRangeRequest::key("k0"));
    e.write(&WriteRequest::Compact {
        revision: e.current_revision().0,
    })
    .expect("compaction still works");
}

#[test]
fn nospace_alarm_is_replicated_state() {
    let (_d, e) = open();
    let alarm = Alarm {
        member_id: 1,
        kind: AlarmKind::NoSpace,
    };
    e.apply(1, &WriteRequest::AlarmActivate(alarm)).unwrap();
    assert_eq!(
        e.apply(2, &WriteRequest::Put(PutRequest::new("k", "v"))),
        Err(Error::NoSpace)
    );
    assert_eq!(e.applied_index(), 2, "a refused entry is still consumed");
    assert_eq!(
        e.apply(3, &WriteRequest::DeleteRange(DeleteRangeRequest::key("k")))
            .map(|_| ()),
        Ok(())
    );
    let path = e.path().to_path_buf();
    drop(e);
    let e = Engine::open(&path, EngineConfig::default()).unwrap();
    assert_eq!(e.alarms(), vec![alarm]);
    e.apply(4, &WriteRequest::AlarmDeactivate(alarm)).unwrap();
    e.apply(5, &WriteRequest::Put(PutRequest::new("k", "v")))
        .unwrap();
}

#[test]
fn bad_input_gets_its_own_error_and_writes_nothing() {
    let (_d, e) = open();
    put(&e, "keep", "v");
    let rev = e.current_revision();
    let applied = e.applied_index();
    let hash = e.hash_kv(0).unwrap();
    let big = vec![b'x'; (3 << 19) + 1];
    let many: Vec<RequestOp> = (0..129)
        .map(|i| RequestOp::Put(PutRequest::new(format!("k{i}"), "v")))
        .collect();
    let deep = (0..40).fold(TxnRequest::default(), |inner, _| TxnRequest {
        success: vec![RequestOp::Txn(inner)],
        ..Default::default()
    });
    let cases: Vec<(WriteRequest, Error)> = vec![
        (
            WriteRequest::Put(PutRequest::new("big", big)),
            Error::RequestTooLarge {
                size_bytes: (3 << 19) + 1 + 3 + 16,
                limit_bytes: 3 << 19,
            },
        ),
        (
            WriteRequest::Txn(TxnRequest {
                success: many,
                ..Default::default()
            }),
            Error::TooManyOps { limit: 128 },
        ),
        (
            WriteRequest::DeleteRange(DeleteRangeRequest::range("z", "a")),
            Error::InvalidRange,
        ),
        (
            WriteRequest::Put(PutRequest {
                lease: 12345,
                ..PutRequest::new("k", "v")
            }),
            Error::LeaseNotFound,
        ),
        (
            WriteRequest::LeaseRevoke { id: 12345 },
            Error::LeaseNotFound,
        ),
        (WriteRequest::Txn(deep), Error::TxnTooDeep { limit: 32 }),
        (
            WriteRequest::Compact { revision: 99 },
            Error::FutureRevision {
                current_revision: rev,
            },
        ),
    ];
    for (req, err) in cases {
        let got = e.write(&req);
        assert_eq!(
            got.as_ref().map(|_| ()),
            Err(&err),
            "{:?}",
            std::mem::discriminant(&req)
        );
        assert_eq!(e.current_revision(), rev);
    }
    assert_eq!(
        e.range(&RangeRequest::range("z", "a")),
        Err(Error::InvalidRange)
    );
    assert_eq!(e.range(&RangeRequest::key("")), Err(Error::EmptyKey));
    assert_eq!(e.hash_kv(0).unwrap(), hash, "nothing was written");
    // The checks that need state run inside apply: the index is consumed, nothing else.
    assert!(e.applied_index() >= applied);
    assert_eq!(kv_pairs(&all(&e)), pairs(&[("keep", "v")]));
    put(&e, "after", "ok");
}

#[test]
fn apply_is_idempotent_and_persists_the_applied_index_with_the_change() {
    let (dir, e) = open();
    let req = WriteRequest::Put(PutRequest::new("k", "v"));
    e.apply(10, &req).unwrap();
    assert_eq!(e.apply(10, &req).unwrap(), WriteResponse::AlreadyApplied);
    assert_eq!(e.apply(3, &req).unwrap(), WriteResponse::AlreadyApplied);
    assert_eq!(e.current_revision(), Revision(2));
    e.apply_with_state(11, &WriteRequest::Noop, b"raft-state")
        .unwrap();
    drop(e);
    let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    assert_eq!(e.applied_index(), 11);
    assert_eq!(
        e.replication_state().unwrap().as_deref(),
        Some(&b"raft-state"[..])
    );
    assert_eq!(e.apply(11, &req).unwrap(), WriteResponse::AlreadyApplied);
    assert_eq!(e.current_revision(), Revision(2));
}

#[test]
fn hash_kv_ignores_physical_compaction_progress() {
    let (_a, e1) = open();
    let (_b, e2) = open();
    for (i, e) in [&e1, &e2].into_iter().enumerate() {
        for j in 0..50 {
            e.write(&WriteRequest::Put(PutRequest::new(
                format!("k{}", j % 7),
                format!("{j}"),
            )))
            .unwrap();
            if j % 11 == 0 {
                e.write(&WriteRequest::DeleteRange(DeleteRangeRequest::key(
                    format!("k{}", j % 5),
                )))
                .unwrap();
            }
        }
        e.write(&WriteRequest::Compact { revision: 30 }).unwrap();
        if i == 0 {
            // Let e1 finish its physical compaction; e2 may not have.
            std::thread::sleep(std::time::Duration::from_millis(700));
        }
    }
    assert_eq!(e1.hash_kv(0).unwrap(), e2.hash_kv(0).unwrap());
    assert_eq!(e1.hash_kv(40).unwrap(), e2.hash_kv(40).unwrap());
    assert_ne!(e1.hash_kv(40).unwrap().hash, e1.hash_kv(0).unwrap().hash);
    assert!(matches!(e1.hash_kv(10), Err(Error::Compacted { .. })));
    e2.write(&WriteRequest::Put(PutRequest::new("diverge", "x")))
        .unwrap();
    assert_ne!(e1.hash_kv(0).unwrap().hash, e2.hash_kv(0).unwrap().hash);
}

#[test]
fn corruption_on_disk_is_reported_not_served() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
        for i in 0..2000 {
            e.write(&WriteRequest::Put(PutRequest::new(
                format!("key{i:05}"),
                format!("value-{i}-{}", "p".repeat(100)),
            )))
            .unwrap();
        }
        e.defragment().unwrap();
        e.close();
    }
    // Flip bytes in the middle of every table file.
    let mut n_files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "sst") {
            let mut bytes = std::fs::read(&path).unwrap();
            if bytes.len() > 4096 {
                let mid = bytes.len() / 3;
                for b in &mut bytes[mid..mid + 64] {
                    *b ^= 0x5a;
                }
                std::fs::write(&path, bytes).unwrap();
                n_files += 1;
            }
        }
    }
    assert!(n_files > 0, "expected table files to corrupt");
    let outcome = Engine::open(dir.path(), EngineConfig::default()).and_then(|e| {
        e.range(&RangeRequest::range(vec![0], vec![0]))?;
        e.hash_kv(0)
    });
    assert!(
        matches!(outcome, Err(Error::Corrupted(_))),
        "corruption must be reported, got {outcome:?}"
    );
}

/// The `kv` family has prefix Bloom filters on the user key: a put's lookup of the key's
/// newest version skips table files that never held it, and every scan across keys must
/// seek in total order, or it silently skips a file whose filter lacks the seek key. Keys
/// spread over several table files (flushes between interleaved batches), then ranges
/// starting at absent keys, gets, historic reads and versions are checked against a model.
#[test]
fn reads_across_table_files_with_prefix_filters_match_a_model() {
    type Model = std::collections::BTreeMap<String, (String, i64, i64)>; // value, create revision, version
    fn write(e: &Engine, model: &mut Model, k: &str, v: &str) {
        let rev = put(e, k, v).revision;
        let entry = model
            .entry(k.to_string())
            .or_insert((String::new(), rev, 0));
        entry.0 = v.to_string();
        entry.2 += 1;
    }
    let (dir, e) = open();
    let mut model = Model::new();
    for round in 0..4 {
        for i in (round % 2..400).step_by(2) {
            if round < 2 || i % 7 == 0 {
                write(
                    &e,
                    &mut model,
                    &format!("key/{i:06}"),
                    &format!("v{round}-{i}"),
                );
            }
        }
        e.flush().unwrap();
    }
    let (rev_mid, value_mid) = (e.current_revision().0, model["key/000100"].0.clone());
    write(&e, &mut model, "key/000100", "late");
    let check = |e: &Engine, model: &Model| {
        for start in [
            "key/",
            "key/0000005",
            "key/00001",
            "key/000150a",
            "key/000398",
            "key/0003999",
            "key/1",
        ] {
            let got = kv_pairs(&e.range(&RangeRequest::range(start, "key/9")).unwrap());
            let want: Vec<_> = model
                .range(start.to_string()..)
                .map(|(k, (v, _, _))| (k.clone(), v.clone()))
                .collect();
            assert_eq!(got, want, "range from {start}");
        }
        for i in 0..401 {
            let k = format!("key/{i:06}");
            let got = e.get(k.as_bytes()).unwrap().map(|kv| {
                (
                    String::from_utf8(kv.value).unwrap(),
                    kv.create_revision,
                    kv.version,
                )
            });
            assert_eq!(got.as_ref(), model.get(&k), "get {k}");
        }
        let r = e
            .range(&RangeRequest {
                revision: rev_mid,
                ..RangeRequest::key("key/000100")
            })
            .unwrap();
        assert_eq!(
            kv_pairs(&r),
            pairs(&[("key/000100", value_mid.as_str())]),
            "key/000100 at {rev_mid}"
        );
    };
    check(&e, &model);
    // A put of a key whose versions live in table files finds them (create revision, version).
    write(&e, &mut model, "key/000042", "again");
    check(&e, &model);
    let hash = e.hash_kv(0).unwrap();
    e.close();
    drop(e);
    let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
    check(&e, &model);
    e.defragment().unwrap();
    check(&e, &model);
    assert_eq!(e.hash_kv(0).unwrap(), hash);
}
