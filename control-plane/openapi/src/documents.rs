//! Assembles and serializes the swagger 2.0 document, the OpenAPI v3 index and the per
//! group-version OpenAPI 3.0 documents, and checks that every reference resolves.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::catalog::{Catalog, Kind, ServedKind};
use crate::paths::{operations, v2_paths, v3_paths, FieldValidation};
use crate::schemas::{
    closure, for_each_ref, group_version_paths, kubernetes_definitions, list_definition,
    DEFINITIONS_PREFIX, INT_OR_STRING, QUANTITY,
};
use crate::{proto, Error};

/// The v3 index and per group-version documents for one [`FieldValidation`] mode.
pub(crate) struct V3 {
    pub index: Vec<u8>,
    pub group_versions: BTreeMap<String, Vec<u8>>,
}

pub(crate) struct Documents {
    pub v2_json: Vec<u8>,
    pub v2_protobuf: Vec<u8>,
    pub v3_client: V3,
    pub v3_server: V3,
    /// Version-neutral definitions, `#/definitions/` references.
    pub definitions: Map<String, Value>,
    /// Top-level kinds (and their lists) to their definition names.
    pub kinds: BTreeMap<Kind, String>,
    pub served: Vec<ServedKind>,
}

const INFO: (&str, &str) = ("Kubernetes", "unversioned");

pub(crate) fn build(catalog: Catalog) -> Result<Documents, Error> {
    let Catalog {
        kinds: served,
        definitions,
    } = catalog;
    let definitions = kubernetes_definitions(&served, definitions);
    check_refs(&definitions)?;
    let ops = operations(&served);

    let mut kinds = BTreeMap::new();
    for s in &served {
        kinds.insert(s.kind, s.definition.to_owned());
        if let Some(list_kind) = s.list_kind {
            kinds.insert(
                Kind {
                    kind: list_kind,
                    ..s.kind
                },
                list_definition(s.definition, list_kind),
            );
        }
    }

    // Swagger 2.0: one document with everything.
    let all_ops: Vec<_> = ops.iter().collect();
    let v2 = json!({
        "swagger": "2.0",
        "info": { "title": INFO.0, "version": INFO.1 },
        "paths": v2_paths(&all_ops, FieldValidation::Client),
        "definitions": definitions,
    });
    check_document_refs(&v2, "#/definitions/", v2.get("definitions"))?;
    let v2_json = serde_json::to_vec(&v2).map_err(|source| Error::Serialize {
        document: "/openapi/v2".into(),
        source,
    })?;
    let v2_protobuf = proto::document(&v2);

    let gv_paths = group_version_paths(&served);
    let v3_client = build_v3(&definitions, &ops, &gv_paths, FieldValidation::Client)?;
    let v3_server = build_v3(&definitions, &ops, &gv_paths, FieldValidation::Server)?;
    Ok(Documents {
        v2_json,
        v2_protobuf,
        v3_client,
        v3_server,
        definitions,
        kinds,
        served,
    })
}

fn build_v3(
    definitions: &Map<String, Value>,
    ops: &[crate::paths::Operation],
    gv_paths: &BTreeSet<String>,
    validation: FieldValidation,
) -> Result<V3, Error> {
    let mut group_versions = BTreeMap::new();
    let mut index = Map::new();
    for gv in gv_paths {
        let gv_ops: Vec<_> = ops
            .iter()
            .filter(|op| &op.group_version_path == gv)
            .collect();
        let paths = v3_paths(&gv_ops, validation);
        let mut roots = Vec::new();
        for_each_ref(&Value::Object(paths.clone()), &mut |name| {
            roots.push(name.to_owned())
        });
        let reachable = closure(definitions, roots.iter().map(String::as_str));
        let schemas: Map<String, Value> = reachable
            .iter()
            .filter_map(|name| {
                definitions
                    .get(name)
                    .map(|def| (name.clone(), v3_definition(name, def)))
            })
            .collect();
        let doc = json!({
            "openapi": "3.0.0",
            "info": { "title": INFO.0, "version": INFO.1 },
            "paths": paths,
            "components": { "schemas": schemas },
        });
        let document = format!("/openapi/v3/{gv}");
        check_document_refs(
            &doc,
            "#/components/schemas/",
            doc.get("components").and_then(|c| c.get("schemas")),
        )?;
        let bytes = serde_json::to_vec(&doc).map_err(|source| Error::Serialize {
            document: document.clone(),
            source,
        })?;
        let hash: String = Sha512::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        index.insert(
            gv.clone(),
            json!({ "serverRelativeURL": format!("{document}?hash={hash}") }),
        );
        group_versions.insert(gv.clone(), bytes);
    }
    let index =
        serde_json::to_vec(&json!({ "paths": index })).map_err(|source| Error::Serialize {
            document: "/openapi/v3".into(),
            source,
        })?;
    Ok(V3 {
        index,
        group_versions,
    })
}

/// A definition as Kubernetes publishes it in OpenAPI 3.0: references into
/// `#/components/schemas/`, a reference with siblings (a description) wrapped in `allOf`, and
/// int-or-string and quantity as `oneOf` alternatives.
fn v3_definition(name: &str, def: &Value) -> Value {
    let mut out = v3_schema(def);
    if let Some(obj) = out.as_object_mut() {
        if name == INT_OR_STRING {
            obj.remove("type");
            obj.insert(
                "oneOf".into(),
                json!([{ "type": "integer" }, { "type": "string" }]),
            );
        } else if name == QUANTITY {
            obj.remove("type");
            obj.insert(
                "oneOf".into(),
                json!([{ "type": "string" }, { "type": "number" }]),
            );
        }
    }
    out
}

fn v3_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(obj) => {
            let mut out = Map::new();
            let mut reference = None;
            for (key, value) in obj {
                if key == "$ref" {
                    if let Some(target) = value.as_str() {
                        let name = target.strip_prefix(DEFINITIONS_PREFIX).unwrap_or(target);
                        reference = Some(format!("#/components/schemas/{name}"));
                    }
                } else if key.starts_with("x-kubernetes-") || key == "required" || key == "enum" {
                    // Extension values and name lists are data, not schemas.
                    out.insert(key.clone(), value.clone());
                } else if key == "properties" {
                    let props = value
                        .as_object()
                        .map(|p| {
                            p.iter()
                                .map(|(k, v)| (k.clone(), v3_schema(v)))
                                .collect::<Map<_, _>>()
                        })
                        .unwrap_or_default();
                    out.insert(key.clone(), Value::Object(props));
                } else {
                    out.insert(key.clone(), v3_schema(value));
                }
            }
            match reference {
                Some(r) if out.is_empty() => json!({ "$ref": r }),
                Some(r) => {
                    out.insert("allOf".into(), json!([{ "$ref": r }]));
                    Value::Object(out)
                }
                None => Value::Object(out),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(v3_schema).collect()),
        other => other.clone(),
    }
}

fn check_refs(definitions: &Map<String, Value>) -> Result<(), Error> {
    for (name, def) in definitions {
        let mut missing = None;
        for_each_ref(def, &mut |target| {
            if missing.is_none() && !definitions.contains_key(target) {
                missing = Some(target.to_owned());
            }
        });
        if let Some(target) = missing {
            return Err(Error::DanglingReference {
                from: name.clone(),
                to: target,
            });
        }
    }
    Ok(())
}

/// Every `$ref` in `doc` must start with `prefix` and name an entry of `table`.
fn check_document_refs(doc: &Value, prefix: &str, table: Option<&Value>) -> Result<(), Error> {
    let mut bad = None;
    walk_refs(doc, &mut |target| {
        let ok = target
            .strip_prefix(prefix)
            .is_some_and(|name| table.and_then(|t| t.get(name)).is_some());
        if !ok && bad.is_none() {
            bad = Some(target.to_owned());
        }
    });
    match bad {
        Some(to) => Err(Error::DanglingReference {
            from: prefix.to_owned(),
            to,
        }),
        None => Ok(()),
    }
}

fn walk_refs(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj {
                match (key.as_str(), v) {
                    ("$ref", Value::String(target)) => f(target),
                    _ => walk_refs(v, f),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk_refs(v, f)),
        _ => {}
    }
}
