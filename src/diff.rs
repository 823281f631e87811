//! Differences between two moments (or two structures) of one database.
//!
//! (Stub: the API is fixed, the walk is being written.)

use crate::cursor::Cursor;
use crate::error::{Error, Result};

/// One step of a change's path, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElem {
    /// A map entry, by its key bytes (when the entry stores its key).
    Key(Vec<u8>),
    /// A map entry stored without its key, by its raw key hash.
    Hash(Vec<u8>),
    /// A list index.
    Index(u64),
}

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Present in the new version only.
    Added,
    /// Present in the old version only.
    Removed,
    /// Present in both, with different values.
    Changed,
}

/// One change: where, what kind, and the values on each side.
#[derive(Debug, Clone)]
pub struct Change<'r> {
    /// From the diffed roots down to the changed value.
    pub path: Vec<PathElem>,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The value before (`None` when added).
    pub old: Option<Cursor<'r>>,
    /// The value after (`None` when removed).
    pub new: Option<Cursor<'r>>,
}

/// A lazy stream of changes.
pub struct Diff<'r> {
    _a: Cursor<'r>,
    _b: Cursor<'r>,
}

impl<'r> Iterator for Diff<'r> {
    type Item = Result<Change<'r>>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(Err(Error::InvalidArgument("diff is not implemented yet")))
    }
}

/// The changes that turn `a` into `b` (both cursors into one database).
pub fn diff<'r>(a: Cursor<'r>, b: Cursor<'r>) -> Diff<'r> {
    Diff { _a: a, _b: b }
}
