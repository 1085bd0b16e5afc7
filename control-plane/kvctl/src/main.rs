//! `kvctl`: direct inspection of Berth's replicated store, online through the etcd v3 API
//! and offline from a stopped replica's data dir (read-only). Wires the command line to the
//! command modules and turns every error into one line on stderr and exit code 1.

mod cli;
mod offline;
mod online;
mod raft;
mod render;
mod snapshot;
mod txn;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, OfflineCommand, RaftCommand, SnapshotCommand};
use render::emit;

fn main() {
    // One crypto provider for every TLS user in the process (tonic, rustls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        // `{:#}` joins the context chain on one line.
        eprintln!("Error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    match cli.command {
        Command::Offline { data_dir, command } => {
            let engine = offline::open(&data_dir)?;
            match command {
                OfflineCommand::Keys { prefix, rev, limit } => emit(
                    &offline::keys(&engine, prefix.as_deref(), rev, limit)?,
                    g.output,
                ),
                OfflineCommand::History { key } => {
                    emit(&offline::history(&engine, &key)?, g.output)
                }
                OfflineCommand::Leases => emit(&offline::leases(&engine)?, g.output),
                OfflineCommand::Applied => emit(&offline::applied(&engine)?, g.output),
                OfflineCommand::Hashkv { rev } => emit(&offline::hash_kv(&engine, rev)?, g.output),
                OfflineCommand::Raft { command } => match command.unwrap_or(RaftCommand::State) {
                    RaftCommand::Entries { from, to, limit } => {
                        emit(&raft::entries(&engine, from, to, limit)?, g.output)
                    }
                    RaftCommand::Vote => emit(&raft::vote(&engine)?, g.output),
                    RaftCommand::Membership => emit(&raft::membership(&engine)?, g.output),
                    RaftCommand::State => emit(&raft::state(&engine)?, g.output),
                },
            }
            Ok(())
        }
        Command::Snapshot(SnapshotCommand::Restore { file, data_dir }) => {
            emit(&snapshot::restore(&file, &data_dir)?, g.output);
            Ok(())
        }
        online_cmd => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("failed to start the async runtime")?;
            rt.block_on(run_online(&g, online_cmd))
                .map_err(|e| client_cert_hint(&g, e))
        }
    }
}

/// A TLS server that requires client certificates drops connections without one, which
/// clients only see as a cancelled or unavailable request: say what is probably missing.
fn client_cert_hint(g: &cli::Global, e: anyhow::Error) -> anyhow::Error {
    let msg = format!("{e:#}");
    let dropped = ["Cancelled", "Unavailable", "transport error"]
        .iter()
        .any(|m| msg.contains(m));
    if g.cacert.is_some() && g.cert.is_none() && dropped {
        anyhow::anyhow!("{msg} (if the server requires client certificates, pass --cert and --key)")
    } else {
        e
    }
}

async fn run_online(g: &cli::Global, command: Command) -> Result<()> {
    // Commands that go to each endpoint on its own connection.
    match command {
        Command::Status => return online::status(g).await,
        Command::Defrag => return online::defrag(g).await,
        _ => {}
    }
    // The txn spec is read before connecting, so bad input fails fast.
    let txn_spec = if matches!(command, Command::Txn) {
        Some(online::read_txn_spec()?)
    } else {
        None
    };
    if let Command::Snapshot(SnapshotCommand::Save { .. }) = &command {
        anyhow::ensure!(
            g.endpoints.len() == 1,
            "snapshot save needs exactly one endpoint, got {}",
            g.endpoints.len()
        );
    }
    let mut c = online::connect(g, &g.endpoints).await?;
    match command {
        Command::Get(a) => emit(&online::get(&mut c, g, &a).await?, g.output),
        Command::Put { key, value, lease } => emit(
            &online::put(&mut c, g, &key, &value, lease).await?,
            g.output,
        ),
        Command::Del { key, prefix } => {
            emit(&online::del(&mut c, g, &key, prefix).await?, g.output)
        }
        Command::Watch { key, prefix, rev } => online::watch(&mut c, g, &key, prefix, rev).await?,
        Command::Txn => emit(
            &online::txn(&mut c, g, txn_spec.as_ref().expect("read above")).await?,
            g.output,
        ),
        Command::Lease(cmd) => online::lease(&mut c, g, &cmd).await?,
        Command::Member(cmd) => online::member(&mut c, g, &cmd).await?,
        Command::Compact { rev } => emit(&online::compact(&mut c, g, rev).await?, g.output),
        Command::Snapshot(SnapshotCommand::Save { file }) => {
            emit(&snapshot::save(&mut c, &file, g.timeout).await?, g.output)
        }
        Command::Status
        | Command::Defrag
        | Command::Offline { .. }
        | Command::Snapshot(SnapshotCommand::Restore { .. }) => unreachable!("handled above"),
    }
    Ok(())
}
