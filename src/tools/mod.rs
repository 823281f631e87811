//! Tools over whole databases: [`diff`] between moments, [`compact`]ion
//! that keeps history, [`verify`](mod@verify) of every reachable byte, and the
//! canonical [`json`] dump and load, and [`stats`] of where a history's
//! bytes went.
//!
//! Tools sit on top of the API: they may import any layer below, and add
//! their conveniences to [`Database`](crate::Database) in `impl` blocks of
//! their own files, so nothing below imports a tool. Each module is public
//! at the crate root (`xitdb::diff`, `xitdb::compact`, ...), its one path.

pub mod compact;
pub mod diff;
pub mod json;
pub mod stats;
pub mod verify;
