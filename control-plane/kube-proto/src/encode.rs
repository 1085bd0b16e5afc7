//! JSON to protobuf: walks a JSON object with its message's schema and writes the fields
//! Go's protobuf decoder expects. Zero values of `omitempty` scalars are left out (Go reads
//! an absent field as zero); nulls are left out.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::decode::{is_zero, MAX_DEPTH};
use crate::error::ProtoError;
use crate::schema::{self, Kind, Message, Shape};
use crate::time;
use crate::wire::Writer;
use crate::MAGIC;

/// Where in the JSON object a value sits, rendered only for error messages.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => write!(f, "$"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, idx) => write!(f, "{parent}[{idx}]"),
        }
    }
}

fn type_error(path: &Path<'_>, expected: &'static str) -> ProtoError {
    ProtoError::JsonType {
        path: path.to_string(),
        expected,
    }
}

pub(crate) fn encode_body(value: &Value) -> Result<Vec<u8>, ProtoError> {
    let object = value
        .as_object()
        .ok_or_else(|| type_error(&Path::Root, "an object"))?;
    let type_field = |name: &'static str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ProtoError::MissingTypeField(name))
    };
    let (api_version, kind) = (type_field("apiVersion")?, type_field("kind")?);
    let message = schema::lookup(api_version, kind).ok_or_else(|| ProtoError::UnsupportedKind {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
    })?;
    let mut raw = Writer::default();
    encode_message(message, object, &Path::Root, &mut raw, 0)?;
    let mut type_meta = Writer::default();
    type_meta.bytes_field(1, api_version.as_bytes());
    type_meta.bytes_field(2, kind.as_bytes());
    let mut envelope = Writer {
        buf: MAGIC.to_vec(),
    };
    envelope.bytes_field(1, &type_meta.buf);
    envelope.bytes_field(2, &raw.buf);
    envelope.bytes_field(3, b"");
    envelope.bytes_field(4, b"");
    Ok(envelope.buf)
}

fn encode_message(
    message: &'static Message,
    object: &Map<String, Value>,
    path: &Path<'_>,
    out: &mut Writer,
    depth: usize,
) -> Result<(), ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep {
            max_depth: MAX_DEPTH,
        });
    }
    for field in message.fields {
        if field.shape == Shape::Inline {
            if let Kind::Msg(inner) = field.kind {
                let mut sub = Writer::default();
                encode_message(inner, object, path, &mut sub, depth + 1)?;
                if !sub.buf.is_empty() {
                    out.bytes_field(field.number, &sub.buf);
                }
            }
            continue;
        }
        let Some(value) = object.get(field.json) else {
            continue;
        };
        if value.is_null() {
            // Go writes a zero Time (a struct, not a pointer) as null; it travels as an empty
            // message, so that null survives the round trip.
            if matches!(field.kind, Kind::Time | Kind::MicroTime) && field.shape == Shape::Keep {
                out.bytes_field(field.number, &[]);
            }
            continue;
        }
        let path = Path::Key(path, field.json);
        match field.shape {
            Shape::Repeated | Shape::RepeatedOrNull => {
                let items = value
                    .as_array()
                    .ok_or_else(|| type_error(&path, "an array"))?;
                for (idx, item) in items.iter().enumerate() {
                    encode_value(
                        out,
                        field.number,
                        field.kind,
                        item,
                        &Path::Index(&path, idx),
                        depth,
                    )?;
                }
            }
            Shape::Map | Shape::MapOrNull => {
                let entries = value
                    .as_object()
                    .ok_or_else(|| type_error(&path, "an object"))?;
                for (key, item) in entries {
                    let mut entry = Writer::default();
                    entry.bytes_field(1, key.as_bytes());
                    if !item.is_null() {
                        encode_value(
                            &mut entry,
                            2,
                            field.kind,
                            item,
                            &Path::Key(&path, key),
                            depth,
                        )?;
                    }
                    out.bytes_field(field.number, &entry.buf);
                }
            }
            Shape::Omit if is_zero(value) && !matches!(field.kind, Kind::Msg(_)) => {}
            _ => encode_value(out, field.number, field.kind, value, &path, depth)?,
        }
    }
    Ok(())
}

fn encode_value(
    out: &mut Writer,
    number: u32,
    kind: Kind,
    value: &Value,
    path: &Path<'_>,
    depth: usize,
) -> Result<(), ProtoError> {
    let as_str = || value.as_str().ok_or_else(|| type_error(path, "a string"));
    let bad = |what: &'static str, text: &str| ProtoError::JsonValue {
        path: path.to_string(),
        what,
        value: text.to_owned(),
    };
    match kind {
        Kind::Str => out.bytes_field(number, as_str()?.as_bytes()),
        Kind::Bytes => {
            let text = as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| bad("base64", text))?;
            out.bytes_field(number, &bytes);
        }
        Kind::Bool => {
            let b = value
                .as_bool()
                .ok_or_else(|| type_error(path, "a boolean"))?;
            out.varint_field(number, u64::from(b));
        }
        Kind::I32 => {
            let n = value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| type_error(path, "a 32-bit integer"))?;
            // Negative int32 values are sign-extended to ten bytes, as protobuf requires.
            out.varint_field(number, i64::from(n) as u64);
        }
        Kind::I64 => {
            let n = value
                .as_i64()
                .ok_or_else(|| type_error(path, "a 64-bit integer"))?;
            out.varint_field(number, n as u64);
        }
        Kind::F64 => {
            let x = value.as_f64().ok_or_else(|| type_error(path, "a number"))?;
            out.fixed64_field(number, x.to_bits());
        }
        Kind::F32 => {
            let x = value.as_f64().ok_or_else(|| type_error(path, "a number"))?;
            // Narrowing intended: the field is a float.
            out.fixed32_field(number, (x as f32).to_bits());
        }
        Kind::Msg(inner) => {
            let object = value
                .as_object()
                .ok_or_else(|| type_error(path, "an object"))?;
            let mut sub = Writer::default();
            encode_message(inner, object, path, &mut sub, depth + 1)?;
            out.bytes_field(number, &sub.buf);
        }
        Kind::Time | Kind::MicroTime => {
            let text = as_str()?;
            let (seconds, nanos) = time::parse_rfc3339(text).ok_or_else(|| bad("time", text))?;
            let mut sub = Writer::default();
            if seconds != 0 {
                sub.varint_field(1, seconds as u64);
            }
            // Time keeps whole seconds only; MicroTime keeps microseconds.
            let micros_as_nanos = nanos / 1_000 * 1_000;
            if matches!(kind, Kind::MicroTime) && micros_as_nanos != 0 {
                sub.varint_field(2, u64::from(micros_as_nanos));
            }
            out.bytes_field(number, &sub.buf);
        }
        Kind::Duration => {
            let text = as_str()?;
            let nanos = time::parse_go_duration(text).ok_or_else(|| bad("duration", text))?;
            let mut sub = Writer::default();
            sub.varint_field(1, nanos as u64);
            out.bytes_field(number, &sub.buf);
        }
        Kind::IntOrString => {
            let mut sub = Writer::default();
            match value {
                Value::String(s) => {
                    sub.varint_field(1, 1);
                    sub.bytes_field(3, s.as_bytes());
                }
                Value::Number(_) => {
                    let n = value
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| type_error(path, "a 32-bit integer or a string"))?;
                    sub.varint_field(1, 0);
                    sub.varint_field(2, i64::from(n) as u64);
                }
                _ => return Err(type_error(path, "an integer or a string")),
            }
            out.bytes_field(number, &sub.buf);
        }
        Kind::Quantity => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(type_error(path, "a quantity string")),
            };
            let mut sub = Writer::default();
            sub.bytes_field(1, text.as_bytes());
            out.bytes_field(number, &sub.buf);
        }
        Kind::RawJson => {
            let raw = serde_json::to_vec(value).map_err(|_| type_error(path, "JSON"))?;
            let mut sub = Writer::default();
            sub.bytes_field(1, &raw);
            out.bytes_field(number, &sub.buf);
        }
        Kind::StrList => {
            let items = value
                .as_array()
                .ok_or_else(|| type_error(path, "an array of strings"))?;
            let mut sub = Writer::default();
            for (idx, item) in items.iter().enumerate() {
                let s = item
                    .as_str()
                    .ok_or_else(|| type_error(&Path::Index(path, idx), "a string"))?;
                sub.bytes_field(1, s.as_bytes());
            }
            out.bytes_field(number, &sub.buf);
        }
    }
    Ok(())
}
