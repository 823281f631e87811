//! Marking a map to be stored as a sorted map.
//!
//! serde gives a serializer no way to tell a `BTreeMap` from a `HashMap`,
//! so the mark travels as a newtype struct with a reserved name: the typed
//! serializer recognises the name, every other serializer sees a plain
//! newtype and serializes the map inside unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The reserved newtype name that asks for a sorted map.
pub(crate) const SORTED_MARK: &str = "$xitdb::SortedMap";

/// A map stored as a sorted map (ordered keys, ranges, ranks) rather than a
/// hash map.
///
/// `Sorted(map)` serializes like `map` everywhere but in xitdb, where the
/// entries go into a sorted map; reading takes either kind. For a field,
/// `#[serde(with = "xitdb::typed::sorted_map")]` does the same without the
/// wrapper.
///
/// ```
/// use std::collections::BTreeMap;
/// use xitdb::{format::Tag, typed::Sorted, Database, Error};
///
/// let scores = BTreeMap::from([("bob".to_string(), 5u64), ("alice".to_string(), 9)]);
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root_map()?.put_typed("scores", &Sorted(&scores)))?;
/// let root = db.moment(-1)?.as_map()?;
/// let stored = root.get("scores")?.unwrap();
/// assert_eq!(stored.tag(), Tag::SortedMap);
/// assert_eq!(stored.as_sorted_map()?.first()?.unwrap().key_string()?, "alice");
/// assert_eq!(stored.read_typed::<BTreeMap<String, u64>>()?, scores);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sorted<M>(pub M);

impl<M: Serialize> Serialize for Sorted<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(SORTED_MARK, &self.0)
    }
}

impl<'de, M: Deserialize<'de>> Deserialize<'de> for Sorted<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        M::deserialize(deserializer).map(Sorted)
    }
}

/// Stores a map field as a sorted map:
/// `#[serde(with = "xitdb::typed::sorted_map")]`.
///
/// ```
/// use std::collections::BTreeMap;
/// use serde::{Deserialize, Serialize};
/// use xitdb::{format::Tag, Database, Error};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Index {
///     #[serde(with = "xitdb::typed::sorted_map")]
///     by_name: BTreeMap<String, u64>,
/// }
/// let index = Index { by_name: BTreeMap::from([("b".into(), 2), ("a".into(), 1)]) };
/// let mut db = Database::memory();
/// db.transact(|tx| tx.root().write_typed(&index))?;
/// let root = db.moment(-1)?.as_map()?;
/// assert_eq!(root.get("by_name")?.unwrap().tag(), Tag::SortedMap);
/// assert_eq!(db.moment(-1)?.read_typed::<Index>()?, index);
/// # Ok::<(), Error>(())
/// ```
pub mod sorted_map {
    use super::SORTED_MARK;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `map` marked as a sorted map.
    pub fn serialize<M: Serialize, S: Serializer>(
        map: &M,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(SORTED_MARK, map)
    }

    /// Deserializes the map (from a sorted or a hash map alike).
    pub fn deserialize<'de, M: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<M, D::Error> {
        M::deserialize(deserializer)
    }
}
