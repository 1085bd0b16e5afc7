//! Lists the fields of an object that its schema does not know, as kube-apiserver's strict
//! decoding reports them for `fieldValidation=Strict` (an error) and `Warn` (warnings).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::schemas::DEFINITIONS_PREFIX;

/// Objects nest far less than this; deeper input is not inspected further.
const MAX_DEPTH: usize = 64;
/// Reference chains (`$ref` to a definition that is itself a `$ref`) are short.
const MAX_REF_HOPS: usize = 8;

pub(crate) fn unknown_fields(
    definitions: &Map<String, Value>,
    definition: &str,
    obj: &Value,
) -> Vec<String> {
    let Some(root) = definitions.get(definition) else {
        return Vec::new();
    };
    let mut walk = Walk {
        definitions,
        found: Vec::new(),
        seen: HashSet::new(),
    };
    walk.value(root, obj, &mut String::new(), 0);
    walk.found
}

struct Walk<'a> {
    definitions: &'a Map<String, Value>,
    found: Vec<String>,
    seen: HashSet<String>,
}

impl<'a> Walk<'a> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..MAX_REF_HOPS {
            let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let name = target.strip_prefix(DEFINITIONS_PREFIX).unwrap_or(target);
            match self.definitions.get(name) {
                Some(next) => schema = next,
                None => break,
            }
        }
        schema
    }

    fn value(&mut self, schema: &'a Value, value: &Value, path: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let schema = self.resolve(schema);
        match value {
            Value::Object(fields) => {
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, field) in fields {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(name);
                        match properties.get(name) {
                            Some(sub) => self.value(sub, field, path, depth + 1),
                            None => {
                                let message = format!("unknown field \"{path}\"");
                                if self.seen.insert(message.clone()) {
                                    self.found.push(message);
                                }
                            }
                        }
                        path.truncate(len);
                    }
                } else if let Some(sub) =
                    schema.get("additionalProperties").filter(|s| s.is_object())
                {
                    for (name, field) in fields {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(name);
                        self.value(sub, field, path, depth + 1);
                        path.truncate(len);
                    }
                }
                // Neither: a free-form object (RawExtension, FieldsV1); anything goes.
            }
            Value::Array(items) => {
                if let Some(sub) = schema.get("items") {
                    for (idx, item) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("[{idx}]"));
                        self.value(sub, item, path, depth + 1);
                        path.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }
}
