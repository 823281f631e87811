//! Opening files, choosing what a command reads, and running transactions.

use crate::error::{CliError, Result};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use xitdb::format::Tag;
use xitdb::storage::FileStorage;
use xitdb::{Cursor, Database, ListFamily, Options, Transaction};

/// The `--list-family` the command line gave, for every file it opens.
static LIST_FAMILY: OnceLock<Option<ListFamily>> = OnceLock::new();

/// Records the command line's `--list-family` (once, before any file is opened).
pub fn set_list_family(family: Option<ListFamily>) {
    let _ = LIST_FAMILY.set(family);
}

/// The options every file is opened with.
pub fn options() -> Options {
    Options {
        list_family: LIST_FAMILY.get().copied().flatten(),
        ..Options::default()
    }
}

/// A database file.
pub type Db = Database<FileStorage>;

fn check_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(CliError::new("is a directory").in_file(path)),
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::from(e).in_file(path)),
    }
}

/// Opens an existing file read-only (no lock).
pub fn open_read(path: &Path) -> Result<Db> {
    check_file(path)?;
    Database::open_read_only_with(path, options()).map_err(|e| CliError::from(e).in_file(path))
}

/// Opens a file for writing, taking the writer lock (waiting up to `wait`
/// for another writer to let go of it, or not at all). With `create`, a
/// missing file becomes a new, empty database.
pub fn open_write(path: &Path, create: bool, wait: Option<Duration>) -> Result<Db> {
    if !create || path.exists() {
        check_file(path)?;
        // an existing empty file is not a database (the library would
        // write a header into it)
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(CliError::from(xitdb::Error::TooShort { len: 0 }).in_file(path));
        }
    }
    let opts = Options {
        lock_wait: wait,
        ..options()
    };
    Database::open_with(path, opts).map_err(|e| {
        let hint = matches!(e, xitdb::Error::Locked);
        let e = CliError::from(e).in_file(path);
        if hint {
            CliError::new(format!("{e} (--wait SECS waits for it)"))
        } else {
            e
        }
    })
}

/// True for a database whose root is a history of moments (or that is
/// still empty).
pub fn has_history(db: &Db) -> bool {
    matches!(db.header().tag, Tag::ArrayList | Tag::None)
}

/// What read commands look at: moment `moment` (default: the newest), or
/// the root map of a database without a history. `None` when there is
/// nothing yet (no moments).
pub fn view(db: &Db, moment: Option<i64>) -> Result<Option<Cursor<'_>>> {
    if !has_history(db) {
        if moment.is_some() {
            return Err(CliError::new(format!(
                "this database has no history of moments (its root is a {}), so --moment does not apply",
                db.header().tag
            )));
        }
        return Ok(Some(db.root()));
    }
    let n = db.moment_count()?;
    match moment {
        None if n == 0 => Ok(None),
        None => Ok(Some(db.moment(-1)?)),
        Some(m) => Ok(Some(db.moment(m)?)),
    }
}

/// Fails unless the database has a history (for log and diff).
pub fn need_history(db: &Db, what: &str) -> Result<()> {
    if has_history(db) {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "this database has no history of moments (its root is a {}), so {what} does not apply",
            db.header().tag
        )))
    }
}

/// Runs `f` as one transaction: a new moment for a history (or an empty
/// database), a new root for a database whose root is a map.
pub fn transact<T>(db: &mut Db, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
    if has_history(db) {
        db.transact(f)
    } else {
        db.transact_root(f)
    }
}

/// The hasher's name: its 4-byte id as text when printable, else hex.
pub fn hash_id_text(id: [u8; 4]) -> String {
    if id.iter().all(|b| b.is_ascii_graphic()) {
        id.iter().map(|&b| b as char).collect()
    } else {
        crate::path::hex(&id)
    }
}
