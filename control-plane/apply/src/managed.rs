//! `metadata.managedFields`: decoding and encoding its entries, who a manager is, their
//! order, and the cap on the number of `Update` entries.

use std::fmt;

use serde_json::{Map, Value};

use crate::fieldpath::FieldSet;

/// How a manager last wrote its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, as the caller passed it.
    pub time: Option<String>,
    /// `None` for the main resource.
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// Kubernetes' name for the entry that collects the oldest `Update` managers.
pub const ANCIENT_CHANGES_MANAGER: &str = "ancient-changes";
/// Kubernetes' cap on `Update` entries before the oldest are merged.
pub const MAX_UPDATE_MANAGERS: usize = 10;
/// The manager that owns an object's fields when it is first applied to while it has no
/// managedFields.
pub const BEFORE_FIRST_APPLY_MANAGER: &str = "before-first-apply";

impl ManagedEntry {
    /// Whether this entry is the one a write by this manager updates. Appliers are one entry
    /// whatever the API version; updaters have one entry per API version.
    pub fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: Option<&str>,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// How Kubernetes names this manager in a conflict: `"kubectl"`,
    /// `"kube-controller-manager" with subresource "status" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), Value::String(self.manager.clone()));
        m.insert(
            "operation".into(),
            Value::String(self.operation.as_str().into()),
        );
        m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::String(t.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), Value::String(s.clone()));
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Result<ManagedEntry, String> {
        let Value::Object(m) = v else {
            return Err(format!("managedFields entry is not an object: {v}"));
        };
        let string = |key: &str| -> Result<Option<String>, String> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!(
                    "managedFields entry {key} is not a string: {other}"
                )),
            }
        };
        let operation = match string("operation")?.as_deref() {
            Some("Apply") => Operation::Apply,
            // An entry without an operation (`[{}]`, Kubernetes' way to reset managedFields)
            // owns nothing and disappears on this write.
            Some("Update") | None | Some("") => Operation::Update,
            Some(other) => return Err(format!("invalid managedFields operation {other:?}")),
        };
        match string("fieldsType")?.as_deref() {
            None | Some("") | Some("FieldsV1") => {}
            Some(other) => {
                return Err(format!(
                    "invalid fieldsType {other:?}, only FieldsV1 is supported"
                ))
            }
        }
        let fields = match m.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(f) => FieldSet::from_fields_v1(f)?,
        };
        Ok(ManagedEntry {
            manager: string("manager")?.unwrap_or_default(),
            operation,
            api_version: string("apiVersion")?.unwrap_or_default(),
            time: string("time")?,
            subresource: string("subresource")?.filter(|s| !s.is_empty()),
            fields,
        })
    }
}

/// Reads `metadata.managedFields`; entries for the same manager are merged.
pub fn decode(obj: &Value) -> Result<Vec<ManagedEntry>, String> {
    let entries = match obj.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => return Err(format!("metadata.managedFields is not a list: {other}")),
    };
    let mut out: Vec<ManagedEntry> = Vec::with_capacity(entries.len());
    for v in entries {
        let e = ManagedEntry::from_json(v)?;
        let sub = e.subresource.clone();
        match out
            .iter_mut()
            .find(|o| o.is(&e.manager, e.operation, &e.api_version, sub.as_deref()))
        {
            Some(prev) => prev.fields = prev.fields.union(&e.fields),
            None => out.push(e),
        }
    }
    Ok(out)
}

/// Kubernetes' order: by operation, time, manager, API version, subresource.
pub fn sort(entries: &mut [ManagedEntry]) {
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| {
                a.time
                    .as_deref()
                    .unwrap_or("")
                    .cmp(b.time.as_deref().unwrap_or(""))
            })
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
}

/// Keeps at most [`MAX_UPDATE_MANAGERS`] `Update` entries by merging the oldest into one
/// `ancient-changes` entry per API version.
pub fn cap_updaters(entries: &mut Vec<ManagedEntry>) {
    let n_updaters = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .count();
    if n_updaters <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut updaters: Vec<ManagedEntry> = Vec::new();
    let mut rest: Vec<ManagedEntry> = Vec::new();
    for e in entries.drain(..) {
        if e.operation == Operation::Update {
            updaters.push(e);
        } else {
            rest.push(e);
        }
    }
    // Oldest first; entries without a time are the oldest.
    updaters.sort_by(|a, b| a.time.cmp(&b.time));
    let mut n = updaters.len();
    let mut kept: Vec<ManagedEntry> = Vec::new();
    // The first old entry seen per API version, then the bucket it became.
    let mut buckets: Vec<(String, usize)> = Vec::new();
    for e in updaters {
        if n <= MAX_UPDATE_MANAGERS {
            kept.push(e);
            continue;
        }
        match buckets.iter().find(|(v, _)| *v == e.api_version) {
            Some((_, idx)) => {
                let bucket = &mut kept[*idx];
                bucket.manager = ANCIENT_CHANGES_MANAGER.to_string();
                bucket.subresource = None;
                bucket.fields = bucket.fields.union(&e.fields);
                // The merged update is the more recent one.
                bucket.time = e.time;
                n -= 1;
            }
            None => {
                buckets.push((e.api_version.clone(), kept.len()));
                kept.push(e);
            }
        }
    }
    rest.extend(kept);
    *entries = rest;
}

/// Writes the entries (sorted, empty ones dropped) into `obj.metadata.managedFields`; an
/// object with no entries has no managedFields.
pub fn encode_into(obj: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    sort(&mut entries);
    let Value::Object(root) = obj else { return };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(ManagedEntry::to_json).collect()),
        );
    }
}

/// The object without `metadata.managedFields`.
pub fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.remove("managedFields");
    }
    out
}
