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
    println!("moments: {}", db.moment_count()?);
    println!("now:  {}", now.require("title")?.as_str()?);
    println!("then: {}", then.require("title")?.as_str()?);
    for line in now.require("lines")?.as_linked_list()? {
        println!("line: {}", line?.as_str()?);
    }
    assert_eq!(then.require("title")?.as_str()?, "first draft");
    Ok(())
}
