//! Where the bytes live. Storage knows nothing of the format: it offers
//! positioned reads, appends at the end, in-place writes, truncation and
//! syncing.
//!
//! Backends: [`MemoryStorage`] (an owned, growable buffer), [`SliceStorage`]
//! (borrowed bytes, read-only) and [`FileStorage`] (a file with buffered
//! appends and memory-mapped reads). [`Database`](crate::Database) has
//! constructors for each (`memory`, `from_slice`, `create`, ...), and
//! [`Database::open_storage`](crate::Database::open_storage) opens any
//! [`Storage`], including one of your own.
//!
//! All three hold the same bytes for the same database:
//!
//! ```
//! use xitdb::storage::{FileStorage, MemoryStorage, SliceStorage};
//! use xitdb::{Database, Options};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("app.xdb");
//! let mut db = Database::open_storage(FileStorage::create(&path)?, Options::default())?;
//! db.transact(|tx| tx.root_map()?.put("k", "v"))?;
//! drop(db);
//!
//! let bytes = std::fs::read(&path)?;
//! let in_memory = Database::open_storage(MemoryStorage::from_vec(bytes.clone()), Options::default())?;
//! let borrowed = Database::open_storage(SliceStorage::new(&bytes), Options::default())?;
//! for cursor in [in_memory.moment(-1)?, borrowed.moment(-1)?] {
//!     assert_eq!(cursor.as_map()?.get(b"k")?.unwrap().as_str()?, "v");
//! }
//! # Ok::<(), xitdb::Error>(())
//! ```
//!
//! # Writing a backend
//!
//! A backend implements the ten methods of [`Storage`] that carry its
//! contract: [`len`](Storage::len), [`read_at`](Storage::read_at),
//! [`append`](Storage::append), [`write_at`](Storage::write_at),
//! [`truncate`](Storage::truncate), [`flush`](Storage::flush),
//! [`sync`](Storage::sync), [`is_writable`](Storage::is_writable),
//! [`refresh`](Storage::refresh) (provided: a no-op) and
//! [`share`](Storage::share); [`is_empty`](Storage::is_empty) is provided.
//! Every read then goes through `read_at`, which is always correct.
//!
//! The trait also has three fast-path hooks, hidden from this
//! documentation: `direct` (a prefix readable in place), `tail` (an append
//! buffer readable in place) and `as_vec_mut` (the whole storage as one
//! growable buffer that transactions write with plain memory operations).
//! The crate's backends implement them, so that the database reads its
//! bytes with no copy and no call through the trait; their defaults (empty
//! regions, no buffer) send everything through the ten methods above.
//!
//! They are hidden hooks with defaults rather than methods of a sealed
//! supertrait because a backend that wraps another one (to count reads,
//! inject faults or log writes) can then forward them to the backend it
//! wraps and keep its speed, which a sealed trait would forbid outside the
//! crate. Being hidden, they are not part of the documented contract: they
//! may change between releases, and a backend that implements them must
//! keep them exactly consistent with `read_at`, `append` and `write_at`.
//!
//! ```
//! use std::sync::Arc;
//! use xitdb::storage::{SharedBytes, Storage};
//! use xitdb::{Database, Options, Result};
//!
//! /// Bytes in a plain vector, every read through `read_at`.
//! struct Plain(Vec<u8>);
//!
//! impl Storage for Plain {
//!     fn len(&self) -> u64 {
//!         self.0.len() as u64
//!     }
//!     fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
//!         let bytes = usize::try_from(pos)
//!             .ok()
//!             .and_then(|p| self.0.get(p..p.checked_add(buf.len())?))
//!             .ok_or(xitdb::Error::InvalidArgument("read past the end"))?;
//!         buf.copy_from_slice(bytes);
//!         Ok(())
//!     }
//!     fn append(&mut self, data: &[u8]) -> Result<()> {
//!         self.0.extend_from_slice(data);
//!         Ok(())
//!     }
//!     fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
//!         let at = usize::try_from(pos)
//!             .ok()
//!             .and_then(|p| self.0.get_mut(p..p.checked_add(data.len())?))
//!             .ok_or(xitdb::Error::InvalidArgument("write past the end"))?;
//!         at.copy_from_slice(data);
//!         Ok(())
//!     }
//!     fn truncate(&mut self, len: u64) -> Result<()> {
//!         self.0.resize(len as usize, 0);
//!         Ok(())
//!     }
//!     fn flush(&mut self) -> Result<()> {
//!         Ok(())
//!     }
//!     fn sync(&mut self) -> Result<()> {
//!         Ok(())
//!     }
//!     fn is_writable(&self) -> bool {
//!         true
//!     }
//!     fn share(&self, len: u64) -> Result<SharedBytes> {
//!         Ok(Arc::new(self.0.get(..len as usize).unwrap_or(&[]).to_vec()))
//!     }
//! }
//!
//! let mut db = Database::open_storage(Plain(Vec::new()), Options::default())?;
//! db.transact(|tx| tx.root_map()?.put("hello", "world"))?;
//! let moment = db.moment(-1)?;
//! assert_eq!(&*moment.as_map()?.get(b"hello")?.unwrap().as_bytes()?, b"world");
//! # Ok::<(), xitdb::Error>(())
//! ```

mod file;
mod memory;

pub use file::FileStorage;
pub use memory::{MemoryStorage, SliceStorage};

use crate::error::{Error, Result};
use std::sync::Arc;

/// Bytes that can be shared with reader threads: an immutable view of the
/// storage at one instant, used by [`crate::Snapshot`].
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A byte store for a database.
///
/// Implementations must keep every byte below [`Storage::len`] readable,
/// and must return an error (never panic) for reads outside it. The
/// [module documentation](self) says which methods a backend implements,
/// with an example.
pub trait Storage: Send {
    /// Current length in bytes, including bytes not yet flushed.
    fn len(&self) -> u64;

    /// True when the storage holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `pos..pos + buf.len()`.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()>;

    /// Appends `data` at the end.
    fn append(&mut self, data: &[u8]) -> Result<()>;

    /// Overwrites bytes at `pos`; the range must lie below [`Storage::len`].
    fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()>;

    /// Changes the length (shrinking discards bytes; growing appends zeros).
    fn truncate(&mut self, len: u64) -> Result<()>;

    /// Hands buffered writes to the operating system (not durable yet).
    fn flush(&mut self) -> Result<()>;

    /// Makes every written byte durable (`fsync`); implies [`Storage::flush`].
    fn sync(&mut self) -> Result<()>;

    /// False for read-only storage.
    fn is_writable(&self) -> bool;

    /// Picks up bytes appended by another process since the storage was
    /// opened (read-only handles); a no-op where nothing else can write.
    fn refresh(&mut self) -> Result<()> {
        Ok(())
    }

    /// An immutable view of the first `len` bytes that other threads may
    /// read while this storage keeps being written. The bytes below `len`
    /// that a reader follows must not be modified afterwards (the database
    /// guarantees this for committed moments). Buffered bytes must have been
    /// flushed first.
    fn share(&self, len: u64) -> Result<SharedBytes>;

    /// Fast-path hook (see the [module documentation](self)): a prefix of
    /// the storage that can be read directly, without a copy. It may be
    /// shorter than [`Storage::len`] (the rest is read with
    /// [`Storage::read_at`]). The default is empty.
    #[doc(hidden)]
    fn direct(&self) -> &[u8] {
        &[]
    }

    /// Fast-path hook: a directly readable region at the end of the
    /// storage, its start position and its bytes, ending at
    /// [`Storage::len`]. Backends that buffer appends expose the buffer
    /// here, so that a transaction reads its own recent writes without a
    /// copy. The default is empty.
    #[doc(hidden)]
    fn tail(&self) -> (u64, &[u8]) {
        (self.len(), &[])
    }

    /// Fast-path hook: for a backend whose every byte is one growable
    /// buffer (position 0 first), that buffer, so that transactions write
    /// it with plain memory operations. Appending to it or overwriting it
    /// must be exactly [`Storage::append`] / [`Storage::write_at`]. The
    /// default is `None`.
    #[doc(hidden)]
    fn as_vec_mut(&mut self) -> Option<&mut Vec<u8>> {
        None
    }
}

/// Checks that `pos..pos+len` lies within `storage_len` and returns the end.
#[inline]
pub(crate) fn check_range(pos: u64, len: u64, storage_len: u64) -> Result<u64> {
    match pos.checked_add(len) {
        Some(end) if end <= storage_len => Ok(end),
        _ => Err(Error::OutOfBounds {
            pos,
            len,
            storage_len,
        }),
    }
}

/// Copies `buf.len()` bytes at `pos` out of `bytes`, or reports the overrun.
#[inline]
pub(crate) fn copy_from(bytes: &[u8], pos: u64, buf: &mut [u8]) -> Result<()> {
    let end = check_range(pos, buf.len() as u64, bytes.len() as u64)?;
    // check_range bounds both ends by bytes.len(), which fits in usize
    match bytes.get(pos as usize..end as usize) {
        Some(src) => {
            buf.copy_from_slice(src);
            Ok(())
        }
        None => Err(Error::OutOfBounds {
            pos,
            len: buf.len() as u64,
            storage_len: bytes.len() as u64,
        }),
    }
}

/// Overwrites `data.len()` bytes at `pos` inside `bytes`, or reports the
/// overrun.
#[inline]
pub(crate) fn copy_into(bytes: &mut [u8], pos: u64, data: &[u8]) -> Result<()> {
    let storage_len = bytes.len() as u64;
    let end = check_range(pos, data.len() as u64, storage_len)?;
    match bytes.get_mut(pos as usize..end as usize) {
        Some(dst) => {
            dst.copy_from_slice(data);
            Ok(())
        }
        None => Err(Error::OutOfBounds {
            pos,
            len: data.len() as u64,
            storage_len,
        }),
    }
}

/// Sets a buffer's length, zero-filling when it grows.
pub(crate) fn resize_buffer(v: &mut Vec<u8>, len: u64) -> Result<()> {
    let len = usize::try_from(len).map_err(|_| Error::InvalidArgument("length too large"))?;
    v.resize(len, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the same contract checks on any backend.
    pub(crate) fn exercise(s: &mut dyn Storage) {
        assert_eq!(s.len(), 0);
        s.append(b"hello").unwrap();
        s.append(&42u64.to_be_bytes()).unwrap();
        assert_eq!(s.len(), 13);
        let mut b = [0u8; 5];
        s.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        let mut n = [0u8; 8];
        s.read_at(5, &mut n).unwrap();
        assert_eq!(u64::from_be_bytes(n), 42);
        s.write_at(1, b"EL").unwrap();
        s.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hELlo");
        assert!(s.read_at(10, &mut [0u8; 4]).is_err());
        assert!(s.read_at(u64::MAX, &mut [0u8; 4]).is_err());
        assert!(s.write_at(12, b"xx").is_err());
        s.truncate(3).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.read_at(2, &mut [0u8; 2]).is_err());
        s.append(b"p!").unwrap();
        s.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"hELp!");
        s.flush().unwrap();
        let shared = s.share(5).unwrap();
        assert_eq!((*shared).as_ref(), b"hELp!");
        // appends after sharing do not disturb the shared view
        s.append(&[7u8; 4096]).unwrap();
        s.sync().unwrap();
        assert_eq!((*shared).as_ref(), b"hELp!");
        assert_eq!(s.len(), 5 + 4096);
    }

    /// A backend with only the documented contract: no fast-path hooks.
    struct Plain(MemoryStorage);

    impl Storage for Plain {
        fn len(&self) -> u64 {
            self.0.len()
        }
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
            self.0.read_at(pos, buf)
        }
        fn append(&mut self, data: &[u8]) -> Result<()> {
            self.0.append(data)
        }
        fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
            self.0.write_at(pos, data)
        }
        fn truncate(&mut self, len: u64) -> Result<()> {
            self.0.truncate(len)
        }
        fn flush(&mut self) -> Result<()> {
            self.0.flush()
        }
        fn sync(&mut self) -> Result<()> {
            self.0.sync()
        }
        fn is_writable(&self) -> bool {
            true
        }
        fn share(&self, len: u64) -> Result<SharedBytes> {
            self.0.share(len)
        }
    }

    #[test]
    fn a_backend_without_hooks_reads_everything_through_read_at() {
        let mut plain = Plain(MemoryStorage::new());
        assert!(plain.direct().is_empty() && plain.as_vec_mut().is_none());
        exercise(&mut plain);
        let store = Plain(MemoryStorage::new());
        let mut db = crate::Database::open_storage(store, crate::Options::default()).unwrap();
        for i in 0..40u64 {
            db.transact(|tx| tx.root_map()?.put(i.to_be_bytes(), i))
                .unwrap();
        }
        let snap = db.snapshot(-1).unwrap();
        let bytes = db.into_storage().0.into_vec();
        assert_eq!(
            crate::Database::from_bytes(bytes.clone()).unwrap().len(),
            bytes.len() as u64
        );
        let m = snap.cursor().as_map().unwrap();
        assert_eq!(
            m.get(7u64.to_be_bytes())
                .unwrap()
                .unwrap()
                .as_uint()
                .unwrap(),
            7
        );
        // the same bytes as the memory backend writes through its fast path
        let mut fast = crate::Database::memory();
        for i in 0..40u64 {
            fast.transact(|tx| tx.root_map()?.put(i.to_be_bytes(), i))
                .unwrap();
        }
        assert_eq!(fast.into_bytes(), bytes);
    }

    #[test]
    fn the_crate_backends_keep_their_fast_paths() {
        let mut m = MemoryStorage::from_vec(b"abc".to_vec());
        assert_eq!(m.direct(), b"abc");
        assert!(m.as_vec_mut().is_some());
        let dir = tempfile::tempdir().unwrap();
        let mut f = FileStorage::create(&dir.path().join("t.db")).unwrap();
        f.append(b"xyz").unwrap();
        assert_eq!(f.tail(), (0, &b"xyz"[..]));
        f.flush().unwrap();
        assert_eq!(f.direct(), b"xyz");
    }

    #[test]
    fn memory_contract() {
        exercise(&mut MemoryStorage::new());
    }

    #[test]
    fn file_contract() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = FileStorage::create(&dir.path().join("s.db")).unwrap();
        exercise(&mut f);
    }

    #[test]
    fn slice_is_read_only() {
        let data = b"abcdef".to_vec();
        let mut s = SliceStorage::new(&data);
        assert!(matches!(s.append(b"x"), Err(Error::ReadOnly)));
        let mut b = [0u8; 2];
        s.read_at(4, &mut b).unwrap();
        assert_eq!(&b, b"ef");
        assert_eq!(s.direct(), b"abcdef");
    }
}
