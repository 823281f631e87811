//! One writer, many readers: the writer lock (within a process and across
//! processes) and snapshots read by other threads while the writer commits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;
use xitdb::storage::Storage;
use xitdb::{Cursor, Database, Durability, Error, Options, Snapshot};

type R = Result<(), Error>;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn snapshot_is_send_sync_and_clone() {
    assert_send_sync_clone::<Snapshot>();
}

fn commit_n<S: Storage>(db: &mut Database<S>, n: u64) {
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("n", n)?;
        m.entry("list")?.array_list()?.append(n)
    })
    .unwrap();
}

fn latest_n<S: Storage>(db: &Database<S>) -> u64 {
    db.moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get(b"n")
        .unwrap()
        .unwrap()
        .as_uint()
        .unwrap()
}

// ---------------------------------------------------------------- the lock

#[test]
fn second_writer_in_the_same_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.xdb");
    let mut writer = Database::create(&path).unwrap();
    commit_n(&mut writer, 0);
    let bytes = std::fs::read(&path).unwrap();

    assert!(matches!(Database::open(&path), Err(Error::Locked)));
    assert!(matches!(
        Database::open_with(&path, Default::default()),
        Err(Error::Locked)
    ));
    // a refused create must not truncate the file it could not lock
    assert!(matches!(Database::create(&path), Err(Error::Locked)));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // readers take no lock
    let mut reader = Database::open_read_only(&path).unwrap();
    assert_eq!(reader.moment_count().unwrap(), 1);
    assert!(matches!(
        reader.transact(|tx| tx.root_map()?.put("x", 1u64)),
        Err(Error::ReadOnly)
    ));

    // the reader keeps seeing what was committed when it opened ...
    for n in 1..40 {
        commit_n(&mut writer, n);
    }
    assert_eq!(reader.moment_count().unwrap(), 1);
    assert_eq!(latest_n(&reader), 0);
    // ... until it refreshes
    reader.refresh().unwrap();
    assert_eq!(reader.moment_count().unwrap(), 40);
    assert_eq!(latest_n(&reader), 39);

    drop(writer);
    let mut again = Database::open(&path).unwrap();
    commit_n(&mut again, 40);
    assert!(matches!(Database::open(&path), Err(Error::Locked)));
    drop(again);
    reader.refresh().unwrap();
    assert_eq!(latest_n(&reader), 40);
}

const PROBE_ENV: &str = "XITDB_CHILD_LOCK";
const HOLD_ENV: &str = "XITDB_CHILD_HOLD";
const HOLDING: &str = "XITDB-CHILD-HOLDS-THE-LOCK";
/// A writer that waits for the lock: `<path>`.
const WAIT_ENV: &str = "XITDB_CHILD_WAIT";
/// A writer that commits moments up to a count: `<moments>,<path>`.
const WRITE_ENV: &str = "XITDB_CHILD_WRITE";
/// A reader that follows the writer up to a count: `<moments>,<path>`.
const READ_ENV: &str = "XITDB_CHILD_READ";
/// A reader that holds a cursor on a large value, then reads it: `<path>`.
const MAPPED_ENV: &str = "XITDB_CHILD_MAPPED";
const CHILD_ENVS: [&str; 6] = [
    PROBE_ENV, HOLD_ENV, WAIT_ENV, WRITE_ENV, READ_ENV, MAPPED_ENV,
];
/// Marks the children's own output lines (libtest prints on the same lines).
const MARK: &str = "@xitdb ";

/// The text after the mark, on a child's output line.
fn marked(line: &str) -> Option<String> {
    line.find(MARK).map(|i| line[i + MARK.len()..].to_string())
}

/// Spawns a child with its stdout piped; the lines it marked, as they come.
fn spawn_marked(cmd: &mut Command) -> (std::process::Child, impl Iterator<Item = String>) {
    let mut c = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(c.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| marked(&l));
    (c, lines)
}

/// Blob size of the moments the writer child commits.
const CHILD_BLOB: usize = 3000;

/// Exit codes of the probe child: tens = writable open, units = read-only open.
const WRITER_OPENED: i32 = 10;
const WRITER_LOCKED: i32 = 20;
const WRITER_FAILED: i32 = 30;
const READER_OK: i32 = 1;
const READER_FAILED: i32 = 2;

/// Not a test of its own: the body of a child process started by the tests
/// below (it does nothing unless the environment asks for it).
#[test]
fn zz_child_process_helper() {
    if let Ok(path) = std::env::var(PROBE_ENV) {
        let writer = match Database::open(&path) {
            Ok(_) => WRITER_OPENED,
            Err(Error::Locked) => WRITER_LOCKED,
            Err(e) => {
                eprintln!("child: open failed: {e}");
                WRITER_FAILED
            }
        };
        let reader = match Database::open_read_only(&path).and_then(|db| db.moment_count()) {
            Ok(_) => READER_OK,
            Err(e) => {
                eprintln!("child: read-only open failed: {e}");
                READER_FAILED
            }
        };
        std::process::exit(writer + reader);
    }
    if let Ok(path) = std::env::var(HOLD_ENV) {
        // Take the lock, commit, announce it, then wait for stdin to close;
        // commit once more and let go.
        let mut db = Database::open(&path).unwrap();
        commit_n(&mut db, 1000);
        println!("{HOLDING}");
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        commit_n(&mut db, 1001);
        drop(db);
        std::process::exit(0);
    }
    if let Ok(path) = std::env::var(WAIT_ENV) {
        // Wait (as long as it takes) for the lock, say what was committed
        // when it came, and commit.
        println!("{MARK}waiting");
        let opts = Options {
            lock_wait: Some(Duration::from_secs(120)),
            ..Options::default()
        };
        let mut db = Database::open_with(&path, opts).unwrap();
        println!(
            "{MARK}opened {} {}",
            db.moment_count().unwrap(),
            latest_n(&db)
        );
        commit_n(&mut db, 2000);
        std::process::exit(0);
    }
    if let Ok(cfg) = std::env::var(WRITE_ENV) {
        let (moments, path) = cfg.split_once(',').unwrap();
        writer_child(moments.parse().unwrap(), Path::new(path));
        std::process::exit(0);
    }
    if let Ok(path) = std::env::var(MAPPED_ENV) {
        // Find the blob (reading pointers through the memory map), say so,
        // wait for a line, then read the blob's bytes through the map.
        let db = Database::open_read_only(&path).unwrap();
        let moment = db.moment(-1).unwrap().as_map().unwrap();
        let blob = moment.get(b"blob").unwrap().unwrap();
        println!("{MARK}mapped");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        let sum = blob
            .as_bytes()
            .map(|b| b.iter().map(|&x| u64::from(x)).sum::<u64>());
        println!("{MARK}read {sum:?}");
        std::process::exit(0);
    }
    if let Ok(cfg) = std::env::var(READ_ENV) {
        let (moments, path) = cfg.split_once(',').unwrap();
        let seen = reader_child(moments.parse().unwrap(), Path::new(path));
        println!("{MARK}seen {seen}");
        std::process::exit(0);
    }
}

/// The writer process: commits moments until there are `moments`, with a
/// large transaction that fails (and is rolled back) now and then.
fn writer_child(moments: u64, path: &Path) {
    let opts = Options {
        durability: Durability::None,
        lock_wait: Some(Duration::from_secs(120)),
        ..Options::default()
    };
    let mut db = Database::open_with(path, opts).unwrap();
    for t in db.moment_count().unwrap()..moments {
        if t % 50 == 25 {
            let r = db.transact(|tx| -> R {
                let mut m = tx.root_map()?;
                m.put("n", u64::MAX)?;
                m.put("blob", &vec![0u8; 1 << 20])?;
                Err(Error::InvalidArgument("abort"))
            });
            assert!(r.is_err());
        }
        commit(&mut db, t, CHILD_BLOB);
    }
}

/// A reader process: opens the file read-only and refreshes until it sees
/// `moments` moments; every moment it sees must be whole, and the count
/// never goes back. Returns how many distinct counts it saw.
fn reader_child(moments: u64, path: &Path) -> u64 {
    let mut r = Database::open_read_only(path).unwrap();
    let (mut last, mut seen) = (0u64, 0u64);
    loop {
        r.refresh().unwrap();
        let count = r.moment_count().unwrap();
        assert!(count >= last, "history shrank: {count} after {last}");
        if count > last {
            seen += 1;
            last = count;
            assert_eq!(check_moment(r.moment(-1).unwrap(), CHILD_BLOB) + 1, count);
            let older = (count * 7919) % count;
            assert_eq!(
                check_moment(r.moment(older as i64).unwrap(), CHILD_BLOB),
                older
            );
        }
        if count == moments {
            return seen;
        }
    }
}

fn child(env: &str, path: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "zz_child_process_helper",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    for other in CHILD_ENVS {
        c.env_remove(other);
    }
    c.env(env, path);
    c
}

fn probe(path: &Path) -> i32 {
    let status = child(PROBE_ENV, path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    status.code().expect("the child was killed by a signal")
}

#[test]
fn a_writer_in_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cross.xdb");
    let mut writer = Database::create(&path).unwrap();
    commit_n(&mut writer, 0);
    assert_eq!(
        probe(&path),
        WRITER_LOCKED + READER_OK,
        "a child process must not get the write lock while we hold it"
    );
    drop(writer);
    assert_eq!(
        probe(&path),
        WRITER_OPENED + READER_OK,
        "the child gets the lock once we let go"
    );
    // the child opened and dropped a writer: the file is intact
    let db = Database::open(&path).unwrap();
    assert_eq!(latest_n(&db), 0);
}

#[test]
fn a_lock_held_by_another_process_refuses_us_until_it_dies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.xdb");
    drop(Database::create(&path).unwrap());
    let mut holder = hold(&path);

    assert!(matches!(Database::open(&path), Err(Error::Locked)));
    assert!(matches!(Database::create(&path), Err(Error::Locked)));
    // its commit is visible to a reader
    let reader = Database::open_read_only(&path).unwrap();
    assert_eq!(latest_n(&reader), 1000);

    // a killed writer's lock goes away with it
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut db = Database::open(&path).unwrap();
    commit_n(&mut db, 1001);
    assert_eq!(db.moment_count().unwrap(), 2);
}

/// Starts the holder child and waits until it holds the lock.
fn hold(path: &Path) -> std::process::Child {
    let mut holder = child(HOLD_ENV, path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = holder.stdout.take().unwrap();
    let announced = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(HOLDING));
    assert!(announced, "the child never took the lock");
    holder
}

#[test]
fn a_writer_asked_to_wait_gets_the_lock_when_another_process_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wait.xdb");
    drop(Database::create(&path).unwrap());
    let mut holder = hold(&path);
    // a wait that runs out is its own error
    let short = Options {
        lock_wait: Some(Duration::from_millis(100)),
        ..Options::default()
    };
    match Database::open_with(&path, short) {
        Err(Error::LockTimedOut { waited }) => assert!(waited >= Duration::from_millis(100)),
        other => panic!("expected LockTimedOut, got {other:?}"),
    }
    // a second process that waits
    let (mut waiter, mut lines) = spawn_marked(child(WAIT_ENV, &path).stdin(Stdio::null()));
    assert_eq!(lines.next().as_deref(), Some("waiting"));
    // give it time to be inside its wait (only makes the test stronger)
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiter.try_wait().unwrap().is_none(), "the waiter gave up");
    // the holder commits its second moment only now, then lets go: the
    // waiter must see that moment, so it got the lock after the release
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    assert_eq!(lines.next().as_deref(), Some("opened 2 1001"));
    assert!(waiter.wait().unwrap().success());
    let db = Database::open(&path).unwrap();
    assert_eq!(db.moment_count().unwrap(), 3);
    assert_eq!(latest_n(&db), 2000);
}

#[test]
fn reader_processes_see_whole_moments_while_a_writer_process_commits() {
    const MOMENTS: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("procs.xdb");
    let mut db = Database::create(&path).unwrap();
    commit(&mut db, 0, CHILD_BLOB);
    drop(db);
    let cfg = format!("{MOMENTS},{}", path.display());
    let spawn = |env: &str| child(env, &cfg).stdout(Stdio::piped()).spawn().unwrap();
    let readers: Vec<_> = (0..3).map(|_| spawn(READ_ENV)).collect();
    let writer = spawn(WRITE_ENV);
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "the writer failed");
    for r in readers {
        let out = r.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a reader failed: {text}");
        let seen = text
            .lines()
            .find_map(|l| marked(l)?.strip_prefix("seen ").map(str::to_string));
        eprintln!("a reader saw {seen:?} distinct moment counts");
        assert!(seen.is_some_and(|n| n.parse::<u64>().unwrap() >= 1));
    }
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(db.moment_count().unwrap(), MOMENTS);
    for i in 0..MOMENTS {
        assert_eq!(check_moment(db.moment(i as i64).unwrap(), CHILD_BLOB), i);
    }
}

/// What does not survive: a file cut short by another process while a
/// reader has it mapped. The reader's next read of the lost bytes through
/// the map kills it with SIGBUS (memory-mapped reads cannot report it as an
/// error); the next open reports the file as `Truncated`.
#[cfg(target_os = "linux")]
#[test]
fn a_mapped_reader_dies_with_sigbus_when_another_process_truncates_the_file() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.xdb");
    let mut db = Database::create(&path).unwrap();
    commit(&mut db, 0, 1 << 20);
    drop(db);
    let (mut reader, mut lines) = spawn_marked(child(MAPPED_ENV, &path).stdin(Stdio::piped()));
    assert_eq!(lines.next().as_deref(), Some("mapped"));
    // another process (this one) cuts the file to its first page
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4096)
        .unwrap();
    writeln!(reader.stdin.take().unwrap(), "go").unwrap();
    let status = reader.wait().unwrap();
    assert_eq!(status.signal(), Some(7), "SIGBUS, not {status:?}");
    assert!(matches!(
        Database::open_read_only(&path),
        Err(Error::Truncated { .. })
    ));
}

// ------------------------------------------------------- concurrent readers

fn blob_byte(n: u64) -> u8 {
    (n % 251) as u8 + 1
}

/// Checks that a moment is whole: every part agrees with its "n".
fn check_moment(c: Cursor<'_>, blob_len: usize) -> u64 {
    let m = c.as_map().unwrap();
    let n = m.get(b"n").unwrap().unwrap().as_uint().unwrap();
    let list = m.get(b"list").unwrap().unwrap().as_list().unwrap();
    assert_eq!(list.len(), n + 1, "list length in moment {n}");
    assert_eq!(list.get(-1).unwrap().unwrap().as_uint().unwrap(), n);
    assert_eq!(list.get(0).unwrap().unwrap().as_uint().unwrap(), 0);
    let mid = (n / 2) as i64;
    assert_eq!(
        list.get(mid).unwrap().unwrap().as_uint().unwrap(),
        mid as u64
    );
    let blob = m.get(b"blob").unwrap().unwrap().as_bytes().unwrap();
    assert_eq!(blob.len(), blob_len, "blob length in moment {n}");
    assert!(
        blob.iter().all(|&b| b == blob_byte(n)),
        "blob content in moment {n}"
    );
    let counted = m.get(b"counted").unwrap().unwrap().as_map().unwrap();
    assert_eq!(counted.count().unwrap(), n + 1);
    let key = format!("k{n}");
    assert_eq!(
        counted
            .get(key.as_bytes())
            .unwrap()
            .unwrap()
            .as_uint()
            .unwrap(),
        n
    );
    n
}

/// The writer commits `moments` transactions and publishes a snapshot of
/// the newest moment after each (and, now and then, of an older one);
/// reader threads check every snapshot they see. Every `fail_every`
/// commits a large transaction fails (and is rolled back).
fn writer_and_readers<S: Storage>(
    mut db: Database<S>,
    moments: u64,
    blob_len: usize,
    fail_every: u64,
    fail_len: usize,
) {
    const READERS: usize = 4;
    let latest: RwLock<Option<Snapshot>> = RwLock::new(None);
    // (moment index, snapshot of it)
    let older: RwLock<Option<(u64, Snapshot)>> = RwLock::new(None);
    let done = AtomicBool::new(false);
    let checks = AtomicU64::new(0);

    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..READERS {
            handles.push(s.spawn(|| {
                let mut last_n = 0u64;
                let mut first: Option<Snapshot> = None;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let snap = latest.read().unwrap().clone();
                    if let Some(snap) = snap {
                        let n = check_moment(snap.cursor(), blob_len);
                        assert!(n >= last_n, "moments go backwards: {n} after {last_n}");
                        last_n = n;
                        checks.fetch_add(1, Ordering::Relaxed);
                        first.get_or_insert(snap);
                    }
                    let old = older.read().unwrap().clone();
                    if let Some((k, snap)) = old {
                        assert_eq!(check_moment(snap.cursor(), blob_len), k);
                    }
                    if finished {
                        break;
                    }
                }
                // the last snapshot published is the last moment
                assert_eq!(last_n, moments - 1);
                // an early snapshot is still whole after every later commit
                let first = first.expect("no snapshot seen");
                check_moment(first.cursor(), blob_len);
            }));
        }

        let oldest = {
            commit(&mut db, 0, blob_len);
            db.snapshot(0).unwrap()
        };
        for t in 0..moments {
            if t > 0 {
                commit(&mut db, t, blob_len);
            }
            if fail_every > 0 && t % fail_every == fail_every / 2 {
                let before = db.len();
                let r = db.transact(|tx| -> R {
                    let mut m = tx.root_map()?;
                    m.put("n", u64::MAX)?;
                    m.put("blob", &vec![0u8; fail_len])?;
                    m.entry("list")?.array_list()?.append(u64::MAX)?;
                    Err(Error::InvalidArgument("abort"))
                });
                assert!(matches!(r, Err(Error::InvalidArgument("abort"))));
                assert_eq!(db.len(), before);
            }
            *latest.write().unwrap() = Some(db.snapshot(-1).unwrap());
            if t % 7 == 6 {
                let k = (t.wrapping_mul(0x9E37_79B9) >> 7) % t; // some older moment
                *older.write().unwrap() = Some((k, db.snapshot(k as i64).unwrap()));
            }
        }
        done.store(true, Ordering::Release);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(check_moment(oldest.cursor(), blob_len), 0);
    });
    assert!(checks.load(Ordering::Relaxed) >= READERS as u64);
    assert_eq!(latest_n(&db), moments - 1);
}

fn commit<S: Storage>(db: &mut Database<S>, t: u64, blob_len: usize) {
    db.transact(|tx| -> R {
        let mut m = tx.root_map()?;
        m.put("n", t)?;
        m.entry("list")?.array_list()?.append(t)?;
        m.put("blob", &vec![blob_byte(t); blob_len])?;
        m.entry("counted")?
            .counted_hash_map()?
            .put(format!("k{t}"), t)
    })
    .unwrap();
}

#[test]
fn snapshots_of_a_file_are_whole_moments_while_the_writer_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::create(dir.path().join("readers.xdb")).unwrap();
    db.set_durability(Durability::None);
    // 300 × 10 KB grows the file past several memory-map sizes; failed
    // 5 MiB transactions reach the file and are truncated away again.
    writer_and_readers(db, 300, 10_000, 100, 5 << 20);
}

#[test]
fn snapshots_of_a_file_with_full_durability() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("durable.xdb")).unwrap();
    writer_and_readers(db, 40, 1000, 0, 0);
}

#[test]
fn snapshots_in_memory_are_whole_moments_while_the_writer_commits() {
    writer_and_readers(Database::memory(), 300, 2000, 100, 1 << 20);
}

#[test]
fn snapshots_outlive_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.xdb");
    let mut db = Database::create(&path).unwrap();
    for t in 0..5 {
        commit(&mut db, t, 100);
    }
    let snaps: Vec<Snapshot> = (0..5).map(|i| db.snapshot(i).unwrap()).collect();
    drop(db);
    std::fs::remove_file(&path).unwrap();
    let handle = std::thread::spawn(move || {
        for (i, snap) in snaps.iter().enumerate() {
            assert_eq!(check_moment(snap.cursor(), 100), i as u64);
        }
    });
    handle.join().unwrap();

    let mut mem = Database::memory();
    for t in 0..5 {
        commit(&mut mem, t, 100);
    }
    let snap = mem.snapshot(-1).unwrap();
    drop(mem);
    assert_eq!(check_moment(snap.cursor(), 100), 4);
}

/// Reader threads that each open the file read-only and refresh to follow
/// the writer, like separate reader processes. Whatever a reader sees
/// must be whole. Returns how many opens or refreshes failed with
/// `Truncated` or a corrupt history header (which a healthy writer should
/// never cause).
fn follow_the_writer(tolerate_race: bool) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("follow.xdb");
    let mut db = Database::create(&path).unwrap();
    db.set_durability(Durability::None);
    commit(&mut db, 0, 500);
    let done = AtomicBool::new(false);
    let truncated = AtomicU64::new(0);
    let ok = |r: Result<(), Error>| match r {
        Ok(()) => true,
        // the race: the header (newer) is read after the length (older)
        Err(Error::Truncated { .. } | Error::Corrupt { pos: 12, .. }) if tolerate_race => {
            truncated.fetch_add(1, Ordering::Relaxed);
            false
        }
        Err(e) => panic!("reader failed: {e:?}"),
    };
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..4 {
            handles.push(s.spawn(|| {
                let mut r = loop {
                    match Database::open_read_only(&path) {
                        Ok(r) => break r,
                        Err(e) => {
                            ok(Err(e));
                        }
                    }
                };
                let mut last = 0;
                let mut seen = 0u64;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    if !ok(r.refresh()) {
                        continue;
                    }
                    let count = r.moment_count().unwrap();
                    assert!(count >= last, "history shrank: {count} after {last}");
                    last = count;
                    let n = check_moment(r.moment(-1).unwrap(), 500);
                    assert_eq!(n + 1, count, "the newest moment matches the count");
                    seen += 1;
                    if finished {
                        break;
                    }
                }
                assert_eq!(last, 300);
                seen
            }));
        }
        for t in 1..300 {
            commit(&mut db, t, 500);
        }
        done.store(true, Ordering::Release);
        for h in handles {
            assert!(h.join().unwrap() > 0);
        }
    });
    truncated.load(Ordering::Relaxed)
}

#[test]
fn read_only_handles_in_other_threads_see_whole_moments() {
    follow_the_writer(true);
}

#[test]
fn read_only_opens_never_see_a_healthy_writer_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.xdb");
    let mut db = Database::create(&path).unwrap();
    db.set_durability(Durability::None);
    commit_n(&mut db, 0);
    let done = AtomicBool::new(false);
    let errors: std::sync::Mutex<Vec<String>> = Default::default();
    let attempts = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    let r = Database::open_read_only(&path).and_then(|mut r| r.refresh());
                    if let Err(e) = r {
                        errors.lock().unwrap().push(format!("{e:?}"));
                    }
                }
            });
        }
        for t in 1..3000 {
            commit_n(&mut db, t);
        }
        done.store(true, Ordering::Release);
    });
    let errors = errors.into_inner().unwrap();
    assert!(
        errors.is_empty(),
        "{} of {} read-only opens failed, e.g. {:?}",
        errors.len(),
        attempts.load(Ordering::Relaxed),
        errors.first()
    );
}
