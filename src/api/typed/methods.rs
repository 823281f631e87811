//! The typed entry points on cursors, views, handles and snapshots.

use super::de::from_cursor;
use super::ser::to_node;
use super::write::{differs, write_differing};
use crate::api::cursor::Cursor;
use crate::api::cursor_mut::CursorMut;
use crate::api::list::{LinkedListMut, LinkedListView, ListMut, ListView};
use crate::api::map::{MapMut, MapView};
use crate::api::snapshot::Snapshot;
use crate::api::sorted::{SortedMapMut, SortedMapView};
use crate::error::Result;
use serde::{Deserialize, Serialize};

impl<'r> Cursor<'r> {
    /// Reads the value here as a `T` (see [`typed`](crate::typed) for how
    /// stored kinds map to Rust types).
    ///
    /// `T` may borrow (`&'r str`, `&'r [u8]`) from the database's bytes
    /// when the storage holds them in place.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root().write_typed(&("ada", 1815u32, vec![1.5f64])))?;
    /// let moment = db.moment(-1)?;
    /// let (name, born, xs): (&str, u32, Vec<f64>) = moment.read_typed()?;
    /// assert_eq!((name, born, xs), ("ada", 1815, vec![1.5]));
    /// // the wrong shape is an error, not a panic
    /// let err = moment.read_typed::<(String, String)>().unwrap_err();
    /// assert_eq!(err.to_string(), "[1]: expected bytes, found uint");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_typed<T: Deserialize<'r>>(&self) -> Result<T> {
        from_cursor(*self)
    }
}

impl CursorMut<'_> {
    /// Writes `value` here as native structures, writing only what differs
    /// from the value already stored (see [`typed`](crate::typed)).
    ///
    /// ```
    /// use serde::Serialize;
    /// use xitdb::{Database, Error};
    /// #[derive(Serialize)]
    /// struct Config { theme: &'static str, font_size: u32 }
    ///
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root().write_typed(&Config { theme: "dark", font_size: 12 }))?;
    /// let before = db.len();
    /// // the same value again: nothing but the new moment is written
    /// db.transact(|tx| tx.root().write_typed(&Config { theme: "dark", font_size: 12 }))?;
    /// let changes = db.diff(0, 1)?.count();
    /// assert_eq!(changes, 0);
    /// assert!(db.len() - before < 100);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn write_typed<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let node = to_node(value)?;
        if differs(&self.read()?, &node)? {
            write_differing(self.reborrow(), &node)?;
        }
        Ok(())
    }
}

macro_rules! map_view_typed {
    ($($view:ident),*) => {$(
        impl<'r> $view<'r> {
            /// Reads the value under `key` as a `T`; `None` when the key is
            /// absent. A typed error's path starts at the key.
            pub fn get_typed<T: Deserialize<'r>>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
                let key = key.as_ref();
                self.get(key)?
                    .map(|c| c.read_typed().map_err(|e| e.at_key(key)))
                    .transpose()
            }
        }
    )*};
}
map_view_typed!(MapView, SortedMapView);

macro_rules! list_view_typed {
    ($($view:ident),*) => {$(
        impl<'r> $view<'r> {
            /// Reads the item at `index` (negative counts from the end) as
            /// a `T`; `None` out of range. A typed error's path starts at
            /// the index.
            pub fn get_typed<T: Deserialize<'r>>(&self, index: i64) -> Result<Option<T>> {
                let at = if index < 0 { self.len().saturating_sub(index.unsigned_abs()) } else { index as u64 };
                self.get(index)?
                    .map(|c| c.read_typed().map_err(|e| e.at_index(at)))
                    .transpose()
            }
        }
    )*};
}
list_view_typed!(ListView, LinkedListView);

/// Writes `node` into the slot `key` of a map handle, unless it already
/// holds an equal value (then not even the path to the entry is copied).
macro_rules! put_typed {
    ($($handle:ident),*) => {$(
        impl $handle<'_> {
            /// Stores `value` under `key` as native structures, writing only
            /// what differs from the value stored there (see
            /// [`typed`](crate::typed)).
            pub fn put_typed<T: Serialize + ?Sized>(&mut self, key: impl AsRef<[u8]>, value: &T) -> Result<()> {
                let key = key.as_ref();
                let node = to_node(value).map_err(|e| e.at_key(key))?;
                let changed = match self.get(key)? {
                    Some(stored) => differs(&stored, &node)?,
                    None => true,
                };
                if changed {
                    write_differing(self.entry(key)?, &node).map_err(|e| e.at_key(key))?;
                }
                Ok(())
            }
        }
    )*};
}
put_typed!(MapMut, SortedMapMut);

macro_rules! list_mut_typed {
    ($($handle:ident),*) => {$(
        impl $handle<'_> {
            /// Appends `value` as native structures.
            pub fn append_typed<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                let node = to_node(value)?;
                write_differing(self.append_cursor()?, &node)
            }

            /// Replaces the item at `index` (negative counts from the end)
            /// with `value`, writing only what differs from the stored item.
            pub fn put_typed<T: Serialize + ?Sized>(&mut self, index: i64, value: &T) -> Result<()> {
                self.cursor(index)?.write_typed(value)
            }
        }
    )*};
}
list_mut_typed!(ListMut, LinkedListMut);

impl Snapshot {
    /// Reads the snapshot's root as a `T`, from any thread.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root().write_typed(&HashMap::from([("n", 1u64)])))?;
    /// let snap = db.snapshot(-1)?;
    /// let reader = std::thread::spawn(move || snap.read_typed::<HashMap<String, u64>>());
    /// assert_eq!(reader.join().unwrap()?["n"], 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_typed<'s, T: Deserialize<'s>>(&'s self) -> Result<T> {
        self.cursor().read_typed()
    }

    /// Reads the value under `key` of the snapshot's root map as a `T`.
    pub fn get_typed<'s, T: Deserialize<'s>>(&'s self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        self.cursor().as_map()?.get_typed(key)
    }
}
