//! Encodes the swagger 2.0 document as the protobuf message kubectl downloads from
//! `/openapi/v2` (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): the
//! `openapi.v2.Document` message of the gnostic OpenAPI v2 schema. kubectl's client-side
//! validation reads only this encoding, never the JSON.
//!
//! Only the fields Berth's document uses are encoded. Field numbers follow that schema;
//! vendor extensions carry their value as YAML text (JSON is valid YAML).

use serde_json::Value;

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.key(field, 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            // Two's complement, as protobuf encodes a negative int64.
            self.varint(v as u64);
        }
    }

    fn double(&mut self, field: u32, v: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn strings_of<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `Any { yaml = 2 }`.
fn any(value: &Value) -> Message {
    let mut m = Message::default();
    m.string(2, &value.to_string());
    m
}

/// Repeated `NamedAny { name = 1; value = 2 }` for every `x-` key of `v`.
fn vendor_extensions(m: &mut Message, field: u32, v: &Value) {
    if let Some(obj) = v.as_object() {
        for (key, value) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
            let mut named = Message::default();
            named.string(1, key);
            named.message(2, any(value));
            m.message(field, named);
        }
    }
}

/// `Schema`.
fn schema(v: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, str_of(v, "$ref"));
    m.string(2, str_of(v, "format"));
    m.string(3, str_of(v, "title"));
    m.string(4, str_of(v, "description"));
    if let Some(default) = v.get("default") {
        m.message(5, any(default));
    }
    if let Some(n) = v.get("maximum").and_then(Value::as_f64) {
        m.double(7, n);
    }
    if let Some(n) = v.get("minimum").and_then(Value::as_f64) {
        m.double(9, n);
    }
    if let Some(n) = v.get("maxLength").and_then(Value::as_i64) {
        m.int64(11, n);
    }
    m.string(13, str_of(v, "pattern"));
    for required in strings_of(v, "required") {
        m.string(19, required);
    }
    for value in v
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(value));
    }
    match v.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Message::default();
            item.key(2, 0);
            item.varint(u64::from(*b));
            m.message(21, item);
        }
        Some(sub @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(sub));
            m.message(21, item);
        }
        _ => {}
    }
    match v.get("type") {
        Some(Value::String(t)) => {
            let mut item = Message::default();
            item.string(1, t);
            m.message(22, item);
        }
        Some(Value::Array(types)) => {
            let mut item = Message::default();
            types
                .iter()
                .filter_map(Value::as_str)
                .for_each(|t| item.string(1, t));
            m.message(22, item);
        }
        _ => {}
    }
    if let Some(items) = v.get("items") {
        let mut item = Message::default();
        match items {
            Value::Array(list) => list.iter().for_each(|s| item.message(1, schema(s))),
            single => item.message(1, schema(single)),
        }
        m.message(23, item);
    }
    for sub in v
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(sub));
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        let mut properties = Message::default();
        for (name, sub) in props {
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, schema(sub));
            properties.message(1, named);
        }
        m.message(25, properties);
    }
    if v.get("readOnly").and_then(Value::as_bool) == Some(true) {
        m.boolean(27, true);
    }
    vendor_extensions(&mut m, 31, v);
    m
}

/// `ParametersItem { parameter = 1 }` for one swagger parameter.
fn parameter(v: &Value) -> Message {
    let location = str_of(v, "in");
    let mut param = Message::default();
    if location == "body" {
        let mut body = Message::default();
        body.string(1, str_of(v, "description"));
        body.string(2, str_of(v, "name"));
        body.string(3, location);
        body.boolean(
            4,
            v.get("required").and_then(Value::as_bool).unwrap_or(false),
        );
        if let Some(s) = v.get("schema") {
            body.message(5, schema(s));
        }
        param.message(1, body);
    } else {
        // QueryParameterSubSchema and PathParameterSubSchema share fields 1 to 4; `type` is 6
        // in the former and 5 in the latter.
        let mut sub = Message::default();
        sub.boolean(
            1,
            v.get("required").and_then(Value::as_bool).unwrap_or(false),
        );
        sub.string(2, location);
        sub.string(3, str_of(v, "description"));
        sub.string(4, str_of(v, "name"));
        let (type_field, unique_field, oneof_field) = if location == "path" {
            (5, 19, 4)
        } else {
            (6, 20, 3)
        };
        sub.string(type_field, str_of(v, "type"));
        sub.boolean(
            unique_field,
            v.get("uniqueItems")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        );
        let mut non_body = Message::default();
        non_body.message(oneof_field, sub);
        param.message(2, non_body);
    }
    let mut item = Message::default();
    item.message(1, param);
    item
}

/// `Operation`.
fn operation(v: &Value) -> Message {
    let mut m = Message::default();
    strings_of(v, "tags").for_each(|t| m.string(1, t));
    m.string(3, str_of(v, "description"));
    m.string(5, str_of(v, "operationId"));
    strings_of(v, "produces").for_each(|t| m.string(6, t));
    strings_of(v, "consumes").for_each(|t| m.string(7, t));
    for p in v
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameter(p));
    }
    if let Some(responses) = v.get("responses").and_then(Value::as_object) {
        let mut rs = Message::default();
        for (code, response) in responses {
            let mut r = Message::default();
            r.string(1, str_of(response, "description"));
            if let Some(s) = response.get("schema") {
                let mut item = Message::default();
                item.message(1, schema(s));
                r.message(2, item);
            }
            let mut value = Message::default();
            value.message(1, r);
            let mut named = Message::default();
            named.string(1, code);
            named.message(2, value);
            rs.message(1, named);
        }
        m.message(9, rs);
    }
    strings_of(v, "schemes").for_each(|t| m.string(10, t));
    vendor_extensions(&mut m, 13, v);
    m
}

/// `Document` from a swagger 2.0 JSON document.
pub(crate) fn document(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, str_of(doc, "swagger"));
    if let Some(info) = doc.get("info") {
        let mut i = Message::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        m.message(2, i);
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut ps = Message::default();
        for (path, item) in paths {
            let mut pi = Message::default();
            for (field, method) in [
                (2, "get"),
                (3, "put"),
                (4, "post"),
                (5, "delete"),
                (6, "options"),
                (7, "head"),
                (8, "patch"),
            ] {
                if let Some(op) = item.get(method) {
                    pi.message(field, operation(op));
                }
            }
            let mut named = Message::default();
            named.string(1, path);
            named.message(2, pi);
            ps.message(2, named);
        }
        m.message(8, ps);
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        let mut ds = Message::default();
        for (name, def) in defs {
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, schema(def));
            ds.message(1, named);
        }
        m.message(9, ds);
    }
    vendor_extensions(&mut m, 16, doc);
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: u64, expected: &[u8]) {
        let mut m = Message::default();
        m.varint(value);
        assert_eq!(m.0, expected, "varint {value}");
    }

    #[test]
    fn varints() {
        check(0, &[0]);
        check(1, &[1]);
        check(127, &[0x7f]);
        check(128, &[0x80, 0x01]);
        check(300, &[0xac, 0x02]);
        check(
            u64::MAX,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        );
    }

    #[test]
    fn document_header() {
        // swagger = 1 ("2.0"), info = 2 { title = 1 ("K") }.
        let doc = serde_json::json!({ "swagger": "2.0", "info": { "title": "K" } });
        assert_eq!(
            document(&doc),
            [0x0a, 3, b'2', b'.', b'0', 0x12, 3, 0x0a, 1, b'K']
        );
    }
}
