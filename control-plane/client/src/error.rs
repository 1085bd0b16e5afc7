//! The client's errors: an API `Status` the server answered with (expected outcomes such as
//! NotFound, Conflict, Gone), or a transport or decoding failure.

use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a failure `Status`.
    #[error("{code} {reason}: {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
        /// The first of `details.causes[].reason`, when given.
        cause: String,
    },
    /// The request did not reach the server or the answer did not arrive whole.
    #[error("transport: {0}")]
    Transport(String),
    /// The answer arrived but does not decode.
    #[error("failed to decode the response: {0}")]
    Decode(String),
}

impl ClientError {
    /// Builds the error for a non-2xx answer from its body (a `Status` object when the
    /// server is an API server).
    pub fn from_status(code: u16, body: &[u8]) -> ClientError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        ClientError::Api {
            code,
            reason: v["reason"].as_str().unwrap_or("").to_string(),
            message: v["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect()),
            cause: v["details"]["causes"][0]["reason"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        }
    }

    pub fn code(&self) -> Option<u16> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(409)
    }
    pub fn is_already_exists(&self) -> bool {
        matches!(self, ClientError::Api { code: 409, reason, .. } if reason == "AlreadyExists")
    }
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }
    /// The API server refused a write because the writer's Lease is no longer held by it.
    pub fn is_fenced(&self) -> bool {
        matches!(self, ClientError::Api { code: 409, cause, .. } if cause == crate::leader::FENCED_CAUSE)
    }
}
