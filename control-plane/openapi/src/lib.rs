//! The OpenAPI documents of Berth's Kubernetes API (`/openapi/v2`, `/openapi/v3`,
//! `/openapi/v3/<group-version>`) and the unknown-field check behind `fieldValidation`.
//!
//! Schemas come from k8s-openapi's types (its `schemars` support), completed with what
//! Kubernetes publishes and kubectl reads: `x-kubernetes-group-version-kind` tags, list and
//! patch markers, list kinds, int-or-string and quantity shapes, and REST paths whose
//! operations name their kind. Documents are built once, on first use.
//!
//! This crate enables no k8s-openapi version feature; the binary linking it picks one.
//!
//! Architecture invariant: this crate knows nothing about HTTP or storage. It hands out bytes
//! and the server picks by the `Accept` header ([`v2_protobuf`] when it names
//! `com.github.proto-openapi.spec.v2`, answered as [`V2_PROTOBUF_CONTENT_TYPE`]; [`v2`]
//! otherwise).

mod catalog;
mod documents;
mod patch_meta;
mod paths;
mod proto;
mod schemas;
mod unknown;

use std::sync::OnceLock;

pub use catalog::{Kind, Parent, Scope, ServedKind};
pub use paths::FieldValidation;

/// Failures to build the documents. They come from the compiled-in types, not from requests:
/// the server reports [`build_error`] once at start-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("schema {from} refers to {to}, which no document defines")]
    DanglingReference { from: String, to: String },
    #[error("failed to serialize the OpenAPI document {document}")]
    Serialize {
        document: String,
        #[source]
        source: serde_json::Error,
    },
}

fn documents() -> &'static Result<documents::Documents, Error> {
    static DOCUMENTS: OnceLock<Result<documents::Documents, Error>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| documents::build(catalog::catalog()))
}

/// Why the documents could not be built, if they could not; every other function then serves
/// empty documents.
pub fn build_error() -> Option<&'static Error> {
    documents().as_ref().err()
}

/// The kinds the documents describe, with their REST names and scopes.
pub fn served_kinds() -> &'static [ServedKind] {
    documents()
        .as_ref()
        .map(|d| d.served.as_slice())
        .unwrap_or(&[])
}

const EMPTY_V2: &[u8] = br#"{"swagger":"2.0","info":{"title":"Kubernetes","version":"unversioned"},"paths":{},"definitions":{}}"#;
const EMPTY_V3_INDEX: &[u8] = br#"{"paths":{}}"#;

/// The swagger 2.0 document, as JSON.
pub fn v2() -> &'static [u8] {
    documents()
        .as_ref()
        .map(|d| d.v2_json.as_slice())
        .unwrap_or(EMPTY_V2)
}

/// The content type of [`v2_protobuf`] in responses. Clients ask with `Accept:
/// application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (or this spelling); Go's media
/// type parser rejects the `@` spelling in a response, so kube-apiserver answers with this one.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The swagger 2.0 document as the protobuf message kubectl asks for.
pub fn v2_protobuf() -> &'static [u8] {
    documents()
        .as_ref()
        .map(|d| d.v2_protobuf.as_slice())
        .unwrap_or(&[])
}

fn v3(validation: FieldValidation) -> Option<&'static documents::V3> {
    let docs = documents().as_ref().ok()?;
    Some(match validation {
        FieldValidation::Client => &docs.v3_client,
        FieldValidation::Server => &docs.v3_server,
    })
}

/// The OpenAPI v3 index (`{"paths": {"api/v1": {"serverRelativeURL": ...}}}`), with
/// [`FieldValidation::Client`] documents.
pub fn v3_index() -> &'static [u8] {
    v3_index_for(FieldValidation::Client)
}

/// The OpenAPI v3 index for documents built in the given mode.
pub fn v3_index_for(validation: FieldValidation) -> &'static [u8] {
    v3(validation)
        .map(|d| d.index.as_slice())
        .unwrap_or(EMPTY_V3_INDEX)
}

/// The OpenAPI 3.0 document of one group version (`api/v1`, `apis/apps/v1`; a leading `/`
/// or `/openapi/v3/` is accepted), with [`FieldValidation::Client`] operations.
pub fn v3_group_version(path: &str) -> Option<&'static [u8]> {
    v3_group_version_for(FieldValidation::Client, path)
}

/// The OpenAPI 3.0 document of one group version, built in the given mode.
pub fn v3_group_version_for(validation: FieldValidation, path: &str) -> Option<&'static [u8]> {
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("openapi/v3/").unwrap_or(path);
    v3(validation)?.group_versions.get(path).map(Vec::as_slice)
}

/// The fields of `obj` that the schema of `kind` in `api_version` does not know, in
/// Kubernetes' strict-decoding wording (`unknown field "spec.foo"`), each once, in document
/// order. Empty for kinds without a schema here (their fields cannot be judged).
pub fn unknown_fields(api_version: &str, kind: &str, obj: &serde_json::Value) -> Vec<String> {
    let Ok(docs) = documents().as_ref() else {
        return Vec::new();
    };
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let Some(definition) = docs
        .kinds
        .iter()
        .find(|(k, _)| k.group == group && k.version == version && k.kind == kind)
        .map(|(_, d)| d)
    else {
        return Vec::new();
    };
    unknown::unknown_fields(&docs.definitions, definition, obj)
}
