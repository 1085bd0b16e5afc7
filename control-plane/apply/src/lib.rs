//! Server-side apply and field ownership (`metadata.managedFields`) for Berth's API server, as
//! Kubernetes defines them with structured-merge-diff: [`apply`] for
//! `PATCH` with `application/apply-patch+yaml`, [`track_update`] for every other write.
//!
//! A pure library: objects are `serde_json::Value`s, time is passed in, nothing does IO.
//!
//! What it guarantees, as Kubernetes does:
//! - every write leaves each manager owning exactly the fields it set last and that nobody
//!   changed since (`Update` entries: fields the write changed; `Apply` entries: the fields
//!   of the applied config);
//! - an apply that would change a field another manager owns fails with [`ApplyError::Conflicts`]
//!   unless forced, in which case the applier takes the field over;
//! - applying the same value as another manager shares ownership;
//! - a field an applier stops applying is removed, unless another manager owns it.
//!
//! Fields the server owns are never tracked: `apiVersion`, `kind`, `metadata.name`,
//! `namespace`, `uid`, `resourceVersion`, `generation`, `creationTimestamp`, `selfLink`,
//! `managedFields`, and the kind's [`Schema::reset_fields`] (`status` of the main resource of a
//! kind with a status subresource; `spec` for the status subresource).
//!
//! The caller (the API server) owns everything around these calls: the `fieldManager` and
//! `force` query parameters, `resourceVersion` and `uid` preconditions, defaulting and
//! validation of the result, and turning [`ApplyError::Conflicts`] into a 409 `Status` with
//! reason `Conflict` and one `FieldManagerConflict` cause per [`Conflict`]
//! ([`Conflict::cause_message`], [`Conflict::field`]). When an apply changes nothing, the
//! returned object equals `live`, managedFields included, and the write can be skipped.
//!
//! Where Berth differs from Kubernetes:
//! - There are no struct schemas, only list types: every map is granular and, when pruning,
//!   treated like a struct field (owning `a.b.c` also owns `a` and `a.b`); Kubernetes does not
//!   widen map keys (`map[string]map`), so pruning under such maps can remove more here.
//! - A create is compared with an object whose `metadata`, `spec` and `status` exist and are
//!   empty; Kubernetes compares with the Go zero value, which also has non-pointer structs
//!   such as `spec.template` or `spec.strategy`. Here a create owns those nodes themselves
//!   (`.` in FieldsV1); the leaves owned are the same.
//! - No version conversion: entries at another `apiVersion` are compared as if the schema
//!   were the same.
//! - An `Apply` entry's time moves when the object or the applier's fields change (Kubernetes
//!   moves it only when the object changes).
//! - No `kubectl.kubernetes.io/last-applied-configuration` hand-over between client-side and
//!   server-side apply.
//! - The status subresource resets only `spec` (Kubernetes also resets some metadata per kind).
//! - Maps and lists emptied by pruning are removed (Kubernetes stores null, which typed
//!   objects drop); empty maps and lists a config sets are kept (typed built-ins drop them).
//! - FieldsV1 objects are written in `serde_json`'s key order (sorted strings); Kubernetes
//!   writes path-element order, which differs only for numeric keys (`k:{"port":9}`).
//! - Conflicts are listed per manager in managedFields order; the message groups them by
//!   sorted manager as Kubernetes does.

mod fieldpath;
mod managed;
mod ops;
mod schema;
mod typed;

pub use fieldpath::{field_path, path_string, FieldSet, OrdValue, Path, PathElement};
pub use managed::{
    decode as decode_managed_fields, ManagedEntry, Operation, ANCIENT_CHANGES_MANAGER,
    BEFORE_FIRST_APPLY_MANAGER, MAX_UPDATE_MANAGERS,
};
pub use ops::{apply, apply_subresource, track_update};
pub use schema::{BuiltinSchema, ListType, Schema};

use std::fmt;

/// A field another manager owns and an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: Option<String>,
    /// The field, as Kubernetes prints it: `.spec.replicas`,
    /// `.spec.containers[name="nginx"].image`.
    pub field: String,
}

impl Conflict {
    /// The manager as Kubernetes names it in conflict messages:
    /// `"kubectl-client-side-apply" using apps/v1` for updaters, `"kubectl"` for appliers.
    pub fn manager_description(&self) -> String {
        ManagedEntry {
            manager: self.manager.clone(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            time: None,
            subresource: self.subresource.clone(),
            fields: FieldSet::new(),
        }
        .describe()
    }

    /// The message of this conflict's `StatusCause` (type `FieldManagerConflict`, field
    /// [`Conflict::field`]).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_description())
    }
}

/// Kubernetes' message for a failed apply (HTTP 409, reason `Conflict`).
pub struct ConflictsMessage<'a>(pub &'a [Conflict]);

impl fmt::Display for ConflictsMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conflicts = self.0;
        if let [only] = conflicts {
            return write!(
                f,
                "Apply failed with 1 conflict: {}: {}",
                only.cause_message(),
                only.field
            );
        }
        write!(f, "Apply failed with {} conflicts: ", conflicts.len())?;
        // Grouped by manager, managers sorted; fields in the order found.
        let mut managers: Vec<String> = conflicts
            .iter()
            .map(Conflict::manager_description)
            .collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in &managers {
            lines.push(format!("conflicts with {m}:"));
            for c in conflicts.iter().filter(|c| &c.manager_description() == m) {
                lines.push(format!("- {}", c.field));
            }
        }
        f.write_str(&lines.join("\n"))
    }
}

/// Why an apply was refused. `Conflicts` is an expected outcome (409); the others mean the
/// request or the stored object cannot be interpreted (the caller answers 400/422, or 500 for
/// a stored object).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}", ConflictsMessage(.0))]
    Conflicts(Vec<Conflict>),
    #[error("failed to create typed patch object: {path}: {message}")]
    InvalidConfig { path: String, message: String },
    #[error("invalid object: the applied config must be a JSON object")]
    NotAnObject,
    #[error("invalid object: {field} must be set")]
    MissingTypeMeta { field: &'static str },
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    #[error("failed to decode managed fields: {0}")]
    InvalidManagedFields(String),
}
