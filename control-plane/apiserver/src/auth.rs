//! Authentication: client certificates from the cluster CA (user = CN, groups = O),
//! bearer tokens from `--token-auth-file` (Kubernetes' CSV format), and ServiceAccount
//! tokens (ES256 JWTs signed with the cluster's service-account key). Every authenticated
//! user is also in `system:authenticated`.

use base64::Engine;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: Vec<(String, Vec<String>)>,
}

impl UserInfo {
    /// An in-process component's identity (`system:kube-scheduler`, ...), authenticated.
    pub fn component(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            extra: Vec::new(),
        }
        .authenticated()
    }

    fn authenticated(mut self) -> UserInfo {
        if !self.groups.iter().any(|g| g == "system:authenticated") {
            self.groups.push("system:authenticated".into());
        }
        self
    }
    pub fn to_json(&self) -> Value {
        let mut v = json!({"username": self.name, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = self.uid.clone().into();
        }
        if !self.extra.is_empty() {
            v["extra"] = self
                .extra
                .iter()
                .map(|(k, vs)| (k.clone(), json!(vs)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        v
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {why}")]
    TokenFile {
        path: String,
        line: usize,
        why: String,
    },
    #[error("bad service-account key {path}: {why}")]
    Key { path: String, why: String },
}

/// The user named by a verified client certificate (DER).
pub fn user_from_cert(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(
        UserInfo {
            name,
            uid: String::new(),
            groups,
            extra: vec![],
        }
        .authenticated(),
    )
}

/// Parses Kubernetes' static token file: `token,user,uid[,"group1,group2"]` per line.
pub fn parse_token_file(path: &str, text: &str) -> Result<HashMap<String, UserInfo>, AuthError> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_csv(line);
        if fields.len() < 3 {
            return Err(AuthError::TokenFile {
                path: path.into(),
                line: i + 1,
                why: "want token,user,uid[,groups]".into(),
            });
        }
        let groups = fields
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: fields[1].clone(),
            uid: fields[2].clone(),
            groups,
            extra: vec![],
        }
        .authenticated();
        if fields[0].is_empty() || user.name.is_empty() {
            return Err(AuthError::TokenFile {
                path: path.into(),
                line: i + 1,
                why: "empty token or user".into(),
            });
        }
        out.insert(fields[0].clone(), user);
    }
    Ok(out)
}

/// CSV fields with double-quoted fields that may contain commas.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Signs ServiceAccount tokens (ES256 with a P-256 key in PKCS#8 PEM).
pub struct TokenSigner {
    key: EcdsaKeyPair,
    kid: String,
    pub issuer: String,
}

/// Verifies ServiceAccount tokens against the public keys of `--service-account-key-file`.
pub struct TokenVerifier {
    keys: Vec<(String, Vec<u8>)>,
    pub issuer: String,
    pub audiences: Vec<String>,
}

/// The claims of a valid token.
#[derive(Debug, Clone)]
pub struct SaClaims {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub pod: Option<(String, String)>,
}

fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest;
    b64(&sha2::Sha256::digest(public_key))
}

impl TokenSigner {
    pub fn from_pem(path: &str, pem: &str, issuer: &str) -> Result<TokenSigner, AuthError> {
        let der = pem_body(pem, "PRIVATE KEY").ok_or_else(|| AuthError::Key {
            path: path.into(),
            why: "no PKCS#8 PRIVATE KEY block".into(),
        })?;
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &der,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| AuthError::Key {
            path: path.into(),
            why: format!("not a P-256 key: {e}"),
        })?;
        let kid = key_id(key.public_key().as_ref());
        Ok(TokenSigner {
            key,
            kid,
            issuer: issuer.into(),
        })
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// A bound token for the ServiceAccount, valid for `expiration_secs`.
    pub fn sign(
        &self,
        audiences: &[String],
        expiration_secs: i64,
        sa: &SaClaims,
    ) -> Result<(String, i64), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let exp = now + expiration_secs;
        let mut k8s =
            json!({"namespace": sa.namespace, "serviceaccount": {"name": sa.name, "uid": sa.uid}});
        if let Some((pod, uid)) = &sa.pod {
            k8s["pod"] = json!({"name": pod, "uid": uid});
        }
        let claims = json!({
            "aud": audiences, "exp": exp, "iat": now, "nbf": now, "iss": self.issuer,
            "jti": crate::meta::new_uid(),
            "kubernetes.io": k8s,
            "sub": format!("system:serviceaccount:{}:{}", sa.namespace, sa.name),
        });
        let header = json!({"alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .map_err(|e| format!("signing failed: {e}"))?;
        Ok((format!("{signing_input}.{}", b64(sig.as_ref())), exp))
    }
}

impl TokenVerifier {
    /// Reads public keys (SPKI `PUBLIC KEY` blocks) or private keys (their public halves).
    pub fn from_pem(
        path: &str,
        pem: &str,
        issuer: &str,
        audiences: Vec<String>,
    ) -> Result<TokenVerifier, AuthError> {
        let mut keys = Vec::new();
        if let Some(der) = pem_body(pem, "PRIVATE KEY") {
            let k = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &ring::rand::SystemRandom::new(),
            )
            .map_err(|e| AuthError::Key {
                path: path.into(),
                why: format!("not a P-256 key: {e}"),
            })?;
            let pk = k.public_key().as_ref().to_vec();
            keys.push((key_id(&pk), pk));
        }
        if let Some(der) = pem_body(pem, "PUBLIC KEY") {
            let (_, spki) =
                <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<
                    x509_parser::error::X509Error,
                >>::from_der(&der)
                .map_err(|e| AuthError::Key {
                    path: path.into(),
                    why: format!("bad public key: {e}"),
                })?;
            let pk = spki.subject_public_key.data.to_vec();
            keys.push((key_id(&pk), pk));
        }
        if keys.is_empty() {
            return Err(AuthError::Key {
                path: path.into(),
                why: "no PUBLIC KEY or PRIVATE KEY block".into(),
            });
        }
        Ok(TokenVerifier {
            keys,
            issuer: issuer.into(),
            audiences,
        })
    }

    pub fn from_signer(signer: &TokenSigner, audiences: Vec<String>) -> TokenVerifier {
        let pk = signer.public_key();
        TokenVerifier {
            keys: vec![(key_id(&pk), pk)],
            issuer: signer.issuer.clone(),
            audiences,
        }
    }

    /// Checks signature, issuer, audience and expiry. The caller checks that the
    /// ServiceAccount (and bound pod) still exist with the same uid.
    pub fn verify(&self, token: &str) -> Option<SaClaims> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&unb64(h)?).ok()?;
        if header["alg"] != "ES256" {
            return None;
        }
        let sig = unb64(s)?;
        let signed = format!("{h}.{c}");
        let ok = self.keys.iter().any(|(_, pk)| {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pk)
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        });
        if !ok {
            return None;
        }
        let claims: Value = serde_json::from_slice(&unb64(c)?).ok()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        if claims["iss"] != self.issuer.as_str()
            || claims["exp"].as_i64().is_none_or(|e| e < now)
            || claims["nbf"].as_i64().is_some_and(|n| n > now + 60)
        {
            return None;
        }
        let auds: Vec<&str> = match &claims["aud"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !auds.iter().any(|a| self.audiences.iter().any(|x| x == a)) {
            return None;
        }
        let k = &claims["kubernetes.io"];
        let pod = k["pod"]["name"].as_str().map(|n| {
            (
                n.to_string(),
                k["pod"]["uid"].as_str().unwrap_or("").to_string(),
            )
        });
        Some(SaClaims {
            namespace: k["namespace"].as_str()?.into(),
            name: k["serviceaccount"]["name"].as_str()?.into(),
            uid: k["serviceaccount"]["uid"].as_str().unwrap_or("").into(),
            pod,
        })
    }
}

/// The user a ServiceAccount token authenticates as.
pub fn service_account_user(c: &SaClaims) -> UserInfo {
    let mut extra = Vec::new();
    if let Some((pod, uid)) = &c.pod {
        extra.push((
            "authentication.kubernetes.io/pod-name".to_string(),
            vec![pod.clone()],
        ));
        extra.push((
            "authentication.kubernetes.io/pod-uid".to_string(),
            vec![uid.clone()],
        ));
    }
    UserInfo {
        name: format!("system:serviceaccount:{}:{}", c.namespace, c.name),
        uid: c.uid.clone(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{}", c.namespace),
        ],
        extra,
    }
    .authenticated()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_lines() {
        let m = parse_token_file("t", "# comment\nabc,alice,1\ndef,bob,2,\"dev,ops\"\n").unwrap();
        assert_eq!(m["abc"].name, "alice");
        assert_eq!(m["def"].groups, vec!["dev", "ops", "system:authenticated"]);
        assert!(parse_token_file("t", "onlytoken\n").is_err());
    }

    #[test]
    fn tokens_verify_and_tampering_fails() {
        let key = rcgen_key();
        let signer = TokenSigner::from_pem("k", &key, "https://kubernetes.default.svc").unwrap();
        let verifier =
            TokenVerifier::from_signer(&signer, vec!["https://kubernetes.default.svc".into()]);
        let sa = SaClaims {
            namespace: "default".into(),
            name: "builder".into(),
            uid: "u1".into(),
            pod: None,
        };
        let (tok, _) = signer
            .sign(&["https://kubernetes.default.svc".into()], 600, &sa)
            .unwrap();
        let c = verifier.verify(&tok).unwrap();
        assert_eq!(
            (c.namespace.as_str(), c.name.as_str()),
            ("default", "builder")
        );
        assert_eq!(
            service_account_user(&c).name,
            "system:serviceaccount:default:builder"
        );
        // Wrong audience, expired, tampered: all refused.
        let (other, _) = signer.sign(&["someone-else".into()], 600, &sa).unwrap();
        assert!(verifier.verify(&other).is_none());
        let (old, _) = signer
            .sign(&["https://kubernetes.default.svc".into()], -10, &sa)
            .unwrap();
        assert!(verifier.verify(&old).is_none());
        let mut parts: Vec<&str> = tok.split('.').collect();
        let forged = b64(json!({"iss": "https://kubernetes.default.svc", "aud": ["https://kubernetes.default.svc"], "exp": i64::MAX, "kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "admin"}}}).to_string().as_bytes());
        parts[1] = &forged;
        assert!(verifier.verify(&parts.join(".")).is_none());
        assert!(verifier.verify("not.a.token").is_none());
    }

    fn rcgen_key() -> String {
        // A P-256 PKCS#8 key made with ring, written as PEM.
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let b = base64::engine::general_purpose::STANDARD.encode(doc.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{b}\n-----END PRIVATE KEY-----\n")
    }
}
