//! Bounded read access to a database's bytes, and the write context of a
//! transaction with its one copy-on-write rule.

use crate::error::{Error, Result};
use crate::format::{Hasher, ListFamily};
use crate::format::{Slot, Tag, SLOT_LEN};
use crate::storage::{check_range, Storage};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Read access to storage: a directly readable prefix plus an optional
/// fallback for the rest. Every read is bounds-checked against `len`.
#[derive(Clone, Copy)]
pub(crate) struct Src<'r> {
    direct: &'r [u8],
    /// A second directly readable region (a backend's append buffer) and
    /// its start position.
    tail: &'r [u8],
    tail_start: u64,
    rest: Option<&'r dyn Storage>,
    len: u64,
    pub hasher: Hasher,
    /// The database's linked-list family (possibly still to be learned).
    pub family: &'r FamilyCell,
}

impl<'r> Src<'r> {
    /// Reads through a storage backend.
    pub fn storage(store: &'r dyn Storage, hasher: Hasher) -> Self {
        let (tail_start, tail) = store.tail();
        Src {
            direct: store.direct(),
            tail,
            tail_start,
            rest: Some(store),
            len: store.len(),
            hasher,
            family: &DEFAULT_FAMILY,
        }
    }

    /// Reads from plain bytes.
    pub fn bytes_only(bytes: &'r [u8], hasher: Hasher) -> Self {
        Src {
            direct: bytes,
            tail: &[],
            tail_start: bytes.len() as u64,
            rest: None,
            len: bytes.len() as u64,
            hasher,
            family: &DEFAULT_FAMILY,
        }
    }

    /// The same reader, reading linked lists in the family `family` holds.
    #[inline]
    pub fn with_family(self, family: &'r FamilyCell) -> Self {
        Src { family, ..self }
    }

    /// Storage length.
    #[inline]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Fills `buf` from `pos`.
    #[inline]
    pub fn read_into(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        if let Some(src) = self.direct_slice(pos, buf.len()) {
            buf.copy_from_slice(src);
            return Ok(());
        }
        let n = buf.len();
        match self.rest {
            Some(s) => s.read_at(pos, buf),
            None => Err(Error::OutOfBounds {
                pos,
                len: n as u64,
                storage_len: self.len,
            }),
        }
    }

    /// The `n` bytes at `pos` when they lie wholly inside one of the
    /// directly readable regions.
    #[inline]
    fn direct_slice(&self, pos: u64, n: usize) -> Option<&'r [u8]> {
        let in_region = |bytes: &'r [u8], at: u64| {
            let p = usize::try_from(at).ok()?;
            bytes.get(p..p.checked_add(n)?)
        };
        in_region(self.direct, pos)
            .or_else(|| in_region(self.tail, pos.checked_sub(self.tail_start)?))
    }

    /// Reads `N` bytes at `pos`.
    #[inline]
    pub fn array<const N: usize>(&self, pos: u64) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read_into(pos, &mut b)?;
        Ok(b)
    }

    /// Reads a big-endian u64 at `pos`.
    #[inline]
    pub fn u64_at(&self, pos: u64) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array(pos)?))
    }

    /// Reads and decodes the slot at `pos`.
    ///
    /// The hot path of every lookup: a slot inside the direct region is
    /// loaded straight from it, everything else goes the general way.
    #[inline(always)]
    pub fn slot(&self, pos: u64) -> Result<Slot> {
        let direct = usize::try_from(pos).ok().and_then(|p| {
            let bytes = self.direct.get(p..p.checked_add(SLOT_LEN as usize)?)?;
            <[u8; SLOT_LEN as usize]>::try_from(bytes).ok()
        });
        if let Some(b) = direct {
            return Slot::decode(b, pos);
        }
        // a write transaction's own records lie in the backend's append
        // buffer: read them from there inline too
        let tail = pos
            .checked_sub(self.tail_start)
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|p| self.tail.get(p..p.checked_add(SLOT_LEN as usize)?))
            .and_then(|bytes| <[u8; SLOT_LEN as usize]>::try_from(bytes).ok());
        match tail {
            Some(b) => Slot::decode(b, pos),
            None => self.slot_elsewhere(pos),
        }
    }

    /// [`Src::slot`] for slots outside the direct region.
    #[inline(never)]
    fn slot_elsewhere(&self, pos: u64) -> Result<Slot> {
        Slot::decode(self.array(pos)?, pos)
    }

    /// Reads slot `i` of the block at `block`.
    #[inline]
    pub fn block_slot(&self, block: u64, i: usize) -> Result<Slot> {
        self.slot(block + SLOT_LEN * i as u64)
    }

    /// Borrows (or, past the direct prefix, copies) `len` bytes at `pos`.
    /// The length is checked against the storage first, so a hostile length
    /// never causes an allocation larger than the storage.
    pub fn bytes(&self, pos: u64, len: u64) -> Result<Cow<'r, [u8]>> {
        check_range(pos, len, self.len)?;
        if let Some(b) = self.direct_slice(pos, len as usize) {
            return Ok(Cow::Borrowed(b));
        }
        let mut v = vec![0u8; len as usize];
        self.read_into(pos, &mut v)?;
        Ok(Cow::Owned(v))
    }

    /// Compares the `other.len()` bytes at `pos` with `other`, without copying.
    #[inline(always)]
    pub fn eq_at(&self, pos: u64, other: &[u8]) -> Result<bool> {
        if let Some(b) = self.direct_slice(pos, other.len()) {
            return Ok(b == other);
        }
        Ok(*self.bytes(pos, other.len() as u64)? == *other)
    }
}

const UNKNOWN: u8 = 0;
const RRB: u8 = 1;
const BTREE: u8 = 2;

/// A database's linked-list family: known, or still to be learned.
#[derive(Debug)]
pub(crate) struct FamilyCell(AtomicU8);

/// The cell of readers that were never told a family (plain byte views in
/// tests and tools): the current upstream family.
pub(crate) static DEFAULT_FAMILY: FamilyCell = FamilyCell(AtomicU8::new(BTREE));

impl FamilyCell {
    /// A cell holding `family`, or nothing yet.
    pub fn new(family: Option<ListFamily>) -> FamilyCell {
        FamilyCell(AtomicU8::new(encode(family)))
    }

    /// The family, if known.
    pub fn get(&self) -> Option<ListFamily> {
        match self.0.load(Ordering::Acquire) {
            RRB => Some(ListFamily::Rrb),
            BTREE => Some(ListFamily::BTree),
            _ => None,
        }
    }

    /// Records `family` unless one is already known; returns the family
    /// now held (the earlier one, when there was one).
    pub fn learn(&self, family: ListFamily) -> ListFamily {
        match self.0.compare_exchange(
            UNKNOWN,
            encode(Some(family)),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => family,
            Err(_) => self.get().unwrap_or(family),
        }
    }
}

fn encode(family: Option<ListFamily>) -> u8 {
    match family {
        None => UNKNOWN,
        Some(ListFamily::Rrb) => RRB,
        Some(ListFamily::BTree) => BTREE,
    }
}

/// Where a writable slot lives: on disk, or the database's virtual root slot
/// (held in memory during a root-map transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotPos {
    /// A 9-byte slot at this byte position.
    Disk(u64),
    /// The header-described root.
    Root,
}

/// The state a transaction keeps between operations.
pub(crate) struct TxState {
    pub hasher: Hasher,
    /// Records starting below this offset are immutable.
    pub tx_start: u64,
    /// The virtual root slot (root-map transactions).
    pub root: Slot,
    /// The database's linked-list family.
    pub family: Arc<FamilyCell>,
    /// Old contents of bytes below `tx_start` overwritten in place, so that a
    /// failed transaction restores the file byte for byte.
    undo: Vec<(u64, Vec<u8>)>,
}

impl TxState {
    pub fn new(hasher: Hasher, family: Arc<FamilyCell>, tx_start: u64, root: Slot) -> Self {
        TxState {
            hasher,
            tx_start,
            root,
            family,
            undo: Vec::new(),
        }
    }
}

/// The bytes a transaction writes: either a backend's whole contents as one
/// growable buffer (the in-memory database), written with plain memory
/// operations, or any backend through the [`Storage`] trait.
pub(crate) enum Store<'t> {
    /// Every byte, position 0 first.
    Buf(&'t mut Vec<u8>),
    /// A backend reached through its trait (files and custom storage).
    Dyn(&'t mut dyn Storage),
}

impl<'t> Store<'t> {
    /// Picks the fastest way to write `store`.
    pub fn new(store: &'t mut dyn Storage) -> Result<Self> {
        // Asked twice: returning the first answer's borrow from one branch
        // and the storage from the other is beyond today's borrow checker.
        if store.as_vec_mut().is_none() {
            return Ok(Store::Dyn(store));
        }
        match store.as_vec_mut() {
            Some(v) => Ok(Store::Buf(v)),
            None => Err(Error::InvalidArgument(
                "storage stopped exposing its buffer",
            )),
        }
    }

    /// A shorter-lived handle on the same bytes.
    #[inline]
    pub fn reborrow(&mut self) -> Store<'_> {
        match self {
            Store::Buf(v) => Store::Buf(v),
            Store::Dyn(s) => Store::Dyn(&mut **s),
        }
    }

    /// Read access to every byte written so far.
    #[inline]
    pub fn src(&self, hasher: Hasher) -> Src<'_> {
        match self {
            Store::Buf(v) => Src::bytes_only(v, hasher),
            Store::Dyn(s) => Src::storage(&**s, hasher),
        }
    }

    /// Current length.
    #[inline]
    pub fn len(&self) -> u64 {
        match self {
            Store::Buf(v) => v.len() as u64,
            Store::Dyn(s) => s.len(),
        }
    }

    /// Fills `buf` from `pos`.
    #[inline]
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            Store::Buf(v) => crate::storage::copy_from(v, pos, buf),
            Store::Dyn(s) => s.read_at(pos, buf),
        }
    }

    /// Appends `data`.
    #[inline]
    pub fn append(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Store::Buf(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Store::Dyn(s) => s.append(data),
        }
    }

    /// Overwrites bytes below the end.
    #[inline]
    pub fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
        match self {
            Store::Buf(v) => crate::storage::copy_into(v, pos, data),
            Store::Dyn(s) => s.write_at(pos, data),
        }
    }

    /// Cuts (or zero-extends) to `len`.
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        match self {
            Store::Buf(v) => crate::storage::resize_buffer(v, len),
            Store::Dyn(s) => s.truncate(len),
        }
    }
}

/// The write context of a transaction: the storage and the transaction's
/// state, both borrowed, so that nested handles can reborrow it.
///
/// The copy-on-write rule lives here and only here: a record that starts
/// below `tx_start` belongs to a committed moment (or was frozen) and is
/// copied to the end before it changes; a record at or above it was made by
/// this transaction and changes in place.
pub(crate) struct TxCore<'t> {
    pub store: Store<'t>,
    pub st: &'t mut TxState,
}

impl<'t> TxCore<'t> {
    pub fn new(store: Store<'t>, st: &'t mut TxState) -> Self {
        TxCore { store, st }
    }

    /// A handle on `store`, choosing its fastest write path.
    pub fn open(store: &'t mut dyn Storage, st: &'t mut TxState) -> Result<Self> {
        Ok(TxCore {
            store: Store::new(store)?,
            st,
        })
    }

    /// A shorter-lived handle on the same transaction.
    #[inline]
    pub fn reborrow(&mut self) -> TxCore<'_> {
        TxCore {
            store: self.store.reborrow(),
            st: &mut *self.st,
        }
    }

    /// Read access to the current state, including this transaction's writes.
    #[inline]
    pub fn src(&self) -> Src<'_> {
        self.store.src(self.st.hasher).with_family(&self.st.family)
    }

    /// True when the record at `ptr` was made by this transaction.
    #[inline]
    pub fn is_mutable(&self, ptr: u64) -> bool {
        ptr >= self.st.tx_start
    }

    /// Makes everything written so far immutable for the rest of the transaction.
    pub fn freeze(&mut self) {
        self.st.tx_start = self.store.len();
    }

    pub fn read_slot(&self, pos: SlotPos) -> Result<Slot> {
        match pos {
            SlotPos::Disk(p) => self.src().slot(p),
            SlotPos::Root => Ok(self.st.root),
        }
    }

    #[inline]
    pub fn write_slot(&mut self, pos: SlotPos, slot: Slot) -> Result<()> {
        match pos {
            SlotPos::Disk(p) => self.write_at(p, &slot.encode()),
            SlotPos::Root => {
                self.st.root = slot;
                Ok(())
            }
        }
    }

    /// Overwrites bytes in place, logging the old bytes when they lie below
    /// `tx_start` (such writes are rare: history slots past the history's end).
    ///
    /// Inlined, so that the common writes (a 9-byte slot, an 8-byte count)
    /// copy a constant number of bytes rather than call `memcpy`.
    #[inline]
    pub fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
        if pos < self.st.tx_start {
            self.log_undo(pos, data.len())?;
        }
        self.store.write_at(pos, data)
    }

    /// Saves the `len` bytes at `pos` before they are overwritten.
    #[inline(never)]
    fn log_undo(&mut self, pos: u64, len: usize) -> Result<()> {
        let mut old = vec![0u8; len];
        self.store.read_at(pos, &mut old)?;
        self.st.undo.push((pos, old));
        Ok(())
    }

    /// Writes a u64 in place (counts, sizes).
    #[inline]
    pub fn write_u64(&mut self, pos: u64, v: u64) -> Result<()> {
        self.write_at(pos, &v.to_be_bytes())
    }

    /// Appends `data` (its position is the length before).
    #[inline]
    pub fn append(&mut self, data: &[u8]) -> Result<()> {
        self.store.append(data)
    }

    /// Appends `data` and returns its position.
    #[inline]
    pub fn alloc(&mut self, data: &[u8]) -> Result<u64> {
        let pos = self.store.len();
        self.store.append(data)?;
        Ok(pos)
    }

    /// Appends `n` zero bytes and returns their position.
    pub fn alloc_zeroed(&mut self, n: u64) -> Result<u64> {
        const ZEROS: [u8; 512] = [0; 512];
        let pos = self.store.len();
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len() as u64) as usize;
            self.store.append(ZEROS.get(..k).unwrap_or(&[]))?;
            left -= k as u64;
        }
        Ok(pos)
    }

    /// Copies the `len`-byte record at `ptr` to the end and returns the copy's position.
    pub fn copy_record(&mut self, ptr: u64, len: u64) -> Result<u64> {
        let mut small = [0u8; 512];
        let mut large = Vec::new();
        let buf = match small.get_mut(..len as usize) {
            Some(b) => b,
            None => {
                // only records of huge-hash maps: the length is bounded by the header's u16
                large.resize(len as usize, 0);
                &mut large[..]
            }
        };
        self.store.read_at(ptr, buf)?;
        let pos = self.store.len();
        self.store.append(buf)?;
        Ok(pos)
    }

    /// The copy-on-write rule: returns a position where the `len`-byte record
    /// at `ptr` may be changed, copying it first if it is immutable.
    #[inline]
    pub fn own(&mut self, ptr: u64, len: u64) -> Result<(u64, bool)> {
        if self.is_mutable(ptr) {
            Ok((ptr, false))
        } else {
            Ok((self.copy_record(ptr, len)?, true))
        }
    }

    /// Opens the structure of kind `tag` held in the slot at `pos` for
    /// writing, and returns the position of its head record: a new one made
    /// by `create` when the slot is empty, else the committed one's first
    /// `head_len` bytes copied (and the slot repointed) if it is immutable.
    pub fn open_structure(
        &mut self,
        pos: SlotPos,
        tag: Tag,
        head_len: u64,
        create: impl FnOnce(&mut Self) -> Result<u64>,
    ) -> Result<u64> {
        let slot = self.read_slot(pos)?;
        if slot.tag == Tag::None {
            let p = create(self)?;
            self.write_slot(pos, Slot::new(tag, p))?;
            return Ok(p);
        }
        if slot.tag != tag {
            return Err(Error::UnexpectedTag {
                expected: tag.name(),
                found: slot.tag,
            });
        }
        let (p, copied) = self.own(slot.value, head_len)?;
        if copied {
            self.write_slot(pos, Slot { value: p, ..slot })?;
        }
        Ok(p)
    }

    /// Puts back every logged byte and cuts the storage to `len`.
    pub fn rollback(&mut self, len: u64) -> Result<()> {
        while let Some((pos, old)) = self.st.undo.pop() {
            if pos < len {
                let n = old.len().min((len - pos) as usize);
                self.store.write_at(pos, old.get(..n).unwrap_or(&[]))?;
            }
        }
        self.store.truncate(len)
    }
}

#[cfg(test)]
mod family_tests {
    use super::*;

    #[test]
    fn a_cell_learns_once() {
        let cell = FamilyCell::new(None);
        assert_eq!(cell.get(), None);
        assert_eq!(cell.learn(ListFamily::Rrb), ListFamily::Rrb);
        assert_eq!(cell.learn(ListFamily::BTree), ListFamily::Rrb);
        assert_eq!(cell.get(), Some(ListFamily::Rrb));
        assert_eq!(DEFAULT_FAMILY.get(), Some(ListFamily::BTree));
    }
}
