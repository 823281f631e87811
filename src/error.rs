//! The crate's one error type.
//!
//! Every failure — a malformed file, a misuse of the API, an I/O error — is a
//! variant of [`Error`]. Variants that come from reading bytes carry the byte
//! position where the problem was seen, so a corrupt file can be diagnosed.

use crate::format::Tag;

/// Shorthand for `std::result::Result<T, xitdb::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in xitdb.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error from the storage backend.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// The storage is shorter than the 12-byte database header.
    #[error("not an xitdb database: {len} bytes is shorter than the 12-byte header")]
    TooShort {
        /// Length of the storage in bytes.
        len: u64,
    },

    /// The first three bytes are not `xit`.
    #[error("not an xitdb database: bad magic bytes {found:02x?}")]
    BadMagic {
        /// The three bytes found at offset 0.
        found: [u8; 3],
    },

    /// The header's format version is newer than this library understands.
    #[error("unsupported format version {found} (this library reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file header.
        found: u16,
        /// Highest version this library supports.
        supported: u16,
    },

    /// A byte that should hold a slot tag holds a value outside the tag table.
    #[error("invalid tag {tag} at byte {pos}")]
    InvalidTag {
        /// The raw 7-bit tag value.
        tag: u8,
        /// Byte position of the tag (0 when not known).
        pos: u64,
    },

    /// A hash size in the header that cannot be used (zero).
    #[error("invalid hash size {0} in header")]
    InvalidHashSize(u16),

    /// The hash supplied by the caller has the wrong length for this database.
    #[error("hash has {found} bytes but this database uses {expected}-byte hashes")]
    HashLength {
        /// Hash size of the database.
        expected: usize,
        /// Length of the hash given.
        found: usize,
    },

    /// A key-based operation on a database whose hasher is unknown to this library.
    #[error("unknown hash algorithm (hash_id {id:02x?}, {size}-byte hashes): only raw-hash operations are possible")]
    UnknownHasher {
        /// The header's hash_id bytes.
        id: [u8; 4],
        /// The header's hash size.
        size: u16,
    },

    /// A pointer or length points outside the storage.
    #[error("out of bounds: {len} bytes at {pos} exceed the storage length {storage_len}")]
    OutOfBounds {
        /// Start of the attempted read.
        pos: u64,
        /// Length of the attempted read.
        len: u64,
        /// Length of the storage.
        storage_len: u64,
    },

    /// A structural invariant of the format does not hold.
    #[error("corrupt database at byte {pos}: {reason}")]
    Corrupt {
        /// Byte position where the problem was seen.
        pos: u64,
        /// What is wrong.
        reason: &'static str,
    },

    /// The slot holds a different kind of value than the operation needs.
    #[error("expected {expected}, found {found}")]
    UnexpectedTag {
        /// What the operation needed.
        expected: &'static str,
        /// The tag that was found.
        found: Tag,
    },

    /// A list index outside `-len..len`.
    #[error("index {index} out of range for a list of {len} items")]
    IndexOutOfRange {
        /// The index asked for.
        index: i64,
        /// The number of items.
        len: u64,
    },

    /// A slice that does not lie within the list.
    #[error("slice of {len} items at offset {offset} exceeds a list of {size} items")]
    SliceOutOfRange {
        /// First item of the slice.
        offset: u64,
        /// Number of items asked for.
        len: u64,
        /// Number of items in the list.
        size: u64,
    },

    /// The database was opened without a list family and what it holds
    /// does not tell which one its linked lists use.
    #[error(
        "cannot tell the linked-list family of the list at {pos}: open with an explicit ListFamily"
    )]
    UnknownListFamily {
        /// The list's header.
        pos: u64,
    },

    /// An operation needs the other linked-list family than the database's.
    #[error("{what} needs the {needed} list family; this database uses {found}")]
    WrongListFamily {
        /// What was attempted.
        what: &'static str,
        /// The family it needs.
        needed: &'static str,
        /// The database's family.
        found: &'static str,
    },

    /// A list would hold more than `u64::MAX` items.
    #[error("the list would hold more than 2^64 - 1 items")]
    ListTooLong,

    /// A moment index outside the history.
    #[error("moment {index} does not exist (the history holds {len} moments)")]
    NoSuchMoment {
        /// The index asked for.
        index: i64,
        /// Number of moments.
        len: u64,
    },

    /// A path step named a key or index that is not there.
    #[error("path step {step} not found")]
    PathNotFound {
        /// Index of the failing step within the path.
        step: usize,
    },

    /// `count` on a structure that does not store one.
    #[error("{0} does not store a count")]
    NotCounted(Tag),

    /// The database was opened read-only.
    #[error("the database is read-only")]
    ReadOnly,

    /// Another writer (another handle, in this process or another one)
    /// holds the database's lock; returned at once when no wait was asked
    /// for ([`Options::lock_wait`](crate::Options::lock_wait) is `None`).
    #[error("the database is locked by another writer")]
    Locked,

    /// Another writer still held the database's lock when the wait asked
    /// for ([`Options::lock_wait`](crate::Options::lock_wait)) ran out.
    #[error("the database is still locked by another writer after waiting {waited:?}")]
    LockTimedOut {
        /// How long the open waited for the lock.
        waited: std::time::Duration,
    },

    /// The operation needs a history (top-level array list) or a root map of the other kind.
    #[error("the database root is {found}, which this operation cannot use")]
    WrongRoot {
        /// The header's root tag.
        found: Tag,
    },

    /// A value kind that cannot be the database root.
    #[error("{0} cannot be the database root (only array_list, a map or a set can)")]
    InvalidRoot(Tag),

    /// The maximum tree depth of the format was exceeded.
    #[error("maximum depth exceeded at byte {pos}")]
    TooDeep {
        /// Byte position of the node that would go too deep.
        pos: u64,
    },

    /// The stored file size is larger than the file: committed data is missing.
    #[error("truncated database: the header records {expected} committed bytes but the file has {found}")]
    Truncated {
        /// Committed size recorded in the header.
        expected: u64,
        /// Actual length.
        found: u64,
    },

    /// A JSON document given to [`crate::json::load_json`] (or a value given to
    /// [`crate::tools::json::write_json_value`]) does not follow the canonical schema.
    #[error("invalid JSON dump: {0}")]
    Json(String),

    /// A typed read found a stored kind that the Rust type cannot take
    /// (`users.ada.age: expected uint, found bytes`). The path leads from
    /// the value read (or written) to the mismatch: map keys joined by
    /// dots, list items as `[i]`, `(root)` for the value itself.
    #[error("{}: expected {expected}, found {found}", typed_path(.path))]
    TypeMismatch {
        /// Where the mismatch lies, from the value read.
        path: String,
        /// The kind the Rust type needs (`uint`, `bytes`, `map`, ...).
        expected: &'static str,
        /// The kind stored there.
        found: &'static str,
    },

    /// A typed (serde) read or write failed for a reason other than a kind
    /// mismatch: a missing field, an unknown variant, a number out of range,
    /// nesting deeper than the limit, or a message of the type's own
    /// `Serialize`/`Deserialize` code. The path is as in
    /// [`Error::TypeMismatch`].
    #[error("{}: {message}", typed_path(.path))]
    Typed {
        /// Where the failure lies, from the value read or written.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// A key that must be present is not ([`crate::MapView::require`] and
    /// friends); the key is shown as text (lossily when not UTF-8).
    #[error("key {key:?} not found")]
    KeyNotFound {
        /// The missing key.
        key: String,
    },

    /// A commit record (or a segment of them) is malformed: bad magic, a
    /// length past the bytes present, or patches out of order.
    #[error("malformed commit record at byte {at}: {reason}")]
    BadRecord {
        /// Byte position of the record in the bytes decoded.
        at: u64,
        /// What is wrong.
        reason: &'static str,
    },

    /// A commit record's bytes do not match its hash (damaged or forged).
    #[error("commit record {seq} does not match its hash (damaged or forged)")]
    RecordHash {
        /// The sequence number the record claims.
        seq: u64,
    },

    /// A commit record is not the next one: a gap, or one applied already.
    #[error("commit record {found} is not the next one (expected {expected})")]
    StreamGap {
        /// The sequence number that would follow.
        expected: u64,
        /// The one offered.
        found: u64,
    },

    /// A commit record continues a different chain (another database or a
    /// rewritten history): its predecessor hash or size is not the head's.
    #[error("commit record {seq} belongs to another chain (fork)")]
    StreamFork {
        /// The record's sequence number.
        seq: u64,
    },

    /// A commit record does not describe a commit of this database: its
    /// history header disagrees with its sizes, or the storage it would
    /// apply to is not where the chain says.
    #[error("commit record {seq} is inconsistent: {reason}")]
    RecordMismatch {
        /// The record's sequence number.
        seq: u64,
        /// What disagrees.
        reason: &'static str,
    },

    /// Records older than the ones a commit stream still holds were asked for.
    #[error("commit stream no longer holds record {requested} (oldest held: {oldest})")]
    StreamTooOld {
        /// The first record asked for.
        requested: u64,
        /// The oldest record still held.
        oldest: u64,
    },

    /// Invalid argument supplied by the caller.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// The path of a typed error as shown: `(root)` for the value itself.
fn typed_path(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

impl Error {
    pub(crate) fn corrupt(pos: u64, reason: &'static str) -> Self {
        Error::Corrupt { pos, reason }
    }
}
