//! Bad bodies: each must give its typed error, never a panic. Unknown fields and groups are
//! skipped. A fuzz case throws random and mutated bodies at the decoder.

use berth_kube_proto::{decode, encode, is_supported, ProtoError, MAGIC};
use proptest::prelude::*;
use serde_json::json;

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

fn tag(number: u64, wire_type: u8) -> Vec<u8> {
    varint((number << 3) | u64::from(wire_type))
}

fn len_field(number: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = tag(number, 2);
    out.extend(varint(bytes.len() as u64));
    out.extend_from_slice(bytes);
    out
}

fn varint_field(number: u64, v: u64) -> Vec<u8> {
    let mut out = tag(number, 0);
    out.extend(varint(v));
    out
}

/// A body with the given envelope kind and raw object bytes.
fn body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [
        len_field(1, api_version.as_bytes()),
        len_field(2, kind.as_bytes()),
    ]
    .concat();
    [MAGIC.to_vec(), len_field(1, &type_meta), len_field(2, raw)].concat()
}

fn magic(rest: &[u8]) -> Vec<u8> {
    [MAGIC.as_slice(), rest].concat()
}

/// A ControllerRevision whose `data` holds another enveloped ControllerRevision, `levels` deep.
fn nested_revisions(levels: usize) -> Vec<u8> {
    let mut inner = body("apps/v1", "ControllerRevision", &varint_field(3, 1));
    for _ in 0..levels {
        let raw_extension = len_field(1, &inner);
        inner = body(
            "apps/v1",
            "ControllerRevision",
            &len_field(2, &raw_extension),
        );
    }
    inner
}

/// Whether an error is the one a case expects.
type Expect = fn(&ProtoError) -> bool;

#[test]
fn bad_bodies_give_typed_errors() {
    let long_varint = [0xffu8; 11];
    let time_far_future = len_field(8, &varint_field(1, 400_000_000_000));
    let metadata_far_future = len_field(1, &time_far_future);
    let bad_int_or_string = {
        let int_or_string = [varint_field(1, 5), varint_field(2, 1)].concat();
        let spec = len_field(3, &int_or_string);
        len_field(2, &spec)
    };
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty body", vec![], |e| matches!(e, ProtoError::BadMagic)),
        ("short magic", b"k8s".to_vec(), |e| {
            matches!(e, ProtoError::BadMagic)
        }),
        ("wrong magic", b"k9s\0\x0a\x00".to_vec(), |e| {
            matches!(e, ProtoError::BadMagic)
        }),
        ("json body", br#"{"kind":"Namespace"}"#.to_vec(), |e| {
            matches!(e, ProtoError::BadMagic)
        }),
        ("magic only", magic(&[]), |e| {
            matches!(e, ProtoError::MissingKind)
        }),
        ("tag without length", magic(&[0x0a]), |e| {
            matches!(e, ProtoError::Truncated { offset: 5, .. })
        }),
        ("length past the end", magic(&[0x0a, 0x05, b'a']), |e| {
            matches!(
                e,
                ProtoError::LengthOutOfBounds {
                    len_bytes: 5,
                    remaining_bytes: 1,
                    offset: 5
                }
            )
        }),
        (
            "huge length",
            magic(&[&[0x12][..], &varint(u64::MAX)].concat()),
            |e| {
                matches!(
                    e,
                    ProtoError::LengthOutOfBounds {
                        len_bytes: u64::MAX,
                        ..
                    }
                )
            },
        ),
        (
            "varint of eleven bytes",
            magic(&[&[0x08][..], &long_varint].concat()),
            |e| matches!(e, ProtoError::VarintTooLong { offset: 5 }),
        ),
        ("wire type 7", magic(&[0x0f]), |e| {
            matches!(e, ProtoError::BadWireType { wire_type: 7, .. })
        }),
        ("wire type 6", magic(&[0x0e]), |e| {
            matches!(e, ProtoError::BadWireType { wire_type: 6, .. })
        }),
        ("stray end group", magic(&[0x0c]), |e| {
            matches!(e, ProtoError::BadWireType { wire_type: 4, .. })
        }),
        ("unclosed group", magic(&[0x0b, 0x08, 0x01]), |e| {
            matches!(e, ProtoError::Truncated { what: "group", .. })
        }),
        ("field number 0", magic(&[0x02, 0x00]), |e| {
            matches!(e, ProtoError::BadFieldNumber { field: 0, .. })
        }),
        ("truncated fixed64", magic(&[0x09, 1, 2, 3]), |e| {
            matches!(
                e,
                ProtoError::Truncated {
                    what: "fixed64",
                    ..
                }
            )
        }),
        ("typeMeta as a varint", magic(&[0x08, 0x01]), |e| {
            matches!(e, ProtoError::WireTypeMismatch { field: 1, .. })
        }),
        (
            "unsupported kind",
            body("example.com/v1", "Widget", &[]),
            |e| matches!(e, ProtoError::UnsupportedKind { api_version, kind } if api_version == "example.com/v1" && kind == "Widget"),
        ),
        (
            "gzip content",
            [body("v1", "Namespace", &[]), len_field(3, b"gzip")].concat(),
            |e| matches!(e, ProtoError::UnsupportedContentEncoding(enc) if enc == "gzip"),
        ),
        (
            "json content type",
            [
                body("v1", "Namespace", &[]),
                len_field(4, b"application/json"),
            ]
            .concat(),
            |e| matches!(e, ProtoError::UnsupportedContentType(_)),
        ),
        (
            "metadata as a varint",
            body("v1", "Namespace", &varint_field(1, 3)),
            |e| {
                matches!(
                    e,
                    ProtoError::WireTypeMismatch {
                        message: "core/v1.Namespace",
                        field: 1,
                        got: 0,
                        expected: 2,
                        ..
                    }
                )
            },
        ),
        (
            "name as a varint",
            body("v1", "Namespace", &len_field(1, &varint_field(1, 3))),
            |e| {
                matches!(
                    e,
                    ProtoError::WireTypeMismatch {
                        message: "meta/v1.ObjectMeta",
                        field: 1,
                        ..
                    }
                )
            },
        ),
        (
            "replicas as a string",
            body("apps/v1", "Deployment", &len_field(2, &len_field(1, b"3"))),
            |e| {
                matches!(
                    e,
                    ProtoError::WireTypeMismatch {
                        message: "apps/v1.DeploymentSpec",
                        field: 1,
                        ..
                    }
                )
            },
        ),
        (
            "time after year 9999",
            body("v1", "Namespace", &metadata_far_future),
            |e| {
                matches!(
                    e,
                    ProtoError::TimeOutOfRange {
                        seconds: 400_000_000_000,
                        ..
                    }
                )
            },
        ),
        (
            "IntOrString of type 5",
            body("policy/v1", "PodDisruptionBudget", &bad_int_or_string),
            |e| matches!(e, ProtoError::BadIntOrString { type_code: 5, .. }),
        ),
        (
            "RawExtension not JSON",
            body(
                "apps/v1",
                "ControllerRevision",
                &len_field(2, &len_field(1, b"{nope")),
            ),
            |e| matches!(e, ProtoError::BadEmbeddedJson { .. }),
        ),
        ("objects nested 200 deep", nested_revisions(200), |e| {
            matches!(e, ProtoError::TooDeep { .. })
        }),
    ];
    let mut failures = Vec::new();
    for (name, bytes, expected) in cases {
        match decode(&bytes) {
            Err(e) if expected(&e) => {}
            other => failures.push(format!("{name}: got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_fields_and_groups_are_skipped() {
    let metadata = [
        len_field(1, b"team-a"),
        varint_field(999, 7),
        tag(1000, 1),
        vec![0; 8],
        tag(1001, 5),
        vec![0; 4],
        tag(1002, 3),
        varint_field(1, 1),
        tag(1003, 3),
        tag(1003, 4),
        tag(1002, 4),
    ]
    .concat();
    let raw = [len_field(1, &metadata), len_field(77, b"future field")].concat();
    let decoded = decode(&body("v1", "Namespace", &raw)).expect("decode");
    assert_eq!(
        decoded,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    );
}

#[test]
fn nested_objects_within_the_limit_decode() {
    let decoded = decode(&nested_revisions(20)).expect("decode");
    let mut depth = 0;
    let mut value = &decoded;
    while let Some(inner) = value.get("data").filter(|d| d.is_object()) {
        depth += 1;
        value = inner;
    }
    assert_eq!(depth, 20);
    assert_eq!(value["revision"], json!(1));
}

#[test]
fn packed_and_negative_numbers() {
    // PodSecurityContext.supplementalGroups (int64, field 4) packed; runAsUser (field 2) negative.
    let packed = [varint(1), varint(2), varint(300)].concat();
    let security_context = [len_field(4, &packed), varint_field(2, (-1i64) as u64)].concat();
    let spec = len_field(14, &security_context);
    let decoded = decode(&body("v1", "Pod", &len_field(2, &spec))).expect("decode");
    assert_eq!(
        decoded["spec"]["securityContext"],
        json!({"supplementalGroups": [1, 2, 300], "runAsUser": -1})
    );
}

#[test]
fn supported_kinds() {
    let cases = [
        ("v1", "Namespace", true),
        ("v1", "Pod", true),
        ("apps/v1", "Deployment", true),
        ("batch/v1", "CronJob", true),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview", true),
        ("v1", "DeleteOptions", true),
        ("apps/v1", "DeleteOptions", true),
        ("meta.k8s.io/v1", "DeleteOptions", true),
        ("example.com/v1", "DeleteOptions", false),
        ("apps/v1", "Pod", false),
        ("v1", "Widget", false),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", false),
    ];
    for (api_version, kind, want) in cases {
        assert_eq!(
            is_supported(api_version, kind),
            want,
            "{api_version} {kind}"
        );
    }
}

#[test]
fn bad_json_gives_typed_errors() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!([]), "$: expected an object"),
        (
            json!({"kind": "Namespace"}),
            "the object has no string apiVersion",
        ),
        (json!({"apiVersion": "v1"}), "the object has no string kind"),
        (
            json!({"apiVersion": "v1", "kind": "Widget"}),
            "kind \"Widget\" of apiVersion \"v1\" is not supported in protobuf",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": 3}}),
            "$.metadata.name: expected a string",
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1u64 << 40}}),
            "$.spec.replicas: expected a 32-bit integer",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}}),
            "$.data.k: invalid base64 \"not base64!\"",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"creationTimestamp": "yesterday"}}),
            "$.metadata.creationTimestamp: invalid time \"yesterday\"",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}}),
            "$.spec.containers[0].ports[0].containerPort: expected a 32-bit integer",
        ),
    ];
    for (value, want) in cases {
        match encode(&value) {
            Err(e) => assert_eq!(e.to_string(), want, "{value}"),
            Ok(_) => panic!("{value}: encoded, want {want}"),
        }
    }
}

proptest! {
    #[test]
    fn random_bodies_never_panic(rest in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&magic(&rest));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        name_idx in 0usize..4,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let names = ["deployment", "ingress", "rolebinding", "secret_tls"];
        let path = format!("{}/tests/fixtures/{}.pb", env!("CARGO_MANIFEST_DIR"), names[name_idx]);
        let mut bytes = std::fs::read(path).expect("fixture");
        for (idx, byte) in flips {
            let i = idx.index(bytes.len());
            bytes[i] = byte;
        }
        let len = cut.index(bytes.len() + 1);
        if let Ok(value) = decode(&bytes[..len]) {
            // Whatever decodes must also encode.
            let _ = encode(&value);
        }
    }
}
