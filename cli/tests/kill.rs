//! Kill -9 against the `xitdb` binary: shell processes committing
//! transactions to a history file and to a root-map file are killed at
//! random instants; every commit the shell reported stays, whole, and
//! `xitdb verify` passes after each kill.
//!
//! Each process is `xitdb shell FILE --wait 30`, fed a script of
//! transactions on standard input: transaction `n` stages `put n <n>` and
//! `put k0 <n>` … `put k15 <n>`, then `commit`, which prints `committed …`
//! (standard output is flushed after every command). The parent kills the
//! process after a random delay of up to 40 ms (`Child::kill`, SIGKILL on
//! Unix) — while it starts, opens and recovers the file, stages, or
//! commits — and then checks:
//!
//! 1. the newest state is whole: `n` and every `k*` agree (a history also
//!    has `n + 1` moments);
//! 2. the last commit reported before the kill is there: `n` is that
//!    commit or the one after it (in flight when the kill came);
//! 3. `xitdb verify FILE` exits 0.
//!
//! `XITDB_LONG=1` raises the kills from 20 to 150 per file kind (the
//! library's `tests/kill.rs` adds 750 in the same `cargo test` run).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xitdb::Database;

const KEYS: u64 = 16;
/// Transactions in one script (the process is killed long before).
const SCRIPT_TXS: u64 = 400;

/// Whether the file is a history or a root map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum File {
    History,
    RootMap,
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// The newest `n` in the file, checked whole.
fn newest(path: &Path, file: File) -> u64 {
    let db = Database::open_read_only(path).unwrap();
    let map = match file {
        File::History => db.moment(-1).unwrap().as_map().unwrap(),
        File::RootMap => db.root().as_map().unwrap(),
    };
    let get = |k: &str| map.get(k.as_bytes()).unwrap().unwrap().as_uint().unwrap();
    let n = get("n");
    for k in 0..KEYS {
        assert_eq!(get(&format!("k{k}")), n, "torn: k{k} differs from n = {n}");
    }
    if file == File::History {
        assert_eq!(db.moment_count().unwrap(), n + 1, "moments for n = {n}");
    }
    n
}

fn script(from: u64) -> String {
    let mut s = String::new();
    for n in from..from + SCRIPT_TXS {
        s.push_str(&format!("put n {n}\n"));
        for k in 0..KEYS {
            s.push_str(&format!("put k{k} {n}\n"));
        }
        s.push_str("commit\n");
    }
    s
}

/// Runs one shell from commit `from` and kills it after `delay`; returns
/// how many commits it reported.
fn life(path: &Path, from: u64, delay: Duration) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xitdb"))
        .args(["shell", path.to_str().unwrap(), "--wait", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = script(from);
    // a writer thread: the shell may die with the pipe full
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("committed"))
            .count() as u64
    });
    let start = Instant::now();
    while start.elapsed() < delay {
        std::hint::spin_loop();
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the shell ended by itself");
    }
    let _ = feeder.join();
    reader.join().unwrap()
}

fn torture(file: File, kills: u64, seed: u64) -> (u64, u64) {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let path = dir.path().join("killed.xdb");
    let mut db = Database::create(&path).unwrap();
    let first = |m: &mut xitdb::MapMut<'_>| -> xitdb::Result<()> {
        m.put("n", 0u64)?;
        (0..KEYS).try_for_each(|k| m.put(format!("k{k}"), 0u64))
    };
    match file {
        File::History => db.transact(|tx| first(&mut tx.root_map()?)).unwrap(),
        File::RootMap => db
            .transact_root(|tx| first(&mut tx.root().hash_map()?))
            .unwrap(),
    }
    drop(db);
    let mut rng = Rng(seed);
    let (mut known, mut commits) = (0u64, 0u64);
    for kill in 0..kills {
        let delay = Duration::from_micros(rng.below(40_000));
        let reported = life(&path, known + 1, delay);
        commits += reported;
        let last = known + reported;
        let n = newest(&path, file);
        assert!(
            n == last || n == last + 1,
            "{file:?}, kill {kill}: commit {last} was reported, the file holds {n}"
        );
        let verify = Command::new(env!("CARGO_BIN_EXE_xitdb"))
            .args(["verify", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{file:?}, kill {kill}: verify: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
        known = n;
    }
    (kills, commits)
}

#[test]
fn shells_killed_at_random_lose_no_reported_commit() {
    let per_file = match std::env::var("XITDB_LONG") {
        Ok(v) if v == "1" => 150,
        _ => 20,
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(11, |d| d.as_nanos() as u64);
    for (i, file) in [File::History, File::RootMap].into_iter().enumerate() {
        let (kills, commits) = torture(file, per_file, seed ^ i as u64);
        eprintln!(
            "kill -9, CLI shell on a {file:?} file (seed {seed}): {kills} kills, \
             {commits} reported commits, 0 lost, 0 torn, verify clean after each"
        );
    }
}
