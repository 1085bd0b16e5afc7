//! Protobuf to JSON: walks a message's fields with its schema and builds the JSON object Go's
//! `encoding/json` would write for the same Go value.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::ProtoError;
use crate::schema::{self, Field, Kind, Message, Shape};
use crate::time;
use crate::wire::{Reader, WireField, WireValue, FIXED32, FIXED64, LEN, VARINT};
use crate::MAGIC;

/// Deepest message nesting accepted (Kubernetes objects nest about 15 levels).
pub(crate) const MAX_DEPTH: usize = 100;

/// The envelope's fields, as far as decoding needs them.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    raw_offset: usize,
}

/// Decodes a whole body: magic, envelope, object.
pub(crate) fn decode_body(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body.strip_prefix(&MAGIC).ok_or(ProtoError::BadMagic)?;
    decode_envelope(rest, MAGIC.len(), 0)
}

fn decode_envelope(bytes: &[u8], base: usize, depth: usize) -> Result<Value, ProtoError> {
    let envelope = read_envelope(bytes, base)?;
    let message = schema::lookup(&envelope.api_version, &envelope.kind).ok_or_else(|| {
        ProtoError::UnsupportedKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        }
    })?;
    let mut object = Map::new();
    decode_into(
        message,
        envelope.raw,
        envelope.raw_offset,
        &mut object,
        depth + 1,
    )?;
    if !envelope.api_version.is_empty() {
        object.insert("apiVersion".to_owned(), Value::String(envelope.api_version));
    }
    object.insert("kind".to_owned(), Value::String(envelope.kind));
    Ok(Value::Object(object))
}

/// Reads runtime.Unknown: typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3,
/// contentType=4.
fn read_envelope(bytes: &[u8], base: usize) -> Result<Envelope<'_>, ProtoError> {
    const NAME: &str = "runtime.Unknown";
    let mut envelope = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
        raw_offset: base,
    };
    let mut reader = Reader::new(bytes, base);
    while let Some(field) = reader.next_field()? {
        match field.number {
            1 => {
                let (type_meta, offset) = expect_len(NAME, &field)?;
                let mut inner = Reader::new(type_meta, offset);
                while let Some(f) = inner.next_field()? {
                    match f.number {
                        1 => envelope.api_version = expect_string("runtime.TypeMeta", &f)?,
                        2 => envelope.kind = expect_string("runtime.TypeMeta", &f)?,
                        _ => {}
                    }
                }
            }
            2 => (envelope.raw, envelope.raw_offset) = expect_len(NAME, &field)?,
            3 => {
                let encoding = expect_string(NAME, &field)?;
                if !encoding.is_empty() {
                    return Err(ProtoError::UnsupportedContentEncoding(encoding));
                }
            }
            4 => {
                let content_type = expect_string(NAME, &field)?;
                if !content_type.is_empty() && content_type != crate::CONTENT_TYPE {
                    return Err(ProtoError::UnsupportedContentType(content_type));
                }
            }
            _ => {}
        }
    }
    if envelope.kind.is_empty() {
        return Err(ProtoError::MissingKind);
    }
    Ok(envelope)
}

fn mismatch(message: &'static str, field: &WireField<'_>, expected: u8) -> ProtoError {
    ProtoError::WireTypeMismatch {
        message,
        field: field.number,
        got: field.value.wire_type(),
        expected,
        offset: field.offset,
    }
}

fn expect_len<'a>(
    message: &'static str,
    field: &WireField<'a>,
) -> Result<(&'a [u8], usize), ProtoError> {
    match field.value {
        WireValue::Len(bytes, offset) => Ok((bytes, offset)),
        _ => Err(mismatch(message, field, LEN)),
    }
}

fn expect_varint(message: &'static str, field: &WireField<'_>) -> Result<u64, ProtoError> {
    match field.value {
        WireValue::Varint(v) => Ok(v),
        _ => Err(mismatch(message, field, VARINT)),
    }
}

/// Go keeps invalid UTF-8 in strings and its JSON writer replaces it with U+FFFD; so do we.
fn expect_string(message: &'static str, field: &WireField<'_>) -> Result<String, ProtoError> {
    let (bytes, _) = expect_len(message, field)?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Decodes the fields of `message` from `bytes` into `out`, merging with what is there
/// (protobuf merges repeated occurrences of a message field).
fn decode_into(
    message: &'static Message,
    bytes: &[u8],
    base: usize,
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep {
            max_depth: MAX_DEPTH,
        });
    }
    let mut reader = Reader::new(bytes, base);
    while let Some(wire) = reader.next_field()? {
        let Some(field) = message.field(wire.number) else {
            continue;
        };
        match field.shape {
            Shape::Inline => {
                let Kind::Msg(inner) = field.kind else {
                    continue;
                };
                let (bytes, offset) = expect_len(message.name, &wire)?;
                decode_into(inner, bytes, offset, out, depth + 1)?;
            }
            Shape::Repeated | Shape::RepeatedOrNull => {
                let entry = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !entry.is_array() {
                    *entry = Value::Array(Vec::new());
                }
                if let Value::Array(items) = entry {
                    decode_repeated(message, field, &wire, items, depth)?;
                }
            }
            Shape::Map | Shape::MapOrNull => {
                let (key, value) = decode_map_entry(message, field, &wire, depth)?;
                let entry = out
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(entries) = entry {
                    entries.insert(key, value);
                }
            }
            Shape::Omit | Shape::Keep | Shape::Always => {
                if let Kind::Msg(inner) = field.kind {
                    let (bytes, offset) = expect_len(message.name, &wire)?;
                    let entry = out
                        .entry(field.json)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() {
                        *entry = Value::Object(Map::new());
                    }
                    if let Value::Object(fields) = entry {
                        decode_into(inner, bytes, offset, fields, depth + 1)?;
                    }
                    continue;
                }
                let value = decode_value(message, field.kind, &wire, depth)?;
                if field.shape == Shape::Omit && is_zero(&value) {
                    out.remove(field.json);
                } else {
                    out.insert(field.json.to_owned(), value);
                }
            }
        }
    }
    for field in message.fields {
        let zero = match field.shape {
            Shape::Always => zero_value(field.kind),
            Shape::RepeatedOrNull | Shape::MapOrNull => Value::Null,
            _ => continue,
        };
        if !out.contains_key(field.json) {
            out.insert(field.json.to_owned(), zero);
        }
    }
    Ok(())
}

/// Whether a scalar is its Go zero value, which `omitempty` leaves out.
pub(crate) fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

/// What Go writes for a field that is absent on the wire.
fn zero_value(kind: Kind) -> Value {
    match kind {
        Kind::Str => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::I32 | Kind::I64 | Kind::F64 | Kind::F32 => Value::Number(Number::from(0)),
        Kind::Msg(_) => Value::Object(Map::new()),
        Kind::Quantity => Value::String("0".to_owned()),
        Kind::IntOrString => Value::Number(Number::from(0)),
        Kind::Duration => Value::String("0s".to_owned()),
        Kind::Bytes | Kind::Time | Kind::MicroTime | Kind::RawJson | Kind::StrList => Value::Null,
    }
}

fn is_packable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Bool | Kind::I32 | Kind::I64 | Kind::F64 | Kind::F32
    )
}

fn decode_repeated(
    message: &'static Message,
    field: &Field,
    wire: &WireField<'_>,
    items: &mut Vec<Value>,
    depth: usize,
) -> Result<(), ProtoError> {
    if let (true, WireValue::Len(bytes, offset)) = (is_packable(field.kind), wire.value) {
        let mut reader = PackedReader {
            reader: Reader::new(bytes, offset),
            kind: field.kind,
        };
        while let Some(value) = reader.next()? {
            items.push(scalar_value(message, field.kind, &value, wire)?);
        }
        return Ok(());
    }
    items.push(decode_value(message, field.kind, wire, depth)?);
    Ok(())
}

/// Elements of a packed repeated numeric field.
struct PackedReader<'a> {
    reader: Reader<'a>,
    kind: Kind,
}

impl<'a> PackedReader<'a> {
    fn next(&mut self) -> Result<Option<WireValue<'a>>, ProtoError> {
        if self.reader.at_end() {
            return Ok(None);
        }
        Ok(Some(match self.kind {
            Kind::F64 => WireValue::Fixed64(self.reader.fixed64()?),
            Kind::F32 => WireValue::Fixed32(self.reader.fixed32()?),
            _ => WireValue::Varint(self.reader.varint()?),
        }))
    }
}

fn decode_map_entry(
    message: &'static Message,
    field: &Field,
    wire: &WireField<'_>,
    depth: usize,
) -> Result<(String, Value), ProtoError> {
    let (bytes, offset) = expect_len(message.name, wire)?;
    let mut reader = Reader::new(bytes, offset);
    let mut key = String::new();
    let mut value = None;
    while let Some(f) = reader.next_field()? {
        match f.number {
            1 => key = expect_string(message.name, &f)?,
            2 => value = Some(decode_value(message, field.kind, &f, depth + 1)?),
            _ => {}
        }
    }
    let value = value.unwrap_or_else(|| match field.kind {
        Kind::Bytes => Value::String(String::new()),
        kind => zero_value(kind),
    });
    Ok((key, value))
}

/// A varint or fixed-width scalar as JSON.
fn scalar_value(
    message: &'static Message,
    kind: Kind,
    value: &WireValue<'_>,
    wire: &WireField<'_>,
) -> Result<Value, ProtoError> {
    let expected = match kind {
        Kind::F64 => FIXED64,
        Kind::F32 => FIXED32,
        _ => VARINT,
    };
    let finite = |x: f64| {
        Number::from_f64(x)
            .map(Value::Number)
            .ok_or(ProtoError::NonFiniteNumber {
                message: message.name,
                value: x.to_string(),
            })
    };
    // Casts below truncate exactly as Go's generated code does (int32(v), int64(v)).
    match (kind, value) {
        (Kind::Bool, WireValue::Varint(v)) => Ok(Value::Bool(*v != 0)),
        (Kind::I32, WireValue::Varint(v)) => Ok(Value::Number(Number::from(*v as u32 as i32))),
        (Kind::I64, WireValue::Varint(v)) => Ok(Value::Number(Number::from(*v as i64))),
        (Kind::F64, WireValue::Fixed64(v)) => finite(f64::from_bits(*v)),
        (Kind::F32, WireValue::Fixed32(v)) => finite(f64::from(f32::from_bits(*v))),
        _ => Err(ProtoError::WireTypeMismatch {
            message: message.name,
            field: wire.number,
            got: value.wire_type(),
            expected,
            offset: wire.offset,
        }),
    }
}

/// One value of a non-inline field as JSON.
fn decode_value(
    message: &'static Message,
    kind: Kind,
    wire: &WireField<'_>,
    depth: usize,
) -> Result<Value, ProtoError> {
    let name = message.name;
    match kind {
        Kind::Bool | Kind::I32 | Kind::I64 | Kind::F64 | Kind::F32 => {
            scalar_value(message, kind, &wire.value, wire)
        }
        Kind::Str => Ok(Value::String(expect_string(name, wire)?)),
        Kind::Bytes => {
            let (bytes, _) = expect_len(name, wire)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))
        }
        Kind::Msg(inner) => {
            let (bytes, offset) = expect_len(name, wire)?;
            let mut object = Map::new();
            decode_into(inner, bytes, offset, &mut object, depth + 1)?;
            Ok(Value::Object(object))
        }
        Kind::Time | Kind::MicroTime => {
            let (bytes, offset) = expect_len(name, wire)?;
            decode_time(name, bytes, offset, matches!(kind, Kind::MicroTime))
        }
        Kind::Duration => {
            let (bytes, offset) = expect_len(name, wire)?;
            let mut nanos = 0i64;
            let mut reader = Reader::new(bytes, offset);
            while let Some(f) = reader.next_field()? {
                if f.number == 1 {
                    nanos = expect_varint("meta/v1.Duration", &f)? as i64;
                }
            }
            Ok(Value::String(time::format_go_duration(nanos)))
        }
        Kind::IntOrString => {
            let (bytes, offset) = expect_len(name, wire)?;
            decode_int_or_string(name, bytes, offset)
        }
        Kind::Quantity => {
            let (bytes, offset) = expect_len(name, wire)?;
            let mut text = String::new();
            let mut reader = Reader::new(bytes, offset);
            while let Some(f) = reader.next_field()? {
                if f.number == 1 {
                    text = expect_string("resource.Quantity", &f)?;
                }
            }
            if text.is_empty() {
                text.push('0');
            }
            Ok(Value::String(text))
        }
        Kind::RawJson => {
            let (bytes, offset) = expect_len(name, wire)?;
            let mut raw: (&[u8], usize) = (&[], offset);
            let mut reader = Reader::new(bytes, offset);
            while let Some(f) = reader.next_field()? {
                if f.number == 1 {
                    raw = expect_len("runtime.RawExtension", &f)?;
                }
            }
            decode_raw_json(name, raw.0, raw.1, depth)
        }
        Kind::StrList => {
            let (bytes, offset) = expect_len(name, wire)?;
            let mut items = Vec::new();
            let mut reader = Reader::new(bytes, offset);
            while let Some(f) = reader.next_field()? {
                if f.number == 1 {
                    items.push(Value::String(expect_string(name, &f)?));
                }
            }
            Ok(Value::Array(items))
        }
    }
}

/// meta/v1 Time and MicroTime: `{seconds=1, nanos=2}`; empty or Go's zero time is null.
fn decode_time(
    name: &'static str,
    bytes: &[u8],
    offset: usize,
    micro: bool,
) -> Result<Value, ProtoError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i64);
    let mut reader = Reader::new(bytes, offset);
    while let Some(f) = reader.next_field()? {
        match f.number {
            1 => seconds = expect_varint("meta/v1.Timestamp", &f)? as i64,
            2 => nanos = i64::from(expect_varint("meta/v1.Timestamp", &f)? as u32 as i32),
            _ => {}
        }
    }
    if seconds == time::ZERO_TIME_SECONDS && (nanos == 0 || !micro) {
        return Ok(Value::Null);
    }
    let micros = if micro {
        // Go normalises nanoseconds outside 0..1e9 into the seconds.
        seconds = seconds.saturating_add(nanos.div_euclid(1_000_000_000));
        // In 0..1e6 after rem_euclid and the division.
        Some((nanos.rem_euclid(1_000_000_000) / 1_000) as u32)
    } else {
        None
    };
    time::format_rfc3339(seconds, micros)
        .map(Value::String)
        .ok_or(ProtoError::TimeOutOfRange {
            message: name,
            seconds,
        })
}

/// intstr IntOrString: type 0 is `intVal` as a number, type 1 is `strVal` as a string.
fn decode_int_or_string(
    name: &'static str,
    bytes: &[u8],
    offset: usize,
) -> Result<Value, ProtoError> {
    let (mut type_code, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    let mut reader = Reader::new(bytes, offset);
    while let Some(f) = reader.next_field()? {
        match f.number {
            1 => type_code = expect_varint("intstr.IntOrString", &f)? as i64,
            2 => int_val = expect_varint("intstr.IntOrString", &f)? as u32 as i32,
            3 => str_val = expect_string("intstr.IntOrString", &f)?,
            _ => {}
        }
    }
    match type_code {
        0 => Ok(Value::Number(Number::from(int_val))),
        1 => Ok(Value::String(str_val)),
        _ => Err(ProtoError::BadIntOrString {
            message: name,
            type_code,
        }),
    }
}

/// RawExtension and FieldsV1 bytes: JSON embedded as is, or an enveloped protobuf object
/// decoded in turn; empty is null.
fn decode_raw_json(
    name: &'static str,
    raw: &[u8],
    offset: usize,
    depth: usize,
) -> Result<Value, ProtoError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if let Some(rest) = raw.strip_prefix(&MAGIC) {
        if depth + 1 > MAX_DEPTH {
            return Err(ProtoError::TooDeep {
                max_depth: MAX_DEPTH,
            });
        }
        return decode_envelope(rest, offset + MAGIC.len(), depth + 1);
    }
    serde_json::from_slice(raw).map_err(|_| ProtoError::BadEmbeddedJson { message: name })
}
