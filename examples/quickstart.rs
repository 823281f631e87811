//! The README's quick start: a file database, two moments, time travel.
use xitdb::{Database, Error};

fn main() -> Result<(), Error> {
    let dir = std::env::temp_dir().join("xitdb-quickstart");
    std::fs::create_dir_all(&dir)?;
    let mut db = Database::create(dir.join("app.xdb"))?;

    // Each transaction appends a new moment to the history.
    db.transact(|tx| -> Result<(), Error> {
        let mut root = tx.root_map()?;
        root.put("title", "first draft")?;
        let mut lines = root.entry("lines")?.linked_array_list()?;
        lines.append("hello")?;
        lines.append("world")?;
        Ok(())
    })?;
    db.transact(|tx| tx.root_map()?.put("title", "second draft"))?;

    // Read the newest moment, then travel back to the first one.
    let now = db.moment(-1)?.as_map()?;
    let then = db.moment(0)?.as_map()?;
    let title = |m: &xitdb::MapView<'_>| -> Result<String, Error> {
        m.get(b"title")?
            .ok_or(Error::PathNotFound { step: 0 })?
            .as_str()
    };
    println!("moments: {}", db.moment_count()?);
    println!("now:  {}", title(&now)?);
    println!("then: {}", title(&then)?);
    let lines = now.get(b"lines")?.ok_or(Error::PathNotFound { step: 0 })?;
    for line in lines.as_linked_list()?.iter() {
        println!("line: {}", line?.as_str()?);
    }
    assert_eq!(title(&then)?, "first draft");
    Ok(())
}
