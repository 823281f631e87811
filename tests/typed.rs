//! Typed records (the `serde` feature): round trips, error paths, schema
//! evolution, minimal updates, borrowed reads and hostile shapes.

#![cfg(feature = "serde")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use xitdb::diff::ChangeKind;
use xitdb::format::Tag;
use xitdb::storage::MemoryStorage;
use xitdb::typed::Sorted;
use xitdb::{Database, Error, Options, PathStepBuf};

#[allow(dead_code)]
mod common;
use common::golden_files;
use common::storage::CountingStorage;

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

// ------------------------------------------------------------ proptest

/// A self-describing value: what a typed read without a schema can tell
/// apart (bytes that are not UTF-8 stay bytes, valid UTF-8 is text).
#[derive(Debug, Clone, PartialEq)]
enum Dyn {
    Null,
    U(u64),
    I(i64),
    F(f64),
    S(String),
    B(Vec<u8>),
    L(Vec<Dyn>),
    M(BTreeMap<String, Dyn>),
}

impl Serialize for Dyn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Dyn::Null => s.serialize_unit(),
            Dyn::U(v) => s.serialize_u64(*v),
            Dyn::I(v) => s.serialize_i64(*v),
            Dyn::F(v) => s.serialize_f64(*v),
            Dyn::S(v) => s.serialize_str(v),
            Dyn::B(v) => s.serialize_bytes(v),
            Dyn::L(v) => v.serialize(s),
            Dyn::M(v) => v.serialize(s),
        }
    }
}

struct DynVisitor;

impl<'de> Visitor<'de> for DynVisitor {
    type Value = Dyn;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Dyn, E> {
        Ok(Dyn::Null)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dyn, E> {
        Ok(Dyn::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dyn, E> {
        Ok(Dyn::I(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dyn, E> {
        Ok(Dyn::F(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dyn, E> {
        Ok(Dyn::S(v.into()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Dyn, E> {
        Ok(Dyn::B(v.into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dyn, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Dyn::L(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dyn, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some((k, v)) = map.next_entry()? {
            entries.insert(k, v);
        }
        Ok(Dyn::M(entries))
    }
}

impl<'de> Deserialize<'de> for Dyn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dyn, D::Error> {
        d.deserialize_any(DynVisitor)
    }
}

fn dyn_value() -> impl Strategy<Value = Dyn> {
    let leaf = prop_oneof![
        Just(Dyn::Null),
        any::<u64>().prop_map(Dyn::U),
        any::<i64>().prop_map(Dyn::I),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Dyn::F),
        ".{0,20}".prop_map(Dyn::S),
        // 0xff never occurs in UTF-8, so these stay bytes
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|mut b| {
            b.push(0xff);
            Dyn::B(b)
        }),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Dyn::L),
            prop::collection::btree_map(".{0,10}", inner, 0..8).prop_map(Dyn::M),
        ]
    })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Open),
        (".{0,12}", any::<u64>()).prop_map(|(reason, at)| Status::Closed { reason, at }),
        any::<u32>().prop_map(Status::Blocked),
        (".{0,12}", any::<i64>()).prop_map(|(a, b)| Status::Moved(a, b)),
    ]
}

fn arbitrary_issue() -> impl Strategy<Value = Issue> {
    let text = || ".{0,16}";
    (
        (text(), status(), prop::option::of(text())),
        prop::collection::vec(text(), 0..5),
        prop::collection::hash_map(text(), any::<i32>(), 0..5),
        prop::collection::btree_map(text(), any::<u64>(), 0..5),
        prop::collection::vec(any::<u8>(), 0..40),
        (-1e6f32..1e6, any::<bool>(), any::<char>()),
        (any::<u8>(), any::<i16>(), any::<i64>()),
    )
        .prop_map(
            |(
                (title, status, assignee),
                labels,
                votes,
                history,
                blob,
                (ratio, done, initial),
                (a, b, big),
            )| Issue {
                title,
                status,
                assignee,
                labels,
                votes,
                history,
                blob,
                ratio,
                done,
                initial,
                pair: (a, b),
                big: big.into(),
                unit: (),
            },
        )
}

/// Writes `first`, then `second` over it, and reads both moments back.
fn write_twice<T>(first: &T, second: &T) -> (T, T)
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let mut db = Database::memory();
    db.transact(|tx| tx.root_map()?.put_typed("v", first))
        .unwrap();
    db.transact(|tx| tx.root_map()?.put_typed("v", second))
        .unwrap();
    let read = |m: i64| {
        let root = db.moment(m).unwrap().as_map().unwrap();
        root.get_typed::<T>("v").unwrap().unwrap()
    };
    assert!(db.verify().unwrap().is_ok());
    (read(0), read(1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_values_round_trip(a in dyn_value(), b in dyn_value()) {
        let (got_a, got_b) = write_twice(&a, &b);
        prop_assert_eq!(got_a, a);
        prop_assert_eq!(got_b, b);
    }

    #[test]
    fn derived_records_round_trip(a in arbitrary_issue(), b in arbitrary_issue()) {
        let (got_a, got_b) = write_twice(&a, &b);
        prop_assert_eq!(got_a, a);
        prop_assert_eq!(got_b, b);
    }

    /// Any stored value read as any of a set of unrelated types: an error
    /// or a value, never a panic.
    #[test]
    fn reading_any_value_as_any_type_never_panics(v in dyn_value()) {
        let mut db = Database::memory();
        db.transact(|tx| tx.root_map()?.put_typed("v", &v)).unwrap();
        let c = db.moment(-1).unwrap().as_map().unwrap().require("v").unwrap();
        try_every_type(c);
    }
}

/// Reads `c` as many types, each of which may fail but must not panic.
fn try_every_type(c: xitdb::Cursor<'_>) {
    macro_rules! try_as {
        ($($t:ty),*) => {$(let _ = c.read_typed::<$t>();)*};
    }
    try_as!(u8, i8, u64, i64, f32, f64, bool, char, String, &str, (), Option<u64>,
        Vec<u8>, serde_bytes::ByteBuf, (u8, u8), [u8; 2], Issue, Status, Dyn,
        HashMap<String, u64>, BTreeMap<u64, Dyn>, Vec<Option<String>>, serde_json::Value);
}

// ------------------------------------------------------------ hostile shapes

#[test]
fn wrong_stored_kinds_are_errors() {
    let mut db = Database::memory();
    db.transact(|tx| -> Result<(), Error> {
        let mut m = tx.root_map()?;
        m.put("uint", 300u64)?;
        m.put("neg", -1i64)?;
        m.put("text", "hello")?;
        m.put("raw", &[0xffu8, 0][..])?;
        m.put("none", ())?;
        m.entry("set")?.hash_set()?.insert("a")?;
        m.entry("linked")?.linked_array_list()?.append(1u64)?;
        m.entry("two")?.hash_map()?.put("a", 1u64)?;
        m.entry("two")?.hash_map()?.put("b", 1u64)?;
        Ok(())
    })
    .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let err = |key: &str, e: Error| format!("{key}: {e}");
    let msg = err("uint", root.get_typed::<u8>("uint").unwrap_err());
    assert!(msg.contains("300"), "{msg}");
    assert_eq!(
        root.get_typed::<u64>("neg").unwrap_err().to_string(),
        "neg: invalid value: integer `-1`, expected u64"
    );
    assert_eq!(
        root.get_typed::<String>("raw").unwrap_err().to_string(),
        "raw: expected UTF-8 text, found bytes that are not UTF-8"
    );
    assert_eq!(
        root.get_typed::<u64>("text").unwrap_err().to_string(),
        "text: expected uint, found bytes"
    );
    assert_eq!(
        root.get_typed::<Vec<u64>>("text").unwrap_err().to_string(),
        "text: expected list, found bytes"
    );
    assert_eq!(
        root.get_typed::<HashMap<String, u64>>("uint")
            .unwrap_err()
            .to_string(),
        "uint: expected map, found uint"
    );
    assert_eq!(
        root.get_typed::<Status>("two").unwrap_err().to_string(),
        "two: expected an enum (bytes or a one-entry map), found map"
    );
    assert!(root.get_typed::<Status>("text").is_err(), "unknown variant");
    assert!(root.get_typed::<bool>("uint").is_err());
    assert_eq!(
        root.get_typed::<u64>("none").unwrap_err().to_string(),
        "none: expected uint, found none"
    );
    // sets and linked lists read as sequences
    assert_eq!(
        root.get_typed::<Vec<String>>("set").unwrap().unwrap(),
        ["a"]
    );
    assert_eq!(root.get_typed::<Vec<u64>>("linked").unwrap().unwrap(), [1]);
    // a tuple shorter than the list is a mismatch, not a truncation
    db.transact(|tx| tx.root_map()?.put_typed("l", &[1u64, 2, 3]))
        .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    assert!(root.get_typed::<(u64, u64)>("l").is_err());
    assert!(root.get_typed::<[u64; 4]>("l").is_err());
    assert_eq!(root.get_typed::<[u64; 3]>("l").unwrap().unwrap(), [1, 2, 3]);
    // unsupported values are write errors that change nothing
    let before = db.len();
    let r = db.transact(|tx| {
        tx.root_map()?
            .put_typed("k", &HashMap::from([(vec![1u8], 1u64)]))
    });
    assert!(matches!(r, Err(Error::Typed { .. })), "{r:?}");
    let r = db.transact(|tx| tx.root_map()?.put_typed("k", &u128::MAX));
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("k: {} does not fit a stored uint (64 bits)", u128::MAX)
    );
    assert_eq!(db.len(), before);
}

#[test]
fn deep_nesting_is_an_error_both_ways() {
    // a value nested past the limit cannot be written ...
    let mut deep = serde_json::json!(1);
    for _ in 0..200 {
        deep = serde_json::json!([deep]);
    }
    let mut db = Database::memory();
    let err = db.transact(|tx| tx.root().write_typed(&deep)).unwrap_err();
    assert!(err.to_string().contains("deeper than 128"), "{err}");
    // ... and a stored one cannot be read (here built through the plain API)
    db.transact(|tx| -> Result<(), Error> {
        let mut cur = tx.root();
        cur.write(())?;
        let mut list = cur.array_list()?;
        for _ in 0..200 {
            list = list.into_append_cursor()?.array_list()?;
        }
        list.append(1u64)
    })
    .unwrap();
    let moment = db.moment(-1).unwrap();
    let err = moment.read_typed::<serde_json::Value>().unwrap_err();
    assert!(err.to_string().contains("deeper than 128"), "{err}");
    assert!(err.to_string().starts_with("[0][0][0]"), "{err}");
    assert!(moment.read_typed::<Dyn>().is_err());
    // within the limit both ways (two levels per round: 120 in all)
    let mut ok = serde_json::json!(1);
    for _ in 0..60 {
        ok = serde_json::json!({ "k": [ok] });
    }
    db.transact(|tx| tx.root().write_typed(&ok)).unwrap();
    assert_eq!(
        db.moment(-1)
            .unwrap()
            .read_typed::<serde_json::Value>()
            .unwrap(),
        ok
    );
}

#[test]
fn borrowing_from_a_storage_that_copies_is_a_clear_error() {
    let mut db = Database::open_storage(
        CountingStorage::new(MemoryStorage::new()),
        Options::default(),
    )
    .unwrap();
    db.transact(|tx| {
        tx.root_map()?
            .put_typed("name", "a text longer than eight bytes")
    })
    .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let err = root.get_typed::<&str>("name").unwrap_err();
    assert!(err.to_string().contains("cannot be borrowed"), "{err}");
    assert_eq!(
        root.get_typed::<String>("name").unwrap().unwrap(),
        "a text longer than eight bytes"
    );
}

// ------------------------------------------------------------ golden files

#[test]
fn golden_files_read_typed_where_their_shape_is_known() {
    let open = |file: &str| std::fs::read(golden_files::path(file)).unwrap();

    #[derive(Deserialize)]
    struct Floats {
        #[serde(rename = "apple-floats")]
        floats: Vec<f64>,
    }
    let bytes = open("scalars_float.xdb");
    let db = Database::from_slice(&bytes).unwrap();
    let f: Floats = db.moment(0).unwrap().read_typed().unwrap();
    assert_eq!(&f.floats[..4], [0.0, -0.0, 1.0, -1.5]);
    assert!(f.floats[1].is_sign_negative());

    #[derive(Deserialize)]
    struct Ints {
        #[serde(rename = "int-minus-one")]
        minus_one: i64,
        #[serde(rename = "apple-uints")]
        uints: Vec<u64>,
    }
    let bytes = open("scalars_int.xdb");
    let db = Database::from_slice(&bytes).unwrap();
    let i: Ints = db.moment(0).unwrap().read_typed().unwrap();
    assert_eq!(i.minus_one, -1);
    assert_eq!(&i.uints[..4], [0, 1, 2, 127]);

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Mixed<'a> {
        U(u64),
        I(i64),
        S(&'a str),
    }
    let bytes = open("array_list_size16.xdb");
    let db = Database::from_slice(&bytes).unwrap();
    let moment = db.moment(0).unwrap();
    let items: Vec<Mixed<'_>> = moment.read_typed().unwrap();
    assert_eq!(items.len(), 16);
    assert_eq!(
        &items[..4],
        [
            Mixed::U(0),
            Mixed::I(-1),
            Mixed::S("ap2"),
            Mixed::S("apple item 3")
        ]
    );

    #[derive(Deserialize, Debug, PartialEq)]
    struct Fruit {
        apple: u64,
        banana: String,
        cherry: i64,
        date: f64,
    }
    let bytes = std::fs::read(golden_files::btree_path("sorted_map_small.xdb")).unwrap();
    let db = Database::from_slice(&bytes).unwrap();
    let fruit: Fruit = db.moment(0).unwrap().read_typed().unwrap();
    assert_eq!(
        fruit,
        Fruit {
            apple: 1,
            banana: "yellow".into(),
            cherry: -3,
            date: 2.5
        }
    );

    let bytes = open("hash_set.xdb");
    let db = Database::from_slice(&bytes).unwrap();
    let members: std::collections::HashSet<String> = db.moment(0).unwrap().read_typed().unwrap();
    assert!(!members.is_empty());
    assert!(members.iter().all(|m| m.starts_with("apple-member-")));
}

#[test]
fn every_golden_moment_reads_as_a_value_or_fails_cleanly() {
    let mut read = 0;
    for xdb in golden_files::fixtures() {
        let bytes = std::fs::read(&xdb).unwrap();
        let Ok(db) = Database::from_slice(&bytes) else {
            continue;
        };
        for m in 0..db.moment_count().unwrap_or(0) {
            let c = db.moment(m as i64).unwrap();
            if c.read_typed::<serde_json::Value>().is_ok() {
                read += 1;
            }
            try_every_type(c);
        }
    }
    assert!(read > 50, "{read} moments read");
}
