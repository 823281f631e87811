//! ArrayList and LinkedArrayList: read views and write handles.
//!
//! Both kinds share one implementation of reading and writing items
//! ([`Seq`]); the LinkedArrayList adds the operations only its tree allows.

use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::value::Value;
use crate::error::Result;
use crate::format::{Slot, Tag};
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::array_list::{resolve_index, ArrayList, ListIter};
use crate::tree::linked_list::{Linked, LinkedItems};

/// Iterator over the items of a list, yielding cursors; double-ended, with
/// an exact size hint.
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut list = tx.root_map()?.into_entry("n")?.array_list()?;
///     for i in 1..=5u64 {
///         list.append(i)?;
///     }
///     Ok(())
/// })?;
/// let list = db.moment(-1)?.as_map()?.get(b"n")?.unwrap().as_list()?;
/// let items = list.iter();
/// assert_eq!(items.size_hint(), (5, Some(5)));
/// let backwards: Vec<u64> = items.rev().map(|c| c?.as_uint()).collect::<Result<_, Error>>()?;
/// assert_eq!(backwards, [5, 4, 3, 2, 1]);
/// let sum: u64 = list.iter().map(|c| c?.as_uint()).sum::<Result<u64, Error>>()?;
/// assert_eq!(sum, 15);
/// # Ok::<(), Error>(())
/// ```
pub struct Items<'r> {
    src: Src<'r>,
    inner: Walk<'r>,
}

pub(crate) enum Walk<'r> {
    Array(ListIter<'r>),
    Linked(LinkedItems<'r>),
}

impl<'r> Iterator for Items<'r> {
    type Item = Result<Cursor<'r>>;
    fn next(&mut self) -> Option<Self::Item> {
        let src = self.src;
        let pos = match &mut self.inner {
            Walk::Array(i) => i.next(),
            Walk::Linked(i) => i.next(),
        };
        pos.map(|r| r.and_then(|pos| Cursor::at(src, pos)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Walk::Array(i) => i.size_hint(),
            Walk::Linked(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Items<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let src = self.src;
        let pos = match &mut self.inner {
            Walk::Array(i) => i.next_back(),
            Walk::Linked(i) => i.next_back(),
        };
        pos.map(|r| r.and_then(|pos| Cursor::at(src, pos)))
    }
}

/// What both list trees offer: locating, walking and appending items.
trait Seq: Copy {
    fn from_slot(src: &Src<'_>, slot: Slot) -> Result<Self>;
    /// The slot that refers to the list.
    fn slot(&self) -> Slot;
    fn size(&self) -> u64;
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64>;
    fn walk<'r>(&self, src: Src<'r>) -> Walk<'r>;
    fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<Self>;
    fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64>;
    fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64>;
}

impl Seq for ArrayList {
    fn from_slot(src: &Src<'_>, slot: Slot) -> Result<Self> {
        ArrayList::from_slot(src, slot)
    }
    fn slot(&self) -> Slot {
        Slot::new(Tag::ArrayList, self.header)
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        ArrayList::slot_pos(self, src, k)
    }
    fn walk<'r>(&self, src: Src<'r>) -> Walk<'r> {
        Walk::Array(self.iter(src))
    }
    fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<Self> {
        ArrayList::open_mut(core, pos)
    }
    fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        ArrayList::push_slot(self, core, true, true)
    }
    fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        ArrayList::slot_pos_mut(self, core, k)
    }
}

impl Seq for Linked {
    fn from_slot(src: &Src<'_>, slot: Slot) -> Result<Self> {
        Linked::from_slot(src, slot)
    }
    fn slot(&self) -> Slot {
        Slot::new(Tag::LinkedArrayList, self.header())
    }
    fn size(&self) -> u64 {
        Linked::size(self)
    }
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        Linked::slot_pos(self, src, k)
    }
    fn walk<'r>(&self, src: Src<'r>) -> Walk<'r> {
        Walk::Linked(self.iter(src))
    }
    fn open_mut(core: &mut TxCore<'_>, pos: SlotPos) -> Result<Self> {
        Linked::open_mut(core, pos)
    }
    fn push_slot(&mut self, core: &mut TxCore<'_>) -> Result<u64> {
        Linked::push_slot(self, core)
    }
    fn slot_pos_mut(&mut self, core: &mut TxCore<'_>, k: u64) -> Result<u64> {
        Linked::slot_pos_mut(self, core, k)
    }
}

/// A read-only list of either kind.
#[derive(Clone, Copy)]
struct SeqView<'r, T> {
    src: Src<'r>,
    list: T,
}

impl<'r, T: Seq> SeqView<'r, T> {
    fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        Ok(SeqView {
            src,
            list: T::from_slot(&src, slot)?,
        })
    }

    fn get(&self, index: i64) -> Result<Option<Cursor<'r>>> {
        match resolve_index(index, self.list.size()) {
            Ok(k) => Cursor::at(self.src, self.list.slot_pos(&self.src, k)?).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn iter(&self) -> Items<'r> {
        Items {
            src: self.src,
            inner: self.list.walk(self.src),
        }
    }
}

/// A writable list of either kind.
struct SeqMut<'t, T> {
    core: TxCore<'t>,
    pos: SlotPos,
    _kind: std::marker::PhantomData<T>,
}

impl<'t, T: Seq> SeqMut<'t, T> {
    fn open(mut core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
        T::open_mut(&mut core, pos)?;
        Ok(SeqMut {
            core,
            pos,
            _kind: std::marker::PhantomData,
        })
    }

    fn reborrow(&mut self) -> SeqMut<'_, T> {
        SeqMut {
            core: self.core.reborrow(),
            pos: self.pos,
            _kind: std::marker::PhantomData,
        }
    }

    fn view(&self) -> Result<SeqView<'_, T>> {
        SeqView::new(self.core.src(), self.core.read_slot(self.pos)?)
    }

    fn into_append_cursor(mut self) -> Result<CursorMut<'t>> {
        let mut list = T::open_mut(&mut self.core, self.pos)?;
        let slot = list.push_slot(&mut self.core)?;
        Ok(CursorMut::new(self.core, SlotPos::Disk(slot)))
    }

    fn into_cursor(mut self, index: i64) -> Result<CursorMut<'t>> {
        let mut list = T::open_mut(&mut self.core, self.pos)?;
        let k = resolve_index(index, list.size())?;
        let slot = list.slot_pos_mut(&mut self.core, k)?;
        Ok(CursorMut::new(self.core, SlotPos::Disk(slot)))
    }
}

macro_rules! view_api {
    ($(#[$doc:meta])* $name:ident, $tree:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'r>(SeqView<'r, $tree>);

        /// A bounded preview: the length and the first items (see `preview.rs`).
        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}(len {}) ", stringify!($name), self.len())?;
                let cursor = Cursor::new(self.0.src, self.0.list.slot(), None);
                crate::api::preview::children(&cursor, false, f)
            }
        }

        impl<'r> $name<'r> {
            pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
                SeqView::new(src, slot).map($name)
            }

            /// Number of items.
            pub fn len(&self) -> u64 {
                self.0.list.size()
            }

            /// True when the list has no items.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The item at `index` (negative counts from the end); `None` out of range.
            pub fn get(&self, index: i64) -> Result<Option<Cursor<'r>>> {
                self.0.get(index)
            }

            /// Iterates over the items in order.
            pub fn iter(&self) -> Items<'r> {
                self.0.iter()
            }
        }
    };
}

view_api!(
    /// A read-only ArrayList.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut days = tx.root_map()?.into_entry("days")?.array_list()?;
    ///     for day in ["mon", "tue", "wed"] {
    ///         days.append(day)?;
    ///     }
    ///     Ok(())
    /// })?;
    /// let days = db.moment(-1)?.as_map()?.get(b"days")?.unwrap().as_list()?;
    /// assert_eq!(days.len(), 3);
    /// assert_eq!(days.get(0)?.unwrap().as_str()?, "mon");
    /// assert_eq!(days.get(-1)?.unwrap().as_str()?, "wed"); // from the end
    /// assert!(days.get(3)?.is_none());
    /// let all: Vec<String> = days.iter().map(|c| c?.as_str()).collect::<Result<_, Error>>()?;
    /// assert_eq!(all, ["mon", "tue", "wed"]);
    /// # Ok::<(), Error>(())
    /// ```
    ListView,
    ArrayList
);
view_api!(
    /// A read-only LinkedArrayList.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut lines = tx.root_map()?.into_entry("lines")?.linked_array_list()?;
    ///     lines.append("world")?;
    ///     lines.insert(0, "hello")?;
    ///     Ok(())
    /// })?;
    /// let lines = db.moment(-1)?.as_map()?.get(b"lines")?.unwrap().as_linked_list()?;
    /// assert_eq!(lines.len(), 2);
    /// assert_eq!(lines.get(-1)?.unwrap().as_str()?, "world");
    /// let text: Vec<String> = lines.iter().map(|c| c?.as_str()).collect::<Result<_, Error>>()?;
    /// assert_eq!(text.join(" "), "hello world");
    /// # Ok::<(), Error>(())
    /// ```
    LinkedListView,
    Linked
);

macro_rules! mut_api {
    ($(#[$doc:meta])* $name:ident, $view:ident, $tree:ty) => {
        $(#[$doc])*
        pub struct $name<'t>(SeqMut<'t, $tree>);

        impl<'t> $name<'t> {
            pub(crate) fn open(core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
                SeqMut::open(core, pos).map($name)
            }

            /// A shorter-lived handle on the same list.
            pub fn reborrow(&mut self) -> $name<'_> {
                $name(self.0.reborrow())
            }

            /// A read-only view of the list as it stands in this transaction.
            pub fn view(&self) -> Result<$view<'_>> {
                self.0.view().map($view)
            }

            /// Number of items.
            pub fn len(&self) -> Result<u64> {
                Ok(self.view()?.len())
            }

            /// True when the list has no items.
            pub fn is_empty(&self) -> Result<bool> {
                Ok(self.len()? == 0)
            }

            /// Reads the item at `index` (negative counts from the end).
            pub fn get(&self, index: i64) -> Result<Option<Cursor<'_>>> {
                self.view()?.get(index)
            }

            /// Appends a value.
            pub fn append<'v>(&mut self, value: impl Into<Value<'v>>) -> Result<()> {
                self.append_cursor()?.write(value)
            }

            /// Appends an item and returns a cursor on it, to write a value
            /// or open a nested structure there.
            pub fn append_cursor(&mut self) -> Result<CursorMut<'_>> {
                self.0.reborrow().into_append_cursor()
            }

            /// Like `append_cursor`, consuming the handle.
            pub fn into_append_cursor(self) -> Result<CursorMut<'t>> {
                self.0.into_append_cursor()
            }

            /// Replaces the item at `index` (negative counts from the end).
            pub fn put<'v>(&mut self, index: i64, value: impl Into<Value<'v>>) -> Result<()> {
                self.cursor(index)?.write(value)
            }

            /// A cursor on the item at `index`, for writing in place.
            pub fn cursor(&mut self, index: i64) -> Result<CursorMut<'_>> {
                self.0.reborrow().into_cursor(index)
            }

            /// Like `cursor`, consuming the handle.
            pub fn into_cursor(self, index: i64) -> Result<CursorMut<'t>> {
                self.0.into_cursor(index)
            }
        }
    };
}

mut_api!(
    /// An ArrayList opened for writing inside a transaction. An appended
    /// item never written reads as null.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut log = tx.root_map()?.into_entry("log")?.array_list()?;
    ///     for word in ["a", "b", "c", "d"] {
    ///         log.append(word)?;
    ///     }
    ///     log.put(1, "B")?; // replace an item
    ///     log.put(-1, "D")?; // negative indices count from the end
    ///     assert_eq!(log.len()?, 4);
    ///     log.truncate(3)?; // keep the first 3: a, B, c
    ///     // an item that holds a structure
    ///     log.append_cursor()?.hash_map()?.put("at", 3u64)?;
    ///     Ok(())
    /// })?;
    /// let log = db.moment(-1)?.as_map()?.get(b"log")?.unwrap().as_list()?;
    /// assert_eq!(log.len(), 4);
    /// assert_eq!(log.get(1)?.unwrap().as_str()?, "B");
    /// assert!(log.get(3)?.unwrap().as_map().is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    ListMut,
    ListView,
    ArrayList
);
mut_api!(
    /// A LinkedArrayList opened for writing inside a transaction. An
    /// appended item never written is an explicit null.
    ///
    /// Besides what [`ListMut`] does, it inserts and removes anywhere,
    /// slices and concatenates, each in O(log n) new bytes.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| -> Result<(), Error> {
    ///     let mut lines = tx.root_map()?.into_entry("lines")?.linked_array_list()?;
    ///     for line in ["one", "two", "four"] {
    ///         lines.append(line)?;
    ///     }
    ///     lines.insert(2, "three")?; // before item 2
    ///     lines.insert(0, "zero")?;
    ///     lines.remove(0)?; // one, two, three, four
    ///     let whole = lines.slot()?;
    ///     lines.concat(whole)?; // with itself: 8 items
    ///     lines.slice(2, 4)?; // items 2..6
    ///     Ok(())
    /// })?;
    /// let lines = db.moment(-1)?.as_map()?.get(b"lines")?.unwrap().as_linked_list()?;
    /// let text: Vec<String> = lines.iter().map(|c| c?.as_str()).collect::<Result<_, Error>>()?;
    /// assert_eq!(text, ["three", "four", "one", "two"]);
    /// # Ok::<(), Error>(())
    /// ```
    LinkedListMut,
    LinkedListView,
    Linked
);

impl ListMut<'_> {
    /// Keeps the first `len` items (the reference's `array_list_slice`).
    #[doc(alias = "slice")]
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        let core = &mut self.0.core;
        let mut list = ArrayList::open_mut(core, self.0.pos)?;
        list.truncate(core, len)
    }
}

impl LinkedListMut<'_> {
    fn edit<T>(&mut self, f: impl FnOnce(&mut TxCore<'_>, &mut Linked) -> Result<T>) -> Result<T> {
        let core = &mut self.0.core;
        let mut list = Linked::open_mut(core, self.0.pos)?;
        f(core, &mut list)
    }

    /// The list's slot as it stands: write it elsewhere to clone the list,
    /// or pass it to [`LinkedListMut::concat`].
    pub fn slot(&self) -> Result<Slot> {
        self.0.core.read_slot(self.0.pos)
    }

    /// Inserts `value` before the item at `index` (negative counts from the
    /// end; to add at the end, use `append`).
    pub fn insert<'v>(&mut self, index: i64, value: impl Into<Value<'v>>) -> Result<()> {
        self.insert_cursor(index)?.write(value)
    }

    /// Inserts an item (an explicit null until written) before the item at
    /// `index` and returns a cursor on it.
    pub fn insert_cursor(&mut self, index: i64) -> Result<CursorMut<'_>> {
        let slot = self.edit(|core, list| {
            let k = resolve_index(index, list.size())?;
            list.insert_slot(core, k)
        })?;
        Ok(CursorMut::new(self.0.core.reborrow(), SlotPos::Disk(slot)))
    }

    /// Removes the item at `index` (negative counts from the end).
    pub fn remove(&mut self, index: i64) -> Result<()> {
        self.edit(|core, list| {
            let k = resolve_index(index, list.size())?;
            list.remove(core, k)
        })
    }

    /// Keeps only the `len` items starting at `offset`.
    pub fn slice(&mut self, offset: u64, len: u64) -> Result<()> {
        self.edit(|core, list| list.slice(core, offset, len))
    }

    /// Appends every item of another LinkedArrayList (given by its slot, from
    /// any moment of this database — or this list's own [`LinkedListMut::slot`]).
    ///
    /// The result shares the other list's blocks without copying them, so
    /// the transaction is frozen first ([`crate::Transaction::freeze`]): a later
    /// change to either list copies what it changes instead of altering both.
    pub fn concat(&mut self, other: Slot) -> Result<()> {
        let other = Linked::from_slot(&self.0.core.src(), other)?;
        self.0.core.freeze();
        self.edit(|core, list| list.concat(core, other))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Database, Error};

    #[test]
    fn list_views_preview_their_first_items() {
        let mut db = Database::memory();
        db.transact(|tx| -> Result<(), Error> {
            let mut m = tx.root_map()?;
            let mut a = m.entry("a")?.array_list()?;
            for i in 0..20u64 {
                a.append(i)?;
            }
            let mut l = m.entry("l")?.linked_array_list()?;
            l.append("one")?;
            l.append(2u64)?;
            Ok(())
        })
        .unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        let a = m.get(b"a").unwrap().unwrap().as_list().unwrap();
        assert_eq!(
            format!("{a:?}"),
            "ListView(len 20) [0, 1, 2, 3, 4, 5, 6, 7], …"
        );
        let l = m.get(b"l").unwrap().unwrap().as_linked_list().unwrap();
        assert_eq!(format!("{l:?}"), "LinkedListView(len 2) [\"one\", 2]");
    }

    #[test]
    fn both_list_kinds_iterate_from_both_ends() {
        let mut db = Database::memory();
        db.transact(|tx| -> Result<(), Error> {
            let mut m = tx.root_map()?;
            let mut a = m.entry("a")?.array_list()?;
            for i in 0..40u64 {
                a.append(i)?;
            }
            let mut l = m.entry("l")?.linked_array_list()?;
            for i in 0..40u64 {
                l.append(i)?;
            }
            l.insert(3, 100u64)?;
            l.remove(10)?;
            Ok(())
        })
        .unwrap();
        let m = db.moment(-1).unwrap().as_map().unwrap();
        let mut want_l: Vec<u64> = (0..40).collect();
        want_l.insert(3, 100);
        want_l.remove(10);
        for (key, want) in [("a", (0..40).collect::<Vec<u64>>()), ("l", want_l)] {
            let c = m.get(key.as_bytes()).unwrap().unwrap();
            let items = match key {
                "a" => c.as_list().unwrap().iter(),
                _ => c.as_linked_list().unwrap().iter(),
            };
            assert_eq!(items.size_hint(), (want.len(), Some(want.len())));
            let back: Vec<u64> = items.rev().map(|c| c.unwrap().as_uint().unwrap()).collect();
            let mut rev = want.clone();
            rev.reverse();
            assert_eq!(back, rev, "{key} reversed");
            // alternate ends: they meet without overlap
            let mut it = match key {
                "a" => c.as_list().unwrap().iter(),
                _ => c.as_linked_list().unwrap().iter(),
            };
            let mut front = Vec::new();
            let mut tail = Vec::new();
            while let Some(x) = it.next() {
                front.push(x.unwrap().as_uint().unwrap());
                match it.next_back() {
                    Some(x) => tail.push(x.unwrap().as_uint().unwrap()),
                    None => break,
                }
            }
            tail.reverse();
            front.extend(tail);
            assert_eq!(front, want, "{key} from both ends");
        }
    }
}
