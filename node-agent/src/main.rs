//! `node-agent`: Berth's kubelet (pod lifecycle on containerd through CRI). Under construction.

fn main() {
    eprintln!("node-agent: not built yet");
    std::process::exit(2);
}
