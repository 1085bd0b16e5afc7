//! Real request bodies captured from kubectl 1.32 (see `fixtures/capture.py`): each
//! `fixtures/NAME.pb` must decode to `fixtures/NAME.json`, which for `create` commands is
//! kubectl's own JSON of the same object (`--dry-run=client -o json`), and must survive an
//! encode/decode round trip.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Decodes `NAME.pb` and compares it with `NAME.json`; writes `NAME.actual.json` to look at
/// when they differ or the expectation is missing.
fn check(name: &str) -> Result<(), String> {
    let dir = fixtures_dir();
    let body =
        std::fs::read(dir.join(format!("{name}.pb"))).map_err(|e| format!("{name}.pb: {e}"))?;
    let decoded =
        berth_kube_proto::decode(&body).map_err(|e| format!("{name}: decode failed: {e}"))?;
    let actual_path = dir.join(format!("{name}.actual.json"));
    let expected: Option<Value> = std::fs::read_to_string(dir.join(format!("{name}.json")))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    if expected.as_ref() != Some(&decoded) {
        let pretty = serde_json::to_string_pretty(&decoded).unwrap_or_default();
        let _ = std::fs::write(&actual_path, pretty + "\n");
        return Err(format!(
            "{name}: decoded JSON differs from {name}.json (see {name}.actual.json)"
        ));
    }
    let _ = std::fs::remove_file(&actual_path);
    let encoded =
        berth_kube_proto::encode(&decoded).map_err(|e| format!("{name}: encode failed: {e}"))?;
    let again =
        berth_kube_proto::decode(&encoded).map_err(|e| format!("{name}: re-decode failed: {e}"))?;
    if again != decoded {
        return Err(format!(
            "{name}: encode then decode changed the object: {again}"
        ));
    }
    Ok(())
}

#[test]
fn kubectl_bodies_decode_to_kubectls_json() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_suffix(".pb")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 30,
        "expected the captured fixtures, found {names:?}"
    );
    let failures: Vec<String> = names.iter().filter_map(|name| check(name).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
