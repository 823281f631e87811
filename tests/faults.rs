//! Fault injection: sweeps that put a fault at every position of a
//! transaction, through the test kit's storage wrapper that fails on demand
//! (`common::storage::FaultyStorage`).
//!
//! The wrapper's faults (short writes, ENOSPC, failing fsyncs, crashes that
//! tear a call and record what would be on disk), what keeps failing after
//! one fired, and what a crash image holds are described in that module.
//! The operating system's page cache is **not** simulated: whatever was
//! handed to the OS counts as on disk, whatever the `Durability`. So with
//! `Durability::None` the crash image equals what was written, which is what
//! a process crash leaves, not what a power loss leaves. A separate
//! power-loss model (`power_loss`, memory inner) keeps only the bytes synced
//! so far plus a subset of the later writes: `Durability::Full` must survive
//! every such subset; `HeaderOnly` and `None` do not promise to, and their
//! failures are only counted.
//!
//! Tears and sectors. A crash tears a write at a random byte, except the
//! writes of a commit's headers (offsets 0 and 12, inside the first 512-byte
//! sector): the sweeps treat those as atomic, as a disk writing whole sectors
//! does. `torn_commit_writes_are_described` tears them at every byte and
//! records what a reopen shows; for a history that shows states mixing two
//! commits (`bug_torn_history_header_mixes_states`); a root map's commit,
//! which overwrites its root block in place after making a redo record
//! durable (FORMAT.md §8.8), must reopen to the new state at every cut.
//! `root_map_commits_survive_a_crash_at_every_byte` tears every write of a
//! root-map commit at every byte, and
//! `read_only_opens_of_crashed_root_maps_agree_with_recovery` checks that a
//! read-only open (which does not recover) reads the same state.
//!
//! The checks, for every fault at every position, in every scenario (the
//! first transaction, a later one, the 17th moment whose history root grows,
//! the 33rd whose new leaf is linked into a committed block,
//! `truncate_history`, root-map transactions) and every `Durability`:
//! * the call that hit the fault returns an error, never panics;
//! * the same handle, once the fault is cleared, commits new transactions;
//! * a reopen (a new database over the stored bytes, or over the crash
//!   image) shows exactly the last committed state — or, for a fault at or
//!   after the commit point (the header write; for a root map, the append
//!   of its redo record), possibly the new state, and only the new state
//!   for a crash once the commit point is in the file; never a mix; and it
//!   commits a further transaction;
//! * with a fault that stops after firing (the rollback runs cleanly), the
//!   bytes are those from before the transaction, byte for byte, the commit
//!   itself included (FORMAT.md §8.5).
//!
//! Writes of the 12-byte header and the 24-byte history header are treated
//! as atomic, as on a disk that writes 512-byte sectors whole (both lie in
//! the first sector). A byte-level tear inside them can leave a state that
//! is neither the old nor the new one, and the format, shared with the
//! reference, has no checksum to detect it; `torn_commit_writes_are_described`
//! records those outcomes without asserting them.
//!
//! Two constants (`TOLERATE_HEAL_HEADER_BUG`, `RECOVERY_STALE_LINK_BUG`)
//! once let the sweeps step around bugs since fixed; they stay false so the
//! sweeps assert the fixed behaviour.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use xitdb::storage::{FileStorage, MemoryStorage, Storage};
use xitdb::{Database, Durability, Error, MapMut, MapView, Options};

#[allow(dead_code)]
mod common;
use common::rng::Rng;
use common::storage::{
    lock, overwrite, After, Call, CallKind, Ctl, Fault, FaultKind, FaultyStorage, Hit, Pending,
    DATABASE_START,
};
use xitdb::format::REDO_LEN;

/// Known bug (see `bug_transaction_after_failed_rollback_uses_stale_header`):
/// after the rollback of a database's first commit failed, the next
/// transaction on the handle may fail once. While true, the sweeps retry that transaction once and count it;
/// set to false when the bug is fixed.
const TOLERATE_HEAL_HEADER_BUG: bool = false;

const MODES: [Durability; 3] = [Durability::Full, Durability::HeaderOnly, Durability::None];

// ============================================================== backends

/// Makes inner storages holding given bytes, and gets the bytes back.
trait Backend {
    type S: Storage;
    const NAME: &'static str;
    /// A writable storage holding `image`, and the file behind it.
    fn make(&self, image: &[u8]) -> (Self::S, Option<PathBuf>);
    /// The bytes a closed storage holds (for a file: its content on disk).
    fn close(&self, s: Self::S, path: Option<&Path>) -> Vec<u8>;
}

struct Mem;

impl Backend for Mem {
    type S = MemoryStorage;
    const NAME: &'static str = "memory";
    fn make(&self, image: &[u8]) -> (MemoryStorage, Option<PathBuf>) {
        (MemoryStorage::from_vec(image.to_vec()), None)
    }
    fn close(&self, s: MemoryStorage, _: Option<&Path>) -> Vec<u8> {
        s.into_vec()
    }
}

struct Files {
    dir: tempfile::TempDir,
    n: AtomicUsize,
}

impl Files {
    /// Files go to tmpfs where there is one: fsync costs nothing there, and
    /// the sweeps do not model the page cache anyway.
    fn new() -> Self {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir())
        } else {
            tempfile::tempdir()
        };
        Files {
            dir: dir.expect("temp dir"),
            n: AtomicUsize::new(0),
        }
    }
}

impl Backend for Files {
    type S = FileStorage;
    const NAME: &'static str = "file";
    fn make(&self, image: &[u8]) -> (FileStorage, Option<PathBuf>) {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("f{n}.xdb"));
        std::fs::write(&path, image).expect("write image");
        let s = FileStorage::open(&path).expect("open file storage");
        (s, Some(path))
    }
    fn close(&self, s: FileStorage, path: Option<&Path>) -> Vec<u8> {
        drop(s);
        let path = path.expect("a file storage has a path");
        let bytes = std::fs::read(path).expect("read file");
        let _ = std::fs::remove_file(path);
        bytes
    }
}

// ================================================================ the model

type Moment = BTreeMap<String, u64>;
/// Every moment of a history, or the one root map of a root-map database
/// (none when the database is empty).
type State = Vec<Moment>;

/// The edits of transaction number `step`: puts (new keys, overwrites) and a remove.
fn edits(step: u64) -> Vec<(String, Option<u64>)> {
    let mut e = vec![
        ("n".to_string(), Some(step)),
        (format!("k{step}"), Some(step * 10)),
    ];
    for j in 0..4 {
        e.push((format!("w{}", (step * 5 + j) % 23), Some(step * 100 + j)));
    }
    if step >= 3 {
        e.push((format!("k{}", step - 2), None));
    }
    e
}

fn edit_model(m: &Moment, step: u64) -> Moment {
    let mut m = m.clone();
    for (k, v) in edits(step) {
        match v {
            Some(v) => {
                m.insert(k, v);
            }
            None => {
                m.remove(&k);
            }
        }
    }
    m
}

fn edit_map(m: &mut MapMut<'_>, step: u64) -> xitdb::Result<()> {
    for (k, v) in edits(step) {
        match v {
            Some(v) => m.put(&k, v)?,
            None => {
                m.remove(&k)?;
            }
        }
    }
    Ok(())
}

/// What a scenario's faulted operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// `db.transact`: a new moment.
    History,
    /// `db.transact_root` on a root-map database.
    Root,
    /// `db.truncate_history(n)`.
    TruncateHistory(u64),
}

impl Work {
    fn is_root(self) -> bool {
        self == Work::Root
    }
}

/// The state after transaction `step` (history: a new moment; root: the map changes).
fn model_step(root: bool, s: &State, step: u64) -> State {
    let last = s.last().cloned().unwrap_or_default();
    let next = edit_model(&last, step);
    if root {
        vec![next]
    } else {
        let mut s = s.clone();
        s.push(next);
        s
    }
}

fn run_step<S: Storage>(db: &mut Database<S>, root: bool, step: u64) -> xitdb::Result<()> {
    if root {
        db.transact_root(|tx| edit_map(&mut tx.root().hash_map()?, step))
    } else {
        db.transact(|tx| edit_map(&mut tx.root_map()?, step))
    }
}

fn run_work<S: Storage>(db: &mut Database<S>, work: Work, step: u64) -> xitdb::Result<()> {
    match work {
        Work::History => run_step(db, false, step),
        Work::Root => run_step(db, true, step),
        Work::TruncateHistory(n) => db.truncate_history(n),
    }
}

fn read_map(m: &MapView<'_>) -> xitdb::Result<Moment> {
    m.iter()
        .map(|e| {
            let e = e?;
            Ok((e.key()?.as_str()?, e.value()?.as_uint()?))
        })
        .collect()
}

fn read_state<S: Storage>(db: &Database<S>, root: bool) -> xitdb::Result<State> {
    if root {
        let c = db.root();
        if c.is_null() {
            return Ok(Vec::new());
        }
        Ok(vec![read_map(&c.as_map()?)?])
    } else {
        (0..db.moment_count()?)
            .map(|i| read_map(&db.moment(i as i64)?.as_map()?))
            .collect()
    }
}

// ============================================================= scenarios

#[derive(Clone, Copy, Debug)]
struct Scenario {
    name: &'static str,
    work: Work,
    /// Transactions committed before the faulted one.
    before: u64,
}

const HISTORY: [Scenario; 5] = [
    Scenario {
        name: "first transaction",
        work: Work::History,
        before: 0,
    },
    Scenario {
        name: "fourth moment",
        work: Work::History,
        before: 3,
    },
    Scenario {
        name: "17th moment (history root grows)",
        work: Work::History,
        before: 16,
    },
    Scenario {
        name: "33rd moment (new leaf linked into the committed root)",
        work: Work::History,
        before: 32,
    },
    Scenario {
        name: "truncate_history(3) of 20 moments (shallower root)",
        work: Work::TruncateHistory(3),
        before: 20,
    },
];

const ROOT: [Scenario; 2] = [
    Scenario {
        name: "first root-map transaction",
        work: Work::Root,
        before: 0,
    },
    Scenario {
        name: "third root-map transaction",
        work: Work::Root,
        before: 2,
    },
];

/// A scenario made ready: the bytes before the faulted operation, the state
/// they hold, the state it makes, and the calls it makes when nothing fails.
struct Prepared {
    sc: Scenario,
    mode: Durability,
    image: Vec<u8>,
    old: State,
    new: State,
    /// The faulted operation's step number (its edits).
    step: u64,
    clean: Vec<Call>,
    /// Index of the first write at or below offset 12 (the commit's header
    /// writes), and of the last one: the commit point.
    first_header: Option<usize>,
    publish: Option<usize>,
    /// A root-map commit's redo record (FORMAT.md §8.8): the index of its
    /// append, and of the first flush after it, which hands it to the file.
    record: Option<(usize, usize)>,
}

fn opts(mode: Durability) -> Options {
    Options {
        durability: mode,
        ..Options::default()
    }
}

fn prepare(sc: Scenario, mode: Durability) -> Prepared {
    let root = sc.work.is_root();
    let mut db = Database::memory();
    let mut old = State::new();
    for step in 1..=sc.before {
        run_step(&mut db, root, step).expect("setup transaction");
        old = model_step(root, &old, step);
    }
    let image = db.into_bytes();
    let step = sc.before + 1;
    let new = match sc.work {
        Work::History | Work::Root => model_step(root, &old, step),
        Work::TruncateHistory(n) => old.iter().take(n as usize).cloned().collect(),
    };
    // The clean run, for the calls it makes.
    let ctl = Ctl::default();
    let store = FaultyStorage::new(MemoryStorage::from_vec(image.clone()), ctl.clone());
    let mut db = Database::open_storage(store, opts(mode)).expect("open");
    assert_eq!(read_state(&db, root).expect("read"), old, "{}", sc.name);
    lock(&ctl).arm(None);
    run_work(&mut db, sc.work, step).expect("clean run");
    assert_eq!(read_state(&db, root).expect("read"), new, "{}", sc.name);
    let clean = lock(&ctl).calls.clone();
    let header = |c: &Call| c.op == CallKind::WriteAt && c.pos <= DATABASE_START;
    let first_header = clean.iter().position(header);
    let publish = clean.iter().rposition(header);
    let record = redo_record(&clean, first_header);
    Prepared {
        sc,
        mode,
        image,
        old,
        new,
        step,
        clean,
        first_header,
        publish,
        record,
    }
}

/// Where a root-map commit appends its redo record (the last append before
/// the first header write, of the record's length) and the first flush
/// after it.
fn redo_record(clean: &[Call], first_header: Option<usize>) -> Option<(usize, usize)> {
    let before = clean.get(..first_header?)?;
    let r = before.iter().rposition(|c| c.op == CallKind::Append)?;
    if before[r].len != REDO_LEN {
        return None;
    }
    let f = r + before[r..].iter().position(|c| c.op == CallKind::Flush)?;
    Some((r, f))
}

/// Which outcomes a reopen may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allowed {
    Old,
    Either,
    New,
}

impl Prepared {
    fn root(&self) -> bool {
        self.sc.work.is_root()
    }

    /// The states a reopen may show after a fault at call `index` that kept
    /// `cut` bytes. A crash keeps every earlier call (no page cache), so
    /// after the commit point completed only the new state is right; a
    /// fault whose rollback failed may leave either.
    fn allowed(&self, hit: Hit, crash: bool) -> Allowed {
        let (Some(first), Some(publish)) = (self.first_header, self.publish) else {
            return Allowed::Old;
        };
        if let Some((record, flushed)) = self.record {
            // The commit point is the record on disk: before it the old
            // state, once it is in the file the new one (the next open
            // writes the root again), in between either.
            return if hit.index < record {
                Allowed::Old
            } else if crash && hit.index > flushed {
                Allowed::New
            } else {
                Allowed::Either
            };
        }
        if hit.index < first {
            Allowed::Old
        } else if crash && hit.index > publish {
            Allowed::New
        } else if crash && hit.index == publish && hit.cut == 0 {
            Allowed::Old
        } else if crash && hit.index == publish && hit.cut == hit.call.len {
            Allowed::New
        } else {
            Allowed::Either
        }
    }

    /// The state after the follow-up transaction, from `s`.
    fn follow(&self, s: &State) -> State {
        model_step(self.root(), s, self.step + 1000)
    }

    /// Checks that `got` is allowed; describes it when it is not.
    fn check(
        &self,
        got: &xitdb::Result<State>,
        allowed: Allowed,
        what: &str,
    ) -> Result<State, String> {
        let got = match got {
            Ok(s) => s,
            Err(e) => return Err(format!("{what}: read failed: {e}")),
        };
        let ok = match allowed {
            Allowed::Old => *got == self.old,
            Allowed::New => *got == self.new,
            Allowed::Either => *got == self.old || *got == self.new,
        };
        if ok {
            Ok(got.clone())
        } else {
            Err(format!(
                "{what}: expected {allowed:?} state; got {} moments (old {}, new {}){}",
                got.len(),
                self.old.len(),
                self.new.len(),
                describe_mix(got, &self.old, &self.new)
            ))
        }
    }
}

/// Which moments of `got` match neither state, as "; moments 3, 4 match neither".
fn describe_mix(got: &State, old: &State, new: &State) -> String {
    let odd: Vec<String> = got
        .iter()
        .enumerate()
        .filter(|(i, m)| old.get(*i) != Some(*m) && new.get(*i) != Some(*m))
        .map(|(i, _)| i.to_string())
        .collect();
    if odd.is_empty() {
        String::new()
    } else {
        format!("; moments {} match neither", odd.join(", "))
    }
}

// ============================================================== one run

/// What a sweep found, for the summary.
#[derive(Default, Debug)]
struct Stats {
    runs: u64,
    fired: u64,
    /// Power losses in modes that do not promise to survive them, by outcome.
    unasserted: BTreeMap<String, u64>,
    /// Positions swept (fault fired), by kind of fault.
    positions: BTreeMap<String, u64>,
    /// Follow-up transactions that failed once after a failed rollback
    /// (see [`TOLERATE_HEAL_HEADER_BUG`]).
    heal_header_bug: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.runs += o.runs;
        self.fired += o.fired;
        self.heal_header_bug += o.heal_header_bug;
        for (k, v) in &o.unasserted {
            *self.unasserted.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.positions {
            *self.positions.entry(k.clone()).or_default() += v;
        }
    }
}

/// Opens a new database over `image` (a crash image or stored bytes), reads
/// its state, commits a follow-up transaction, and reopens once more.
/// Returns the state first seen, or a description of what went wrong.
fn reopen_and_continue<B: Backend>(
    b: &B,
    p: &Prepared,
    image: &[u8],
    allowed: Allowed,
    what: &str,
) -> Result<State, String> {
    let (s, path) = b.make(image);
    let mut db = match Database::open_storage(s, opts(p.mode)) {
        Ok(db) => db,
        Err(e) => return Err(format!("{what}: reopen failed: {e}")),
    };
    let seen = p.check(&read_state(&db, p.root()), allowed, what)?;
    run_step(&mut db, p.root(), p.step + 1000)
        .map_err(|e| format!("{what}: follow-up transaction failed: {e}"))?;
    let after = p.follow(&seen);
    let got = read_state(&db, p.root()).map_err(|e| format!("{what}: {e}"))?;
    if got != after {
        return Err(format!("{what}: the follow-up transaction is not visible"));
    }
    let bytes = b.close(db.into_storage(), path.as_deref());
    let (s, path) = b.make(&bytes);
    let db = Database::open_storage(s, opts(p.mode))
        .map_err(|e| format!("{what}: second reopen failed: {e}"))?;
    let got = read_state(&db, p.root()).map_err(|e| format!("{what}: {e}"))?;
    if got != after {
        return Err(format!(
            "{what}: the follow-up transaction did not survive a reopen"
        ));
    }
    drop(b.close(db.into_storage(), path.as_deref()));
    Ok(seen)
}

/// Runs the faulted operation with `fault` armed and checks everything.
/// Returns whether the fault fired, or what went wrong.
fn run_one<B: Backend>(
    b: &B,
    p: &Prepared,
    fault: Fault,
    stats: &mut Stats,
) -> Result<bool, String> {
    stats.runs += 1;
    let root = p.root();
    let (inner, path) = b.make(&p.image);
    let ctl = Ctl::default();
    {
        let mut plan = lock(&ctl);
        plan.disk = path.clone();
        plan.atomic_header = fault.cut.is_none();
        plan.rolls_back = !matches!(p.sc.work, Work::TruncateHistory(_));
        plan.track_sync = fault.kind == FaultKind::Crash && path.is_none();
    }
    let store = FaultyStorage::new(inner, ctl.clone());
    let mut db = Database::open_storage(store, opts(p.mode)).map_err(|e| format!("open: {e}"))?;
    {
        let mut plan = lock(&ctl);
        plan.arm(Some(fault));
        if plan.track_sync {
            plan.synced = p.image.clone();
            plan.pending.clear();
        }
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| run_work(&mut db, p.sc.work, p.step)));
    let result = match outcome {
        Ok(r) => r,
        Err(_) => return Err("the faulted operation panicked".into()),
    };
    let hit = lock(&ctl).hit;
    let Some(hit) = hit else {
        // The operation made fewer counted calls than k: it must have worked.
        result.map_err(|e| format!("failed without a fault: {e}"))?;
        p.check(
            &read_state(&db, root),
            Allowed::New,
            "same handle, no fault",
        )?;
        let bytes = b.close(db.into_storage().into_inner(), path.as_deref());
        reopen_and_continue(b, p, &bytes, Allowed::New, "reopen, no fault")?;
        return Ok(false);
    };
    stats.fired += 1;
    if result.is_ok() {
        return Err(format!("the fault at {hit:?} was swallowed: Ok returned"));
    }
    if fault.kind == FaultKind::Crash {
        // The dead handle keeps answering with errors.
        let again = catch_unwind(AssertUnwindSafe(|| run_step(&mut db, root, 7777)));
        match again {
            Ok(Ok(())) => return Err("a transaction on a crashed storage succeeded".into()),
            Ok(Err(_)) => {}
            Err(_) => return Err("a transaction on a crashed storage panicked".into()),
        }
        drop(db);
        let (image, power) = {
            let mut plan = lock(&ctl);
            (plan.image.take(), plan.power.take())
        };
        let image = image.ok_or("no crash image")?;
        if let Some(path) = &path {
            let _ = std::fs::remove_file(path);
        }
        reopen_and_continue(b, p, &image, p.allowed(hit, true), "reopen after a crash")?;
        if let Some((synced, pending)) = power {
            power_loss(b, p, hit, &synced, &pending, fault.seed, stats)?;
        }
        return Ok(true);
    }

    // A fault without a crash: the handle lives on.
    let allowed = p.allowed(hit, false);
    // truncate_history is no transaction: it rewrites the history header
    // in place and has no undo (FORMAT.md §8.9). It may leave the old or
    // the new history, never a mix.
    let rolls_back = !matches!(p.sc.work, Work::TruncateHistory(_));
    if fault.after == After::Nothing && rolls_back {
        // The rollback ran without faults: every byte is back.
        let now = db.storage().logical();
        if now != p.image {
            return Err(format!(
                "rollback is not byte-exact: {} bytes, expected {}{}",
                now.len(),
                p.image.len(),
                first_difference(&now, &p.image)
            ));
        }
        if let Some(path) = &path {
            let disk = std::fs::read(path).map_err(|e| e.to_string())?;
            if disk != p.image {
                return Err(format!(
                    "the file differs after the rollback{}",
                    first_difference(&disk, &p.image)
                ));
            }
        }
        p.check(
            &read_state(&db, root),
            Allowed::Old,
            "same handle after rollback",
        )?;
    } else {
        // The rollback itself failed (or there was none). The handle still
        // reads a whole state, and so would a process that died now.
        p.check(
            &read_state(&db, root),
            allowed,
            "same handle, failed rollback",
        )?;
        let image = match &path {
            Some(path) => std::fs::read(path).map_err(|e| e.to_string())?,
            None => db.storage().logical(),
        };
        reopen_and_continue(
            b,
            p,
            &image,
            allowed,
            "process dies after a failed rollback",
        )?;
        // A transaction while the storage still fails: an error, no panic.
        if fault.after == After::Everything {
            let again = catch_unwind(AssertUnwindSafe(|| run_step(&mut db, root, 8888)));
            match again {
                Ok(Ok(())) => return Err("a transaction on a failing storage succeeded".into()),
                Ok(Err(_)) => {}
                Err(_) => return Err("a transaction on a failing storage panicked".into()),
            }
        }
    }
    lock(&ctl).clear();
    // The same handle commits again.
    let follow = catch_unwind(AssertUnwindSafe(|| run_step(&mut db, root, p.step + 1000)));
    match follow {
        Ok(Ok(())) => {}
        Ok(Err(e))
            if TOLERATE_HEAL_HEADER_BUG && fault.after != After::Nothing && p.sc.before == 0 =>
        {
            // bug_transaction_after_failed_rollback_uses_stale_header: the
            // first transaction after the heal fails; the next one works.
            run_step(&mut db, root, p.step + 1000).map_err(|e2| {
                format!("the same handle cannot commit after the fault: {e}, then {e2}")
            })?;
            stats.heal_header_bug += 1;
        }
        Ok(Err(e)) => {
            return Err(format!(
                "the same handle cannot commit after the fault: {e}"
            ))
        }
        Err(_) => return Err("the follow-up transaction panicked".into()),
    }
    let seen = read_state(&db, root).map_err(|e| format!("same handle after follow-up: {e}"))?;
    let from_old = p.follow(&p.old);
    let from_new = p.follow(&p.new);
    let ok = match allowed {
        Allowed::Old => seen == from_old,
        Allowed::New => seen == from_new,
        Allowed::Either => seen == from_old || seen == from_new,
    };
    if !ok {
        return Err(format!(
            "same handle after follow-up: expected {allowed:?} + follow-up; got {} moments",
            seen.len()
        ));
    }
    // The stored bytes reopen to the same state.
    let logical = db.storage().logical();
    let bytes = b.close(db.into_storage().into_inner(), path.as_deref());
    if bytes != logical {
        return Err("the file does not hold the storage's bytes after a commit".into());
    }
    let (s, path) = b.make(&bytes);
    let db2 = Database::open_storage(s, opts(p.mode)).map_err(|e| format!("reopen: {e}"))?;
    let got = read_state(&db2, root).map_err(|e| format!("reopen: {e}"))?;
    if got != seen {
        return Err("reopen differs from what the same handle saw".into());
    }
    drop(b.close(db2.into_storage(), path.as_deref()));
    Ok(true)
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!(", first difference at byte {i}"),
        None => String::new(),
    }
}

/// Describes what a reopen of `image` shows: "old", "new" (each also
/// taking a follow-up transaction), or how it fails.
fn torn_outcome<B: Backend>(b: &B, p: &Prepared, image: &[u8]) -> String {
    let (s, path) = b.make(image);
    let label = match catch_unwind(AssertUnwindSafe(|| {
        Database::open_storage(s, opts(p.mode)).map(|db| {
            let state = read_state(&db, p.root());
            drop(db);
            state
        })
    })) {
        Err(_) => "PANIC".to_string(),
        Ok(Err(e)) => format!("open fails ({})", error_kind(&e)),
        Ok(Ok(Err(e))) => format!("reads fail ({})", error_kind(&e)),
        Ok(Ok(Ok(s))) if s == p.old || s == p.new => {
            let which = if s == p.old { "old" } else { "new" };
            match reopen_and_continue(b, p, image, Allowed::Either, "torn") {
                Ok(_) => which.to_string(),
                Err(e) => format!("{which}, but then: {e}"),
            }
        }
        Ok(Ok(Ok(s))) => format!("mixed state{}", describe_mix(&s, &p.old, &p.new)),
    };
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
    label
}

/// Crashes the operation at its commit write (the last header write) with
/// every cut from 0 to its length; returns the reopen outcome per cut.
fn torn_publish_table<B: Backend>(b: &B, p: &Prepared) -> Vec<(u64, String)> {
    let k = p.publish.expect("the operation writes a header");
    let len = p.clean.get(k).map_or(0, |c| c.len);
    (0..=len)
        .map(|cut| {
            let fault = Fault {
                op: None,
                k: k as u64,
                kind: FaultKind::Crash,
                after: After::Nothing,
                seed: 0,
                cut: Some(cut),
            };
            let (inner, path) = b.make(&p.image);
            let ctl = Ctl::default();
            lock(&ctl).disk = path.clone();
            let store = FaultyStorage::new(inner, ctl.clone());
            let mut db = Database::open_storage(store, opts(p.mode)).expect("open");
            lock(&ctl).arm(Some(fault));
            assert!(run_work(&mut db, p.sc.work, p.step).is_err());
            drop(db);
            let image = lock(&ctl).image.take().expect("crashed");
            if let Some(path) = path {
                let _ = std::fs::remove_file(path);
            }
            (cut, torn_outcome(b, p, &image))
        })
        .collect()
}

/// "0..=7: old; 8..=23: open fails (Truncated); 24: new".
fn summarize(table: &[(u64, String)]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < table.len() {
        let mut j = i;
        while j + 1 < table.len() && table[j + 1].1 == table[i].1 {
            j += 1;
        }
        let range = if i == j {
            format!("{}", table[i].0)
        } else {
            format!("{}..={}", table[i].0, table[j].0)
        };
        out.push(format!("{range}: {}", table[i].1));
        i = j + 1;
    }
    out.join("; ")
}

fn error_kind(e: &Error) -> String {
    let s = format!("{e:?}");
    s.split([' ', '(', '{']).next().unwrap_or("").to_string()
}

/// Power-loss model (memory inner, crash faults): the synced bytes plus a
/// random subset of the writes made since the last sync. With
/// `Durability::Full` the data is synced before the header is written, so
/// any subset must reopen to the old state, or — once the header write is
/// among the pending ones — to the old or the new state. `HeaderOnly` and
/// `None` promise nothing of the kind (their failures are only counted).
fn power_loss<B: Backend>(
    b: &B,
    p: &Prepared,
    hit: Hit,
    synced: &[u8],
    pending: &[Pending],
    seed: u64,
    stats: &mut Stats,
) -> Result<(), String> {
    let header_pending = pending
        .iter()
        .any(|w| matches!(w, Pending::Write(pos, _) if *pos <= DATABASE_START));
    // A root map's redo record may be synced or pending from its append on.
    let record_written = p.record.is_some_and(|(r, _)| hit.index >= r);
    let publish_synced = p.publish.is_some_and(|k| hit.index > k) && !header_pending;
    let allowed = if publish_synced && p.mode == Durability::Full {
        Allowed::New
    } else if header_pending || record_written {
        Allowed::Either
    } else {
        Allowed::Old
    };
    let mut rng = Rng(seed ^ 0xA5A5_5A5A ^ hit.index as u64);
    // Subsets: nothing, everything but the appends, and a few random ones.
    let mut subsets: Vec<Vec<bool>> = vec![
        vec![false; pending.len()],
        pending
            .iter()
            .map(|w| matches!(w, Pending::Write(pos, _) if (*pos as usize) < synced.len()))
            .collect(),
    ];
    for _ in 0..2 {
        subsets.push(pending.iter().map(|_| rng.below(2) == 1).collect());
    }
    for keep in subsets {
        let mut img = synced.to_vec();
        for (w, k) in pending.iter().zip(keep) {
            if !k {
                continue;
            }
            match w {
                Pending::Write(pos, data) => overwrite(&mut img, *pos, data),
                Pending::Truncate(n) => img.resize(*n as usize, 0),
            }
        }
        stats.runs += 1;
        let r = reopen_and_continue(b, p, &img, allowed, "reopen after a power loss");
        match (p.mode, r) {
            (_, Ok(_)) => {}
            (Durability::Full, Err(e)) => return Err(e),
            (_, Err(e)) => {
                let why = e.split(": ").nth(1).unwrap_or("").to_string();
                *stats
                    .unasserted
                    .entry(format!("power loss, {:?}: {why}", p.mode))
                    .or_default() += 1;
            }
        }
    }
    Ok(())
}

// ============================================================== sweeps

/// How the sweeps of one kind are set up.
#[derive(Clone, Copy, Debug)]
struct Sweep {
    op: Option<CallKind>,
    kind: FaultKind,
    after: After,
}

/// Puts `sweep`'s fault at every counted call of the operation (k = 0, 1, …
/// until the operation completes without meeting it), for each cut seed.
fn sweep_positions<B: Backend>(
    b: &B,
    p: &Prepared,
    sweep: Sweep,
    seeds: &[u64],
    stats: &mut Stats,
) {
    let expected = p
        .clean
        .iter()
        .filter(|c| sweep.op.is_none_or(|op| op == c.op))
        .count() as u64;
    let mut k = 0u64;
    loop {
        let mut fired = false;
        for &seed in seeds {
            // a different cut at each position
            let seed = match seed {
                0 => 0,
                s => s ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            };
            let fault = Fault {
                op: sweep.op,
                k,
                kind: sweep.kind,
                after: sweep.after,
                seed,
                cut: None,
            };
            match run_one(b, p, fault, stats) {
                Ok(f) => fired |= f,
                Err(e) => panic!(
                    "{} / {} / {:?}: fault {:?} at call {k} ({:?}): {e}",
                    B::NAME,
                    p.sc.name,
                    p.mode,
                    sweep,
                    p.clean
                        .iter()
                        .filter(|c| sweep.op.is_none_or(|op| op == c.op))
                        .nth(k as usize)
                ),
            }
        }
        if !fired {
            break;
        }
        k += 1;
        assert!(k <= expected + 1, "the sweep outran the clean run's calls");
    }
    assert_eq!(
        k, expected,
        "{}: a fault fired at every counted call",
        p.sc.name
    );
    let op = sweep
        .op
        .map_or("any call".to_string(), |op| format!("{op:?}"));
    let after = match sweep.after {
        After::Nothing => String::new(),
        a => format!(", then {a:?} fails"),
    };
    *stats
        .positions
        .entry(format!("{:?} at {op}{after}", sweep.kind))
        .or_default() += k;
}

/// Every scenario × durability × sweep, on one backend.
fn sweep_all<B: Backend>(b: &B, scenarios: &[Scenario], sweeps: &[Sweep], seeds: &[u64]) -> Stats {
    let start = Instant::now();
    let mut total = Stats::default();
    for &sc in scenarios {
        for mode in MODES {
            let p = prepare(sc, mode);
            for &sweep in sweeps {
                let mut stats = Stats::default();
                sweep_positions(b, &p, sweep, seeds, &mut stats);
                total.add(&stats);
            }
        }
    }
    let mut out = format!(
        "{}: {} runs, {} faults fired, {:.1?}; follow-ups hit by the heal header bug: {}",
        B::NAME,
        total.runs,
        total.fired,
        start.elapsed(),
        total.heal_header_bug,
    );
    for (sweep, n) in &total.positions {
        out.push_str(&format!("\n  {sweep}: {n} positions"));
    }
    for (what, n) in &total.unasserted {
        out.push_str(&format!("\n  not asserted: {what}: {n}"));
    }
    eprintln!("{out}");
    total
}

fn all_scenarios() -> Vec<Scenario> {
    HISTORY.iter().chain(ROOT.iter()).copied().collect()
}

const SHORT_SWEEPS: [Sweep; 6] = [
    Sweep {
        op: Some(CallKind::Append),
        kind: FaultKind::Short,
        after: After::Nothing,
    },
    Sweep {
        op: Some(CallKind::WriteAt),
        kind: FaultKind::Short,
        after: After::Nothing,
    },
    Sweep {
        op: Some(CallKind::Append),
        kind: FaultKind::Short,
        after: After::Everything,
    },
    Sweep {
        op: Some(CallKind::WriteAt),
        kind: FaultKind::Short,
        after: After::Everything,
    },
    Sweep {
        op: Some(CallKind::Append),
        kind: FaultKind::Short,
        after: After::Only(CallKind::Truncate),
    },
    Sweep {
        op: Some(CallKind::WriteAt),
        kind: FaultKind::Short,
        after: After::Only(CallKind::WriteAt),
    },
];

fn no_space_sweeps() -> Vec<Sweep> {
    let mut v = Vec::new();
    // (A transaction that works never truncates: truncates fail in the
    // rollback sweeps below and in `faults_during_recovery`.)
    for op in [
        CallKind::Append,
        CallKind::WriteAt,
        CallKind::Flush,
        CallKind::Sync,
    ] {
        for after in [After::Nothing, After::Everything] {
            v.push(Sweep {
                op: Some(op),
                kind: FaultKind::NoSpace,
                after,
            });
        }
    }
    // Rollbacks that fail part way: the undo writes, the cut, the flush.
    for then in [CallKind::WriteAt, CallKind::Truncate, CallKind::Flush] {
        v.push(Sweep {
            op: None,
            kind: FaultKind::NoSpace,
            after: After::Only(then),
        });
    }
    v
}

fn sync_sweeps() -> Vec<Sweep> {
    let mut v = Vec::new();
    for flushed in [true, false] {
        for after in [
            After::Nothing,
            After::Everything,
            After::Only(CallKind::Sync),
        ] {
            v.push(Sweep {
                op: Some(CallKind::Sync),
                kind: FaultKind::SyncFails { flushed },
                after,
            });
        }
    }
    v
}

const CRASH_SWEEP: [Sweep; 1] = [Sweep {
    op: None,
    kind: FaultKind::Crash,
    after: After::Nothing,
}];

/// Crash seeds: 0 (a crash just before the call) and a random cut.
const CRASH_SEEDS: [u64; 2] = [0, 0x5EED];

// ================================================================= tests

#[test]
fn faulty_storage_forwards_and_fails_on_demand() {
    let ctl = Ctl::default();
    let mut s = FaultyStorage::new(MemoryStorage::new(), ctl.clone());
    s.append(b"hello").unwrap();
    lock(&ctl).arm(Some(Fault {
        op: Some(CallKind::Append),
        k: 1,
        kind: FaultKind::Short,
        after: After::Nothing,
        seed: 3,
        cut: None,
    }));
    s.append(b"abc").unwrap();
    assert!(s.append(b"0123456789").is_err());
    let hit = lock(&ctl).hit.unwrap();
    assert_eq!(hit.index, 1);
    assert!(hit.cut < 10);
    assert_eq!(s.len(), 8 + hit.cut);
    s.append(b"!").unwrap(); // one-shot
                             // ENOSPC on the first write_at, then every call fails until cleared
    lock(&ctl).arm(Some(Fault {
        op: Some(CallKind::WriteAt),
        k: 0,
        kind: FaultKind::NoSpace,
        after: After::Everything,
        seed: 0,
        cut: None,
    }));
    s.flush().unwrap();
    match s.write_at(0, b"H") {
        Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(28)),
        other => panic!("{other:?}"),
    }
    assert!(s.truncate(1).is_err() && s.sync().is_err());
    lock(&ctl).clear();
    s.truncate(5).unwrap();
    assert_eq!(s.logical(), b"hello");
    // fsync fails after flushing
    lock(&ctl).arm(Some(Fault {
        op: Some(CallKind::Sync),
        k: 0,
        kind: FaultKind::SyncFails { flushed: true },
        after: After::Nothing,
        seed: 0,
        cut: None,
    }));
    match s.sync() {
        Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(5)),
        other => panic!("{other:?}"),
    }
    // a torn in-place write, then the machine is gone
    lock(&ctl).arm(Some(Fault {
        op: None,
        k: 0,
        kind: FaultKind::Crash,
        after: After::Nothing,
        seed: 99,
        cut: None,
    }));
    assert!(s.write_at(1, b"ELLO").is_err());
    let (image, hit) = {
        let mut plan = lock(&ctl);
        (plan.image.take().unwrap(), plan.hit.unwrap())
    };
    let mut expected = b"hello".to_vec();
    expected[1..1 + hit.cut as usize].copy_from_slice(&b"ELLO"[..hit.cut as usize]);
    assert_eq!(image, expected);
    assert!(s.read_at(0, &mut [0u8; 1]).is_err() && s.append(b"x").is_err());
    assert!(s.direct().is_empty());

    // A file inner: a crash loses the buffered appends, and a torn flush
    // keeps a prefix of them.
    let files = Files::new();
    let (inner, path) = files.make(b"0123");
    let ctl = Ctl::default();
    lock(&ctl).disk = path.clone();
    let mut s = FaultyStorage::new(inner, ctl.clone());
    s.append(b"4567").unwrap();
    lock(&ctl).arm(Some(Fault {
        op: None,
        k: 1,
        kind: FaultKind::Crash,
        after: After::Nothing,
        seed: 7,
        cut: None,
    }));
    s.write_at(0, b"AB").unwrap();
    assert!(s.flush().is_err());
    let (image, hit) = {
        let mut plan = lock(&ctl);
        (plan.image.take().unwrap(), plan.hit.unwrap())
    };
    assert_eq!(&image[..4], b"AB23");
    assert_eq!(&image[4..], &b"4567"[..hit.cut as usize]);
}

#[test]
fn short_writes_memory() {
    let stats = sweep_all(&Mem, &all_scenarios(), &SHORT_SWEEPS, &[0x51]);
    assert!(stats.fired > 0);
}

#[test]
fn short_writes_file() {
    let stats = sweep_all(&Files::new(), &all_scenarios(), &SHORT_SWEEPS, &[0x52]);
    assert!(stats.fired > 0);
}

#[test]
fn no_space_memory() {
    let stats = sweep_all(&Mem, &all_scenarios(), &no_space_sweeps(), &[0]);
    assert!(stats.fired > 0);
}

#[test]
fn no_space_file() {
    let stats = sweep_all(&Files::new(), &all_scenarios(), &no_space_sweeps(), &[0]);
    assert!(stats.fired > 0);
}

#[test]
fn failing_fsync_memory() {
    let stats = sweep_all(&Mem, &all_scenarios(), &sync_sweeps(), &[0]);
    assert!(stats.fired > 0);
}

#[test]
fn failing_fsync_file() {
    let stats = sweep_all(&Files::new(), &all_scenarios(), &sync_sweeps(), &[0]);
    assert!(stats.fired > 0);
}

#[test]
fn crashes_memory() {
    let stats = sweep_all(&Mem, &all_scenarios(), &CRASH_SWEEP, &CRASH_SEEDS);
    assert!(stats.fired > 0);
}

#[test]
fn crashes_file() {
    let stats = sweep_all(&Files::new(), &all_scenarios(), &CRASH_SWEEP, &CRASH_SEEDS);
    assert!(stats.fired > 0);
}

/// A write torn inside a commit's header (byte-granular tearing, which a
/// disk that writes 512-byte sectors atomically never does): what a reopen
/// shows for every cut. A cut of 0 must show the old state, a full write the
/// new one, and nothing may panic; in between, histories are checked by
/// `bug_torn_history_header_mixes_states`. A root-map commit that rewrites
/// its root block has its redo record on disk before that write (FORMAT.md
/// §8.8), so every cut must show the new state
/// (`root_map_commits_survive_a_crash_at_every_byte` tears every other
/// write too). Seen when this was written (`--nocapture` prints the table):
///
/// * history header (24 bytes, `{size, ptr, file_size}`): cuts 0..=7 keep
///   the old state; cuts 8..=23 give the new size with the old or a
///   half-written pointer or `file_size`: the open fails (`Corrupt`,
///   `OutOfBounds`, `Truncated`) or the newest moment fails to read;
/// * `truncate_history`'s 16 bytes: cuts 8..=15 give the new size with the
///   old root: every moment fails to read (`UnexpectedTag`);
/// * a root map's first commit writes only the tag byte: old, then new;
/// * a later root-map commit rewrites the 144-byte root block: every cut
///   (0..=144) reopens to the new state, the open finishing the write.
///   (Before the redo record, cuts past the first changed slot gave roots
///   that failed to read or read as a map equal to neither state.)
#[test]
fn torn_commit_writes_are_described() {
    for sc in all_scenarios() {
        let p = prepare(sc, Durability::Full);
        let table = torn_publish_table(&Mem, &p);
        eprintln!("{}: {}", sc.name, summarize(&table));
        assert!(table.iter().all(|(_, o)| !o.contains("PANIC")));
        if p.record.is_some() {
            assert!(table.iter().all(|(_, o)| o == "new"), "{}", sc.name);
            continue;
        }
        assert_eq!(
            table.first().map(|t| t.1.as_str()),
            Some("old"),
            "{}",
            sc.name
        );
        assert_eq!(
            table.last().map(|t| t.1.as_str()),
            Some("new"),
            "{}",
            sc.name
        );
    }
}

/// Root-map commits (FORMAT.md §8.8) crashed at every call they make, each
/// torn at every byte (a flush at every byte of what it writes), on memory
/// and on files, in every durability mode: the reopen shows the old or the
/// new state — the new one once the redo record reached the file — and
/// takes a further commit. On memory each crash also runs the power-loss
/// model (`Full` asserted). The sector-atomic header writes of the other
/// sweeps are torn here too.
#[test]
fn root_map_commits_survive_a_crash_at_every_byte() {
    let mem = tear_every_byte(&Mem);
    let files = tear_every_byte(&Files::new());
    eprintln!(
        "root-map commits, crash at every write position and byte: memory {} positions \
         ({} runs with power-loss images), file {} positions",
        mem.fired, mem.runs, files.fired
    );
    for (what, n) in &mem.unasserted {
        eprintln!("  not asserted: {what}: {n}");
    }
    assert!(mem.fired > 0 && files.fired > 0);
}

/// Bytes a crash in call `k` can tear: its data, or for a flush or sync the
/// appends buffered since the last one (a truncate: whether it happened).
fn tearable(clean: &[Call], k: usize) -> u64 {
    let Some(call) = clean.get(k) else { return 0 };
    match call.op {
        CallKind::Append | CallKind::WriteAt => call.len,
        CallKind::Truncate => 1,
        CallKind::Flush | CallKind::Sync => clean[..k]
            .iter()
            .rev()
            .take_while(|c| !matches!(c.op, CallKind::Flush | CallKind::Sync))
            .filter(|c| c.op == CallKind::Append)
            .map(|c| c.len)
            .sum(),
    }
}

fn tear_every_byte<B: Backend>(b: &B) -> Stats {
    let mut stats = Stats::default();
    for sc in ROOT {
        for mode in MODES {
            let p = prepare(sc, mode);
            for k in 0..p.clean.len() {
                for cut in 0..=tearable(&p.clean, k) {
                    let fault = Fault {
                        op: None,
                        k: k as u64,
                        kind: FaultKind::Crash,
                        after: After::Nothing,
                        seed: 0x7EA2 ^ cut,
                        cut: Some(cut),
                    };
                    match run_one(b, &p, fault, &mut stats) {
                        Ok(true) => {}
                        Ok(false) => panic!("{}: no crash at call {k}", sc.name),
                        Err(e) => panic!(
                            "{} / {} / {mode:?}: crash at call {k} ({:?}) cut {cut}: {e}",
                            B::NAME,
                            sc.name,
                            p.clean[k]
                        ),
                    }
                }
            }
        }
    }
    stats
}

/// A read-only open does not recover a file, yet after a crash at any call
/// and byte of a root-map commit it reads what a writable open recovers: a
/// commit past its commit point is read from the root copy its redo record
/// names (FORMAT.md §8.8), and `verify` finds the bytes sound.
#[test]
fn read_only_opens_of_crashed_root_maps_agree_with_recovery() {
    let mut images = 0u64;
    for sc in ROOT {
        let p = prepare(sc, Durability::Full);
        for k in 0..p.clean.len() {
            for cut in 0..=tearable(&p.clean, k) {
                let image = crash_memory(&p, k, 0, Some(cut));
                let read_only = Database::from_slice(&image).expect("read-only open");
                let seen = read_state(&read_only, true).expect("read-only read");
                let report = read_only.verify().expect("verify");
                assert!(
                    report.is_ok(),
                    "{}: call {k} cut {cut}: {:?}",
                    sc.name,
                    report.problem
                );
                let recovered = Database::from_bytes(image.clone()).expect("writable open");
                let want = read_state(&recovered, true).expect("read");
                assert_eq!(seen, want, "{}: call {k} cut {cut}", sc.name);
                images += 1;
            }
        }
    }
    eprintln!("{images} crash images read alike read-only and after recovery");
}

/// The root's kind and its keys (or members), sorted.
fn root_keys<S: Storage>(db: &Database<S>) -> xitdb::Result<(String, Vec<String>)> {
    let root = db.root();
    let entries = match root.tag() {
        xitdb::format::Tag::HashSet => root.as_set()?.iter(),
        _ => root.as_map()?.iter(),
    };
    let mut keys = entries
        .map(|e| e?.key()?.as_str())
        .collect::<xitdb::Result<Vec<_>>>()?;
    keys.sort();
    Ok((root.tag().to_string(), keys))
}

/// A root-map commit that changes the root's kind (a hash_map becomes a
/// hash_set, which takes the same space) writes the root over offset 12 and
/// then the tag into the header: crashed at every call and every byte, a
/// read-only open and a writable open both show the old map or the new
/// set, never the new root under the old tag.
#[test]
fn a_root_kind_change_survives_a_crash_at_every_byte() {
    let mut db = Database::memory();
    db.transact_root(|tx| {
        let mut m = tx.root().hash_map()?;
        (0..20).try_for_each(|i| m.put(format!("k{i}"), i as u64))
    })
    .unwrap();
    let old = root_keys(&db).unwrap();
    let image = db.into_bytes();
    let change = |db: &mut Database<FaultyStorage<MemoryStorage>>| {
        db.transact_root(|tx| {
            tx.root().write(())?;
            let mut set = tx.root().hash_set()?;
            (0..5).try_for_each(|i| set.insert(format!("m{i}")).map(drop))
        })
    };
    let ctl = Ctl::default();
    let mut db = Database::open_storage(
        FaultyStorage::new(MemoryStorage::from_vec(image.clone()), ctl.clone()),
        Options::default(),
    )
    .unwrap();
    lock(&ctl).arm(None);
    change(&mut db).unwrap();
    let new = root_keys(&db).unwrap();
    assert_eq!(new.0, "hash_set");
    let clean = lock(&ctl).calls.clone();
    let mut positions = 0u64;
    for k in 0..clean.len() {
        for cut in 0..=tearable(&clean, k) {
            let ctl = Ctl::default();
            let store = FaultyStorage::new(MemoryStorage::from_vec(image.clone()), ctl.clone());
            let mut db = Database::open_storage(store, Options::default()).unwrap();
            lock(&ctl).arm(Some(Fault {
                op: None,
                k: k as u64,
                kind: FaultKind::Crash,
                after: After::Nothing,
                seed: 0,
                cut: Some(cut),
            }));
            assert!(change(&mut db).is_err());
            drop(db);
            let crashed = lock(&ctl).image.take().expect("crashed");
            let seen = root_keys(&Database::from_slice(&crashed).unwrap()).unwrap();
            let recovered = root_keys(&Database::from_bytes(crashed).unwrap()).unwrap();
            assert!(seen == old || seen == new, "call {k} cut {cut}: {seen:?}");
            assert_eq!(seen, recovered, "call {k} cut {cut}");
            positions += 1;
        }
    }
    eprintln!("a root kind change crashed at {positions} positions");
}

/// Crash images of `p`'s operation crashed at every call before its commit
/// point (just before the call, and torn part way): their recovery has
/// work to do.
fn crash_images_before_commit(p: &Prepared) -> Vec<Vec<u8>> {
    let mut images = Vec::new();
    for k in 0..p.first_header.unwrap_or(p.clean.len()) {
        for seed in CRASH_SEEDS {
            images.push(crash_memory(p, k, seed ^ k as u64, None));
        }
    }
    images
}

/// The crash image of `p`'s operation on memory, crashed at call `k` (the
/// cut chosen by `seed`, or forced).
fn crash_memory(p: &Prepared, k: usize, seed: u64, cut: Option<u64>) -> Vec<u8> {
    let ctl = Ctl::default();
    let store = FaultyStorage::new(MemoryStorage::from_vec(p.image.clone()), ctl.clone());
    let mut db = Database::open_storage(store, opts(p.mode)).expect("open");
    lock(&ctl).arm(Some(Fault {
        op: None,
        k: k as u64,
        kind: FaultKind::Crash,
        after: After::Nothing,
        seed,
        cut,
    }));
    assert!(run_work(&mut db, p.sc.work, p.step).is_err());
    drop(db);
    let image = lock(&ctl).image.take().expect("crashed");
    image
}

/// Opens `image` with `fault` armed from the start. Returns whether the open
/// succeeded, whether the fault fired, and the bytes left behind (those of
/// the crash for a crash).
fn open_with_fault(image: &[u8], mode: Durability, fault: Option<Fault>) -> (bool, bool, Vec<u8>) {
    let ctl = Ctl::default();
    {
        let mut plan = lock(&ctl);
        plan.keep_on_drop = true;
        plan.atomic_header = true;
        plan.rolls_back = true;
        plan.arm(fault);
    }
    let store = FaultyStorage::new(MemoryStorage::from_vec(image.to_vec()), ctl.clone());
    let opened = catch_unwind(AssertUnwindSafe(|| {
        Database::open_storage(store, opts(mode)).map(drop)
    }))
    .expect("open panicked");
    let mut plan = lock(&ctl);
    let bytes = match plan.image.take() {
        Some(crash) => crash,
        None => plan.dropped.take().expect("bytes at drop"),
    };
    (opened.is_ok(), plan.hit.is_some(), bytes)
}

/// Faults during recovery (the truncate, the unlink of a stale history
/// link, the sync) at every position: the open fails with an error, and a
/// later open recovers the same bytes an uninterrupted recovery gives.
#[test]
fn faults_during_recovery() {
    let (mut runs, mut stale) = (0, 0);
    for sc in [HISTORY[1], HISTORY[2], HISTORY[3], HISTORY[0]] {
        let p = prepare(sc, Durability::Full);
        for image in crash_images_before_commit(&p) {
            let (ok, _, clean) = open_with_fault(&image, p.mode, None);
            assert!(ok, "{}: recovery", sc.name);
            let calls = {
                let ctl = Ctl::default();
                lock(&ctl).arm(None);
                let store = FaultyStorage::new(MemoryStorage::from_vec(image.clone()), ctl.clone());
                drop(Database::open_storage(store, opts(p.mode)).expect("open"));
                let n = lock(&ctl).calls.len();
                n
            };
            let kinds = [
                (FaultKind::NoSpace, After::Nothing, 0),
                (FaultKind::NoSpace, After::Everything, 0),
                (FaultKind::Short, After::Nothing, 0x77),
                (FaultKind::Crash, After::Nothing, 0),
                (FaultKind::Crash, After::Nothing, 0x99),
            ];
            for k in 0..calls {
                for (kind, after, seed) in kinds {
                    runs += 1;
                    let fault = Fault {
                        op: None,
                        k: k as u64,
                        kind,
                        after,
                        seed,
                        cut: None,
                    };
                    let (ok, fired, left) = open_with_fault(&image, p.mode, Some(fault));
                    assert!(
                        fired && !ok,
                        "{}: a fault in recovery fails the open",
                        sc.name
                    );
                    // a later open, with nothing failing
                    let (ok, _, again) = open_with_fault(&left, p.mode, None);
                    assert!(ok, "{}: reopen after a fault in recovery", sc.name);
                    let what = format!(
                        "{}: {kind:?}/{after:?} at recovery call {k} of {calls}",
                        sc.name
                    );
                    reopen_and_continue(&Mem, &p, &again, Allowed::Old, &what)
                        .unwrap_or_else(|e| panic!("{e}"));
                    if RECOVERY_STALE_LINK_BUG
                        && again != clean
                        && only_a_slot_differs(&again, &clean)
                    {
                        stale += 1;
                        continue;
                    }
                    assert!(
                        again == clean,
                        "{what}: recovered bytes differ from an uninterrupted recovery{}",
                        first_difference(&again, &clean)
                    );
                }
            }
        }
    }
    eprintln!(
        "faults during recovery: {runs} runs; {stale} left a stale history link \
         (RECOVERY_STALE_LINK_BUG)"
    );
}

/// Known bug (see `bug_interrupted_recovery_leaves_a_stale_history_link`):
/// while true, `faults_during_recovery` accepts recovered bytes that differ
/// from an uninterrupted recovery in one 9-byte slot, and counts them; set
/// to false when the bug is fixed.
const RECOVERY_STALE_LINK_BUG: bool = false;

/// Same length, and every differing byte within one 9-byte slot.
fn only_a_slot_differs(a: &[u8], b: &[u8]) -> bool {
    let diff: Vec<usize> = (0..a.len().min(b.len()))
        .filter(|&i| a[i] != b[i])
        .collect();
    a.len() == b.len()
        && match (diff.first(), diff.last()) {
            (Some(f), Some(l)) => l - f < 9,
            _ => true,
        }
}

/// Faults while a database is created on empty storage (the header append
/// and its sync): the open fails with an error; what is left is empty or a
/// whole header, which opens; or — after a short or torn header append — a
/// few bytes that every later open refuses with `TooShort` (FORMAT.md §2).
#[test]
fn faults_while_creating_a_database() {
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, after, seed) in [
        (FaultKind::NoSpace, After::Nothing, 0),
        (FaultKind::NoSpace, After::Everything, 0),
        (FaultKind::Short, After::Nothing, 0x31),
        (FaultKind::SyncFails { flushed: true }, After::Nothing, 0),
        (FaultKind::Crash, After::Nothing, 0),
        (FaultKind::Crash, After::Nothing, 0x32),
    ] {
        for k in 0.. {
            let fault = Fault {
                op: None,
                k,
                kind,
                after,
                seed,
                cut: None,
            };
            let (ok, fired, left) = open_with_fault(&[], Durability::Full, Some(fault));
            if !fired {
                assert!(ok);
                break;
            }
            assert!(!ok, "{kind:?} at call {k}: the open fails");
            let label = match Database::from_bytes(left.clone()) {
                Ok(mut db) => {
                    assert_eq!(db.moment_count().unwrap(), 0);
                    run_step(&mut db, false, 1).expect("a transaction after a failed create");
                    format!("{} bytes left: opens", left.len())
                }
                Err(e) => {
                    assert!(matches!(e, Error::TooShort { .. }), "{e}");
                    format!("{} bytes left: TooShort", left.len())
                }
            };
            *outcomes.entry(label).or_default() += 1;
        }
    }
    eprintln!("faults while creating a database: {outcomes:?}");
}

// ====================================================== known bugs

/// Bug: after a rollback that failed, `Database::transact` (and
/// `transact_root`) read `self.header` before `atomically` heals the
/// handle; the heal re-reads the header (the failed commit's tag may be on
/// the storage), and the transaction then runs with the stale one.
#[test]
fn transaction_after_failed_rollback_of_the_first_commit_works() {
    let mut failures = Vec::new();
    for root in [false, true] {
        let ctl = Ctl::default();
        let store = FaultyStorage::new(MemoryStorage::new(), ctl.clone());
        let mut db = Database::open_storage(store, Options::default()).unwrap();
        // The first commit's final fsync fails, and so does every write
        // after it: the rollback cannot take back the header just written.
        lock(&ctl).arm(Some(Fault {
            op: Some(CallKind::Sync),
            k: 1,
            kind: FaultKind::SyncFails { flushed: true },
            after: After::Everything,
            seed: 0,
            cut: None,
        }));
        assert!(run_step(&mut db, root, 1).is_err());
        lock(&ctl).clear();
        // Expected: the handle heals (the storage holds the first commit)
        // and the next transaction commits.
        let r = run_step(&mut db, root, 2);
        if r.is_err() {
            failures.push(format!(
                "{}: the next transaction fails: {r:?}; the one after it: {:?}",
                if root { "transact_root" } else { "transact" },
                run_step(&mut db, root, 3)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bug: `truncate_history` writes the 16-byte `{size, ptr}` in place with
/// no rollback. An I/O error that writes part of it (a short write, no
/// crash) leaves a torn history header; the handle keeps its old history in
/// memory and is not poisoned, the next transaction reads the torn header
/// from the storage and commits it: every moment is then unreadable, on
/// this handle and after a reopen.
#[test]
fn truncate_history_short_write_is_rolled_back() {
    let ctl = Ctl::default();
    let store = FaultyStorage::new(MemoryStorage::new(), ctl.clone());
    let mut db = Database::open_storage(store, Options::default()).unwrap();
    for step in 1..=20 {
        run_step(&mut db, false, step).unwrap();
    }
    // The header write keeps 8 of its 16 bytes: the new size (3), the old
    // root pointer (a two-level tree).
    lock(&ctl).arm(Some(Fault {
        op: Some(CallKind::WriteAt),
        k: 0,
        kind: FaultKind::Short,
        after: After::Nothing,
        seed: 0,
        cut: Some(8),
    }));
    assert!(db.truncate_history(3).is_err());
    lock(&ctl).clear();
    assert_eq!(read_state(&db, false).unwrap().len(), 20);
    run_step(&mut db, false, 21).expect("the next transaction commits");
    // Expected: 21 moments (the truncation failed) or 4 (it happened).
    let same = read_state(&db, false).map(|s| s.len());
    let reopened = Database::from_bytes(db.storage().logical())
        .and_then(|db| read_state(&db, false).map(|s| s.len()));
    assert!(
        matches!(same, Ok(21 | 4)) && matches!(reopened, Ok(21 | 4)),
        "same handle: {same:?}, reopened: {reopened:?}"
    );
}

/// Bug: recovery truncates the file to `file_size` first and then clears the
/// stale link that an interrupted history append left in a committed block
/// (FORMAT.md §8.7). When the clearing write fails (or the process dies
/// between the two), the next open finds the file exactly `file_size` long,
/// skips recovery altogether, and the link stays: it points past the end of
/// the file, where the reference implementation's next history append would
/// follow it. (This crate's own appends never follow it.)
#[test]
fn interrupted_recovery_clears_the_stale_history_link() {
    let mut db = Database::memory();
    for step in 1..=32 {
        run_step(&mut db, false, step).unwrap();
    }
    let committed = db.into_bytes();
    // The 33rd moment's transaction links a new leaf block into the
    // committed root, then the machine dies just before the commit.
    let ctl = Ctl::default();
    let store = FaultyStorage::new(MemoryStorage::from_vec(committed.clone()), ctl.clone());
    let mut db = Database::open_storage(store, Options::default()).unwrap();
    lock(&ctl).arm(Some(Fault {
        op: Some(CallKind::Flush),
        k: 0,
        kind: FaultKind::Crash,
        after: After::Nothing,
        seed: 0,
        cut: None,
    }));
    assert!(run_step(&mut db, false, 33).is_err());
    drop(db);
    let crashed = lock(&ctl).image.take().unwrap();
    // An uninterrupted recovery gives back the committed bytes exactly.
    let clean = Database::from_bytes(crashed.clone()).unwrap().into_bytes();
    assert_eq!(clean, committed);
    // Recovery whose second call (the write clearing the link) fails.
    let fault = Fault {
        op: None,
        k: 1,
        kind: FaultKind::NoSpace,
        after: After::Nothing,
        seed: 0,
        cut: None,
    };
    let (ok, fired, left) = open_with_fault(&crashed, Durability::Full, Some(fault));
    assert!(fired && !ok);
    let again = Database::from_bytes(left).unwrap().into_bytes();
    let at = again.iter().zip(&committed).position(|(a, b)| a != b);
    assert!(
        again == committed,
        "the retried recovery leaves {} bytes, the slot at byte {:?} still set: {:02x?}",
        again.len(),
        at,
        at.map(|i| &again[i..(i + 9).min(again.len())])
    );
}
