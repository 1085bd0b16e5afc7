//! `metadata.managedFields` upkeep on every write (who set which field, with which
//! operation) and server-side apply, through the `berth-apply` crate with the built-in
//! kinds' list types.

use crate::meta;
use crate::resources::{Resource, Sub};
use crate::status::{ApiError, ApiResult, Cause};
use berth_apply::{ApplyError, BuiltinSchema};
use serde_json::Value;

/// Records that `manager` wrote `new` (an Update operation) over `old`.
pub fn track(_r: &Resource, old: Option<&Value>, new: &mut Value, manager: &str, sub: Option<Sub>) {
    let now = meta::now();
    *new = berth_apply::track_update(old, new, manager, sub.map(Sub::name), &BuiltinSchema, &now);
}

/// Server-side apply of `config` by `manager` over `live` (None: the object is created).
pub fn apply(
    r: &Resource,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    let now = meta::now();
    berth_apply::apply(live, config, manager, force, &BuiltinSchema, &now).map_err(|e| match e {
        ApplyError::Conflicts(conflicts) => {
            let causes = conflicts
                .iter()
                .map(|c| Cause {
                    reason: "FieldManagerConflict",
                    field: c.field.clone(),
                    message: c.cause_message(),
                })
                .collect();
            let name = live
                .map(meta::name)
                .unwrap_or_else(|| meta::name(config))
                .to_string();
            ApiError::Conflict {
                message: berth_apply::ConflictsMessage(&conflicts).to_string(),
                subject: crate::status::Subject {
                    group: r.group.into(),
                    kind: r.plural.into(),
                    name,
                },
                causes,
            }
        }
        ApplyError::InvalidConfig { .. } => ApiError::invalid(
            r.kind,
            r.group,
            meta::name(config),
            vec![Cause {
                reason: "FieldValueInvalid",
                field: String::new(),
                message: e.to_string(),
            }],
        ),
        other => ApiError::BadRequest(other.to_string()),
    })
}
