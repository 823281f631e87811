//! The public API: the database and its history, transactions, snapshots,
//! read cursors and views, write cursors and handles, values and byte
//! streams.
//!
//! Everything here is re-exported at the crate root. This layer imports
//! `tree`, `format`, `storage` and `error`, never a tool: the conveniences
//! that tools add to [`Database`](database::Database) (`diff`, `verify`,
//! `compact_into`) live in `impl` blocks in the tools' own files.

pub(crate) mod bytes_io;
pub(crate) mod children;
pub(crate) mod convert;
pub(crate) mod cursor;
pub(crate) mod cursor_mut;
pub(crate) mod database;
pub(crate) mod iterate;
pub(crate) mod list;
pub(crate) mod map;
pub(crate) mod paths;
pub(crate) mod preview;
pub(crate) mod redo;
pub(crate) mod snapshot;
pub(crate) mod sorted;
pub(crate) mod stream;
#[cfg(feature = "serde")]
pub mod typed;
pub(crate) mod value;
