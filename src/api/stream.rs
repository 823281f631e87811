//! The commit stream: a history database's commits as chained records
//! ([`CommitRecord`]) that a replica applies to end byte-identical.
//!
//! ## Why it is cheap
//!
//! The format is append-only but for a few bytes: a history commit appends
//! its data past the previous `file_size` and rewrites in place only the
//! 36 bytes at offset 0 (the database header's tag, once, and the history
//! header) and slots of the history's own index blocks, which are never
//! copied (FORMAT.md §8). So a record is the appended bytes plus those
//! few patches.
//!
//! ## How the patches are found
//!
//! [`CommitStream::capture`] looks at a database's committed state, not at
//! its transactions, so it works the same on the writer's own handle and
//! on a read-only handle in another process. It keeps a *shadow* of what
//! the replica holds in the only places a commit can change in place: the
//! first 36 bytes and the reachable history blocks (about 10 bytes per
//! moment). Each capture walks the history's blocks, compares those below
//! the previous size with the shadow and ships the slots that differ; the
//! rest is the appended range. Slots of blocks appended in this range that
//! lie past the newest moment are shipped as zeros, as the commit wrote
//! them, when the database is read through a read-only handle: a
//! transaction in flight in another process may have filled them since.
//! Blocks that only dead slots lead to (a truncated history keeps them) are
//! compared too, since appends before the truncation may have written them.
//!
//! ## Replicas
//!
//! A [`Replica`] applies only the exact next record: a gap, a replay, a
//! fork or a bad hash is an error and nothing is written. It appends the
//! record's bytes, makes them durable, patches the history blocks, and
//! writes the history header last, as a commit does: read-only handles on
//! the replica see whole commits only.
//!
//! ```
//! use xitdb::{CommitStream, Database, Replica};
//! use xitdb::storage::MemoryStorage;
//!
//! let mut primary = Database::memory();
//! let mut stream = CommitStream::new();
//! let feed = stream.feed(); // hand this to other threads
//! let mut replica = Replica::new(MemoryStorage::new())?;
//! for i in 0..20u64 {
//!     primary.transact(|tx| tx.root_map()?.put("n", i))?;
//!     stream.capture(&mut primary)?;
//! }
//! for rec in feed.commits_since(replica.head().seq)? {
//!     replica.apply(&rec)?;
//! }
//! assert_eq!(replica.storage().as_bytes(), primary.storage().as_bytes());
//! // a record applied twice is refused, and changes nothing
//! let again = feed.commits_since(0)?;
//! assert!(replica.apply(&again[0]).is_err());
//! # Ok::<(), xitdb::Error>(())
//! ```

use crate::api::database::Database;
use crate::error::{Error, Result};
use crate::format::{
    level_capacity, list_shift, ChainHead, CommitRecord, Header, Patch, Tag, TopHeader, BLOCK_LEN,
    BLOCK_SLOTS, DATABASE_START, HEADER_LEN, MAX_LIST_SHIFT, SLOT_LEN, TOP_HEADER_LEN,
};
use crate::storage::Storage;
use crate::tree::access::Src;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes 0..36: the database header and the history header.
const TOP_LEN: usize = (HEADER_LEN + TOP_HEADER_LEN) as usize;
const BLOCK: usize = BLOCK_LEN as usize;
const SLOT: usize = SLOT_LEN as usize;

/// Records a [`CommitStream`] keeps for [`CommitFeed::commits_since`] by
/// default.
pub const DEFAULT_RETAIN: usize = 4096;

/// The writer's side of the commit stream: turns a history database's
/// commits into chained [`CommitRecord`]s and hands them out through a
/// [`CommitFeed`].
///
/// Call [`CommitStream::capture`] after each commit (one record per
/// commit), or now and then (one record for all the commits since).
#[derive(Debug)]
pub struct CommitStream {
    head: ChainHead,
    /// The replica's bytes 0..36 at `head`.
    top: [u8; TOP_LEN],
    /// The replica's reachable history blocks at `head`.
    blocks: HashMap<u64, [u8; BLOCK]>,
    feed: CommitFeed,
}

impl Default for CommitStream {
    fn default() -> Self {
        Self::new()
    }
}

impl CommitStream {
    /// A stream at the start of a chain: its first record holds the whole
    /// database.
    pub fn new() -> Self {
        Self::with_retention(DEFAULT_RETAIN)
    }

    /// Like [`CommitStream::new`], keeping at most `retain` records (at
    /// least one) for [`CommitFeed::commits_since`].
    pub fn with_retention(retain: usize) -> Self {
        CommitStream {
            head: ChainHead::GENESIS,
            top: [0; TOP_LEN],
            blocks: HashMap::new(),
            feed: CommitFeed::new(ChainHead::GENESIS, retain),
        }
    }

    /// A stream that goes on from `head`, where a replica holding
    /// `replica` stands (a restore of what was shipped so far). The next
    /// capture ships what the primary committed since.
    pub fn resume(replica: &dyn Storage, head: ChainHead, retain: usize) -> Result<Self> {
        let mut stream = Self::with_retention(retain);
        stream.head = head;
        stream.feed = CommitFeed::new(head, retain);
        if head.file_size == 0 {
            return Ok(stream);
        }
        if replica.len() != head.file_size {
            return Err(Error::RecordMismatch {
                seq: head.seq,
                reason: "the replica's length is not the chain head's size",
            });
        }
        replica.read_at(0, &mut stream.top)?;
        let top = history_top(&stream.top, head.seq)?;
        let src = Src::storage(replica, crate::format::Hasher::new(Default::default()));
        for (pos, _) in history_blocks(&src, top.size, top.ptr)? {
            stream.blocks.insert(pos, src.array(pos)?);
        }
        Ok(stream)
    }

    /// Checks that `db` continues the chain this stream was resumed on:
    /// its committed bytes below the head's size equal `replica`'s, except
    /// where a commit rewrites in place (the first 36 bytes and the
    /// history's blocks). [`Error::StreamFork`] if not: the store holds
    /// another database, or this one was rewritten.
    pub fn check_continues<S: Storage>(
        &self,
        replica: &dyn Storage,
        db: &mut Database<S>,
    ) -> Result<()> {
        let end = self.head.file_size;
        let fork = Error::StreamFork {
            seq: self.head.seq.wrapping_add(1),
        };
        let Some((_, top)) = committed_state(db)? else {
            return if end == 0 { Ok(()) } else { Err(fork) };
        };
        if top.file_size < end || replica.len() < end {
            return Err(fork);
        }
        let mut skip: Vec<(u64, u64)> = self.blocks.keys().map(|&p| (p, p + BLOCK_LEN)).collect();
        skip.push((0, TOP_LEN as u64));
        skip.sort_unstable();
        let mut pos = 0u64;
        let (mut a, mut b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
        let mut compare = |from: u64, to: u64| -> Result<bool> {
            let mut at = from;
            while at < to {
                let n = (to - at).min(a.len() as u64) as usize;
                let (x, y) = (a.get_mut(..n), b.get_mut(..n));
                let (Some(x), Some(y)) = (x, y) else {
                    return Ok(false);
                };
                db.storage().read_at(at, x)?;
                replica.read_at(at, y)?;
                if x != y {
                    return Ok(false);
                }
                at += n as u64;
            }
            Ok(true)
        };
        for (from, to) in skip {
            if from > pos && !compare(pos, from.min(end))? {
                return Err(fork);
            }
            pos = pos.max(to);
        }
        if pos < end && !compare(pos, end)? {
            return Err(fork);
        }
        Ok(())
    }

    /// Where the chain stands: the last record captured.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// A handle on the records, for other threads: [`CommitFeed::commits_since`]
    /// and [`CommitFeed::subscribe`].
    pub fn feed(&self) -> CommitFeed {
        self.feed.clone()
    }

    /// Turns what `db` committed since the last capture into the next
    /// record, or returns `None` when nothing changed. `db` is the
    /// writer's handle or a read-only one (refreshed here); its root must
    /// be a history (else [`Error::WrongRoot`]). A database that shrank
    /// below what was shipped (compacted or replaced) is
    /// [`Error::RecordMismatch`]: start a new stream.
    pub fn capture<S: Storage>(
        &mut self,
        db: &mut Database<S>,
    ) -> Result<Option<Arc<CommitRecord>>> {
        let Some((header, top)) = committed_state(db)? else {
            return Ok(None);
        };
        let next = self.head.seq.wrapping_add(1);
        let (pa, pb) = (self.head.file_size, top.file_size);
        if pb < pa || (pa != 0 && pa < TOP_LEN as u64) {
            return Err(Error::RecordMismatch {
                seq: next,
                reason: "the database is smaller than what was shipped (compacted or replaced)",
            });
        }
        let src = db.src();
        let mut appended = vec![0u8; usize::try_from(pb - pa).map_err(|_| too_large())?];
        db.storage().read_at(pa, &mut appended)?;
        let mut new_top = [0u8; TOP_LEN];
        put(&mut new_top, 0, &header.encode());
        put(&mut new_top, HEADER_LEN as usize, &top.encode());
        if pa == 0 {
            put(&mut appended, 0, &new_top);
        }
        let mut patches = Vec::new();
        let mut shadow = HashMap::new();
        // another process may have a transaction in flight in the blocks
        let racing = !db.storage().is_writable();
        for (pos, live) in history_blocks(&src, top.size, top.ptr)? {
            if live.is_none() && pos.saturating_add(BLOCK_LEN) > pb {
                continue; // a dead pointer past the commit: nothing to ship
            }
            let block = if pos >= pa {
                let at = usize::try_from(pos - pa).map_err(|_| too_large())?;
                let block = appended
                    .get_mut(at..at + BLOCK)
                    .ok_or(Error::corrupt(pos, "history block past the committed size"))?;
                // appended now: slots past the newest moment as committed
                if let (true, Some(live)) = (racing, live) {
                    if let Some(dead) = block.get_mut(live * SLOT..) {
                        dead.fill(0);
                    }
                }
                to_block(block, pos)?
            } else if pos + BLOCK_LEN <= pa {
                let now: [u8; BLOCK] = src.array(pos)?;
                match self.blocks.get(&pos) {
                    Some(old) => diff_slots(pos, old, &now, &mut patches),
                    None => patches.push(Patch {
                        offset: pos,
                        bytes: now.to_vec(),
                    }),
                }
                now
            } else if live.is_some() {
                return Err(Error::corrupt(pos, "history block across the shipped size"));
            } else {
                continue;
            };
            shadow.insert(pos, block);
        }
        if pa != 0 {
            for (at, len) in [(0, HEADER_LEN as usize), (HEADER_LEN as usize, 24)] {
                let (old, now) = (self.top.get(at..at + len), new_top.get(at..at + len));
                if old != now {
                    patches.push(Patch {
                        offset: at as u64,
                        bytes: now.unwrap_or_default().to_vec(),
                    });
                }
            }
        }
        if patches.is_empty() && appended.is_empty() {
            return Ok(None);
        }
        let rec = Arc::new(CommitRecord::seal(
            &self.head,
            top.size,
            merge(patches),
            appended,
        )?);
        self.head = rec.head();
        self.top = new_top;
        self.blocks = shadow;
        self.feed.publish(rec.clone());
        Ok(Some(rec))
    }

    /// Ends the stream: subscribers waiting for records wake up and get
    /// the ones left, then nothing.
    pub fn close(&self) {
        self.feed.close();
    }
}

fn too_large() -> Error {
    Error::InvalidArgument("commit larger than this machine can hold")
}

fn to_block(bytes: &[u8], pos: u64) -> Result<[u8; BLOCK]> {
    bytes
        .try_into()
        .map_err(|_| Error::corrupt(pos, "short history block"))
}

/// Copies `data` into `buf` at `at`, as far as it fits.
fn put(buf: &mut [u8], at: usize, data: &[u8]) {
    let end = (at + data.len()).min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(at..end), data.get(..end.saturating_sub(at))) {
        dst.copy_from_slice(src);
    }
}

/// Pushes one patch per slot that differs between `old` and `now`.
fn diff_slots(pos: u64, old: &[u8; BLOCK], now: &[u8; BLOCK], out: &mut Vec<Patch>) {
    for (i, (a, b)) in old
        .chunks_exact(SLOT)
        .zip(now.chunks_exact(SLOT))
        .enumerate()
    {
        if a != b {
            out.push(Patch {
                offset: pos + (i * SLOT) as u64,
                bytes: b.to_vec(),
            });
        }
    }
}

/// Sorts patches and joins those that touch.
fn merge(mut patches: Vec<Patch>) -> Vec<Patch> {
    patches.sort_by_key(|p| p.offset);
    let mut out: Vec<Patch> = Vec::with_capacity(patches.len());
    for p in patches {
        match out.last_mut() {
            Some(last) if last.end() == Some(p.offset) => last.bytes.extend_from_slice(&p.bytes),
            _ => out.push(p),
        }
    }
    out
}

/// The database's committed header and history header, read consistently
/// (a read-only handle is refreshed until the history header it loaded is
/// the one in the file). `None` before the first commit.
fn committed_state<S: Storage>(db: &mut Database<S>) -> Result<Option<(Header, TopHeader)>> {
    const ATTEMPTS: usize = 64;
    for _ in 0..ATTEMPTS {
        if !db.storage().is_writable() {
            db.refresh()?;
        }
        let header = db.header();
        match header.tag {
            Tag::ArrayList => {}
            Tag::None => return Ok(None),
            found => return Err(Error::WrongRoot { found }),
        }
        let Some(history) = db.committed_history() else {
            return Ok(None);
        };
        let top = TopHeader::decode(db.src().array(DATABASE_START)?);
        if top.file_size == 0 {
            return Ok(None);
        }
        if (top.size, top.ptr) == (history.size, history.root) && top.file_size <= db.len() {
            return Ok(Some((header, top)));
        }
        std::thread::yield_now();
    }
    Err(Error::corrupt(
        DATABASE_START,
        "history header keeps changing",
    ))
}

/// The history header in a replica's first 36 bytes.
fn history_top(top: &[u8; TOP_LEN], seq: u64) -> Result<TopHeader> {
    let header = Header::decode(to_header(top))?;
    if header.tag != Tag::ArrayList {
        return Err(Error::RecordMismatch {
            seq,
            reason: "the replica's root is not a history",
        });
    }
    let mut t = [0u8; TOP_HEADER_LEN as usize];
    put(
        &mut t,
        0,
        top.get(HEADER_LEN as usize..).unwrap_or_default(),
    );
    Ok(TopHeader::decode(t))
}

/// Every block of the history tree: those that hold a slot of a moment
/// below `size`, with the number of their slots that lead to such moments,
/// and those only dead slots lead to (left by a truncation, which keeps
/// them: a later append may still have written into them before the
/// truncation), with `None`. A dead slot that does not lead to a block is
/// skipped, never followed twice.
fn history_blocks(src: &Src<'_>, size: u64, root: u64) -> Result<Vec<(u64, Option<usize>)>> {
    let mut out = Vec::new();
    if size == 0 {
        return Ok(out);
    }
    let shift = list_shift(size);
    if shift > MAX_LIST_SHIFT {
        return Err(Error::corrupt(DATABASE_START, "history too deep"));
    }
    let mut seen = std::collections::HashSet::new();
    // (block, level, first moment under it, or None in a dead subtree)
    let mut stack = vec![(root, shift, Some(0u64))];
    while let Some((block, level, first)) = stack.pop() {
        if !seen.insert(block) {
            if first.is_some() {
                return Err(Error::corrupt(block, "history block reached twice"));
            }
            continue;
        }
        let per_slot = level_capacity(level);
        let live = first.map(|first| {
            (0..BLOCK_SLOTS as u64)
                .take_while(|i| first.saturating_add(i.saturating_mul(per_slot)) < size)
                .count()
        });
        out.push((block, live));
        if level == 0 {
            continue;
        }
        for i in 0..BLOCK_SLOTS as u64 {
            let spos = block + SLOT_LEN * i;
            let is_live = live.is_some_and(|n| i < n as u64);
            let slot = match src.slot(spos) {
                Ok(slot) => slot,
                Err(e) if is_live => return Err(e),
                Err(_) => continue,
            };
            if is_live && slot.tag != Tag::Index {
                return Err(Error::corrupt(spos, "missing history index block"));
            }
            let dead_ok = slot.tag == Tag::Index
                && slot
                    .value
                    .checked_add(BLOCK_LEN)
                    .is_some_and(|end| end <= src.len());
            if is_live {
                let child_first = first.map(|f| f + i * per_slot);
                stack.push((slot.value, level - 1, child_first));
            } else if dead_ok {
                stack.push((slot.value, level - 1, None));
            }
        }
    }
    Ok(out)
}

/// The shared end of a [`CommitStream`]: the records it still holds and
/// a way to wait for new ones. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct CommitFeed {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    log: Mutex<Log>,
    wake: Condvar,
}

#[derive(Debug)]
struct Log {
    head: ChainHead,
    records: VecDeque<Arc<CommitRecord>>,
    retain: usize,
    closed: bool,
}

impl CommitFeed {
    fn new(head: ChainHead, retain: usize) -> Self {
        CommitFeed {
            shared: Arc::new(Shared {
                log: Mutex::new(Log {
                    head,
                    records: VecDeque::new(),
                    retain: retain.max(1),
                    closed: false,
                }),
                wake: Condvar::new(),
            }),
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // a panic while holding the lock leaves the log whole: use it
        self.shared
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, rec: Arc<CommitRecord>) {
        let mut log = self.log();
        log.head = rec.head();
        log.records.push_back(rec);
        while log.records.len() > log.retain {
            log.records.pop_front();
        }
        drop(log);
        self.shared.wake.notify_all();
    }

    fn close(&self) {
        self.log().closed = true;
        self.shared.wake.notify_all();
    }

    /// Where the chain stands: the last record published.
    pub fn head(&self) -> ChainHead {
        self.log().head
    }

    /// The records after sequence number `seq` (0 for all of them), in
    /// order. [`Error::StreamTooOld`] if the stream no longer holds the
    /// first of them.
    pub fn commits_since(&self, seq: u64) -> Result<Vec<Arc<CommitRecord>>> {
        let log = self.log();
        let Some(oldest) = log.records.front().map(|r| r.seq) else {
            return Ok(Vec::new());
        };
        if seq < log.head.seq && seq.saturating_add(1) < oldest {
            return Err(Error::StreamTooOld {
                requested: seq.saturating_add(1),
                oldest,
            });
        }
        Ok(log
            .records
            .iter()
            .filter(|r| r.seq > seq)
            .cloned()
            .collect())
    }

    /// Waits until a record after `seq` exists, the stream is closed, or
    /// `timeout` passes; returns the head then.
    pub fn wait_beyond(&self, seq: u64, timeout: Duration) -> ChainHead {
        let deadline = Instant::now() + timeout;
        let mut log = self.log();
        while log.head.seq <= seq && !log.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            log = match self.shared.wake.wait_timeout(log, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        log.head
    }

    /// A subscription that hands out each record once, in order, from
    /// the one after `seq`.
    pub fn subscribe(&self, seq: u64) -> Subscription {
        Subscription {
            feed: self.clone(),
            next: seq,
        }
    }
}

/// Records of a [`CommitFeed`] in order, each once: what a replica thread
/// runs on.
///
/// ```
/// use std::time::Duration;
/// use xitdb::{CommitStream, Database, Replica};
/// use xitdb::storage::MemoryStorage;
///
/// let mut primary = Database::memory();
/// let mut stream = CommitStream::new();
/// let mut sub = stream.feed().subscribe(0);
/// let follower = std::thread::spawn(move || -> xitdb::Result<Vec<u8>> {
///     let mut replica = Replica::new(MemoryStorage::new())?;
///     while let Some(batch) = sub.next_batch(Duration::from_secs(60))? {
///         for rec in batch {
///             replica.apply(&rec)?;
///         }
///     }
///     Ok(replica.into_storage().into_vec())
/// });
/// for i in 0..10u64 {
///     primary.transact(|tx| tx.root_map()?.put("n", i))?;
///     stream.capture(&mut primary)?;
/// }
/// stream.close();
/// assert_eq!(follower.join().unwrap()?, primary.into_bytes());
/// # Ok::<(), xitdb::Error>(())
/// ```
#[derive(Debug)]
pub struct Subscription {
    feed: CommitFeed,
    next: u64,
}

impl Subscription {
    /// The records published since the last batch, waiting up to
    /// `timeout` for at least one; an empty batch when none came in time,
    /// `None` once the stream is closed and every record was handed out.
    pub fn next_batch(&mut self, timeout: Duration) -> Result<Option<Vec<Arc<CommitRecord>>>> {
        self.feed.wait_beyond(self.next, timeout);
        let batch = self.feed.commits_since(self.next)?;
        if let Some(last) = batch.last() {
            self.next = last.seq;
        } else if self.feed.log().closed {
            return Ok(None);
        }
        Ok(Some(batch))
    }
}

/// A read replica: storage that a chain of [`CommitRecord`]s is applied
/// to, one exact successor at a time. Readers (read-only handles on the
/// same file, or [`Database::from_slice`] on its bytes) see whole commits
/// only.
#[derive(Debug)]
pub struct Replica<S: Storage> {
    store: S,
    head: ChainHead,
}

impl<S: Storage> Replica<S> {
    /// A replica at the start of the chain, on empty writable storage.
    pub fn new(store: S) -> Result<Self> {
        if !store.is_writable() {
            return Err(Error::ReadOnly);
        }
        if !store.is_empty() {
            return Err(Error::InvalidArgument(
                "a new replica needs empty storage (resume one with Replica::resume)",
            ));
        }
        Ok(Replica {
            store,
            head: ChainHead::GENESIS,
        })
    }

    /// A replica that stands at `head` (saved by its owner after the last
    /// apply). Bytes past the head's size, left by an apply that a crash
    /// interrupted before its commit point, are cut. If the crash came
    /// after the commit point, the storage is past `head`: that is
    /// [`Error::RecordMismatch`], and [`Replica::redo`] with the next
    /// record finishes the apply.
    pub fn resume(mut store: S, head: ChainHead) -> Result<Self> {
        if head.file_size == 0 {
            store.truncate(0)?;
            return Self::new(store);
        }
        let top = read_top(&store, head.seq)?;
        if top.file_size != head.file_size || store.len() < head.file_size {
            return Err(Error::RecordMismatch {
                seq: head.seq,
                reason: "the replica's history header is not at the chain head",
            });
        }
        if store.len() > head.file_size {
            store.truncate(head.file_size)?;
            store.sync()?;
        }
        Ok(Replica { store, head })
    }

    /// Finishes an apply of `rec` (the successor of `head`) that a crash
    /// interrupted: writes it again over whatever it had written. Patches
    /// hold final bytes, so writing them twice is harmless.
    pub fn redo(mut store: S, head: ChainHead, rec: &CommitRecord) -> Result<Self> {
        rec.follows(&head)?;
        if store.len() < rec.prev_size {
            return Err(Error::RecordMismatch {
                seq: rec.seq,
                reason: "the replica is shorter than the record's previous size",
            });
        }
        store.truncate(rec.prev_size)?;
        let mut replica = Replica { store, head };
        replica.apply(rec)?;
        Ok(replica)
    }

    /// Where the replica stands in the chain.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// The replica's storage.
    pub fn storage(&self) -> &S {
        &self.store
    }

    /// Gives the storage back.
    pub fn into_storage(self) -> S {
        self.store
    }

    /// Applies `rec` if it is the exact next record: the next sequence
    /// number ([`Error::StreamGap`]), this chain's predecessor hash and
    /// size ([`Error::StreamFork`]), a hash that matches its bytes
    /// ([`Error::RecordHash`]) and a history header that agrees with its
    /// sizes ([`Error::RecordMismatch`]). On any of these errors nothing
    /// is written. Returns the new head.
    pub fn apply(&mut self, rec: &CommitRecord) -> Result<ChainHead> {
        rec.follows(&self.head)?;
        rec.check()?;
        if self.store.len() != rec.prev_size {
            return Err(Error::RecordMismatch {
                seq: rec.seq,
                reason: "the replica's length is not the record's previous size",
            });
        }
        // the first 36 bytes as the record leaves them
        let mut top = [0u8; TOP_LEN];
        if rec.prev_size == 0 {
            put(&mut top, 0, &rec.appended);
        } else {
            self.store.read_at(0, &mut top)?;
        }
        for p in &rec.patches {
            if let Some(at) = usize::try_from(p.offset).ok().filter(|&o| o < TOP_LEN) {
                put(&mut top, at, &p.bytes);
            }
        }
        let new_top = history_top(&top, rec.seq)?;
        if new_top.file_size != rec.new_size || new_top.size != rec.moments {
            return Err(Error::RecordMismatch {
                seq: rec.seq,
                reason: "its history header disagrees with its sizes",
            });
        }
        // data first, made durable; then the history's own blocks; then
        // the headers, the history header last: the commit point. A new
        // replica's first bytes say "empty database" (tag none) until then.
        let (head_bytes, hist_bytes) = top.split_at(HEADER_LEN as usize);
        if rec.prev_size == 0 {
            let mut empty = [0u8; TOP_LEN];
            let header = Header::decode(to_header(head_bytes))?;
            put(
                &mut empty,
                0,
                &Header {
                    tag: Tag::None,
                    ..header
                }
                .encode(),
            );
            self.store.append(&empty)?;
            self.store
                .append(rec.appended.get(TOP_LEN..).unwrap_or_default())?;
        } else {
            self.store.append(&rec.appended)?;
        }
        self.store.sync()?;
        for p in &rec.patches {
            let skip = usize::try_from((TOP_LEN as u64).saturating_sub(p.offset))
                .unwrap_or(usize::MAX)
                .min(p.bytes.len());
            if let Some(rest) = p.bytes.get(skip..).filter(|r| !r.is_empty()) {
                self.store.write_at(p.offset + skip as u64, rest)?;
            }
        }
        if rec.prev_size == 0 {
            self.store.write_at(DATABASE_START, hist_bytes)?;
            self.store.write_at(0, head_bytes)?;
        } else {
            self.store.write_at(0, head_bytes)?;
            self.store.write_at(DATABASE_START, hist_bytes)?;
        }
        self.store.sync()?;
        self.head = rec.head();
        Ok(self.head)
    }
}

fn to_header(bytes: &[u8]) -> [u8; HEADER_LEN as usize] {
    let mut raw = [0u8; HEADER_LEN as usize];
    put(&mut raw, 0, bytes);
    raw
}

/// The history header of a replica's storage.
fn read_top(store: &dyn Storage, seq: u64) -> Result<TopHeader> {
    let mut top = [0u8; TOP_LEN];
    store.read_at(0, &mut top)?;
    history_top(&top, seq)
}
