//! The canonical JSON dump of a database, and its inverse.
//!
//! The schema is the one the golden files use: compact, keys in a fixed
//! order, map entries sorted by hash, floats in shortest round-trip
//! scientific form. [`dump_json`] renders a database; [`load_json`] builds
//! a database that dumps to the same text. [`dump_value`] renders one value
//! and [`write_json_value`] writes one value back.

mod dump;
mod float;
mod load;

pub use dump::{dump_json, dump_value};
pub use float::format_float;
pub use load::{load_json, load_json_with, write_json_value};
