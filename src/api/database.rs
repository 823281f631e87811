//! The database: opening, the history of moments, and transactions.
//!
//! A database whose root is a history (a top-level ArrayList) keeps one
//! *moment* per committed transaction. A transaction starts from a copy of
//! the latest moment's root slot, changes it copy-on-write (nothing written
//! before the transaction began is modified) and commits by rewriting the
//! 24-byte history header last. A transaction that fails is rolled back to
//! the exact bytes the database had before it.

use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::map::MapMut;
use crate::api::redo;
use crate::api::snapshot::Snapshot;
use crate::error::{Error, Result};
use crate::format::{HashKind, Hasher, ListFamily};
use crate::format::{
    Header, Slot, Tag, TopHeader, BLOCK_LEN, DATABASE_START, HEADER_LEN, TOP_HEADER_LEN, VERSION,
};
use crate::storage::{FileStorage, MemoryStorage, SliceStorage, Storage};
use crate::tree::access::{FamilyCell, SlotPos, Src, Store, TxCore, TxState};
use crate::tree::array_list::{resolve_index, ArrayList};
use crate::tree::hamt::Hamt;
use crate::tree::linked_list::scan::scan;
use std::path::Path;
use std::sync::Arc;

/// How a commit makes itself durable.
///
/// Chosen when a database is opened ([`Options::durability`]) or changed
/// later with [`Database::set_durability`]. It matters for files only: in
/// memory, flushing and syncing do nothing.
///
/// ```
/// use xitdb::{Database, Durability};
/// let dir = tempfile::tempdir()?;
/// let mut db = Database::create(dir.path().join("app.xdb"))?;
/// assert_eq!(db.durability(), Durability::Full); // two fsyncs per commit
/// db.set_durability(Durability::None); // bulk load: let the OS write it
/// for i in 0..100u64 {
///     db.transact(|tx| tx.root_map()?.put("n", i))?;
/// }
/// db.set_durability(Durability::Full);
/// db.transact(|tx| tx.root_map()?.put("done", 1u64))?; // durable, with all before it
/// # Ok::<(), xitdb::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Data is flushed and fsynced before the header that publishes it is
    /// written, then the header is fsynced: a crash at any instant loses at
    /// most the transaction in flight. Two fsyncs per commit.
    #[default]
    Full,
    /// One fsync after the header (what the reference does). A crash can
    /// publish a header whose data did not reach the disk.
    HeaderOnly,
    /// No fsync: data and header are handed to the operating system only.
    /// Survives a process crash, not a power loss.
    None,
}

/// Settings for opening or creating a database.
///
/// Pass them to [`Database::create_with`], [`Database::open_with`] or
/// [`Database::open_storage`]; `Options::default()` is BLAKE3 keys and
/// [`Durability::Full`].
///
/// ```
/// use xitdb::format::HashKind;
/// use xitdb::{Database, Durability, Options};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("shared.xdb");
/// // SHA-1 keys: the hasher the other xitdb implementations use by default
/// let opts = Options {
///     hash: HashKind::Sha1,
///     durability: Durability::HeaderOnly,
///     ..Options::default()
/// };
/// let mut db = Database::create_with(&path, opts)?;
/// db.transact(|tx| tx.root_map()?.put("k", "v"))?;
/// drop(db);
/// // the hasher of an existing file comes from its header
/// let db = Database::open(&path)?;
/// assert_eq!(db.hasher().kind(), Some(HashKind::Sha1));
/// # Ok::<(), xitdb::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Hasher for a new database (BLAKE3 by default).
    pub hash: HashKind,
    /// Force this hasher for an existing database whose header names an
    /// unknown algorithm (e.g. files written with hash_id 0); its size must
    /// match the header's.
    pub hash_override: Option<HashKind>,
    /// Commit durability.
    pub durability: Durability,
    /// The family of the database's LinkedArrayLists. `None` (the default)
    /// makes a new database in the current upstream family,
    /// [`ListFamily::BTree`], and infers an existing one's from what it
    /// holds: a sorted collection, or the first list whose bytes tell.
    /// Nothing in a file records its family, so open files written by
    /// xitdb before June 2026 that hold linked lists with
    /// [`ListFamily::Rrb`] if inference cannot tell.
    pub list_family: Option<ListFamily>,
    /// How long [`Database::open_with`] and [`Database::create_with`] wait
    /// for another writer (a handle in this process or another process)
    /// to let go of the file's lock: `None` (the default) fails at once
    /// with [`Error::Locked`]; `Some(d)` waits up to `d`, then fails with
    /// [`Error::LockTimedOut`]. Read-only opens take no lock and never wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use xitdb::{Database, Error, Options};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.xdb");
    /// let writer = Database::create(&path)?;
    /// let patient = Options {
    ///     lock_wait: Some(Duration::from_millis(50)),
    ///     ..Options::default()
    /// };
    /// let second = Database::open_with(&path, patient);
    /// assert!(matches!(second, Err(Error::LockTimedOut { .. })));
    /// drop(writer); // the lock goes with the writer
    /// assert!(Database::open_with(&path, patient).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    pub lock_wait: Option<std::time::Duration>,
}

/// An xitdb database over some storage.
///
/// Open one in memory ([`Database::memory`], [`Database::from_bytes`],
/// [`Database::from_slice`]), on a file ([`Database::create`],
/// [`Database::open`], [`Database::open_read_only`]) or over any
/// [`Storage`] ([`Database::open_storage`]). Write with
/// [`Database::transact`], which appends one *moment* per transaction;
/// read any moment with [`Database::moment`], or hand one to other threads
/// with [`Database::snapshot`].
///
/// ```
/// use xitdb::Database;
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put("hello", "world"))?;
/// let moment = db.moment(-1)?;
/// let v = moment.as_map()?.get(b"hello")?.unwrap();
/// assert_eq!(&*v.as_bytes()?, b"world");
/// # Ok::<(), xitdb::Error>(())
/// ```
pub struct Database<S: Storage = MemoryStorage> {
    store: S,
    header: Header,
    hasher: Hasher,
    durability: Durability,
    /// The committed history (size and root), read at open and kept up to
    /// date by commits: readers see the state of their last commit or open
    /// even while another process rewrites the header.
    history: Option<ArrayList>,
    /// The linked-list family, known or still to be learned; shared with
    /// snapshots, so that what one reader learns the others use.
    family: Arc<FamilyCell>,
    /// Set when a failed transaction could not be rolled back (the storage
    /// kept failing); the next write first recovers from what is stored.
    poisoned: bool,
    /// Where the root (of a root-map database) is read: offset 12, or, for
    /// a read-only handle on a file whose last root-map commit passed its
    /// commit point but has not finished its root write, the copy of the
    /// new root that the commit's redo record names (FORMAT.md §8.8).
    root_at: u64,
}

impl<S: Storage> std::fmt::Debug for Database<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("header", &self.header)
            .field("len", &self.store.len())
            .finish()
    }
}

impl Database<MemoryStorage> {
    /// A new, empty in-memory database hashing keys with BLAKE3.
    ///
    /// ```
    /// let db = xitdb::Database::memory();
    /// assert_eq!(db.moment_count()?, 0);
    /// assert_eq!(db.len(), 12); // just the header
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn memory() -> Self {
        Self::memory_with(HashKind::default())
    }

    /// A new, empty in-memory database with the given hasher.
    ///
    /// ```
    /// use xitdb::{format::HashKind, Database};
    /// let db = Database::memory_with(HashKind::Sha1);
    /// assert_eq!(db.hasher().size(), 20);
    /// ```
    pub fn memory_with(hash: HashKind) -> Self {
        Self::memory_with_options(Options {
            hash,
            ..Options::default()
        })
    }

    /// A new, empty in-memory database with the given options (hasher,
    /// durability, linked-list family).
    ///
    /// ```
    /// use xitdb::{Database, ListFamily, Options};
    /// let db = Database::memory_with_options(Options {
    ///     list_family: Some(ListFamily::Rrb),
    ///     ..Options::default()
    /// });
    /// assert_eq!(db.list_family(), Some(ListFamily::Rrb));
    /// ```
    pub fn memory_with_options(opts: Options) -> Self {
        let hash = opts.hash;
        let mut store = MemoryStorage::new();
        let header = new_header(hash);
        // A fresh buffer cannot fail to take its header.
        let _ = store.append(&header.encode());
        Database {
            store,
            header,
            hasher: Hasher::new(hash),
            durability: opts.durability,
            history: None,
            family: Arc::new(FamilyCell::new(Some(
                opts.list_family.unwrap_or(ListFamily::BTree),
            ))),
            poisoned: false,
            root_at: DATABASE_START,
        }
    }

    /// Opens database bytes held in memory, for reading and writing. Only
    /// the 12-byte header is checked: there is no parse step.
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("n", 1u64))?;
    /// let bytes: Vec<u8> = db.into_bytes(); // exactly what a file would hold
    ///
    /// let mut db = Database::from_bytes(bytes)?;
    /// db.transact(|tx| tx.root_map()?.put("n", 2u64))?;
    /// assert_eq!(db.moment_count()?, 2);
    /// assert!(Database::from_bytes(b"not a database".to_vec()).is_err());
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes_with(bytes, Options::default())
    }

    /// Like [`Database::from_bytes`], with options (e.g. the list family).
    pub fn from_bytes_with(bytes: Vec<u8>, opts: Options) -> Result<Self> {
        Self::open_storage(MemoryStorage::from_vec(bytes), opts)
    }

    /// Hands the database bytes back out.
    pub fn into_bytes(self) -> Vec<u8> {
        self.store.into_vec()
    }
}

impl<'a> Database<SliceStorage<'a>> {
    /// Opens borrowed database bytes read-only, in place, with no copy.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("greeting", "hi"))?;
    /// let received: Vec<u8> = db.into_bytes(); // say, from the network
    ///
    /// let mut view = Database::from_slice(&received)?;
    /// let map = view.moment(-1)?.as_map()?;
    /// assert_eq!(map.get(b"greeting")?.unwrap().as_str()?, "hi");
    /// let write = view.transact(|tx| tx.root_map()?.put("greeting", "bye"));
    /// assert!(matches!(write, Err(Error::ReadOnly)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self> {
        Self::from_slice_with(bytes, Options::default())
    }

    /// Opens borrowed database bytes read-only, with options: the list
    /// family, or [`Options::hash_override`] for bytes whose header names
    /// a hasher this library does not know.
    ///
    /// ```
    /// use xitdb::format::HashKind;
    /// use xitdb::{Database, ListFamily, Options};
    /// let mut db = Database::memory_with(HashKind::Sha1);
    /// db.transact(|tx| tx.root_map()?.put("k", "v"))?;
    /// let bytes = db.into_bytes();
    /// let opts = Options {
    ///     hash_override: Some(HashKind::Sha1),
    ///     list_family: Some(ListFamily::BTree),
    ///     ..Options::default()
    /// };
    /// let view = Database::from_slice_with(&bytes, opts)?;
    /// assert_eq!(view.moment(-1)?.as_map()?.require("k")?.as_str()?, "v");
    /// assert_eq!(view.list_family(), Some(ListFamily::BTree));
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn from_slice_with(bytes: &'a [u8], opts: Options) -> Result<Self> {
        Self::open_storage(SliceStorage::new(bytes), opts)
    }
}

impl Database<FileStorage> {
    /// Creates a new database file (replacing any file at `path`), locked for writing.
    ///
    /// ```
    /// use xitdb::Database;
    /// let dir = tempfile::tempdir()?;
    /// let mut db = Database::create(dir.path().join("app.xdb"))?;
    /// db.transact(|tx| tx.root_map()?.put("title", "first draft"))?;
    /// assert_eq!(db.moment_count()?, 1);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::create_with(path, Options::default())
    }

    /// Creates a new database file with options (see [`Options`] for an
    /// example); the file is truncated only once its lock is held.
    pub fn create_with(path: impl AsRef<Path>, opts: Options) -> Result<Self> {
        Self::open_storage(
            FileStorage::create_waiting(path.as_ref(), opts.lock_wait)?,
            opts,
        )
    }

    /// Opens a database file for writing (creating it if missing); fails
    /// with [`Error::Locked`] while another writer has it open.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.xdb");
    /// let mut db = Database::open(&path)?; // created, since it was missing
    /// db.transact(|tx| tx.root_map()?.put("n", 1u64))?;
    /// // one writer per file, in this process or another
    /// assert!(matches!(Database::open(&path), Err(Error::Locked)));
    /// drop(db);
    /// let db = Database::open(&path)?;
    /// assert_eq!(db.moment_count()?, 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Options::default())
    }

    /// Opens a database file for writing, with options (see [`Options`]);
    /// [`Options::lock_wait`] says whether to wait for another writer.
    pub fn open_with(path: impl AsRef<Path>, opts: Options) -> Result<Self> {
        Self::open_storage(
            FileStorage::open_waiting(path.as_ref(), opts.lock_wait)?,
            opts,
        )
    }

    /// Opens a database file read-only. Takes no lock, so it can be used
    /// while another process writes; it sees the moments committed when it
    /// was opened, and newer ones after [`Database::refresh`].
    ///
    /// ```
    /// use xitdb::Database;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.xdb");
    /// let mut writer = Database::create(&path)?;
    /// writer.transact(|tx| tx.root_map()?.put("n", 1u64))?;
    ///
    /// let mut reader = Database::open_read_only(&path)?; // no lock taken
    /// writer.transact(|tx| tx.root_map()?.put("n", 2u64))?;
    /// assert_eq!(reader.moment_count()?, 1); // what was committed at open
    /// reader.refresh()?;
    /// assert_eq!(reader.moment_count()?, 2);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_read_only_with(path, Options::default())
    }

    /// Opens a database file read-only, with options (see [`Options`]:
    /// the list family of a file written by xitdb before June 2026, or a
    /// hasher for a header naming an unknown one; the hasher of an existing
    /// file otherwise comes from its header).
    ///
    /// ```
    /// use xitdb::{Database, Options};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.xdb");
    /// Database::create(&path)?.transact(|tx| tx.root_map()?.put("n", 1u64))?;
    /// let db = Database::open_read_only_with(&path, Options::default())?;
    /// assert_eq!(db.moment_count()?, 1);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn open_read_only_with(path: impl AsRef<Path>, opts: Options) -> Result<Self> {
        Self::open_storage(FileStorage::open_read_only(path.as_ref())?, opts)
    }
}

fn new_header(hash: HashKind) -> Header {
    Header {
        tag: Tag::None,
        version: VERSION,
        hash_size: hash.size(),
        hash_id: hash.id(),
    }
}

impl<S: Storage> Database<S> {
    /// Opens a database over any storage. Empty writable storage gets a
    /// fresh header; otherwise the header is validated, and bytes past the
    /// last commit (left by a crash) are discarded unless read-only.
    ///
    /// ```
    /// use xitdb::storage::{MemoryStorage, Storage};
    /// use xitdb::{Database, Options};
    /// let mut db = Database::open_storage(MemoryStorage::new(), Options::default())?;
    /// db.transact(|tx| tx.root_map()?.put("k", "v"))?;
    /// let storage: MemoryStorage = db.into_storage();
    /// assert_eq!(&storage.as_bytes()[..3], b"xit");
    /// assert!(storage.len() > 12);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn open_storage(mut store: S, opts: Options) -> Result<Self> {
        let mut family = opts.list_family;
        if store.is_empty() {
            family = Some(family.unwrap_or(ListFamily::BTree));
            if !store.is_writable() {
                return Err(Error::TooShort { len: 0 });
            }
            store.append(&new_header(opts.hash).encode())?;
            store.sync()?;
        }
        let len = store.len();
        if len < HEADER_LEN {
            return Err(Error::TooShort { len });
        }
        let mut raw = [0u8; 12];
        store.read_at(0, &mut raw)?;
        let header = Header::decode(raw)?;
        let mut hasher = Hasher::from_header(header.hash_id, header.hash_size);
        if let Some(k) = opts.hash_override {
            if k.size() != header.hash_size {
                return Err(Error::HashLength {
                    expected: header.hash_size as usize,
                    found: k.size() as usize,
                });
            }
            hasher = Hasher::new(k);
        }
        let mut db = Database {
            store,
            header,
            hasher,
            durability: opts.durability,
            history: None,
            family: Arc::new(FamilyCell::new(family)),
            poisoned: false,
            root_at: DATABASE_START,
        };
        db.recover()?;
        Ok(db)
    }

    /// Reads the header and the committed history, once and consistently.
    ///
    /// A read-only handle can race a writer in another process. The writer
    /// flushes a commit's data before its header, so the handle reads the
    /// header first and only then measures the file, which then holds
    /// everything that header describes; a half-written header is read
    /// again until two reads agree.
    fn load_state(&mut self) -> Result<Option<TopHeader>> {
        const ATTEMPTS: usize = 16;
        let read_only = !self.store.is_writable();
        for attempt in 1..=ATTEMPTS {
            let src = self.src();
            let raw: [u8; 12] = src.array(0)?;
            let header = Header::decode(raw)?;
            if header.tag != Tag::ArrayList {
                self.header = header;
                self.history = None;
                self.root_at = DATABASE_START;
                if read_only && header.tag.is_hamt() {
                    // A root-map commit past its commit point, its root
                    // write unfinished (a crash, or a writer in another
                    // process): read the new root from its copy.
                    if let Some((_, redo)) = redo::find(&self.store, header)? {
                        self.header.tag = redo.tag;
                        self.root_at = redo.head_pos;
                    }
                }
                return Ok(None);
            }
            let top_raw: [u8; 24] = src.array(DATABASE_START)?;
            let torn = top_raw != src.array::<24>(DATABASE_START)? || raw != src.array::<12>(0)?;
            if read_only {
                self.store.refresh()?;
                if torn && attempt < ATTEMPTS {
                    continue;
                }
            }
            let top = TopHeader::decode(top_raw);
            if top.file_size > self.store.len() {
                return Err(Error::Truncated {
                    expected: top.file_size,
                    found: self.store.len(),
                });
            }
            let history = ArrayList::checked(&self.src(), DATABASE_START, top.size, top.ptr)?;
            self.header = header;
            self.history = Some(history);
            return Ok(Some(top));
        }
        Err(Error::corrupt(
            DATABASE_START,
            "history header keeps changing",
        ))
    }

    /// Discards bytes past the last commit (writable storage only).
    fn recover(&mut self) -> Result<()> {
        let top = self.load_state()?;
        let len = self.store.len();
        if !self.store.is_writable() {
            return Ok(());
        }
        match (self.header.tag, top, self.history) {
            (Tag::ArrayList, Some(top), Some(history)) => {
                // A crashed transaction may have linked a new block into a
                // committed history block (in place, past the last moment).
                // This crate never follows such a link, but the reference
                // would on its next append: clear it first, so that an
                // interrupted recovery is simply done again next time.
                if let Some(stale) = history.stale_append_slot(&self.src())? {
                    self.store.write_at(stale, &Slot::EMPTY.encode())?;
                    self.store.sync()?;
                }
                // A history never committed to is its header and one block.
                let committed = match top.file_size {
                    0 if history.size == 0 && top.ptr == DATABASE_START + TOP_HEADER_LEN => {
                        DATABASE_START + TOP_HEADER_LEN + BLOCK_LEN
                    }
                    n => n,
                };
                if committed != 0 && committed < len {
                    // Never cut away the history itself on the word of a
                    // damaged header.
                    if committed < history.root.saturating_add(BLOCK_LEN)
                        || history.size > committed / crate::format::SLOT_LEN
                    {
                        return Err(Error::corrupt(
                            DATABASE_START,
                            "committed size too small for the history it records",
                        ));
                    }
                    self.store.truncate(committed)?;
                    self.store.sync()?;
                }
            }
            (Tag::None, _, _) if len > HEADER_LEN => {
                self.store.truncate(HEADER_LEN)?;
                self.store.sync()?;
            }
            // A root map: finish a commit that a crash interrupted after
            // its commit point (FORMAT.md §8.8).
            (tag, _, _) if tag.is_hamt() => {
                self.header.tag = redo::roll_forward(&mut self.store, self.header)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Sees the moments another process committed since this handle was
    /// opened (for read-only file handles; a writer already sees its own).
    pub fn refresh(&mut self) -> Result<()> {
        self.store.refresh()?;
        self.load_state().map(|_| ())
    }

    pub(crate) fn src(&self) -> Src<'_> {
        Src::storage(&self.store, self.hasher).with_family(&self.family)
    }

    /// The family of the database's LinkedArrayLists, when known: given
    /// at open, chosen for a new database, or learned from the lists and
    /// sorted collections read so far. See [`Database::detect_list_family`].
    pub fn list_family(&self) -> Option<ListFamily> {
        self.family.get()
    }

    /// Makes `family` the database's list family (a compaction's
    /// destination takes its source's).
    pub(crate) fn adopt_list_family(&mut self, family: ListFamily) {
        self.family = Arc::new(FamilyCell::new(Some(family)));
    }

    /// The family of the database's LinkedArrayLists, looking through
    /// everything it holds (every moment) if it is not known yet; `None`
    /// when nothing in it tells (it holds no non-empty linked list and no
    /// sorted collection), in which case writes use [`ListFamily::BTree`].
    /// An error when a list could be of either family.
    pub fn detect_list_family(&self) -> Result<Option<ListFamily>> {
        if let Some(f) = self.family.get() {
            return Ok(Some(f));
        }
        let src = self.src();
        let found = scan(&src, &[self.root_slot()])?;
        Ok(found.map(|f| self.family.learn(f)))
    }

    /// The database header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The hasher chosen from the header.
    pub fn hasher(&self) -> Hasher {
        self.hasher
    }

    /// Changes the durability of later commits.
    pub fn set_durability(&mut self, d: Durability) {
        self.durability = d;
    }

    /// The underlying storage.
    pub fn storage(&self) -> &S {
        &self.store
    }

    /// Gives the storage back.
    pub fn into_storage(self) -> S {
        self.store
    }

    /// Storage length in bytes.
    pub fn len(&self) -> u64 {
        self.store.len()
    }

    /// True for a database holding only its header.
    pub fn is_empty(&self) -> bool {
        self.store.len() <= HEADER_LEN
    }

    /// The root slot, as the header describes it (at offset 12; see
    /// `root_at` for the one exception).
    fn root_slot(&self) -> Slot {
        match self.header.tag {
            Tag::None => Slot::EMPTY,
            tag => Slot::new(tag, self.root_at),
        }
    }

    /// A cursor on the root: the history list, a root map or set, or null.
    ///
    /// ```
    /// use xitdb::{format::Tag, Database};
    /// let mut db = Database::memory();
    /// assert!(db.root().is_null());
    /// db.transact(|tx| tx.root_map()?.put("k", 1u64))?;
    /// // a database with moments has the history list as its root
    /// assert_eq!(db.root().tag(), Tag::ArrayList);
    /// assert_eq!(db.root().as_list()?.len(), 1);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn root(&self) -> Cursor<'_> {
        Cursor::new(self.src(), self.root_slot(), None)
    }

    fn history(&self) -> Result<Option<ArrayList>> {
        match self.header.tag {
            Tag::ArrayList | Tag::None => Ok(self.history),
            found => Err(Error::WrongRoot { found }),
        }
    }

    /// Number of committed moments (0 for an empty database).
    pub fn moment_count(&self) -> Result<u64> {
        Ok(self.history()?.map_or(0, |h| h.size))
    }

    /// Position of moment `index`'s slot (negative counts from the end).
    fn moment_pos(&self, index: i64) -> Result<u64> {
        let history = self.history()?.unwrap_or(ArrayList {
            header: DATABASE_START,
            size: 0,
            root: 0,
        });
        let k = resolve_index(index, history.size).map_err(|_| Error::NoSuchMoment {
            index,
            len: history.size,
        })?;
        history.slot_pos(&self.src(), k)
    }

    /// A cursor on moment `index`'s root (negative counts from the end).
    ///
    /// Every committed moment stays readable: this is time travel.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// for title in ["draft", "review", "final"] {
    ///     db.transact(|tx| tx.root_map()?.put("title", title))?;
    /// }
    /// let title = |m: i64| -> Result<String, Error> {
    ///     db.moment(m)?.as_map()?.get(b"title")?.unwrap().as_str()
    /// };
    /// assert_eq!(title(-1)?, "final"); // the newest
    /// assert_eq!(title(0)?, "draft"); // the first
    /// assert_eq!(title(-2)?, "review");
    /// assert!(matches!(db.moment(3), Err(Error::NoSuchMoment { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn moment(&self, index: i64) -> Result<Cursor<'_>> {
        Cursor::at(self.src(), self.moment_pos(index)?)
    }

    /// A `Send + Sync` handle on moment `index` that other threads can read
    /// while this database keeps committing (see [`Snapshot`]).
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("n", 1u64))?;
    /// let snap = db.snapshot(-1)?;
    /// let reader = std::thread::spawn(move || -> Result<u64, Error> {
    ///     snap.cursor().as_map()?.get(b"n")?.unwrap().as_uint()
    /// });
    /// db.transact(|tx| tx.root_map()?.put("n", 2u64))?; // the writer goes on
    /// assert_eq!(reader.join().unwrap()?, 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn snapshot(&self, index: i64) -> Result<Snapshot> {
        let slot = self.moment(index)?.slot();
        Ok(Snapshot::new(
            self.store.share(self.store.len())?,
            self.hasher,
            self.family.clone(),
            slot,
        ))
    }

    /// Runs `body` with a fresh transaction state; if it fails, puts back
    /// the exact bytes the storage had (headers included) and returns the error.
    fn atomically<T, E: From<Error>>(
        &mut self,
        root: Slot,
        body: impl FnOnce(&mut S, &mut TxState) -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.store.is_writable() {
            return Err(Error::ReadOnly.into());
        }
        self.heal()?;
        let start_len = self.store.len();
        let mut st = TxState::new(self.hasher, self.family.clone(), start_len, root);
        let store = &mut self.store;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(store, &mut st)));
        let failure = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => Ok(e),
            Err(panic) => Err(panic),
        };
        // Put the bytes back, even when the body panicked, so the handle
        // stays usable.
        let restored = TxCore::open(&mut self.store, &mut st)
            .and_then(|mut core| core.rollback(start_len))
            .and_then(|_| self.store.flush());
        if restored.is_err() {
            self.poisoned = true;
        }
        match failure {
            Ok(e) => Err(e),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// After a rollback that failed, rebuilds the in-memory state from the
    /// storage: bytes past the last commit are dropped, as on open.
    fn heal(&mut self) -> Result<()> {
        if self.poisoned {
            self.store.flush()?;
            self.recover()?;
            self.poisoned = false;
        }
        Ok(())
    }

    /// Runs `f` as a transaction that appends a new moment to the history.
    ///
    /// The new moment starts as a copy of the latest one ([`Transaction::root`]).
    /// If `f` returns `Ok`, the moment is committed; if it returns `Err` (or
    /// the commit fails), the database is left exactly as it was, byte for byte.
    /// The closure's error type is yours, as long as an [`Error`] converts
    /// into it; what `f` returns on success is returned.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// let items = db.transact(|tx| -> Result<u64, Error> {
    ///     let mut root = tx.root_map()?;
    ///     root.put("owner", "ada")?;
    ///     let mut todo = root.entry("todo")?.array_list()?;
    ///     todo.append("write docs")?;
    ///     todo.append("ship")?;
    ///     todo.len()
    /// })?;
    /// assert_eq!(items, 2);
    ///
    /// // a failing transaction changes nothing
    /// let before = db.storage().as_bytes().to_vec();
    /// let failed = db.transact(|tx| -> Result<(), Error> {
    ///     tx.root_map()?.put("owner", "mallory")?;
    ///     Err(Error::InvalidArgument("changed my mind"))
    /// });
    /// assert!(failed.is_err());
    /// assert_eq!(db.storage().as_bytes(), &before[..]);
    /// assert_eq!(db.moment_count()?, 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn transact<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        self.history_tx(false, f)
    }

    /// Runs `f` as a transaction that *replaces* the newest moment instead
    /// of appending one (the reference's write at history index -1): for
    /// edits that belong to the moment just committed, such as a fix-up
    /// of its metadata, without growing the history. Like
    /// [`Database::transact`] otherwise: the moment starts as the newest
    /// one, and a failure changes nothing. The replaced moment's bytes stay
    /// in the file, unreachable from the history (snapshots taken of it
    /// still read it). Fails with [`Error::NoSuchMoment`] on an empty
    /// history.
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("draft", 1u64))?;
    /// db.transact(|tx| tx.root_map()?.put("draft", 2u64))?;
    /// db.amend(|tx| tx.root_map()?.put("note", "typo fixed"))?;
    /// assert_eq!(db.moment_count()?, 2); // replaced, not appended
    /// let newest = db.moment(-1)?.as_map()?;
    /// assert_eq!(newest.require("draft")?.as_u64()?, 2);
    /// assert_eq!(newest.require("note")?.as_str()?, "typo fixed");
    /// assert!(db.moment(0)?.as_map()?.get("note")?.is_none());
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn amend<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        if self.moment_count()? == 0 {
            return Err(Error::NoSuchMoment { index: -1, len: 0 }.into());
        }
        self.history_tx(true, f)
    }

    /// A history transaction: appending a moment, or amending the newest.
    fn history_tx<T, E: From<Error>>(
        &mut self,
        amend: bool,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.heal()?;
        let (header, durability) = (self.header, self.durability);
        let (value, history) = self.atomically(Slot::EMPTY, |store, st| {
            let (value, history) = Self::run_history_tx(store, st, header, amend, f)?;
            Self::commit_history(store, st, history, header, durability)?;
            Ok::<_, E>((value, history))
        })?;
        self.header.tag = Tag::ArrayList;
        self.history = Some(history);
        Ok(value)
    }

    fn run_history_tx<T, E: From<Error>>(
        store: &mut S,
        st: &mut TxState,
        header: Header,
        amend: bool,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<(T, ArrayList), E> {
        let mut core = TxCore::open(store, st)?;
        match header.tag {
            Tag::ArrayList => {}
            Tag::None => init_history(&mut core)?,
            found => return Err(Error::WrongRoot { found }.into()),
        }
        let mut history = ArrayList::read(&core.src(), DATABASE_START)?;
        let committed = history;
        let prev = if history.size == 0 {
            Slot::NULL
        } else {
            core.src()
                .slot(history.slot_pos(&core.src(), history.size - 1)?)?
        };
        let leaf = match history.size.checked_sub(1) {
            Some(newest) if amend => history.slot_pos_detached(&mut core, newest)?,
            _ => history.push_slot(&mut core, false, false)?,
        };
        // The new moment's root starts as the previous one's and is kept in
        // memory while the callback runs (opening it as a map repoints it,
        // nested writes may again): the history slot is written once, here
        // at the end, which saves in-place writes into an old block.
        core.st.root = prev;
        let mut tx = Transaction {
            store: core.store,
            st: core.st,
            root: SlotPos::Root,
            history: Some(committed),
        };
        let value = f(&mut tx)?;
        let root = tx.st.root;
        tx.core().write_at(leaf, &root.encode())?;
        Ok((value, history))
    }

    /// Publishes the new moment: data first, then the headers (the commit
    /// point), each made durable as `durability` asks. A new history gets
    /// its root tag only now, so a crash before this leaves an empty
    /// database. The header writes go through the undo log, so a failure
    /// here rolls back too.
    fn commit_history(
        store: &mut S,
        st: &mut TxState,
        history: ArrayList,
        header: Header,
        durability: Durability,
    ) -> Result<()> {
        store.flush()?;
        if durability == Durability::Full {
            store.sync()?;
        }
        let top = TopHeader {
            size: history.size,
            ptr: history.root,
            file_size: store.len(),
        };
        let mut core = TxCore::open(store, st)?;
        if header.tag != Tag::ArrayList {
            let h = Header {
                tag: Tag::ArrayList,
                ..header
            };
            core.write_at(0, &h.encode())?;
        }
        core.write_at(DATABASE_START, &top.encode())?;
        sync_as(store, durability)
    }

    /// Runs `f` as a transaction on a database whose root is a map or set
    /// rather than a history (or on an empty database, to make it one).
    ///
    /// There are no moments: the root is changed copy-on-write and committed
    /// by rewriting the root block at offset 12. If `f` fails, nothing changes.
    /// Read the root with [`Database::root`].
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact_root(|tx| tx.root().counted_hash_map()?.put("a", 1u64))?;
    /// db.transact_root(|tx| tx.root().counted_hash_map()?.put("b", 2u64))?;
    /// let root = db.root().as_map()?;
    /// assert_eq!(root.count()?, 2);
    /// // no history: moments and history transactions do not apply
    /// assert!(matches!(db.moment_count(), Err(Error::WrongRoot { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn transact_root<T, E>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<Error>,
    {
        self.heal()?;
        let (header, durability) = (self.header, self.durability);
        if header.tag == Tag::ArrayList {
            return Err(Error::WrongRoot {
                found: Tag::ArrayList,
            }
            .into());
        }
        let (value, tag) = self.atomically(self.root_slot(), |store, st| {
            let data_start = store.len();
            let mut tx = Transaction {
                store: Store::new(store)?,
                st,
                root: SlotPos::Root,
                history: None,
            };
            let value = f(&mut tx)?;
            let root = tx.st.root;
            let tag = Self::commit_root(store, st, root, header, durability, data_start)?;
            Ok::<_, E>((value, tag))
        })?;
        self.header.tag = tag;
        Ok(value)
    }

    /// Publishes a root-map transaction's root at offset 12 (FORMAT.md
    /// §8.8): data first, then a redo record after it (the commit point),
    /// then the root over offset 12 and the header tag (through the undo
    /// log), each made durable as `durability` asks; finally the record is
    /// retired. A first root made at offset 12 itself needs only the tag.
    fn commit_root(
        store: &mut S,
        st: &mut TxState,
        root: Slot,
        header: Header,
        durability: Durability,
        data_start: u64,
    ) -> Result<Tag> {
        match root.tag {
            Tag::None => {
                // nothing to publish; what was appended is made durable
                // as before
                sync_as(store, durability)?;
                return Ok(header.tag);
            }
            t if t.is_hamt() => {}
            t => return Err(Error::InvalidRoot(t)),
        }
        let head_len = redo::head_len(root.tag)?;
        if root.value != DATABASE_START
            && (header.tag == Tag::None || redo::head_len(header.tag)? != head_len)
        {
            // The root block must be rewritten at offset 12 in the same
            // space: the root cannot change between counted and uncounted.
            return Err(Error::WrongRoot { found: header.tag });
        }
        let head_pos = match Hamt::from_slot(root)? {
            h if root.value != DATABASE_START => Some(h.count_pos.unwrap_or(h.block)),
            _ => None,
        };
        let record = match head_pos {
            Some(p) => Some(redo::append(store, data_start, p, head_len, root.tag)?),
            None => None,
        };
        store.flush()?;
        if durability == Durability::Full {
            store.sync()?;
        }
        let mut core = TxCore::open(store, st)?;
        let head = match head_pos {
            Some(p) => Some(core.src().bytes(p, head_len)?.into_owned()),
            None => None,
        };
        redo::publish(head.as_deref(), root.tag, header, |pos, bytes| {
            core.write_at(pos, bytes)
        })?;
        sync_as(store, durability)?;
        if let Some(pos) = record {
            redo::retire(store, pos)?;
        }
        Ok(root.tag)
    }

    /// Undo: appends moment `index` again as the newest moment (no data is copied).
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("text", "good"))?;
    /// db.transact(|tx| tx.root_map()?.put("text", "oops"))?;
    /// db.revert_to(0)?;
    /// assert_eq!(db.moment_count()?, 3); // the mistake stays in the history
    /// let text = db.moment(-1)?.as_map()?.get(b"text")?.unwrap().as_str()?;
    /// assert_eq!(text, "good");
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn revert_to(&mut self, index: i64) -> Result<()> {
        let slot = self.moment(index)?.slot();
        self.transact(|tx| tx.root().write_slot(slot))
    }

    /// The committed history (`None` for a root-map database), as the last
    /// open or commit read it.
    pub(crate) fn committed_history(&self) -> Option<ArrayList> {
        self.history
    }

    /// The commit durability in force.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Rewrites the whole database through `body`, which gets the raw
    /// storage and the durability; on success the database takes `hasher`
    /// and reloads its header and history, on failure the storage is put
    /// back byte for byte. Tools that write whole files (compaction) use it.
    pub(crate) fn rewrite<T>(
        &mut self,
        hasher: Hasher,
        body: impl FnOnce(&mut S, Durability) -> Result<T>,
    ) -> Result<T> {
        let durability = self.durability;
        let out = self.atomically(Slot::EMPTY, |store, _| body(store, durability))?;
        self.hasher = hasher;
        self.load_state()?;
        Ok(out)
    }

    /// Drops every moment after the first `len` (the reference's history
    /// slice). The dropped moments' bytes stay in the file (compaction,
    /// [`Database::compact_into`], leaves them behind).
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// for i in 0..5u64 {
    ///     db.transact(|tx| tx.root_map()?.put("n", i))?;
    /// }
    /// db.truncate_history(2)?;
    /// assert_eq!(db.moment_count()?, 2);
    /// let n = db.moment(-1)?.as_map()?.get(b"n")?.unwrap().as_uint()?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn truncate_history(&mut self, len: u64) -> Result<()> {
        if !self.store.is_writable() {
            return Err(Error::ReadOnly);
        }
        self.heal()?;
        let Some(history) = self.history()? else {
            return if len == 0 {
                Ok(())
            } else {
                Err(Error::NoSuchMoment {
                    index: i64::try_from(len).unwrap_or(i64::MAX),
                    len: 0,
                })
            };
        };
        if len > history.size {
            return Err(Error::NoSuchMoment {
                index: i64::try_from(len).unwrap_or(i64::MAX),
                len: history.size,
            });
        }
        let durability = self.durability;
        // The history is never copied: its header changes in place, through
        // the undo log, so a failed write is put back.
        let h = self.atomically(Slot::EMPTY, |store, st| {
            let mut h = history;
            h.truncate(&mut TxCore::open(store, st)?, len)?;
            sync_as(store, durability)?;
            Ok::<_, Error>(h)
        })?;
        self.history = Some(h);
        Ok(())
    }
}

/// Makes what was written durable as `durability` asks.
fn sync_as(store: &mut dyn Storage, durability: Durability) -> Result<()> {
    match durability {
        Durability::None => store.flush(),
        _ => store.sync(),
    }
}

/// Writes the empty history: the 24-byte header and a zero root block (the
/// database header's tag is set when the first moment commits).
fn init_history(core: &mut TxCore<'_>) -> Result<()> {
    if core.store.len() != DATABASE_START {
        return Err(Error::corrupt(DATABASE_START, "data after an empty root"));
    }
    let top = TopHeader {
        size: 0,
        ptr: DATABASE_START + TOP_HEADER_LEN,
        file_size: 0,
    };
    core.alloc(&top.encode())?;
    core.alloc_zeroed(BLOCK_LEN)?;
    Ok(())
}

/// A transaction in progress: the new moment's root slot, plus reads of
/// the committed moments.
///
/// [`Database::transact`] hands one to its closure. [`Transaction::root`]
/// (or [`Transaction::root_map`]) is the moment being built, which starts
/// as a copy of the latest one; [`Transaction::moment`] reads committed
/// moments, unchanged by what the transaction writes.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put("visits", 1u64))?;
/// db.transact(|tx| -> Result<(), Error> {
///     let last = tx.moment(-1)?.as_map()?.get(b"visits")?.unwrap().as_uint()?;
///     assert_eq!(tx.moment_count(), 1);
///     tx.root_map()?.put("visits", last + 1)?;
///     // a clone of a structure made in this transaction: freeze first,
///     // so that the two stay independent
///     tx.root_map()?.entry("draft")?.hash_map()?.put("v", 1u64)?;
///     let draft = tx.root_map()?.get(b"draft")?.unwrap().slot();
///     tx.freeze();
///     tx.root_map()?.entry("copy")?.write_slot(draft)?;
///     tx.root_map()?.entry("draft")?.hash_map()?.put("v", 2u64)?;
///     Ok(())
/// })?;
/// let now = db.moment(-1)?.as_map()?;
/// assert_eq!(now.get(b"visits")?.unwrap().as_uint()?, 2);
/// let v = |key: &[u8]| -> Result<u64, Error> {
///     now.get(key)?.unwrap().as_map()?.get(b"v")?.unwrap().as_uint()
/// };
/// assert_eq!((v(b"draft")?, v(b"copy")?), (2, 1));
/// # Ok::<(), Error>(())
/// ```
pub struct Transaction<'db> {
    store: Store<'db>,
    st: &'db mut TxState,
    root: SlotPos,
    history: Option<ArrayList>,
}

impl<'db> Transaction<'db> {
    fn core(&mut self) -> TxCore<'_> {
        TxCore::new(self.store.reborrow(), &mut *self.st)
    }

    /// A cursor on the root being built: the new moment (initially the
    /// previous moment's root), or the root map in [`Database::transact_root`].
    pub fn root(&mut self) -> CursorMut<'_> {
        let pos = self.root;
        CursorMut::new(self.core(), pos)
    }

    /// Shorthand for `root().hash_map()`: the moment's root as a HashMap.
    pub fn root_map(&mut self) -> Result<MapMut<'_>> {
        self.root().hash_map()
    }

    /// Makes everything written so far in this transaction immutable: later
    /// changes copy it first. Use it before cloning a structure made in the
    /// same transaction, so the clone and the original stay independent.
    pub fn freeze(&mut self) {
        self.core().freeze();
    }

    /// The hasher of the database.
    pub fn hasher(&self) -> Hasher {
        self.st.hasher
    }

    /// Number of moments committed before this transaction.
    pub fn moment_count(&self) -> u64 {
        self.history.map_or(0, |h| h.size)
    }

    /// Reads a committed moment (negative counts from the end).
    pub fn moment(&self, index: i64) -> Result<Cursor<'_>> {
        let src = self.store.src(self.st.hasher).with_family(&self.st.family);
        let history = self
            .history
            .ok_or_else(|| Error::NoSuchMoment { index, len: 0 })?;
        let k = resolve_index(index, history.size).map_err(|_| Error::NoSuchMoment {
            index,
            len: history.size,
        })?;
        Cursor::at(src, history.slot_pos(&src, k)?)
    }
}

/// What the storage holds: the part that committed transactions wrote.
impl<S: Storage> Database<S> {
    /// The committed length: the bytes that committed transactions wrote.
    ///
    /// For a history this is the history header's `file_size`; bytes past
    /// it were left by a transaction that never committed (a crash), which
    /// a writable open discards and a read-only one keeps. A database
    /// without moments (empty, or a history never committed to) and one
    /// whose root is a map are committed through their last byte. It is
    /// never more than [`Database::len`]: a header that a writer in another
    /// process rewrote since this handle last read its state (see
    /// [`Database::refresh`]) counts only the bytes this handle sees.
    ///
    /// ```
    /// use xitdb::Database;
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("a", 1u64))?;
    /// assert_eq!(db.committed_len()?, db.len());
    ///
    /// // what a crash in the middle of a transaction leaves behind
    /// let mut bytes = db.into_bytes();
    /// let committed = bytes.len() as u64;
    /// bytes.extend_from_slice(&[0; 100]);
    /// let read_only = Database::from_slice(&bytes)?;
    /// assert_eq!(read_only.len(), committed + 100);
    /// assert_eq!(read_only.committed_len()?, committed);
    /// # Ok::<(), xitdb::Error>(())
    /// ```
    pub fn committed_len(&self) -> Result<u64> {
        let len = self.store.len();
        if self.header.tag != Tag::ArrayList {
            return Ok(len);
        }
        let top = TopHeader::decode(self.src().array(DATABASE_START)?);
        Ok(match top.file_size {
            0 => len,
            n => n.min(len),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_transactions_restore_every_byte() {
        let mut db = Database::memory();
        // the very first transaction (it initialises the history)
        let empty = db.storage().as_bytes().to_vec();
        let r: Result<()> = db.transact(|tx| {
            tx.root_map()?.put("a", 1u64)?;
            Err(Error::InvalidArgument("no"))
        });
        assert!(r.is_err());
        assert_eq!(db.storage().as_bytes(), &empty[..]);
        assert_eq!(db.header().tag, Tag::None);
        // later ones, across a history root overflow (16 moments)
        for i in 0..20u64 {
            db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
            let before = db.storage().as_bytes().to_vec();
            let r: Result<()> = db.transact(|tx| {
                tx.root_map()?.put("n", 999u64)?;
                Err(Error::InvalidArgument("no"))
            });
            assert!(r.is_err());
            assert_eq!(db.storage().as_bytes(), &before[..], "after moment {i}");
        }
        assert_eq!(db.moment_count().unwrap(), 20);
        let last = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(last.get(b"n").unwrap().unwrap().as_uint().unwrap(), 19);
    }

    /// The bytes a crash would leave: a transaction run but never committed.
    fn crashed_bytes(db: &mut Database, value: u64) -> Vec<u8> {
        let mut st = TxState::new(db.hasher, db.family.clone(), db.store.len(), Slot::EMPTY);
        let header = db.header;
        Database::<MemoryStorage>::run_history_tx(&mut db.store, &mut st, header, false, |tx| {
            tx.root_map()?.put("n", value)
        })
        .unwrap();
        db.store.as_bytes().to_vec()
    }

    #[test]
    fn recovery_drops_an_uncommitted_moment_and_unlinks_its_blocks() {
        let mut db = Database::memory();
        for i in 0..32u64 {
            db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
        }
        let committed = db.storage().as_bytes().to_vec();
        // moment 32 starts a new leaf block, linked into the committed root
        let crashed = crashed_bytes(&mut db, 999);
        assert!(crashed.len() > committed.len());
        let history = ArrayList::read(&Src::bytes_only(&crashed, db.hasher), 12).unwrap();
        let root_slot_2 = history.root + 2 * crate::format::SLOT_LEN;
        assert_ne!(crashed[root_slot_2 as usize], 0, "the crash left a link");

        let reopened = Database::from_bytes(crashed).unwrap();
        assert_eq!(reopened.moment_count().unwrap(), 32);
        let bytes = reopened.into_bytes();
        assert_eq!(bytes.len(), committed.len());
        assert_eq!(bytes, committed, "the stale link is gone too");
        let mut db = Database::from_bytes(bytes).unwrap();
        db.transact(|tx| tx.root_map()?.put("n", 32u64)).unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(m.get(b"n").unwrap().unwrap().as_uint().unwrap(), 32);
    }

    #[test]
    fn a_crash_in_the_first_transaction_leaves_an_empty_database() {
        let mut db = Database::memory();
        let crashed = crashed_bytes(&mut db, 1);
        assert_eq!(&crashed[3], &0, "the root tag is set only at commit");
        let reopened = Database::from_bytes(crashed).unwrap();
        assert_eq!(reopened.header().tag, Tag::None);
        assert_eq!(reopened.len(), 12);
    }

    #[test]
    fn root_map_transactions_commit_at_offset_12() {
        let mut db = Database::memory();
        db.transact_root(|tx| tx.root().counted_hash_map()?.put("k", 1u64))
            .unwrap();
        db.transact_root(|tx| tx.root().counted_hash_map()?.put("j", 2u64))
            .unwrap();
        assert_eq!(db.header().tag, Tag::CountedHashMap);
        let bytes = db.into_bytes();
        let db = Database::from_slice(&bytes).unwrap();
        let m = db.root().as_map().unwrap();
        assert_eq!(m.count().unwrap(), 2);
        assert_eq!(m.get(b"j").unwrap().unwrap().as_uint().unwrap(), 2);
        let mut db = Database::from_bytes(bytes.clone()).unwrap();
        let r: Result<()> = db.transact_root(|tx| {
            tx.root().counted_hash_map()?.put("z", 3u64)?;
            Err(Error::InvalidArgument("no"))
        });
        assert!(r.is_err());
        assert_eq!(db.storage().as_bytes(), &bytes[..]);
        assert!(matches!(
            db.transact(|tx| tx.root().write(1u64)),
            Err(Error::WrongRoot { .. })
        ));
        // a root cannot switch between counted and uncounted kinds in place
        let mut plain = Database::memory();
        plain
            .transact_root(|tx| tx.root().hash_map()?.put("a", 1u64))
            .unwrap();
        let before = plain.storage().as_bytes().to_vec();
        let r = plain.transact_root(|tx| {
            tx.root().write(())?;
            tx.root().counted_hash_map()?.put("b", 2u64)
        });
        assert!(matches!(r, Err(Error::WrongRoot { .. })));
        assert_eq!(plain.storage().as_bytes(), &before[..]);
    }

    #[test]
    fn undo_and_history_truncation() {
        let mut db = Database::memory();
        for i in 0..5u64 {
            db.transact(|tx| tx.root_map()?.put("v", i)).unwrap();
        }
        db.revert_to(1).unwrap();
        let v = |db: &Database, m: i64| {
            let c = db.moment(m).unwrap().as_map().unwrap();
            c.get(b"v").unwrap().unwrap().as_uint().unwrap()
        };
        assert_eq!(db.moment_count().unwrap(), 6);
        assert_eq!(v(&db, -1), 1);
        assert_eq!(db.moment(-1).unwrap().slot(), db.moment(1).unwrap().slot());
        db.truncate_history(3).unwrap();
        assert_eq!(db.moment_count().unwrap(), 3);
        db.transact(|tx| tx.root_map()?.put("v", 77u64)).unwrap();
        assert_eq!(v(&db, 3), 77);
        assert_eq!(v(&db, 2), 2);
        let bytes = db.into_bytes();
        let db = Database::from_slice(&bytes).unwrap();
        assert_eq!(db.moment_count().unwrap(), 4);
        assert!(matches!(db.moment(4), Err(Error::NoSuchMoment { .. })));
    }

    #[test]
    fn read_only_file_handles_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.xdb");
        let mut w = Database::create(&path).unwrap();
        w.transact(|tx| tx.root_map()?.put("a", 1u64)).unwrap();
        let mut r = Database::open_read_only(&path).unwrap();
        assert_eq!(r.moment_count().unwrap(), 1);
        w.transact(|tx| tx.root_map()?.put("a", 2u64)).unwrap();
        assert_eq!(r.moment_count().unwrap(), 1, "a reader keeps its state");
        r.refresh().unwrap();
        assert_eq!(r.moment_count().unwrap(), 2);
        let m = r.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(m.get(b"a").unwrap().unwrap().as_uint().unwrap(), 2);
        assert!(matches!(
            r.transact(|tx| tx.root().write(1u64)),
            Err(Error::ReadOnly)
        ));
    }

    #[test]
    fn committed_len_ignores_an_unfinished_transaction() {
        let mut db = Database::memory();
        assert_eq!(db.committed_len().unwrap(), 12);
        db.transact(|tx| tx.root_map()?.put("a", 1u64)).unwrap();
        let committed = db.len();
        assert_eq!(db.committed_len().unwrap(), committed);
        let crashed = crashed_bytes(&mut db, 2);
        assert!(crashed.len() as u64 > committed);
        let read_only = Database::from_slice(&crashed).unwrap();
        assert_eq!(read_only.committed_len().unwrap(), committed);
        // a writable open drops the unfinished bytes
        let reopened = Database::from_bytes(crashed).unwrap();
        assert_eq!(reopened.committed_len().unwrap(), committed);
        assert_eq!(reopened.len(), committed);
        // a reader counts only the bytes it sees, whatever a writer
        // published since
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.xdb");
        let mut w = Database::create(&path).unwrap();
        w.transact(|tx| tx.root_map()?.put("a", 1u64)).unwrap();
        let mut r = Database::open_read_only(&path).unwrap();
        let seen = r.len();
        // more than the zeros a synced file keeps ahead of its end
        let big = vec![7u8; 1 << 20];
        w.transact(|tx| tx.root_map()?.put("b", &big)).unwrap();
        assert!(w.len() > seen);
        assert_eq!(r.committed_len().unwrap(), seen);
        r.refresh().unwrap();
        assert_eq!(r.committed_len().unwrap(), w.len());
        // a database whose root is a map has no history header
        let mut map = Database::memory();
        map.transact_root(|tx| tx.root().hash_map()?.put("a", 1u64))
            .unwrap();
        assert_eq!(map.committed_len().unwrap(), map.len());
    }
}
