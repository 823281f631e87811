//! Untrusted files stay cheap: every operation on a crafted worst case —
//! structures shared 2^40 times over (a DAG of maps, lists, linked lists
//! and sorted maps 40 levels deep; a linked list concatenated with itself
//! 40 times, in both list families), cycles, and absurd claimed lengths —
//! reads at most a bounded multiple of the file (or of what it yields) and
//! holds at most a bounded multiple of the file in memory.
//!
//! Work is counted as storage reads (`CountingStorage` offers no direct
//! bytes, so every read is seen), memory as the peak of live bytes on the
//! thread (`counting_alloc`). No timing is measured.
//!
//! The JSON dump is the one exception by nature: it writes every shared
//! structure out in full, so its output (and cost) can be exponential in
//! the file. Its test bounds reads and memory by the output's length, and
//! shows that cycles and absurd lengths end in an error at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::peak_allocation;

#[allow(dead_code)]
mod common;
use common::storage::{rrb_options, CountingStorage};

use xitdb::compact::Keep;
use xitdb::format::Slot;
use xitdb::json::{dump_json, dump_value};
use xitdb::storage::MemoryStorage;
use xitdb::{Cursor, Database, Error, Options, ValueRef};

type Counted = Database<CountingStorage<MemoryStorage>>;

/// One crafted file: its bytes and the options to open it with.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    opts: Options,
}

/// Levels of the shared DAG and doublings of the self-concatenated list.
const LEVELS: u32 = 40;

/// A DAG 40 levels deep: level k holds the level below twice, as a hash
/// map, an array list, a linked list or a sorted map in turn (one moment
/// per level). Expanded, it has 2^40 leaves; the file has a few KiB. Two
/// such DAGs, with leaves 1 and 2, share nothing; the newest moment holds
/// the second where the one before held the first, so that a diff of the
/// two meets 2^40 pairs of paths.
fn shared_dag(levels: u32) -> Vec<u8> {
    let mut db = Database::memory();
    for (prefix, leaf) in [("l", 1u64), ("m", 2)] {
        db.transact(|tx| tx.root_map()?.put(format!("{prefix}0"), leaf))
            .unwrap();
        for level in 0..levels {
            db.transact(|tx| add_level(&mut tx.root_map()?, prefix, level))
                .unwrap();
        }
    }
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        let top = format!("m{levels}");
        let second = m.get(&top)?.expect("the second DAG").slot();
        m.remove(&top)?;
        m.entry(format!("l{levels}"))?.write_slot(second)
    })
    .unwrap();
    db.into_bytes()
}

/// Replaces `{prefix}{level}` of the root map with level + 1, which holds
/// it twice.
fn add_level(m: &mut xitdb::MapMut<'_>, prefix: &str, level: u32) -> Result<(), Error> {
    let name = format!("{prefix}{level}");
    let below: Slot = m.get(&name)?.expect("the level below").slot();
    m.remove(&name)?;
    let top = m.entry(format!("{prefix}{}", level + 1))?;
    match level % 4 {
        0 => {
            let mut h = top.hash_map()?;
            h.entry("a")?.write_slot(below)?;
            h.entry("b")?.write_slot(below)?;
        }
        1 => {
            let mut l = top.array_list()?;
            l.append_cursor()?.write_slot(below)?;
            l.append_cursor()?.write_slot(below)?;
        }
        2 => {
            let mut l = top.linked_array_list()?;
            l.append_cursor()?.write_slot(below)?;
            l.append_cursor()?.write_slot(below)?;
        }
        _ => {
            let mut s = top.sorted_map()?;
            s.entry("a")?.write_slot(below)?;
            s.entry("b")?.write_slot(below)?;
        }
    }
    Ok(())
}

/// A linked list of one item concatenated with itself 40 times (2^40
/// items sharing 40 blocks or so), the newest moment.
fn doubled_list(opts: Options) -> Vec<u8> {
    let mut db = Database::memory_with_options(opts);
    db.transact(|tx| tx.root().linked_array_list()?.append(7u64))
        .unwrap();
    common::double_list(&mut db, LEVELS).unwrap();
    db.into_bytes()
}

/// A root map holding itself under "self", and a list holding itself: the
/// slots are taken after an edit made this transaction's copies, which
/// later edits change in place.
fn cycles() -> Vec<u8> {
    let mut db = Database::memory();
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        m.put("a", 1u64)?;
        m.entry("list")?.array_list()?.append(2u64)?;
        Ok(())
    })
    .unwrap();
    db.transact(|tx| -> Result<(), Error> {
        tx.root_map()?.put("b", 2u64)?;
        let root = tx.root().slot()?;
        let mut m = tx.root_map()?;
        m.entry("self")?.write_slot(root)?;
        m.entry("list")?.array_list()?.append(3u64)?;
        let list = m.get("list")?.expect("the list").slot();
        m.entry("list")?
            .array_list()?
            .append_cursor()?
            .write_slot(list)
    })
    .unwrap();
    db.into_bytes()
}

fn put_u64(bytes: &mut [u8], pos: u64, v: u64) {
    bytes[pos as usize..pos as usize + 8].copy_from_slice(&v.to_be_bytes());
}

/// An array list claiming 2^60 items, an RRB linked list claiming 2^64 - 1, and
/// a byte string claiming 2^64 - 1 bytes, one moment each.
fn huge_claims() -> Vec<u8> {
    let mut db = common::storage::rrb_memory();
    db.transact(|tx| tx.root().array_list()?.append(1u64))
        .unwrap();
    db.transact(|tx| {
        tx.root().write(())?;
        tx.root().linked_array_list()?.append(1u64)
    })
    .unwrap();
    db.transact(|tx| tx.root().write(&[b'x'; 64][..])).unwrap();
    let headers: Vec<u64> = (0..3).map(|i| db.moment(i).unwrap().slot().value).collect();
    let mut bytes = db.into_bytes();
    put_u64(&mut bytes, headers[0], 1 << 60);
    put_u64(&mut bytes, headers[1], u64::MAX);
    put_u64(&mut bytes, headers[2], u64::MAX);
    bytes
}

/// The same in the B-tree family: a B-tree list and a sorted map, each
/// claiming 2^64 - 1 entries, and a sorted set claiming 2^62.
fn huge_btree_claims() -> Vec<u8> {
    let mut db = Database::memory();
    db.transact(|tx| tx.root().linked_array_list()?.append(1u64))
        .unwrap();
    db.transact(|tx| {
        tx.root().write(())?;
        tx.root().sorted_map()?.put("k", 1u64)
    })
    .unwrap();
    db.transact(|tx| {
        tx.root().write(())?;
        tx.root().sorted_set()?.insert("k").map(|_| ())
    })
    .unwrap();
    let headers: Vec<u64> = (0..3).map(|i| db.moment(i).unwrap().slot().value).collect();
    let mut bytes = db.into_bytes();
    put_u64(&mut bytes, headers[0], u64::MAX);
    put_u64(&mut bytes, headers[1], u64::MAX);
    put_u64(&mut bytes, headers[2], 1 << 62);
    bytes
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "shared DAG, 40 levels",
            bytes: shared_dag(LEVELS),
            opts: Options::default(),
        },
        Case {
            name: "B-tree list doubled 40 times",
            bytes: doubled_list(Options::default()),
            opts: Options::default(),
        },
        Case {
            name: "RRB list doubled 40 times",
            bytes: doubled_list(rrb_options()),
            opts: rrb_options(),
        },
        Case {
            name: "cycles",
            bytes: cycles(),
            opts: Options::default(),
        },
        Case {
            name: "huge claimed lengths",
            bytes: huge_claims(),
            opts: rrb_options(),
        },
        Case {
            name: "huge claimed B-tree sizes",
            bytes: huge_btree_claims(),
            opts: Options::default(),
        },
    ]
}

fn open(case: &Case) -> Counted {
    let store = CountingStorage::new(MemoryStorage::from_vec(case.bytes.clone()));
    Database::open_storage(store, case.opts).unwrap()
}

/// Storage reads so far, then zero again.
fn reads(db: &Counted) -> u64 {
    let n = db.storage().reads.get();
    db.storage().reset();
    n
}

/// Reads allowed for work linear in the file: a few per 9-byte slot.
fn linear(case: &Case) -> u64 {
    1024 + 4 * case.bytes.len() as u64
}

/// Memory allowed: a constant and a small multiple of the file.
fn memory(case: &Case) -> usize {
    (1 << 20) + 16 * case.bytes.len()
}

/// Runs `op` on every case; checks its reads against `allowed` and its
/// peak memory against [`memory`].
fn each_case(what: &str, allowed: impl Fn(&Case, u64) -> u64, op: impl Fn(&Counted) -> u64) {
    for case in cases() {
        let db = open(&case);
        reads(&db);
        let (units, peak) = peak_allocation(|| op(&db));
        let (n, limit) = (reads(&db), allowed(&case, units));
        assert!(
            n <= limit,
            "{what} on {}: {n} reads, allowed {limit} ({} bytes)",
            case.name,
            case.bytes.len()
        );
        assert!(
            peak <= memory(&case),
            "{what} on {}: {peak} bytes of memory ({} bytes)",
            case.name,
            case.bytes.len()
        );
    }
}

/// The newest moment, or the root of a database without history.
fn newest(db: &Counted) -> Option<Cursor<'_>> {
    db.moment(-1).ok()
}

/// The first child of a structure (first entry's value, first item).
fn first_child<'r>(c: &Cursor<'r>) -> Option<Cursor<'r>> {
    match c.value().ok()? {
        ValueRef::Map(m) => m.iter().next()?.ok()?.value().ok(),
        ValueRef::List(l) => l.get(0).ok()?,
        ValueRef::LinkedList(l) => l.get(0).ok()?,
        ValueRef::SortedMap(m) => m.first().ok()??.value().ok(),
        _ => None,
    }
}

/// Up to `n` items or entries from the front and `n` from the back.
fn take_both_ends(c: &Cursor<'_>, n: usize) -> u64 {
    let taken = match c.value() {
        Ok(ValueRef::Map(m)) => m.iter().take(n).count(),
        Ok(ValueRef::Set(s)) => s.iter().take(n).count(),
        Ok(ValueRef::List(l)) => l.iter().take(n).count() + l.iter().rev().take(n).count(),
        Ok(ValueRef::LinkedList(l)) => l.iter().take(n).count() + l.iter().rev().take(n).count(),
        Ok(ValueRef::SortedMap(m)) => m.iter().map_or(0, |i| i.take(n).count()),
        _ => 0,
    };
    taken as u64
}

/// Opening reads the header (and, writable, checks the history's end).
#[test]
fn open_reads_a_constant() {
    for case in cases() {
        let (db, peak) = peak_allocation(|| open(&case));
        let n = reads(&db);
        assert!(n <= 64, "open of {}: {n} reads", case.name);
        assert!(peak <= memory(&case), "open of {}: {peak} bytes", case.name);
    }
}

/// Following the first child down 64 levels reads a few blocks per level.
#[test]
fn reads_cost_the_path() {
    each_case(
        "a read down the first children",
        |_, levels| 64 + 64 * levels,
        |db| {
            let mut levels = 0;
            let mut at = newest(db);
            while let Some(c) = at {
                levels += 1;
                let _ = c.value();
                at = if levels > 64 { None } else { first_child(&c) };
            }
            levels
        },
    );
}

/// Taking n items from either end of every structure on the first path
/// reads a bounded number of entries per item taken and per level.
#[test]
fn iteration_costs_what_it_yields() {
    each_case(
        "iteration",
        // reverse iteration of an RRB list locates each item from the
        // root: at most 16 levels of 16 entries, read one at a time
        |_, taken| 1024 + 320 * taken,
        |db| {
            let (mut taken, mut levels) = (0, 0);
            let mut at = newest(db);
            while let Some(c) = at {
                levels += 1;
                taken += take_both_ends(&c, 1000) + 64;
                at = if levels > 64 { None } else { first_child(&c) };
            }
            taken
        },
    );
}

/// A diff of the last two moments (in the DAG, two DAGs that share
/// nothing, whose 2^40 paths all differ) yields changes lazily: 1,000 of
/// them read a bounded amount each, besides work linear in the file.
#[test]
fn diff_costs_what_it_yields() {
    each_case(
        "diff",
        |case, changes| linear(case) + 256 * changes,
        |db| match db.diff(-2, -1) {
            Ok(d) => d.take(1000).take_while(|c| c.is_ok()).count() as u64 + 1,
            Err(_) => 1,
        },
    );
}

#[test]
fn verify_is_linear_in_the_file() {
    each_case(
        "verify",
        |case, _| linear(case),
        |db| {
            let _ = db.verify();
            0
        },
    );
}

/// Compaction copies each distinct block once: linear reads, and a copy
/// no bigger than the file (a little more for rounding) when it succeeds.
#[test]
fn compact_is_linear_in_the_file_and_keeps_sharing() {
    for case in cases() {
        let db = open(&case);
        reads(&db);
        let mut dst = Database::memory_with_options(case.opts);
        let (r, peak) = peak_allocation(|| db.compact_into(&mut dst, Keep::All, &mut |_| {}));
        let n = reads(&db);
        assert!(n <= linear(&case), "compact on {}: {n} reads", case.name);
        assert!(
            peak <= memory(&case),
            "compact on {}: {peak} bytes",
            case.name
        );
        if r.is_ok() {
            let (a, b) = (dst.len(), case.bytes.len() as u64);
            assert!(
                a <= b + 4096,
                "compact on {}: {a} bytes from {b}",
                case.name
            );
        }
    }
}

/// The dump writes shared structures out in full (exponential output from
/// a DAG: not bounded, by nature); what it reads and holds is bounded by
/// what it writes, and cycles and absurd lengths fail at once.
#[test]
fn dump_costs_what_it_writes() {
    // a DAG of 14 levels expands to 16,384 leaves
    let case = Case {
        name: "shared DAG, 14 levels",
        bytes: shared_dag(14),
        opts: Options::default(),
    };
    let db = open(&case);
    reads(&db);
    let (json, peak) = peak_allocation(|| dump_value(&newest(&db).unwrap()).unwrap());
    let n = reads(&db);
    assert!(json.len() > 16_384 * 4, "{}", json.len());
    assert!(n <= json.len() as u64, "{n} reads for {} bytes", json.len());
    assert!(peak <= 8 * json.len(), "{peak} bytes for {}", json.len());
    for case in cases()
        .into_iter()
        .filter(|c| c.name != "shared DAG, 40 levels")
    {
        let db = open(&case);
        if case.name.contains("doubled") {
            // 2^40 items: the dump of the older moment only
            let _ = dump_value(&db.moment(0).unwrap());
            continue;
        }
        reads(&db);
        let (r, peak) = peak_allocation(|| dump_json(&db));
        assert!(r.is_err(), "{}: dumped", case.name);
        let n = reads(&db);
        assert!(n <= linear(&case), "dump of {}: {n} reads", case.name);
        assert!(peak <= memory(&case), "dump of {}: {peak} bytes", case.name);
    }
}

/// Keys of a sorted map that differ only in their last byte, `len` bytes
/// long, path-copied by `moments` later puts: verify compares the keys of
/// each copied leaf again, so unless it remembers comparisons it reads
/// `moments × len` bytes per key from a file that grew by a few hundred
/// bytes per moment.
fn long_keys_copied(len: usize, moments: u64) -> Vec<u8> {
    let key = |i: u8| {
        let mut k = vec![b'p'; len - 1];
        k.push(i);
        k
    };
    let mut db = Database::memory();
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        let mut s = m.entry("s")?.sorted_map()?;
        for i in 0..16u8 {
            s.put(key(i), 0u64)?;
        }
        Ok(())
    })
    .unwrap();
    for m in 0..moments {
        db.transact(|tx| {
            let mut root = tx.root_map()?;
            let mut s = root.entry("s")?.sorted_map()?;
            s.put(key((m % 16) as u8), m)
        })
        .unwrap();
    }
    db.into_bytes()
}

#[test]
fn verify_compares_long_sorted_keys_once() {
    let case = Case {
        name: "long sorted keys path-copied",
        bytes: long_keys_copied(4096, 200),
        opts: Options::default(),
    };
    let db = open(&case);
    db.storage().reset();
    let (report, peak) = peak_allocation(|| db.verify().unwrap());
    assert!(report.problem.is_none(), "{:?}", report.problem);
    let read = db.storage().bytes.get();
    let len = case.bytes.len() as u64;
    assert!(
        read <= 8 * len,
        "verify read {read} bytes of a {len}-byte file"
    );
    assert!(peak <= memory(&case), "{peak} bytes");
}
