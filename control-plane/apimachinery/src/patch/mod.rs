//! The three PATCH formats kube-apiserver accepts: JSON patch (RFC 6902,
//! `application/json-patch+json`), JSON merge patch (RFC 7386,
//! `application/merge-patch+json`) and strategic merge patch
//! (`application/strategic-merge-patch+json`, what `kubectl patch` and client-side
//! `kubectl apply` send), plus the built-in table of merge keys and strategies for the
//! served kinds.
//!
//! Semantics and messages are those of kube-apiserver, including where it departs from
//! the RFCs (documented on each function). [`PatchError::http_status`] gives the status
//! code kube-apiserver answers with.

mod json_patch;
mod merge_patch;
mod meta;
mod strategic;

pub use json_patch::{json_patch, json_patch_with_limits, JsonPatchLimits};
pub use merge_patch::merge_patch;
pub use meta::{patch_meta, FieldMeta, PatchMeta, PatchStrategy};
pub use strategic::strategic_merge_patch;

/// Why a patch could not be applied. `Display` is the message kube-apiserver gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The JSON patch document is not a list of operations (400 Bad Request).
    #[error("{0}")]
    JsonPatchDecode(String),
    /// More operations than allowed (413 Request Entity Too Large).
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit.
        max: usize,
        /// The number of operations sent.
        got: usize,
    },
    /// An operation failed: missing path, failed test, bad index... (422 Unprocessable
    /// Entity).
    #[error("{0}")]
    JsonPatchApply(String),
    /// The merge patch is neither an object nor an array (400 Bad Request).
    #[error("Invalid JSON Patch")]
    InvalidMergePatch,
    /// A strategic merge patch is malformed in a way Kubernetes reports as a bad request:
    /// not an object, or a bad `$deleteFromPrimitiveList`, `$retainKeys` or
    /// `$setElementOrder` directive (400 Bad Request).
    #[error("{0}")]
    StrategicBadRequest(String),
    /// A strategic merge patch needs a list of lists (422 Unprocessable Entity).
    #[error("{0}")]
    StrategicUnprocessable(String),
    /// Any other strategic merge failure: missing merge key, unknown `$patch` value, mixed
    /// list element types... (kube-apiserver answers 500 Internal Server Error).
    #[error("{0}")]
    StrategicMerge(String),
}

impl PatchError {
    /// The HTTP status kube-apiserver answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            PatchError::JsonPatchDecode(_) => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::JsonPatchApply(_) => 422,
            PatchError::InvalidMergePatch => 400,
            PatchError::StrategicBadRequest(_) => 400,
            PatchError::StrategicUnprocessable(_) => 422,
            PatchError::StrategicMerge(_) => 500,
        }
    }
}
