//! Continue tokens of paginated lists, in kube-apiserver's shape: base64 of
//! `{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key after the last one returned>"}`
//! with the key relative to the list's prefix. A token is valid until its revision is
//! compacted (then 410 Expired).

use crate::status::ApiError;
use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

pub fn encode(rev: i64, start_key: &str, prefix: &str) -> String {
    let start = start_key
        .strip_prefix(prefix)
        .unwrap_or(start_key)
        .to_string();
    let t = Token {
        v: "meta.k8s.io/v1".into(),
        rv: rev,
        start,
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

/// (revision, absolute start key) of a token issued for a list under `prefix`.
pub fn decode(token: &str, prefix: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into())
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(token))
        .map_err(|_| bad())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok((t.rv, format!("{prefix}{}", t.start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = encode(42, "/registry/pods/default/b\0", "/registry/pods/default/");
        assert_eq!(
            decode(&t, "/registry/pods/default/").unwrap(),
            (42, "/registry/pods/default/b\0".to_string())
        );
        assert!(decode("!!!", "/p/").is_err());
        assert!(decode(
            &base64::engine::general_purpose::STANDARD.encode("{}"),
            "/p/"
        )
        .is_err());
    }
}
