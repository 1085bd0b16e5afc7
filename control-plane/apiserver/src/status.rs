//! API errors and their wire form, `metav1.Status`, with the reasons, messages and codes
//! kube-apiserver uses (clients branch on `reason` and `code`).

use serde_json::{json, Value};

/// One field error of a 422 Invalid (`details.causes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// The field path, `spec.containers[0].name`.
    pub field: String,
    /// The message without the field, `Required value`.
    pub message: String,
}

impl Cause {
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }
    /// `Invalid value: "v": detail` (the value printed as Kubernetes prints it).
    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl AsRef<str>) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {}: {}", show(value), detail.as_ref()),
        }
    }
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Cause {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                show(value),
                list.join(", ")
            ),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {}", show(value)),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {}", detail.into()),
        }
    }
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Cause {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max_bytes} bytes"),
        }
    }
    fn text(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

/// A value as Go's `%#v`-like rendering in field errors: strings quoted, others as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Which object an error is about: `details.{name,group,kind}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    /// The resource plural (`pods`), or the Kind for Invalid errors, as Kubernetes does.
    pub kind: String,
    pub name: String,
}

/// Every way a request can fail, each mapping to one Status reason and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    NotFound {
        message: String,
        subject: Option<Subject>,
    },
    #[error("{message}")]
    AlreadyExists { message: String, subject: Subject },
    #[error("{message}")]
    Conflict {
        message: String,
        subject: Subject,
        causes: Vec<Cause>,
    },
    #[error("{message}")]
    Invalid {
        message: String,
        subject: Subject,
        causes: Vec<Cause>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden {
        message: String,
        subject: Option<Subject>,
    },
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Gone(String),
    /// 410 with reason Expired: a continue token or watch start older than the compaction.
    #[error("{0}")]
    Expired(String),
    #[error("the request is too large; limit is {limit_bytes} bytes")]
    TooLarge { limit_bytes: usize },
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("Internal error occurred: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Gone(_) | ApiError::Expired(_) => 410,
            ApiError::TooLarge { .. } => 413,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Timeout(_) => 504,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Gone(_) => "Gone",
            ApiError::Expired(_) => "Expired",
            ApiError::TooLarge { .. } => "RequestEntityTooLarge",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::Timeout(_) => "Timeout",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// `pods "web" not found`.
    pub fn not_found(resource: &str, group: &str, name: &str) -> ApiError {
        ApiError::NotFound {
            message: format!("{} \"{name}\" not found", qualified(resource, group)),
            subject: Some(Subject {
                group: group.into(),
                kind: resource.into(),
                name: name.into(),
            }),
        }
    }
    pub fn already_exists(resource: &str, group: &str, name: &str) -> ApiError {
        ApiError::AlreadyExists {
            message: format!("{} \"{name}\" already exists", qualified(resource, group)),
            subject: Subject {
                group: group.into(),
                kind: resource.into(),
                name: name.into(),
            },
        }
    }
    /// The optimistic-concurrency conflict every client retries on.
    pub fn conflict_modified(resource: &str, group: &str, name: &str) -> ApiError {
        ApiError::conflict(resource, group, name, "the object has been modified; please apply your changes to the latest version and try again")
    }
    pub fn conflict(resource: &str, group: &str, name: &str, why: &str) -> ApiError {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(resource, group)
            ),
            subject: Subject {
                group: group.into(),
                kind: resource.into(),
                name: name.into(),
            },
            causes: vec![],
        }
    }
    /// `Pod "web" is invalid: spec.containers[0].name: Required value` (Kind, not resource).
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let text = match causes.as_slice() {
            [one] => one.text(),
            many => format!(
                "[{}]",
                many.iter().map(Cause::text).collect::<Vec<_>>().join(", ")
            ),
        };
        let qualified_kind = qualified(kind, group);
        ApiError::Invalid {
            message: format!("{qualified_kind} \"{name}\" is invalid: {text}"),
            subject: Subject {
                group: group.into(),
                kind: kind.into(),
                name: name.into(),
            },
            causes,
        }
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            message: message.into(),
            subject: None,
        }
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let subject = match self {
            ApiError::NotFound { subject, .. } | ApiError::Forbidden { subject, .. } => {
                subject.as_ref()
            }
            ApiError::AlreadyExists { subject, .. }
            | ApiError::Conflict { subject, .. }
            | ApiError::Invalid { subject, .. } => Some(subject),
            _ => None,
        };
        if let Some(s) = subject {
            if !s.name.is_empty() {
                details.insert("name".into(), s.name.clone().into());
            }
            if !s.group.is_empty() {
                details.insert("group".into(), s.group.clone().into());
            }
            if !s.kind.is_empty() {
                details.insert("kind".into(), s.kind.clone().into());
            }
        }
        if let ApiError::Invalid { causes, .. } | ApiError::Conflict { causes, .. } = self {
            if !causes.is_empty() {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                details.insert("causes".into(), causes.into());
            }
        }
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            details.insert("retryAfterSeconds".into(), (*retry_after_secs).into());
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// `pods` for the core group, `deployments.apps` otherwise.
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The Status a successful delete returns for kinds that do not return the object.
pub fn success(kind_plural: &str, group: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind_plural, "uid": uid});
    if !group.is_empty() {
        details["group"] = group.into();
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: ApiError, code: u16, reason: &str, message: &str) {
        let s = e.to_status();
        assert_eq!(s["code"], code);
        assert_eq!(s["reason"], reason);
        assert_eq!(s["message"], message);
        assert_eq!(s["kind"], "Status");
    }

    #[test]
    fn messages_match_kube_apiserver() {
        check(
            ApiError::not_found("pods", "", "web"),
            404,
            "NotFound",
            "pods \"web\" not found",
        );
        check(
            ApiError::not_found("deployments", "apps", "web"),
            404,
            "NotFound",
            "deployments.apps \"web\" not found",
        );
        check(
            ApiError::already_exists("namespaces", "", "x"),
            409,
            "AlreadyExists",
            "namespaces \"x\" already exists",
        );
        check(
            ApiError::conflict_modified("configmaps", "", "c"),
            409,
            "Conflict",
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again",
        );
        check(
            ApiError::invalid("Pod", "", "p", vec![Cause::required("spec.containers")]),
            422,
            "Invalid",
            "Pod \"p\" is invalid: spec.containers: Required value",
        );
        check(
            ApiError::invalid(
                "Deployment",
                "apps",
                "d",
                vec![
                    Cause::required("a"),
                    Cause::invalid("b", &json!("X"), "bad"),
                ],
            ),
            422,
            "Invalid",
            "Deployment.apps \"d\" is invalid: [a: Required value, b: Invalid value: \"X\": bad]",
        );
        check(ApiError::Unauthorized, 401, "Unauthorized", "Unauthorized");
    }

    #[test]
    fn invalid_carries_causes() {
        let s = ApiError::invalid(
            "Pod",
            "",
            "p",
            vec![Cause::required("spec.containers[0].name")],
        )
        .to_status();
        assert_eq!(
            s["details"]["causes"][0]["field"],
            "spec.containers[0].name"
        );
        assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(s["details"]["kind"], "Pod");
    }
}
