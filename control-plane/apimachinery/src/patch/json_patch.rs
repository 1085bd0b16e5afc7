//! JSON patch (RFC 6902) as kube-apiserver applies it (its JSON-patch library at v4):
//! operations run in order on a copy of the object; the first failure aborts with the
//! library's message.
//!
//! Departures from RFC 6902 that Kubernetes has and Berth keeps, because clients rely on
//! what the server does: `replace` of a missing object member adds it; `add` without a
//! `value` adds `null`; a `test` of a missing member against `null` succeeds; array indices
//! may be negative (counted from the end); a path not starting with `/` has its first
//! segment ignored; `null` members cannot be traversed.

use serde_json::{Map, Value};

use super::PatchError;
use crate::gofmt;

/// The bounds kube-apiserver puts on JSON patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonPatchLimits {
    /// Most operations in one patch (kube-apiserver: 10000).
    pub max_operations: usize,
    /// Most bytes all `copy` operations of one patch may add (kube-apiserver's
    /// `--json-patch-max-copy-bytes` default: 3 MiB); 0 = unlimited.
    pub max_copy_bytes: usize,
}

impl Default for JsonPatchLimits {
    fn default() -> Self {
        JsonPatchLimits {
            max_operations: 10_000,
            max_copy_bytes: 3 * 1024 * 1024,
        }
    }
}

/// Applies a JSON patch (the decoded request body) to `doc` with kube-apiserver's default
/// limits.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    json_patch_with_limits(doc, patch, JsonPatchLimits::default())
}

/// [`json_patch`] with explicit limits.
pub fn json_patch_with_limits(
    doc: &Value,
    patch: &Value,
    limits: JsonPatchLimits,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let ops: Vec<&Map<String, Value>> = match patch {
        Value::Null => Vec::new(),
        Value::Array(items) => {
            let mut ops = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(op) => ops.push(op),
                    Value::Null => ops.push(&empty),
                    other => {
                        return Err(PatchError::JsonPatchDecode(format!(
                            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                            gofmt::json_type_name(other)
                        )))
                    }
                }
            }
            ops
        }
        other => {
            return Err(PatchError::JsonPatchDecode(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                gofmt::json_type_name(other)
            )))
        }
    };
    if ops.len() > limits.max_operations {
        return Err(PatchError::TooManyOperations {
            max: limits.max_operations,
            got: ops.len(),
        });
    }
    if !matches!(doc, Value::Object(_) | Value::Array(_)) {
        return Err(PatchError::JsonPatchApply(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.partialDoc",
            gofmt::json_type_name(doc)
        )));
    }
    let mut doc = doc.clone();
    let mut copied_bytes = 0usize;
    for op in ops {
        apply_op(&mut doc, op, limits, &mut copied_bytes).map_err(PatchError::JsonPatchApply)?;
    }
    Ok(doc)
}

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

fn apply_op(
    doc: &mut Value,
    op: &Map<String, Value>,
    limits: JsonPatchLimits,
    copied_bytes: &mut usize,
) -> Result<(), String> {
    let kind = match op.get("op") {
        Some(Value::String(s)) => s.as_str(),
        _ => "unknown",
    };
    match kind {
        "add" => op_add(doc, op),
        "remove" => op_remove(doc, op),
        "replace" => op_replace(doc, op),
        "move" => op_move(doc, op),
        "test" => op_test(doc, op),
        "copy" => op_copy(doc, op, limits, copied_bytes),
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// A string member of the operation (`path`, `from`), with the library's errors.
fn string_member(op: &Map<String, Value>, name: &str, missing: &str) -> Result<String, String> {
    match op.get(name) {
        None | Some(Value::Null) => Err(missing.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            gofmt::json_type_name(other)
        )),
    }
}

fn path_of(op: &Map<String, Value>) -> Result<String, String> {
    string_member(op, "path", "operation missing path field: missing value")
}

fn from_of(op: &Map<String, Value>) -> Result<String, String> {
    string_member(op, "from", "operation, missing from field: missing value")
}

/// RFC 6901 unescaping: `~1` is `/`, `~0` is `~`.
fn decode_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut rest = k;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("~1") {
            out.push('/');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("~0") {
            out.push('~');
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Go's `strconv.Atoi`, with its error message.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {}: {why}", gofmt::quote(s))
    })
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: {INVALID_INDEX}")
}

/// Resolves an array index for reading, replacing or removing.
fn existing_index(len: usize, key: &str) -> Result<usize, String> {
    let mut idx = atoi(key)?;
    let n = len as i64;
    if idx < 0 {
        if idx < -n {
            return Err(invalid_index(idx));
        }
        idx += n;
    }
    if idx >= n {
        return Err(invalid_index(idx));
    }
    Ok(idx as usize)
}

/// The container (object or array) a path's parent designates, and the last key,
/// unescaped; `None` where the library reports a missing path.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut cur = doc;
    for part in &split[1..split.len() - 1] {
        let key = decode_key(part);
        let next = match cur {
            Value::Object(map) => map.get_mut(&key)?,
            Value::Array(items) => {
                let idx = existing_index(items.len(), &key).ok()?;
                &mut items[idx]
            }
            _ => return None,
        };
        if !matches!(next, Value::Object(_) | Value::Array(_)) {
            return None;
        }
        cur = next;
    }
    Some((cur, decode_key(split[split.len() - 1])))
}

/// The value at `key` of a container: `Ok(None)` for a missing object member.
fn con_get(con: &Value, key: &str) -> Result<Option<Value>, String> {
    match con {
        Value::Object(map) => Ok(map.get(key).cloned()),
        Value::Array(items) => {
            let idx = existing_index(items.len(), key)?;
            Ok(Some(items[idx].clone()))
        }
        _ => Err(MISSING.to_string()),
    }
}

fn con_add(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_string(), val);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(val);
                return Ok(());
            }
            let mut idx = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = items.len() as i64 + 1;
            if idx >= size {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -size {
                    return Err(invalid_index(idx));
                }
                idx += size;
            }
            items.insert(idx as usize, val);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn con_set(con: &mut Value, key: &str, val: Value) -> Result<(), String> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_string(), val);
            Ok(())
        }
        Value::Array(items) => {
            let idx = existing_index(items.len(), key)?;
            items[idx] = val;
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn con_remove(con: &mut Value, key: &str) -> Result<(), String> {
    match con {
        Value::Object(map) => match map.remove(key) {
            Some(_) => Ok(()),
            None => Err(format!(
                "Unable to remove nonexistent key: {key}: {MISSING}"
            )),
        },
        Value::Array(items) => {
            let mut idx = atoi(key)?;
            let n = items.len() as i64;
            if idx >= n {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -n {
                    return Err(invalid_index(idx));
                }
                idx += n;
            }
            items.remove(idx as usize);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn op_value(op: &Map<String, Value>) -> Option<Value> {
    op.get("value").cloned()
}

fn op_add(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path =
        path_of(op).map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "add operation does not apply: doc is missing path: \"{path}\": {MISSING}"
        ));
    };
    con_add(con, &key, op_value(op).unwrap_or(Value::Null))
        .map_err(|e| format!("error in add for path: '{path}': {e}"))
}

fn op_remove(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path =
        path_of(op).map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
        ));
    };
    con_remove(con, &key).map_err(|e| format!("error in remove for path: '{path}': {e}"))
}

fn op_replace(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(op).map_err(|e| format!("replace operation failed to decode path: {e}"))?;
    if path.is_empty() {
        return match op_value(op) {
            Some(v @ (Value::Object(_) | Value::Array(_))) => {
                *doc = v;
                Ok(())
            }
            _ => Err("replace operation value must be object or array: %!w(<nil>)".to_string()),
        };
    }
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "replace operation does not apply: doc is missing path: {path}: {MISSING}"
        ));
    };
    if con_get(con, &key).is_err() {
        return Err(format!(
            "replace operation does not apply: doc is missing key: {path}: {MISSING}"
        ));
    }
    con_set(con, &key, op_value(op).unwrap_or(Value::Null))
        .map_err(|e| format!("error in remove for path: '{path}': {e}"))
}

fn op_move(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let from = from_of(op).map_err(|e| format!("move operation failed to decode from: {e}"))?;
    let Some((con, key)) = find_object(doc, &from) else {
        return Err(format!(
            "move operation does not apply: doc is missing from path: {from}: {MISSING}"
        ));
    };
    let val = con_get(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
    con_remove(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
    let path = path_of(op).map_err(|e| format!("move operation failed to decode path: {e}"))?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
        ));
    };
    con_add(con, &key, val.unwrap_or(Value::Null))
        .map_err(|e| format!("error in move for path: '{path}': {e}"))
}

fn op_test(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(op).map_err(|e| format!("test operation failed to decode path: {e}"))?;
    let want = op_value(op);
    let failed = || format!("testing value {path} failed: test failed");
    if path.is_empty() {
        return if want.as_ref() == Some(&*doc) {
            Ok(())
        } else {
            Err(failed())
        };
    }
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "test operation does not apply: is missing path: {path}: {MISSING}"
        ));
    };
    let have = con_get(con, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
    match (have, want) {
        // A missing or null member matches a missing or null value.
        (None | Some(Value::Null), None | Some(Value::Null)) => Ok(()),
        (Some(have), Some(want)) if have == want => Ok(()),
        _ => Err(failed()),
    }
}

fn op_copy(
    doc: &mut Value,
    op: &Map<String, Value>,
    limits: JsonPatchLimits,
    copied_bytes: &mut usize,
) -> Result<(), String> {
    let from = from_of(op).map_err(|e| format!("copy operation failed to decode from: {e}"))?;
    let Some((con, key)) = find_object(doc, &from) else {
        return Err(format!(
            "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
        ));
    };
    let val = con_get(con, &key).map_err(|e| format!("error in copy for from: '{from}': {e}"))?;
    let path =
        path_of(op).map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
    let Some((con, key)) = find_object(doc, &path) else {
        return Err(format!(
            "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
        ));
    };
    let size = val.as_ref().map_or(0, |v| gofmt::json_marshal(v).len());
    *copied_bytes += size;
    if limits.max_copy_bytes > 0 && *copied_bytes > limits.max_copy_bytes {
        return Err(format!(
            "Unable to complete the copy, the accumulated size increase of copy is {}, exceeding the limit {}",
            copied_bytes, limits.max_copy_bytes
        ));
    }
    con_add(con, &key, val.unwrap_or(Value::Null))
        .map_err(|e| format!("error while adding value during copy: {e}"))
}
