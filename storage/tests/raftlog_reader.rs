//! The read-only Raft log reader (`Engine::raft_log_reader`): a stopped replica's log and
//! Raft state read through a store opened read-only, with no writer thread.

use storage::*;

#[test]
fn reader_sees_a_stopped_replicas_log_and_state_read_only() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = Engine::open(dir.path(), EngineConfig::default()).unwrap();
        let log = e.raft_log();
        log.append_wait(
            (1..=10)
                .map(|i| (i, format!("entry{i}").into_bytes()))
                .collect(),
        )
        .unwrap();
        log.purge_upto(2).unwrap();
        log.save_state(b"vote", b"v").unwrap();
        log.save_state(b"committed", b"c").unwrap();
    }
    let e = Engine::open_read_only(dir.path()).unwrap();
    let r = e.raft_log_reader();
    assert_eq!(
        (r.first_index().unwrap(), r.last_index().unwrap()),
        (Some(3), Some(10))
    );
    assert_eq!(r.purged().unwrap(), 2);
    assert_eq!(
        r.entries(4, 6, usize::MAX).unwrap(),
        vec![(4, b"entry4".to_vec()), (5, b"entry5".to_vec())]
    );
    // The bound on entries returned holds whatever the range.
    assert_eq!(
        r.entries(0, u64::MAX, 3)
            .unwrap()
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        vec![3, 4, 5]
    );
    assert_eq!(r.state(b"vote").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(r.state(b"missing").unwrap(), None);
    let keys: Vec<Vec<u8>> = r
        .state_entries()
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        vec![
            b"committed".to_vec(),
            STATE_PURGED.to_vec(),
            b"vote".to_vec()
        ]
    );
}

#[test]
fn reader_on_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    drop(Engine::open(dir.path(), EngineConfig::default()).unwrap());
    let e = Engine::open_read_only(dir.path()).unwrap();
    let r = e.raft_log_reader();
    assert_eq!(
        (
            r.first_index().unwrap(),
            r.last_index().unwrap(),
            r.purged().unwrap()
        ),
        (None, None, 0)
    );
    assert!(r.entries(0, u64::MAX, 100).unwrap().is_empty());
    assert!(r.state_entries().unwrap().is_empty());
}
