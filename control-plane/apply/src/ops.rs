//! The two writes: [`apply`] (merge a config, prune what the applier dropped, detect
//! conflicts) and [`track_update`] (record which fields a create, update or patch set).

use serde_json::{Map, Value};

use crate::fieldpath::{FieldSet, PathElement};
use crate::managed::{self, ManagedEntry, Operation, BEFORE_FIRST_APPLY_MANAGER};
use crate::schema::Schema;
use crate::typed::{Comparison, Typed};
use crate::{ApplyError, Conflict};

/// Metadata the server sets and owns: never taken from an applied config, never tracked.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
];

/// Paths stripped from every manager's set after every write (exact paths, not below them), as
/// Kubernetes' strip-meta layer does.
fn stripped() -> FieldSet {
    let mut s = FieldSet::new();
    s.insert(&[PathElement::Field("apiVersion".into())]);
    s.insert(&[PathElement::Field("kind".into())]);
    s.insert(&[PathElement::Field("metadata".into())]);
    for f in ["name", "namespace", "clusterName", "managedFields"]
        .iter()
        .chain(SERVER_METADATA)
    {
        s.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(f.to_string()),
        ]);
    }
    s
}

fn reset_set(
    schema: &dyn Schema,
    api_version: &str,
    kind: &str,
    subresource: Option<&str>,
) -> FieldSet {
    let mut s = FieldSet::new();
    for p in schema.reset_fields(api_version, kind, subresource) {
        let path: Vec<PathElement> = p.into_iter().map(PathElement::Field).collect();
        s.insert(&path);
    }
    s
}

/// What a create is compared against: the object's `metadata`, `spec` and `status` exist but
/// are empty, as in the zero value Kubernetes compares a new object with, so that they are not
/// themselves owned (no `.` under `f:spec`), while other new maps are (`f:data: {.: {}}`).
fn create_baseline(new: &Value) -> Value {
    let mut out = Map::new();
    for key in ["metadata", "spec", "status"] {
        if new.get(key).is_some_and(Value::is_object) {
            out.insert(key.to_string(), Value::Object(Map::new()));
        }
    }
    Value::Object(out)
}

fn type_meta<'a>(obj: Option<&'a Value>, field: &str) -> Option<&'a str> {
    obj.and_then(|o| o.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Keeps the server-owned metadata of `live` (or none, on create) in `merged`.
fn restore_server_metadata(merged: &mut Value, live: Option<&Value>) {
    let live_meta = live
        .and_then(|l| l.get("metadata"))
        .and_then(Value::as_object);
    let Some(Value::Object(meta)) = merged.get_mut("metadata") else {
        return;
    };
    for f in SERVER_METADATA {
        match live_meta.and_then(|m| m.get(*f)) {
            Some(v) => {
                meta.insert(f.to_string(), v.clone());
            }
            None => {
                meta.remove(*f);
            }
        }
    }
}

/// Server-side apply of `config` by `manager` to the main resource; see [`apply_subresource`].
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    schema: &dyn Schema,
    now_rfc3339: &str,
) -> Result<Value, ApplyError> {
    apply_subresource(live, config, manager, None, force, schema, now_rfc3339)
}

/// Server-side apply: merges `config` into `live` (`None` creates), removes the fields
/// `manager` applied last time and no longer applies unless another manager owns them, and
/// returns the new object with `metadata.managedFields` updated (the applier's `Apply` entry
/// owns exactly the config's fields). Fails with [`ApplyError::Conflicts`] when the result
/// changes a field another manager owns, unless `force`, which takes those fields over.
///
/// The caller has already checked preconditions (`metadata.resourceVersion`, `uid`) and that
/// the config names the live object; server-owned metadata is kept from `live`.
pub fn apply_subresource(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    schema: &dyn Schema,
    now_rfc3339: &str,
) -> Result<Value, ApplyError> {
    if !config.is_object() {
        return Err(ApplyError::NotAnObject);
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    let api_version = type_meta(Some(config), "apiVersion")
        .or(type_meta(live, "apiVersion"))
        .ok_or(ApplyError::MissingTypeMeta {
            field: "apiVersion",
        })?;
    let kind = type_meta(Some(config), "kind")
        .or(type_meta(live, "kind"))
        .ok_or(ApplyError::MissingTypeMeta { field: "kind" })?;
    let typed = Typed {
        schema,
        api_version,
        kind,
    };
    let ignored = reset_set(schema, api_version, kind, subresource);
    let strip = stripped();

    let mut entries = match live {
        Some(l) => managed::decode(l).map_err(ApplyError::InvalidManagedFields)?,
        None => Vec::new(),
    };
    let live_obj = live.map(managed::without_managed_fields);
    if let (Some(l), true) = (&live_obj, entries.is_empty()) {
        // An object written before fields were tracked: its fields belong to one updater.
        let mut cmp = typed.compare(&create_baseline(l), l);
        cmp.exclude(&ignored);
        let fields = cmp.added.union(&cmp.modified).difference(&strip);
        entries.push(ManagedEntry {
            manager: BEFORE_FIRST_APPLY_MANAGER.to_string(),
            operation: Operation::Update,
            api_version: type_meta(Some(l), "apiVersion")
                .unwrap_or(api_version)
                .to_string(),
            time: Some(now_rfc3339.to_string()),
            subresource: None,
            fields,
        });
    }

    // The config without the fields the server resets; its fields are the applier's.
    let config = typed.remove(config, &ignored);
    let config_set = typed
        .field_set(&config)
        .map_err(|e| ApplyError::InvalidConfig {
            path: e.path,
            message: e.message,
        })?;
    let mut merged = typed.merge(live_obj.as_ref(), &config);
    restore_server_metadata(&mut merged, live_obj.as_ref());

    let self_idx = entries
        .iter()
        .position(|e| e.is(manager, Operation::Apply, api_version, subresource));
    let last_set = self_idx
        .map(|i| entries[i].fields.clone())
        .unwrap_or_default();

    // Prune: what the applier owned last time and nobody (including its new config) owns now.
    if !last_set.is_empty() {
        let mut kept = config_set.with_fields_as_members();
        for (i, e) in entries.iter().enumerate() {
            if Some(i) != self_idx {
                kept = kept.union(&e.fields.with_fields_as_members());
            }
        }
        // Never the object's metadata as a whole (only the applier's fields in it).
        let dropped = last_set
            .with_fields_as_members()
            .difference(&kept)
            .difference(&strip);
        merged = typed.remove(&merged, &dropped);
    }

    let baseline = live_obj.clone().unwrap_or_else(|| create_baseline(&merged));
    let mut cmp: Comparison = typed.compare(&baseline, &merged);
    cmp.exclude(&ignored);
    // A field the config sets to null is removed from the object but, as on Kubernetes (where
    // the merged object holds the null), it is a change to that field, not a removal.
    let changed = cmp
        .added
        .union(&cmp.modified)
        .union(&cmp.removed.intersection(&config_set));

    let mut conflicts = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if Some(i) == self_idx {
            continue;
        }
        for path in e.fields.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: e.manager.clone(),
                operation: e.operation,
                api_version: e.api_version.clone(),
                subresource: e.subresource.clone(),
                field: crate::fieldpath::path_string(&path),
            });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for (i, e) in entries.iter_mut().enumerate() {
        if Some(i) != self_idx {
            e.fields = e.fields.difference(&changed).difference(&cmp.removed);
        }
    }

    let new_set = config_set.recursive_difference(&ignored).difference(&strip);
    let object_changed = live_obj.as_ref() != Some(&merged);
    match self_idx {
        Some(i) => {
            let e = &mut entries[i];
            if object_changed || e.fields != new_set || e.api_version != api_version {
                e.time = Some(now_rfc3339.to_string());
            }
            e.fields = new_set;
            e.api_version = api_version.to_string();
        }
        None => entries.push(ManagedEntry {
            manager: manager.to_string(),
            operation: Operation::Apply,
            api_version: api_version.to_string(),
            time: Some(now_rfc3339.to_string()),
            subresource: subresource.map(str::to_string),
            fields: new_set,
        }),
    }
    for e in &mut entries {
        e.fields = e.fields.difference(&strip);
    }
    entries.retain(|e| !e.fields.is_empty());
    managed::cap_updaters(&mut entries);
    managed::encode_into(&mut merged, entries);
    Ok(merged)
}

/// Field tracking for a create (`old` is `None`), update or patch by `manager`: returns `new`
/// with `metadata.managedFields` updated. The manager's `Update` entry (one per API version and
/// subresource) gains the fields this write added or changed and loses the ones it removed;
/// every other manager loses the fields this write changed or removed. A write that changes
/// nothing leaves managedFields as they were.
///
/// As on Kubernetes, managedFields sent in `new` replace the stored ones when they are a valid,
/// non-empty list (`[{}]` resets them); otherwise those of `old` are kept.
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    subresource: Option<&str>,
    schema: &dyn Schema,
    now_rfc3339: &str,
) -> Value {
    let api_version = type_meta(Some(new), "apiVersion")
        .or(type_meta(old, "apiVersion"))
        .unwrap_or("");
    let kind = type_meta(Some(new), "kind")
        .or(type_meta(old, "kind"))
        .unwrap_or("");
    let typed = Typed {
        schema,
        api_version,
        kind,
    };
    let ignored = reset_set(schema, api_version, kind, subresource);
    let strip = stripped();

    let from_request = managed::decode(new).ok().filter(|e| !e.is_empty());
    let mut entries = from_request
        .or_else(|| old.and_then(|o| managed::decode(o).ok()))
        .unwrap_or_default();

    let new_obj = managed::without_managed_fields(new);
    let old_obj = match old {
        Some(o) => managed::without_managed_fields(o),
        None => create_baseline(&new_obj),
    };
    let mut cmp = typed.compare(&old_obj, &new_obj);
    cmp.exclude(&ignored);
    let changed = cmp.added.union(&cmp.modified).difference(&strip);

    for e in &mut entries {
        e.fields = e
            .fields
            .difference(&changed)
            .difference(&cmp.removed)
            .difference(&strip);
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(manager, Operation::Update, api_version, subresource))
        {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = Some(now_rfc3339.to_string());
            }
            None => entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                time: Some(now_rfc3339.to_string()),
                subresource: subresource.map(str::to_string),
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    managed::cap_updaters(&mut entries);
    let mut out = new_obj;
    managed::encode_into(&mut out, entries);
    out
}
