//! A tiny text-editor buffer: the lines of a file in a LinkedArrayList.
//!
//! Every edit is one transaction, so every version of the buffer stays in
//! the database as a moment; undo appends an older moment again.
//!
//! Run it with `cargo run --example text_buffer`.

use xitdb::storage::FileStorage;
use xitdb::{Database, Error, LinkedListMut};

type Db = Database<FileStorage>;

/// The lines of the buffer in moment `index` (negative counts from the end).
fn lines(db: &Db, index: i64) -> Result<Vec<String>, Error> {
    let moment = db.moment(index)?;
    moment
        .as_linked_list()?
        .iter()
        .map(|l| l?.as_str())
        .collect()
}

fn show(db: &Db, what: &str) -> Result<(), Error> {
    println!("-- {what}");
    for (n, line) in lines(db, -1)?.iter().enumerate() {
        println!("{:>3} | {line}", n + 1);
    }
    Ok(())
}

/// Applies one edit to the buffer as a transaction, then prints it.
fn edit(
    db: &mut Db,
    what: &str,
    f: impl FnOnce(&mut LinkedListMut<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    db.transact(|tx| f(&mut tx.root().linked_array_list()?))?;
    show(db, what)
}

fn main() -> Result<(), Error> {
    let file = format!("xitdb-text-buffer-{}.xdb", std::process::id());
    let path = std::env::temp_dir().join(file);
    let mut db = Database::create(&path)?;

    edit(&mut db, "open", |buf| {
        for line in ["fn main() {", "}"] {
            buf.append(line)?;
        }
        Ok(())
    })?;
    edit(&mut db, "insert three lines before line 2", |buf| {
        buf.insert(1, "    let name = \"world\";")?;
        buf.insert(2, "    // greet")?;
        buf.insert(3, "    println!(\"hello, {name}\");")
    })?;
    edit(&mut db, "remove line 3", |buf| buf.remove(2))?;
    edit(&mut db, "replace line 2", |buf| {
        buf.put(1, "    let name = \"xitdb\";")
    })?;

    // Undo the last two edits: append the moment from before them again.
    db.revert_to(-3)?;
    show(&db, "undo twice")?;

    println!("-- history");
    for i in 0..db.moment_count()? as i64 {
        println!("moment {i}: {} lines", lines(&db, i)?.len());
    }

    assert_eq!(
        lines(&db, -1)?,
        [
            "fn main() {",
            "    let name = \"world\";",
            "    // greet",
            "    println!(\"hello, {name}\");",
            "}",
        ]
    );
    assert_eq!(
        lines(&db, -2)?.get(1).map(String::as_str),
        Some("    let name = \"xitdb\";")
    );
    drop(db);
    std::fs::remove_file(&path)?;
    Ok(())
}
