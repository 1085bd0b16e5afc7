//! The one error type of this crate: why a protobuf body could not be turned into JSON, or a
//! JSON object into a protobuf body.

/// Why [`crate::decode`] or [`crate::encode`] failed.
///
/// Byte offsets are counted from the start of the body given to [`crate::decode`] (magic
/// included), so a bad body can be located with a hex dump.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The body does not start with `k8s\0`.
    #[error("body does not start with the Kubernetes protobuf magic \"k8s\\0\"")]
    BadMagic,
    /// A varint, fixed-width value or length-delimited field runs past the end of its message.
    #[error("truncated {what} at byte {offset}")]
    Truncated { what: &'static str, offset: usize },
    /// A varint with more than ten bytes.
    #[error("varint longer than 10 bytes at byte {offset}")]
    VarintTooLong { offset: usize },
    /// A length prefix larger than what is left of the enclosing message.
    #[error("length {len_bytes} at byte {offset} exceeds the {remaining_bytes} bytes left")]
    LengthOutOfBounds {
        len_bytes: u64,
        remaining_bytes: usize,
        offset: usize,
    },
    /// A tag with field number 0 or above the protobuf maximum.
    #[error("invalid field number {field} at byte {offset}")]
    BadFieldNumber { field: u64, offset: usize },
    /// A tag with wire type 6 or 7, or a group that is not closed properly.
    #[error("invalid wire type {wire_type} at byte {offset}")]
    BadWireType { wire_type: u8, offset: usize },
    /// A known field carried with a wire type its schema does not allow.
    #[error(
        "field {field} of {message} has wire type {got} at byte {offset}, expected {expected}"
    )]
    WireTypeMismatch {
        message: &'static str,
        field: u32,
        got: u8,
        expected: u8,
        offset: usize,
    },
    /// Messages nested deeper than the decoder allows.
    #[error("messages nested deeper than {max_depth} levels")]
    TooDeep { max_depth: usize },
    /// The envelope carries no `typeMeta.kind`.
    #[error("the envelope has no typeMeta.kind")]
    MissingKind,
    /// The envelope says its raw bytes are compressed or otherwise encoded.
    #[error("unsupported content encoding {0:?}")]
    UnsupportedContentEncoding(String),
    /// The envelope's content type is set and is not protobuf.
    #[error("unsupported embedded content type {0:?}")]
    UnsupportedContentType(String),
    /// No schema for this apiVersion and kind (the server answers 415).
    #[error("kind {kind:?} of apiVersion {api_version:?} is not supported in protobuf")]
    UnsupportedKind { api_version: String, kind: String },
    /// An IntOrString whose type is neither 0 (int) nor 1 (string).
    #[error("{message}: IntOrString has unknown type {type_code}")]
    BadIntOrString {
        message: &'static str,
        type_code: i64,
    },
    /// A Time or MicroTime outside years 0..=9999, which JSON cannot express.
    #[error("{message}: timestamp {seconds}s is outside years 0 to 9999")]
    TimeOutOfRange { message: &'static str, seconds: i64 },
    /// A RawExtension or FieldsV1 whose bytes are neither JSON nor an enveloped object.
    #[error("{message}: embedded object is not valid JSON")]
    BadEmbeddedJson { message: &'static str },
    /// A double that JSON cannot carry (NaN or infinite).
    #[error("{message}: number {value} cannot be written as JSON")]
    NonFiniteNumber {
        message: &'static str,
        value: String,
    },
    /// Encoding: a JSON value of the wrong type for its field.
    #[error("{path}: expected {expected}")]
    JsonType {
        path: String,
        expected: &'static str,
    },
    /// Encoding: a JSON string that does not parse as the field's type (time, duration, base64).
    #[error("{path}: invalid {what} {value:?}")]
    JsonValue {
        path: String,
        what: &'static str,
        value: String,
    },
    /// Encoding: the object lacks `apiVersion` or `kind`.
    #[error("the object has no string {0}")]
    MissingTypeField(&'static str),
}
