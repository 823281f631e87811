//! The value tree a typed value is serialized into before it is written.
//!
//! Serializing into a small tree first, rather than straight into the
//! database, lets the writer compare the whole new value with the stored
//! one and write only what differs (see `write.rs`).

/// A typed value taken apart into what xitdb stores.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// An explicit none.
    Null,
    /// An unsigned integer.
    Uint(u64),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Bytes without a format tag (text or a byte buffer).
    Bytes(Vec<u8>),
    /// An array list.
    List(Vec<Node>),
    /// A hash map, in serialization order (a later duplicate key wins).
    Map(Vec<(Vec<u8>, Node)>),
    /// A sorted map, in serialization order (a later duplicate key wins).
    Sorted(Vec<(Vec<u8>, Node)>),
}

/// The kind names used in typed errors: what a type expects or a slot holds.
pub(crate) mod kind {
    use crate::format::Tag;

    pub const NONE: &str = "none";
    pub const UINT: &str = "uint";
    pub const INT: &str = "int";
    pub const FLOAT: &str = "float";
    pub const BYTES: &str = "bytes";
    pub const LIST: &str = "list";
    pub const MAP: &str = "map";
    pub const ENUM: &str = "an enum (bytes or a one-entry map)";

    /// The kind a stored tag holds, named as typed errors name it
    /// (both byte encodings are "bytes", both map kinds "map").
    pub fn of(tag: Tag) -> &'static str {
        match tag {
            Tag::None => NONE,
            Tag::Uint => UINT,
            Tag::Int => INT,
            Tag::Float => FLOAT,
            Tag::Bytes | Tag::ShortBytes => BYTES,
            Tag::ArrayList | Tag::LinkedArrayList => LIST,
            Tag::HashMap | Tag::CountedHashMap => MAP,
            Tag::HashSet | Tag::CountedHashSet => "set",
            Tag::SortedMap => "sorted map",
            Tag::SortedSet => "sorted set",
            Tag::Index | Tag::KvPair => "internal node",
        }
    }
}
