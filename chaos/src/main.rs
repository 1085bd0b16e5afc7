//! `chaos`: Jepsen-style fault runs of the replicated store. Under construction.

fn main() {
    eprintln!("chaos: not built yet");
    std::process::exit(2);
}
