//! In-memory storage: the zero-decode wire format.
//!
//! A database held in memory is exactly the bytes a file would hold, so a
//! buffer received from anywhere can be opened and read in place, with no
//! parse step beyond the 12-byte header.

use super::{check_range, copy_from, copy_into, resize_buffer, SharedBytes, Storage};
use crate::error::{Error, Result};
use std::sync::Arc;

/// An owned, growable in-memory buffer.
///
/// The buffer sits behind an [`Arc`] so that snapshots can share it with
/// reader threads for free; the first write after a snapshot copies the
/// buffer (copy-on-write), so snapshots of large in-memory databases that
/// outlive many commits cost one copy per commit. Use a file for heavy
/// concurrent reading.
///
/// The storage of [`Database::memory`](crate::Database::memory) and
/// [`Database::from_bytes`](crate::Database::from_bytes).
///
/// ```
/// use xitdb::storage::{MemoryStorage, Storage};
/// use xitdb::{Database, Options};
/// let mut db = Database::open_storage(MemoryStorage::new(), Options::default())?;
/// db.transact(|tx| tx.root_map()?.put("k", 1u64))?;
/// assert_eq!(db.storage().len(), db.storage().as_bytes().len() as u64);
///
/// // the bytes are a complete database: store them, send them, reopen them
/// let bytes = db.into_storage().into_vec();
/// let db = Database::open_storage(MemoryStorage::from_vec(bytes), Options::default())?;
/// assert_eq!(db.moment_count()?, 1);
/// # Ok::<(), xitdb::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    data: Arc<Vec<u8>>,
}

impl MemoryStorage {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes ownership of existing bytes (no copy).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        MemoryStorage {
            data: Arc::new(bytes),
        }
    }

    /// Hands the bytes back out (no copy unless a snapshot still shares them).
    pub fn into_vec(self) -> Vec<u8> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    fn data_mut(&mut self) -> &mut Vec<u8> {
        Arc::make_mut(&mut self.data)
    }
}

impl Storage for MemoryStorage {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn direct(&self) -> &[u8] {
        &self.data
    }

    fn as_vec_mut(&mut self) -> Option<&mut Vec<u8>> {
        Some(self.data_mut())
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        copy_from(&self.data, pos, buf)
    }

    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.data_mut().extend_from_slice(data);
        Ok(())
    }

    fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
        copy_into(self.data_mut(), pos, data)
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        resize_buffer(self.data_mut(), len)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn is_writable(&self) -> bool {
        true
    }

    fn share(&self, len: u64) -> Result<SharedBytes> {
        if len == self.len() {
            Ok(self.data.clone())
        } else {
            let end = check_range(0, len, self.len())?;
            Ok(Arc::new(
                self.data.get(..end as usize).unwrap_or(&[]).to_vec(),
            ))
        }
    }
}

/// Borrowed bytes opened read-only, with no copy.
///
/// The storage of [`Database::from_slice`](crate::Database::from_slice):
/// a database read in place from a buffer it does not own (a received
/// message, a memory-mapped region, a static).
///
/// ```
/// use xitdb::storage::{SliceStorage, Storage};
/// use xitdb::{Database, Error, Options};
/// let mut source = Database::memory();
/// source.transact(|tx| tx.root_map()?.put("k", "longer than eight bytes"))?;
/// let bytes = source.into_bytes();
///
/// let storage = SliceStorage::new(&bytes);
/// assert!(!storage.is_writable());
/// let db = Database::open_storage(storage, Options::default())?;
/// let value = db.moment(-1)?.as_map()?.get(b"k")?.unwrap().as_bytes()?;
/// assert_eq!(&*value, b"longer than eight bytes");
/// // borrowed straight from `bytes` (values of up to 8 bytes live in
/// // their slot and are copied out)
/// assert!(matches!(value, std::borrow::Cow::Borrowed(_)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SliceStorage<'a> {
    data: &'a [u8],
}

impl<'a> SliceStorage<'a> {
    /// Wraps borrowed bytes.
    pub fn new(data: &'a [u8]) -> Self {
        SliceStorage { data }
    }

    /// The borrowed bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }
}

impl Storage for SliceStorage<'_> {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn direct(&self) -> &[u8] {
        self.data
    }
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        copy_from(self.data, pos, buf)
    }
    fn append(&mut self, _: &[u8]) -> Result<()> {
        Err(Error::ReadOnly)
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> Result<()> {
        Err(Error::ReadOnly)
    }
    fn truncate(&mut self, _: u64) -> Result<()> {
        Err(Error::ReadOnly)
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    fn is_writable(&self) -> bool {
        false
    }
    /// Borrowed bytes cannot outlive their owner, so a snapshot copies them.
    fn share(&self, len: u64) -> Result<SharedBytes> {
        let end = check_range(0, len, self.len())?;
        Ok(Arc::new(
            self.data.get(..end as usize).unwrap_or(&[]).to_vec(),
        ))
    }
}
