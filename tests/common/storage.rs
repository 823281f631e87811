//! Storages that wrap another one, for tests: [`FaultyStorage`] fails on
//! demand, [`CountingStorage`] counts reads.
//!
//! `FaultyStorage<S>` forwards every call to an inner storage (memory or
//! file) and consults a shared [`Plan`] (`Arc<Mutex<_>>`) that the test arms
//! after the database took ownership of the storage. A fault fires at the
//! k-th mutating call of one kind (append, write_at, truncate, flush, sync)
//! or of any kind, counted from when it was armed, and is one of:
//!
//! * a **short write**: part of an append or in-place write reaches the inner
//!   storage, then the call fails (ENOSPC);
//! * **ENOSPC** (`from_raw_os_error(28)`): the call fails and does nothing;
//! * a **failing fsync**: `sync` fails (EIO), after flushing or not;
//! * a **crash**: the call is torn at a random byte and the machine dies. The
//!   wrapper records the bytes that would be on disk at that instant and
//!   fails every later call; the test opens a *new* database over them.
//!
//! After firing, a fault either stops (the rollback then runs cleanly), or
//! keeps failing every mutating call, or every call of one kind, until
//! cleared: that is how the rollback itself is made to fail.
//!
//! What is on disk after a crash. Memory inner: every call made before the
//! crash, plus the torn part of the crashing one. File inner: the file's
//! content at that instant (appends still in `FileStorage`'s user-space
//! buffer die with the process), plus the torn part of the crashing call
//! where it reaches the file (an in-place write, or a flush). In both, the
//! operating system's page cache is **not** simulated: whatever was handed
//! to the OS counts as on disk, whatever the `Durability`. With
//! `track_sync` the plan also keeps what a power loss would keep: the bytes
//! synced so far, and the writes made since.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use xitdb::storage::{MemoryStorage, SharedBytes, Storage};
use xitdb::Error;

use super::rng::Rng;

/// Where the history header (or a root map's root) starts: writes at or
/// below it are the commit's header writes.
pub const DATABASE_START: u64 = 12;

// ------------------------------------------------------------ the plan

/// A mutating storage call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    Append,
    WriteAt,
    Truncate,
    Flush,
    Sync,
}

/// What a fault does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Part of the bytes reach the inner storage (appends and in-place
    /// writes; other calls do nothing), then an I/O error.
    Short,
    /// ENOSPC; nothing is done.
    NoSpace,
    /// `sync` fails with EIO, after flushing when `flushed` (other calls: ENOSPC).
    SyncFails { flushed: bool },
    /// The machine crashes during the call: see [`FaultyStorage::crash_image`].
    Crash,
}

/// What keeps failing after the fault fired (until the plan is cleared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Nothing: the fault fires once.
    Nothing,
    /// Every mutating call.
    Everything,
    /// Every call of this kind.
    Only(CallKind),
}

#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// Which calls are counted (`None`: every mutating call).
    pub op: Option<CallKind>,
    /// The fault fires at the k-th counted call (from 0) since it was armed.
    pub k: u64,
    pub kind: FaultKind,
    pub after: After,
    /// Chooses the cut of a short or torn write; 0 cuts at 0 bytes (a crash
    /// just before the call).
    pub seed: u64,
    /// Forces the cut (bytes kept) instead.
    pub cut: Option<u64>,
}

/// One mutating call as the database made it (`pos` is the new length for
/// a truncate, the end of the storage for an append).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub op: CallKind,
    pub pos: u64,
    pub len: u64,
}

/// Where a fault fired: the index of the call among those since arming,
/// and how many bytes of it were kept.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub index: usize,
    pub call: Call,
    pub cut: u64,
}

/// A write not yet made durable by a `sync` (for the power-loss model).
#[derive(Clone, Debug)]
pub enum Pending {
    Write(u64, Vec<u8>),
    Truncate(u64),
}

/// The control handle shared by the test and the storage.
#[derive(Default)]
pub struct Plan {
    pub fault: Option<Fault>,
    /// Counted calls seen since arming.
    pub counted: u64,
    /// Every mutating call since arming.
    pub calls: Vec<Call>,
    pub hit: Option<Hit>,
    /// Calls that keep failing after the fault fired.
    pub failing: Option<After>,
    pub crashed: bool,
    /// The on-disk bytes recorded at the crash.
    pub image: Option<Vec<u8>>,
    /// The file behind a `FileStorage` inner (to read what reached it).
    pub disk: Option<PathBuf>,
    /// Writes to the headers (offset 0 and 12, inside the first disk
    /// sector) are never torn, as on a disk that writes sectors atomically:
    /// a crash keeps all or none of them, and a short write that is never
    /// rolled back keeps none. The tests that tear them byte by byte
    /// (`torn_*`) turn this off.
    pub atomic_header: bool,
    /// The operation rolls back a failed write (transactions do;
    /// `truncate_history` does not), for `atomic_header`.
    pub rolls_back: bool,
    /// Power-loss model: the bytes as of the last successful sync, and the
    /// writes since. Kept only when `track_sync`.
    pub track_sync: bool,
    pub synced: Vec<u8>,
    pub pending: Vec<Pending>,
    /// At a crash: the synced bytes and the writes pending then.
    pub power: Option<(Vec<u8>, Vec<Pending>)>,
    /// The storage's bytes when it was dropped (kept when `keep_on_drop`),
    /// for a storage that a failed `open_storage` consumed.
    pub keep_on_drop: bool,
    pub dropped: Option<Vec<u8>>,
}

pub type Ctl = Arc<Mutex<Plan>>;

pub fn lock(ctl: &Ctl) -> MutexGuard<'_, Plan> {
    ctl.lock().unwrap_or_else(|e| e.into_inner())
}

impl Plan {
    /// Arms a fault (or none) and forgets earlier calls and hits.
    pub fn arm(&mut self, fault: Option<Fault>) {
        self.fault = fault;
        self.counted = 0;
        self.calls.clear();
        self.hit = None;
        self.failing = None;
    }

    /// Stops every fault (a crash stays a crash).
    pub fn clear(&mut self) {
        self.fault = None;
        self.failing = None;
    }
}

pub fn no_space() -> Error {
    io::Error::from_raw_os_error(28).into()
}

pub fn eio() -> Error {
    io::Error::from_raw_os_error(5).into()
}

pub fn dead() -> Error {
    io::Error::other("the machine crashed").into()
}

// ------------------------------------------------------------ the faulty storage

/// A storage that forwards to `inner` and fails as its plan says.
pub struct FaultyStorage<S: Storage> {
    /// Always `Some` but while `into_inner` hands it out.
    inner: Option<S>,
    plan: Ctl,
    /// Bytes known to have reached the file (a file backend's length at its
    /// last flush); past them the file holds only zeros written ahead.
    flushed: u64,
}

impl<S: Storage> FaultyStorage<S> {
    pub fn new(inner: S, plan: Ctl) -> Self {
        let flushed = inner.len();
        FaultyStorage {
            inner: Some(inner),
            plan,
            flushed,
        }
    }

    pub fn into_inner(mut self) -> S {
        self.inner.take().expect("the inner storage")
    }

    pub fn inner(&self) -> &S {
        self.inner.as_ref().expect("the inner storage")
    }

    pub fn inner_mut(&mut self) -> &mut S {
        self.inner.as_mut().expect("the inner storage")
    }

    /// Every byte of the inner storage, buffered ones included.
    pub fn logical(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.inner().len() as usize];
        self.inner()
            .read_at(0, &mut v)
            .expect("the inner storage reads back its own bytes");
        v
    }

    fn forward(&mut self, call: Call, data: &[u8]) -> xitdb::Result<()> {
        let r = match call.op {
            CallKind::Append => self.inner_mut().append(data),
            CallKind::WriteAt => self.inner_mut().write_at(call.pos, data),
            CallKind::Truncate => self.inner_mut().truncate(call.pos),
            CallKind::Flush => self.inner_mut().flush(),
            CallKind::Sync => self.inner_mut().sync(),
        };
        match call.op {
            CallKind::Flush | CallKind::Sync if r.is_ok() => self.flushed = self.inner().len(),
            CallKind::Truncate => self.flushed = self.flushed.min(call.pos),
            _ => {}
        }
        r
    }

    /// Runs one mutating call through the plan.
    fn call(&mut self, call: Call, data: &[u8]) -> xitdb::Result<()> {
        let ctl = self.plan.clone();
        let mut plan = lock(&ctl);
        if plan.crashed {
            return Err(dead());
        }
        let index = plan.calls.len();
        plan.calls.push(call);
        match plan.failing {
            Some(After::Everything) => return Err(no_space()),
            Some(After::Only(op)) if op == call.op => return Err(no_space()),
            _ => {}
        }
        let fires = match plan.fault {
            Some(f) if f.op.is_none_or(|op| op == call.op) => {
                plan.counted += 1;
                plan.counted - 1 == f.k
            }
            _ => false,
        };
        if !fires {
            let done = self.forward(call, data);
            if plan.track_sync && done.is_ok() {
                self.track(&mut plan, call, data);
            }
            return done;
        }
        let Some(f) = plan.fault.take() else {
            return Err(no_space());
        };
        if f.after != After::Nothing {
            plan.failing = Some(f.after);
        }
        self.fire(&mut plan, f, index, call, data)
    }

    /// The fault `f` fires at call number `index`.
    fn fire(
        &mut self,
        plan: &mut Plan,
        f: Fault,
        index: usize,
        call: Call,
        data: &[u8],
    ) -> xitdb::Result<()> {
        let hit = |cut: u64| Some(Hit { index, call, cut });
        match f.kind {
            FaultKind::NoSpace => {
                plan.hit = hit(0);
                Err(no_space())
            }
            FaultKind::Short => {
                let n = data.len() as u64;
                let cut = match f.cut {
                    Some(c) => c.min(n.saturating_sub(1)),
                    None if plan.atomic_header
                        && call.pos <= DATABASE_START
                        && (f.after != After::Nothing || !plan.rolls_back) =>
                    {
                        0
                    }
                    None => Rng(f.seed).below(n),
                } as usize;
                plan.hit = hit(cut as u64);
                let part = data.get(..cut).unwrap_or(&[]);
                match call.op {
                    CallKind::Append | CallKind::WriteAt => self.forward(call, part)?,
                    _ => {}
                }
                Err(no_space())
            }
            FaultKind::SyncFails { flushed } if call.op == CallKind::Sync => {
                plan.hit = hit(0);
                if flushed {
                    self.inner_mut().flush()?;
                }
                Err(eio())
            }
            FaultKind::SyncFails { .. } => {
                plan.hit = hit(0);
                Err(no_space())
            }
            FaultKind::Crash => {
                let atomic = plan.atomic_header
                    && call.op == CallKind::WriteAt
                    && call.pos <= DATABASE_START;
                let (image, cut) = self.crash_image(call, data, plan.disk.as_deref(), f, atomic);
                plan.hit = hit(cut);
                plan.crashed = true;
                plan.image = Some(image);
                if plan.track_sync {
                    let mut pending = std::mem::take(&mut plan.pending);
                    match call.op {
                        CallKind::Append | CallKind::WriteAt => {
                            let part = data.get(..cut as usize).unwrap_or(&[]);
                            pending.push(Pending::Write(call.pos, part.to_vec()));
                        }
                        CallKind::Truncate if cut > 0 => pending.push(Pending::Truncate(call.pos)),
                        _ => {}
                    }
                    plan.power = Some((std::mem::take(&mut plan.synced), pending));
                }
                Err(dead())
            }
        }
    }

    /// Power-loss model: what a successful call leaves pending or durable.
    fn track(&self, plan: &mut Plan, call: Call, data: &[u8]) {
        match call.op {
            CallKind::Append | CallKind::WriteAt => {
                plan.pending.push(Pending::Write(call.pos, data.to_vec()))
            }
            CallKind::Truncate => plan.pending.push(Pending::Truncate(call.pos)),
            CallKind::Flush => {}
            CallKind::Sync => {
                plan.synced = self.logical();
                plan.pending.clear();
            }
        }
    }

    /// The bytes on disk when the machine dies during `call`, and how many
    /// bytes of the call got there (the forced cut, or a random one when the
    /// seed is not 0, else none; for a truncate, 1 if it happened). See the module comment for the model.
    fn crash_image(
        &self,
        call: Call,
        data: &[u8],
        disk: Option<&Path>,
        f: Fault,
        atomic: bool,
    ) -> (Vec<u8>, u64) {
        let mut rng = Rng(f.seed);
        let mut cut = |n: u64| match f.cut {
            Some(c) => c.min(n),
            None if f.seed == 0 => 0,
            None if atomic => n,
            None => rng.below(n + 1),
        };
        let logical = self.logical();
        let Some(path) = disk else {
            let mut img = logical;
            let kept = match call.op {
                CallKind::Append | CallKind::WriteAt => {
                    let c = cut(data.len() as u64);
                    overwrite(&mut img, call.pos, data.get(..c as usize).unwrap_or(&[]));
                    c
                }
                CallKind::Truncate => {
                    let c = cut(1);
                    if c == 1 {
                        img.resize(call.pos as usize, 0);
                    }
                    c
                }
                CallKind::Flush | CallKind::Sync => 0,
            };
            return (img, kept);
        };
        let mut img = std::fs::read(path).expect("read the file behind the storage");
        // Past the flushed bytes a synced file holds zeros written ahead;
        // they stay on the disk unless the faulted call cuts the file.
        let mut physical = img.len();
        let ahead = img.split_off((self.flushed as usize).min(img.len()));
        assert!(
            ahead.iter().all(|&b| b == 0),
            "only zeros past the flushed bytes"
        );
        assert!(
            logical.starts_with(&img),
            "the file holds a prefix of the storage's bytes"
        );
        let kept = match call.op {
            // The append lands in FileStorage's buffer, which dies with the process.
            CallKind::Append => 0,
            CallKind::WriteAt => {
                let c = cut(data.len() as u64);
                let on_file = (img.len() as u64).saturating_sub(call.pos).min(c);
                overwrite(
                    &mut img,
                    call.pos,
                    data.get(..on_file as usize).unwrap_or(&[]),
                );
                c
            }
            CallKind::Truncate => {
                let c = cut(1);
                if c == 1 {
                    physical = physical.min(call.pos as usize);
                    if (call.pos as usize) < img.len() {
                        img.truncate(call.pos as usize);
                    }
                }
                c
            }
            // A flush torn part way: a prefix of the buffered bytes reached the file.
            CallKind::Flush | CallKind::Sync => {
                let tail = logical.get(img.len()..).unwrap_or(&[]).to_vec();
                let c = cut(tail.len() as u64);
                img.extend_from_slice(tail.get(..c as usize).unwrap_or(&[]));
                c
            }
        };
        if img.len() < physical {
            img.resize(physical, 0);
        }
        (img, kept)
    }
}

/// Writes `data` at `pos`, growing `img` with zeros as needed.
pub fn overwrite(img: &mut Vec<u8>, pos: u64, data: &[u8]) {
    let end = pos as usize + data.len();
    if img.len() < end {
        img.resize(end, 0);
    }
    img[pos as usize..end].copy_from_slice(data);
}

impl<S: Storage> Drop for FaultyStorage<S> {
    fn drop(&mut self) {
        let ctl = self.plan.clone();
        let mut plan = lock(&ctl);
        if plan.keep_on_drop && self.inner.is_some() {
            plan.dropped = Some(self.logical());
        }
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    fn len(&self) -> u64 {
        self.inner().len()
    }

    fn direct(&self) -> &[u8] {
        // After a crash every read goes through `read_at`, which fails.
        if lock(&self.plan).crashed {
            &[]
        } else {
            self.inner().direct()
        }
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> xitdb::Result<()> {
        if lock(&self.plan).crashed {
            return Err(dead());
        }
        self.inner().read_at(pos, buf)
    }

    fn append(&mut self, data: &[u8]) -> xitdb::Result<()> {
        let call = Call {
            op: CallKind::Append,
            pos: self.inner().len(),
            len: data.len() as u64,
        };
        self.call(call, data)
    }

    fn write_at(&mut self, pos: u64, data: &[u8]) -> xitdb::Result<()> {
        let call = Call {
            op: CallKind::WriteAt,
            pos,
            len: data.len() as u64,
        };
        self.call(call, data)
    }

    fn truncate(&mut self, len: u64) -> xitdb::Result<()> {
        let call = Call {
            op: CallKind::Truncate,
            pos: len,
            len: 0,
        };
        self.call(call, &[])
    }

    fn flush(&mut self) -> xitdb::Result<()> {
        let call = Call {
            op: CallKind::Flush,
            pos: 0,
            len: 0,
        };
        self.call(call, &[])
    }

    fn sync(&mut self) -> xitdb::Result<()> {
        let call = Call {
            op: CallKind::Sync,
            pos: 0,
            len: 0,
        };
        self.call(call, &[])
    }

    fn is_writable(&self) -> bool {
        self.inner().is_writable()
    }

    fn refresh(&mut self) -> xitdb::Result<()> {
        if lock(&self.plan).crashed {
            return Err(dead());
        }
        self.inner_mut().refresh()
    }

    fn share(&self, len: u64) -> xitdb::Result<SharedBytes> {
        if lock(&self.plan).crashed {
            return Err(dead());
        }
        self.inner().share(len)
    }
}

// ------------------------------------------------------------ the counting storage

/// A storage whose reads all go through `read_at` (it offers no direct
/// bytes), counted: calls and bytes.
pub struct CountingStorage<S: Storage = MemoryStorage> {
    pub inner: S,
    pub reads: Cell<u64>,
    pub bytes: Cell<u64>,
}

impl<S: Storage> CountingStorage<S> {
    pub fn new(inner: S) -> Self {
        CountingStorage {
            inner,
            reads: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// Sets both counters back to zero.
    pub fn reset(&self) {
        self.reads.set(0);
        self.bytes.set(0);
    }
}

impl<S: Storage> Storage for CountingStorage<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn direct(&self) -> &[u8] {
        &[]
    }
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> xitdb::Result<()> {
        self.reads.set(self.reads.get() + 1);
        self.bytes.set(self.bytes.get() + buf.len() as u64);
        self.inner.read_at(pos, buf)
    }
    fn append(&mut self, data: &[u8]) -> xitdb::Result<()> {
        self.inner.append(data)
    }
    fn write_at(&mut self, pos: u64, data: &[u8]) -> xitdb::Result<()> {
        self.inner.write_at(pos, data)
    }
    fn truncate(&mut self, len: u64) -> xitdb::Result<()> {
        self.inner.truncate(len)
    }
    fn flush(&mut self) -> xitdb::Result<()> {
        self.inner.flush()
    }
    fn sync(&mut self) -> xitdb::Result<()> {
        self.inner.sync()
    }
    fn is_writable(&self) -> bool {
        self.inner.is_writable()
    }
    fn share(&self, len: u64) -> xitdb::Result<SharedBytes> {
        self.inner.share(len)
    }
}

/// A new in-memory database whose linked lists use the older RRB family
/// (for tests of that family's own layout).
pub fn rrb_memory() -> xitdb::Database {
    xitdb::Database::memory_with_options(rrb_options())
}

/// Options selecting the RRB list family.
pub fn rrb_options() -> xitdb::Options {
    xitdb::Options {
        list_family: Some(xitdb::ListFamily::Rrb),
        ..xitdb::Options::default()
    }
}
