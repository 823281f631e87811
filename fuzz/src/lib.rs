//! Shared code of the fuzz targets: a bounded full walk of a database, and
//! a small interpreter of write operations driven by fuzz input: its own
//! operations on whatever keys the input holds, and the test kit's
//! operations (`tests/common/model.rs`) on the structures they name.
//!
//! Every walk here is bounded by a budget (nodes visited, bytes read,
//! moments, depth), so only a single library call that never returns can
//! look like a hang to libFuzzer: a legitimately huge structure (a list
//! whose items all share one sub-list, nested 60 deep) is cut off by the
//! budget instead. `dump_json` walks everything, so it is called only after
//! a bounded measurement shows the expanded tree is small.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;
use xitdb::format::Tag;

// The test kit's generator and operation model (tests/common/), shared
// with the test suites; the script decodes part of its bytes into the
// model's operations.
#[allow(dead_code)]
#[path = "../../tests/common/model.rs"]
mod model;
#[allow(dead_code)]
#[path = "../../tests/common/rng.rs"]
mod rng;
pub use model::{apply_db, Concat, Data, Idx, Key, Kind, Op, Patch, Scalar};
use xitdb::json::dump_json;
use xitdb::storage::Storage;
use xitdb::{Cursor, Database, Error, Options, PathStep, ValueRef};

/// Nodes (values, entries, items) one walk visits at most.
const WALK_NODES: u32 = 4_000;
/// Bytes one walk reads through byte readers at most.
const WALK_BYTES: u64 = 4 << 20;
/// Depth of nesting one walk follows.
const WALK_DEPTH: usize = 48;
/// Items or entries taken from one structure per walk.
const PER_STRUCTURE: usize = 256;
/// Moments walked from each end of the history.
const MOMENTS_EACH_END: u64 = 32;

/// Limits of the measurement that decides whether `dump_json` is affordable.
const DUMP_NODES: u32 = 20_000;
const DUMP_BYTES: u64 = 8 << 20;
/// `dump_json`'s own nesting limit is 512; deeper trees end in an error,
/// which is cheap, so the measure follows a little further than that.
const DUMP_DEPTH: usize = 520;

/// What a walk may still spend.
pub struct Budget {
    nodes: u32,
    bytes: u64,
}

impl Budget {
    pub fn new(nodes: u32, bytes: u64) -> Self {
        Budget { nodes, bytes }
    }

    fn node(&mut self) -> bool {
        if self.nodes == 0 {
            return false;
        }
        self.nodes -= 1;
        true
    }

    fn spend_bytes(&mut self, n: u64) -> bool {
        if self.bytes < n {
            self.bytes = 0;
            return false;
        }
        self.bytes -= n;
        true
    }

    fn exhausted(&self) -> bool {
        self.nodes == 0 || self.bytes == 0
    }
}

/// The read API that sorted maps and sets share (`SortedMapView` and
/// `SortedSetView` have the same methods but no common trait): lengths,
/// ranks, ranges, prefixes, extreme indices, both ends of the iteration,
/// then every entry's key and value, walked.
macro_rules! walk_sorted {
    ($v:expr, $depth:expr, $budget:expr) => {{
        let v = &$v;
        let n = v.len().unwrap_or(0);
        let _ = v.is_empty();
        let _ = (v.first(), v.last());
        for key in [&b"a"[..], b"", b"m", b"\xff\xff"] {
            let _ = v.rank(key);
            let _ = v.iter_from(key).map(|it| it.take(4).count());
            let _ = v.prefix(key).map(|it| it.take(4).count());
        }
        let _ = v.range(&b"b"[..]..&b"y"[..]).map(|it| it.take(4).count());
        let _ = v.range(&b"y"[..]..&b"b"[..]).map(|it| it.take(4).count());
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        for i in [0, 1, -1, n / 2, n, -n, i64::MIN, i64::MAX] {
            let _ = v.get_index(i).map(|e| e.map(|e| (e.key(), e.value())));
        }
        if let Ok(it) = v.iter() {
            let _ = it.len();
            for e in it.take(PER_STRUCTURE) {
                if $budget.exhausted() {
                    break;
                }
                let Ok(e) = e else { continue };
                let _ = e.key_string();
                if let Ok(k) = e.key() {
                    if $budget.spend_bytes(k.len() as u64) {
                        let _ = v.rank(&k);
                    }
                }
                if let Ok(val) = e.value() {
                    walk(&val, $depth + 1, $budget);
                }
            }
        }
        if let Ok(it) = v.iter() {
            let _ = it.rev().take(PER_STRUCTURE / 4).count();
        }
        if let Ok(mut it) = v.iter() {
            for _ in 0..PER_STRUCTURE / 8 {
                if it.next().is_none() && it.next_back().is_none() {
                    break;
                }
            }
        }
    }};
}

/// Reads every kind of thing a cursor offers, then recurses into children.
pub fn walk(c: &Cursor<'_>, depth: usize, budget: &mut Budget) {
    if depth > WALK_DEPTH || !budget.node() {
        return;
    }
    let _ = c.tag();
    let _ = c.is_null();
    let _ = c.position();
    let _ = c.as_uint();
    let _ = c.as_int();
    let _ = c.as_float();
    let _ = c.format_tag();
    let _ = c.get(PathStep::Key(b"a"));
    let _ = c.get(PathStep::Index(0));
    let _ = c.get(PathStep::Index(-1));
    match c.value() {
        Ok(ValueRef::Map(m)) => {
            let _ = m.kind();
            let _ = m.count();
            for key in [&b"a"[..], b"b", b"list", b"", b"a key that is not there"] {
                let _ = m.get(key);
                let _ = m.contains_key(key);
                let _ = m
                    .entry(key)
                    .map(|e| e.map(|e| (e.hash(), e.key(), e.value())));
            }
            for len in [0usize, 1, 20, 32, 64] {
                let h = vec![0xA5u8; len];
                let _ = m.get_by_hash(&h);
                let _ = m.entry_by_hash(&h);
            }
            for e in m.iter().take(PER_STRUCTURE) {
                if budget.exhausted() {
                    break;
                }
                let Ok(e) = e else { continue };
                if let Ok(h) = e.hash() {
                    let _ = m.get_by_hash(&h);
                    let _ = m.entry_by_hash(&h);
                }
                if let Ok(k) = e.key() {
                    if let Ok(kb) = k.as_bytes() {
                        if budget.spend_bytes(kb.len() as u64) {
                            let _ = m.get(&kb);
                            let _ = m.contains_key(&kb);
                        }
                    }
                    walk(&k, depth + 1, budget);
                }
                if let Ok(v) = e.value() {
                    walk(&v, depth + 1, budget);
                }
            }
        }
        Ok(ValueRef::Set(s)) => {
            let _ = s.kind();
            let _ = s.count();
            for key in [&b"a"[..], b"", b"a member that is not there"] {
                let _ = s.contains(key);
                let _ = s.entry(key);
            }
            for len in [0usize, 20, 32] {
                let _ = s.contains_hash(&vec![0x5Au8; len]);
            }
            for e in s.iter().take(PER_STRUCTURE) {
                if budget.exhausted() {
                    break;
                }
                let Ok(e) = e else { continue };
                if let Ok(h) = e.hash() {
                    let _ = s.contains_hash(&h);
                    let _ = s.entry_by_hash(&h);
                }
                let _ = e.value();
                if let Ok(k) = e.key() {
                    if let Ok(kb) = k.as_bytes() {
                        if budget.spend_bytes(kb.len() as u64) {
                            let _ = s.contains(&kb);
                        }
                    }
                    walk(&k, depth + 1, budget);
                }
            }
        }
        Ok(ValueRef::List(l)) => {
            let n = l.len();
            let _ = l.is_empty();
            walk_items(n, |i| l.get(i), || l.iter(), depth, budget);
        }
        Ok(ValueRef::LinkedList(l)) => {
            let n = l.len();
            let _ = l.is_empty();
            walk_items(n, |i| l.get(i), || l.iter(), depth, budget);
        }
        Ok(ValueRef::SortedMap(m)) => {
            for key in [&b"a"[..], b"", b"zz"] {
                let _ = m.get(key);
                let _ = m.contains_key(key);
            }
            walk_sorted!(m, depth, budget);
        }
        Ok(ValueRef::SortedSet(s)) => {
            for key in [&b"a"[..], b"", b"zz"] {
                let _ = s.contains(key);
            }
            walk_sorted!(s, depth, budget);
        }
        Ok(ValueRef::Bytes { data, .. }) => {
            budget.spend_bytes(data.len() as u64);
            let _ = c.as_str();
            let _ = c.bytes_with_format();
            read_bytes(c, budget);
        }
        _ => {}
    }
}

/// Lookups at interesting indices, forward and reverse iteration, and
/// iteration from both ends at once.
fn walk_items<'r, I>(
    n: u64,
    get: impl Fn(i64) -> xitdb::Result<Option<Cursor<'r>>>,
    iter: impl Fn() -> I,
    depth: usize,
    budget: &mut Budget,
) where
    I: DoubleEndedIterator<Item = xitdb::Result<Cursor<'r>>>,
{
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    for i in [
        0,
        1,
        15,
        16,
        17,
        255,
        256,
        -1,
        -2,
        n / 2,
        n - 1,
        n,
        -n,
        i64::MIN,
        i64::MAX,
    ] {
        if let Ok(Some(item)) = get(i) {
            let _ = item.value();
        }
    }
    let it = iter();
    let _ = it.size_hint();
    for item in it.take(PER_STRUCTURE) {
        if budget.exhausted() {
            break;
        }
        if let Ok(item) = item {
            walk(&item, depth + 1, budget);
        }
    }
    for item in iter().rev().take(PER_STRUCTURE / 4).flatten() {
        let _ = item.value();
    }
    // from both ends: the two ends must meet without overlapping or panicking
    let mut it = iter();
    for _ in 0..PER_STRUCTURE / 8 {
        let a = it.next();
        let b = it.next_back();
        if a.is_none() && b.is_none() {
            break;
        }
    }
}

/// Streams a byte value through `io::Read` and `io::Seek`.
fn read_bytes(c: &Cursor<'_>, budget: &mut Budget) {
    let Ok(mut r) = c.reader() else { return };
    let len = r.len();
    let _ = r.is_empty();
    let mut buf = [0u8; 4096];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                if total > len || !budget.spend_bytes(n as u64) {
                    break;
                }
            }
        }
    }
    for pos in [
        SeekFrom::Start(0),
        SeekFrom::End(-1),
        SeekFrom::End(0),
        SeekFrom::End(1),
        SeekFrom::Current(-3),
        SeekFrom::Current(i64::MIN),
        SeekFrom::End(i64::MIN),
        SeekFrom::Start(u64::MAX),
        SeekFrom::Start(len / 2),
    ] {
        if r.seek(pos).is_ok() {
            let _ = r.read(&mut buf[..7]);
        }
    }
    let _ = r.stream_position();
}

/// Walks the root, every moment (up to a bound from each end), a snapshot
/// of the newest moment and a few paths.
pub fn walk_db<S: Storage>(db: &Database<S>) {
    let _ = db.header();
    let _ = db.hasher();
    let _ = db.len();
    let _ = db.is_empty();
    let mut budget = Budget::new(WALK_NODES, WALK_BYTES);
    walk(&db.root(), 0, &mut budget);
    if let Ok(n) = db.moment_count() {
        let front = n.min(MOMENTS_EACH_END);
        let back = n.saturating_sub(front).min(MOMENTS_EACH_END);
        for i in 0..front {
            let Ok(i) = i64::try_from(i) else { break };
            if let Ok(m) = db.moment(i) {
                walk(&m, 0, &mut budget);
            }
        }
        for i in 1..=back {
            let Ok(i) = i64::try_from(i) else { break };
            if let Ok(m) = db.moment(-i) {
                walk(&m, 0, &mut budget);
            }
        }
    }
    for i in [i64::MIN, -1, 0, i64::MAX] {
        let _ = db.moment(i);
    }
    if let Ok(snap) = db.snapshot(-1) {
        let _ = snap.slot();
        let mut small = Budget::new(200, 1 << 20);
        walk(&snap.cursor(), 0, &mut small);
    }
    for path in [
        &[PathStep::Index(-1), PathStep::Key(b"a"), PathStep::Index(0)][..],
        &[PathStep::Key(b"a"), PathStep::Index(0)],
        &[PathStep::Index(0), PathStep::Hash(&[0u8; 20])],
    ] {
        let _ = db.root().get_path(path);
    }
}

/// How big the tree that `dump_json` would expand is, up to a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Everything was seen, and no read failed.
    Clean,
    /// Everything was seen; some read failed (the dump may fail too).
    Broken,
    /// Too big to dump within the bound.
    TooBig,
}

fn measure_value(c: &Cursor<'_>, depth: usize, b: &mut Budget, broken: &mut bool) -> bool {
    if depth > DUMP_DEPTH || !b.node() {
        return depth > DUMP_DEPTH;
    }
    let items = |b: &mut Budget,
                 broken: &mut bool,
                 it: &mut dyn Iterator<Item = xitdb::Result<Cursor<'_>>>|
     -> bool {
        for item in it {
            match item {
                Ok(item) => {
                    if !measure_value(&item, depth + 1, b, broken) {
                        return false;
                    }
                }
                Err(_) => {
                    *broken = true;
                    return true;
                }
            }
        }
        true
    };
    match c.value() {
        Err(_) => *broken = true,
        Ok(ValueRef::Bytes { data, .. }) => {
            if !b.spend_bytes(data.len() as u64 * 2 + 32) {
                return false;
            }
        }
        Ok(ValueRef::List(l)) => return items(b, broken, &mut l.iter()),
        Ok(ValueRef::LinkedList(l)) => return items(b, broken, &mut l.iter()),
        Ok(ValueRef::Map(m)) => {
            for e in m.iter() {
                let Ok(e) = e else {
                    *broken = true;
                    return true;
                };
                for part in [e.key(), e.value()] {
                    match part {
                        Ok(p) => {
                            if !measure_value(&p, depth + 1, b, broken) {
                                return false;
                            }
                        }
                        Err(_) => *broken = true,
                    }
                }
            }
        }
        Ok(ValueRef::Set(s)) => {
            for e in s.iter() {
                let Ok(e) = e else {
                    *broken = true;
                    return true;
                };
                match e.key() {
                    Ok(p) => {
                        if !measure_value(&p, depth + 1, b, broken) {
                            return false;
                        }
                    }
                    Err(_) => *broken = true,
                }
            }
        }
        Ok(ValueRef::SortedMap(m)) => {
            let Ok(it) = m.iter() else {
                *broken = true;
                return true;
            };
            return sorted_entries(it, depth, b, broken);
        }
        Ok(ValueRef::SortedSet(s)) => {
            let Ok(it) = s.iter() else {
                *broken = true;
                return true;
            };
            return sorted_entries(it, depth, b, broken);
        }
        Ok(_) => {}
    }
    true
}

/// [`measure_value`] of a sorted map's or set's entries: key bytes, values.
fn sorted_entries(
    it: xitdb::SortedEntries<'_>,
    depth: usize,
    b: &mut Budget,
    broken: &mut bool,
) -> bool {
    for e in it {
        let Ok(e) = e else {
            *broken = true;
            return true;
        };
        match e.key() {
            Ok(k) if !b.node() || !b.spend_bytes(k.len() as u64 * 2 + 32) => return false,
            Ok(_) => {}
            Err(_) => *broken = true,
        }
        match e.value() {
            Ok(v) => {
                if !measure_value(&v, depth + 1, b, broken) {
                    return false;
                }
            }
            Err(_) => *broken = true,
        }
    }
    true
}

/// Measures what `dump_json(db)` would walk.
pub fn measure<S: Storage>(db: &Database<S>) -> Measure {
    let mut b = Budget::new(DUMP_NODES, DUMP_BYTES);
    let mut broken = false;
    let fits = match db.header().tag {
        Tag::None => true,
        Tag::ArrayList => match db.moment_count() {
            Err(_) => {
                broken = true;
                true
            }
            Ok(n) => (|| {
                for i in 0..n {
                    if !b.node() {
                        return false;
                    }
                    match i64::try_from(i)
                        .map_err(|_| ())
                        .and_then(|i| db.moment(i).map_err(|_| ()))
                    {
                        Ok(m) => {
                            if !measure_value(&m, 0, &mut b, &mut broken) {
                                return false;
                            }
                        }
                        Err(()) => {
                            broken = true;
                            return true;
                        }
                    }
                }
                true
            })(),
        },
        _ => measure_value(&db.root(), 0, &mut b, &mut broken),
    };
    match (fits, broken) {
        (false, _) => Measure::TooBig,
        (true, false) => Measure::Clean,
        (true, true) => Measure::Broken,
    }
}

/// `XITDB_FUZZ_VERIFY_ORACLE=1`: treat "verify found no problem, yet the
/// dump failed" as a finding. Off by default while `verify` is a stub.
fn verify_oracle() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("XITDB_FUZZ_VERIFY_ORACLE").is_some_and(|v| v == "1"))
}

/// The dump (when affordable), `verify`, and the bounded walk. Returns the
/// dump when one was made, for comparisons between storages.
pub fn full_check<S: Storage>(db: &Database<S>) -> Option<Result<String, String>> {
    let size = measure(db);
    let dump = (size != Measure::TooBig).then(|| dump_json(db).map_err(|e| e.to_string()));
    if let Some(Ok(json)) = &dump {
        assert!(json.ends_with("}\n"), "a dump is one JSON line");
    }
    let report = db.verify();
    if verify_oracle() {
        if let (Ok(r), Some(Err(e))) = (&report, &dump) {
            assert!(
                r.problem.is_some(),
                "verify found nothing wrong, but dump_json failed: {e}"
            );
        }
    }
    walk_db(db);
    dump
}

// ------------------------------------------------------------- write script

/// A little reader over the fuzz input's script tail.
pub struct Script<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Three operations in four are sorted-collection operations.
    sorted: bool,
}

impl<'a> Script<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Script {
            bytes,
            at: 0,
            sorted: false,
        }
    }

    pub fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// A small number, sometimes an extreme one.
    pub fn num(&mut self) -> i64 {
        match self.byte() {
            250 => i64::MAX,
            251 => i64::MIN,
            252 => -1,
            253 => 1 << 40,
            254 => 4096,
            255 => -(self.byte() as i64),
            b => b as i64 % 64,
        }
    }

    pub fn unum(&mut self) -> u64 {
        match self.byte() {
            250 => u64::MAX,
            251 => 1 << 62,
            252 => i64::MAX as u64,
            b => b as u64 % 64,
        }
    }

    /// A key: mostly from a small set, so operations meet each other, or
    /// one of the keys already in the root map.
    pub fn key(&mut self, existing: &[Vec<u8>]) -> Vec<u8> {
        const KEYS: [&[u8]; 8] = [
            b"a",
            b"b",
            b"list",
            b"links",
            b"set",
            b"map",
            b"",
            b"a long key, longer than eight bytes",
        ];
        let b = self.byte();
        if b & 0x80 != 0 && !existing.is_empty() {
            return existing[(b & 0x7f) as usize % existing.len()].clone();
        }
        KEYS[b as usize % KEYS.len()].to_vec()
    }

    /// A value: a scalar or short/long bytes (at most 300 bytes).
    pub fn value(&mut self) -> Scalar {
        match self.byte() % 7 {
            0 => Scalar::Uint(self.unum()),
            1 => Scalar::Int(self.num()),
            2 => Scalar::Float(f64::from_bits(self.unum().rotate_left(7))),
            3 => Scalar::Null,
            4 => {
                let n = self.byte() as usize % 9;
                Scalar::bytes(vec![b'x'; n])
            }
            5 => {
                let n = self.byte() as usize + 9;
                Scalar::bytes(vec![b'y'; n.min(300)])
            }
            _ => {
                let n = self.byte() as usize % 40;
                let t = [self.byte(), self.byte()];
                Scalar::Tagged(Data::Inline(vec![b'z'; n]), t)
            }
        }
    }

    /// A list index of the test kit's model.
    fn idx(&mut self) -> Idx {
        let r = self.byte() as usize;
        match self.byte() % 4 {
            0 => Idx::Front(r),
            1 => Idx::Back(r),
            2 => Idx::Past(r),
            _ => Idx::Before(r),
        }
    }

    /// One of a kind's three structure names in the test kit's model.
    fn name(&mut self) -> usize {
        self.byte() as usize % 3
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}

/// The first few keys of the newest moment's root map (or the root map).
pub fn existing_keys<S: Storage>(db: &Database<S>) -> Vec<Vec<u8>> {
    let root = match db.header().tag {
        Tag::ArrayList => match db.moment(-1) {
            Ok(c) => c,
            Err(_) => return Vec::new(),
        },
        _ => db.root(),
    };
    let Ok(m) = root.as_map() else {
        return Vec::new();
    };
    m.iter()
        .take(16)
        .filter_map(|e| {
            let k = e.ok()?.key().ok()?.as_bytes().ok()?;
            (k.len() <= 1024).then(|| k.into_owned())
        })
        .collect()
}

/// Runs up to `max_ops` script operations inside one transaction, on the
/// root of the new moment (or the root map of a map-rooted database, whose
/// kind is `root_kind`); returns Err to abort when the script says so.
pub fn run_ops(
    tx: &mut xitdb::Transaction<'_>,
    root_kind: Tag,
    s: &mut Script<'_>,
    keys: &[Vec<u8>],
    max_ops: usize,
) -> Result<(), Error> {
    for _ in 0..max_ops {
        if s.done() {
            break;
        }
        let op = match s.byte() {
            b if s.sorted && b % 4 != 0 => 31,
            b => b,
        };
        match op % 32 {
            24 => tx.freeze(),
            25 => {
                // time travel: copy an older moment's slot into the map
                let (i, key) = (s.num(), s.key(keys));
                let slot = tx.moment(i)?.slot();
                root_map(tx, root_kind)?.entry(&key)?.write_slot(slot)?;
            }
            26 => return Err(Error::InvalidArgument("the script aborts this transaction")),
            27 => {
                // whatever the root is, work on it directly
                let v = s.value();
                let mut root = tx.root();
                match root.slot()?.tag {
                    Tag::ArrayList => v.with(|x| root.array_list()?.append(x))?,
                    Tag::LinkedArrayList => {
                        let i = s.num();
                        v.with(|x| root.linked_array_list()?.insert(i, x))?
                    }
                    Tag::HashSet => {
                        let _ = root.hash_set()?.insert(b"member")?;
                    }
                    Tag::CountedHashSet => {
                        let _ = root.counted_hash_set()?.remove(b"member")?;
                    }
                    _ => v.with(|x| root.write(x))?,
                }
            }
            28 => {
                let n = s.unum();
                tx.root().array_list()?.truncate(n)?;
            }
            29 => {
                let (off, len) = (s.unum(), s.unum());
                tx.root().linked_array_list()?.slice(off, len)?;
            }
            30 => {
                let op = kit_op(s, keys);
                apply_db(tx, &op)?;
            }
            31 => sorted_op(tx, root_kind, s, keys)?,
            _ => {
                let key = s.key(keys);
                let mut m = root_map(tx, root_kind)?;
                map_op(&mut m, op % 24, key, s, keys)?;
            }
        }
    }
    Ok(())
}

/// One of the test kit's operations, decoded from the script.
pub fn kit_op(s: &mut Script<'_>, keys: &[Vec<u8>]) -> Op {
    let b = s.byte();
    if b & 1 == 0 {
        kit_list_op(s, b / 2)
    } else {
        kit_root_op(s, keys, b / 2)
    }
}

/// Root, map and set operations of the test kit.
fn kit_root_op(s: &mut Script<'_>, keys: &[Vec<u8>], which: u8) -> Op {
    let key = Key(s.key(keys));
    let (counted, j) = (s.flag(), s.name());
    match which % 16 {
        0 => Op::Put(key, s.value()),
        1 => Op::Remove(key),
        2 => Op::PutByHash(key, s.value()),
        3 => Op::RemoveByHash(key),
        4 => Op::PutStreamed {
            key,
            data: Data::Inline(vec![b's'; s.byte() as usize]),
            chunk: 1 + s.byte() as usize,
            patch: match s.byte() % 3 {
                0 => Patch::None,
                1 => Patch::Bytes {
                    at: s.byte().into(),
                    bytes: Key(s.key(keys)),
                },
                _ => Patch::Again {
                    at: s.byte().into(),
                    len: s.byte().into(),
                },
            },
            tag: s.flag().then_some([b'f', b's']),
        },
        5 => Op::AbandonWriter {
            key,
            data: Key(vec![b'a'; s.byte().into()]),
        },
        6 => Op::Restore {
            moment: s.byte().into(),
            key,
        },
        7 => Op::CopyStruct {
            kind: model::KINDS[s.byte() as usize % model::KINDS.len()],
            from: j,
            to: s.name(),
        },
        8 => Op::MapPut {
            counted,
            map: j,
            key,
            value: s.value(),
        },
        9 => Op::MapRemove {
            counted,
            map: j,
            key,
        },
        10 => Op::MapBulk {
            counted,
            map: j,
            start: s.byte().into(),
            n: s.byte().into(),
            remove: s.flag(),
        },
        11 => Op::SubMapPut {
            map: j,
            sub: s.byte().into(),
            key,
            value: s.value(),
        },
        12 => Op::SetInsert {
            counted,
            set: j,
            key,
        },
        13 => Op::SetRemove {
            counted,
            set: j,
            key,
            by_hash: s.flag(),
        },
        14 => Op::MapSubAppend {
            map: j,
            value: s.value(),
        },
        _ => Op::Freeze,
    }
}

/// ArrayList and LinkedArrayList operations of the test kit.
fn kit_list_op(s: &mut Script<'_>, which: u8) -> Op {
    let (list, at, cursor) = (s.name(), s.idx(), s.flag());
    match which % 14 {
        0 => Op::ListAppend {
            list,
            value: s.value(),
        },
        1 => Op::ListAppendMany {
            list,
            n: s.byte().into(),
            first: s.unum(),
        },
        2 => Op::ListPut {
            list,
            at,
            value: s.value(),
            cursor,
        },
        3 => Op::ListItemMapPut {
            list,
            at,
            key: Key(vec![s.byte()]),
            value: s.value(),
        },
        4 => Op::ListTruncate {
            list,
            keep: s.byte().into(),
        },
        5 => Op::ListTruncatePastEnd {
            list,
            extra: s.byte().into(),
        },
        6 => Op::LinkedAppend {
            list,
            value: s.value(),
        },
        7 => Op::LinkedAppendMany {
            list,
            n: s.byte().into(),
            first: s.unum(),
        },
        8 => Op::LinkedPut {
            list,
            at,
            value: s.value(),
            cursor,
        },
        9 => Op::LinkedInsert {
            list,
            at,
            value: s.value(),
            cursor,
        },
        10 => Op::LinkedRemove { list, at },
        11 => Op::LinkedSlice {
            list,
            offset: s.byte().into(),
            n: s.byte().into(),
            past_end: s.flag(),
        },
        12 => Op::LinkedConcat {
            list,
            with: match s.byte() % 3 {
                0 => Concat::Itself,
                1 => Concat::Name(s.name()),
                _ => Concat::Past {
                    moment: s.byte().into(),
                    list: s.name(),
                },
            },
        },
        _ => Op::ListAppendEmpty { list },
    }
}

/// Sorted keys of the script: a few short ones, long ones sharing a long
/// prefix (so comparisons run past the inline part), and existing keys.
fn sorted_key(s: &mut Script<'_>, keys: &[Vec<u8>]) -> Vec<u8> {
    let b = s.byte();
    match b % 4 {
        0 => s.key(keys),
        1 => vec![b'k', b / 4],
        2 => {
            let mut k = vec![b'p'; 40];
            k.push(b / 4);
            k
        }
        _ => (0..(b / 4) as usize % 24)
            .map(|i| b'a' + (i % 26) as u8)
            .collect(),
    }
}

/// One edit or read of a sorted map or set under a key of the root map.
fn sorted_op(
    tx: &mut xitdb::Transaction<'_>,
    root_kind: Tag,
    s: &mut Script<'_>,
    keys: &[Vec<u8>],
) -> Result<(), Error> {
    let (which, at) = (s.byte(), s.key(keys));
    let k = sorted_key(s, keys);
    let mut m = root_map(tx, root_kind)?;
    let e = m.entry(&at)?;
    match which % 8 {
        0 | 1 => {
            let v = s.value();
            v.with(|x| e.sorted_map()?.put(&k, x))?;
        }
        2 => {
            e.sorted_map()?.remove(&k)?;
        }
        3 => {
            let v = s.value();
            v.with(|x| e.sorted_map()?.entry(&k)?.linked_array_list()?.append(x))?;
        }
        4 => {
            e.sorted_set()?.insert(&k)?;
        }
        5 => {
            e.sorted_set()?.remove(&k)?;
        }
        6 => {
            // bulk: many keys at once, to split and merge nodes
            let n = s.byte() as u64 * 3;
            let mut sm = e.sorted_map()?;
            let remove = s.flag();
            for i in 0..n {
                let key = format!("bulk{:05}", (i * 7919) % 1000);
                if remove {
                    sm.remove(&key)?;
                } else {
                    sm.put(&key, i)?;
                }
            }
        }
        _ => {
            let sm = e.sorted_map()?;
            let view = sm.view()?;
            let mut b = Budget::new(64, 1 << 16);
            walk_sorted!(view, 0, &mut b);
        }
    }
    Ok(())
}

fn root_map<'t>(
    tx: &'t mut xitdb::Transaction<'_>,
    root_kind: Tag,
) -> Result<xitdb::MapMut<'t>, Error> {
    match root_kind {
        Tag::CountedHashMap => tx.root().counted_hash_map(),
        _ => tx.root().hash_map(),
    }
}

fn map_op(
    m: &mut xitdb::MapMut<'_>,
    op: u8,
    key: Vec<u8>,
    s: &mut Script<'_>,
    keys: &[Vec<u8>],
) -> Result<(), Error> {
    match op {
        0 | 1 => {
            let v = s.value();
            v.with(|x| m.put(&key, x))?;
        }
        2 => {
            m.remove(&key)?;
        }
        3 => {
            let v = s.value();
            v.with(|x| m.entry(&key)?.array_list()?.append(x))?;
        }
        4 => {
            let v = s.value();
            v.with(|x| m.entry(&key)?.linked_array_list()?.append(x))?;
        }
        5 => {
            let (i, v) = (s.num(), s.value());
            v.with(|x| m.entry(&key)?.linked_array_list()?.insert(i, x))?;
        }
        6 => {
            let i = s.num();
            m.entry(&key)?.linked_array_list()?.remove(i)?;
        }
        7 => {
            let (off, len) = (s.unum(), s.unum());
            m.entry(&key)?.linked_array_list()?.slice(off, len)?;
        }
        8 => {
            // concat with itself, or with another key's list
            let other_key = s.key(keys);
            let other = if other_key == key {
                None
            } else {
                m.get(&other_key)?.map(|c| c.slot())
            };
            let mut l = m.entry(&key)?.linked_array_list()?;
            let other = match other {
                Some(o) => o,
                None => l.slot()?,
            };
            l.concat(other)?;
        }
        9 => {
            let (i, v) = (s.num(), s.value());
            v.with(|x| m.entry(&key)?.array_list()?.put(i, x))?;
        }
        10 => {
            let n = s.unum();
            m.entry(&key)?.array_list()?.truncate(n)?;
        }
        11 => {
            let member = s.key(keys);
            m.entry(&key)?.hash_set()?.insert(&member)?;
        }
        12 => {
            let member = s.key(keys);
            m.entry(&key)?.counted_hash_set()?.remove(&member)?;
        }
        13 => {
            let (k2, v) = (s.key(keys), s.value());
            v.with(|x| m.entry(&key)?.counted_hash_map()?.put(&k2, x))?;
        }
        14 => {
            let n = s.byte() as usize * 7;
            let mut w = m.entry(&key)?.writer()?;
            std::io::Write::write_all(&mut w, &vec![b'w'; n])?;
            let _ = std::io::Seek::seek(&mut w, SeekFrom::Start(1));
            std::io::Write::write_all(&mut w, b"seek")?;
            let tag = (s.byte() & 1 == 1).then_some([b'f', b't']);
            w.finish(tag)?;
        }
        15 => {
            let k2 = s.key(keys);
            m.remove_by_hash(&k2)?;
        }
        16 => {
            let (k2, v) = (s.key(keys), s.value());
            v.with(|x| m.entry(&key)?.hash_map()?.put(&k2, x))?;
        }
        17 => {
            // copy one value's slot under another key
            let slot = m.get(&key)?.map(|c| c.slot());
            if let Some(slot) = slot {
                let k2 = s.key(keys);
                m.entry(&k2)?.write_slot(slot)?;
            }
        }
        18 => {
            let path_key = s.key(keys);
            let i = s.num();
            let v = s.value();
            let mut c = m
                .entry(&key)?
                .at_path(&[PathStep::Key(&path_key), PathStep::Index(i)])?;
            v.with(|x| c.write(x))?;
        }
        19 => {
            let v = s.value();
            let _ = v.with(|x| m.entry(&key)?.write_if_empty(x))?;
        }
        20 => {
            // read back through the write handles
            let _ = m.count();
            if let Ok(it) = m.iter() {
                let _ = it.take(32).count();
            }
            let _ = m.contains_key(&key);
            if let Some(c) = m.get(&key)? {
                let mut b = Budget::new(64, 1 << 16);
                walk(&c, 0, &mut b);
            }
        }
        21 => {
            let (i, v) = (s.num(), s.value());
            let mut l = m.entry(&key)?.linked_array_list()?;
            v.with(|x| l.insert_cursor(i)?.write(x))?;
            let _ = l.len()?;
        }
        22 => {
            let v = s.value();
            let mut l = m.entry(&key)?.array_list()?;
            v.with(|x| l.append_cursor()?.write(x))?;
            let _ = l.get(-1)?;
        }
        _ => {
            let v = s.value();
            let mut c = m.entry(&key)?;
            v.with(|x| c.write(x))?;
            let _ = c.read()?.value();
        }
    }
    Ok(())
}

/// True when `text` is one JSON document.
pub fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok()
}

// ------------------------------------------------------------ known issues

/// Known library bugs that a campaign may mask so that it goes on finding
/// new ones: `XITDB_FUZZ_KNOWN=name,name` (see fuzz/README.md). Nothing is
/// masked by default.
pub fn masked(name: &str) -> bool {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("XITDB_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|k| k == name)
}

/// Known issue `empty-history-ptr`: a history header with size 0 whose root
/// pointer is not 36 (the block right after it). The first transaction
/// writes the new moment's slot in place at that pointer (offset 0 puts it
/// over the magic), and the committed bytes no longer open.
pub fn empty_history_with_odd_root(bytes: &[u8]) -> bool {
    if bytes.len() < 36 || bytes[3] & 0x7f != Tag::ArrayList as u8 {
        return false;
    }
    let u64_at = |p: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[p..p + 8]);
        u64::from_be_bytes(b)
    };
    u64_at(12) == 0 && u64_at(20) != 36
}

/// The body of the transacting targets: `data` is database bytes followed
/// by a short script (its length in the last byte's low 6 bits), opened
/// with `opts` and driven through a few transactions: puts, removes,
/// appends, inserts, slices, concats, time travel, aborts. No panic, and a
/// transaction that fails leaves every byte as it was.
pub fn transact_script(data: &[u8], opts: Options) {
    transact_script_with(data, opts, false);
}

/// [`transact_script`] where three script operations in four edit or read
/// sorted maps and sets (`sorted`).
pub fn transact_script_with(data: &[u8], opts: Options, sorted: bool) {
    let Some((&last, rest)) = data.split_last() else {
        return;
    };
    let t = (last as usize & 0x3f).min(rest.len());
    let (db_bytes, script) = rest.split_at(rest.len() - t);
    let Ok(mut db) = Database::from_bytes_with(db_bytes.to_vec(), opts) else {
        return;
    };
    let keys = existing_keys(&db);
    // Opening for writing may drop bytes past the last commit; what is
    // left must still open.
    let reopened = Database::from_slice_with(db.storage().as_bytes(), opts).map(|_| ());
    if !masked("recovery-reopen") {
        if let Err(e) = &reopened {
            panic!("the bytes a writable open left behind do not reopen: {e:?}");
        }
    }
    let reopens = reopened.is_ok();
    let mut known_bad = !reopens;
    let mut s = Script::new(script);
    s.sorted = sorted;
    for round in 0..4 {
        if round > 0 && s.done() {
            break;
        }
        let before = db.storage().as_bytes().to_vec();
        // (truncate_history(0) can make such a history too)
        known_bad |= masked("empty-history-ptr") && empty_history_with_odd_root(&before);
        let count = db.moment_count();
        let tag = db.header().tag;
        let kind = s.byte() % 16;
        let (what, r): (&str, Result<(), Error>) = match kind {
            0 => ("revert_to", db.revert_to(s.num())),
            1 => ("truncate_history", db.truncate_history(s.unum())),
            _ if tag.is_hamt() => (
                "transact_root",
                db.transact_root(|tx| run_ops(tx, tag, &mut s, &keys, 6)),
            ),
            _ => (
                "transact",
                db.transact(|tx| run_ops(tx, Tag::HashMap, &mut s, &keys, 6)),
            ),
        };
        match r {
            Err(e) => {
                let after = db.storage().as_bytes();
                assert!(
                    after == &before[..],
                    "a failed {what} changed the bytes ({} -> {} bytes): {e:?}",
                    before.len(),
                    after.len()
                );
            }
            Ok(()) if known_bad => {}
            Ok(()) => {
                if what != "truncate_history" && what != "transact_root" {
                    if let Ok(n) = count {
                        assert_eq!(
                            db.moment_count().ok(),
                            Some(n + 1),
                            "{what} adds one moment"
                        );
                    }
                }
                let bytes = db.storage().as_bytes();
                match Database::from_slice_with(bytes, opts) {
                    Ok(again) => assert_eq!(
                        again.moment_count().ok(),
                        db.moment_count().ok(),
                        "reopened after {what}"
                    ),
                    Err(e) => panic!("the bytes committed by {what} do not reopen: {e:?}"),
                }
            }
        }
    }
    full_check(&db);
}
