//! The persistent structures, on top of the byte format and a storage.
//!
//! One folder per structure: [`hamt`] (HashMap, HashSet and their counted
//! kinds), [`array_list`] (the radix list) and [`linked_list`] (the RRB
//! list), plus [`bytes`] (inline and out-of-line byte strings). Each knows
//! how to read itself from storage and how to change itself inside a
//! transaction through [`access::TxCore`], which holds the single
//! copy-on-write rule all of them share: a block written before the
//! transaction began is copied before it is changed; a block the
//! transaction wrote itself is changed in place.
//!
//! This layer imports only `format`, `storage` and `error`.

pub(crate) mod access;
pub(crate) mod array_list;
pub(crate) mod btree;
pub(crate) mod bytes;
pub(crate) mod hamt;
pub(crate) mod linked_list;
pub(crate) mod sorted;
