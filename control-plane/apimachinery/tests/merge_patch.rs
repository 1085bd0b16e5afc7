//! JSON merge patch: the examples of RFC 7386 appendix A, and kube-apiserver's departures.

use berth_apimachinery::patch::{merge_patch, strategic_merge_patch, PatchMeta};
use serde_json::{json, Map, Value};

fn check(doc: Value, patch: Value, expected: Result<Value, &str>) {
    let got = merge_patch(&doc, &patch).map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(str::to_string),
        "doc {doc} patch {patch}"
    );
}

#[test]
fn rfc7386_appendix_a() {
    check(json!({"a": "b"}), json!({"a": "c"}), Ok(json!({"a": "c"})));
    check(
        json!({"a": "b"}),
        json!({"b": "c"}),
        Ok(json!({"a": "b", "b": "c"})),
    );
    check(json!({"a": "b"}), json!({"a": null}), Ok(json!({})));
    check(
        json!({"a": "b", "b": "c"}),
        json!({"a": null}),
        Ok(json!({"b": "c"})),
    );
    check(
        json!({"a": ["b"]}),
        json!({"a": "c"}),
        Ok(json!({"a": "c"})),
    );
    check(
        json!({"a": "c"}),
        json!({"a": ["b"]}),
        Ok(json!({"a": ["b"]})),
    );
    check(
        json!({"a": {"b": "c"}}),
        json!({"a": {"b": "d", "c": null}}),
        Ok(json!({"a": {"b": "d"}})),
    );
    check(
        json!({"a": [{"b": "c"}]}),
        json!({"a": [1]}),
        Ok(json!({"a": [1]})),
    );
    check(json!(["a", "b"]), json!(["c", "d"]), Ok(json!(["c", "d"])));
    check(json!({"a": "b"}), json!(["c"]), Ok(json!(["c"])));
    check(
        json!({"e": null}),
        json!({"a": 1}),
        Ok(json!({"e": null, "a": 1})),
    );
    check(
        json!([1, 2]),
        json!({"a": "b", "c": null}),
        Ok(json!({"a": "b"})),
    );
    check(
        json!({}),
        json!({"a": {"bb": {"ccc": null}}}),
        Ok(json!({"a": {"bb": {}}})),
    );
    // The RFC gives `null` and "bar" for these; Kubernetes refuses such patches.
    check(json!({"a": "foo"}), json!(null), Err("Invalid JSON Patch"));
    check(json!({"a": "foo"}), json!("bar"), Err("Invalid JSON Patch"));
}

#[test]
fn kubernetes_details() {
    // Lists are replaced, as the kubectl patch task shows for `--type merge`.
    check(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx"}]}}}}),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "redis"}]}}}}),
        Ok(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "redis"}]}}}}),
        ),
    );
    // Nulls inside objects inside arrays are dropped too.
    check(
        json!({}),
        json!({"a": [{"b": null, "c": 1}, null]}),
        Ok(json!({"a": [{"c": 1}, null]})),
    );
    // An object replaced by an array keeps the array as sent.
    check(
        json!({"a": {"x": 1}}),
        json!({"a": [{"b": null}]}),
        Ok(json!({"a": [{"b": null}]})),
    );
    // A null member of the document is replaced, not merged.
    check(
        json!({"a": null}),
        json!({"a": {"b": null, "c": 1}}),
        Ok(json!({"a": {"c": 1}})),
    );
    // Deleting a label.
    check(
        json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}}),
        json!({"metadata": {"labels": {"tier": null}}}),
        Ok(json!({"metadata": {"labels": {"app": "web"}}})),
    );
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A random object over a few keys; `nulls` allows null members (patches only). Arrays
/// hold scalars only.
fn random_object(rng: &mut Rng, depth: u32, nulls: bool) -> Value {
    let mut m = Map::new();
    for key in ["a", "b", "c"] {
        let roll = rng.next() % 7;
        let v = match roll {
            0 => continue,
            1 if nulls => Value::Null,
            1 | 2 => json!(rng.next() % 3),
            3 => json!(["x", "y", "z"][(rng.next() % 3) as usize]),
            4 => json!([rng.next() % 2, "s"]),
            _ if depth > 0 => random_object(rng, depth - 1, nulls),
            _ => json!(true),
        };
        m.insert(key.to_string(), v);
    }
    Value::Object(m)
}

/// Reference merge patch written from RFC 7386 section 2.
fn reference(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut t = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            let cur = t.get(k).cloned().unwrap_or(Value::Null);
            t.insert(k.clone(), reference(&cur, v));
        }
    }
    Value::Object(t)
}

#[test]
fn merge_patch_agrees_with_the_rfc_and_plain_strategic_merge() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let no_strategies = PatchMeta::new();
    for _ in 0..5000 {
        let doc = random_object(&mut rng, 3, false);
        let patch = random_object(&mut rng, 3, true);
        let want = reference(&doc, &patch);
        assert_eq!(
            merge_patch(&doc, &patch).unwrap(),
            want,
            "doc {doc} patch {patch}"
        );
        // Without strategies or directives, a strategic merge patch is a merge patch.
        assert_eq!(
            strategic_merge_patch(&doc, &patch, &no_strategies).unwrap(),
            want,
            "doc {doc} patch {patch}"
        );
    }
}
