//! Paths and required keys on read views: `map.get_path(["a", "b"])` and
//! `map.require("name")`, the short forms of chained `get` calls.
//!
//! A missing key is `Ok(None)` for `get_path`, the way `get` reports it;
//! `require` and `require_path` turn it into [`Error::KeyNotFound`], which
//! names the key as text, for code where absence is a bug in the data.

use crate::api::cursor::Cursor;
use crate::api::list::ListView;
use crate::api::map::MapView;
use crate::api::value::PathStep;
use crate::error::{Error, Result};

/// Where a path stopped: the cursor reached, or the step that was missing.
enum Walk<'r, 'k> {
    Found(Cursor<'r>),
    Missing(PathStep<'k>),
}

/// Follows `path`: its first step through `first` (the view's own
/// lookup), the rest from cursor to cursor. `None` for an empty path.
fn walk<'r, 'k, P>(
    path: P,
    first: impl FnOnce(PathStep<'k>) -> Result<Option<Cursor<'r>>>,
) -> Result<Option<Walk<'r, 'k>>>
where
    P: IntoIterator,
    P::Item: Into<PathStep<'k>>,
{
    let mut steps = path.into_iter().map(Into::into);
    let Some(first_step) = steps.next() else {
        return Ok(None);
    };
    let Some(mut cur) = first(first_step)? else {
        return Ok(Some(Walk::Missing(first_step)));
    };
    for step in steps {
        match cur.get(step)? {
            Some(next) => cur = next,
            None => return Ok(Some(Walk::Missing(step))),
        }
    }
    Ok(Some(Walk::Found(cur)))
}

/// The error for a step that is not there.
fn missing(step: PathStep<'_>) -> Error {
    match step {
        PathStep::Key(k) | PathStep::Hash(k) => Error::KeyNotFound {
            key: String::from_utf8_lossy(k).into_owned(),
        },
        PathStep::Index(index) => Error::IndexOutOfRange { index, len: 0 },
    }
}

impl<'r> MapView<'r> {
    fn walk<'k, P>(&self, path: P) -> Result<Option<Walk<'r, 'k>>>
    where
        P: IntoIterator,
        P::Item: Into<PathStep<'k>>,
    {
        walk(path, |first| match first {
            PathStep::Key(k) => self.get(k),
            PathStep::Hash(h) => self.get_by_hash(h),
            PathStep::Index(_) => Err(Error::InvalidArgument("a map is read by key, not by index")),
        })
    }

    /// Follows a path of keys (and list indices) from this map; `None` when
    /// a step is missing. An empty path is `None` too: a view has no cursor
    /// of its own.
    ///
    /// ```
    /// use xitdb::{Database, Error, PathStep};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root().at_path(&["users".into(), "ada".into(), "role".into()])?.write("admin"))?;
    /// let root = db.moment(-1)?.as_map()?;
    /// assert_eq!(root.get_path(["users", "ada", "role"])?.unwrap().as_str()?, "admin");
    /// assert!(root.get_path(["users", "grace"])?.is_none());
    /// let mixed = [PathStep::Key(b"users"), PathStep::Key(b"ada")];
    /// assert!(root.get_path(mixed)?.is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get_path<'k, P>(&self, path: P) -> Result<Option<Cursor<'r>>>
    where
        P: IntoIterator,
        P::Item: Into<PathStep<'k>>,
    {
        Ok(match self.walk(path)? {
            Some(Walk::Found(c)) => Some(c),
            _ => None,
        })
    }

    /// The value under `key`, which must be there: a missing key is
    /// [`Error::KeyNotFound`] naming it.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.put("title", "xitdb"))?;
    /// let root = db.moment(-1)?.as_map()?;
    /// assert_eq!(root.require("title")?.as_str()?, "xitdb");
    /// let err = root.require("author").unwrap_err();
    /// assert_eq!(err.to_string(), r#"key "author" not found"#);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn require(&self, key: impl AsRef<[u8]>) -> Result<Cursor<'r>> {
        let key = key.as_ref();
        self.get(key)?.ok_or_else(|| missing(PathStep::Key(key)))
    }

    /// Follows a path that must be there: the first missing key is
    /// [`Error::KeyNotFound`] naming it.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root().at_path(&["users".into(), "ada".into()])?.write(1u64))?;
    /// let root = db.moment(-1)?.as_map()?;
    /// assert_eq!(root.require_path(["users", "ada"])?.as_uint()?, 1);
    /// let err = root.require_path(["users", "grace", "role"]).unwrap_err();
    /// assert!(matches!(err, Error::KeyNotFound { ref key } if key == "grace"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn require_path<'k, P>(&self, path: P) -> Result<Cursor<'r>>
    where
        P: IntoIterator,
        P::Item: Into<PathStep<'k>>,
    {
        match self.walk(path)? {
            Some(Walk::Found(c)) => Ok(c),
            Some(Walk::Missing(step)) => Err(missing(step)),
            None => Err(Error::InvalidArgument("an empty path")),
        }
    }
}

impl<'r> ListView<'r> {
    /// Follows a path from this list: an index first, then keys and
    /// indices; `None` when a step is missing.
    ///
    /// ```
    /// use xitdb::{Database, Error, PathStep};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.into_entry("log")?.array_list()?.append_cursor()?.hash_map()?.put("at", 3u64))?;
    /// let log = db.moment(-1)?.as_map()?.require("log")?.as_list()?;
    /// let at = log.get_path([PathStep::Index(0), PathStep::Key(b"at")])?.unwrap();
    /// assert_eq!(at.as_uint()?, 3);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get_path<'k, P>(&self, path: P) -> Result<Option<Cursor<'r>>>
    where
        P: IntoIterator,
        P::Item: Into<PathStep<'k>>,
    {
        let found = walk(path, |first| match first {
            PathStep::Index(i) => self.get(i),
            _ => Err(Error::InvalidArgument(
                "a list is read by index, not by key",
            )),
        })?;
        Ok(match found {
            Some(Walk::Found(c)) => Some(c),
            _ => None,
        })
    }
}
