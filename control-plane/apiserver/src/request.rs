//! Request parsing: the URL into kube-apiserver's RequestInfo (verb, group, version,
//! resource, namespace, name, subresource), the query string, and media types.

use crate::resources::{self, Resource, Sub};
use crate::status::ApiError;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
    /// kube-apiserver's metric verb: WATCH/LIST/GET/POST/PUT/PATCH/DELETE.
    pub fn metric(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete | Verb::DeleteCollection => "DELETE",
        }
    }
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection
        )
    }
}

#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub verb: Verb,
    pub resource: &'static Resource,
    pub namespace: String,
    pub name: String,
    pub sub: Option<Sub>,
    /// The subresource as named in the URL (also for unknown ones, to 404 on).
    pub sub_name: String,
}

/// Parses `/api/v1/...` and `/apis/<group>/<version>/...` resource paths. `None` for
/// discovery and non-resource paths; Err(404) for an unknown resource.
pub fn parse(
    method: &http::Method,
    path: &str,
    query: &Query,
) -> Option<Result<ResourceRequest, ApiError>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return None,
    };
    let mut rest: Vec<&str> = rest.to_vec();
    let mut legacy_watch = false;
    if rest.first() == Some(&"watch") {
        legacy_watch = true;
        rest.remove(0);
    }
    if rest.is_empty() || rest.iter().any(|s| s.is_empty()) {
        return Some(Err(not_found()));
    }
    let (namespace, plural, name, sub) = if rest[0] == "namespaces" && rest.len() >= 2 {
        if rest.len() == 2 {
            ("", "namespaces", rest[1], "")
        } else if rest.len() == 3 && (rest[2] == "status" || rest[2] == "finalize") {
            ("", "namespaces", rest[1], rest[2])
        } else {
            (
                rest[1],
                rest[2],
                rest.get(3).copied().unwrap_or(""),
                rest.get(4).copied().unwrap_or(""),
            )
        }
    } else {
        (
            "",
            rest[0],
            rest.get(1).copied().unwrap_or(""),
            rest.get(2).copied().unwrap_or(""),
        )
    };
    if rest.len() > 5 {
        return Some(Err(not_found()));
    }
    let Some(resource) = resources::find(group, version, plural) else {
        return Some(Err(not_found()));
    };
    let sub_parsed = if sub.is_empty() {
        None
    } else {
        match Sub::parse(sub).filter(|s| resource.has(*s)) {
            Some(s) => Some(s),
            None => return Some(Err(not_found())),
        }
    };
    if resource.namespaced != !namespace.is_empty()
        && !(resource.namespaced && namespace.is_empty() && name.is_empty())
    {
        // A namespaced resource without a namespace is only a cross-namespace list/watch;
        // a cluster-scoped resource never has one.
        return Some(Err(not_found()));
    }
    let watch_param = query.flag("watch");
    let verb = match *method {
        http::Method::GET | http::Method::HEAD if legacy_watch || watch_param => Verb::Watch,
        http::Method::GET | http::Method::HEAD if name.is_empty() => Verb::List,
        http::Method::GET | http::Method::HEAD => Verb::Get,
        http::Method::POST => Verb::Create,
        http::Method::PUT => Verb::Update,
        http::Method::PATCH => Verb::Patch,
        http::Method::DELETE if name.is_empty() => Verb::DeleteCollection,
        http::Method::DELETE => Verb::Delete,
        _ => return Some(Err(ApiError::MethodNotAllowed)),
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some(Ok(ResourceRequest {
        verb,
        resource,
        namespace: decode(namespace),
        name: decode(name),
        sub: sub_parsed,
        sub_name: sub.to_string(),
    }))
}

pub fn not_found() -> ApiError {
    ApiError::NotFound {
        message: "the server could not find the requested resource".into(),
        subject: None,
    }
}

/// The query string, decoded (`+` as space, percent-escapes), last value wins.
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let mut m = HashMap::new();
        for pair in q.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            m.insert(dec(k), dec(v));
        }
        Query(m)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    /// `true`, `1`, `True` (the Python client) are true.
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some(v) if v.eq_ignore_ascii_case("true") || v == "1")
    }
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid value for {k}: {s:?}"))),
        }
    }
    /// `dryRun=All` (anything else is an error, as in Kubernetes).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!(
                "Invalid dry run value: {other:?}; only \"All\" is supported"
            ))),
        }
    }
}

/// What the client accepts, reduced to what this server can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    Json,
    Yaml,
    Table,
    PartialObjectMetadata,
    /// Aggregated discovery (apidiscovery.k8s.io/v2).
    Discovery,
}

pub fn accept(header: Option<&str>) -> Accept {
    let h = header.unwrap_or("");
    // The first alternative this server serves wins, in the client's order.
    for alt in h.split(',') {
        let a = alt.trim();
        if a.contains("as=Table") {
            return Accept::Table;
        }
        if a.contains("as=APIGroupDiscoveryList") && a.contains("v=v2") && !a.contains("v2beta1") {
            return Accept::Discovery;
        }
        if a.contains("as=PartialObjectMetadata") {
            return Accept::PartialObjectMetadata;
        }
        if a.starts_with("application/yaml") {
            return Accept::Yaml;
        }
        if a.starts_with("application/json")
            || a.starts_with("*/*")
            || a.starts_with("application/*")
        {
            return Accept::Json;
        }
    }
    Accept::Json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: http::Method,
        path: &str,
        q: &str,
        want: Option<(&str, &str, &str, &str, &str)>,
    ) {
        let query = Query::parse(Some(q));
        match (parse(&method, path, &query), want) {
            (None, None) => {}
            (Some(Ok(r)), Some((verb, plural, ns, name, sub))) => {
                assert_eq!(
                    (
                        r.verb.as_str(),
                        r.resource.plural,
                        r.namespace.as_str(),
                        r.name.as_str(),
                        r.sub_name.as_str()
                    ),
                    (verb, plural, ns, name, sub),
                    "{path}"
                );
            }
            (Some(Err(e)), None) => assert_eq!(e.code(), 404, "{path}"),
            (got, want) => panic!("{path}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn request_info() {
        use http::Method as M;
        check(
            M::GET,
            "/api/v1/namespaces/default/pods",
            "",
            Some(("list", "pods", "default", "", "")),
        );
        check(
            M::GET,
            "/api/v1/pods",
            "watch=true",
            Some(("watch", "pods", "", "", "")),
        );
        check(
            M::GET,
            "/api/v1/watch/namespaces/default/pods/x",
            "",
            Some(("watch", "pods", "default", "x", "")),
        );
        check(
            M::GET,
            "/api/v1/namespaces/default",
            "",
            Some(("get", "namespaces", "", "default", "")),
        );
        check(
            M::PUT,
            "/api/v1/namespaces/t/finalize",
            "",
            Some(("update", "namespaces", "", "t", "finalize")),
        );
        check(
            M::GET,
            "/api/v1/namespaces",
            "",
            Some(("list", "namespaces", "", "", "")),
        );
        check(
            M::PATCH,
            "/apis/apps/v1/namespaces/d/deployments/web/scale",
            "",
            Some(("patch", "deployments", "d", "web", "scale")),
        );
        check(
            M::DELETE,
            "/api/v1/namespaces/d/configmaps",
            "",
            Some(("deletecollection", "configmaps", "d", "", "")),
        );
        check(
            M::POST,
            "/api/v1/namespaces/d/pods/p/binding",
            "",
            Some(("create", "pods", "d", "p", "binding")),
        );
        check(M::GET, "/api/v1/namespaces/d/pods/p/bogus", "", None);
        check(
            M::GET,
            "/api/v1/nodes/n/status",
            "",
            Some(("get", "nodes", "", "n", "status")),
        );
        check(M::GET, "/api/v1/namespaces/d/nodes", "", None);
        check(M::GET, "/apis/nope/v1/things", "", None);
        check(M::GET, "/api", "", None);
        check(M::GET, "/apis/apps/v1", "", None);
        check(M::GET, "/api/v1/watch", "", None);
        check(M::GET, "/apis/apps/v1/watch/", "", None);
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(accept(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")), Accept::Table);
        assert_eq!(accept(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")), Accept::Discovery);
        assert_eq!(
            accept(Some("application/vnd.kubernetes.protobuf, */*")),
            Accept::Json
        );
        assert_eq!(accept(None), Accept::Json);
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=True&limit=5",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
        assert_eq!(q.int("limit").unwrap(), Some(5));
        assert!(Query::parse(Some("limit=x")).int("limit").is_err());
    }
}
