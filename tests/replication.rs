//! The commit stream and replicas: every record applied leaves the replica
//! byte-identical to the primary at that commit; records out of order,
//! twice, forged or from another chain are refused with the replica's
//! bytes unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;
use xitdb::format::{ChainHead, CommitRecord, Patch};
use xitdb::storage::{FileStorage, MemoryStorage, Storage};
use xitdb::{CommitStream, Database, Error, Replica};

fn put(db: &mut Database, i: u64) {
    db.transact(|tx| {
        let mut root = tx.root_map()?;
        root.put("n", i)?;
        root.entry("log")?.array_list()?.append(i)?;
        if i.is_multiple_of(7) {
            root.put(format!("big{i}"), &vec![i as u8; 3000][..])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Applies every new record and checks the replica equals the primary.
fn ship(stream: &mut CommitStream, primary: &mut Database, replica: &mut Replica<MemoryStorage>) {
    if let Some(rec) = stream.capture(primary).unwrap() {
        replica.apply(&rec).unwrap();
    }
    if primary.moment_count().unwrap() > 0 {
        same(replica.storage().as_bytes(), primary.storage().as_bytes());
    }
}

/// Byte-identical, or the first difference.
fn same(a: &[u8], b: &[u8]) {
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    assert!(
        a.len() == b.len() && first.is_none(),
        "lengths {} and {}, first difference at {first:?}",
        a.len(),
        b.len()
    );
}

#[test]
fn every_kind_of_commit_replicates_byte_for_byte() {
    let mut primary = Database::memory();
    let mut stream = CommitStream::new();
    let mut replica = Replica::new(MemoryStorage::new()).unwrap();
    // nothing committed yet: nothing to ship
    assert!(stream.capture(&mut primary).unwrap().is_none());
    for i in 0..300 {
        put(&mut primary, i);
        ship(&mut stream, &mut primary, &mut replica);
        // a replica is a database at every step
        let view = Database::from_slice(replica.storage().as_bytes()).unwrap();
        assert_eq!(view.moment_count().unwrap(), i + 1);
    }
    // nothing new: no record
    assert!(stream.capture(&mut primary).unwrap().is_none());
    primary
        .amend(|tx| tx.root_map()?.put("note", "amended"))
        .unwrap();
    ship(&mut stream, &mut primary, &mut replica);
    primary.truncate_history(250).unwrap();
    ship(&mut stream, &mut primary, &mut replica);
    for i in 0..40 {
        put(&mut primary, 1000 + i);
        ship(&mut stream, &mut primary, &mut replica);
    }
    primary.revert_to(3).unwrap();
    ship(&mut stream, &mut primary, &mut replica);
    primary.truncate_history(17).unwrap();
    ship(&mut stream, &mut primary, &mut replica);
    primary.truncate_history(15).unwrap();
    ship(&mut stream, &mut primary, &mut replica);
    for i in 0..300 {
        put(&mut primary, 5000 + i);
        ship(&mut stream, &mut primary, &mut replica);
    }
    let view = Database::from_slice(replica.storage().as_bytes()).unwrap();
    assert_eq!(view.moment_count().unwrap(), 315);
    assert!(view.verify().is_ok());
}

#[test]
fn records_that_cover_many_commits_replicate_too() {
    let mut primary = Database::memory();
    let mut stream = CommitStream::new();
    let mut replica = Replica::new(MemoryStorage::new()).unwrap();
    for round in 0..30u64 {
        for i in 0..round {
            put(&mut primary, round * 100 + i);
        }
        if round == 20 {
            primary.truncate_history(40).unwrap();
            put(&mut primary, 7);
        }
        ship(&mut stream, &mut primary, &mut replica);
    }
}

/// A database of `n` commits, its stream and a replica at its head.
fn replicated(n: u64) -> (Database, CommitStream, Replica<MemoryStorage>) {
    let mut primary = Database::memory();
    let mut stream = CommitStream::new();
    let mut replica = Replica::new(MemoryStorage::new()).unwrap();
    for i in 0..n {
        put(&mut primary, i);
        ship(&mut stream, &mut primary, &mut replica);
    }
    (primary, stream, replica)
}

/// A database of `n` commits and one record per commit.
fn recorded(n: u64) -> (Database, Vec<Arc<CommitRecord>>) {
    let mut primary = Database::memory();
    let mut stream = CommitStream::new();
    for i in 0..n {
        put(&mut primary, i);
        stream.capture(&mut primary).unwrap();
    }
    let recs = stream.feed().commits_since(0).unwrap();
    assert_eq!(recs.len() as u64, n);
    (primary, recs)
}

#[test]
fn a_replica_refuses_gaps_replays_forgeries_and_forks_and_changes_nothing() {
    let (primary, recs) = recorded(6);
    let mut replica = Replica::new(MemoryStorage::new()).unwrap();
    replica.apply(&recs[0]).unwrap();
    replica.apply(&recs[1]).unwrap();
    let before = replica.storage().as_bytes().to_vec();
    let head = replica.head();
    let refuse = |replica: &mut Replica<MemoryStorage>, rec: &CommitRecord| {
        let e = replica.apply(rec).unwrap_err();
        same(replica.storage().as_bytes(), &before);
        assert_eq!(replica.head(), head);
        e
    };
    // twice, and out of order
    assert!(matches!(
        refuse(&mut replica, &recs[1]),
        Error::StreamGap { .. }
    ));
    assert!(matches!(
        refuse(&mut replica, &recs[0]),
        Error::StreamGap { .. }
    ));
    assert!(matches!(
        refuse(&mut replica, &recs[3]),
        Error::StreamGap { .. }
    ));
    // forged: bytes changed, hash kept
    let mut forged = (*recs[2]).clone();
    forged.appended[20] ^= 1;
    assert!(matches!(
        refuse(&mut replica, &forged),
        Error::RecordHash { .. }
    ));
    let mut forged = (*recs[2]).clone();
    forged.patches[0].bytes[0] ^= 1;
    assert!(matches!(
        refuse(&mut replica, &forged),
        Error::RecordHash { .. }
    ));
    // forged and resealed, but claiming sizes its history header denies
    let lie =
        CommitRecord::seal(&head, 99, recs[2].patches.clone(), recs[2].appended.clone()).unwrap();
    assert!(matches!(
        refuse(&mut replica, &lie),
        Error::RecordMismatch { .. }
    ));
    // a patch that would write past the replica's end
    let wild = CommitRecord::seal(
        &ChainHead {
            file_size: head.file_size + 1000,
            ..head
        },
        3,
        vec![Patch {
            offset: head.file_size + 10,
            bytes: vec![1],
        }],
        vec![],
    )
    .unwrap();
    assert!(refuse(&mut replica, &wild)
        .to_string()
        .contains("another chain"));
    // the same commits of another database: a fork
    let mut other = Database::memory();
    let mut other_stream = CommitStream::new();
    for i in 0..3 {
        put(&mut other, i + 50);
        other_stream.capture(&mut other).unwrap();
    }
    let theirs = other_stream.feed().commits_since(2).unwrap();
    assert!(matches!(
        refuse(&mut replica, &theirs[0]),
        Error::StreamFork { .. }
    ));
    // the right one still applies, through a decode of its encoding
    let (decoded, _) = CommitRecord::decode(&recs[2].encode(), 0).unwrap();
    replica.apply(&decoded).unwrap();
    for rec in &recs[3..] {
        replica.apply(rec).unwrap();
    }
    same(replica.storage().as_bytes(), primary.storage().as_bytes());
}

#[test]
fn the_feed_holds_what_it_retains_and_wakes_subscribers() {
    let mut primary = Database::memory();
    let mut stream = CommitStream::with_retention(4);
    let feed = stream.feed();
    for i in 0..10 {
        put(&mut primary, i);
        stream.capture(&mut primary).unwrap();
    }
    assert_eq!(feed.head().seq, 10);
    assert_eq!(feed.commits_since(6).unwrap().len(), 4);
    assert!(matches!(
        feed.commits_since(2),
        Err(Error::StreamTooOld {
            requested: 3,
            oldest: 7
        })
    ));
    assert!(feed.commits_since(10).unwrap().is_empty());
    let waiter = {
        let feed = feed.clone();
        std::thread::spawn(move || feed.wait_beyond(10, Duration::from_secs(600)).seq)
    };
    put(&mut primary, 10);
    stream.capture(&mut primary).unwrap();
    assert_eq!(waiter.join().unwrap(), 11);
}

#[test]
fn a_stream_resumes_from_a_replica_and_root_maps_are_refused() {
    let (mut primary, _, mut replica) = replicated(40);
    // the writer restarts: its stream is rebuilt from the replica
    let head = replica.head();
    let mut stream = CommitStream::resume(replica.storage(), head, 16).unwrap();
    for i in 0..40 {
        put(&mut primary, 100 + i);
    }
    primary.truncate_history(30).unwrap();
    put(&mut primary, 1);
    ship(&mut stream, &mut primary, &mut replica);
    assert_eq!(stream.head().seq, head.seq + 1);

    let mut map = Database::memory();
    map.transact_root(|tx| tx.root().hash_map()?.put("k", 1u64))
        .unwrap();
    assert!(matches!(
        CommitStream::new().capture(&mut map),
        Err(Error::WrongRoot { .. })
    ));
}

#[test]
fn an_interrupted_apply_is_cut_or_redone() {
    let (primary, recs) = recorded(20);
    let mut replica = Replica::new(MemoryStorage::new()).unwrap();
    for rec in &recs[..10] {
        replica.apply(rec).unwrap();
    }
    let head = replica.head();
    let at_head = replica.storage().as_bytes().to_vec();
    // a crash after the data, before the commit point: cut on resume
    let mut torn = at_head.clone();
    torn.extend_from_slice(&recs[10].appended);
    let resumed = Replica::resume(MemoryStorage::from_vec(torn), head).unwrap();
    same(resumed.storage().as_bytes(), &at_head);
    // a crash after the commit point, before the owner saved the head
    let mut done = Replica::resume(MemoryStorage::from_vec(at_head.clone()), head).unwrap();
    done.apply(&recs[10]).unwrap();
    let applied = done.into_storage();
    assert!(matches!(
        Replica::resume(MemoryStorage::from_vec(applied.as_bytes().to_vec()), head),
        Err(Error::RecordMismatch { .. })
    ));
    let mut redone = Replica::redo(applied, head, &recs[10]).unwrap();
    for rec in &recs[11..] {
        redone.apply(rec).unwrap();
    }
    same(redone.storage().as_bytes(), primary.storage().as_bytes());
}

/// A writer in one thread, a capture through a read-only handle on its
/// file (as a replicator process does), a replica file with a reader that
/// must only ever see whole commits.
#[test]
fn files_replicate_while_written_and_readers_see_whole_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("primary.xdb");
    let replica_path = dir.path().join("replica.xdb");
    let mut writer = Database::create(&path).unwrap();
    writer.set_durability(xitdb::Durability::None);
    writer.transact(|tx| tx.root_map()?.put("n", 0u64)).unwrap();
    const N: u64 = 400;
    let writing = std::thread::spawn(move || {
        for i in 1..N {
            writer
                .transact(|tx| {
                    let mut root = tx.root_map()?;
                    root.put("n", i)?;
                    root.put(format!("k{i}"), &vec![1u8; (i % 50) as usize * 40][..])
                })
                .unwrap();
        }
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (stop, replica_path) = (stop.clone(), replica_path.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut db) = Database::open_read_only(&replica_path) else {
                    continue;
                };
                db.refresh().unwrap();
                let count = db.moment_count().unwrap();
                if count > 0 {
                    // every moment visible is whole: its `n` is its index
                    let last = db.moment(-1).unwrap().as_map().unwrap();
                    assert_eq!(last.require("n").unwrap().as_uint().unwrap(), count - 1);
                    seen += 1;
                }
            }
            seen
        })
    };
    let mut source = Database::open_read_only(&path).unwrap();
    let mut stream = CommitStream::new();
    let mut replica = Replica::new(FileStorage::create(&replica_path).unwrap()).unwrap();
    loop {
        let done = writing.is_finished();
        if let Some(rec) = stream.capture(&mut source).unwrap() {
            replica.apply(&rec).unwrap();
        }
        if done && stream.head().file_size == source.committed_len().unwrap() {
            break;
        }
    }
    writing.join().unwrap();
    stream
        .capture(&mut source)
        .unwrap()
        .map(|r| replica.apply(&r).unwrap());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    drop(replica);
    let primary_bytes = std::fs::read(&path).unwrap();
    let replica_bytes = std::fs::read(&replica_path).unwrap();
    assert_eq!(primary_bytes.len(), replica_bytes.len());
    assert!(
        primary_bytes == replica_bytes,
        "replica differs from primary"
    );
    let db = Database::open_read_only(&replica_path).unwrap();
    assert_eq!(db.moment_count().unwrap(), N);
    let _ = FileStorage::open_read_only(&replica_path).unwrap().len();
}

#[test]
fn a_resumed_stream_tells_its_database_from_another() {
    let (mut primary, _, replica) = replicated(40);
    let resumed = CommitStream::resume(replica.storage(), replica.head(), 16).unwrap();
    put(&mut primary, 99);
    resumed
        .check_continues(replica.storage(), &mut primary)
        .unwrap();
    let mut other = Database::memory();
    for i in 0..60 {
        put(&mut other, i + 1);
    }
    assert!(matches!(
        resumed.check_continues(replica.storage(), &mut other),
        Err(Error::StreamFork { .. })
    ));
}
