//! The API's short forms: keys of any byte-like type, paths and required
//! keys on views, `for` over views, `try_extend`, typed accessors, `count`
//! and `iter` on any structure, bounded `Debug` previews, the `_with`
//! openers and `amend`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use xitdb::{Database, Error, Options, PathStep, PathStepBuf};

fn sample() -> Database {
    let mut db = Database::memory();
    db.transact(|tx| -> Result<(), Error> {
        let mut root = tx.root_map()?;
        root.put("title", "xitdb")?;
        root.put("n", 7u64)?;
        root.put("neg", -7i64)?;
        root.put("ratio", 0.5)?;
        let mut users = root.entry("users")?.hash_map()?;
        users.entry("ada")?.hash_map()?.put("role", "admin")?;
        let mut log = root.entry("log")?.array_list()?;
        log.try_extend((0..20u64).map(|i| i * 10))?;
        root.entry("tags")?
            .hash_set()?
            .try_extend(["a", "b", "c"])?;
        Ok(())
    })
    .unwrap();
    db
}

#[test]
fn keys_of_every_byte_like_type() {
    let db = sample();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let owned = String::from("title");
    let array: [u8; 5] = *b"title";
    for got in [
        root.get("title").unwrap(),
        root.get(&owned).unwrap(),
        root.get(owned.clone()).unwrap(),
        root.get(b"title").unwrap(),
        root.get(array).unwrap(),
        root.get(&b"title"[..]).unwrap(),
    ] {
        assert_eq!(got.unwrap().as_str().unwrap(), "xitdb");
    }
    assert!(root.contains_key("users").unwrap());
    let tags = root.require("tags").unwrap().as_set().unwrap();
    assert!(tags.contains("b").unwrap() && !tags.contains(String::from("z")).unwrap());
}

#[test]
fn paths_and_required_keys_on_views() {
    let db = sample();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let role = root.get_path(["users", "ada", "role"]).unwrap().unwrap();
    assert_eq!(role.as_str().unwrap(), "admin");
    assert!(root.get_path(["users", "grace", "role"]).unwrap().is_none());
    assert!(root.get_path(Vec::<&str>::new()).unwrap().is_none());
    let item = root
        .get_path([PathStep::Key(b"log"), PathStep::Index(-1)])
        .unwrap();
    assert_eq!(item.unwrap().as_u64().unwrap(), 190);
    let err = root.require_path(["users", "grace", "role"]).unwrap_err();
    assert_eq!(err.to_string(), r#"key "grace" not found"#);
    let err = root.require("nobody").unwrap_err();
    assert!(matches!(err, Error::KeyNotFound { ref key } if key == "nobody"));
    let log = root.require("log").unwrap().as_list().unwrap();
    assert_eq!(
        log.get_path([PathStep::Index(2)])
            .unwrap()
            .unwrap()
            .as_u64()
            .unwrap(),
        20
    );
    assert!(log.get_path([PathStep::Key(b"x")]).is_err());
    assert!(root.get_path([PathStep::Index(0)]).is_err());
}

#[test]
fn views_iterate_in_for_loops_and_writers_extend() {
    let db = sample();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let log = root.require("log").unwrap().as_list().unwrap();
    let mut sum = 0;
    for item in &log {
        sum += item.unwrap().as_u64().unwrap();
    }
    assert_eq!(sum, (0..20).map(|i| i * 10).sum::<u64>());
    assert_eq!(log.into_iter().count(), 20);
    let mut keys: Vec<String> = (&root)
        .into_iter()
        .map(|e| e.unwrap().key().unwrap().as_str().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["log", "n", "neg", "ratio", "tags", "title", "users"]);
    let tags = root.require("tags").unwrap().as_set().unwrap();
    assert_eq!(tags.into_iter().count(), 3);
    // try_extend stops at the first failure and the transaction rolls back
    let mut db = db;
    let before = db.len();
    let r = db.transact(|tx| -> Result<(), Error> {
        let mut root = tx.root_map()?;
        root.try_extend([("a", 1u64), ("b", 2)])?;
        Err(Error::InvalidArgument("stop"))
    });
    assert!(r.is_err());
    assert_eq!(db.len(), before);
}

#[test]
fn typed_accessors_and_conversions() {
    let db = sample();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let n = root.require("n").unwrap();
    let neg = root.require("neg").unwrap();
    assert_eq!((n.as_u64().unwrap(), n.as_i64().unwrap()), (7, 7));
    assert_eq!(neg.as_i64().unwrap(), -7);
    assert_eq!(
        neg.as_u64().unwrap_err().to_string(),
        "(root): -7 does not fit a u64"
    );
    assert!(n.as_f64().is_err());
    assert_eq!(root.require("ratio").unwrap().as_f64().unwrap(), 0.5);
    assert_eq!(u64::try_from(n).unwrap(), 7);
    assert_eq!(i64::try_from(neg).unwrap(), -7);
    assert_eq!(f64::try_from(root.require("ratio").unwrap()).unwrap(), 0.5);
    assert_eq!(
        String::try_from(root.require("title").unwrap()).unwrap(),
        "xitdb"
    );
    assert_eq!(
        Vec::<u8>::try_from(root.require("title").unwrap()).unwrap(),
        b"xitdb"
    );
    assert!(String::try_from(n).is_err());
}

#[test]
fn count_and_iter_on_any_structure() {
    let db = sample();
    let moment = db.moment(-1).unwrap();
    assert_eq!(moment.count().unwrap(), 7);
    let root = moment.as_map().unwrap();
    assert_eq!(root.require("log").unwrap().count().unwrap(), 20);
    assert_eq!(root.require("tags").unwrap().count().unwrap(), 3);
    let members: Vec<PathStepBuf> = root
        .require("tags")
        .unwrap()
        .iter()
        .unwrap()
        .map(|c| c.unwrap().step)
        .collect();
    assert_eq!(members.len(), 3);
    assert!(members.contains(&PathStepBuf::Key(b"a".to_vec())));
    let items: Vec<u64> = root
        .require("log")
        .unwrap()
        .iter()
        .unwrap()
        .map(|c| c.unwrap().value.as_u64().unwrap())
        .collect();
    assert_eq!(items[..3], [0, 10, 20]);
    assert!(matches!(
        root.require("n").unwrap().count(),
        Err(Error::UnexpectedTag { .. })
    ));
    assert!(root.require("title").unwrap().iter().is_err());
}

#[test]
fn debug_of_a_view_is_a_bounded_preview() {
    let mut db = sample();
    let long = "x".repeat(10_000);
    db.transact(|tx| -> Result<(), Error> {
        let mut big = tx.root_map()?.into_entry("big")?.hash_map()?;
        for i in 0..1000u64 {
            big.put(format!("k{i}"), long.as_str())?;
        }
        Ok(())
    })
    .unwrap();
    let root = db.moment(-1).unwrap().as_map().unwrap();
    let users = root.require("users").unwrap().as_map().unwrap();
    assert_eq!(
        format!("{users:?}"),
        r#"MapView<hash_map> {"ada": <hash_map>}"#
    );
    let big = format!("{:?}", root.require("big").unwrap().as_map().unwrap());
    assert!(big.len() < 1000, "{big}");
    assert!(big.ends_with(", …"), "{big}");
    // eight values, each cut after 32 bytes
    assert_eq!(big.matches(&"x".repeat(32)).count(), 8);
    assert_eq!(big.matches(&"x".repeat(33)).count(), 0);
    let tags = format!("{:?}", root.require("tags").unwrap().as_set().unwrap());
    assert!(
        tags.starts_with("SetView<hash_set> [") && tags.contains(r#""a""#),
        "{tags}"
    );
}

#[test]
fn openers_with_options() {
    use xitdb::format::HashKind;
    let mut db = Database::memory_with(HashKind::Sha1);
    db.transact(|tx| tx.root_map()?.put("k", "v")).unwrap();
    let bytes = db.into_bytes();
    let opts = Options {
        hash_override: Some(HashKind::Blake3),
        ..Options::default()
    };
    // a hasher of the wrong size is refused, as for files
    assert!(matches!(
        Database::from_slice_with(&bytes, opts),
        Err(Error::HashLength { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.xdb");
    std::fs::write(&path, &bytes).unwrap();
    let db = Database::open_read_only_with(&path, Options::default()).unwrap();
    assert_eq!(
        db.moment(-1)
            .unwrap()
            .as_map()
            .unwrap()
            .require("k")
            .unwrap()
            .as_str()
            .unwrap(),
        "v"
    );
}

#[test]
fn amend_replaces_the_newest_moment() {
    let mut db = Database::memory();
    assert!(matches!(
        db.amend(|tx| tx.root_map()?.put("a", 1u64)),
        Err(Error::NoSuchMoment { .. })
    ));
    for i in 0..20u64 {
        db.transact(|tx| tx.root_map()?.put("n", i)).unwrap();
    }
    let snap = db.snapshot(-1).unwrap();
    db.amend(|tx| {
        // the transaction sees the moment it replaces
        assert_eq!(tx.moment(-1)?.as_map()?.require("n")?.as_u64()?, 19);
        tx.root_map()?.put("extra", "yes")
    })
    .unwrap();
    assert_eq!(db.moment_count().unwrap(), 20);
    let newest = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(newest.require("n").unwrap().as_u64().unwrap(), 19);
    assert_eq!(newest.require("extra").unwrap().as_str().unwrap(), "yes");
    assert!(db
        .moment(-2)
        .unwrap()
        .as_map()
        .unwrap()
        .get("extra")
        .unwrap()
        .is_none());
    // a snapshot of the replaced moment still reads it
    assert!(snap
        .cursor()
        .as_map()
        .unwrap()
        .get("extra")
        .unwrap()
        .is_none());
    // a failed amend changes nothing
    let before = db.storage().as_bytes().to_vec();
    let r = db.amend(|tx| -> Result<(), Error> {
        tx.root_map()?.put("extra", "no")?;
        Err(Error::InvalidArgument("stop"))
    });
    assert!(r.is_err());
    assert_eq!(db.storage().as_bytes(), &before[..]);
    // the file reopens with the amended history, and appends after it
    let mut db = Database::from_bytes(db.into_bytes()).unwrap();
    assert_eq!(db.moment_count().unwrap(), 20);
    assert!(db.verify().unwrap().is_ok());
    db.transact(|tx| tx.root_map()?.put("n", 20u64)).unwrap();
    assert_eq!(db.moment_count().unwrap(), 21);
    let newest = db.moment(-1).unwrap().as_map().unwrap();
    assert_eq!(newest.require("extra").unwrap().as_str().unwrap(), "yes");
    assert_eq!(db.diff(-2, -1).unwrap().count(), 1);
}
