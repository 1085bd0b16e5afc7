//! The schema table's types: which JSON name, value kind and shape each protobuf field
//! number of each Kubernetes message has, and the lookup from (apiVersion, kind) to a message.

mod table;

/// One protobuf message: its fields, in field-number order as Go writes them.
pub(crate) struct Message {
    /// `group/version.Name`, for error messages.
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [Field],
}

impl Message {
    pub(crate) fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a message.
pub(crate) struct Field {
    pub(crate) number: u32,
    /// The JSON key (empty for [`Shape::Inline`]).
    pub(crate) json: &'static str,
    pub(crate) kind: Kind,
    pub(crate) shape: Shape,
}

/// What one value of a field is.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    /// Base64 in JSON.
    Bytes,
    Bool,
    I32,
    I64,
    // No covered kind has float or duration fields yet; kept so one is a table entry away.
    #[allow(dead_code)]
    F64,
    #[allow(dead_code)]
    F32,
    Msg(&'static Message),
    /// meta/v1 Time: `{seconds=1, nanos=2}`, JSON RFC 3339 in whole seconds, zero is null.
    Time,
    /// meta/v1 MicroTime: like Time, JSON with six fractional digits.
    MicroTime,
    #[allow(dead_code)]
    /// meta/v1 Duration: `{duration=1}` in nanoseconds, JSON as Go prints a duration.
    Duration,
    /// intstr IntOrString: `{type=1, intVal=2, strVal=3}`, JSON number or string.
    IntOrString,
    /// resource Quantity: `{string=1}`, JSON string.
    Quantity,
    /// runtime RawExtension and meta/v1 FieldsV1: `{raw=1}` holding JSON, embedded as is.
    RawJson,
    /// A Go `[]string` type wrapped as `{repeated string items=1}` (ExtraValue): JSON array.
    StrList,
}

/// How a field appears in JSON, following its Go type and `json` tag.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A Go value with `omitempty`: left out when zero (and when absent).
    Omit,
    /// A Go pointer, struct or special type: written whenever present on the wire.
    Keep,
    /// A Go scalar without `omitempty`: written even when zero or absent.
    Always,
    /// A repeated field: a JSON array, left out when empty.
    Repeated,
    /// A repeated field without `omitempty`: null when empty.
    RepeatedOrNull,
    /// A `map<string, V>` field: a JSON object, left out when empty.
    Map,
    /// A map field without `omitempty`: null when empty.
    MapOrNull,
    /// An embedded Go struct (`json:",inline"`): its fields sit in the parent object.
    Inline,
}

const fn field(number: u32, json: &'static str, kind: Kind, shape: Shape) -> Field {
    Field {
        number,
        json,
        kind,
        shape,
    }
}
const fn omit(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Omit)
}
const fn keep(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Keep)
}
const fn always(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Always)
}
const fn one(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Keep)
}
const fn rep(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Repeated)
}
const fn map(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::Map)
}
const fn rep_or_null(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::RepeatedOrNull)
}
#[allow(dead_code)]
const fn map_or_null(number: u32, json: &'static str, kind: Kind) -> Field {
    field(number, json, kind, Shape::MapOrNull)
}
const fn inline(number: u32, message: &'static Message) -> Field {
    field(number, "", Kind::Msg(message), Shape::Inline)
}
const fn msg(name: &'static str, fields: &'static [Field]) -> Message {
    Message { name, fields }
}

/// Kinds registered in every group version (DeleteOptions arrives as `v1`, `apps/v1`, ...).
const SHARED_KINDS: &[&str] = &["DeleteOptions", "Status"];

/// The message of a top-level object, if the table has it.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<&'static Message> {
    let exact = table::KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, m)| *m);
    if exact.is_some() || !SHARED_KINDS.contains(&kind) {
        return exact;
    }
    let known_version = table::KINDS.iter().any(|(v, _, _)| *v == api_version);
    if !known_version {
        return None;
    }
    table::KINDS
        .iter()
        .find(|(v, k, _)| *v == "meta.k8s.io/v1" && *k == kind)
        .map(|(_, _, m)| *m)
}

/// Every (apiVersion, kind) the table names, for documentation and tests.
pub(crate) fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    table::KINDS.iter().map(|(v, k, _)| (*v, *k))
}
