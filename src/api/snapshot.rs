//! Snapshots: owned, thread-safe read handles on one moment.

use crate::api::cursor::Cursor;
use crate::format::Hasher;
use crate::format::Slot;
use crate::storage::SharedBytes;
use crate::tree::access::{FamilyCell, Src};
use std::sync::Arc;

/// A moment (or root) that can be read from many threads at once while the
/// database keeps committing.
///
/// A snapshot holds the database bytes as they were when it was taken
/// (a shared memory map for files, a shared buffer in memory), and the
/// moment's root slot. Everything it reaches was committed before it was
/// taken and is never modified again, so readers never see a partial
/// transaction. It is `Send + Sync + Clone`. Take one with
/// [`Database::snapshot`](crate::Database::snapshot).
///
/// ```
/// use xitdb::{Database, Error};
/// let mut db = Database::memory();
/// db.transact(|tx| -> Result<(), Error> {
///     let mut list = tx.root_map()?.into_entry("items")?.array_list()?;
///     for i in 0..100u64 {
///         list.append(i)?;
///     }
///     Ok(())
/// })?;
/// let snap = db.snapshot(-1)?;
/// let readers: Vec<_> = (0..2)
///     .map(|_| {
///         let snap = snap.clone(); // cheap: the bytes are shared
///         std::thread::spawn(move || -> Result<u64, Error> {
///             let items = snap.cursor().as_map()?.get(b"items")?.unwrap().as_list()?;
///             items.iter().map(|item| item?.as_uint()).sum()
///         })
///     })
///     .collect();
/// // meanwhile the writer keeps committing
/// db.transact(|tx| tx.root_map()?.put("items", "gone"))?;
/// for reader in readers {
///     assert_eq!(reader.join().unwrap()?, 4950);
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Snapshot {
    bytes: SharedBytes,
    hasher: Hasher,
    family: Arc<FamilyCell>,
    root: Slot,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("root", &self.root)
            .field("len", &(*self.bytes).as_ref().len())
            .finish()
    }
}

impl Snapshot {
    pub(crate) fn new(
        bytes: SharedBytes,
        hasher: Hasher,
        family: Arc<FamilyCell>,
        root: Slot,
    ) -> Self {
        Snapshot {
            bytes,
            hasher,
            family,
            root,
        }
    }

    /// A cursor on the snapshot's root.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(
            Src::bytes_only((*self.bytes).as_ref(), self.hasher).with_family(&self.family),
            self.root,
            None,
        )
    }

    /// The root slot.
    pub fn slot(&self) -> Slot {
        self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn snapshot_is_send_and_sync() {
        assert_send_sync::<Snapshot>();
    }
}
