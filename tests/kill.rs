//! Kill -9 at scale: library writers killed at random instants, history
//! and root-map databases alike, and not one returned commit lost or torn.
//!
//! The test binary re-runs itself as a *child* (`kill_child`, selected with
//! `--exact` and `XITDB_KILL_CHILD=<kind>,<durability>,<path>`) that opens
//! the file with `Database::open_with` (recovering from the previous kill,
//! waiting for the dead writer's lock if need be) and commits forever:
//! commit `n` sets `n` and 24 keys `k0..k23` to `n` and moves a key `x*`
//! (a put and a remove), so every commit rewrites most of a root block.
//! Before each commit the child prints `@xitdb begin <n>`, and as soon as
//! the commit returns `@xitdb committed <n>` (stdout is flushed each time).
//! The kinds: a history (`transact`, one moment per commit), a root
//! `hash_map` and a root `counted_hash_map` (`transact_root`, FORMAT.md
//! §8.8: the root block at offset 12 rewritten through a redo record).
//!
//! The parent kills the child (`Child::kill`, SIGKILL on Unix) after a
//! random delay (often while it opens and recovers the file) or just after
//! its k-th reported commit, reaps it, and checks the file:
//!
//! 1. a read-only open reads a whole state: `n` and every `k*` agree, and
//!    a history has exactly `n + 1` moments, each whole (sampled);
//! 2. no returned commit is lost: `n` is at least the last commit reported
//!    (or checked) before, and at most one more (the commit in flight);
//! 3. `verify` finds no problem, read-only and after a writable open
//!    (done by the parent for every other kill), which must show the same
//!    state.
//!
//! Counts: `kill_minus_9_short` (part of `cargo test`) kills 40 times per
//! kind; with `XITDB_LONG=1` it kills 250 times per kind (750; the CLI's
//! `cli/tests/kill.rs` adds 300 more in the same `cargo test` run). It
//! prints the kills, the commits that returned before a kill, how many
//! kills landed inside a transaction, and the losses (always 0, or the
//! test fails).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use xitdb::storage::Storage;
use xitdb::{Database, Durability, Error, MapMut, MapView, Options};

#[allow(dead_code)]
mod common;
use common::rng::Rng;

const CHILD_ENV: &str = "XITDB_KILL_CHILD";
const MARK: &str = "@xitdb ";
/// Keys set to `n` by every commit.
const KEYS: u64 = 24;
/// A child that is never killed gives up after this long.
const CHILD_MAX_LIFE: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    History,
    RootMap,
    CountedRoot,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::History, Kind::RootMap, Kind::CountedRoot];

    fn name(self) -> &'static str {
        match self {
            Kind::History => "history",
            Kind::RootMap => "root-map",
            Kind::CountedRoot => "counted-root",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

// ------------------------------------------------------------------ the writes

fn edit(m: &mut MapMut<'_>, n: u64) -> xitdb::Result<()> {
    m.put("n", n)?;
    for k in 0..KEYS {
        m.put(format!("k{k}"), n)?;
    }
    m.put(format!("x{}", n % 7), n)?;
    m.remove(format!("x{}", (n + 3) % 7))?;
    Ok(())
}

fn commit<S: Storage>(db: &mut Database<S>, kind: Kind, n: u64) -> xitdb::Result<()> {
    match kind {
        Kind::History => db.transact(|tx| edit(&mut tx.root_map()?, n)),
        Kind::RootMap => db.transact_root(|tx| edit(&mut tx.root().hash_map()?, n)),
        Kind::CountedRoot => db.transact_root(|tx| edit(&mut tx.root().counted_hash_map()?, n)),
    }
}

/// The `n` of a whole state, or why it is not whole.
fn whole(m: &MapView<'_>) -> Result<u64, String> {
    let get = |k: &str| -> Result<u64, String> {
        let v = m.get(k.as_bytes()).map_err(|e| format!("get {k}: {e}"))?;
        let v = v.ok_or(format!("{k} is missing"))?;
        v.as_uint().map_err(|e| format!("{k}: {e}"))
    };
    let n = get("n")?;
    for k in 0..KEYS {
        let v = get(&format!("k{k}"))?;
        if v != n {
            return Err(format!("torn: n = {n} but k{k} = {v}"));
        }
    }
    Ok(n)
}

/// The last commit's `n` (none before the first), checked whole; for a
/// history, `moments` sampled moments are checked too.
fn state<S: Storage>(db: &Database<S>, kind: Kind, rng: &mut Rng) -> Result<Option<u64>, String> {
    let e = |what: &str, e: Error| format!("{what}: {e} ({e:?})");
    if kind != Kind::History {
        let root = db.root();
        if root.is_null() {
            return Ok(None);
        }
        return whole(&root.as_map().map_err(|x| e("root", x))?).map(Some);
    }
    let count = db.moment_count().map_err(|x| e("moment_count", x))?;
    if count == 0 {
        return Ok(None);
    }
    let at = |i: u64| -> Result<u64, String> {
        let c = db.moment(i as i64).map_err(|x| e("moment", x))?;
        whole(&c.as_map().map_err(|x| e("moment map", x))?)
    };
    let n = at(count - 1)?;
    if n + 1 != count {
        return Err(format!("{count} moments but the newest has n = {n}"));
    }
    let i = rng.below(count);
    if at(i)? != i {
        return Err(format!("moment {i} holds another commit"));
    }
    Ok(Some(n))
}

// ------------------------------------------------------------------ the child

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{MARK}{line}");
    let _ = out.flush();
}

fn child_run(kind: Kind, durability: Durability, path: &Path) -> Result<(), String> {
    let born = Instant::now();
    let opts = Options {
        durability,
        lock_wait: Some(Duration::from_secs(30)),
        ..Options::default()
    };
    let mut db = Database::open_with(path, opts).map_err(|e| format!("open: {e:?}"))?;
    let mut rng = Rng(1);
    let mut n = state(&db, kind, &mut rng)?.map_or(0, |n| n + 1);
    while born.elapsed() < CHILD_MAX_LIFE {
        say(format_args!("begin {n}"));
        commit(&mut db, kind, n).map_err(|e| format!("commit {n}: {e:?}"))?;
        say(format_args!("committed {n}"));
        n += 1;
    }
    Err("never killed: the parent must be gone".into())
}

/// The child's entry point: a no-op unless the parent selected it.
#[test]
fn kill_child() {
    let Ok(cfg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = cfg.splitn(3, ',');
    let kind = parts.next().and_then(Kind::parse);
    let durability = match parts.next() {
        Some("full") => Some(Durability::Full),
        Some("none") => Some(Durability::None),
        _ => None,
    };
    let outcome = match (kind, durability, parts.next()) {
        (Some(k), Some(d), Some(p)) => child_run(k, d, Path::new(p)),
        _ => Err(format!("bad {CHILD_ENV}={cfg}")),
    };
    eprintln!("XITDB KILL CHILD FAILURE: {outcome:?}");
    std::process::exit(3);
}

// ------------------------------------------------------------------ the parent

/// What the child said, as far as the parent read it.
#[derive(Default)]
struct Heard {
    /// The last commit reported as returned.
    committed: Option<u64>,
    /// A `begin` without its `committed`: killed inside a transaction.
    in_flight: bool,
    commits: u64,
}

impl Heard {
    fn hear(&mut self, line: &str) {
        let Some(rest) = line.find(MARK).map(|i| &line[i + MARK.len()..]) else {
            return;
        };
        if rest.starts_with("begin ") {
            self.in_flight = true;
        } else if let Some(n) = rest.strip_prefix("committed ") {
            self.committed = n.trim().parse().ok();
            self.in_flight = false;
            self.commits += 1;
        }
    }
}

fn spawn(kind: Kind, durability: &str, path: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_child", "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!("{},{durability},{}", kind.name(), path.display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Runs one child and kills it: after `delay`, or once it reported
/// `after` commits. Returns what it said.
fn life(kind: Kind, durability: &str, path: &Path, rng: &mut Rng) -> Heard {
    let (mut child, rx) = spawn(kind, durability, path);
    let mut heard = Heard::default();
    let start = Instant::now();
    let (delay, after) = match rng.below(3) {
        0 => (Duration::from_micros(rng.below(15_000)), None),
        _ => (Duration::from_secs(60), Some(rng.below(12))),
    };
    while start.elapsed() < delay {
        match rx.recv_timeout(Duration::from_micros(200)) {
            Ok(line) => heard.hear(&line),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if after.is_some_and(|k| heard.commits > k) {
            break;
        }
    }
    // a little further into the next commit, sometimes
    let spin = Instant::now() + Duration::from_micros(rng.below(400));
    while Instant::now() < spin {}
    let _ = child.kill();
    let status = child.wait().unwrap();
    for line in rx.iter() {
        heard.hear(&line);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        assert_eq!(status.signal(), Some(9), "the child died by itself: {err}");
    }
    heard
}

#[derive(Default, Debug)]
struct Tally {
    kills: u64,
    commits: u64,
    in_flight: u64,
    verified: u64,
    lost: u64,
    torn: u64,
}

/// Checks the file after a kill, given the last commit known before it;
/// returns the commit the file holds now.
fn check(kind: Kind, path: &Path, known: Option<u64>, t: &mut Tally, rng: &mut Rng) -> Option<u64> {
    let reader = match Database::open_read_only(path) {
        Ok(r) => r,
        // killed before the first child made the file, or wrote its header
        Err(Error::Io(e)) if known.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
            return None
        }
        Err(Error::TooShort { len: 0 }) if known.is_none() => return None,
        Err(e) => panic!("{} after kill {}: open: {e:?}", kind.name(), t.kills),
    };
    let seen = match state(&reader, kind, rng) {
        Ok(s) => s,
        Err(e) => {
            t.torn += 1;
            panic!("{} after kill {}: {e}", kind.name(), t.kills);
        }
    };
    let ok = match (known, seen) {
        (None, None) | (None, Some(0)) => true,
        (Some(k), Some(s)) => s == k || s == k + 1,
        _ => false,
    };
    if !ok {
        t.lost += 1;
        panic!(
            "{} after kill {}: {known:?} returned, the file holds {seen:?}",
            kind.name(),
            t.kills
        );
    }
    let report = reader.verify().unwrap();
    assert!(
        report.is_ok(),
        "verify after kill {}: {:?}",
        t.kills,
        report.problem
    );
    t.verified += 1;
    if rng.below(2) == 0 {
        let writer = Database::open(path).unwrap();
        assert_eq!(
            state(&writer, kind, rng).unwrap(),
            seen,
            "a writable open changed the state"
        );
        assert!(
            writer.verify().unwrap().is_ok(),
            "verify after a writable open"
        );
        t.verified += 1;
    }
    seen
}

fn tmp_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

fn torture(kind: Kind, kills: u64, seed: u64) -> Tally {
    let dir = tmp_dir();
    let path: PathBuf = dir.path().join(format!("{}.xdb", kind.name()));
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    let mut known: Option<u64> = None;
    for _ in 0..kills {
        let durability = if rng.below(2) == 0 { "full" } else { "none" };
        let heard = life(kind, durability, &path, &mut rng);
        t.kills += 1;
        t.commits += heard.commits;
        t.in_flight += u64::from(heard.in_flight);
        known = heard.committed.or(known);
        known = check(kind, &path, known, &mut t, &mut rng);
    }
    t
}

fn kills_per_kind() -> u64 {
    match std::env::var("XITDB_LONG") {
        Ok(v) if v == "1" => 250,
        _ => 40,
    }
}

#[test]
fn kill_minus_9_short() {
    let seed = std::env::var("XITDB_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            t.map_or(7, |d| d.as_nanos() as u64)
        });
    let mut total = Tally::default();
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let t = torture(kind, kills_per_kind(), seed ^ i as u64);
        eprintln!("kill -9, {} (seed {seed}): {t:?}", kind.name());
        total.kills += t.kills;
        total.commits += t.commits;
        total.in_flight += t.in_flight;
        total.verified += t.verified;
        total.lost += t.lost;
        total.torn += t.torn;
    }
    eprintln!("kill -9, library total: {total:?}");
    assert_eq!((total.lost, total.torn), (0, 0));
    assert_eq!(total.kills, 3 * kills_per_kind());
}
