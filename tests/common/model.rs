//! The tests' one operation model.
//!
//! An [`Op`] changes a moment's root map: scalars under root keys (put,
//! remove, by hash, streamed through a `BytesWriter`, copied from a past
//! moment), nested maps (plain and counted, and maps and an ArrayList
//! inside them), sets (plain and counted), ArrayLists (append, put through
//! the list or a cursor, maps as items, truncate) and LinkedArrayLists
//! (append, put, insert, remove, slice, concat with itself, another list
//! or a list of a past moment). Every kind has two names of its own and
//! shares a third, [`SHARED`], where opening one kind replaces another.
//!
//! [`apply_db`] applies an op to a transaction and [`apply_model`] to a
//! model made of std collections ([`Model`]); each reports the same
//! [`Fact`]s (what a remove returned, a length, a count, an expected
//! failure) when they agree, and [`apply`] does both and compares. The
//! [`Checker`] compares a database value or moment with the model through
//! every read API; [`read`] reads a value back into the model's types; a
//! [`Run`] drives [`Step`]s (transactions, some aborted, reverts, history
//! truncations) and checks every moment.
//!
//! The suites extend it: `model` generates steps with proptest and runs
//! them on every backend, `crash` generates ops from a seed and kills the
//! process that applies them, `diff` replays diffs between the moments a
//! run made, `compact` and `verify` check their tool on those moments, and
//! the fuzz crate decodes part of its script into these ops.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{Hash, Hasher as _};
use std::io::{Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use std::sync::OnceLock;
use xitdb::format::{HashKind, Hasher, Slot, Tag};
use xitdb::storage::{MemoryStorage, Storage};
use xitdb::{
    Cursor, CursorMut, Database, Error, MapMut, MapView, SetView, Transaction, Value, ValueRef,
};

use super::rng::Rng;

// ------------------------------------------------------------ errors

/// Why a run stopped: a database error, a model mismatch, or an abort the
/// test asked for.
#[derive(Debug)]
pub enum Fail {
    Db(Error),
    Mismatch(String),
    Deliberate,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Db(e)
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail::Db(e.into())
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Db(e) => write!(f, "database error: {e} ({e:?})"),
            Fail::Mismatch(m) => f.write_str(m),
            Fail::Deliberate => f.write_str("deliberate abort"),
        }
    }
}

impl Fail {
    /// The failure with `ctx` in front (a deliberate abort stays one).
    pub fn context(self, ctx: impl fmt::Display) -> Fail {
        match self {
            Fail::Deliberate => Fail::Deliberate,
            e => Fail::Mismatch(format!("{ctx}: {e}")),
        }
    }
}

pub type R<T = ()> = Result<T, Fail>;

/// Fails with a mismatch unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(Fail::Mismatch(format!($($arg)+)));
        }
    };
}
#[allow(unused_imports)] // not every suite checks with it
pub(crate) use ensure;

// ------------------------------------------------------------ values

/// Bytes that print as an escaped string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub Vec<u8>);

impl Key {
    pub fn of(b: impl AsRef<[u8]>) -> Key {
        Key(b.as_ref().to_vec())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(&self.0))
    }
}

/// `b` as an escaped string (cut short past 1 KiB).
pub fn show(b: &[u8]) -> String {
    if b.len() > 1024 {
        return format!("\"{}\"… ({} bytes)", b[..64].escape_ascii(), b.len());
    }
    format!("\"{}\"", b.escape_ascii())
}

/// The content of a byte value: given, or regenerated from a seed (so a
/// model of thousands of moments holding megabytes stays small).
#[derive(Clone)]
pub enum Data {
    Inline(Vec<u8>),
    Seeded { seed: u64, len: usize },
}

impl Data {
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Data::Inline(b) => Cow::Borrowed(b),
            Data::Seeded { seed, len } => Cow::Owned(Rng(*seed).bytes(*len)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::Inline(b) => b.len(),
            Data::Seeded { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Equal content, however it is kept.
impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        match (self, other) {
            (Data::Seeded { seed: a, len: m }, Data::Seeded { seed: b, len: n })
                if (a, m) == (b, n) =>
            {
                true
            }
            _ => self.len() == other.len() && self.bytes() == other.bytes(),
        }
    }
}

impl Eq for Data {}

impl Hash for Data {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::Inline(b) => f.write_str(&show(b)),
            Data::Seeded { seed, len } => write!(f, "seeded({seed:#x}, {len} bytes)"),
        }
    }
}

/// A scalar to write.
#[derive(Clone)]
pub enum Scalar {
    Null,
    Uint(u64),
    Int(i64),
    Float(f64),
    Bytes(Data),
    Tagged(Data, [u8; 2]),
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("Null"),
            Scalar::Uint(v) => write!(f, "Uint({v})"),
            Scalar::Int(v) => write!(f, "Int({v})"),
            Scalar::Float(v) => write!(f, "Float({v:e} = bits {:#x})", v.to_bits()),
            Scalar::Bytes(b) => write!(f, "Bytes({b:?})"),
            Scalar::Tagged(b, t) => write!(f, "Tagged({b:?}, {})", show(t)),
        }
    }
}

impl Scalar {
    /// Plain bytes given inline.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Scalar {
        Scalar::Bytes(Data::Inline(b.into()))
    }

    /// Calls `f` with the value to write (seeded bytes are made for the call).
    pub fn with<T>(&self, f: impl FnOnce(Value<'_>) -> T) -> T {
        match self {
            Scalar::Null => f(Value::Null),
            Scalar::Uint(v) => f(Value::Uint(*v)),
            Scalar::Int(v) => f(Value::Int(*v)),
            Scalar::Float(v) => f(Value::Float(*v)),
            Scalar::Bytes(d) => f(Value::Bytes(&d.bytes(), None)),
            Scalar::Tagged(d, t) => f(Value::tagged(&d.bytes(), *t)),
        }
    }

    /// What the model expects the slot to hold once written.
    pub fn model(&self) -> MV {
        match self {
            Scalar::Null => MV::Null,
            Scalar::Uint(v) => MV::Uint(*v),
            Scalar::Int(v) => MV::Int(*v),
            Scalar::Float(v) => MV::Float(v.to_bits()),
            Scalar::Bytes(d) => MV::Bytes(d.clone(), None),
            Scalar::Tagged(d, t) => MV::Bytes(d.clone(), Some(*t)),
        }
    }
}

/// What the model expects a slot to hold. Structures are shared between
/// the models of successive moments and copied on write (`Rc::make_mut`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MV {
    Null,
    Uint(u64),
    Int(i64),
    /// The float's bits (so NaNs and -0.0 compare exactly).
    Float(u64),
    Bytes(Data, Option<[u8; 2]>),
    /// (counted, entries)
    Map(bool, Rc<Entries>),
    /// (counted, members)
    Set(bool, Rc<BTreeSet<Vec<u8>>>),
    List(Rc<Vec<MV>>),
    Linked(Rc<Vec<MV>>),
}

/// The entries of a map.
pub type Entries = BTreeMap<Vec<u8>, MV>;

/// One moment: its root map.
pub type Model = Entries;

// ------------------------------------------------------------ names

/// A kind of structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Map,
    CountedMap,
    Set,
    CountedSet,
    List,
    Linked,
}

pub const KINDS: [Kind; 6] = [
    Kind::Map,
    Kind::CountedMap,
    Kind::Set,
    Kind::CountedSet,
    Kind::List,
    Kind::Linked,
];

/// The root name that every kind may take, replacing what is there.
pub const SHARED: &[u8] = b"any";
/// An ArrayList inside each nested map.
pub const SUB: &[u8] = b"sub";
/// HashMaps inside each nested map.
pub const SUBS: [&[u8]; 2] = [b"sub0", b"sub1"];
/// Bulk keys of a map: `bulk0` .. `bulk{BULK-1}`.
pub const BULK: u16 = 200;
/// Longest linked list a concat may make (a longer one is skipped).
pub const CONCAT_CAP: u64 = 20_000;

impl Kind {
    /// The kind's root names: two of its own, then [`SHARED`].
    pub fn names(self) -> [&'static [u8]; 3] {
        let own: [&'static [u8]; 2] = match self {
            Kind::Map => [b"map0", b"map1"],
            Kind::CountedMap => [b"cmap0", b"cmap1"],
            Kind::Set => [b"set0", b"set1"],
            Kind::CountedSet => [b"cset0", b"cset1"],
            Kind::List => [b"list0", b"list1"],
            Kind::Linked => [b"linked0", b"linked1"],
        };
        [own[0], own[1], SHARED]
    }

    /// Root name `j` (modulo 3).
    pub fn name(self, j: usize) -> &'static [u8] {
        self.names()[j % 3]
    }

    pub fn map(counted: bool) -> Kind {
        if counted {
            Kind::CountedMap
        } else {
            Kind::Map
        }
    }

    pub fn set(counted: bool) -> Kind {
        if counted {
            Kind::CountedSet
        } else {
            Kind::Set
        }
    }

    pub fn tag(self) -> Tag {
        match self {
            Kind::Map => Tag::HashMap,
            Kind::CountedMap => Tag::CountedHashMap,
            Kind::Set => Tag::HashSet,
            Kind::CountedSet => Tag::CountedHashSet,
            Kind::List => Tag::ArrayList,
            Kind::Linked => Tag::LinkedArrayList,
        }
    }

    fn empty(self) -> MV {
        match self {
            Kind::Map | Kind::CountedMap => MV::Map(self == Kind::CountedMap, Rc::default()),
            Kind::Set | Kind::CountedSet => MV::Set(self == Kind::CountedSet, Rc::default()),
            Kind::List => MV::List(Rc::default()),
            Kind::Linked => MV::Linked(Rc::default()),
        }
    }

    fn holds(self, v: &MV) -> bool {
        match (self, v) {
            (Kind::Map, MV::Map(c, _)) | (Kind::Set, MV::Set(c, _)) => !c,
            (Kind::CountedMap, MV::Map(c, _)) | (Kind::CountedSet, MV::Set(c, _)) => *c,
            (Kind::List, MV::List(_)) | (Kind::Linked, MV::Linked(_)) => true,
            _ => false,
        }
    }
}

/// Every root name a structure may have.
pub fn struct_names() -> Vec<&'static [u8]> {
    let mut v: Vec<&'static [u8]> = KINDS.iter().flat_map(|k| k.names()).collect();
    v.sort();
    v.dedup();
    v
}

/// The small key pool of one hasher: a few plain keys (empty, a zero
/// byte, longer than 8 bytes), four keys whose hashes share their three
/// lowest nibbles (one HAMT path three levels deep) and two sharing four.
pub struct Pool {
    pub keys: Vec<Vec<u8>>,
    /// `keys` plus the structure names (what root removes may target).
    pub root_keys: Vec<Vec<u8>>,
    /// Everything a map read may be probed with.
    pub probes: Vec<Vec<u8>>,
}

/// The `n` lowest nibbles of `key`'s hash, lowest first.
pub fn low_nibbles(h: &Hasher, key: &[u8], n: usize) -> Vec<u8> {
    let hash = h.hash(key).expect("known hasher");
    let b = hash.as_bytes();
    (0..n)
        .map(|d| (b[b.len() - 1 - d / 2] >> (4 * (d % 2))) & 0xF)
        .collect()
}

impl Pool {
    fn new(kind: HashKind) -> Pool {
        let h = Hasher::new(kind);
        let plain: [&[u8]; 6] = [
            b"",
            b"a",
            b"b",
            b"\0",
            b"\xff\0z",
            b"a key longer than eight bytes",
        ];
        let mut keys: Vec<Vec<u8>> = plain.iter().map(|k| k.to_vec()).collect();
        let mut buckets: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
        for i in 0.. {
            let k = format!("x{i}").into_bytes();
            let group = buckets.entry(low_nibbles(&h, &k, 3)).or_default();
            group.push(k);
            if group.len() == 4 {
                keys.append(group);
                break;
            }
        }
        let mut seen: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for i in 0.. {
            let k = format!("y{i}").into_bytes();
            if let Some(prev) = seen.insert(low_nibbles(&h, &k, 4), k.clone()) {
                keys.push(prev);
                keys.push(k);
                break;
            }
        }
        let mut root_keys = keys.clone();
        root_keys.extend(struct_names().iter().map(|s| s.to_vec()));
        let mut probes = root_keys.clone();
        probes.push(SUB.to_vec());
        probes.extend(SUBS.iter().map(|s| s.to_vec()));
        probes.extend((0..4).map(|j| format!("bulk{j}").into_bytes()));
        Pool {
            keys,
            root_keys,
            probes,
        }
    }
}

/// The key pool of a hasher (made once).
pub fn pool(kind: HashKind) -> &'static Pool {
    static BLAKE3: OnceLock<Pool> = OnceLock::new();
    static SHA1: OnceLock<Pool> = OnceLock::new();
    match kind {
        HashKind::Blake3 => BLAKE3.get_or_init(|| Pool::new(kind)),
        HashKind::Sha1 => SHA1.get_or_init(|| Pool::new(kind)),
    }
}

// ------------------------------------------------------------ operations

/// A list index, resolved against the list's length when applied.
#[derive(Clone, Copy, Debug)]
pub enum Idx {
    /// `r % len` (out of range when the list is empty).
    Front(usize),
    /// `-(r % len) - 1` (out of range when the list is empty).
    Back(usize),
    /// `len + r % 4`: always out of range.
    Past(usize),
    /// `-(len + 1 + r % 4)`: always out of range.
    Before(usize),
}

impl Idx {
    /// The index to pass, and the position it reaches (`None`: it must fail).
    pub fn resolve(self, len: usize) -> (i64, Option<usize>) {
        match self {
            Idx::Front(r) if len > 0 => ((r % len) as i64, Some(r % len)),
            Idx::Back(r) if len > 0 => {
                let k = r % len;
                ((k as i64).wrapping_neg().wrapping_sub(1), Some(len - 1 - k))
            }
            Idx::Front(r) | Idx::Past(r) => (len.saturating_add(r % 4) as i64, None),
            Idx::Back(r) | Idx::Before(r) => {
                ((len.saturating_add(1 + r % 4) as i64).wrapping_neg(), None)
            }
        }
    }
}

/// What a streamed value is patched with after a seek.
#[derive(Clone, Debug)]
pub enum Patch {
    None,
    /// Seek to `at % (len + 4)` and write these bytes (zeros fill a gap).
    Bytes {
        at: usize,
        bytes: Key,
    },
    /// Seek to `at % len` and write up to `len` of the same bytes again.
    Again {
        at: usize,
        len: usize,
    },
}

/// What a linked list is concatenated with.
#[derive(Clone, Copy, Debug)]
pub enum Concat {
    /// Its own slot.
    Itself,
    /// Linked-list name `j`, as it stands in the transaction.
    Name(usize),
    /// Linked-list name `list` of committed moment `moment % count`.
    Past { moment: usize, list: usize },
}

/// One operation inside a transaction. Structure fields (`map`, `set`,
/// `list`, `from`, `to`) pick one of the kind's [`Kind::names`].
#[derive(Clone, Debug)]
pub enum Op {
    /// root[key] = value
    Put(Key, Scalar),
    /// Remove a root key (a scalar or a whole structure).
    Remove(Key),
    /// put_by_hash on a key already present (else only get_by_hash).
    PutByHash(Key, Scalar),
    RemoveByHash(Key),
    /// Stream `data` through a BytesWriter in chunks of `chunk` bytes,
    /// patch it after a seek, then finish with `tag`.
    PutStreamed {
        key: Key,
        data: Data,
        chunk: usize,
        patch: Patch,
        tag: Option<[u8; 2]>,
    },
    /// A BytesWriter dropped unfinished: the value is unchanged (a new
    /// entry reads null).
    AbandonWriter {
        key: Key,
        data: Key,
    },
    /// Copy root[key] from committed moment `moment % count` (a structure
    /// is shared, not copied); removes the key if that moment lacks it.
    Restore {
        moment: usize,
        key: Key,
    },
    /// Freeze, then copy what `kind`'s name `from` holds to its name `to`
    /// (or remove `to` when `from` is absent).
    CopyStruct {
        kind: Kind,
        from: usize,
        to: usize,
    },
    MapPut {
        counted: bool,
        map: usize,
        key: Key,
        value: Scalar,
    },
    MapRemove {
        counted: bool,
        map: usize,
        key: Key,
    },
    /// Put (or remove) bulk{start} .. (below `BULK`) in a map.
    MapBulk {
        counted: bool,
        map: usize,
        start: u16,
        n: u16,
        remove: bool,
    },
    /// Append to the ArrayList [`SUB`] of a (plain) map.
    MapSubAppend {
        map: usize,
        value: Scalar,
    },
    /// A map [`SUBS`]`[sub]` inside a (plain) map.
    SubMapPut {
        map: usize,
        sub: usize,
        key: Key,
        value: Scalar,
    },
    SubMapRemove {
        map: usize,
        sub: usize,
        key: Key,
    },
    SetInsert {
        counted: bool,
        set: usize,
        key: Key,
    },
    SetRemove {
        counted: bool,
        set: usize,
        key: Key,
        by_hash: bool,
    },
    ListAppend {
        list: usize,
        value: Scalar,
    },
    /// Append Uint(first), Uint(first + 1), ... (grows the radix tree).
    ListAppendMany {
        list: usize,
        n: usize,
        first: u64,
    },
    /// Append a new HashMap {key: value} as an item.
    ListAppendMap {
        list: usize,
        key: Key,
        value: Scalar,
    },
    /// An appended item never written: null.
    ListAppendEmpty {
        list: usize,
    },
    /// put(index, value), or a cursor at the index written.
    ListPut {
        list: usize,
        at: Idx,
        value: Scalar,
        cursor: bool,
    },
    /// Put key = value in the map at an item (replacing another value),
    /// or in a new map appended when the index is out of range.
    ListItemMapPut {
        list: usize,
        at: Idx,
        key: Key,
        value: Scalar,
    },
    /// truncate(keep % (len + 1))
    ListTruncate {
        list: usize,
        keep: usize,
    },
    /// truncate(len + 1 + extra % 4): must fail.
    ListTruncatePastEnd {
        list: usize,
        extra: usize,
    },
    LinkedAppend {
        list: usize,
        value: Scalar,
    },
    LinkedAppendMany {
        list: usize,
        n: usize,
        first: u64,
    },
    LinkedAppendEmpty {
        list: usize,
    },
    LinkedPut {
        list: usize,
        at: Idx,
        value: Scalar,
        cursor: bool,
    },
    /// insert(index, value) before an existing item (fails at the end), or
    /// an insert cursor written.
    LinkedInsert {
        list: usize,
        at: Idx,
        value: Scalar,
        cursor: bool,
    },
    LinkedRemove {
        list: usize,
        at: Idx,
    },
    /// slice(offset % (len + 1), n % (len - offset + 1)), or past the end.
    LinkedSlice {
        list: usize,
        offset: usize,
        n: usize,
        past_end: bool,
    },
    LinkedConcat {
        list: usize,
        with: Concat,
    },
    Freeze,
    /// Compare the transaction's root with the model right now.
    Check,
}

/// What applying an op reported, in order; the database and the model
/// must report the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    /// A value of another kind gave way to the structure.
    Replaced,
    /// A structure's length (before the edit; after it for truncations).
    Len(u64),
    /// What a remove or insert returned; whether a key or source was there.
    Was(bool),
    /// Whether the set holds the member after the edit.
    Has(bool),
    /// `count()` after the edit (`None`: not a counted kind).
    Count(Option<u64>),
    /// The edit failed, as it must.
    Fails(Failure),
    /// Moments committed before the transaction.
    Moments(u64),
    /// A concat skipped: the list would pass [`CONCAT_CAP`].
    Capped,
}

/// An expected error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Index,
    Slice,
    Tag,
}

pub type Facts = Vec<Fact>;

/// The expected failure an error is, or the error.
fn failure(r: xitdb::Result<()>, f: &mut Facts) -> xitdb::Result<()> {
    let kind = match r {
        Ok(()) => return Ok(()),
        Err(Error::IndexOutOfRange { .. }) => Failure::Index,
        Err(Error::SliceOutOfRange { .. }) => Failure::Slice,
        Err(Error::UnexpectedTag { .. }) => Failure::Tag,
        Err(e) => return Err(e),
    };
    f.push(Fact::Fails(kind));
    Ok(())
}

/// (offset, length) of a slice of `len` items.
fn slice_args(len: u64, offset: usize, n: usize, past_end: bool) -> (u64, u64) {
    let offset = offset as u64 % len.saturating_add(1);
    let room = len - offset;
    let n = if past_end {
        room.saturating_add(1 + n as u64 % 3)
    } else {
        n as u64 % room.saturating_add(1)
    };
    (offset, n)
}

/// The bytes a stream of `data` patched by `patch` leaves.
fn streamed(data: &Data, patch: &Patch) -> Data {
    match patch {
        Patch::Bytes { at, bytes } if !bytes.0.is_empty() => {
            let mut want = data.bytes().into_owned();
            let at = at % (want.len() + 4);
            if at > want.len() {
                want.resize(at, 0);
            }
            for (j, b) in bytes.0.iter().enumerate() {
                match want.get_mut(at + j) {
                    Some(slot) => *slot = *b,
                    None => want.push(*b),
                }
            }
            Data::Inline(want)
        }
        _ => data.clone(),
    }
}

// ------------------------------------------------------------ the database side

/// Applies `op` to the transaction; errors other than the expected
/// failures end it.
pub fn apply_db(tx: &mut Transaction<'_>, op: &Op) -> xitdb::Result<Facts> {
    let mut f = Facts::new();
    match op {
        Op::Freeze => tx.freeze(),
        Op::Check => {}
        Op::Restore { moment, key } => restore_db(tx, *moment, key, &mut f)?,
        Op::CopyStruct { kind, from, to } => {
            tx.freeze();
            let slot = tx.root_map()?.get(kind.name(*from))?.map(|c| c.slot());
            f.push(Fact::Was(slot.is_some()));
            let mut root = tx.root_map()?;
            match slot {
                Some(slot) => root.entry(kind.name(*to))?.write_slot(slot)?,
                None => f.push(Fact::Was(root.remove(kind.name(*to))?)),
            }
        }
        Op::LinkedConcat { list, with } => concat_db(tx, *list, *with, &mut f)?,
        _ => {
            let hasher = tx.hasher();
            let mut root = tx.root_map()?;
            edit_db(&mut root, op, &hasher, &mut f)?;
        }
    }
    Ok(f)
}

/// The ops that only need the root map.
fn edit_db(root: &mut MapMut<'_>, op: &Op, hasher: &Hasher, f: &mut Facts) -> xitdb::Result<()> {
    match op {
        Op::Put(k, v) => v.with(|x| root.put(&k.0, x))?,
        Op::Remove(k) => f.push(Fact::Was(root.remove(&k.0)?)),
        Op::PutByHash(k, v) => {
            let hash = hasher.hash(&k.0)?;
            let present = root.get_by_hash(&hash)?.is_some();
            f.push(Fact::Was(present));
            if present {
                v.with(|x| root.put_by_hash(&hash, x))?;
            }
        }
        Op::RemoveByHash(k) => {
            let hash = hasher.hash(&k.0)?;
            f.push(Fact::Was(root.remove_by_hash(&hash)?));
        }
        Op::PutStreamed {
            key,
            data,
            chunk,
            patch,
            tag,
        } => stream_db(root.entry(&key.0)?, data, *chunk, patch, *tag)?,
        Op::AbandonWriter { key, data } => root.entry(&key.0)?.writer()?.write_all(&data.0)?,
        Op::MapPut { .. }
        | Op::MapRemove { .. }
        | Op::MapBulk { .. }
        | Op::MapSubAppend { .. }
        | Op::SubMapPut { .. }
        | Op::SubMapRemove { .. } => map_db(root, op, f)?,
        Op::SetInsert { counted, set, key } => set_db(root, *counted, *set, key, None, f)?,
        Op::SetRemove {
            counted,
            set,
            key,
            by_hash,
        } => {
            let hash = by_hash.then(|| hasher.hash(&key.0)).transpose()?;
            set_db(root, *counted, *set, key, Some(hash.as_deref()), f)?
        }
        Op::ListAppend { .. }
        | Op::ListAppendMany { .. }
        | Op::ListAppendMap { .. }
        | Op::ListAppendEmpty { .. }
        | Op::ListPut { .. }
        | Op::ListItemMapPut { .. }
        | Op::ListTruncate { .. }
        | Op::ListTruncatePastEnd { .. } => list_db(root, op, f)?,
        _ => linked_db(root, op, f)?,
    }
    Ok(())
}

/// The cursor `c`, emptied first if it holds a value of another kind.
fn replace_db<'t>(mut c: CursorMut<'t>, kind: Kind, f: &mut Facts) -> xitdb::Result<CursorMut<'t>> {
    let tag = c.slot()?.tag;
    if tag != Tag::None && tag != kind.tag() {
        c.write(())?;
        f.push(Fact::Replaced);
    }
    Ok(c)
}

fn open_map_db<'t>(
    root: &'t mut MapMut<'_>,
    counted: bool,
    j: usize,
    f: &mut Facts,
) -> xitdb::Result<MapMut<'t>> {
    let kind = Kind::map(counted);
    let c = replace_db(root.entry(kind.name(j))?, kind, f)?;
    if counted {
        c.counted_hash_map()
    } else {
        c.hash_map()
    }
}

/// `Some(n)`, or `None` for a kind that keeps no count.
fn count_of(r: xitdb::Result<u64>) -> xitdb::Result<Option<u64>> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(Error::NotCounted(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn map_db(root: &mut MapMut<'_>, op: &Op, f: &mut Facts) -> xitdb::Result<()> {
    match op {
        Op::MapPut {
            counted,
            map,
            key,
            value,
        } => {
            let mut m = open_map_db(root, *counted, *map, f)?;
            value.with(|x| m.put(&key.0, x))?;
            f.push(Fact::Count(count_of(m.count())?));
        }
        Op::MapRemove { counted, map, key } => {
            let mut m = open_map_db(root, *counted, *map, f)?;
            f.push(Fact::Was(m.remove(&key.0)?));
            f.push(Fact::Count(count_of(m.count())?));
        }
        Op::MapBulk {
            counted,
            map,
            start,
            n,
            remove,
        } => {
            let mut m = open_map_db(root, *counted, *map, f)?;
            for j in *start..start.saturating_add(*n).min(BULK) {
                let key = format!("bulk{j}");
                if *remove {
                    f.push(Fact::Was(m.remove(&key)?));
                } else {
                    m.put(&key, u64::from(j))?;
                }
            }
            f.push(Fact::Count(count_of(m.count())?));
        }
        Op::MapSubAppend { map, value } => {
            let m = open_map_db(root, false, *map, f)?;
            let c = replace_db(m.into_entry(SUB)?, Kind::List, f)?;
            value.with(|x| c.array_list()?.append(x))?;
        }
        Op::SubMapPut {
            map,
            sub,
            key,
            value,
        } => {
            let m = open_map_db(root, false, *map, f)?;
            let c = replace_db(m.into_entry(SUBS[sub % 2])?, Kind::Map, f)?;
            value.with(|x| c.hash_map()?.put(&key.0, x))?;
        }
        Op::SubMapRemove { map, sub, key } => {
            let m = open_map_db(root, false, *map, f)?;
            let c = replace_db(m.into_entry(SUBS[sub % 2])?, Kind::Map, f)?;
            f.push(Fact::Was(c.hash_map()?.remove(&key.0)?));
        }
        _ => unreachable!("not a map op: {op:?}"),
    }
    Ok(())
}

/// An insert (`remove` None) or a remove, by key or by the given hash.
fn set_db(
    root: &mut MapMut<'_>,
    counted: bool,
    j: usize,
    key: &Key,
    remove: Option<Option<&[u8]>>,
    f: &mut Facts,
) -> xitdb::Result<()> {
    let kind = Kind::set(counted);
    let c = replace_db(root.entry(kind.name(j))?, kind, f)?;
    let mut s = if counted {
        c.counted_hash_set()?
    } else {
        c.hash_set()?
    };
    let was = match remove {
        None => s.insert(&key.0)?,
        Some(Some(hash)) => s.remove_by_hash(hash)?,
        Some(None) => s.remove(&key.0)?,
    };
    f.push(Fact::Was(was));
    f.push(Fact::Has(s.contains(&key.0)?));
    f.push(Fact::Count(count_of(s.count())?));
    Ok(())
}

fn list_db(root: &mut MapMut<'_>, op: &Op, f: &mut Facts) -> xitdb::Result<()> {
    let list = match op {
        Op::ListAppend { list, .. }
        | Op::ListAppendMany { list, .. }
        | Op::ListAppendMap { list, .. }
        | Op::ListAppendEmpty { list }
        | Op::ListPut { list, .. }
        | Op::ListItemMapPut { list, .. }
        | Op::ListTruncate { list, .. }
        | Op::ListTruncatePastEnd { list, .. } => *list,
        _ => unreachable!("not a list op: {op:?}"),
    };
    let c = replace_db(root.entry(Kind::List.name(list))?, Kind::List, f)?;
    let mut l = c.array_list()?;
    let len = l.len()?;
    f.push(Fact::Len(len));
    match op {
        Op::ListAppend { value, .. } => value.with(|x| l.append(x))?,
        Op::ListAppendMany { n, first, .. } => {
            for j in 0..*n as u64 {
                l.append(first.wrapping_add(j))?;
            }
        }
        Op::ListAppendMap { key, value, .. } => {
            let mut m = l.append_cursor()?.hash_map()?;
            value.with(|x| m.put(&key.0, x))?;
        }
        Op::ListAppendEmpty { .. } => {
            l.append_cursor()?;
        }
        Op::ListPut {
            at, value, cursor, ..
        } => {
            let (i, _) = at.resolve(len as usize);
            let r = if *cursor {
                l.cursor(i).and_then(|mut c| value.with(|x| c.write(x)))
            } else {
                value.with(|x| l.put(i, x))
            };
            failure(r, f)?;
        }
        Op::ListItemMapPut { at, key, value, .. } => {
            let c = match at.resolve(len as usize) {
                (i, Some(_)) => l.cursor(i)?,
                (_, None) => l.append_cursor()?,
            };
            let mut m = replace_db(c, Kind::Map, f)?.hash_map()?;
            value.with(|x| m.put(&key.0, x))?;
        }
        Op::ListTruncate { keep, .. } => {
            l.truncate(*keep as u64 % len.saturating_add(1))?;
            f.push(Fact::Len(l.len()?));
        }
        Op::ListTruncatePastEnd { extra, .. } => {
            let to = len.saturating_add(1 + *extra as u64 % 4);
            failure(l.truncate(to), f)?;
        }
        _ => unreachable!(),
    }
    Ok(())
}

fn linked_db(root: &mut MapMut<'_>, op: &Op, f: &mut Facts) -> xitdb::Result<()> {
    let list = match op {
        Op::LinkedAppend { list, .. }
        | Op::LinkedAppendMany { list, .. }
        | Op::LinkedAppendEmpty { list }
        | Op::LinkedPut { list, .. }
        | Op::LinkedInsert { list, .. }
        | Op::LinkedRemove { list, .. }
        | Op::LinkedSlice { list, .. } => *list,
        _ => unreachable!("not a linked-list op: {op:?}"),
    };
    let c = replace_db(root.entry(Kind::Linked.name(list))?, Kind::Linked, f)?;
    let mut l = c.linked_array_list()?;
    let len = l.len()?;
    f.push(Fact::Len(len));
    match op {
        Op::LinkedAppend { value, .. } => value.with(|x| l.append(x))?,
        Op::LinkedAppendMany { n, first, .. } => {
            for j in 0..*n as u64 {
                l.append(first.wrapping_add(j))?;
            }
        }
        Op::LinkedAppendEmpty { .. } => {
            l.append_cursor()?;
        }
        Op::LinkedPut {
            at, value, cursor, ..
        } => {
            let (i, _) = at.resolve(len as usize);
            let r = if *cursor {
                l.cursor(i).and_then(|mut c| value.with(|x| c.write(x)))
            } else {
                value.with(|x| l.put(i, x))
            };
            failure(r, f)?;
        }
        Op::LinkedInsert {
            at, value, cursor, ..
        } => {
            let (i, _) = at.resolve(len as usize);
            let r = if *cursor {
                l.insert_cursor(i)
                    .and_then(|mut c| value.with(|x| c.write(x)))
            } else {
                value.with(|x| l.insert(i, x))
            };
            failure(r, f)?;
        }
        Op::LinkedRemove { at, .. } => failure(l.remove(at.resolve(len as usize).0), f)?,
        Op::LinkedSlice {
            offset,
            n,
            past_end,
            ..
        } => {
            let (offset, n) = slice_args(len, *offset, *n, *past_end);
            failure(l.slice(offset, n), f)?;
        }
        _ => unreachable!(),
    }
    Ok(())
}

/// The slot of a concat's source, and its length when it is a linked list.
fn source(c: Cursor<'_>) -> (Slot, Option<u64>) {
    (c.slot(), c.as_linked_list().ok().map(|l| l.len()))
}

fn concat_db(
    tx: &mut Transaction<'_>,
    list: usize,
    with: Concat,
    f: &mut Facts,
) -> xitdb::Result<()> {
    let src = match with {
        Concat::Itself => None,
        Concat::Name(j) => Some(tx.root_map()?.get(Kind::Linked.name(j))?.map(source)),
        Concat::Past { moment, list: from } => {
            let n = tx.moment_count();
            f.push(Fact::Moments(n));
            if n == 0 {
                return Ok(());
            }
            let past = tx.moment((moment as u64 % n) as i64)?;
            Some(past.as_map()?.get(Kind::Linked.name(from))?.map(source))
        }
    };
    let mut root = tx.root_map()?;
    let c = replace_db(root.entry(Kind::Linked.name(list))?, Kind::Linked, f)?;
    let mut l = c.linked_array_list()?;
    let len = l.len()?;
    f.push(Fact::Len(len));
    let (slot, add) = match src {
        None => (l.slot()?, Some(len)),
        Some(Some((slot, add))) if slot.tag != Tag::None => {
            f.push(Fact::Was(true));
            f.extend(add.map(Fact::Len));
            (slot, add)
        }
        Some(_) => {
            f.push(Fact::Was(false));
            return Ok(());
        }
    };
    if add.is_some_and(|n| len.saturating_add(n) > CONCAT_CAP) {
        f.push(Fact::Capped);
        return Ok(());
    }
    failure(l.concat(slot), f)
}

fn restore_db(
    tx: &mut Transaction<'_>,
    moment: usize,
    key: &Key,
    f: &mut Facts,
) -> xitdb::Result<()> {
    let n = tx.moment_count();
    f.push(Fact::Moments(n));
    if n == 0 {
        return Ok(());
    }
    let past = tx.moment((moment as u64 % n) as i64)?;
    let slot = past.as_map()?.get(&key.0)?.map(|c| c.slot());
    f.push(Fact::Was(slot.is_some()));
    let mut root = tx.root_map()?;
    match slot {
        Some(slot) => root.entry(&key.0)?.write_slot(slot)?,
        None => f.push(Fact::Was(root.remove(&key.0)?)),
    }
    Ok(())
}

fn stream_db(
    c: CursorMut<'_>,
    data: &Data,
    chunk: usize,
    patch: &Patch,
    tag: Option<[u8; 2]>,
) -> xitdb::Result<()> {
    let bytes = data.bytes();
    let mut w = c.writer()?;
    for part in bytes.chunks(chunk.max(1)) {
        w.write_all(part)?;
    }
    match patch {
        Patch::None => {}
        Patch::Bytes { at, bytes: p } => {
            w.seek(SeekFrom::Start((at % (bytes.len() + 4)) as u64))?;
            w.write_all(&p.0)?;
        }
        Patch::Again { at, len } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                let n = (*len).min(bytes.len() - at);
                w.seek(SeekFrom::Start(at as u64))?;
                w.write_all(&bytes[at..at + n])?;
            }
        }
    }
    w.finish(tag)
}

// ------------------------------------------------------------ the model side

/// Applies `op` to the model of the moment being built; `past` holds the
/// models of the committed moments.
pub fn apply_model(m: &mut Model, op: &Op, past: &[Model]) -> Facts {
    let mut f = Facts::new();
    match op {
        Op::Freeze | Op::Check => {}
        Op::Put(k, v) => {
            m.insert(k.0.clone(), v.model());
        }
        Op::Remove(k) | Op::RemoveByHash(k) => f.push(Fact::Was(m.remove(&k.0).is_some())),
        Op::PutByHash(k, v) => {
            let present = m.contains_key(&k.0);
            f.push(Fact::Was(present));
            if present {
                m.insert(k.0.clone(), v.model());
            }
        }
        Op::PutStreamed {
            key,
            data,
            patch,
            tag,
            ..
        } => {
            m.insert(key.0.clone(), MV::Bytes(streamed(data, patch), *tag));
        }
        Op::AbandonWriter { key, .. } => {
            m.entry(key.0.clone()).or_insert(MV::Null);
        }
        Op::Restore { moment, key } => {
            f.push(Fact::Moments(past.len() as u64));
            if !past.is_empty() {
                let old = past[moment % past.len()].get(&key.0).cloned();
                copy_model(m, old, &key.0, &mut f);
            }
        }
        Op::CopyStruct { kind, from, to } => {
            let v = m.get(kind.name(*from)).cloned();
            copy_model(m, v, kind.name(*to), &mut f);
        }
        Op::LinkedConcat { list, with } => concat_model(m, *list, *with, past, &mut f),
        Op::SetInsert { counted, set, key } => set_model(m, *counted, *set, key, true, &mut f),
        Op::SetRemove {
            counted, set, key, ..
        } => set_model(m, *counted, *set, key, false, &mut f),
        Op::MapPut { .. }
        | Op::MapRemove { .. }
        | Op::MapBulk { .. }
        | Op::MapSubAppend { .. }
        | Op::SubMapPut { .. }
        | Op::SubMapRemove { .. } => map_model(m, op, &mut f),
        Op::ListAppend { list, .. }
        | Op::ListAppendMany { list, .. }
        | Op::ListAppendMap { list, .. }
        | Op::ListAppendEmpty { list }
        | Op::ListPut { list, .. }
        | Op::ListItemMapPut { list, .. }
        | Op::ListTruncate { list, .. }
        | Op::ListTruncatePastEnd { list, .. } => {
            let v = open_model(m, Kind::List.name(*list), Kind::List, &mut f);
            list_model(items_mut(v), op, &mut f);
        }
        _ => linked_model(m, op, &mut f),
    }
    f
}

/// Puts `v` under `key`, or removes the key when `v` is absent.
fn copy_model(m: &mut Model, v: Option<MV>, key: &[u8], f: &mut Facts) {
    f.push(Fact::Was(v.is_some()));
    match v {
        Some(v) => {
            m.insert(key.to_vec(), v);
        }
        None => f.push(Fact::Was(m.remove(key).is_some())),
    }
}

/// Makes `v` a structure of `kind`, replacing a value of another kind.
fn become_kind(v: &mut MV, kind: Kind, f: &mut Facts) {
    if !kind.holds(v) {
        if *v != MV::Null {
            f.push(Fact::Replaced);
        }
        *v = kind.empty();
    }
}

/// The structure `kind` under `name`, made if needed.
fn open_model<'m>(m: &'m mut Entries, name: &[u8], kind: Kind, f: &mut Facts) -> &'m mut MV {
    let v = m.entry(name.to_vec()).or_insert(MV::Null);
    become_kind(v, kind, f);
    v
}

fn entries_mut(v: &mut MV) -> &mut Entries {
    match v {
        MV::Map(_, e) => Rc::make_mut(e),
        other => panic!("model: {other:?} is not a map"),
    }
}

fn items_mut(v: &mut MV) -> &mut Vec<MV> {
    match v {
        MV::List(l) | MV::Linked(l) => Rc::make_mut(l),
        other => panic!("model: {other:?} is not a list"),
    }
}

/// What `count()` reads on a structure.
fn count_model(v: &MV) -> Option<u64> {
    match v {
        MV::Map(true, e) => Some(e.len() as u64),
        MV::Set(true, s) => Some(s.len() as u64),
        _ => None,
    }
}

fn map_model(m: &mut Model, op: &Op, f: &mut Facts) {
    let (counted, map) = match op {
        Op::MapPut { counted, map, .. }
        | Op::MapRemove { counted, map, .. }
        | Op::MapBulk { counted, map, .. } => (*counted, *map),
        Op::MapSubAppend { map, .. } | Op::SubMapPut { map, .. } | Op::SubMapRemove { map, .. } => {
            (false, *map)
        }
        _ => unreachable!("not a map op: {op:?}"),
    };
    let kind = Kind::map(counted);
    let v = open_model(m, kind.name(map), kind, f);
    let e = entries_mut(v);
    match op {
        Op::MapPut { key, value, .. } => {
            e.insert(key.0.clone(), value.model());
        }
        Op::MapRemove { key, .. } => f.push(Fact::Was(e.remove(&key.0).is_some())),
        Op::MapBulk {
            start, n, remove, ..
        } => {
            for j in *start..start.saturating_add(*n).min(BULK) {
                let key = format!("bulk{j}").into_bytes();
                if *remove {
                    f.push(Fact::Was(e.remove(&key).is_some()));
                } else {
                    e.insert(key, MV::Uint(j.into()));
                }
            }
        }
        Op::MapSubAppend { value, .. } => {
            items_mut(open_model(e, SUB, Kind::List, f)).push(value.model());
        }
        Op::SubMapPut {
            sub, key, value, ..
        } => {
            let s = open_model(e, SUBS[sub % 2], Kind::Map, f);
            entries_mut(s).insert(key.0.clone(), value.model());
        }
        Op::SubMapRemove { sub, key, .. } => {
            let s = open_model(e, SUBS[sub % 2], Kind::Map, f);
            f.push(Fact::Was(entries_mut(s).remove(&key.0).is_some()));
        }
        _ => unreachable!(),
    }
    if matches!(
        op,
        Op::MapPut { .. } | Op::MapRemove { .. } | Op::MapBulk { .. }
    ) {
        f.push(Fact::Count(count_model(v)));
    }
}

fn set_model(m: &mut Model, counted: bool, j: usize, key: &Key, insert: bool, f: &mut Facts) {
    let kind = Kind::set(counted);
    let v = open_model(m, kind.name(j), kind, f);
    let MV::Set(_, s) = v else {
        unreachable!("an open set")
    };
    let s = Rc::make_mut(s);
    let was = if insert {
        s.insert(key.0.clone())
    } else {
        s.remove(&key.0)
    };
    f.push(Fact::Was(was));
    f.push(Fact::Has(s.contains(&key.0)));
    f.push(Fact::Count(count_model(v)));
}

fn list_model(l: &mut Vec<MV>, op: &Op, f: &mut Facts) {
    let len = l.len();
    f.push(Fact::Len(len as u64));
    match op {
        Op::ListAppend { value, .. } => l.push(value.model()),
        Op::ListAppendMany { n, first, .. } => {
            l.extend((0..*n as u64).map(|j| MV::Uint(first.wrapping_add(j))));
        }
        Op::ListAppendMap { key, value, .. } => {
            let item = BTreeMap::from([(key.0.clone(), value.model())]);
            l.push(MV::Map(false, Rc::new(item)));
        }
        Op::ListAppendEmpty { .. } => l.push(MV::Null),
        Op::ListPut { at, value, .. } => match at.resolve(len).1 {
            Some(p) => l[p] = value.model(),
            None => f.push(Fact::Fails(Failure::Index)),
        },
        Op::ListItemMapPut { at, key, value, .. } => {
            let p = at.resolve(len).1.unwrap_or_else(|| {
                l.push(MV::Null);
                len
            });
            become_kind(&mut l[p], Kind::Map, f);
            entries_mut(&mut l[p]).insert(key.0.clone(), value.model());
        }
        Op::ListTruncate { keep, .. } => {
            l.truncate(keep % (len + 1));
            f.push(Fact::Len(l.len() as u64));
        }
        Op::ListTruncatePastEnd { .. } => f.push(Fact::Fails(Failure::Index)),
        _ => unreachable!("not a list op: {op:?}"),
    }
}

fn linked_model(m: &mut Model, op: &Op, f: &mut Facts) {
    let list = match op {
        Op::LinkedAppend { list, .. }
        | Op::LinkedAppendMany { list, .. }
        | Op::LinkedAppendEmpty { list }
        | Op::LinkedPut { list, .. }
        | Op::LinkedInsert { list, .. }
        | Op::LinkedRemove { list, .. }
        | Op::LinkedSlice { list, .. } => *list,
        _ => unreachable!("not a linked-list op: {op:?}"),
    };
    let l = items_mut(open_model(m, Kind::Linked.name(list), Kind::Linked, f));
    let len = l.len();
    f.push(Fact::Len(len as u64));
    let index_fails = Fact::Fails(Failure::Index);
    match op {
        Op::LinkedAppend { value, .. } => l.push(value.model()),
        Op::LinkedAppendMany { n, first, .. } => {
            l.extend((0..*n as u64).map(|j| MV::Uint(first.wrapping_add(j))));
        }
        Op::LinkedAppendEmpty { .. } => l.push(MV::Null),
        Op::LinkedPut { at, value, .. } => match at.resolve(len).1 {
            Some(p) => l[p] = value.model(),
            None => f.push(index_fails),
        },
        Op::LinkedInsert { at, value, .. } => match at.resolve(len).1 {
            Some(p) => l.insert(p, value.model()),
            None => f.push(index_fails),
        },
        Op::LinkedRemove { at, .. } => match at.resolve(len).1 {
            Some(p) => drop(l.remove(p)),
            None => f.push(index_fails),
        },
        Op::LinkedSlice {
            offset,
            n,
            past_end,
            ..
        } => {
            let (offset, n) = slice_args(len as u64, *offset, *n, *past_end);
            if *past_end {
                f.push(Fact::Fails(Failure::Slice));
            } else {
                l.truncate((offset + n) as usize);
                l.drain(..offset as usize);
            }
        }
        _ => unreachable!(),
    }
}

fn concat_model(m: &mut Model, list: usize, with: Concat, past: &[Model], f: &mut Facts) {
    let src = match with {
        Concat::Itself => None,
        Concat::Name(j) => Some(m.get(Kind::Linked.name(j)).cloned()),
        Concat::Past { moment, list: from } => {
            f.push(Fact::Moments(past.len() as u64));
            if past.is_empty() {
                return;
            }
            Some(
                past[moment % past.len()]
                    .get(Kind::Linked.name(from))
                    .cloned(),
            )
        }
    };
    let l = items_mut(open_model(m, Kind::Linked.name(list), Kind::Linked, f));
    f.push(Fact::Len(l.len() as u64));
    let add = match src {
        None => l.clone(),
        Some(Some(MV::Linked(items))) => {
            f.push(Fact::Was(true));
            f.push(Fact::Len(items.len() as u64));
            items.to_vec()
        }
        Some(None | Some(MV::Null)) => return f.push(Fact::Was(false)),
        Some(Some(_)) => {
            f.push(Fact::Was(true));
            return f.push(Fact::Fails(Failure::Tag));
        }
    };
    if (l.len() + add.len()) as u64 > CONCAT_CAP {
        return f.push(Fact::Capped);
    }
    l.extend(add);
}

// ------------------------------------------------------------ both

/// Applies `op` to the transaction and to the model, and compares what
/// they report; `past` holds the models of the committed moments.
pub fn apply(tx: &mut Transaction<'_>, m: &mut Model, op: &Op, past: &[Model], chk: &Checker) -> R {
    match op {
        Op::Check => return check_tx_root(tx, m, chk, "Check"),
        Op::Restore { moment, key } if !past.is_empty() => {
            // what the transaction reads of the past moment is the model's
            let i = moment % past.len();
            let moment = tx.moment(i as i64)?.as_map()?;
            let path = format!("moment {i} read in the transaction");
            match (moment.get(&key.0)?, past[i].get(&key.0)) {
                (Some(c), Some(mv)) => chk.value(&c, mv, &path)?,
                (None, None) => {}
                (c, mv) => ensure!(false, "{path}: {c:?}, model {mv:?}"),
            }
        }
        _ => {}
    }
    let got = apply_db(tx, op)?;
    let want = apply_model(m, op, past);
    ensure!(
        got == want,
        "the database reports {got:?}, the model {want:?}"
    );
    Ok(())
}

/// Compares the transaction's root with the model.
pub fn check_tx_root(tx: &mut Transaction<'_>, m: &Model, chk: &Checker, label: &str) -> R {
    let root = tx.root_map()?;
    let view = root.view()?;
    chk.map(&view, false, m, &format!("{label}: transaction root"))
}

// ------------------------------------------------------------ reading back

/// A database value read into the model's types.
pub fn read(c: &Cursor<'_>) -> xitdb::Result<MV> {
    Ok(match c.value()? {
        ValueRef::Null => MV::Null,
        ValueRef::Uint(v) => MV::Uint(v),
        ValueRef::Int(v) => MV::Int(v),
        ValueRef::Float(v) => MV::Float(v.to_bits()),
        ValueRef::Bytes { data, format_tag } => {
            MV::Bytes(Data::Inline(data.into_owned()), format_tag)
        }
        ValueRef::Map(m) => {
            let mut out = Entries::new();
            for e in m.iter() {
                let e = e?;
                out.insert(e.key()?.as_bytes()?.into_owned(), read(&e.value()?)?);
            }
            MV::Map(m.kind() == Tag::CountedHashMap, Rc::new(out))
        }
        ValueRef::Set(s) => {
            let mut out = BTreeSet::new();
            for e in s.iter() {
                out.insert(e?.key()?.as_bytes()?.into_owned());
            }
            MV::Set(s.kind() == Tag::CountedHashSet, Rc::new(out))
        }
        ValueRef::List(l) => MV::List(Rc::new(
            l.iter().map(|i| read(&i?)).collect::<xitdb::Result<_>>()?,
        )),
        ValueRef::LinkedList(l) => MV::Linked(Rc::new(
            l.iter().map(|i| read(&i?)).collect::<xitdb::Result<_>>()?,
        )),
        // the model writes no sorted collections (tests/sorted.rs models
        // them); read back, they compare as an uncounted map or set
        ValueRef::SortedMap(m) => {
            let mut out = Entries::new();
            for e in m.iter()? {
                let e = e?;
                out.insert(e.key()?.into_owned(), read(&e.value()?)?);
            }
            MV::Map(false, Rc::new(out))
        }
        ValueRef::SortedSet(s) => {
            let mut out = BTreeSet::new();
            for e in s.iter()? {
                out.insert(e?.key()?.into_owned());
            }
            MV::Set(false, Rc::new(out))
        }
    })
}

/// A digest of a value (the same in every process of a test binary).
pub fn digest(v: &MV) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

// ------------------------------------------------------------ checking

/// Compares what a database holds with the model, through every read API.
pub struct Checker {
    pub hasher: Hasher,
    pub probes: &'static [Vec<u8>],
    /// Any NaN matches any NaN (JSON keeps no NaN payloads).
    pub nan_loose: bool,
}

impl Checker {
    pub fn new(kind: HashKind) -> Checker {
        Checker {
            hasher: Hasher::new(kind),
            probes: &pool(kind).probes,
            nan_loose: false,
        }
    }

    /// A checker for `db`'s hasher.
    pub fn of<S: Storage>(db: &Database<S>) -> Checker {
        let hasher = db.hasher();
        Checker {
            probes: &pool(hasher.kind().unwrap_or(HashKind::Blake3)).probes,
            hasher,
            nan_loose: false,
        }
    }

    fn count(&self, got: xitdb::Result<u64>, counted: bool, want: usize, path: &str) -> R {
        match (counted, got) {
            (true, Ok(n)) => ensure!(n == want as u64, "{path}: count() {n}, model {want}"),
            (false, Err(Error::NotCounted(_))) => {}
            (_, got) => ensure!(false, "{path}: count() gave {got:?} (counted {counted})"),
        }
        Ok(())
    }

    pub fn value(&self, c: &Cursor<'_>, want: &MV, path: &str) -> R {
        match want {
            MV::Null => ensure!(c.is_null(), "{path}: {:?}, model null", c.value()?),
            MV::Uint(v) => {
                let got = c.as_uint();
                ensure!(
                    matches!(got, Ok(x) if x == *v),
                    "{path}: {got:?}, model uint {v}"
                );
            }
            MV::Int(v) => {
                let got = c.as_int();
                ensure!(
                    matches!(got, Ok(x) if x == *v),
                    "{path}: {got:?}, model int {v}"
                );
            }
            MV::Float(bits) => {
                let got = c.as_float()?;
                let same = got.to_bits() == *bits
                    || (self.nan_loose && got.is_nan() && f64::from_bits(*bits).is_nan());
                ensure!(
                    same,
                    "{path}: float bits {:#x}, model {bits:#x}",
                    got.to_bits()
                );
            }
            MV::Bytes(b, tag) => self.bytes(c, &b.bytes(), *tag, path)?,
            MV::Map(counted, entries) => self.map(&c.as_map()?, *counted, entries, path)?,
            MV::Set(counted, members) => self.set(&c.as_set()?, *counted, members, path)?,
            MV::List(items) => {
                let l = c.as_list()?;
                ensure!(l.is_empty() == items.is_empty(), "{path}: is_empty()");
                self.items(l.len(), |i| l.get(i), || l.iter(), items, path)?;
            }
            MV::Linked(items) => {
                let l = c.as_linked_list()?;
                ensure!(l.is_empty() == items.is_empty(), "{path}: is_empty()");
                self.items(l.len(), |i| l.get(i), || l.iter(), items, path)?;
            }
        }
        Ok(())
    }

    /// Bytes, read whole and through the streaming reader (from the start
    /// and from the middle).
    fn bytes(&self, c: &Cursor<'_>, b: &[u8], tag: Option<[u8; 2]>, path: &str) -> R {
        let (data, format_tag) = c.bytes_with_format()?;
        ensure!(
            *data == *b && format_tag == tag,
            "{path}: bytes {} tag {format_tag:?}, model {} tag {tag:?}",
            show(&data),
            show(b)
        );
        ensure!(
            c.format_tag()? == tag,
            "{path}: format_tag() {:?}",
            c.format_tag()
        );
        let mut r = c.reader()?;
        ensure!(r.len() == b.len() as u64, "{path}: reader len {}", r.len());
        let mut all = Vec::new();
        r.read_to_end(&mut all)?;
        ensure!(all == *b, "{path}: reader gives {}", show(&all));
        let mid = b.len() / 2;
        r.seek(SeekFrom::Start(mid as u64))?;
        let mut rest = Vec::new();
        r.read_to_end(&mut rest)?;
        ensure!(
            rest == b[mid..],
            "{path}: reader from {mid} gives {}",
            show(&rest)
        );
        Ok(())
    }

    pub fn map(&self, v: &MapView<'_>, counted: bool, want: &Entries, path: &str) -> R {
        let kind = Kind::map(counted).tag();
        ensure!(v.kind() == kind, "{path}: kind {:?}", v.kind());
        self.count(v.count(), counted, want.len(), path)?;
        let mut seen: HashMap<Vec<u8>, Slot> = HashMap::new();
        for e in v.iter() {
            let e = e?;
            let key = e.key()?.as_bytes()?.into_owned();
            let at = format!("{path}/{}", show(&key));
            ensure!(
                *e.hash()? == *self.hasher.hash(&key)?,
                "{at}: stored hash is not the key's"
            );
            let Some(mv) = want.get(&key) else {
                return Err(Fail::Mismatch(format!("{at}: key not in the model")));
            };
            let value = e.value()?;
            self.value(&value, mv, &at)?;
            ensure!(
                seen.insert(key, value.slot()).is_none(),
                "{at}: iterated twice"
            );
        }
        ensure!(
            seen.len() == want.len(),
            "{path}: iteration yields {} entries, model {}",
            seen.len(),
            want.len()
        );
        for (k, slot) in &seen {
            let got = v.get(k)?.map(|c| c.slot());
            ensure!(
                got == Some(*slot),
                "{path}: get({}) gives {got:?}, iteration {slot:?}",
                show(k)
            );
            let by_hash = v.get_by_hash(&self.hasher.hash(k)?)?.map(|c| c.slot());
            ensure!(
                by_hash == Some(*slot),
                "{path}: get_by_hash({}) gives {by_hash:?}",
                show(k)
            );
            ensure!(v.contains_key(k)?, "{path}: contains_key({})", show(k));
        }
        for k in self.probes.iter().filter(|k| !want.contains_key(*k)) {
            let got = v.get(k)?;
            ensure!(got.is_none(), "{path}: absent {} reads {got:?}", show(k));
            ensure!(!v.contains_key(k)?, "{path}: contains_key({})", show(k));
        }
        Ok(())
    }

    pub fn set(&self, v: &SetView<'_>, counted: bool, want: &BTreeSet<Vec<u8>>, path: &str) -> R {
        let kind = Kind::set(counted).tag();
        ensure!(v.kind() == kind, "{path}: kind {:?}", v.kind());
        self.count(v.count(), counted, want.len(), path)?;
        let mut seen = BTreeSet::new();
        for e in v.iter() {
            let e = e?;
            let key = e.key()?.as_bytes()?.into_owned();
            let at = format!("{path}/{}", show(&key));
            ensure!(
                *e.hash()? == *self.hasher.hash(&key)?,
                "{at}: stored hash is not the member's"
            );
            ensure!(want.contains(&key), "{at}: member not in the model");
            ensure!(e.value()?.is_null(), "{at}: a set member has a value");
            ensure!(seen.insert(key), "{at}: iterated twice");
        }
        ensure!(
            seen.len() == want.len(),
            "{path}: iteration yields {} members, model {}",
            seen.len(),
            want.len()
        );
        for k in want {
            ensure!(v.contains(k)?, "{path}: contains({}) is false", show(k));
            ensure!(
                v.contains_hash(&self.hasher.hash(k)?)?,
                "{path}: contains_hash({}) is false",
                show(k)
            );
        }
        for k in self.probes.iter().filter(|k| !want.contains(*k)) {
            ensure!(!v.contains(k)?, "{path}: absent {} is contained", show(k));
        }
        Ok(())
    }

    /// Length, iteration (forward, backward, from both ends at once) and
    /// `get` from both ends, item by item.
    pub fn items<'r, I>(
        &self,
        len: u64,
        get: impl Fn(i64) -> xitdb::Result<Option<Cursor<'r>>>,
        iter: impl Fn() -> I,
        want: &[MV],
        path: &str,
    ) -> R
    where
        I: DoubleEndedIterator<Item = xitdb::Result<Cursor<'r>>>,
    {
        let n = want.len();
        ensure!(len == n as u64, "{path}: len {len}, model {n}");
        let hint = iter().size_hint();
        ensure!(hint == (n, Some(n)), "{path}: size_hint {hint:?}");
        let items = iter().collect::<xitdb::Result<Vec<_>>>()?;
        ensure!(
            items.len() == n,
            "{path}: iteration yields {} items, model {n}",
            items.len()
        );
        let at = |c: &Cursor<'r>| (c.slot(), c.position());
        let fwd: Vec<_> = items.iter().map(at).collect();
        let mut back = iter()
            .rev()
            .map(|c| c.map(|c| at(&c)))
            .collect::<xitdb::Result<Vec<_>>>()?;
        back.reverse();
        ensure!(back == fwd, "{path}: backward iteration differs");
        let mut it = iter();
        let (mut front, mut rear) = (Vec::new(), Vec::new());
        for turn in 0.. {
            let next = if turn % 3 == 2 {
                it.next_back()
            } else {
                it.next()
            };
            match next {
                Some(c) if turn % 3 == 2 => rear.push(at(&c?)),
                Some(c) => front.push(at(&c?)),
                None => break,
            }
        }
        ensure!(
            it.next().is_none() && it.next_back().is_none(),
            "{path}: exhausted iterator resumes"
        );
        front.extend(rear.into_iter().rev());
        ensure!(front == fwd, "{path}: two-ended iteration differs");
        for (i, (c, mv)) in items.iter().zip(want).enumerate() {
            let at = format!("{path}[{i}]");
            self.value(c, mv, &at)?;
            let here = Some((c.slot(), c.position()));
            let fwd = get(i as i64)?.map(|c| (c.slot(), c.position()));
            ensure!(fwd == here, "{at}: get({i}) {fwd:?}, iteration {here:?}");
            let back_ix = i as i64 - n as i64;
            let back = get(back_ix)?.map(|c| (c.slot(), c.position()));
            ensure!(
                back == here,
                "{at}: get({back_ix}) {back:?}, iteration {here:?}"
            );
        }
        let past = get(n as i64)?;
        ensure!(past.is_none(), "{path}: get({n}) gives {past:?}");
        let before = get(-(n as i64) - 1)?;
        ensure!(before.is_none(), "{path}: get(-{}) gives {before:?}", n + 1);
        Ok(())
    }

    /// Every moment of `db` against the models recorded for them.
    pub fn all<S: Storage>(&self, db: &Database<S>, snaps: &[Model], label: &str) -> R {
        let n = snaps.len() as i64;
        let count = db.moment_count()?;
        ensure!(
            count == n as u64,
            "{label}: moment_count {count}, model {n}"
        );
        for (i, want) in snaps.iter().enumerate() {
            let path = format!("{label}: moment {i}");
            let c = db.moment(i as i64)?;
            let back = db.moment(i as i64 - n)?;
            ensure!(
                (c.slot(), c.position()) == (back.slot(), back.position()),
                "{path}: moment({}) differs",
                i as i64 - n
            );
            self.map(&c.as_map()?, false, want, &path)?;
        }
        ensure!(
            matches!(db.moment(n), Err(Error::NoSuchMoment { .. })),
            "{label}: moment({n}) exists"
        );
        ensure!(
            matches!(db.moment(-n - 1), Err(Error::NoSuchMoment { .. })),
            "{label}: moment({}) exists",
            -n - 1
        );
        Ok(())
    }
}

// ------------------------------------------------------------ steps

/// One step of a run.
#[derive(Clone, Debug)]
pub enum Step {
    Commit(Vec<Op>),
    /// Apply the ops, then fail the transaction.
    Abort(Vec<Op>),
    /// `db.revert_to(index)`.
    Revert(Idx),
    /// `db.truncate_history(keep % (count + 1))`, or past the end (fails).
    TruncateHistory {
        keep: usize,
        past_end: bool,
    },
    /// `n` small transactions, each putting the next number under `key`
    /// (grows the history past one block of 16 moments).
    Burst {
        n: usize,
        key: Key,
        first: u64,
    },
}

/// The bytes of a memory database.
pub fn memory_bytes(db: &Database<MemoryStorage>) -> Vec<u8> {
    db.storage().as_bytes().to_vec()
}

/// Runs steps on a database, recording a model per committed moment.
pub struct Run<'a, S: Storage> {
    pub chk: &'a Checker,
    /// Reads the whole database as stored (to compare around failures).
    pub bytes: &'a dyn Fn(&Database<S>) -> Vec<u8>,
    /// Called inside every transaction once its ops are applied, with the
    /// step number and the models of the committed moments.
    pub inside: &'a mut dyn FnMut(usize, &[Model]),
}

impl Run<'_, MemoryStorage> {
    /// Runs `steps` on a memory database.
    pub fn memory(db: &mut Database, steps: &[Step], snaps: &mut Vec<Model>, chk: &Checker) -> R {
        let mut run = Run {
            chk,
            bytes: &memory_bytes,
            inside: &mut |_, _| {},
        };
        run.drive(db, steps, snaps)
    }
}

impl<S: Storage> Run<'_, S> {
    /// Runs the steps; `snaps` holds the models of the committed moments.
    pub fn drive(&mut self, db: &mut Database<S>, steps: &[Step], snaps: &mut Vec<Model>) -> R {
        for (t, step) in steps.iter().enumerate() {
            let before = (self.bytes)(db);
            match step {
                Step::Commit(ops) => self.transaction(db, t, ops, false, snaps, &before)?,
                Step::Abort(ops) => self.transaction(db, t, ops, true, snaps, &before)?,
                Step::Revert(at) => {
                    let (index, pos) = at.resolve(snaps.len());
                    let r = db.revert_to(index);
                    match pos {
                        Some(p) => {
                            r.map_err(|e| Fail::from(e).context(format_args!("step {t}")))?;
                            snaps.push(snaps[p].clone());
                        }
                        None => self.refused(db, t, r, &before, "revert_to", index)?,
                    }
                }
                Step::TruncateHistory { keep, past_end } => {
                    let n = snaps.len();
                    if *past_end {
                        let to = (n + 1 + keep % 3) as u64;
                        let r = db.truncate_history(to);
                        self.refused(db, t, r, &before, "truncate_history", to as i64)?;
                    } else {
                        let keep = keep % (n + 1);
                        db.truncate_history(keep as u64)
                            .map_err(|e| Fail::from(e).context(format_args!("step {t}")))?;
                        snaps.truncate(keep);
                    }
                }
                Step::Burst { n, key, first } => burst(db, t, *n, key, *first, snaps)?,
            }
            let count = db.moment_count()?;
            ensure!(
                count == snaps.len() as u64,
                "step {t}: moment_count {count}, model {}",
                snaps.len()
            );
        }
        Ok(())
    }

    /// A call that must fail with `NoSuchMoment` and change nothing.
    fn refused(
        &self,
        db: &Database<S>,
        t: usize,
        r: xitdb::Result<()>,
        before: &[u8],
        what: &str,
        arg: i64,
    ) -> R {
        let count = db.moment_count()?;
        ensure!(
            matches!(r, Err(Error::NoSuchMoment { .. })),
            "step {t}: {what}({arg}) of {count} moments gave {r:?}"
        );
        ensure!(
            (self.bytes)(db) == before,
            "step {t}: a failed {what} changed the bytes"
        );
        Ok(())
    }

    /// One transaction of `ops`, committed or aborted on purpose.
    fn transaction(
        &mut self,
        db: &mut Database<S>,
        t: usize,
        ops: &[Op],
        abort: bool,
        snaps: &mut Vec<Model>,
        before: &[u8],
    ) -> R {
        let chk = self.chk;
        let inside = &mut *self.inside;
        let mut model = snaps.last().cloned().unwrap_or_default();
        let committed: &[Model] = snaps;
        let r = db.transact(|tx| -> R {
            let n = tx.moment_count();
            ensure!(
                n == committed.len() as u64,
                "moment_count {n} in the transaction"
            );
            if let Some(last) = committed.last() {
                let c = tx.moment(-1)?;
                chk.map(&c.as_map()?, false, last, "moment -1 in the transaction")?;
            }
            for (i, op) in ops.iter().enumerate() {
                apply(tx, &mut model, op, committed, chk)
                    .map_err(|e| e.context(format_args!("op {i} {op:?}")))?;
            }
            check_tx_root(tx, &model, chk, "end")?;
            inside(t, committed);
            if abort {
                Err(Fail::Deliberate)
            } else {
                Ok(())
            }
        });
        match (abort, r) {
            (false, Ok(())) => snaps.push(model),
            (true, Err(Fail::Deliberate)) => {
                let after = (self.bytes)(db);
                ensure!(
                    after == before,
                    "step {t}: an aborted transaction changed the bytes ({} -> {} bytes)",
                    before.len(),
                    after.len()
                );
            }
            (_, Err(e)) => return Err(e.context(format_args!("step {t}"))),
            (true, Ok(())) => unreachable!("an abort that committed"),
        }
        Ok(())
    }
}

/// `n` transactions, each putting the next number under `key`.
fn burst<S: Storage>(
    db: &mut Database<S>,
    t: usize,
    n: usize,
    key: &Key,
    first: u64,
    snaps: &mut Vec<Model>,
) -> R {
    for j in 0..n as u64 {
        let v = first.wrapping_add(j);
        db.transact(|tx| tx.root_map()?.put(&key.0, v))
            .map_err(|e| Fail::from(e).context(format_args!("step {t}, burst {j}")))?;
        let mut model = snaps.last().cloned().unwrap_or_default();
        model.insert(key.0.clone(), MV::Uint(v));
        snaps.push(model);
    }
    Ok(())
}
