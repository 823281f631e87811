//! Typed records: a small issue tracker whose issues are Rust structs,
//! stored as native xitdb structures (maps of fields, lists, enums), so
//! history and diffs see fields rather than opaque blobs.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xitdb::{Database, Error, PathStepBuf};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Resolution {
    Fixed,
    WontFix,
    Duplicate(u64),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum State {
    Open,
    InProgress { assignee: String },
    Closed { resolution: Resolution },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Comment {
    author: String,
    text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Issue {
    title: String,
    state: State,
    priority: Option<u8>,
    labels: Vec<String>,
    comments: Vec<Comment>,
    /// Hours by person, kept in key order (a sorted map in the file).
    #[serde(with = "xitdb::typed::sorted_map")]
    estimates: BTreeMap<String, u32>,
}

fn comment(author: &str, text: &str) -> Comment {
    Comment {
        author: author.into(),
        text: text.into(),
    }
}

/// A path as `issues.1.state`, indices as `[0]`.
fn show_path(path: &[PathStepBuf]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStepBuf::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&String::from_utf8_lossy(k));
            }
            PathStepBuf::Hash(h) => out.push_str(&format!("#{h:02x?}")),
            PathStepBuf::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A stored value as compact JSON (any kind reads as a `serde_json::Value`).
fn show(value: Option<xitdb::Cursor<'_>>) -> Result<String, Error> {
    match value {
        Some(c) => Ok(c.read_typed::<serde_json::Value>()?.to_string()),
        None => Ok("-".into()),
    }
}

/// Commits one issue: a new moment in which only what changed is written.
fn save(db: &mut Database, id: &str, issue: &Issue) -> Result<(), Error> {
    db.transact(|tx| {
        let mut issues = tx.root_map()?.into_entry("issues")?.hash_map()?;
        issues.put_typed(id, issue)
    })
}

fn main() -> Result<(), Error> {
    let mut db = Database::memory();
    let mut crash = Issue {
        title: "Crash on empty file".into(),
        state: State::Open,
        priority: Some(1),
        labels: vec!["bug".into()],
        comments: vec![comment("ada", "Reproduced with a 0-byte file.")],
        estimates: BTreeMap::from([("ada".into(), 3)]),
    };
    let docs = Issue {
        title: "Document typed records".into(),
        state: State::Open,
        priority: None,
        labels: vec!["docs".into()],
        comments: vec![],
        estimates: BTreeMap::new(),
    };

    // moment 0: two issues
    db.transact(|tx| -> Result<(), Error> {
        let mut issues = tx.root_map()?.into_entry("issues")?.hash_map()?;
        issues.put_typed("1", &crash)?;
        issues.put_typed("2", &docs)
    })?;

    // moment 1: someone takes issue 1 and comments
    crash.state = State::InProgress {
        assignee: "grace".into(),
    };
    crash.comments.push(comment("grace", "Looking into it."));
    save(&mut db, "1", &crash)?;

    // moment 2: fixed; only what changed is written
    crash.state = State::Closed {
        resolution: Resolution::Fixed,
    };
    crash.estimates.insert("grace".into(), 2);
    let before = db.len();
    save(&mut db, "1", &crash)?;
    println!("closing issue 1 wrote {} bytes", db.len() - before);

    // the newest version, read back as the struct
    let issues = db.moment(-1)?.as_map()?.require("issues")?.as_map()?;
    let now: Issue = issues.require("1")?.read_typed()?;
    assert_eq!(now, crash);
    println!("issue 1 now: {:?}", now.state);

    // time travel: the first version, by moment index
    let then: Issue = db
        .moment(0)?
        .as_map()?
        .require_path(["issues", "1"])?
        .read_typed()?;
    println!(
        "issue 1 at moment 0: {:?}, {} comment(s)",
        then.state,
        then.comments.len()
    );
    assert_eq!(then.state, State::Open);

    // what changed between the first and the last version, field by field
    println!("changes from moment 0 to moment 2:");
    for change in db.diff(0, 2)? {
        let change = change?;
        println!(
            "  {:?} {}: {} -> {}",
            change.kind,
            show_path(&change.path),
            show(change.old)?,
            show(change.new)?
        );
    }
    Ok(())
}
