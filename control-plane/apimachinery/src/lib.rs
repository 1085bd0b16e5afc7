//! Kubernetes API machinery semantics for Berth's API server: label and field selectors,
//! the three PATCH formats (JSON patch, JSON merge patch, strategic merge patch) and the
//! name/label validation rules, with the error messages Kubernetes gives.
//!
//! A pure library: no IO, no typed API objects. Objects are `serde_json::Value`s as they
//! arrive on the wire; the API server converts at its edge and calls in here.
//!
//! Reference behaviour is Kubernetes 1.36 (k8s.io/apimachinery v0.36, k8s.io/api v0.36,
//! kube-apiserver's patch handler with its JSON-patch library at v4.13). Where Berth
//! differs, the item's documentation says so.

pub mod fields;
mod gofmt;
pub mod labels;
pub mod names;
pub mod patch;
