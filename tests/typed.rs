//! Typed records (the `serde` feature): round trips, error paths, schema
//! evolution, minimal updates, borrowed reads and hostile shapes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use xitdb::diff::ChangeKind;
use xitdb::format::Tag;
use xitdb::typed::Sorted;
use xitdb::{Database, Error, PathStepBuf};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Status {
    Open,
    Closed { reason: String, at: u64 },
    Blocked(u32),
    Moved(String, i64),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Issue {
    title: String,
    status: Status,
    assignee: Option<String>,
    labels: Vec<String>,
    votes: HashMap<String, i32>,
    #[serde(with = "xitdb::typed::sorted_map")]
    history: BTreeMap<String, u64>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    ratio: f32,
    done: bool,
    initial: char,
    pair: (u8, i16),
    big: i128,
    unit: (),
}

fn issue(n: u64) -> Issue {
    Issue {
        title: format!("issue {n}"),
        status: Status::Closed {
            reason: "fixed".into(),
            at: n,
        },
        assignee: n.is_multiple_of(2).then(|| "ada".into()),
        labels: vec!["bug".into(), "ui".into()],
        votes: HashMap::from([("ada".into(), 1), ("alan".into(), -1)]),
        history: BTreeMap::from([("opened".into(), 1), ("closed".into(), 2)]),
        blob: vec![0, 1, 2, 255],
        ratio: 0.25,
        done: true,
        initial: 'é',
        pair: (7, -7),
        big: -(1 << 40),
        unit: (),
    }
}

#[test]
fn a_record_round_trips_as_native_structures() {
    let mut db = Database::memory();
    let one = issue(1);
    db.transact(|tx| tx.root_map()?.put_typed("issue", &one))
        .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(root.get_typed::<Issue>("issue").unwrap(), Some(one.clone()));
    assert_eq!(root.get_typed::<Issue>("nobody").unwrap(), None);
    // the kinds the module docs promise
    let rec = root.get("issue").unwrap().unwrap().as_map().unwrap();
    let tag = |k: &str| rec.get(k).unwrap().unwrap().tag();
    assert_eq!(tag("history"), Tag::SortedMap);
    assert_eq!(tag("votes"), Tag::HashMap);
    assert_eq!(tag("labels"), Tag::ArrayList);
    assert_eq!(tag("blob"), Tag::Bytes);
    assert_eq!(tag("ratio"), Tag::Float);
    assert_eq!(tag("done"), Tag::Uint);
    assert_eq!(tag("big"), Tag::Int);
    assert!(rec.get("unit").unwrap().unwrap().is_null());
    assert!(rec.get("assignee").unwrap().unwrap().is_null());
    let status = rec.get("status").unwrap().unwrap().as_map().unwrap();
    let closed = status.get("Closed").unwrap().unwrap().as_map().unwrap();
    assert_eq!(
        closed.get("reason").unwrap().unwrap().as_str().unwrap(),
        "fixed"
    );
    // every variant shape
    for status in [
        Status::Open,
        Status::Blocked(3),
        Status::Moved("x".into(), -2),
    ] {
        db.transact(|tx| tx.root_map()?.put_typed("s", &status))
            .unwrap();
        let got = db.moment(-1).unwrap().as_map().unwrap();
        assert_eq!(got.get_typed::<Status>("s").unwrap(), Some(status));
    }
    let open = db.moment(-3).unwrap().as_map().unwrap();
    assert_eq!(open.get("s").unwrap().unwrap().as_str().unwrap(), "Open");
}

#[test]
fn a_mismatch_names_its_path() {
    #[derive(Serialize)]
    struct Stored {
        age: &'static str,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct User {
        age: u8,
    }
    let mut db = Database::memory();
    db.transact(|tx| {
        tx.root()
            .at_path(&["users".into()])?
            .hash_map()?
            .put_typed("ada", &Stored { age: "old" })
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let err = moment
        .read_typed::<HashMap<String, HashMap<String, User>>>()
        .unwrap_err();
    assert_eq!(err.to_string(), "users.ada.age: expected uint, found bytes");
    assert!(matches!(
        err,
        Error::TypeMismatch { ref path, expected: "uint", found: "bytes" } if path == "users.ada.age"
    ));
    // from a view, the path starts at the key read
    let users = moment
        .as_map()
        .unwrap()
        .get("users")
        .unwrap()
        .unwrap()
        .as_map()
        .unwrap();
    let err = users.get_typed::<User>("ada").unwrap_err();
    assert_eq!(err.to_string(), "ada.age: expected uint, found bytes");
    // list items show their index; serde's own messages keep the path
    db.transact(|tx| {
        tx.root_map()?
            .put_typed("list", &vec![(1u64, "a"), (2, "b")])
    })
    .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let err = root.get_typed::<Vec<(u64, u64)>>("list").unwrap_err();
    assert_eq!(err.to_string(), "list[0][1]: expected uint, found bytes");
    let err = root.get_typed::<Vec<(u8,)>>("list").unwrap_err();
    assert!(matches!(err, Error::Typed { .. }), "{err}");
}

#[test]
fn rewriting_an_equal_value_writes_nothing_but_the_moment() {
    let mut db = Database::memory();
    db.transact(|tx| tx.root_map()?.put_typed("issue", &issue(1)))
        .unwrap();
    // a moment that only opens the root map: the floor of any change
    let before = db.len();
    db.transact(|tx| tx.root_map().map(drop)).unwrap();
    let moment_cost = db.len() - before;
    let before = db.len();
    db.transact(|tx| tx.root_map()?.put_typed("issue", &issue(1)))
        .unwrap();
    assert_eq!(db.len() - before, moment_cost);
    assert_eq!(db.diff(-2, -1).unwrap().count(), 0);
}

/// The acceptance figure: one field of a 1,000-field record changes.
#[test]
fn a_one_field_update_of_a_large_record_writes_a_few_hundred_bytes() {
    let mut record: BTreeMap<String, u64> = (0..1000).map(|i| (format!("field_{i}"), i)).collect();
    let mut db = Database::memory();
    db.transact(|tx| tx.root_map()?.put_typed("record", &record))
        .unwrap();
    let record_bytes = db.len();
    let before = db.len();
    db.transact(|tx| tx.root_map().map(drop)).unwrap();
    let moment_cost = db.len() - before;
    record.insert("field_500".into(), 5000);
    let before = db.len();
    db.transact(|tx| tx.root_map()?.put_typed("record", &record))
        .unwrap();
    let written = db.len() - before;
    println!(
        "1,000-field record: {record_bytes} bytes; one-field update wrote {written} bytes \
         ({moment_cost} of them the new moment itself)"
    );
    assert!(written - moment_cost < 700, "wrote {written} bytes");
    let changes: Vec<_> = db.diff(1, 2).unwrap().map(Result::unwrap).collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].path,
        [
            PathStepBuf::Key(b"record".to_vec()),
            PathStepBuf::Key(b"field_500".to_vec())
        ]
    );
    assert_eq!(changes[0].kind, ChangeKind::Changed);
    assert_eq!(changes[0].new.unwrap().as_uint().unwrap(), 5000);
    // the same through the write cursor, and back as a struct-like map
    let back: BTreeMap<String, u64> = db
        .moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get_typed("record")
        .unwrap()
        .unwrap();
    assert_eq!(back, record);
}

#[test]
fn a_shorter_value_removes_what_it_lacks() {
    let mut db = Database::memory();
    db.transact(|tx| {
        tx.root()
            .write_typed(&HashMap::from([("a", vec![1u64, 2, 3]), ("b", vec![4])]))
    })
    .unwrap();
    db.transact(|tx| tx.root().write_typed(&HashMap::from([("a", vec![1u64])])))
        .unwrap();
    let now: HashMap<String, Vec<u64>> = db.moment(-1).unwrap().read_typed().unwrap();
    assert_eq!(now, HashMap::from([("a".into(), vec![1])]));
    let changes: Vec<_> = db.diff(0, 1).unwrap().map(Result::unwrap).collect();
    assert!(changes
        .iter()
        .any(|c| c.kind == ChangeKind::Removed && c.path == [PathStepBuf::Key(b"b".to_vec())]));
    // a sorted map shrinks too, and a kind change replaces the value
    db.transact(|tx| {
        tx.root_map()?
            .put_typed("s", &Sorted(BTreeMap::from([("x", 1u64), ("y", 2)])))
    })
    .unwrap();
    db.transact(|tx| {
        tx.root_map()?
            .put_typed("s", &Sorted(BTreeMap::from([("y", 3u64)])))
    })
    .unwrap();
    let s = db
        .moment(-1)
        .unwrap()
        .as_map()
        .unwrap()
        .get("s")
        .unwrap()
        .unwrap();
    assert_eq!(s.as_sorted_map().unwrap().len().unwrap(), 1);
    db.transact(|tx| tx.root_map()?.put_typed("s", "text"))
        .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(root.get_typed::<String>("s").unwrap().unwrap(), "text");
}

#[test]
fn records_evolve_without_migrations() {
    #[derive(Serialize)]
    struct V1 {
        name: &'static str,
        legacy: u64,
        colour: &'static str,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    struct V2 {
        name: String,
        #[serde(default)]
        stars: u32,
        nickname: Option<String>,
        #[serde(alias = "colour")]
        color: String,
    }
    let mut db = Database::memory();
    db.transact(|tx| {
        tx.root_map()?.put_typed(
            "r",
            &V1 {
                name: "x",
                legacy: 9,
                colour: "red",
            },
        )
    })
    .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(
        root.get_typed::<V2>("r").unwrap().unwrap(),
        V2 {
            name: "x".into(),
            stars: 0,
            nickname: None,
            color: "red".into(),
        }
    );
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        name: String,
    }
    let err = root.get_typed::<Strict>("r").unwrap_err();
    assert!(err.to_string().starts_with("r"), "{err}");
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Missing {
        absent: u64,
    }
    let err = root.get_typed::<Missing>("r").unwrap_err();
    assert_eq!(err.to_string(), "r: missing field `absent`");
}

#[test]
fn borrowed_reads_point_into_the_file() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct View<'a> {
        short: &'a str,
        long: &'a str,
        #[serde(borrow, with = "serde_bytes")]
        raw: &'a [u8],
    }
    let mut db = Database::memory();
    let v = View {
        short: "ab",
        long: "a longer text that lives out of line",
        raw: &[1, 2, 0, 3],
    };
    db.transact(|tx| tx.root().write_typed(&v)).unwrap();
    let bytes = db.into_bytes();
    let db = Database::from_slice(&bytes).unwrap();
    let moment = db.moment(-1).unwrap();
    let got: View<'_> = moment.read_typed().unwrap();
    assert_eq!(got, v);
    let range = bytes.as_ptr_range();
    for s in [got.short.as_bytes(), got.long.as_bytes(), got.raw] {
        assert!(range.contains(&s.as_ptr()), "borrowed from the file bytes");
    }
}

#[test]
fn snapshots_read_typed_values_in_other_threads() {
    let mut db = Database::memory();
    db.transact(|tx| tx.root_map()?.put_typed("issue", &issue(4)))
        .unwrap();
    let snap = db.snapshot(-1).unwrap();
    let reader = std::thread::spawn(move || snap.get_typed::<Issue>("issue"));
    db.transact(|tx| tx.root_map()?.put_typed("issue", &issue(5)))
        .unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), Some(issue(4)));
}
