//! Crash torture: committed moments survive a `SIGKILL` at any instant.
//!
//! The test binary re-runs itself as a *child* (`crash_child`, selected with
//! `--exact` and the `XITDB_CRASH_CHILD=<seed>,<durability>,<path>` variable)
//! that opens a database file with `Database::open` (which recovers from the
//! previous crash) and runs random, seeded transactions on it forever: puts
//! and removes of random keys with random values (integers, floats, short,
//! long and format-tagged bytes, explicit nulls), nested maps two levels
//! deep, ArrayList appends, overwrites and truncations, LinkedArrayList
//! appends, inserts, removes and slices, a counted set, values streamed
//! through `writer()` (with a seek back and an overwrite), whole structures
//! dropped, undo (`revert_to`), deliberately failing transactions (the
//! closure returns `Err` after writing) and large transactions of 4.5 to
//! 7 MB, so that buffered data reaches the file before the commit (or before
//! the rollback of a failing one). As soon as each commit returns, the child
//! prints `@xitdb committed <moment> .` and flushes stdout; then it checks
//! the moment against its model and prints `@xitdb digest <moment> <digest> .`.
//!
//! The parent reads those lines and kills the child with `SIGKILL`
//! (`Child::kill`) at seeded, random moments: up to 4 ms after it says it is
//! opening the file (while `Database::open` recovers it, or while the child
//! replays its model), after a random delay, during a large transaction, or
//! just after its k-th commit. Then it reopens the file and checks that
//!
//! 1. every reported commit is there (`moment_count` ≥ commits reported),
//!    and at most one more (the transaction in flight may have committed);
//! 2. every moment equals the model: the child's operations (the test kit's
//!    `common::model` ops, which the child also checks against the model as
//!    it applies them) are a pure function of the seed, the moment index
//!    and the model state, so the parent replays them on the model made of
//!    std collections and checks each moment with the kit's `Checker`;
//!    what the moment reads back hashes to the digest the child printed;
//! 3. `xitdb::verify` finds no problem (a problem about lost `full` flags is
//!    counted as a warning only);
//! 4. after a writable open (done by the parent for half the kills, by the
//!    next child otherwise) the file ends exactly at the last commit's
//!    `file_size`, and the next child starts from that moment count;
//! 5. the writable open cleared the history link a crashed append may leave
//!    (FORMAT.md §8.7). It does not always (a known bug, reproduced by the
//!    ignored `crash_recovery_clears_stale_history_link`), so these are only
//!    counted in the summary until `STALE_LINKS_FIXED` is set to true.
//!
//! The history accumulates across kills: each child continues from the
//! reopened state. New moments are checked after every kill, plus a random
//! sample of older ones; every moment is checked again at the end of each
//! database.
//!
//! `Durability::None` is tested too: a process crash must not lose a
//! committed moment even without any fsync, because a commit hands every
//! byte to the operating system (a `write` into the page cache) before it
//! returns, and the kernel keeps the page cache when a process dies. Only a
//! power loss or kernel crash can lose those bytes, and that is what `Full`
//! (and `HeaderOnly`) defend against; a `SIGKILL` cannot test it.
//!
//! Runs:
//!
//! * `crash_torture_short` (part of `cargo test`): 20 kills with
//!   `Durability::Full`, then 8 with `Durability::None`; well under a minute.
//! * `crash_torture_full` (ignored): 200 kills with `Full` (10 databases of
//!   20 kills), 20 with `HeaderOnly` and 40 with `None`; prints a summary
//!   line per durability and a total (about a minute in release). Run it with
//!   `cargo test --release --test crash crash_torture_full -- --ignored --nocapture`
//!   (without the name, `--ignored` also runs the bug reproduction below).
//! * `crash_recovery_clears_stale_history_link` (ignored, fails until the bug
//!   is fixed): the deterministic reproduction of check 5.
//!
//! `XITDB_CRASH_SEED=<u64>` fixes the master seed (otherwise it comes from
//! the clock); every failure message prints it, with the database's seed,
//! the kill number and how the kill was timed, and keeps the database file.
//! A seed replays the same operations and the same kill schedule; where a
//! kill lands inside the child depends on timing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use xitdb::format::Tag;
use xitdb::format::TopHeader;
use xitdb::storage::{FileStorage, Storage};
use xitdb::{Database, Durability, Error};

#[allow(dead_code)]
mod common;
use common::model::{
    apply, apply_model, digest, read, Checker, Data, Fail, Idx, Key, Kind, Model, Op, Patch,
    Scalar, MV,
};
use common::rng::{mix, Rng};

/// Selects the child mode: `<seed>,<durability>,<path>`.
const CHILD_ENV: &str = "XITDB_CRASH_CHILD";
/// Fixes the master seed of the parent.
const SEED_ENV: &str = "XITDB_CRASH_SEED";
/// Prefix of the child's protocol lines (libtest prints its own lines too).
const PREFIX: &str = "@xitdb ";
/// A child that is never killed gives up after this long.
const CHILD_MAX_LIFE: Duration = Duration::from_secs(90);
/// `Database::open` always clears a crashed append's history link, so a
/// stale link after a writable open fails the torture (instead of only
/// being counted, as while that was a bug).
const STALE_LINKS_FIXED: bool = true;
/// How long a kill waits for its trigger before killing anyway.
const TRIGGER_WAIT: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------ the operations

/// Root keys of the large values.
const BIG: [&[u8]; 3] = [b"big0", b"big1", b"big2"];

const ROOT_KEYS: u64 = 48;
const MAP_KEYS: u64 = 40;
const SET_MEMBERS: u64 = 60;
const LIST_CAP: usize = 300;
const LINKED_CAP: usize = 250;
/// One transaction in `BIG_ODDS` is large (and one failing one in
/// `4 * FAIL_ODDS`).
const BIG_ODDS: u64 = 30;
const FAIL_ODDS: u64 = 8;
const REVERT_ODDS: u64 = 40;
/// Total size of a large transaction: above the file storage's 4 MiB
/// append buffer, so part of it reaches the file before the commit.
const BIG_MIN: u64 = 4_500_000;
const BIG_MAX: u64 = 7_000_000;

/// The structures the child uses: three maps (with maps inside), a list, a
/// linked list and a counted set.
fn list() -> &'static [u8] {
    Kind::List.name(0)
}

fn linked() -> &'static [u8] {
    Kind::Linked.name(0)
}

fn structs() -> [&'static [u8]; 6] {
    let maps = Kind::Map.names();
    let set = Kind::CountedSet.name(0);
    [maps[0], maps[1], maps[2], list(), linked(), set]
}

fn root_key(i: u64) -> Key {
    match i {
        0 => Key::of(b""),
        1 => Key::of([0]),
        2 => Key::of("a key longer than the eight bytes of a short value, and then some more"),
        _ => Key::of(format!("k{i}")),
    }
}

fn map_key(r: &mut Rng) -> Key {
    Key::of(format!("n{}", r.below(MAP_KEYS)))
}

fn member(r: &mut Rng) -> Key {
    Key::of(format!("e{}", r.below(SET_MEMBERS)))
}

/// Bytes made from a seed whenever they are needed.
fn gen_data(r: &mut Rng, lo: u64, hi: u64) -> Data {
    let seed = r.next();
    let len = r.range(lo, hi) as usize;
    Data::Seeded { seed, len }
}

fn gen_tag(r: &mut Rng) -> [u8; 2] {
    let t = r.next();
    [t as u8, (t >> 8) as u8]
}

fn gen_scalar(r: &mut Rng) -> Scalar {
    match r.below(100) {
        0..=1 => Scalar::Null,
        2..=21 => Scalar::Uint(if r.chance(1, 2) {
            r.below(1000)
        } else {
            r.next()
        }),
        22..=31 => Scalar::Int(r.next() as i64),
        32..=39 => Scalar::Float(match r.below(8) {
            0 => -0.0,
            1 => f64::INFINITY,
            2 => f64::NAN,
            _ => r.next() as i64 as f64 / 1e6,
        }),
        40..=64 => Scalar::Bytes(gen_data(r, 0, 8)),
        65..=84 => Scalar::Bytes(gen_data(r, 9, 300)),
        85..=93 => Scalar::Bytes(gen_data(r, 300, 20_000)),
        _ => {
            let data = gen_data(r, 0, 64);
            Scalar::Tagged(data, gen_tag(r))
        }
    }
}

/// Bytes streamed through `writer()` in chunks of a random size, then
/// partly written again (the same bytes) after a seek.
fn gen_stream(r: &mut Rng, key: Key, data: Data, tagged: bool) -> Op {
    let tag = tagged.then(|| gen_tag(r));
    let chunk = r.range(1, 300_000) as usize;
    let patch = if r.chance(1, 2) {
        let at = r.next() as usize;
        Patch::Again {
            at,
            len: r.range(1, 100_000) as usize,
        }
    } else {
        Patch::None
    };
    Op::PutStreamed {
        key,
        data,
        chunk,
        patch,
        tag,
    }
}

fn len_of(root: &Model, name: &[u8]) -> usize {
    match root.get(name) {
        Some(MV::List(l) | MV::Linked(l)) => l.len(),
        _ => 0,
    }
}

/// An index into a list of `len > 0` items, sometimes counted from the end.
fn index(r: &mut Rng, len: usize) -> Idx {
    let k = r.below(len as u64) as usize;
    if r.chance(1, 3) {
        Idx::Back(len - 1 - k)
    } else {
        Idx::Front(k)
    }
}

fn gen_list_op(r: &mut Rng, len: usize) -> Op {
    if len > 0 && (len >= LIST_CAP || r.chance(1, 12)) {
        let keep = r.below(len as u64 + 1) as usize;
        Op::ListTruncate { list: 0, keep }
    } else if len > 0 && r.chance(1, 4) {
        let at = index(r, len);
        let value = gen_scalar(r);
        let cursor = r.chance(1, 3);
        Op::ListPut {
            list: 0,
            at,
            value,
            cursor,
        }
    } else {
        let value = gen_scalar(r);
        Op::ListAppend { list: 0, value }
    }
}

fn gen_linked_op(r: &mut Rng, len: usize) -> Op {
    if len == 0 {
        let value = gen_scalar(r);
        return Op::LinkedAppend { list: 0, value };
    }
    let remove = |r: &mut Rng| Op::LinkedRemove {
        list: 0,
        at: index(r, len),
    };
    match r.below(16) {
        0 => {
            let offset = r.below(len as u64);
            let n = r.below(len as u64 - offset + 1) as usize;
            Op::LinkedSlice {
                list: 0,
                offset: offset as usize,
                n,
                past_end: false,
            }
        }
        1..=5 => remove(r),
        _ if len >= LINKED_CAP => remove(r),
        6..=10 => {
            let at = index(r, len);
            let value = gen_scalar(r);
            let cursor = r.chance(1, 3);
            Op::LinkedInsert {
                list: 0,
                at,
                value,
                cursor,
            }
        }
        _ => {
            let value = gen_scalar(r);
            Op::LinkedAppend { list: 0, value }
        }
    }
}

/// One random operation that is valid on `root`.
fn gen_op(r: &mut Rng, root: &Model) -> Op {
    let map = r.below(3) as usize;
    let (key, value) = (map_key(r), gen_scalar(r));
    let sub = r.below(2) as usize;
    match r.below(100) {
        0..=21 => Op::Put(root_key(r.below(ROOT_KEYS)), value),
        22..=29 => Op::Remove(root_key(r.below(ROOT_KEYS))),
        30..=41 => Op::MapPut {
            counted: false,
            map,
            key,
            value,
        },
        42..=45 => Op::MapRemove {
            counted: false,
            map,
            key,
        },
        46..=51 => Op::SubMapPut {
            map,
            sub,
            key,
            value,
        },
        52..=53 => Op::SubMapRemove { map, sub, key },
        54..=63 => gen_list_op(r, len_of(root, list())),
        64..=77 => gen_linked_op(r, len_of(root, linked())),
        78..=84 => Op::SetInsert {
            counted: true,
            set: 0,
            key: member(r),
        },
        85..=87 => Op::SetRemove {
            counted: true,
            set: 0,
            key: member(r),
            by_hash: r.chance(1, 4),
        },
        88..=89 => Op::Remove(Key::of(structs()[r.below(6) as usize])),
        90..=94 => {
            let tagged = r.chance(1, 4);
            let key = root_key(r.below(ROOT_KEYS));
            let data = gen_data(r, 0, 60_000);
            gen_stream(r, key, data, tagged)
        }
        _ => Op::Put(
            root_key(r.below(ROOT_KEYS)),
            Scalar::Bytes(gen_data(r, 20_000, 120_000)),
        ),
    }
}

/// What the transaction for one moment does.
enum Step {
    Ops(&'static str, Vec<Op>),
    Revert(u64),
}

/// Builds a list of operations while applying each to the model.
struct Builder {
    root: Model,
    ops: Vec<Op>,
}

impl Builder {
    fn push(&mut self, op: Op) {
        apply_model(&mut self.root, &op, &[]);
        self.ops.push(op);
    }

    fn random(&mut self, r: &mut Rng) {
        let n = if r.chance(1, 4) {
            r.range(5, 40)
        } else {
            r.range(1, 4)
        };
        for _ in 0..n {
            let op = gen_op(r, &self.root);
            self.push(op);
        }
    }

    /// A few megabytes in one to three values, put or streamed, with
    /// ordinary operations between them.
    fn big(&mut self, r: &mut Rng) {
        let total = r.range(BIG_MIN, BIG_MAX);
        let parts = r.range(1, BIG.len() as u64);
        for (k, name) in BIG.iter().enumerate().take(parts as usize) {
            let len = total / parts;
            let tagged = r.chance(1, 5);
            let data = gen_data(r, len, len);
            if r.chance(1, 2) {
                let op = gen_stream(r, Key::of(name), data, tagged);
                self.push(op);
            } else {
                let value = match tagged {
                    true => Scalar::Tagged(data, gen_tag(r)),
                    false => Scalar::Bytes(data),
                };
                self.push(Op::Put(Key::of(name), value));
            }
            if k + 1 < parts as usize {
                self.random(r);
            }
        }
    }
}

/// The transaction that makes moment `i`, and the model of moment `i`. A
/// pure function of the seed, the index and the models of earlier moments.
fn plan(seed: u64, i: u64, states: &[Model]) -> (Step, Model) {
    let mut r = Rng::derive(&[seed, i, 0]);
    if i > 0 && r.chance(1, REVERT_ODDS) {
        let j = r.below(i);
        return (Step::Revert(j), states[j as usize].clone());
    }
    let mut b = Builder {
        root: states.last().cloned().unwrap_or_default(),
        ops: Vec::new(),
    };
    // large values are short-lived, to keep moments cheap to check
    for name in BIG {
        if b.root.contains_key(name) && r.chance(2, 3) {
            b.push(Op::Remove(Key::of(name)));
        }
    }
    let kind = if r.chance(1, BIG_ODDS) {
        b.big(&mut r);
        "big"
    } else {
        "ops"
    };
    b.random(&mut r);
    (Step::Ops(kind, b.ops), b.root)
}

/// The deliberately failing transaction tried before moment `i`, if any.
fn failing(seed: u64, i: u64, prev: Option<&Model>) -> Option<(&'static str, Vec<Op>)> {
    let mut r = Rng::derive(&[seed, i, 1]);
    if !r.chance(1, FAIL_ODDS) {
        return None;
    }
    let mut b = Builder {
        root: prev.cloned().unwrap_or_default(),
        ops: Vec::new(),
    };
    let kind = if r.chance(1, 4) {
        b.big(&mut r);
        "failbig"
    } else {
        "fail"
    };
    b.random(&mut r);
    Some((kind, b.ops))
}

/// The models of every moment of one database, replayed from its seed.
struct History {
    seed: u64,
    states: Vec<Model>,
}

impl History {
    fn new(seed: u64) -> Self {
        History {
            seed,
            states: Vec::new(),
        }
    }

    fn len(&self) -> u64 {
        self.states.len() as u64
    }

    fn plan_next(&self) -> (Step, Model) {
        plan(self.seed, self.len(), &self.states)
    }

    fn extend_to(&mut self, n: u64) {
        while self.len() < n {
            let (_, state) = self.plan_next();
            self.states.push(state);
        }
    }
}

/// Checks moment `i` of `db` against the model (and the digest the child
/// reported for it, if any); returns the digest of what it reads.
fn check_moment<S: Storage>(
    db: &Database<S>,
    hist: &History,
    i: u64,
    reported: Option<u64>,
) -> Result<u64, String> {
    let c = db
        .moment(i as i64)
        .map_err(|e| format!("moment {i}: {e} ({e:?})"))?;
    let path = format!("moment {i}");
    let map = c.as_map().map_err(|e| format!("{path}: {e} ({e:?})"))?;
    Checker::of(db)
        .map(&map, false, &hist.states[i as usize], &path)
        .map_err(|e| format!("CORRUPT MOMENT: moment {i} differs from the model: {e}"))?;
    let got = read(&c).map_err(|e| format!("{path}: reading it back: {e} ({e:?})"))?;
    let d = digest(&got);
    if let Some(r) = reported {
        if r != d {
            return Err(format!(
                "moment {i}: the child reported digest {r:016x}, it now reads {d:016x}"
            ));
        }
    }
    Ok(d)
}

// ------------------------------------------------------------------ the child

/// Writes one protocol line and flushes it; a parent that is gone ends the child.
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{PREFIX}{line}")
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Full => "full",
        Durability::HeaderOnly => "header-only",
        Durability::None => "none",
    }
}

fn parse_durability(s: &str) -> Option<Durability> {
    [Durability::Full, Durability::HeaderOnly, Durability::None]
        .into_iter()
        .find(|d| durability_name(*d) == s)
}

/// `Database::open`, retried while a dead writer's lock is being released.
fn open_writable(path: &Path) -> Result<Database<FileStorage>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Database::open(path) {
            Err(Error::Locked) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            r => return r.map_err(|e| format!("Database::open: {e} ({e:?})")),
        }
    }
}

/// Runs `ops` in one transaction, applying each to the database and to the
/// model of the moment before (`prev`) and comparing; `fail` aborts it.
fn run_ops(
    db: &mut Database<FileStorage>,
    chk: &Checker,
    prev: Option<&Model>,
    ops: &[Op],
    fail: bool,
) -> Result<(), Fail> {
    let mut m = prev.cloned().unwrap_or_default();
    db.transact(|tx| {
        for (k, op) in ops.iter().enumerate() {
            apply(tx, &mut m, op, &[], chk)
                .map_err(|e| e.context(format_args!("op {k} {op:?}")))?;
        }
        if fail {
            Err(Fail::Deliberate)
        } else {
            Ok(())
        }
    })
}

fn child_run(seed: u64, durability: Durability, path: &Path) -> Result<(), String> {
    let born = Instant::now();
    say(format_args!("opening ."));
    let mut db = open_writable(path)?;
    db.set_durability(durability);
    let chk = Checker::of(&db);
    let mut hist = History::new(seed);
    let n = db
        .moment_count()
        .map_err(|e| format!("moment_count: {e:?}"))?;
    hist.extend_to(n);
    if n > 0 {
        check_moment(&db, &hist, n - 1, None).map_err(|e| format!("after open: {e}"))?;
    }
    // what the recovery in `Database::open` left behind
    let stale = stale_history_link(path)?.is_some();
    say(format_args!("start {n} {} .", u8::from(stale)));
    loop {
        if born.elapsed() > CHILD_MAX_LIFE {
            return Err("never killed: the parent must be gone".into());
        }
        let i = hist.len();
        let e = |what: &str, e: Error| format!("moment {i}: {what}: {e} ({e:?})");
        if let Some((kind, ops)) = failing(seed, i, hist.states.last()) {
            say(format_args!("begin {i} {kind} ."));
            let len = db.len();
            match run_ops(&mut db, &chk, hist.states.last(), &ops, true) {
                Err(Fail::Deliberate) => {}
                other => return Err(format!("moment {i}: a failing transaction gave {other:?}")),
            }
            let count = db.moment_count().map_err(|x| e("moment_count", x))?;
            if db.len() != len || count != i {
                return Err(format!(
                    "moment {i}: a failed transaction left {} bytes (was {len}), {count} moments",
                    db.len()
                ));
            }
        }
        let (step, state) = hist.plan_next();
        match step {
            Step::Ops(kind, ops) => {
                say(format_args!("begin {i} {kind} ."));
                run_ops(&mut db, &chk, hist.states.last(), &ops, false)
                    .map_err(|x| format!("moment {i}: transaction: {x}"))?;
            }
            Step::Revert(j) => {
                say(format_args!("begin {i} revert ."));
                db.revert_to(j as i64).map_err(|x| e("revert_to", x))?;
            }
        }
        hist.states.push(state);
        let count = db.moment_count().map_err(|x| e("moment_count", x))?;
        if count != i + 1 {
            return Err(format!("after commit {i}: {count} moments"));
        }
        say(format_args!("committed {i} ."));
        let d = check_moment(&db, &hist, i, None)?;
        say(format_args!("digest {i} {d:016x} ."));
    }
}

/// Commits 32 moments, then hangs inside the 33rd transaction, after the
/// history append has linked a fresh index block into the committed root
/// block (in place) and while the new block is still in the write buffer.
fn child_link(path: &Path) -> Result<(), String> {
    let born = Instant::now();
    let mut db = open_writable(path)?;
    let count = |db: &Database<_>| db.moment_count().map_err(|e| format!("{e:?}"));
    while count(&db)? < 32 {
        let n = count(&db)?;
        db.transact(|tx| tx.root_map()?.put("n", n))
            .map_err(|e| format!("{e:?}"))?;
    }
    db.transact(|tx| -> Result<(), Error> {
        tx.root_map()?.put("n", 999u64)?;
        say(format_args!("inside ."));
        while born.elapsed() < CHILD_MAX_LIFE {
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Error::InvalidArgument("never killed"))
    })
    .map_err(|e| format!("{e:?}"))
}

/// The child's entry point: a no-op unless the parent selected it.
#[test]
fn crash_child() {
    let Ok(cfg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = cfg.splitn(3, ',');
    let seed = parts.next().and_then(|s| s.parse::<u64>().ok());
    let mode = parts.next().unwrap_or_default();
    let path = parts.next().map(PathBuf::from);
    let outcome = match (seed, parse_durability(mode), path) {
        (Some(_), None, Some(path)) if mode == "link" => child_link(&path),
        (Some(seed), Some(durability), Some(path)) => child_run(seed, durability, &path),
        _ => Err(format!("bad {CHILD_ENV}={cfg}")),
    };
    let msg = match outcome {
        Ok(()) => "the child loop ended".to_string(),
        Err(e) => e,
    };
    eprintln!("XITDB CHILD FAILURE: {msg}");
    std::process::exit(3);
}

// ------------------------------------------------------------------ the parent

/// The child process; killed and reaped when dropped, whatever happens.
struct ChildProc {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    /// Lines that are not protocol lines (libtest's), for diagnostics.
    other: Vec<String>,
    reaped: bool,
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ChildProc {
    /// `mode`: a durability name (the torture loop), or `link` (see
    /// `crash_recovery_clears_stale_history_link`).
    fn spawn(seed: u64, mode: &str, path: &Path) -> Result<ChildProc, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{seed},{mode},{}", path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning the child: {e}"))?;
        let (stdout, mut stderr) = match (child.stdout.take(), child.stderr.take()) {
            (Some(o), Some(e)) => (o, e),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the child has no pipes".into());
            }
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        Ok(ChildProc {
            child,
            lines: rx,
            stderr: Some(stderr),
            other: Vec::new(),
            reaped: false,
        })
    }

    /// Kills (SIGKILL on unix) and reaps the child; true if it was still
    /// running, false if it had already exited by itself.
    fn kill(&mut self) -> Result<bool, String> {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for the child: {e}"))?;
        self.reaped = true;
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            Ok(status.signal() == Some(9))
        }
        #[cfg(not(unix))]
        {
            Ok(status.code() == Some(1) || !status.success())
        }
    }

    /// Everything the child wrote to stderr (after it has died), and its
    /// last non-protocol output lines.
    fn diagnostics(&mut self) -> String {
        let err = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let tail: Vec<&String> = self.other.iter().rev().take(20).rev().collect();
        format!("child stderr:\n{err}\nchild stdout (other lines): {tail:?}")
    }
}

/// A protocol line from the child.
enum Event {
    Opening,
    /// The moment count after opening, and whether a stale history link was
    /// left by the open.
    Start(u64, bool),
    Inside,
    Begin(u64, String),
    Committed(u64),
    Digest(u64, u64),
}

fn parse_line(line: &str) -> Option<Event> {
    // libtest may have written "test crash_child ... " on the same line
    let rest = &line[line.find(PREFIX)? + PREFIX.len()..];
    let words: Vec<&str> = rest.split(' ').collect();
    match words.as_slice() {
        ["start", n, stale, "."] => Some(Event::Start(n.parse().ok()?, *stale == "1")),
        ["inside", "."] => Some(Event::Inside),
        ["begin", i, kind, "."] => Some(Event::Begin(i.parse().ok()?, kind.to_string())),
        ["opening", "."] => Some(Event::Opening),
        ["committed", i, "."] => Some(Event::Committed(i.parse().ok()?)),
        ["digest", i, d, "."] => Some(Event::Digest(
            i.parse().ok()?,
            u64::from_str_radix(d, 16).ok()?,
        )),
        _ => None,
    }
}

/// How a kill is timed: after a trigger (or at once), wait this many
/// microseconds, then kill.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// After the child says it is opening the file: it opens (and recovers)
    /// the file, replays its model and checks the last moment.
    Opening(u64),
    /// After the spawn.
    Delay(u64),
    /// After the next large transaction (or failing large one) begins.
    InBig(u64),
    /// After the child's k-th commit in this life.
    AfterCommit(u64, u64),
}

impl KillAt {
    fn pick(r: &mut Rng) -> KillAt {
        match r.below(100) {
            0..=14 => KillAt::Opening(r.range(0, 4_000)),
            15..=59 => KillAt::Delay(r.range(0, 400_000)),
            60..=79 => KillAt::InBig(r.range(0, 60_000)),
            _ => KillAt::AfterCommit(r.range(1, 25), r.range(0, 3_000)),
        }
    }

    fn slot(&self) -> usize {
        match self {
            KillAt::Opening(_) => 0,
            KillAt::Delay(_) => 1,
            KillAt::InBig(_) => 2,
            KillAt::AfterCommit(..) => 3,
        }
    }

    fn delay(&self) -> Duration {
        match *self {
            KillAt::Opening(d)
            | KillAt::Delay(d)
            | KillAt::InBig(d)
            | KillAt::AfterCommit(_, d) => Duration::from_micros(d),
        }
    }

    /// Whether `ev` (after which the child has made `commits` commits in
    /// this life) is the trigger; always true without one.
    fn triggered(&self, ev: &Event, commits: u64) -> bool {
        match self {
            KillAt::Opening(_) => matches!(ev, Event::Opening),
            KillAt::Delay(_) => true,
            KillAt::InBig(_) => matches!(ev, Event::Begin(_, k) if k == "big" || k == "failbig"),
            KillAt::AfterCommit(k, _) => matches!(ev, Event::Committed(_)) && commits >= *k,
        }
    }
}

#[derive(Default, Debug)]
struct Stats {
    databases: u64,
    kills: u64,
    kills_by_timing: [u64; 4],
    /// Kills that the planned trigger never reached (killed at the deadline).
    triggers_missed: u64,
    commits: u64,
    /// Moments committed by the transaction in flight, never reported.
    unreported_commits: u64,
    /// Transactions begun, by kind (ops, big, revert, fail, failbig).
    begun: BTreeMap<String, u64>,
    moments: u64,
    moment_checks: u64,
    parent_recoveries: u64,
    /// Lives that began with bytes past the last commit (the child's open
    /// had to recover them).
    recoveries_left_to_child: u64,
    /// Of those, lives killed before the open had finished.
    killed_while_opening_to_recover: u64,
    verify_runs: u64,
    verify_warnings: Vec<String>,
    max_file: u64,
    /// Writable opens (by the parent or a child) that left a crashed
    /// append's link in the history (the bug that
    /// `crash_recovery_clears_stale_history_link` reproduces).
    stale_links: u64,
    lives_without_commit: u64,
}

/// One database being tortured.
struct Torture {
    label: String,
    master: u64,
    db_seed: u64,
    durability: Durability,
    path: PathBuf,
    hist: History,
    /// Moments the child reported committed (all lives).
    reported: u64,
    /// Digests the child printed, by moment.
    digests: Vec<Option<u64>>,
    /// Moments present at the last check (all verified).
    known: u64,
    /// The moment count the next child must start from.
    expect_start: u64,
    /// The next moment index the running child should commit.
    next_commit: u64,
    /// Whether the running child has opened the file.
    started: bool,
    rng: Rng,
}

impl Torture {
    fn context(&self, kill: u64, at: Option<KillAt>) -> String {
        format!(
            "[{}] master seed {} (rerun with {SEED_ENV}={}), database seed {}, durability {}, kill {kill}, timing {at:?}, file {}",
            self.label,
            self.master,
            self.master,
            self.db_seed,
            durability_name(self.durability),
            self.path.display()
        )
    }

    fn handle(
        &mut self,
        ev: &Event,
        stats: &mut Stats,
        life_commits: &mut u64,
    ) -> Result<(), String> {
        match *ev {
            Event::Start(n, stale) => {
                if n != self.expect_start {
                    return Err(format!(
                        "the child opened the file with {n} moments, the parent saw {}",
                        self.expect_start
                    ));
                }
                if stale {
                    if STALE_LINKS_FIXED {
                        return Err("the child's Database::open left a stale history link".into());
                    }
                    stats.stale_links += 1;
                }
                self.next_commit = n;
                self.started = true;
            }
            Event::Inside => {}
            Event::Begin(i, ref kind) => {
                if i != self.next_commit {
                    return Err(format!(
                        "the child began moment {i}, expected {}",
                        self.next_commit
                    ));
                }
                *stats.begun.entry(kind.clone()).or_default() += 1;
            }
            Event::Opening => {}
            Event::Committed(i) => {
                if i != self.next_commit {
                    return Err(format!(
                        "the child committed moment {i}, expected {}",
                        self.next_commit
                    ));
                }
                self.reported = i + 1;
                self.next_commit += 1;
                *life_commits += 1;
                stats.commits += 1;
            }
            Event::Digest(i, d) => {
                if i + 1 != self.next_commit {
                    return Err(format!(
                        "the child printed the digest of moment {i}, it last committed {}",
                        self.next_commit as i64 - 1
                    ));
                }
                if self.digests.len() <= i as usize {
                    self.digests.resize(i as usize + 1, None);
                }
                self.digests[i as usize] = Some(d);
            }
        }
        Ok(())
    }

    /// Reads the child's lines until `deadline` or until `stop` says so
    /// (true), failing if the child dies by itself.
    fn pump(
        &mut self,
        proc: &mut ChildProc,
        deadline: Instant,
        stats: &mut Stats,
        life_commits: &mut u64,
        stop: impl Fn(&Event, u64) -> bool,
    ) -> Result<bool, String> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let wait = (deadline - now).min(Duration::from_millis(20));
            match proc.lines.recv_timeout(wait) {
                Ok(line) => match parse_line(&line) {
                    Some(ev) => {
                        self.handle(&ev, stats, life_commits)?;
                        if stop(&ev, *life_commits) {
                            return Ok(true);
                        }
                    }
                    None => proc.other.push(line),
                },
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = proc.child.try_wait() {
                        proc.reaped = true;
                        return Err(format!(
                            "the child exited by itself ({status})\n{}",
                            proc.diagnostics()
                        ));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // stdout closed: the child is exiting
                    let end = Instant::now() + Duration::from_secs(10);
                    while Instant::now() < end {
                        if let Ok(Some(status)) = proc.child.try_wait() {
                            proc.reaped = true;
                            return Err(format!(
                                "the child exited by itself ({status})\n{}",
                                proc.diagnostics()
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    return Err(format!(
                        "the child closed its stdout\n{}",
                        proc.diagnostics()
                    ));
                }
            }
        }
    }

    /// One life of the child: spawn, let it run, kill it. Returns the
    /// commits it reported.
    fn life(&mut self, at: KillAt, stats: &mut Stats) -> Result<u64, String> {
        let mode = durability_name(self.durability);
        let mut proc = ChildProc::spawn(self.db_seed, mode, &self.path)?;
        let spawned = Instant::now();
        let mut commits = 0u64;
        self.next_commit = self.expect_start;
        self.started = false;
        let (len, end) = committed_end(&self.path)?;
        let pending = len > end;
        let reached = match at {
            KillAt::Delay(_) => true,
            _ => self.pump(
                &mut proc,
                spawned + TRIGGER_WAIT,
                stats,
                &mut commits,
                |ev, c| at.triggered(ev, c),
            )?,
        };
        if !reached {
            stats.triggers_missed += 1;
        }
        let deadline = Instant::now() + at.delay();
        self.pump(&mut proc, deadline, stats, &mut commits, |_, _| false)?;
        if !proc.kill()? {
            return Err(format!(
                "the child had exited by itself before the kill\n{}",
                proc.diagnostics()
            ));
        }
        // the lines it wrote before dying
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match proc.lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => match parse_line(&line) {
                    Some(ev) => self.handle(&ev, stats, &mut commits)?,
                    None => proc.other.push(line),
                },
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if Instant::now() < end => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err("the child's stdout stays open after its death".into())
                }
            }
        }
        stats.kills += 1;
        stats.kills_by_timing[at.slot()] += 1;
        if pending {
            stats.recoveries_left_to_child += 1;
            if !self.started {
                stats.killed_while_opening_to_recover += 1;
            }
        }
        if commits == 0 {
            stats.lives_without_commit += 1;
        }
        Ok(commits)
    }

    fn run_verify<S: Storage>(&self, db: &Database<S>, stats: &mut Stats) -> Result<(), String> {
        let report = db
            .verify()
            .map_err(|e| format!("verify failed: {e} ({e:?})"))?;
        stats.verify_runs += 1;
        if let Some(p) = report.problem {
            let what = p.what.to_lowercase();
            if what.contains("full") && what.contains("flag") {
                stats
                    .verify_warnings
                    .push(format!("at {}: {}", p.pos, p.what));
            } else {
                return Err(format!("verify found a problem at {}: {}", p.pos, p.what));
            }
        }
        Ok(())
    }

    /// Checks the file after a kill; returns its moment count.
    fn check_after_kill(&mut self, stats: &mut Stats) -> Result<u64, String> {
        let ro = Database::open_read_only(&self.path)
            .map_err(|e| format!("REOPEN ERROR: read-only open after the kill: {e} ({e:?})"))?;
        let n = ro
            .moment_count()
            .map_err(|e| format!("moment_count: {e:?}"))?;
        let floor = self.known.max(self.reported);
        if n < floor {
            return Err(format!(
                "LOST COMMIT: the child reported {} moments (and {} were verified before), the file has {n}",
                self.reported,
                self.known
            ));
        }
        if n > floor + 1 {
            return Err(format!(
                "{n} moments, but only {floor} were reported: more than the one in flight"
            ));
        }
        if n == floor + 1 {
            stats.unreported_commits += 1;
        }
        self.hist.extend_to(n);
        let mut which: BTreeSet<u64> = (self.known..n).collect();
        for _ in 0..8 {
            if self.known > 0 {
                which.insert(self.rng.below(self.known));
            }
        }
        for i in which {
            let rep = self.digests.get(i as usize).copied().flatten();
            check_moment(&ro, &self.hist, i, rep)?;
            stats.moment_checks += 1;
        }
        self.run_verify(&ro, stats)?;
        drop(ro);
        stats.max_file = stats.max_file.max(file_len(&self.path)?);
        if self.rng.chance(1, 2) {
            // recover here rather than in the next child
            let db = open_writable(&self.path).map_err(|e| format!("REOPEN ERROR: {e}"))?;
            let m = db
                .moment_count()
                .map_err(|e| format!("moment_count: {e:?}"))?;
            if m != n {
                return Err(format!(
                    "a writable open sees {m} moments, read-only saw {n}"
                ));
            }
            if n > 0 {
                let rep = self.digests.get(n as usize - 1).copied().flatten();
                check_moment(&db, &self.hist, n - 1, rep)?;
                stats.moment_checks += 1;
            }
            self.run_verify(&db, stats)?;
            drop(db);
            check_recovered_size(&self.path)?;
            if let Some(link) = stale_history_link(&self.path)? {
                if STALE_LINKS_FIXED {
                    return Err(format!(
                        "Database::open left a stale history link: {link:?}"
                    ));
                }
                stats.stale_links += 1;
            }
            stats.parent_recoveries += 1;
        }
        self.known = n;
        self.expect_start = n;
        Ok(n)
    }

    /// Every moment, once more.
    fn check_all(&mut self, stats: &mut Stats) -> Result<(), String> {
        let ro = Database::open_read_only(&self.path)
            .map_err(|e| format!("REOPEN ERROR: read-only open: {e} ({e:?})"))?;
        let n = ro
            .moment_count()
            .map_err(|e| format!("moment_count: {e:?}"))?;
        if n != self.known {
            return Err(format!(
                "{n} moments at the end, {} after the last kill",
                self.known
            ));
        }
        for i in 0..n {
            let rep = self.digests.get(i as usize).copied().flatten();
            check_moment(&ro, &self.hist, i, rep)?;
            stats.moment_checks += 1;
        }
        self.run_verify(&ro, stats)?;
        Ok(())
    }
}

fn file_len(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `n` bytes at `pos` of the file (fewer at its end).
fn read_file_at(path: &Path, pos: u64, n: usize) -> Result<Vec<u8>, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.seek(SeekFrom::Start(pos))
        .map_err(|e| format!("seek: {e}"))?;
    let mut b = Vec::with_capacity(n);
    f.take(n as u64)
        .read_to_end(&mut b)
        .map_err(|e| format!("read: {e}"))?;
    Ok(b)
}

/// The database header and, for a history, its 24-byte header.
fn headers(path: &Path) -> Result<(xitdb::format::Header, Option<TopHeader>), String> {
    let b = read_file_at(path, 0, 36)?;
    let raw: [u8; 12] = b
        .get(..12)
        .and_then(|b| b.try_into().ok())
        .ok_or("no header")?;
    let header = xitdb::format::Header::decode(raw).map_err(|e| format!("header: {e:?}"))?;
    let top = match header.tag {
        Tag::ArrayList => {
            let raw: [u8; 24] = b
                .get(12..36)
                .and_then(|b| b.try_into().ok())
                .ok_or("no history header")?;
            Some(TopHeader::decode(raw))
        }
        _ => None,
    };
    Ok((header, top))
}

/// The file's length, and where its last commit ends.
fn committed_end(path: &Path) -> Result<(u64, u64), String> {
    let len = file_len(path)?;
    let want = match headers(path)?.1 {
        Some(top) if top.file_size == 0 => 12 + 24 + 144,
        Some(top) => top.file_size,
        None => 12,
    };
    Ok((len, want))
}

/// After a writable open, the file ends exactly where its last commit does.
fn check_recovered_size(path: &Path) -> Result<(), String> {
    let (len, want) = committed_end(path)?;
    if len != want {
        return Err(format!(
            "after a writable open the file has {len} bytes, its last commit ends at {want}"
        ));
    }
    Ok(())
}

/// The history slot that the next append would fill with a fresh index
/// block, if it is set (FORMAT.md §8.7: a crashed append can leave a link
/// there, to a block that was never committed). Read from the raw file.
fn stale_history_link(path: &Path) -> Result<Option<(u64, xitdb::format::Slot)>, String> {
    let Some(top) = headers(path)?.1 else {
        return Ok(None);
    };
    let k = top.size;
    let shift = xitdb::format::list_shift(k + 1);
    if shift > xitdb::format::list_shift(k) {
        return Ok(None); // the next append makes a new root
    }
    let mut block = top.ptr;
    for level in (1..=u32::from(shift)).rev() {
        let pos = block + 9 * ((k >> (4 * level)) & 0xF);
        let raw: [u8; 9] = read_file_at(path, pos, 9)?
            .try_into()
            .map_err(|_| format!("history slot at {pos} is past the end"))?;
        let slot =
            xitdb::format::Slot::decode(raw, pos).map_err(|e| format!("history slot: {e:?}"))?;
        if k & ((1u64 << (4 * level)) - 1) == 0 {
            return Ok((!slot.is_empty()).then_some((pos, slot)));
        }
        if slot.tag != Tag::Index {
            return Err(format!(
                "history slot at {pos} is {slot:?}, not an index block"
            ));
        }
        block = slot.value;
    }
    Ok(None)
}

fn master_seed() -> u64 {
    match std::env::var(SEED_ENV) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_ENV}={s} is not a u64")),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            mix(t ^ u64::from(std::process::id()))
        }
    }
}

/// Tortures `databases` fresh database files with `kills` kills each.
fn torture(label: &str, master: u64, durability: Durability, databases: u64, kills: u64) -> Stats {
    let mut stats = Stats::default();
    let started = Instant::now();
    for d in 0..databases {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("crash.xdb");
        let db_seed = mix(master ^ mix(d + 1) ^ mix(durability_name(durability).len() as u64));
        let mut t = Torture {
            label: label.to_string(),
            master,
            db_seed,
            durability,
            path: path.clone(),
            hist: History::new(db_seed),
            reported: 0,
            digests: Vec::new(),
            known: 0,
            expect_start: 0,
            next_commit: 0,
            started: false,
            rng: Rng::derive(&[master, d, 77]),
        };
        drop(Database::create(&path).expect("create the database"));
        stats.databases += 1;
        let mut outcome = Ok(());
        let mut at = None;
        let mut k = 0;
        while k < kills {
            let when = KillAt::pick(&mut t.rng);
            at = Some(when);
            outcome = t
                .life(when, &mut stats)
                .and_then(|_| t.check_after_kill(&mut stats).map(drop));
            if outcome.is_err() {
                break;
            }
            k += 1;
        }
        if outcome.is_ok() {
            at = None;
            outcome = t.check_all(&mut stats);
        }
        if let Err(e) = outcome {
            let context = t.context(k, at);
            let kept = dir.keep();
            panic!("{context}\n(database kept in {})\n{e}", kept.display());
        }
        stats.moments += t.known;
    }
    let secs = started.elapsed().as_secs_f64();
    let [opening, delay, in_big, after_commit] = stats.kills_by_timing;
    println!(
        "crash torture [{label}, durability {}] seed {master}: {} databases, {} kills (after opening {opening}, \
         after a delay {delay}, in a large transaction {in_big}, after a commit {after_commit}; \
         {} triggers missed), {} commits reported + {} unreported found, {} moments verified \
         ({} moment checks), {} verify runs ({} warnings), {secs:.1} s",
        durability_name(durability),
        stats.databases,
        stats.kills,
        stats.triggers_missed,
        stats.commits,
        stats.unreported_commits,
        stats.moments,
        stats.moment_checks,
        stats.verify_runs,
        stats.verify_warnings.len(),
    );
    println!(
        "  recoveries: {} by the parent, {} by a child ({} killed while opening); {} stale history \
         links left by writable opens (known bug); {} lives without a commit; largest file {} MB",
        stats.parent_recoveries,
        stats.recoveries_left_to_child,
        stats.killed_while_opening_to_recover,
        stats.stale_links,
        stats.lives_without_commit,
        stats.max_file / 1_000_000,
    );
    println!("  transactions begun: {:?}", stats.begun);
    for w in &stats.verify_warnings {
        println!("  verify warning: {w}");
    }
    assert!(
        stats.commits > 0,
        "[{label}] seed {master}: the child never committed anything"
    );
    stats
}

#[test]
fn crash_torture_short() {
    let master = master_seed();
    eprintln!("crash_torture_short: {SEED_ENV}={master}");
    torture("short", master, Durability::Full, 1, 20);
    torture("short", master, Durability::None, 1, 8);
}

#[test]
#[ignore = "long: cargo test --release --test crash crash_torture_full -- --ignored --nocapture"]
fn crash_torture_full() {
    let master = master_seed();
    eprintln!("crash_torture_full: {SEED_ENV}={master}");
    let full = torture("full", master, Durability::Full, 10, 20);
    let header_only = torture("full", master, Durability::HeaderOnly, 1, 20);
    let none = torture("full", master, Durability::None, 2, 20);
    println!(
        "crash torture summary: seed {master}: {} kills, {} commits reported, {} moments verified ({} moment checks)",
        full.kills + header_only.kills + none.kills,
        full.commits + header_only.commits + none.commits,
        full.moments + header_only.moments + none.moments,
        full.moment_checks + header_only.moment_checks + none.moment_checks,
    );
}

/// Reproduces a recovery bug, deterministically: a transaction killed after
/// the history append linked a fresh index block into a committed history
/// block (the 33rd moment links a block into the root), but before any of
/// its buffered appends reached the file. The file then still ends at the
/// last commit's `file_size`, so `Database::open` does not truncate it, and
/// it clears the stale link (FORMAT.md §8.7) only after truncating: the link
/// stays, pointing at the end of the file. This crate's next append ignores
/// it (the fresh-subtree rule), but the reference would follow it.
#[test]
fn crash_recovery_clears_stale_history_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("link.xdb");
    let mut proc = ChildProc::spawn(0, "link", &path).expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match proc.lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if matches!(parse_line(&line), Some(Event::Inside)) => break,
            Ok(line) => proc.other.push(line),
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                let _ = proc.kill();
                panic!(
                    "the child never got inside its transaction\n{}",
                    proc.diagnostics()
                );
            }
        }
    }
    assert!(proc.kill().expect("kill"), "the child exited by itself");
    let before = stale_history_link(&path).expect("read the file");
    assert!(
        before.is_some(),
        "the crash left no link: the scenario changed"
    );
    let db = Database::open(&path).expect("open after the crash");
    assert_eq!(db.moment_count().expect("moment_count"), 32);
    drop(db);
    check_recovered_size(&path).expect("recovered size");
    let after = stale_history_link(&path).expect("read the file");
    assert_eq!(
        after,
        None,
        "Database::open left the crashed append's history link {before:?} (file {} bytes)",
        file_len(&path).unwrap_or(0)
    );
}
