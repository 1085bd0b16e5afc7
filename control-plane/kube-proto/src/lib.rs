//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`) to and from the JSON the
//! same objects have, so an API server that stores JSON can serve Go clients such as kubectl.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope: `typeMeta` (1)
//! holding `apiVersion` (1) and `kind` (2), `raw` (2) with the object's own protobuf
//! encoding, `contentEncoding` (3) and `contentType` (4). The object is decoded with a schema
//! table (see `schema`) that gives each field number its JSON name and how Go's JSON writer
//! treats it: absent and `omitempty` zero values left out, required scalars written even when
//! zero, embedded structs inlined, Time as RFC 3339 in seconds (zero as null), MicroTime with
//! microseconds, IntOrString as number or string, Quantity as its string, bytes as base64,
//! RawExtension and FieldsV1 as embedded JSON.
//!
//! Unknown field numbers are skipped, as protobuf requires. A kind without a schema is
//! [`ProtoError::UnsupportedKind`] (an API server answers 415). Quantities are passed on as
//! written, not canonicalised.

mod decode;
mod encode;
mod error;
mod schema;
mod time;
mod wire;

pub use error::ProtoError;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a protobuf body (magic and envelope included) into the JSON object Go's JSON
/// encoding of the same object would give, with `apiVersion` and `kind` set.
pub fn decode(body: &[u8]) -> Result<serde_json::Value, ProtoError> {
    decode::decode_body(body)
}

/// Encodes a JSON object (with `apiVersion` and `kind`) as a protobuf body, magic and
/// envelope included: the inverse of [`decode`], for answering Go clients. JSON keys the
/// schema does not know are dropped, as a Go server decoding into its types would.
pub fn encode(value: &serde_json::Value) -> Result<Vec<u8>, ProtoError> {
    encode::encode_body(value)
}

/// Whether objects of this apiVersion and kind can be decoded and encoded.
pub fn is_supported(api_version: &str, kind: &str) -> bool {
    schema::lookup(api_version, kind).is_some()
}

/// Every (apiVersion, kind) with a schema. `DeleteOptions` and `Status` are also accepted
/// under any of these apiVersions.
pub fn supported_kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    schema::kinds()
}
