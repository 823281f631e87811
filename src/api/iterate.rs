//! `for` loops over views, and filling writers from iterators.
//!
//! Views are `Copy` handles, so both `for e in map` and `for e in &map`
//! work; each item is a `Result`, since reading a file can fail. The
//! writers take iterators through `try_extend` rather than
//! [`Extend`]: `Extend::extend` returns nothing, and a write can fail
//! (a full disk, a read-only file), which must not be lost or panic.

use crate::api::list::{Items, LinkedListMut, LinkedListView, ListMut, ListView};
use crate::api::map::{Entries, MapMut, MapView, SetMut, SetView};
use crate::api::value::Value;
use crate::error::Result;

macro_rules! into_iter {
    ($($view:ident => $iter:ident),*) => {$(
        impl<'r> IntoIterator for $view<'r> {
            type Item = <$iter<'r> as Iterator>::Item;
            type IntoIter = $iter<'r>;
            fn into_iter(self) -> $iter<'r> {
                self.iter()
            }
        }

        impl<'r> IntoIterator for &$view<'r> {
            type Item = <$iter<'r> as Iterator>::Item;
            type IntoIter = $iter<'r>;
            fn into_iter(self) -> $iter<'r> {
                self.iter()
            }
        }
    )*};
}
into_iter!(MapView => Entries, SetView => Entries, ListView => Items, LinkedListView => Items);

impl MapMut<'_> {
    /// Puts every `(key, value)` pair, in order; stops at the first error.
    ///
    /// ```
    /// use xitdb::{Database, Error};
    /// let mut db = Database::memory();
    /// db.transact(|tx| tx.root_map()?.try_extend([("ada", 1815u64), ("grace", 1906)]))?;
    /// let root = db.moment(-1)?.as_map()?;
    /// let mut born = 0;
    /// for entry in &root {
    ///     born += entry?.value()?.as_u64()?;
    /// }
    /// assert_eq!(born, 1815 + 1906);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_extend<'v, K, V, I>(&mut self, pairs: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: Into<Value<'v>>,
    {
        pairs.into_iter().try_for_each(|(k, v)| self.put(k, v))
    }
}

impl SetMut<'_> {
    /// Inserts every member, in order; stops at the first error.
    pub fn try_extend<K: AsRef<[u8]>, I: IntoIterator<Item = K>>(
        &mut self,
        members: I,
    ) -> Result<()> {
        members
            .into_iter()
            .try_for_each(|m| self.insert(m).map(drop))
    }
}

macro_rules! list_extend {
    ($($list:ident),*) => {$(
        impl $list<'_> {
            /// Appends every value, in order; stops at the first error.
            pub fn try_extend<'v, V: Into<Value<'v>>, I: IntoIterator<Item = V>>(
                &mut self,
                values: I,
            ) -> Result<()> {
                values.into_iter().try_for_each(|v| self.append(v))
            }
        }
    )*};
}
list_extend!(ListMut, LinkedListMut);
