fn main() {
    println!("cargo:rerun-if-changed=proto/peer.proto");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&["proto/peer.proto"], &["proto"])
        .expect("compile proto/peer.proto (is protoc installed? scripts/setup.sh installs it)");
}
