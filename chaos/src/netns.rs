//! The run's private network: one network namespace per replica, each with a veth pair into
//! one bridge (which has an address too, so the harness reaches the replicas), a /24 unique
//! to the run; partitions are nftables rules inside the namespaces. Everything is removed at
//! the end, also after a panic or Ctrl-C (see [`teardown_all`]).

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("failed to run {cmd}: {detail}")]
    Command { cmd: String, detail: String },
    #[error("no free subnet and bridge name for a run")]
    NoFreeSubnet,
}

/// The nftables table the harness owns inside each namespace.
pub const NFT_TABLE: &str = "berth_chaos";

/// The first two octets of every run's /24 (10.213.X.0/24).
const SUBNET_PREFIX: [u8; 2] = [10, 213];

/// What to tear down: namespaces, the bridge and replica processes, per live network.
#[derive(Default, Clone, Debug)]
struct Teardown {
    bridge: String,
    namespaces: Vec<String>,
    pids: Vec<i32>,
}

static LIVE: Mutex<Vec<Teardown>> = Mutex::new(Vec::new());

/// Kills every registered replica process and removes every live network. Safe to call
/// more than once and from a panic hook or signal handler thread.
pub fn teardown_all() {
    let all: Vec<Teardown> = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
    for t in all {
        teardown(&t);
    }
}

fn teardown(t: &Teardown) {
    for &pid in &t.pids {
        // SAFETY: signals to processes this harness started (SIGCONT first: a stopped
        // process must run to die).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGCONT);
        }
    }
    for ns in &t.namespaces {
        let _ = quiet(&["ip", "netns", "del", ns]);
    }
    if !t.bridge.is_empty() {
        let _ = quiet(&["ip", "link", "del", &t.bridge]);
    }
}

/// Registers a replica process so that [`teardown_all`] kills it.
pub fn register_pid(bridge: &str, pid: i32) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = live.iter_mut().find(|t| t.bridge == bridge) {
        t.pids.push(pid);
    }
}

pub fn unregister_pid(bridge: &str, pid: i32) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = live.iter_mut().find(|t| t.bridge == bridge) {
        t.pids.retain(|&p| p != pid);
    }
}

/// Installs a panic hook and a SIGINT/SIGTERM handler that tear everything down (once per
/// process; the signal handler needs a tokio runtime).
pub fn install_cleanup_handlers(rt: &tokio::runtime::Runtime) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            teardown_all();
        }));
    });
    rt.spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("chaos: interrupted; removing replicas, namespaces and the bridge");
        teardown_all();
        std::process::exit(130);
    });
}

fn run(args: &[&str], stdin: Option<&str>) -> Result<String, NetError> {
    let cmd = args.join(" ");
    let mut c = Command::new(args[0]);
    c.args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = c.spawn().map_err(|e| NetError::Command {
        cmd: cmd.clone(),
        detail: e.to_string(),
    })?;
    if let Some(input) = stdin {
        use std::io::Write;
        if let Some(mut s) = child.stdin.take() {
            s.write_all(input.as_bytes())
                .map_err(|e| NetError::Command {
                    cmd: cmd.clone(),
                    detail: e.to_string(),
                })?;
        }
    }
    let out = child.wait_with_output().map_err(|e| NetError::Command {
        cmd: cmd.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(NetError::Command {
            cmd,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn quiet(args: &[&str]) -> Result<String, NetError> {
    run(args, None)
}

/// Per replica, the replicas whose traffic it drops: the plan for a partition into `groups`
/// (replicas in no group are cut off from everyone). Pure.
pub fn blocked_by_groups(n_nodes: usize, groups: &[Vec<usize>]) -> Vec<Vec<usize>> {
    (0..n_nodes)
        .map(|i| {
            (0..n_nodes)
                .filter(|&j| j != i && !groups.iter().any(|g| g.contains(&i) && g.contains(&j)))
                .collect()
        })
        .collect()
}

/// The nftables script that makes a namespace drop traffic to and from `blocked` (and
/// nothing else); an empty list heals. Pure.
pub fn nft_script(blocked: &[Ipv4Addr]) -> String {
    let mut s = format!(
        "table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\ntable inet {NFT_TABLE} {{\n"
    );
    s.push_str("  chain input {\n    type filter hook input priority 0; policy accept;\n");
    if !blocked.is_empty() {
        let set = blocked
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        s.push_str(&format!("    ip saddr {{ {set} }} drop\n"));
        s.push_str(
            "  }\n  chain output {\n    type filter hook output priority 0; policy accept;\n",
        );
        s.push_str(&format!("    ip daddr {{ {set} }} drop\n"));
    } else {
        s.push_str(
            "  }\n  chain output {\n    type filter hook output priority 0; policy accept;\n",
        );
    }
    s.push_str("  }\n}\n");
    s
}

/// The run's network. Dropping it removes everything it created.
pub struct Network {
    id: u8,
    bridge: String,
    namespaces: Vec<String>,
}

impl Network {
    /// Creates the bridge and `n_nodes` namespaces with their veth pairs and addresses.
    pub fn create(n_nodes: usize) -> Result<Network, NetError> {
        assert!(n_nodes <= 200, "too many replicas for a /24");
        // A run id from the pid, moving on while the bridge name or subnet is taken.
        let first = (std::process::id() % 250) as u8;
        for k in 0..250u16 {
            let id = ((first as u16 + k) % 250 + 1) as u8;
            let bridge = format!("berthc{id}");
            let subnet = format!("{}.{}.{id}.0/24", SUBNET_PREFIX[0], SUBNET_PREFIX[1]);
            if !quiet(&[
                "ip",
                "-4",
                "route",
                "show",
                "to",
                "match",
                &subnet.replace(".0/24", ".1"),
            ])?
            .lines()
            .all(|l| l.starts_with("default"))
            {
                continue;
            }
            // Creating the bridge is the claim: it fails if another run holds the name.
            if quiet(&["ip", "link", "add", &bridge, "type", "bridge"]).is_err() {
                continue;
            }
            let mut net = Network {
                id,
                bridge: bridge.clone(),
                namespaces: Vec::new(),
            };
            LIVE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Teardown {
                    bridge: bridge.clone(),
                    namespaces: Vec::new(),
                    pids: Vec::new(),
                });
            net.setup(n_nodes)?;
            return Ok(net);
        }
        Err(NetError::NoFreeSubnet)
    }

    fn setup(&mut self, n_nodes: usize) -> Result<(), NetError> {
        let br = self.bridge.clone();
        quiet(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", self.bridge_addr()),
            "dev",
            &br,
        ])?;
        quiet(&["ip", "link", "set", &br, "up"])?;
        for i in 0..n_nodes {
            let ns = self.ns(i);
            quiet(&["ip", "netns", "add", &ns])?;
            self.namespaces.push(ns.clone());
            if let Some(t) = LIVE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter_mut()
                .find(|t| t.bridge == br)
            {
                t.namespaces.push(ns.clone());
            }
            let host = format!("bc{}n{i}h", self.id);
            let peer = format!("bc{}n{i}p", self.id);
            quiet(&[
                "ip", "link", "add", &host, "type", "veth", "peer", "name", &peer,
            ])?;
            quiet(&["ip", "link", "set", &peer, "netns", &ns])?;
            quiet(&["ip", "link", "set", &host, "master", &br, "up"])?;
            quiet(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            quiet(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                &peer,
            ])?;
            quiet(&["ip", "-n", &ns, "link", "set", &peer, "up"])?;
            self.set_blocked(i, &[])?;
        }
        Ok(())
    }

    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The namespace of replica `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("berthc{}-n{i}", self.id)
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET_PREFIX[0], SUBNET_PREFIX[1], self.id, 10 + i as u8)
    }

    /// The bridge's own address: the harness (clients, nemesis) talks from it.
    pub fn bridge_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET_PREFIX[0], SUBNET_PREFIX[1], self.id, 1)
    }

    /// Makes replica `i` drop traffic to and from the replicas `blocked`.
    pub fn set_blocked(&self, i: usize, blocked: &[usize]) -> Result<(), NetError> {
        let addrs: Vec<Ipv4Addr> = blocked.iter().map(|&j| self.addr(j)).collect();
        run(
            &["ip", "netns", "exec", &self.ns(i), "nft", "-f", "-"],
            Some(&nft_script(&addrs)),
        )
        .map(|_| ())
    }

    /// Applies a partition plan (see [`blocked_by_groups`]).
    pub fn partition(&self, plan: &[Vec<usize>]) -> Result<(), NetError> {
        for (i, blocked) in plan.iter().enumerate() {
            self.set_blocked(i, blocked)?;
        }
        Ok(())
    }

    /// Removes every partition rule.
    pub fn heal(&self) -> Result<(), NetError> {
        for i in 0..self.namespaces.len() {
            self.set_blocked(i, &[])?;
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pos) = live.iter().position(|t| t.bridge == self.bridge) {
            let t = live.remove(pos);
            drop(live);
            teardown(&t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_plans() {
        // Majority {0,1,2} and minority {3,4}.
        let plan = blocked_by_groups(5, &[vec![0, 1, 2], vec![3, 4]]);
        assert_eq!(plan[0], vec![3, 4]);
        assert_eq!(plan[4], vec![0, 1, 2]);
        // A bridge: 2 sees everyone, {0,1} and {3,4} do not see each other.
        let plan = blocked_by_groups(5, &[vec![0, 1, 2], vec![2, 3, 4]]);
        assert_eq!(plan[2], Vec::<usize>::new());
        assert_eq!(plan[0], vec![3, 4]);
        // Isolating 1: in no group.
        let plan = blocked_by_groups(3, &[vec![0, 2]]);
        assert_eq!(plan[1], vec![0, 2]);
        assert_eq!(plan[0], vec![1]);
    }

    #[test]
    fn nft_scripts_replace_the_table() {
        let s = nft_script(&[Ipv4Addr::new(10, 213, 1, 11)]);
        assert!(s.starts_with("table inet berth_chaos\ndelete table inet berth_chaos\n"));
        assert!(s.contains("ip saddr { 10.213.1.11 } drop"));
        assert!(s.contains("ip daddr { 10.213.1.11 } drop"));
        assert!(!nft_script(&[]).contains("drop"));
    }
}
