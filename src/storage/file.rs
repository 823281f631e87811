//! File storage: buffered appends, memory-mapped reads, a writer lock.
//!
//! Appends collect in a write buffer and reach the file in large writes
//! (when the buffer fills, and at every flush). Reads of bytes already in the
//! file come straight from a shared memory map, with no system call; the map
//! is made larger than the file so it is replaced only when the file outgrows
//! it. A writable handle holds an exclusive lock on the file, so a second
//! writer — another handle or another process — gets [`Error::Locked`], or
//! waits for the lock when asked to ([`FileStorage::open_waiting`]).

use super::{check_range, SharedBytes, Storage};
use crate::error::{Error, Result};
use memmap2::{Mmap, MmapOptions};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of pending appends that trigger a write to the file before the
/// next flush. Large on purpose: a transaction changes its own new blocks in
/// place, and while they sit in the buffer that is a memory write; once
/// written to the file it is a system call each. Transactions larger than
/// this still work, paying `pwrite`s for in-place changes to their flushed
/// part.
const FLUSH_THRESHOLD: usize = 64 << 20;
/// A writer waiting for the lock tries again after this long at first,
/// then twice as long each time, up to `LOCK_POLL_MAX`.
const LOCK_POLL_MIN: Duration = Duration::from_millis(1);
const LOCK_POLL_MAX: Duration = Duration::from_millis(50);
/// Smallest memory map made (virtual address space only).
const MIN_MAP: u64 = 1 << 20;
/// Zeros written past the end at a time once the file is being synced:
/// between a quarter of the file and these bounds.
const PAD_MIN: u64 = 256 << 10;
const PAD_MAX: u64 = 64 << 20;

/// A database file.
///
/// The storage of [`Database::create`](crate::Database::create),
/// [`Database::open`](crate::Database::open) and
/// [`Database::open_read_only`](crate::Database::open_read_only). A
/// writable handle holds the file's exclusive lock until it is dropped.
///
/// ```
/// use xitdb::storage::{FileStorage, Storage};
/// use xitdb::{Database, Error, Options};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.xdb");
/// let storage = FileStorage::create(&path)?;
/// assert!(storage.is_writable());
/// let mut db = Database::open_storage(storage, Options::default())?;
/// db.transact(|tx| tx.root_map()?.put("k", 1u64))?;
/// // a second writer is refused while the first holds the lock
/// assert!(matches!(FileStorage::open(&path), Err(Error::Locked)));
/// // readers take no lock
/// let reader = Database::open_storage(FileStorage::open_read_only(&path)?, Options::default())?;
/// assert_eq!(reader.moment_count()?, 1);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct FileStorage {
    file: File,
    /// Map of the file; valid for reads below `file_len`.
    map: Option<Arc<Mmap>>,
    map_len: u64,
    /// Bytes written to the file.
    file_len: u64,
    /// Pending appends, logically at `file_len..`.
    buf: Vec<u8>,
    /// The file's real length: `file_len` plus zeros written ahead of the
    /// appends (see [`FileStorage::flush`]).
    phys_len: u64,
    /// Set once the file has been synced: from then on appends land in
    /// zeros written ahead, so that syncing needs no metadata update.
    pad: bool,
    writable: bool,
}

/// A prefix of a shared memory map, handed to snapshots.
struct MapPrefix {
    map: Arc<Mmap>,
    len: usize,
}

impl AsRef<[u8]> for MapPrefix {
    fn as_ref(&self) -> &[u8] {
        self.map.get(..self.len).unwrap_or(&[])
    }
}

impl FileStorage {
    /// Creates (or truncates to empty) a file and locks it for writing;
    /// fails with [`Error::Locked`] at once while another writer holds it.
    pub fn create(path: &Path) -> Result<Self> {
        Self::create_waiting(path, None)
    }

    /// Opens an existing file (creating it if missing) and locks it for
    /// writing; fails with [`Error::Locked`] at once while another writer
    /// holds it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_waiting(path, None)
    }

    /// [`FileStorage::create`], waiting up to `wait` for another writer
    /// to let go of the lock (`None`: not at all). The file is truncated
    /// only once the lock is held.
    pub fn create_waiting(path: &Path, wait: Option<Duration>) -> Result<Self> {
        let file = open_locked(path, wait)?;
        file.set_len(0)?;
        Self::from_file(file, true)
    }

    /// [`FileStorage::open`], waiting up to `wait` for another writer to
    /// let go of the lock (`None`: not at all). A lock that is still held
    /// when the wait runs out gives [`Error::LockTimedOut`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use xitdb::storage::FileStorage;
    /// use xitdb::Error;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.xdb");
    /// let first = FileStorage::create(&path)?;
    /// let wait = Some(Duration::from_millis(20));
    /// assert!(matches!(
    ///     FileStorage::open_waiting(&path, wait),
    ///     Err(Error::LockTimedOut { .. })
    /// ));
    /// drop(first);
    /// assert!(FileStorage::open_waiting(&path, wait).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn open_waiting(path: &Path, wait: Option<Duration>) -> Result<Self> {
        Self::from_file(open_locked(path, wait)?, true)
    }

    /// Opens an existing file for reading only; takes no lock.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let file = OpenOptions::new().read(true).open(path)?;
        Self::from_file(file, false)
    }

    fn from_file(file: File, writable: bool) -> Result<Self> {
        let file_len = file.metadata()?.len();
        let mut s = FileStorage {
            file,
            map: None,
            map_len: 0,
            file_len,
            buf: Vec::new(),
            phys_len: file_len,
            pad: false,
            writable,
        };
        s.remap()?;
        Ok(s)
    }

    /// Makes sure the map covers every byte in the file.
    fn remap(&mut self) -> Result<()> {
        if self.file_len == 0 || (self.map.is_some() && self.file_len <= self.map_len) {
            return Ok(());
        }
        let want = if self.writable {
            self.file_len.saturating_mul(2).max(MIN_MAP)
        } else {
            self.file_len
        };
        let len = usize::try_from(want).map_err(|_| Error::InvalidArgument("file too large"))?;
        // SAFETY: the map is only read below `file_len`, bytes that exist in
        // the file. A writable handle holds the exclusive lock, so no other
        // cooperating writer changes or shrinks the file; bytes this handle
        // rewrites in place are never read through a map while written (the
        // writer reads through `&self` and writes through `&mut self`).
        // Another process truncating the file behind our back is outside the
        // contract, as for every memory-mapped database.
        #[expect(
            unsafe_code,
            reason = "memory-mapped reads: W2/W9 read slots in place instead of a pread per slot"
        )]
        let map = unsafe { MmapOptions::new().len(len).map(&self.file)? };
        self.map = Some(Arc::new(map));
        self.map_len = want;
        Ok(())
    }

    fn mapped(&self) -> &[u8] {
        match &self.map {
            Some(m) => m.get(..self.file_len as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    fn write_file_at(&self, pos: u64, data: &[u8]) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(data, pos)?;
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0usize;
            while let Some(rest) = data.get(done..).filter(|r| !r.is_empty()) {
                let n = self.file.seek_write(rest, pos + done as u64)?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
                }
                done += n;
            }
        }
        Ok(())
    }

    /// Writes zeros past the end of the data, a quarter of the file's
    /// length at a time (bounded), unless enough are there already.
    fn pad_ahead(&mut self) -> Result<()> {
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let want = self.file_len + (self.file_len / 4).clamp(PAD_MIN, PAD_MAX);
        while self.phys_len < want {
            let n = (want - self.phys_len).min(ZEROS.len() as u64) as usize;
            self.write_file_at(self.phys_len, ZEROS.get(..n).unwrap_or(&[]))?;
            self.phys_len += n as u64;
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly)
        }
    }
}

impl Drop for FileStorage {
    /// Releases the writer lock now: snapshots may keep the file mapped
    /// (and so open) after the writer is gone, and must not keep it locked.
    fn drop(&mut self) {
        if self.writable {
            // Zeros written ahead go; bytes past `file_len` are never data
            // (pending appends are uncommitted and dropped with the handle).
            if self.phys_len > self.file_len {
                let _ = self.file.set_len(self.file_len);
            }
            let _ = self.file.unlock();
        }
    }
}

/// Opens `path` for reading and writing (creating it) under an exclusive
/// lock, waiting up to `wait` for it; the file is not truncated before the
/// lock is held.
///
/// The lock is the operating system's advisory whole-file lock (`flock` on
/// Unix, `LockFileEx` on Windows, through `File::try_lock`): it belongs to
/// the open file, so a second handle in the same process is refused like
/// another process, and it goes away when the holder closes the file or
/// dies, however it dies.
fn open_locked(path: &Path, wait: Option<Duration>) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let start = Instant::now();
    let mut pause = LOCK_POLL_MIN;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
            Err(std::fs::TryLockError::WouldBlock) => {}
        }
        let waited = start.elapsed();
        let left = match wait {
            None => return Err(Error::Locked),
            Some(w) if waited >= w => return Err(Error::LockTimedOut { waited }),
            Some(w) => w - waited,
        };
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(LOCK_POLL_MAX);
    }
}

impl Storage for FileStorage {
    fn len(&self) -> u64 {
        self.file_len + self.buf.len() as u64
    }

    fn direct(&self) -> &[u8] {
        self.mapped()
    }

    fn tail(&self) -> (u64, &[u8]) {
        (self.file_len, &self.buf)
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let end = check_range(pos, buf.len() as u64, self.len())?;
        let split = self.file_len.clamp(pos, end);
        let (from_map, from_buf) = buf.split_at_mut((split - pos) as usize);
        if !from_map.is_empty() {
            super::copy_from(self.mapped(), pos, from_map)?;
        }
        if !from_buf.is_empty() {
            super::copy_from(&self.buf, split - self.file_len, from_buf)?;
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= FLUSH_THRESHOLD {
            self.flush()?;
        }
        Ok(())
    }

    fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        let end = check_range(pos, data.len() as u64, self.len())?;
        let split = self.file_len.clamp(pos, end);
        let (to_file, to_buf) = data.split_at((split - pos) as usize);
        if !to_file.is_empty() {
            self.write_file_at(pos, to_file)?;
        }
        if !to_buf.is_empty() {
            let start = (split - self.file_len) as usize;
            if let Some(dst) = self.buf.get_mut(start..start + to_buf.len()) {
                dst.copy_from_slice(to_buf);
            }
        }
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        self.check_writable()?;
        if len >= self.file_len {
            let keep = (len - self.file_len) as usize;
            self.buf.resize(keep, 0);
        } else {
            self.buf.clear();
            self.file.set_len(len)?;
            self.file_len = len;
            self.phys_len = len;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.write_file_at(self.file_len, &self.buf)?;
        let end = self.file_len + self.buf.len() as u64;
        self.file_len = end;
        self.phys_len = self.phys_len.max(end);
        self.buf.clear();
        if self.pad && end == self.phys_len {
            self.pad_ahead()?;
        }
        self.remap()
    }

    /// Makes every byte durable with `fdatasync`. Syncing a file whose
    /// length changed also commits the file system's journal (the new
    /// length is metadata), which costs about as much again; so once a file
    /// is synced, zeros are written ahead of its end in large steps and
    /// later appends overwrite them, leaving most syncs with data only. The
    /// zeros lie past the header's `file_size`, where every xitdb
    /// implementation ignores (and a writable open drops) bytes, and a
    /// closing writer cuts them off.
    fn sync(&mut self) -> Result<()> {
        self.flush()?;
        if self.writable {
            if !self.pad {
                self.pad = true;
                self.pad_ahead()?;
            }
            self.file.sync_data()?;
        }
        Ok(())
    }

    fn is_writable(&self) -> bool {
        self.writable
    }

    fn refresh(&mut self) -> Result<()> {
        if !self.writable {
            let len = self.file.metadata()?.len();
            if len > self.file_len {
                self.file_len = len;
                self.remap()?;
            }
        }
        Ok(())
    }

    fn share(&self, len: u64) -> Result<SharedBytes> {
        check_range(0, len, self.file_len)?;
        match &self.map {
            Some(map) => Ok(Arc::new(MapPrefix {
                map: map.clone(),
                len: len as usize,
            })),
            None => Ok(Arc::new(Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_and_readers_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let mut a = FileStorage::create(&p).unwrap();
        a.append(b"abc").unwrap();
        a.flush().unwrap();
        assert!(matches!(FileStorage::open(&p), Err(Error::Locked)));
        let r = FileStorage::open_read_only(&p).unwrap();
        assert_eq!(r.direct(), b"abc");
        drop(a);
        assert!(FileStorage::open(&p).is_ok());
    }

    #[test]
    fn reads_span_file_and_buffer_and_survive_remaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::create(&dir.path().join("y.db")).unwrap();
        let chunk: Vec<u8> = (0..=255u8).collect();
        for _ in 0..(3 * MIN_MAP as usize / 256) {
            s.append(&chunk).unwrap();
        }
        s.flush().unwrap();
        s.append(b"tail").unwrap();
        let mut b = [0u8; 6];
        s.read_at(s.len() - 6, &mut b).unwrap();
        assert_eq!(&b, &[254, 255, b't', b'a', b'i', b'l']);
        s.write_at(s.len() - 6, b"XYZW").unwrap();
        s.read_at(s.len() - 6, &mut b).unwrap();
        assert_eq!(&b, b"XYZWil");
        assert_eq!(s.direct().len() as u64, s.len() - 4);
    }
}
