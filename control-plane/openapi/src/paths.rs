//! The REST operations of the served kinds, and their rendering as swagger 2.0 and OpenAPI 3.0
//! path items. kubectl finds a kind's operations by the `x-kubernetes-group-version-kind` tag
//! of each operation: `kubectl explain` maps a resource to its kind through them, and kubectl's
//! validation asks whether the PATCH operation takes a `fieldValidation` query parameter.

use serde_json::{json, Map, Value};

use crate::catalog::{Kind, Scope, ServedKind};
use crate::schemas::{list_definition, DEFINITIONS_PREFIX, DELETE_OPTIONS, PATCH, STATUS};

/// Whether the documents tell kubectl that the server checks fields itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldValidation {
    /// PATCH operations take no `fieldValidation` parameter, so kubectl validates objects
    /// against the swagger 2.0 document before sending them (`kubectl create`, `apply`, also
    /// with `--dry-run=client`).
    Client,
    /// Write operations take `fieldValidation`, so kubectl sends `fieldValidation=Strict` and
    /// leaves the check to the server (see [`crate::unknown_fields`]), like kube-apiserver.
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    List,
    ListAllNamespaces,
    Create,
    Read,
    Replace,
    Patch,
    Delete,
}

impl Verb {
    fn method(self) -> &'static str {
        match self {
            Verb::List | Verb::ListAllNamespaces | Verb::Read => "get",
            Verb::Create => "post",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Verb::List | Verb::ListAllNamespaces => "list",
            Verb::Create => "post",
            Verb::Read => "get",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Verb::List | Verb::ListAllNamespaces => "list",
            Verb::Create => "create",
            Verb::Read => "read",
            Verb::Replace => "replace",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn from_method(method: &str) -> Option<Verb> {
        match method {
            "get" => Some(Verb::Read),
            "post" => Some(Verb::Create),
            "put" => Some(Verb::Replace),
            "patch" => Some(Verb::Patch),
            "delete" => Some(Verb::Delete),
            _ => None,
        }
    }

    fn writes(self) -> bool {
        matches!(self, Verb::Create | Verb::Replace | Verb::Patch)
    }
}

/// One REST operation.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    /// The group-version path of the document that holds it: `apis/apps/v1`.
    pub group_version_path: String,
    pub path: String,
    verb: Verb,
    kind: Kind,
    operation_id: String,
    namespaced: bool,
    named: bool,
    request: Option<String>,
    response: String,
}

/// `rbac.authorization.k8s.io` → `RbacAuthorization`, `` → `Core`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    group
        .trim_end_matches(".k8s.io")
        .split('.')
        .map(capitalize)
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn operations(kinds: &[ServedKind]) -> Vec<Operation> {
    let mut ops = Vec::new();
    for served in kinds {
        let kind = served.kind;
        let gv_path = kind.group_version_path();
        let id_base = format!("{}{}", group_camel(kind.group), capitalize(kind.version));
        let def = served.definition.to_owned();
        match served.scope {
            Scope::Subresource => {
                for parent in served.parents {
                    let prefix = if parent.namespaced {
                        format!(
                            "/{}/namespaces/{{namespace}}/{}/{{name}}/{}",
                            parent.group_version_path, parent.plural, served.plural
                        )
                    } else {
                        format!(
                            "/{}/{}/{{name}}/{}",
                            parent.group_version_path, parent.plural, served.plural
                        )
                    };
                    let parent_kind = kinds
                        .iter()
                        .find(|k| {
                            k.plural == parent.plural
                                && k.kind.group_version_path() == parent.group_version_path
                        })
                        .map_or(kind.kind, |k| k.kind.kind);
                    let parent_gv = parent
                        .group_version_path
                        .trim_start_matches("api/")
                        .trim_start_matches("apis/");
                    let (parent_group, parent_version) =
                        parent_gv.rsplit_once('/').unwrap_or(("", parent_gv));
                    for method in parent.methods {
                        let Some(verb) = Verb::from_method(method) else {
                            continue;
                        };
                        ops.push(Operation {
                            group_version_path: parent.group_version_path.to_owned(),
                            path: prefix.clone(),
                            verb,
                            kind,
                            operation_id: format!(
                                "{}{}{}{}{}{}",
                                verb.id_prefix(),
                                group_camel(parent_group),
                                capitalize(parent_version),
                                if parent.namespaced { "Namespaced" } else { "" },
                                parent_kind,
                                capitalize(served.plural),
                            ),
                            namespaced: parent.namespaced,
                            named: true,
                            request: (verb != Verb::Read).then(|| {
                                if verb == Verb::Patch {
                                    PATCH.to_owned()
                                } else {
                                    def.clone()
                                }
                            }),
                            response: def.clone(),
                        });
                    }
                }
            }
            Scope::Namespaced | Scope::Cluster => {
                let namespaced = served.scope == Scope::Namespaced;
                let collection = if namespaced {
                    format!("/{gv_path}/namespaces/{{namespace}}/{}", served.plural)
                } else {
                    format!("/{gv_path}/{}", served.plural)
                };
                let item = format!("{collection}/{{name}}");
                let ns_word = if namespaced { "Namespaced" } else { "" };
                let mut push = |verb: Verb,
                                path: &str,
                                named: bool,
                                request: Option<String>,
                                response: String,
                                suffix: &str,
                                ns: bool| {
                    ops.push(Operation {
                        group_version_path: gv_path.clone(),
                        path: path.to_owned(),
                        verb,
                        kind,
                        operation_id: format!(
                            "{}{id_base}{}{}{suffix}",
                            verb.id_prefix(),
                            if ns { ns_word } else { "" },
                            kind.kind
                        ),
                        namespaced: ns && namespaced,
                        named,
                        request,
                        response,
                    });
                };
                push(
                    Verb::Create,
                    &collection,
                    false,
                    Some(def.clone()),
                    def.clone(),
                    "",
                    true,
                );
                // Kinds that cannot be listed (reviews, bindings) are create-only.
                if let Some(list_kind) = served.list_kind {
                    let list_def = list_definition(served.definition, list_kind);
                    push(
                        Verb::List,
                        &collection,
                        false,
                        None,
                        list_def.clone(),
                        "",
                        true,
                    );
                    if namespaced {
                        let all = format!("/{gv_path}/{}", served.plural);
                        push(
                            Verb::ListAllNamespaces,
                            &all,
                            false,
                            None,
                            list_def,
                            "ForAllNamespaces",
                            false,
                        );
                    }
                    push(Verb::Read, &item, true, None, def.clone(), "", true);
                    push(
                        Verb::Replace,
                        &item,
                        true,
                        Some(def.clone()),
                        def.clone(),
                        "",
                        true,
                    );
                    push(
                        Verb::Patch,
                        &item,
                        true,
                        Some(PATCH.to_owned()),
                        def.clone(),
                        "",
                        true,
                    );
                    push(
                        Verb::Delete,
                        &item,
                        true,
                        Some(DELETE_OPTIONS.to_owned()),
                        STATUS.to_owned(),
                        "",
                        true,
                    );
                }
            }
        }
    }
    ops
}

fn gvk_json(kind: &Kind) -> Value {
    json!({ "group": kind.group, "kind": kind.kind, "version": kind.version })
}

/// `(name, in, description)` of the parameters other than the body.
fn parameters(
    op: &Operation,
    validation: FieldValidation,
) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut params = Vec::new();
    if op.named {
        params.push(("name", "path", "name of the object"));
    }
    if op.namespaced {
        params.push((
            "namespace",
            "path",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    if op.verb.writes() || op.verb == Verb::Delete {
        params.push(("dryRun", "query", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"));
    }
    if op.verb.writes() {
        params.push(("fieldManager", "query", "fieldManager is a name associated with the actor or entity that is making these changes."));
        if validation == FieldValidation::Server {
            params.push(("fieldValidation", "query", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict"));
        }
    }
    if op.verb == Verb::Patch {
        params.push(("force", "query", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people."));
    }
    if matches!(op.verb, Verb::List | Verb::ListAllNamespaces) {
        params.push(("labelSelector", "query", "A selector to restrict the list of returned objects by their labels. Defaults to everything."));
        params.push(("fieldSelector", "query", "A selector to restrict the list of returned objects by their fields. Defaults to everything."));
        params.push(("resourceVersion", "query", "resourceVersion sets a constraint on what resource versions a request may be served from."));
        params.push(("watch", "query", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."));
    }
    params
}

fn param_type(name: &str) -> &'static str {
    match name {
        "watch" | "force" => "boolean",
        _ => "string",
    }
}

const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

const PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn description(op: &Operation) -> String {
    match op.verb {
        Verb::List | Verb::ListAllNamespaces => {
            format!("list or watch objects of kind {}", op.kind.kind)
        }
        Verb::Create => format!("create a {}", op.kind.kind),
        Verb::Read => format!("read the specified {}", op.kind.kind),
        Verb::Replace => format!("replace the specified {}", op.kind.kind),
        Verb::Patch => format!("partially update the specified {}", op.kind.kind),
        Verb::Delete => format!("delete a {}", op.kind.kind),
    }
}

fn tag(op: &Operation) -> String {
    let gv = op
        .group_version_path
        .trim_start_matches("api/")
        .trim_start_matches("apis/");
    let (group, version) = gv.rsplit_once('/').unwrap_or(("core", gv));
    format!(
        "{}_{}",
        group.trim_end_matches(".k8s.io").replace('.', "_"),
        version
    )
}

/// Swagger 2.0 path items.
pub(crate) fn v2_paths(ops: &[&Operation], validation: FieldValidation) -> Map<String, Value> {
    let mut paths = Map::new();
    for op in ops {
        let mut parameters: Vec<Value> = parameters(op, validation)
            .into_iter()
            .map(|(name, location, description)| {
                json!({
                    "name": name, "in": location, "description": description,
                    "type": param_type(name), "required": location == "path", "uniqueItems": true,
                })
            })
            .collect();
        if let Some(request) = &op.request {
            parameters.push(json!({
                "name": "body", "in": "body", "required": op.verb != Verb::Delete,
                "schema": { "$ref": format!("{DEFINITIONS_PREFIX}{request}") },
            }));
        }
        let consumes: Vec<&str> = if op.verb == Verb::Patch {
            PATCH_CONTENT_TYPES.to_vec()
        } else {
            vec!["*/*"]
        };
        let operation = json!({
            "description": description(op),
            "operationId": op.operation_id,
            "tags": [tag(op)],
            "consumes": consumes,
            "produces": PRODUCES,
            "schemes": ["https"],
            "parameters": parameters,
            "responses": {
                "200": { "description": "OK", "schema": { "$ref": format!("{DEFINITIONS_PREFIX}{}", op.response) } },
                "401": { "description": "Unauthorized" },
            },
            "x-kubernetes-action": op.verb.action(),
            "x-kubernetes-group-version-kind": gvk_json(&op.kind),
        });
        insert_operation(&mut paths, &op.path, op.verb.method(), operation);
    }
    paths
}

/// OpenAPI 3.0 path items, with references into `#/components/schemas/`.
pub(crate) fn v3_paths(ops: &[&Operation], validation: FieldValidation) -> Map<String, Value> {
    let schema_ref = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let mut paths = Map::new();
    for op in ops {
        let parameters: Vec<Value> = parameters(op, validation)
            .into_iter()
            .map(|(name, location, description)| {
                json!({
                    "name": name, "in": location, "description": description,
                    "required": location == "path",
                    "schema": { "type": param_type(name), "uniqueItems": true },
                })
            })
            .collect();
        let mut operation = json!({
            "description": description(op),
            "operationId": op.operation_id,
            "tags": [tag(op)],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": { "schema": schema_ref(&op.response) },
                        "application/yaml": { "schema": schema_ref(&op.response) },
                    },
                },
                "401": { "description": "Unauthorized" },
            },
            "x-kubernetes-action": op.verb.action(),
            "x-kubernetes-group-version-kind": gvk_json(&op.kind),
        });
        if let (Some(request), Some(obj)) = (&op.request, operation.as_object_mut()) {
            let content_types: Vec<&str> = if op.verb == Verb::Patch {
                PATCH_CONTENT_TYPES.to_vec()
            } else {
                vec!["*/*"]
            };
            let content: Map<String, Value> = content_types
                .into_iter()
                .map(|ct| (ct.to_owned(), json!({ "schema": schema_ref(request) })))
                .collect();
            obj.insert(
                "requestBody".into(),
                json!({ "content": content, "required": op.verb != Verb::Delete }),
            );
        }
        insert_operation(&mut paths, &op.path, op.verb.method(), operation);
    }
    paths
}

fn insert_operation(paths: &mut Map<String, Value>, path: &str, method: &str, operation: Value) {
    let item = paths
        .entry(path.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(item) = item.as_object_mut() {
        item.insert(method.to_owned(), operation);
    }
}
