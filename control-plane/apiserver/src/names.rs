//! Name and key rules of the served kinds, on top of apimachinery's validators: which rule a
//! kind's names follow, and the few rules that are not about DNS names.

pub use berth_apimachinery::names::{
    is_dns1123_label as dns1123_label, is_dns1123_subdomain as dns1123_subdomain,
    is_qualified_name as qualified_name, is_valid_label_value as label_value,
    is_valid_port_name as port_name,
};

/// Names of kinds whose names are path segments only (RBAC objects, nodes).
pub fn path_segment(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|s| name.contains(**s))
        .map(|s| format!("may not contain '{s}'"))
        .collect()
}

/// ConfigMap and Secret keys: `[-._a-zA-Z0-9]+`, at most 253 characters.
pub fn is_config_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k != "."
        && k != ".."
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
