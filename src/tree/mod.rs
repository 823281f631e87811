//! The persistent structures, on top of the byte format and a storage.
//!
//! Each structure knows how to read itself from storage and how to change
//! itself inside a transaction through [`access::TxCore`], which holds the
//! single copy-on-write rule all of them share.

pub(crate) mod access;
pub(crate) mod array_list;
pub(crate) mod bytes;
pub(crate) mod hamt;
pub(crate) mod linked_edit;
pub(crate) mod linked_list;
