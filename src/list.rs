//! ArrayList and LinkedArrayList: read views and write handles.

use crate::cursor::Cursor;
use crate::error::Result;
use crate::format::Slot;
use crate::tree::access::{SlotPos, Src, TxCore};
use crate::tree::array_list::{resolve_index, ArrayList, ListIter};
use crate::tree::linked_list::{LinkedIter, LinkedList};
use crate::value::Value;
use crate::write::WriteCursor;

/// Iterator over the items of a list, yielding cursors.
pub struct Items<'r> {
    src: Src<'r>,
    inner: Walk<'r>,
}

enum Walk<'r> {
    Array(ListIter<'r>),
    Linked(LinkedIter<'r>),
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
}

/// Locating items: what both list kinds share.
trait Tree: Copy {
    fn size(&self) -> u64;
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64>;
}

impl Tree for ArrayList {
    fn size(&self) -> u64 {
        self.size
    }
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        ArrayList::slot_pos(self, src, k)
    }
}

impl Tree for LinkedList {
    fn size(&self) -> u64 {
        self.size
    }
    fn slot_pos(&self, src: &Src<'_>, k: u64) -> Result<u64> {
        LinkedList::slot_pos(self, src, k)
    }
}

fn get<'r, T: Tree>(src: Src<'r>, t: &T, index: i64) -> Result<Option<Cursor<'r>>> {
    match resolve_index(index, t.size()) {
        Ok(k) => Cursor::at(src, t.slot_pos(&src, k)?).map(Some),
        Err(_) => Ok(None),
    }
}

/// A read-only ArrayList.
#[derive(Clone, Copy)]
pub struct ListView<'r> {
    src: Src<'r>,
    list: ArrayList,
}

impl std::fmt::Debug for ListView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListView")
            .field("len", &self.list.size)
            .finish()
    }
}

impl<'r> ListView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        Ok(ListView {
            src,
            list: ArrayList::from_slot(&src, slot)?,
        })
    }

    /// Number of items.
    pub fn len(&self) -> u64 {
        self.list.size
    }

    /// True when the list has no items.
    pub fn is_empty(&self) -> bool {
        self.list.size == 0
    }

    /// The item at `index` (negative counts from the end); `None` out of range.
    pub fn get(&self, index: i64) -> Result<Option<Cursor<'r>>> {
        get(self.src, &self.list, index)
    }

    /// Iterates over the items in order.
    pub fn iter(&self) -> Items<'r> {
        Items {
            src: self.src,
            inner: Walk::Array(self.list.iter(self.src)),
        }
    }
}

/// A read-only LinkedArrayList.
#[derive(Clone, Copy)]
pub struct LinkedListView<'r> {
    src: Src<'r>,
    list: LinkedList,
}

impl std::fmt::Debug for LinkedListView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedListView")
            .field("len", &self.list.size)
            .finish()
    }
}

impl<'r> LinkedListView<'r> {
    pub(crate) fn new(src: Src<'r>, slot: Slot) -> Result<Self> {
        Ok(LinkedListView {
            src,
            list: LinkedList::from_slot(&src, slot)?,
        })
    }

    /// Number of items.
    pub fn len(&self) -> u64 {
        self.list.size
    }

    /// True when the list has no items.
    pub fn is_empty(&self) -> bool {
        self.list.size == 0
    }

    /// The item at `index` (negative counts from the end); `None` out of range.
    pub fn get(&self, index: i64) -> Result<Option<Cursor<'r>>> {
        get(self.src, &self.list, index)
    }

    /// Iterates over the items in order.
    pub fn iter(&self) -> Items<'r> {
        Items {
            src: self.src,
            inner: Walk::Linked(self.list.iter(self.src)),
        }
    }
}

// ---------------------------------------------------------------- writing

/// An ArrayList opened for writing inside a transaction.
pub struct ListMut<'t> {
    core: TxCore<'t>,
    pos: SlotPos,
}

impl<'t> ListMut<'t> {
    pub(crate) fn open(mut core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
        ArrayList::open_mut(&mut core, pos)?;
        Ok(ListMut { core, pos })
    }

    fn list(&mut self) -> Result<ArrayList> {
        ArrayList::open_mut(&mut self.core, self.pos)
    }

    /// A read-only view of the list as it stands in this transaction.
    pub fn view(&self) -> Result<ListView<'_>> {
        ListView::new(self.core.src(), self.core.read_slot(self.pos)?)
    }

    /// Number of items.
    pub fn len(&self) -> Result<u64> {
        Ok(self.view()?.len())
    }

    /// True when the list has no items.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads the item at `index`.
    pub fn get(&self, index: i64) -> Result<Option<Cursor<'_>>> {
        self.view()?.get(index)
    }

    /// Appends a value.
    pub fn append<'v>(&mut self, value: impl Into<Value<'v>>) -> Result<()> {
        self.append_cursor()?.write(value)
    }

    /// Appends an item and returns a cursor on it, to write a value or
    /// open a nested structure there. An item never written reads as null.
    pub fn append_cursor(&mut self) -> Result<WriteCursor<'_>> {
        self.reborrow().into_append_cursor()
    }

    /// Like [`ListMut::append_cursor`], consuming the handle.
    pub fn into_append_cursor(mut self) -> Result<WriteCursor<'t>> {
        let mut list = self.list()?;
        let slot = list.push_slot(&mut self.core, true, true)?;
        Ok(WriteCursor::new(self.core, SlotPos::Disk(slot)))
    }

    /// Replaces the item at `index` (negative counts from the end).
    pub fn put<'v>(&mut self, index: i64, value: impl Into<Value<'v>>) -> Result<()> {
        self.cursor(index)?.write(value)
    }

    /// A cursor on the item at `index`, for writing in place.
    pub fn cursor(&mut self, index: i64) -> Result<WriteCursor<'_>> {
        self.reborrow().into_cursor(index)
    }

    /// Like [`ListMut::cursor`], consuming the handle.
    pub fn into_cursor(mut self, index: i64) -> Result<WriteCursor<'t>> {
        let mut list = self.list()?;
        let k = list.resolve(index)?;
        let slot = list.slot_pos_mut(&mut self.core, k)?;
        Ok(WriteCursor::new(self.core, SlotPos::Disk(slot)))
    }

    /// A shorter-lived handle on the same list.
    pub fn reborrow(&mut self) -> ListMut<'_> {
        ListMut {
            core: self.core.reborrow(),
            pos: self.pos,
        }
    }

    /// Keeps the first `len` items (the reference's `slice`).
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        let mut list = self.list()?;
        list.truncate(&mut self.core, len)
    }
}

/// A LinkedArrayList opened for writing inside a transaction.
pub struct LinkedListMut<'t> {
    core: TxCore<'t>,
    pos: SlotPos,
}

impl<'t> LinkedListMut<'t> {
    pub(crate) fn open(mut core: TxCore<'t>, pos: SlotPos) -> Result<Self> {
        LinkedList::open_mut(&mut core, pos)?;
        Ok(LinkedListMut { core, pos })
    }

    fn list(&mut self) -> Result<LinkedList> {
        LinkedList::open_mut(&mut self.core, self.pos)
    }

    /// A read-only view of the list as it stands in this transaction.
    pub fn view(&self) -> Result<LinkedListView<'_>> {
        LinkedListView::new(self.core.src(), self.core.read_slot(self.pos)?)
    }

    /// Number of items.
    pub fn len(&self) -> Result<u64> {
        Ok(self.view()?.len())
    }

    /// True when the list has no items.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads the item at `index`.
    pub fn get(&self, index: i64) -> Result<Option<Cursor<'_>>> {
        self.view()?.get(index)
    }

    /// Appends a value.
    pub fn append<'v>(&mut self, value: impl Into<Value<'v>>) -> Result<()> {
        self.append_cursor()?.write(value)
    }

    /// Appends an item (an explicit null until written) and returns a cursor on it.
    pub fn append_cursor(&mut self) -> Result<WriteCursor<'_>> {
        self.reborrow().into_append_cursor()
    }

    /// Like [`LinkedListMut::append_cursor`], consuming the handle.
    pub fn into_append_cursor(mut self) -> Result<WriteCursor<'t>> {
        let mut list = self.list()?;
        let slot = list.push_slot(&mut self.core)?;
        Ok(WriteCursor::new(self.core, SlotPos::Disk(slot)))
    }

    /// Replaces the item at `index` (negative counts from the end).
    pub fn put<'v>(&mut self, index: i64, value: impl Into<Value<'v>>) -> Result<()> {
        self.cursor(index)?.write(value)
    }

    /// A cursor on the item at `index`, for writing in place.
    pub fn cursor(&mut self, index: i64) -> Result<WriteCursor<'_>> {
        self.reborrow().into_cursor(index)
    }

    /// Like [`LinkedListMut::cursor`], consuming the handle.
    pub fn into_cursor(mut self, index: i64) -> Result<WriteCursor<'t>> {
        let mut list = self.list()?;
        let k = resolve_index(index, list.size)?;
        let slot = list.slot_pos_mut(&mut self.core, k)?;
        Ok(WriteCursor::new(self.core, SlotPos::Disk(slot)))
    }

    /// A shorter-lived handle on the same list.
    pub fn reborrow(&mut self) -> LinkedListMut<'_> {
        LinkedListMut {
            core: self.core.reborrow(),
            pos: self.pos,
        }
    }
}
