//! `chaos`: the command line. `chaos --nodes 5 --nemesis partition,kill,pause,membership
//! --time 120 --seed S` runs one chaos run, prints the summary and exits non-zero on any
//! violation; `chaos check HISTORY` re-checks a recorded history.

use chaos::nemesis::Class;
use chaos::run::{run, RunConfig};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "chaos",
    about = "Jepsen-style fault runs of Berth's replicated store"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Replicas (3 or 5).
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Fault classes, comma-separated: partition, kill, pause, membership, compaction, disk
    /// (disk needs a control-plane built with the `failpoints` feature); `all` or `none`.
    #[arg(long, default_value = "partition,kill,pause,membership")]
    nemesis: String,
    /// Seconds of faults (a quiet phase follows).
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Seconds of the quiet phase after the faults heal.
    #[arg(long, default_value_t = 10)]
    quiet: u64,
    /// The seed of the fault schedule and the workload's choices (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory (default: results/chaos-seed-<seed>).
    #[arg(long)]
    results: Option<PathBuf>,
    /// The control-plane binary (default: next to this executable).
    #[arg(long)]
    control_plane: Option<PathBuf>,
    /// Register keys.
    #[arg(long, default_value_t = 6)]
    keys: usize,
    /// Election timeout of the replicas, ms.
    #[arg(long, default_value_t = 1000)]
    election_timeout: u64,
    /// Heartbeat interval of the replicas, ms.
    #[arg(long, default_value_t = 100)]
    heartbeat_interval: u64,
    /// Keep the replicas' data dirs.
    #[arg(long)]
    keep_data: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Re-checks a recorded history (history.jsonl) and prints the verdicts.
    Check {
        history: PathBuf,
        #[arg(long, default_value_t = 5)]
        nodes: usize,
    },
    /// Removes namespaces and bridges left by runs that were killed (names berthc*).
    Cleanup,
}

fn parse_classes(s: &str) -> anyhow::Result<Vec<Class>> {
    match s {
        "all" => return Ok(Class::ALL.to_vec()),
        "none" | "" => return Ok(Vec::new()),
        _ => {}
    }
    s.split(',')
        .map(|c| {
            Class::parse(c.trim()).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown nemesis {c:?} (partition, kill, pause, membership, compaction, disk)"
                )
            })
        })
        .collect()
}

fn default_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", exe.display()))?;
    Ok(dir.join("control-plane"))
}

fn cleanup() -> anyhow::Result<()> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.starts_with("berthc") {
            println!("removing namespace {name}");
            let _ = std::process::Command::new("ip")
                .args(["netns", "pids", name])
                .output()
                .map(|o| {
                    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        let _ = std::process::Command::new("kill")
                            .args(["-9", pid])
                            .status();
                    }
                });
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", name])
                .status();
        }
    }
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "type", "bridge"])
        .output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line
            .split(':')
            .nth(1)
            .map(str::trim)
            .filter(|n| n.starts_with("berthc"))
        {
            println!("removing bridge {name}");
            let _ = std::process::Command::new("ip")
                .args(["link", "del", name])
                .status();
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Cleanup) => return cleanup(),
        Some(Cmd::Check { history, nodes }) => {
            let records = chaos::history::read(&history)?;
            let cfg = chaos::check::CheckConfig {
                step_budget: 20_000_000,
                lease_grace_ns: 6_000_000_000,
                recovery_grace_ns: 5_000_000_000,
                n_nodes: nodes,
            };
            let v = chaos::check::check_all(&records, &cfg);
            for c in &v.verdicts {
                println!(
                    "{:<15} {}  {}",
                    c.name,
                    if c.ok { "PASS" } else { "FAIL" },
                    c.summary
                );
                for line in &c.violations {
                    println!("    - {line}");
                }
            }
            std::process::exit(if v.ok() { 0 } else { 1 });
        }
        None => {}
    }
    anyhow::ensure!(
        (1..=9).contains(&cli.nodes),
        "--nodes must be between 1 and 9"
    );
    // The history is kept in memory for the checkers (~0.5 KB per operation).
    anyhow::ensure!(
        cli.time <= 3_600 && cli.quiet <= 600,
        "--time is at most 3600 s and --quiet at most 600 s"
    );
    let classes = parse_classes(&cli.nemesis)?;
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let binary = match cli.control_plane {
        Some(b) => b,
        None => default_binary()?,
    };
    anyhow::ensure!(binary.is_file(), "{} is missing: build it (cargo build --release -p berth-control-plane) or pass --control-plane", binary.display());
    let results = cli
        .results
        .unwrap_or_else(|| PathBuf::from("results").join(format!("chaos-seed-{seed}")));
    let mut cfg = RunConfig::new(cli.nodes, classes, cli.time, seed, binary, results);
    cfg.quiet_s = cli.quiet;
    cfg.n_keys = cli.keys.max(1);
    cfg.election_ms = cli.election_timeout;
    cfg.heartbeat_ms = cli.heartbeat_interval;
    cfg.keep_data = cli.keep_data;
    let outcome = run(cfg)?;
    print!("{}", outcome.summary);
    std::process::exit(if outcome.ok() { 0 } else { 1 });
}
