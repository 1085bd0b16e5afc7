//! Crash test: a child process applies a deterministic stream of entries (multi-key txns, delete ranges, compactions that physical compaction then works through) and is SIGKILLed at random moments; after every kill the store must reopen with an applied index that never goes back, the keyspace of a replay of entries 1..=N, no torn txn, the HashKV and ranges of a clean replay, and idempotent re-apply of old indexes.

use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use storage::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, Engine, EngineConfig, KeyValue,
    PutRequest, RangeRequest, RequestOp, Revision, TxnRequest, WriteRequest, WriteResponse,
};

const DIR_ENV: &str = "BERTH_CRASH_DIR";
const PARENT_ENV: &str = "BERTH_CRASH_PARENT";
const SEED_ENV: &str = "BERTH_CRASH_SEED";
const ROUNDS: usize = 50;
const KEYS: u64 = 17;

fn key(n: u64) -> Vec<u8> {
    format!("k{n:02}").into_bytes()
}

/// What entry `i` does; a function of `i` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Puts three distinct keys, each to the value `i`, in one txn.
    Txn([u64; 3]),
    /// Deletes the keys `[from, to)`.
    Delete(u64, u64),
    /// Compacts to this revision.
    Compact(i64),
}

fn is_compact(i: u64) -> bool {
    i % 50 == 0
}

fn is_delete(i: u64) -> bool {
    !is_compact(i) && i % 9 == 4
}

/// Entries in `1..=n` with `j % m == r`.
fn count_mod(n: u64, m: u64, r: u64) -> u64 {
    match r {
        0 => n / m,
        r if n < r => 0,
        r => (n - r) / m + 1,
    }
}

/// The number of txn entries before `i`: every one of them made exactly one revision, so
/// the revision before entry `i` is at least `1 + txns_before(i)`.
fn txns_before(i: u64) -> u64 {
    let n = i - 1;
    // j % 50 == 0 and j % 9 == 4 together: j % 450 == 400.
    n - count_mod(n, 50, 0) - count_mod(n, 9, 4) + count_mod(n, 450, 400)
}

fn entry(i: u64) -> Entry {
    if is_compact(i) {
        // At least 10 revisions below the current one, and above the previous target
        // (every 50 entries hold at least 43 txns).
        return Entry::Compact(1 + txns_before(i) as i64 - 10);
    }
    let a = i % KEYS;
    if is_delete(i) {
        return Entry::Delete(a, (a + 1 + i % 4).min(KEYS));
    }
    // b = a + d1, c = b + d2 with d1 in 1..=8, d2 in 1..=7: c - a in 2..=15, never 0 mod 17.
    let b = (a + 1 + (i / KEYS) % 8) % KEYS;
    let c = (b + 1 + (i / 3) % 7) % KEYS;
    Entry::Txn([a, b, c])
}

fn request(i: u64) -> WriteRequest {
    match entry(i) {
        Entry::Txn(keys) => WriteRequest::Txn(TxnRequest {
            // Always true (a missing key compares as create revision 0); the engine still
            // evaluates it.
            compare: vec![Compare {
                key: key(keys[0]),
                range_end: Vec::new(),
                target: CompareTarget::Create(i64::MAX),
                result: CompareResult::Less,
            }],
            success: keys
                .iter()
                .map(|&k| RequestOp::Put(PutRequest::new(key(k), i.to_string())))
                .collect(),
            failure: Vec::new(),
        }),
        Entry::Delete(from, to) => {
            WriteRequest::DeleteRange(DeleteRangeRequest::range(key(from), key(to)))
        }
        Entry::Compact(revision) => WriteRequest::Compact { revision },
    }
}

/// The keyspace a replay of entries `1..=applied` leaves, kept current one entry at a time.
struct Model {
    applied: u64,
    rev: i64,
    compact: i64,
    kvs: BTreeMap<Vec<u8>, KeyValue>,
}

impl Model {
    fn new() -> Model {
        Model {
            applied: 0,
            rev: 1,
            compact: 0,
            kvs: BTreeMap::new(),
        }
    }

    fn apply(&mut self, i: u64) {
        assert_eq!(i, self.applied + 1, "the model applies entries in order");
        self.applied = i;
        match entry(i) {
            Entry::Txn(keys) => {
                self.rev += 1;
                for k in keys {
                    let k = key(k);
                    let prev = self.kvs.get(&k);
                    let kv = KeyValue {
                        key: k.clone(),
                        create_revision: prev.map_or(self.rev, |p| p.create_revision),
                        mod_revision: self.rev,
                        version: prev.map_or(1, |p| p.version + 1),
                        value: i.to_string().into_bytes(),
                        lease: 0,
                    };
                    self.kvs.insert(k, kv);
                }
            }
            Entry::Delete(from, to) => {
                let (from, to) = (key(from), key(to));
                let victims: Vec<Vec<u8>> =
                    self.kvs.range(from..to).map(|(k, _)| k.clone()).collect();
                if !victims.is_empty() {
                    self.rev += 1;
                    for k in victims {
                        self.kvs.remove(&k);
                    }
                }
            }
            Entry::Compact(revision) => {
                assert!(
                    revision > self.compact && revision <= self.rev,
                    "entry {i}: compact target {revision} (compact {}, current {})",
                    self.compact,
                    self.rev
                );
                self.compact = revision;
            }
        }
    }
}

fn child_config() -> EngineConfig {
    // Small physical compaction batches, so kills land in the middle of one compaction.
    EngineConfig {
        compaction_batch_entries: 8,
        ..EngineConfig::default()
    }
}

/// The writer: run by the parent as a child process (returns at once in a normal test run).
/// Applies entry after entry until it is killed.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let parent: u32 = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse().ok())
        .expect("BERTH_CRASH_PARENT names the parent pid");
    let engine = Engine::open(&dir, child_config()).expect("child: open the store");
    let started = Instant::now();
    let mut i = engine.applied_index() + 1;
    loop {
        match engine.apply(i, &request(i)) {
            Ok(WriteResponse::AlreadyApplied) => {
                panic!("child: entry {i} reported as already applied")
            }
            Ok(_) => {}
            Err(e) => panic!("child: entry {i} ({:?}) failed: {e}", entry(i)),
        }
        // Never outlive the parent (an aborted test run must not leave a writer behind).
        if i % 256 == 0
            && (std::os::unix::process::parent_id() != parent
                || started.elapsed() > Duration::from_secs(60))
        {
            std::process::exit(3);
        }
        i += 1;
    }
}

fn all_keys(revision: i64) -> RangeRequest {
    RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..RangeRequest::default()
    }
}

/// Everything a reopened store must show after entries `1..=n`.
fn check_recovered(
    engine: &Engine,
    reference: &Engine,
    model: &Model,
    round: usize,
    rng: &mut impl Rng,
) {
    let n = model.applied;
    assert_eq!(engine.applied_index(), n, "round {round}: applied index");
    assert_eq!(
        engine.current_revision(),
        Revision(model.rev),
        "round {round}: current revision after entries 1..={n}"
    );
    assert_eq!(
        engine.compact_revision(),
        Revision(model.compact),
        "round {round}: compact revision after entries 1..={n}"
    );
    assert_eq!(
        engine.live_keys(),
        model.kvs.len() as i64,
        "round {round}: live keys after entries 1..={n}"
    );
    let got = engine
        .range(&all_keys(0))
        .unwrap_or_else(|e| panic!("round {round}: range: {e}"));
    let want: Vec<KeyValue> = model.kvs.values().cloned().collect();
    assert_eq!(
        got.kvs, want,
        "round {round}: keyspace after entries 1..={n}"
    );

    // No torn txn: the last applied entry is whole, the next one left no trace.
    if let Entry::Txn(keys) = entry(n) {
        for k in keys {
            let kv = engine
                .get(&key(k))
                .unwrap_or_else(|e| panic!("round {round}: get: {e}"))
                .unwrap_or_else(|| panic!("round {round}: key {k} of the last txn {n} is missing"));
            assert_eq!(
                (kv.mod_revision, kv.value.as_slice()),
                (model.rev, n.to_string().as_bytes()),
                "round {round}: key {k} of the last applied txn {n}"
            );
        }
    }
    if let Entry::Txn(keys) = entry(n + 1) {
        for k in keys {
            let kv = engine
                .get(&key(k))
                .unwrap_or_else(|e| panic!("round {round}: get: {e}"));
            assert!(
                kv.as_ref()
                    .is_none_or(|kv| kv.value != (n + 1).to_string().as_bytes()),
                "round {round}: key {k} carries the value of unapplied txn {}: {kv:?}",
                n + 1
            );
        }
    }

    // The same history as a clean replay, whatever the physical compaction progress.
    assert_eq!(
        reference.applied_index(),
        n,
        "round {round}: reference replay"
    );
    let first = model.compact.max(1);
    for rev in [first, rng.random_range(first..=model.rev), model.rev] {
        let got = engine
            .range(&all_keys(rev))
            .unwrap_or_else(|e| panic!("round {round}: range at {rev}: {e}"));
        let want = reference
            .range(&all_keys(rev))
            .unwrap_or_else(|e| panic!("round {round}: reference range at {rev}: {e}"));
        assert_eq!(
            got, want,
            "round {round}: all keys at revision {rev}, recovered store vs clean replay"
        );
    }
    let hash = engine
        .hash_kv(0)
        .unwrap_or_else(|e| panic!("round {round}: hash_kv: {e}"));
    let want = reference
        .hash_kv(0)
        .unwrap_or_else(|e| panic!("round {round}: reference hash_kv: {e}"));
    if hash.compact_revision == want.compact_revision {
        assert_eq!(
            hash, want,
            "round {round}: hash_kv of the recovered store vs a clean replay of entries 1..={n}"
        );
    }
    if model.compact >= 1 {
        let hash = engine
            .hash_kv(model.compact)
            .unwrap_or_else(|e| panic!("round {round}: hash_kv: {e}"));
        let want = reference
            .hash_kv(model.compact)
            .unwrap_or_else(|e| panic!("round {round}: reference hash_kv: {e}"));
        assert_eq!(
            hash, want,
            "round {round}: hash_kv at the compact revision {}",
            model.compact
        );
    }
}

/// Re-applying indexes at or below the applied index does nothing, whatever they carry.
fn check_reapply_is_idempotent(engine: &Engine, model: &Model, round: usize) {
    let n = model.applied;
    if n == 0 {
        return;
    }
    let before = engine.range(&all_keys(0)).expect("range before re-apply");
    let hash = engine.hash_kv(0).expect("hash_kv before re-apply");
    let other = WriteRequest::Put(PutRequest::new("reapplied", "must not appear"));
    for (index, req) in [
        (n, request(n)),
        (n, other.clone()),
        (n / 2 + 1, request(n / 2 + 1)),
        (1, other),
    ] {
        let got = engine
            .apply(index, &req)
            .unwrap_or_else(|e| panic!("round {round}: re-apply of index {index}: {e}"));
        assert_eq!(
            got,
            WriteResponse::AlreadyApplied,
            "round {round}: re-apply of index {index} (applied index {n})"
        );
    }
    assert_eq!(
        engine.applied_index(),
        n,
        "round {round}: applied index after re-apply"
    );
    assert_eq!(
        engine.current_revision(),
        Revision(model.rev),
        "round {round}: revision after re-apply"
    );
    assert_eq!(
        engine.range(&all_keys(0)).expect("range after re-apply"),
        before,
        "round {round}: keyspace after re-apply"
    );
    assert_eq!(
        engine.hash_kv(0).expect("hash_kv after re-apply"),
        hash,
        "round {round}: hash_kv after re-apply"
    );
}

/// Brings the model and the clean replay up to entry `n`.
fn catch_up(model: &mut Model, reference: &Engine, n: u64) {
    for i in model.applied + 1..=n {
        model.apply(i);
        let resp = reference
            .apply(i, &request(i))
            .unwrap_or_else(|e| panic!("reference replay of entry {i}: {e}"));
        assert_ne!(
            resp,
            WriteResponse::AlreadyApplied,
            "reference replay of entry {i}"
        );
    }
}

fn spawn_and_kill(dir: &Path, delay: Duration, round: usize) {
    let exe = std::env::current_exe().expect("path of this test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(DIR_ENV, dir)
        .env(PARENT_ENV, std::process::id().to_string())
        .env_remove(SEED_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the writer child");
    std::thread::sleep(delay);
    let exited = child.try_wait().expect("poll the writer child");
    if exited.is_none() {
        child.kill().expect("SIGKILL the writer child");
    }
    let out = child.wait_with_output().expect("reap the writer child");
    assert!(
        exited.is_none(),
        "round {round}: the writer exited by itself ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn killed_writer_recovers_a_prefix_of_the_log() {
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (rerun with {SEED_ENV}={seed} for the same kill delays)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("create the store dir");
    let ref_dir = tempfile::tempdir().expect("create the reference dir");
    let reference =
        Engine::open(ref_dir.path(), EngineConfig::default()).expect("open the reference store");
    let mut model = Model::new();
    let started = Instant::now();
    let mut advanced = 0;
    for round in 0..ROUNDS {
        let delay = Duration::from_millis(rng.random_range(5..150));
        spawn_and_kill(dir.path(), delay, round);

        let engine = Engine::open(dir.path(), child_config())
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): reopen after SIGKILL: {e}"));
        let n = engine.applied_index();
        assert!(
            n >= model.applied,
            "round {round} (seed {seed}): applied index went back from {} to {n}",
            model.applied
        );
        if n > model.applied {
            advanced += 1;
        }
        catch_up(&mut model, &reference, n);
        check_recovered(&engine, &reference, &model, round, &mut rng);
        check_reapply_is_idempotent(&engine, &model, round);

        // Now and then the parent applies a few entries itself; the next child goes on
        // from there.
        if round % 10 == 9 {
            for i in n + 1..=n + 3 {
                let resp = engine
                    .apply(i, &request(i))
                    .unwrap_or_else(|e| panic!("round {round}: parent apply of entry {i}: {e}"));
                assert_ne!(
                    resp,
                    WriteResponse::AlreadyApplied,
                    "round {round}: parent apply of entry {i}"
                );
            }
            catch_up(&mut model, &reference, n + 3);
            check_recovered(&engine, &reference, &model, round, &mut rng);
        }
        drop(engine);
        eprintln!(
            "round {round}: killed after {delay:?}, applied index {}, revision {}, compact {}",
            model.applied, model.rev, model.compact
        );
    }
    eprintln!(
        "{ROUNDS} rounds in {:?}; {advanced} advanced the log to entry {}",
        started.elapsed(),
        model.applied
    );
    assert!(advanced >= ROUNDS / 5, "only {advanced} of {ROUNDS} children applied anything (seed {seed}): the test did not exercise crashes");
    assert!(model.compact > 0, "no compaction was applied (seed {seed}): the test did not exercise crashes during compaction");
}

#[test]
fn the_entry_stream_is_well_formed() {
    // Every txn puts three distinct keys; compaction targets grow and stay below the
    // revision (checked exactly by the model's own assertions).
    let mut model = Model::new();
    for i in 1..=20_000 {
        if let Entry::Txn(k) = entry(i) {
            assert!(
                k[0] != k[1] && k[1] != k[2] && k[0] != k[2],
                "entry {i} puts a key twice: {k:?}"
            );
        }
        if is_compact(i) {
            assert!(
                i64::try_from(txns_before(i)).expect("fits") < model.rev,
                "entry {i}: the revision is above the number of txns before it"
            );
        }
        model.apply(i);
    }
    assert_eq!(txns_before(1), 0);
    assert_eq!(txns_before(51), 50 - 1 - 6);
}
