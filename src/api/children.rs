//! `count()` and `iter()` on a cursor, whatever structure it holds: code
//! that walks any value (a dump, a search) need not match on the kind
//! first.

use crate::api::cursor::Cursor;
use crate::api::list::Items;
use crate::api::map::{Entries, EntryRef};
use crate::api::sorted::SortedEntries;
use crate::api::value::PathStepBuf;
use crate::error::{Error, Result};
use crate::format::Tag;

/// One child of a structure: the step that leads to it from its parent
/// (a key for maps and sets, an index for lists, the raw hash for a map
/// entry stored without its key) and its value (null for set members).
#[derive(Debug, Clone)]
pub struct Child<'r> {
    /// The key, index or hash of the child.
    pub step: PathStepBuf,
    /// The child's value.
    pub value: Cursor<'r>,
}

/// The children of any structure, in its own order (hash order for hash
/// maps and sets, key order for sorted ones, index order for lists).
pub struct Children<'r>(Inner<'r>);

enum Inner<'r> {
    Hash(Entries<'r>),
    Sorted(SortedEntries<'r>),
    List(Items<'r>, u64),
}

impl std::fmt::Debug for Children<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Children").finish_non_exhaustive()
    }
}

/// A hash entry's step: its key, or its hash when stored without one.
fn hash_child<'r>(e: EntryRef<'r>) -> Result<Child<'r>> {
    let key = e.key()?;
    let step = if key.is_null() {
        PathStepBuf::Hash(e.hash()?.into_owned())
    } else {
        PathStepBuf::Key(key.as_bytes()?.into_owned())
    };
    Ok(Child {
        step,
        value: e.value()?,
    })
}

impl<'r> Iterator for Children<'r> {
    type Item = Result<Child<'r>>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Inner::Hash(it) => it.next().map(|e| e.and_then(hash_child)),
            Inner::Sorted(it) => it.next().map(|e| {
                let e = e?;
                Ok(Child {
                    step: PathStepBuf::Key(e.key()?.into_owned()),
                    value: e.value()?,
                })
            }),
            Inner::List(it, i) => {
                let item = it.next()?;
                let step = PathStepBuf::index(*i);
                *i += 1;
                Some(item.map(|value| Child { step, value }))
            }
        }
    }
}

fn not_a_structure(found: Tag) -> Error {
    Error::UnexpectedTag {
        expected: "a structure (map, set or list)",
        found,
    }
}

impl<'r> Cursor<'r> {
    /// The children of the structure here, whatever its kind.
    ///
    /// ```
    /// use xitdb::{Database, Error, PathStepBuf};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut root = tx.root_map()?;
    ///     root.entry("list")?.array_list()?.try_extend(["a", "b"])?;
    ///     root.entry("set")?.sorted_set()?.insert("x")?;
    ///     Ok(())
    /// })?;
    /// let root = db.moment(-1)?.as_map()?;
    /// let list = root.require("list")?;
    /// assert_eq!(list.count()?, 2);
    /// let steps: Vec<PathStepBuf> = list.iter()?.map(|c| Ok(c?.step)).collect::<Result<_, Error>>()?;
    /// assert_eq!(steps, [PathStepBuf::Index(0), PathStepBuf::Index(1)]);
    /// let set = root.require("set")?;
    /// assert_eq!(set.iter()?.next().unwrap()?.step, PathStepBuf::Key(b"x".to_vec()));
    /// assert_eq!(db.moment(-1)?.count()?, 2); // the root map itself
    /// assert!(root.require("list")?.as_list()?.get(0)?.unwrap().count().is_err());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn iter(&self) -> Result<Children<'r>> {
        Ok(Children(match self.slot.tag {
            Tag::HashMap | Tag::CountedHashMap => Inner::Hash(self.as_map()?.iter()),
            Tag::HashSet | Tag::CountedHashSet => Inner::Hash(self.as_set()?.iter()),
            Tag::SortedMap => Inner::Sorted(self.as_sorted_map()?.iter()?),
            Tag::SortedSet => Inner::Sorted(self.as_sorted_set()?.iter()?),
            Tag::ArrayList => Inner::List(self.as_list()?.iter(), 0),
            Tag::LinkedArrayList => Inner::List(self.as_linked_list()?.iter(), 0),
            found => return Err(not_a_structure(found)),
        }))
    }

    /// How many children the structure here has: the stored count where
    /// the kind keeps one (lists, sorted and counted kinds), else by
    /// walking the entries.
    pub fn count(&self) -> Result<u64> {
        match self.slot.tag {
            Tag::CountedHashMap => self.as_map()?.count(),
            Tag::CountedHashSet => self.as_set()?.count(),
            Tag::SortedMap => self.as_sorted_map()?.len(),
            Tag::SortedSet => self.as_sorted_set()?.len(),
            Tag::ArrayList => Ok(self.as_list()?.len()),
            Tag::LinkedArrayList => Ok(self.as_linked_list()?.len()),
            Tag::HashMap | Tag::HashSet => self.iter()?.try_fold(0u64, |n, c| c.map(|_| n + 1)),
            found => Err(not_a_structure(found)),
        }
    }
}
