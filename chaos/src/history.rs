//! The recorded history of a run: every operation's invocation and completion, every watch
//! response, faults and leaders, as one `Record` per JSON line. Checkers read only this.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A logical client process (Jepsen's sense): one operation at a time; after an operation
/// with an unknown outcome the worker continues as a new process.
pub type ProcessId = u64;
/// Links an invocation to its completion.
pub type OpId = u64;
/// A watcher's index (one per replica).
pub type WatcherId = u32;

/// An operation as invoked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// A linearizable read of one key.
    Get {
        key: String,
    },
    /// An unconditional write of a unique value.
    Put {
        key: String,
        value: String,
    },
    /// A txn: if value(key) == expected then put(key, value).
    Cas {
        key: String,
        expected: String,
        value: String,
    },
    LeaseGrant {
        ttl_s: i64,
    },
    /// A put of `key` attached to `lease`.
    LeasePut {
        key: String,
        lease: i64,
        value: String,
    },
    /// One keep-alive request and its answer.
    LeaseKeepAlive {
        lease: i64,
    },
    /// A linearizable read of a lease's key.
    LeaseGet {
        key: String,
        lease: i64,
    },
    /// The worker stops keeping `lease` alive (completes at once).
    LeaseAbandon {
        lease: i64,
    },
}

impl Op {
    pub fn key(&self) -> Option<&str> {
        match self {
            Op::Get { key }
            | Op::Put { key, .. }
            | Op::Cas { key, .. }
            | Op::LeasePut { key, .. }
            | Op::LeaseGet { key, .. } => Some(key),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Get { .. } => "get",
            Op::Put { .. } => "put",
            Op::Cas { .. } => "cas",
            Op::LeaseGrant { .. } => "lease-grant",
            Op::LeasePut { .. } => "lease-put",
            Op::LeaseKeepAlive { .. } => "keep-alive",
            Op::LeaseGet { .. } => "lease-get",
            Op::LeaseAbandon { .. } => "lease-abandon",
        }
    }
}

/// What an operation returned when it succeeded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum OpResult {
    Get {
        value: Option<String>,
        revision: i64,
    },
    Put {
        revision: i64,
    },
    Cas {
        succeeded: bool,
        revision: i64,
    },
    LeaseGrant {
        lease: i64,
        ttl_s: i64,
    },
    /// `ttl_s` <= 0: the lease is not found (expired or revoked).
    LeaseKeepAlive {
        ttl_s: i64,
    },
    LeaseGet {
        found: bool,
        revision: i64,
    },
    Done,
}

/// Jepsen's three outcomes: the operation took effect (`Ok`), certainly did not (`Fail`),
/// or may have, at any time after its invocation (`Unknown`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Fail,
    Unknown,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Put,
    Delete,
}

/// A key's version as a watch event carries it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KvVersion {
    pub value: String,
    pub mod_revision: i64,
    pub create_revision: i64,
    pub version: i64,
    pub lease: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    pub key: String,
    /// The event's revision (the kv's mod revision).
    pub revision: i64,
    /// The new version (puts only).
    pub kv: Option<KvVersion>,
    pub prev: Option<KvVersion>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Invoke {
        t_ns: u64,
        process: ProcessId,
        id: OpId,
        node: usize,
        op: Op,
    },
    Complete {
        t_ns: u64,
        process: ProcessId,
        id: OpId,
        outcome: Outcome,
        result: Option<OpResult>,
        error: Option<String>,
    },
    /// A watch (re)started from `start_revision` on replica `node`.
    WatchStart {
        t_ns: u64,
        watcher: WatcherId,
        node: usize,
        start_revision: i64,
    },
    /// One watch response carrying events (in order).
    WatchEvents {
        t_ns: u64,
        watcher: WatcherId,
        events: Vec<WatchEvent>,
    },
    /// A progress notification (bookmark): every event up to `revision` was delivered.
    WatchProgress {
        t_ns: u64,
        watcher: WatcherId,
        revision: i64,
    },
    /// The watch ended: an error, a timeout, or a cancel (`compact_revision` > 0: compacted).
    WatchEnd {
        t_ns: u64,
        watcher: WatcherId,
        reason: String,
        compact_revision: i64,
    },
    /// A fault started (`start`) or every active fault healed.
    Fault {
        t_ns: u64,
        start: bool,
        class: String,
        description: String,
    },
    /// The replica the others agree on as leader (None: no agreement).
    Leader { t_ns: u64, node: Option<usize> },
    /// The final quiet phase began (faults healed).
    QuietStart { t_ns: u64 },
    /// The workload stopped; what follows are final reads and checks.
    WorkloadEnd { t_ns: u64 },
    /// HashKV of one replica at `revision`.
    HashKv {
        t_ns: u64,
        node: usize,
        revision: i64,
        compact_revision: i64,
        hash: u32,
    },
}

impl Record {
    pub fn t_ns(&self) -> u64 {
        match self {
            Record::Invoke { t_ns, .. }
            | Record::Complete { t_ns, .. }
            | Record::WatchStart { t_ns, .. }
            | Record::WatchEvents { t_ns, .. }
            | Record::WatchProgress { t_ns, .. }
            | Record::WatchEnd { t_ns, .. }
            | Record::Fault { t_ns, .. }
            | Record::Leader { t_ns, .. }
            | Record::QuietStart { t_ns }
            | Record::WorkloadEnd { t_ns }
            | Record::HashKv { t_ns, .. } => *t_ns,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("failed to write the history {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to read the history {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("bad history line {line} in {path}: {source}")]
    Parse {
        path: String,
        line: usize,
        source: serde_json::Error,
    },
}

/// An operation with its completion joined, as checkers use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub id: OpId,
    pub process: ProcessId,
    pub node: usize,
    pub op: Op,
    pub invoke_ns: u64,
    /// None when the history ends before the completion: treated as unknown.
    pub complete_ns: Option<u64>,
    pub outcome: Outcome,
    pub result: Option<OpResult>,
    pub error: Option<String>,
}

impl Operation {
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// Joins invocations and completions, in invocation order.
pub fn operations(records: &[Record]) -> Vec<Operation> {
    let mut out: Vec<Operation> = Vec::new();
    let mut at: std::collections::HashMap<OpId, usize> = std::collections::HashMap::new();
    for r in records {
        match r {
            Record::Invoke {
                t_ns,
                process,
                id,
                node,
                op,
            } => {
                at.insert(*id, out.len());
                out.push(Operation {
                    id: *id,
                    process: *process,
                    node: *node,
                    op: op.clone(),
                    invoke_ns: *t_ns,
                    complete_ns: None,
                    outcome: Outcome::Unknown,
                    result: None,
                    error: None,
                });
            }
            Record::Complete {
                t_ns,
                id,
                outcome,
                result,
                error,
                ..
            } => {
                if let Some(&i) = at.get(id) {
                    let o = &mut out[i];
                    o.complete_ns = Some(*t_ns);
                    o.outcome = *outcome;
                    o.result = result.clone();
                    o.error = error.clone();
                    // An Ok without a result is malformed: count it as unknown.
                    if o.outcome == Outcome::Ok && o.result.is_none() {
                        o.outcome = Outcome::Unknown;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Records a run: appends each record to memory and to a JSON-lines file as it happens.
pub struct Recorder {
    start: Instant,
    next_id: AtomicU64,
    next_process: AtomicU64,
    inner: Mutex<RecorderInner>,
}

struct RecorderInner {
    records: Vec<Record>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    write_error: Option<std::io::Error>,
}

impl Recorder {
    /// A recorder writing to `path` (None: memory only).
    pub fn new(path: Option<&Path>) -> Result<Recorder, HistoryError> {
        let file = match path {
            Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(
                |source| HistoryError::Write {
                    path: p.display().to_string(),
                    source,
                },
            )?)),
            None => None,
        };
        Ok(Recorder {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            next_process: AtomicU64::new(0),
            inner: Mutex::new(RecorderInner {
                records: Vec::new(),
                file,
                write_error: None,
            }),
        })
    }

    /// Nanoseconds since the recorder started (the history's clock).
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn new_process(&self) -> ProcessId {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    pub fn push(&self, r: Record) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = inner.file.as_mut() {
            let res = serde_json::to_writer(&mut *f, &r)
                .map_err(std::io::Error::other)
                .and_then(|_| f.write_all(b"\n"));
            if let Err(e) = res {
                inner.write_error.get_or_insert(e);
            }
        }
        inner.records.push(r);
    }

    /// Records an invocation; returns its id for [`Recorder::complete`].
    pub fn invoke(&self, process: ProcessId, node: usize, op: Op) -> OpId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.push(Record::Invoke {
            t_ns: self.now_ns(),
            process,
            id,
            node,
            op,
        });
        id
    }

    pub fn complete(
        &self,
        process: ProcessId,
        id: OpId,
        outcome: Outcome,
        result: Option<OpResult>,
        error: Option<String>,
    ) {
        self.push(Record::Complete {
            t_ns: self.now_ns(),
            process,
            id,
            outcome,
            result,
            error,
        });
    }

    /// A copy of everything recorded so far.
    pub fn records(&self) -> Vec<Record> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .records
            .clone()
    }

    /// Flushes the file; reports the first write error, if any.
    pub fn flush(&self) -> Result<(), std::io::Error> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = inner.write_error.take() {
            return Err(e);
        }
        match inner.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Reads a JSON-lines history.
pub fn read(path: &Path) -> Result<Vec<Record>, HistoryError> {
    let f = std::fs::File::open(path).map_err(|source| HistoryError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|source| HistoryError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|source| HistoryError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let rec = Recorder::new(Some(&path)).unwrap();
        let p = rec.new_process();
        let id = rec.invoke(
            p,
            0,
            Op::Put {
                key: "k".into(),
                value: "v".into(),
            },
        );
        rec.complete(
            p,
            id,
            Outcome::Ok,
            Some(OpResult::Put { revision: 2 }),
            None,
        );
        rec.push(Record::WatchEvents {
            t_ns: 5,
            watcher: 0,
            events: vec![WatchEvent {
                kind: EventKind::Delete,
                key: "k".into(),
                revision: 3,
                kv: None,
                prev: None,
            }],
        });
        rec.flush().unwrap();
        assert_eq!(read(&path).unwrap(), rec.records());
        let ops = operations(&rec.records());
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].outcome, Outcome::Ok);
    }

    #[test]
    fn an_invocation_without_completion_is_unknown() {
        let rec = Recorder::new(None).unwrap();
        rec.invoke(0, 0, Op::Get { key: "k".into() });
        assert_eq!(operations(&rec.records())[0].outcome, Outcome::Unknown);
    }
}
