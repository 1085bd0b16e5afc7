//! Strategic merge patch, applied as kube-apiserver applies it to built-in kinds
//! (`StrategicMergeMapPatch`: parallel deletion lists merged, unmatched nulls ignored).
//!
//! Objects merge recursively and `null` deletes a member. Lists are replaced unless their
//! field has the `merge` strategy: lists of objects then merge element by element on the
//! field's merge key, lists of scalars as sets. Directives: `$patch: replace | delete` on
//! an object or as a list element, `$retainKeys`, `$deleteFromPrimitiveList/<field>`,
//! `$setElementOrder/<field>`. Element order follows Kubernetes: `$setElementOrder`, then
//! the patch's order, then the live object's.
//!
//! Kubernetes walks the patch in Go map order (random); Berth walks it in key order. The
//! result can only differ for contradictory patches (adding and deleting the same scalar).
//! Kubernetes decodes the result into its Go type, which drops directive keys left in
//! copied or replaced values; Berth strips them from the result instead.

use serde_json::{Map, Value};

use super::meta::PatchMeta;
use super::PatchError;
use crate::gofmt;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const ERR_LIST_OF_LISTS: &str = "lists of lists are not supported";

const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch to `doc` (an object) using `meta` for the fields'
/// strategies (see [`super::patch_meta`]).
///
/// A `null` patch changes nothing; a patch that is not an object is a bad request, as in
/// Kubernetes. The result carries no `$` directive keys.
pub fn strategic_merge_patch(doc: &Value, patch: &Value, meta: &PatchMeta) -> Result<Value> {
    let original = match doc {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(PatchError::StrategicBadRequest(
                "invalid JSON document".to_string(),
            ))
        }
    };
    let patch = match patch {
        Value::Object(m) => m.clone(),
        Value::Null => return Ok(Value::Object(original)),
        other => {
            return Err(PatchError::StrategicBadRequest(format!(
                "json: cannot unmarshal {} into Go value of type {GO_MAP}",
                gofmt::json_type_name(other)
            )))
        }
    };
    let mut out = Value::Object(merge_map(original, patch, meta)?);
    strip_directives(&mut out);
    Ok(out)
}

fn internal(msg: impl Into<String>) -> PatchError {
    PatchError::StrategicMerge(msg.into())
}

fn bad_request(msg: &str) -> PatchError {
    PatchError::StrategicBadRequest(msg.to_string())
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    internal(format!(
        "expected a {expected}, but received a {}",
        gofmt::go_type(actual)
    ))
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    internal(format!(
        "map: {} does not contain declared merge key: {key}",
        gofmt::go_v(&Value::Object(m.clone()))
    ))
}

/// Go's `%s` of a decoded JSON value.
fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        Value::Bool(b) => format!("%!s(bool={b})"),
        Value::Number(n) if n.is_i64() => format!("%!s(int64={})", gofmt::go_v(v)),
        Value::Number(_) => format!("%!s(float64={})", gofmt::go_v(v)),
        other => gofmt::go_v(other),
    }
}

fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> PatchError {
    internal(format!(
        "unknown patch type: {} in map: {}",
        go_s(t),
        gofmt::go_v(&Value::Object(m.clone()))
    ))
}

/// The Go type a decoded value has in kube-apiserver (numbers: int64 or float64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GoKind {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

fn go_kind(v: &Value) -> GoKind {
    match v {
        Value::Null => GoKind::Nil,
        Value::Bool(_) => GoKind::Bool,
        Value::Number(n) if n.is_i64() => GoKind::Int,
        Value::Number(_) => GoKind::Float,
        Value::String(_) => GoKind::String,
        Value::Array(_) => GoKind::Slice,
        Value::Object(_) => GoKind::Map,
    }
}

/// The key a directive-prefixed key is about (`$setElementOrder/containers` →
/// `containers`).
fn extract_key(s: &str, prefix: &str) -> Result<String> {
    match s.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest.to_string()),
        _ => Err(bad_request(
            if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX {
                ERR_PRIMITIVE_LIST
            } else {
                ERR_SET_ELEMENT_ORDER
            },
        )),
    }
}

fn sorted_keys(m: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = m.keys().cloned().collect();
    keys.sort();
    keys
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &PatchMeta,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(patch)
            }
            Some(DELETE_DIRECTIVE) => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, schema)?;

    for k in sorted_keys(&patch) {
        let Some(patch_v) = patch.remove(&k) else {
            continue;
        };
        let mut key = k.clone();
        let mut is_delete_list = false;
        if k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            let original_key = extract_key(&k, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?;
            is_delete_list = true;
            if !original_key.is_empty() {
                key = original_key;
            }
        }

        if patch_v.is_null() {
            original.remove(&key);
            continue;
        }

        let Some(orig_v) = original.get_mut(&key) else {
            if !is_delete_list {
                let mut v = patch_v;
                discard_nulls(&mut v);
                if let Some(v) = remove_directives(v) {
                    original.insert(key, v);
                }
            }
            continue;
        };

        if go_kind(orig_v) != go_kind(&patch_v) {
            if !is_delete_list {
                let mut v = patch_v;
                discard_nulls(&mut v);
                match remove_directives(v) {
                    Some(v) => *orig_v = v,
                    None => {
                        original.remove(&key);
                    }
                }
            }
            continue;
        }

        let field = schema.field(&key);
        match (orig_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                if field.is_some_and(|f| f.replaces_objects()) {
                    *o = p;
                } else {
                    let merged = merge_map(std::mem::take(o), p, schema.child(&key))?;
                    *o = merged;
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                let merges = field.is_some_and(|f| f.merges_lists());
                let merge_key = field.and_then(|f| f.merge_key());
                if merges || is_delete_list {
                    let merged = merge_slice(
                        std::mem::take(o),
                        p,
                        schema.child(&key),
                        &key,
                        merge_key,
                        is_delete_list,
                    )?;
                    *o = merged;
                } else {
                    *o = p;
                }
            }
            (o, p) => {
                // Scalars of the same type: the patch's value.
                *o = p;
            }
        }
    }
    Ok(original)
}

/// `$retainKeys`: members of the original not listed are cleared; every member of the patch
/// must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(list) = retain else {
        return Err(bad_request(ERR_RETAIN_KEYS));
    };
    let listed = |k: &str| list.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !listed(k) {
            return Err(bad_request(ERR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

fn list_member(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type(GO_SLICE, other)),
    }
}

/// Processes every `$setElementOrder/<field>` with its list, removing both from the patch.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &PatchMeta,
) -> Result<()> {
    let keys: Vec<String> = sorted_keys(patch)
        .into_iter()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .collect();
    for key in keys {
        let Some(order_v) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order_v else {
            return Err(bad_arg_type(GO_SLICE, &order_v));
        };
        let original_key = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = list_member(original, &original_key)?;
        let patch_list = list_member(patch, &original_key)?;
        let field = schema.field(&original_key);
        let merge_key = field.and_then(|f| f.merge_key());
        let merges = field.is_some_and(|f| f.merges_lists());

        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            merge_key,
        )?;

        let merged = match (&original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => p.iter().cloned().filter_map(remove_directives).collect(),
            (Some(o), Some(p)) => {
                if merges {
                    merge_slice(
                        o.clone(),
                        p.clone(),
                        schema.child(&original_key),
                        &original_key,
                        merge_key,
                        false,
                    )?
                } else {
                    p.clone()
                }
            }
            (None, None) => continue,
        };

        let (patch_items, server_only) = match merge_key {
            None => partition_primitives(merged, &order),
            Some(mk) => partition_maps(merged, &order, mk)?,
        };
        let original_list = original_list.unwrap_or_default();
        let kind =
            slice_element_type(&[&original_list, patch_list.as_deref().unwrap_or_default()])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &original_list,
            merge_key,
            kind,
        )?;
        original.insert(original_key.clone(), Value::Array(both));
        patch.remove(&original_key);
    }
    Ok(())
}

fn contains_directive_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: Option<&str>) -> Result<bool> {
    let Some(mk) = merge_key else {
        return Ok(left == right);
    };
    let l = left.as_object().ok_or_else(|| bad_arg_type(GO_MAP, left))?;
    let r = right
        .as_object()
        .ok_or_else(|| bad_arg_type(GO_MAP, right))?;
    let lv = l.get(mk).ok_or_else(|| no_merge_key(l, mk))?;
    let rv = r.get(mk).ok_or_else(|| no_merge_key(r, mk))?;
    Ok(lv == rv)
}

/// The items of a patch list (deletions aside) must appear in `$setElementOrder` in the
/// same relative order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = match merge_key {
        Some(_) => extract_to_delete_items(patch_list.to_vec())?.0,
        None => patch_list.to_vec(),
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if contains_directive_marker(&non_delete[pi]) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            gofmt::go_v(&Value::Array(patch_list.to_vec())),
            gofmt::go_v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// Splits a list of objects into those without and those with `$patch: delete`.
fn extract_to_delete_items(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in list {
        let m = v.as_object().ok_or_else(|| bad_arg_type(GO_MAP, &v))?;
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// The common Go type of the elements of some lists.
fn slice_element_type(lists: &[&[Value]]) -> Result<GoKind> {
    let mut prev: Option<GoKind> = None;
    for list in lists {
        for v in list.iter() {
            let current = go_kind(v);
            match prev {
                None => {
                    if current == GoKind::Slice {
                        return Err(PatchError::StrategicUnprocessable(
                            ERR_LIST_OF_LISTS.to_string(),
                        ));
                    }
                    if current == GoKind::Nil {
                        return Err(internal("list elements must not be null"));
                    }
                    prev = Some(current);
                }
                Some(p) if p != current => {
                    let all =
                        Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                    return Err(internal(format!(
                        "list element types are not identical: {}",
                        gofmt::go_v(&all)
                    )));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or_else(|| internal("no elements in any of the given slices"))
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: &PatchMeta,
    field_name: &str,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_type(&[&original, &patch])?;
    let (original, patch, merged) = if kind != GoKind::Map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        let merged = deduplicate_scalars(both);
        (original, patch, merged)
    } else {
        let Some(mk) = merge_key else {
            return Err(internal(format!(
                "cannot merge lists without merge key for {field_name}"
            )));
        };
        let (original, patch) = merge_slice_with_special_elements(original, patch, mk)?;
        let merged = merge_slice_without_special_elements(original.clone(), &patch, mk, schema)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = match merge_key {
        Some(mk) if kind == GoKind::Map => partition_maps(merged, &patch, mk)?,
        _ => partition_primitives(merged, &patch),
    };
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Handles `$patch` elements of a list of objects: `delete` removes every element with the
/// same merge key, `replace` makes the rest of the patch the whole list.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type(GO_MAP, &v));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(value) = m.get(merge_key) else {
                    return Err(no_merge_key(m, merge_key));
                };
                let mut kept = Vec::with_capacity(original.len());
                for (i, item) in original.into_iter().enumerate() {
                    let Some(o) = item.as_object() else {
                        return Err(internal(format!("value for key {i} is not a map")));
                    };
                    if o.get(merge_key) != Some(value) {
                        kept.push(item);
                    }
                }
                original = kept;
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(internal(
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// The index of the first object whose merge key has `value`.
fn find_by_merge_key(list: &[Value], merge_key: &str, value: &Value) -> Result<Option<usize>> {
    for (i, item) in list.iter().enumerate() {
        let Some(o) = item.as_object() else {
            return Err(internal(format!("value for key {i} is not a map")));
        };
        if o.get(merge_key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: &PatchMeta,
) -> Result<Vec<Value>> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type(GO_MAP, v));
        };
        let Some(value) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        match find_by_merge_key(&original, merge_key, value)? {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    return Err(internal(format!("value for key {i} is not a map")));
                };
                original[i] = Value::Object(merge_map(o, m.clone(), schema)?);
            }
            None => original.push(v.clone()),
        }
    }
    Ok(original)
}

/// Kubernetes' in-place de-duplication (a duplicate is overwritten by the last element).
fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut length = s.len() as isize - 1;
    let mut i: isize = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if s[i as usize] == s[j as usize] {
                s[j as usize] = s[length as usize].clone();
                s.truncate(length as usize);
                length -= 1;
                j -= 1;
            }
            j += 1;
        }
        i += 1;
    }
    s
}

fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter().partition(|v| by.contains(v))
}

fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for v in list {
        let m = v.as_object().ok_or_else(|| bad_arg_type(GO_MAP, &v))?;
        let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        if find_by_merge_key(by, merge_key, value)?.is_some() {
            inside.push(v);
        } else {
            outside.push(v);
        }
    }
    Ok((inside, outside))
}

fn validate_merge_key_in_lists(merge_key: &str, lists: &[&[Value]]) -> Result<()> {
    for list in lists {
        for item in list.iter() {
            let m = item.as_object().ok_or_else(|| bad_arg_type(GO_MAP, item))?;
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
    }
    Ok(())
}

/// Where `item` stands in `order` (by merge key for objects; a missing or null key
/// matches a missing or null key, as Go's nil does).
fn index_of(order: &[Value], item: &Value, merge_key: &str, kind: GoKind) -> Option<usize> {
    if kind == GoKind::Map {
        let key_of = |v: &Value| {
            v.as_object()
                .and_then(|m| m.get(merge_key))
                .filter(|k| !k.is_null())
                .cloned()
        };
        let want = key_of(item);
        order.iter().position(|v| key_of(v) == want)
    } else {
        order.iter().position(|v| v == item)
    }
}

/// Sorts `patch` by `patch_order` and `server_only` by `server_order`, then interleaves
/// them.
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: GoKind,
) -> Result<Vec<Value>> {
    let mk = merge_key.unwrap_or_default();
    let patch = normalize_slice_order(patch, patch_order, mk, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, mk, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        mk,
        kind,
    ))
}

fn normalize_slice_order(
    mut to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoKind,
) -> Result<Vec<Value>> {
    let mut to_delete = Vec::new();
    if kind == GoKind::Map {
        validate_merge_key_in_lists(merge_key, &[&to_sort, order])?;
        (to_sort, to_delete) = extract_to_delete_items(to_sort)?;
    }
    let positions: Vec<Option<usize>> = to_sort
        .iter()
        .map(|v| index_of(order, v, merge_key, kind))
        .collect();
    let mut items: Vec<(Option<usize>, Value)> = positions.into_iter().zip(to_sort).collect();
    // Kubernetes' comparison: by position when both are found, "less" otherwise.
    go_stable_sort(&mut items, |a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x < y,
        _ => true,
    });
    let mut out: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    out.extend(to_delete);
    Ok(out)
}

/// Inserts the server-only items (`left`) among the patch items (`right`), keeping each
/// list's order; a server-only item goes first only when both are found in the live list
/// and it stands earlier there.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: GoKind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => return out,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key, kind);
                let ri = index_of(server_order, r, merge_key, kind);
                match (li, ri) {
                    (Some(a), Some(b)) if a < b => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
}

/// Go's `sort.SliceStable` (insertion sort on blocks of 20, then symmetric merges), so that
/// even an inconsistent comparison orders elements as Kubernetes does.
fn go_stable_sort<T>(data: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, &less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [T], a: usize, m: usize, b: usize, less: &impl Fn(&T, &T) -> bool) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for k in a..i.saturating_sub(1) {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let (mut i, mut j) = (m - a, b - m);
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

/// Drops objects carrying `$patch` (and members holding them) from a value copied from the
/// patch; `None` if the value itself is one.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Drops `null` members of objects at any depth.
fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Removes directive keys left in copied values (what decoding into the Go type does).
fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_directive_key(k));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}
