//! Reads allocate nothing: a lookup walks the bytes in place (the memory
//! buffer, a borrowed slice or the file's memory map) and returns cursors
//! that borrow them. A counting global allocator checks it for every kind of
//! point read, on every backend, over many random keys (one allocation in a
//! thousand reads would show).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocation_count;

#[allow(dead_code)]
mod common;
use common::rng::Rng;

use xitdb::format::HashKind;
use xitdb::storage::Storage;
use xitdb::{Database, Durability, Error, Options};

const N: u64 = 5_000;
const READS: u64 = 2_000;

fn hash(i: u64) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(i.to_be_bytes()).into()
}

/// A history of 20 moments whose root map holds `N` entries by hash, a
/// keyed sub-map, an ArrayList, a LinkedArrayList and a long byte string.
fn fill<S: Storage>(db: &mut Database<S>) {
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        for i in 0..N {
            m.put_by_hash(&hash(i), i)?;
        }
        let mut keyed = m.entry("keyed")?.hash_map()?;
        for i in 0..N {
            keyed.put(i.to_be_bytes(), i)?;
        }
        let mut list = m.entry("list")?.array_list()?;
        for i in 0..N {
            list.append(i)?;
        }
        let mut linked = m.entry("linked")?.linked_array_list()?;
        for i in 0..N {
            linked.append(i)?;
        }
        m.put("blob", &vec![7u8; 4096])?;
        Ok(())
    })
    .unwrap();
    for t in 0..20u64 {
        db.transact(|tx| tx.root_map()?.put_by_hash(&hash(t), N + t))
            .unwrap();
    }
}

/// Every kind of point read, `READS` times each, counting allocations.
fn assert_reads_allocate_nothing<S: Storage>(db: &Database<S>, what: &str) {
    // the counter sees what it should
    let (v, n) = allocation_count(|| std::hint::black_box(vec![1u8; 3]));
    assert_eq!((v.len(), n), (3, 1));
    let moment = db.moment(-1).unwrap();
    let map = moment.as_map().unwrap();
    let keyed = map.get(b"keyed").unwrap().unwrap().as_map().unwrap();
    let list = map.get(b"list").unwrap().unwrap().as_list().unwrap();
    let linked = map
        .get(b"linked")
        .unwrap()
        .unwrap()
        .as_linked_list()
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let hashes: Vec<[u8; 20]> = (0..READS).map(|_| hash(rng.below(N))).collect();

    let (sum, n) = allocation_count(|| {
        let mut sum = 0u64;
        for h in &hashes {
            sum += map.get_by_hash(h).unwrap().unwrap().as_uint().unwrap();
        }
        sum
    });
    assert!(sum > 0);
    assert_eq!(n, 0, "{what}: map get by hash allocated");

    let (sum, n) = allocation_count(|| {
        let mut sum = 0u64;
        for k in 0..READS {
            let key = (k * 7 % N).to_be_bytes();
            sum += keyed.get(key).unwrap().unwrap().as_uint().unwrap();
        }
        sum
    });
    assert!(sum > 0);
    assert_eq!(n, 0, "{what}: map get by key (hashed on the way) allocated");

    let (sum, n) = allocation_count(|| {
        let mut sum = 0u64;
        for k in 0..READS {
            let i = (k * 13 % N) as i64;
            sum += list.get(i).unwrap().unwrap().as_uint().unwrap();
            sum += linked.get(i).unwrap().unwrap().as_uint().unwrap();
        }
        sum
    });
    assert!(sum > 0);
    assert_eq!(n, 0, "{what}: list gets allocated");

    let (len, n) = allocation_count(|| {
        let blob = map.get(b"blob").unwrap().unwrap();
        blob.as_bytes().unwrap().len()
    });
    assert_eq!(len, 4096);
    assert_eq!(n, 0, "{what}: a byte string was copied");

    let (sum, n) = allocation_count(|| {
        let mut sum = 0u64;
        for t in 0..20i64 {
            let past = db.moment(t + 1).unwrap().as_map().unwrap();
            sum += past
                .get_by_hash(&hash(t as u64))
                .unwrap()
                .unwrap()
                .as_uint()
                .unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..20).map(|t| N + t).sum::<u64>());
    assert_eq!(n, 0, "{what}: time-travel reads allocated");
}

#[test]
fn memory_reads_allocate_nothing() {
    let mut db = Database::memory_with(HashKind::Sha1);
    fill(&mut db);
    assert_reads_allocate_nothing(&db, "memory");
    let bytes = db.into_bytes();
    let slice = Database::from_slice(&bytes).unwrap();
    assert_reads_allocate_nothing(&slice, "borrowed slice");
}

#[test]
fn file_reads_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reads.xdb");
    let opts = Options {
        hash: HashKind::Sha1,
        durability: Durability::None,
        ..Options::default()
    };
    let mut db = Database::create_with(&path, opts).unwrap();
    fill(&mut db);
    assert_reads_allocate_nothing(&db, "file (writer)");
    drop(db);
    let ro = Database::open_read_only(&path).unwrap();
    assert_reads_allocate_nothing(&ro, "file (read-only)");
}
