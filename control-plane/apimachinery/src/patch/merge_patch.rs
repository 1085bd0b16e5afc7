//! JSON merge patch (RFC 7386) as kube-apiserver applies it: objects merge recursively,
//! `null` deletes a member, anything else replaces.
//!
//! Kubernetes' JSON-patch library differs from the RFC in two details kept here: `null`
//! members of objects nested in arrays of the patch are dropped too (the RFC copies arrays
//! verbatim), and a patch that is neither an object nor an array is rejected.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies a merge patch to `doc`.
///
/// The patch must be an object or an array ([`PatchError::InvalidMergePatch`] otherwise,
/// which is also what Kubernetes answers for `null`); an array replaces the whole document
/// (which the API server then fails to decode as an object).
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    match patch {
        Value::Object(p) => match doc {
            Value::Object(d) => {
                let mut out = d.clone();
                merge_objects(&mut out, p);
                Ok(Value::Object(out))
            }
            _ => {
                let mut out = patch.clone();
                prune_nulls(&mut out);
                Ok(out)
            }
        },
        Value::Array(_) => {
            let mut out = patch.clone();
            prune_nulls(&mut out);
            Ok(out)
        }
        _ => Err(PatchError::InvalidMergePatch),
    }
}

fn merge_objects(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.remove(k);
            continue;
        }
        match doc.get_mut(k) {
            Some(cur) if !cur.is_null() => merge_value(cur, v),
            _ => {
                let mut v = v.clone();
                prune_nulls(&mut v);
                doc.insert(k.clone(), v);
            }
        }
    }
}

fn merge_value(cur: &mut Value, patch: &Value) {
    match (cur, patch) {
        (Value::Object(c), Value::Object(p)) => merge_objects(c, p),
        // An object replaced by a non-object: taken as is.
        (cur @ Value::Object(_), p) => *cur = p.clone(),
        (cur, p) => {
            let mut p = p.clone();
            prune_nulls(&mut p);
            *cur = p;
        }
    }
}

/// Drops `null` members of objects, at any depth (array elements stay, even `null`).
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}
