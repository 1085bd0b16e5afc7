//! Checks of the generated documents: they build, references resolve, and they carry what
//! kubectl reads.

use serde_json::Value;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("documents are JSON")
}

#[test]
fn documents_build() {
    assert!(berth_openapi::build_error().is_none(), "{:?}", berth_openapi::build_error());
    if let Ok(dir) = std::env::var("BERTH_OPENAPI_DUMP") {
        std::fs::write(format!("{dir}/v2.json"), berth_openapi::v2()).unwrap();
        std::fs::write(format!("{dir}/v2.pb"), berth_openapi::v2_protobuf()).unwrap();
        std::fs::write(format!("{dir}/v3.json"), berth_openapi::v3_index()).unwrap();
        std::fs::write(format!("{dir}/apps.json"), berth_openapi::v3_group_version("apis/apps/v1").unwrap()).unwrap();
        std::fs::write(format!("{dir}/core.json"), berth_openapi::v3_group_version("api/v1").unwrap()).unwrap();
    }
    let _ = json(berth_openapi::v2());
}
