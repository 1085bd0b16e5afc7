//! Loopback port blocks for one test's processes, distinct across tests running in
//! parallel (nextest runs each test in its own process).
//!
//! Ports come from 20000..32000, below Linux's ephemeral range (32768..60999), so that an
//! outgoing connection cannot take a port between our check and the replica's bind. A block
//! is reserved by an exclusive `flock` on a file in a shared directory, held for the block's
//! lifetime (the kernel drops it if the test process dies), and every port is checked to be
//! free with a test bind.

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

const FIRST_PORT: u16 = 20_000;
const LAST_PORT: u16 = 32_000;
/// Ports per block: enough for six replicas (client, peer, metrics, Kubernetes API each).
pub const BLOCK_PORTS: u16 = 24;

pub struct PortBlock {
    base: u16,
    _lock: File,
}

impl PortBlock {
    /// Reserves a block whose ports are all free now.
    pub fn reserve() -> PortBlock {
        let dir = std::env::temp_dir().join("berth-system-tests-ports");
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("failed to create {}: {e}", dir.display()));
        let n_blocks = (LAST_PORT - FIRST_PORT) / BLOCK_PORTS;
        // Start somewhere different in each process so parallel tests rarely contend.
        let seed = std::process::id() as u64
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0);
        let first = (seed % n_blocks as u64) as u16;
        for i in 0..n_blocks {
            let block_idx = (first + i) % n_blocks;
            let base = FIRST_PORT + block_idx * BLOCK_PORTS;
            let path = dir.join(format!("{base}.lock"));
            let Ok(file) = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
            else {
                continue;
            };
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                continue;
            }
            if (base..base + BLOCK_PORTS).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
                return PortBlock { base, _lock: file };
            }
        }
        panic!("no free block of {BLOCK_PORTS} loopback ports in {FIRST_PORT}..{LAST_PORT}");
    }

    /// The `idx`-th port of the block.
    pub fn port(&self, idx: u16) -> u16 {
        assert!(
            idx < BLOCK_PORTS,
            "port index {idx} is outside the block of {BLOCK_PORTS}"
        );
        self.base + idx
    }
}
