//! The standard workloads of `shared/bench/WORKLOADS.md` on peer libraries,
//! for side-by-side figures with xitdb.
//!
//! Three binaries use this library: `workloads` runs them on xitdb and
//! prints one JSON line per workload; `peers` runs them on one peer system
//! (`std`, `imbl`, `rpds`, `redb`) and prints the same lines; `report` runs
//! xitdb and every peer, one workload per process, and prints a markdown
//! table of medians. [`COVERAGE`] is the one list of which system runs which
//! workload on which backend (and why the others are skipped): `peers` runs
//! from it and `report` plans its processes and its table rows from it.

// Benchmark harness over data it generates itself: indexing into its own
// vectors is checked by the workloads' result checks, not by the lint.
#![allow(clippy::indexing_slicing)]
#![warn(missing_docs)]

pub mod common;
pub mod memory;
pub mod redb_peer;

/// The workload ids of WORKLOADS.md, in spec order.
pub const WORKLOADS: [&str; 16] = [
    "W1", "W1b", "W2", "W2b", "W3", "W3d", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12",
    "W13",
];

/// What one system covers: the workloads it runs, each with its backends,
/// and the workloads it skips, each with the reason.
pub struct Coverage {
    /// The `"system"` field of its JSON lines.
    pub system: &'static str,
    /// (workload id, backends) in spec order.
    pub runs: &'static [(&'static str, &'static [&'static str])],
    /// (workload id, why it is skipped).
    pub skips: &'static [(&'static str, &'static str)],
}

const MEM: &[&str] = &["memory"];
const FILE: &[&str] = &["file"];
const BOTH: &[&str] = &["memory", "file"];

/// Which system runs which workload on which backend. The `xitdb` entry
/// is what the `workloads` binary runs; the others are run by the `peers`
/// binary.
pub const COVERAGE: &[Coverage] = &[
    Coverage {
        system: "xitdb",
        runs: &[
            ("W1", BOTH),
            ("W1b", BOTH),
            ("W2", FILE),
            ("W2b", FILE),
            ("W3", FILE),
            ("W3d", FILE),
            ("W4", MEM),
            ("W5", MEM),
            ("W6", FILE),
            ("W7", FILE),
            ("W8", MEM),
            ("W9", FILE),
            ("W10", BOTH),
            ("W11", FILE),
            ("W12", FILE),
            ("W13", MEM),
        ],
        skips: &[],
    },
    Coverage {
        system: "std",
        runs: &[
            ("W1", MEM),
            ("W1b", MEM),
            ("W2", MEM),
            ("W2b", MEM),
            ("W4", MEM),
            ("W5", MEM),
            ("W6", MEM),
            ("W8", MEM),
            ("W10", MEM),
            ("W11", MEM),
            ("W12", MEM),
            ("W13", MEM),
        ],
        skips: &[
            ("W3", "std has no versions: keeping 10,000 moments means cloning the whole map per transaction (unbounded)"),
            ("W3d", "std has no persistence (no durable commit)"),
            ("W7", "std keeps no versions to travel to (see W3)"),
            ("W9", "std has no file to open"),
        ],
    },
    Coverage {
        system: "imbl",
        runs: &[
            ("W1", MEM),
            ("W1b", MEM),
            ("W2", MEM),
            ("W2b", MEM),
            ("W3", MEM),
            ("W4", MEM),
            ("W5", MEM),
            ("W6", MEM),
            ("W7", MEM),
            ("W8", MEM),
            ("W10", MEM),
            ("W11", MEM),
            ("W12", MEM),
            ("W13", MEM),
        ],
        skips: &[
            ("W3d", "imbl has no persistence (no durable commit)"),
            ("W9", "imbl has no file to open"),
        ],
    },
    Coverage {
        system: "rpds",
        runs: &[
            ("W1", MEM),
            ("W1b", MEM),
            ("W2", MEM),
            ("W2b", MEM),
            ("W3", MEM),
            ("W4", MEM),
            ("W5", MEM),
            ("W6", MEM),
            ("W7", MEM),
            ("W10", MEM),
            ("W11", MEM),
            ("W12", MEM),
        ],
        skips: &[
            ("W3d", "rpds has no persistence (no durable commit)"),
            ("W8", "rpds::Vector has no insert/remove at an index nor slice/concat (only push_back/drop_last/set)"),
            ("W9", "rpds has no file to open"),
            ("W13", "as W8"),

        ],
    },
    Coverage {
        system: "redb",
        runs: &[
            ("W1", BOTH),
            ("W1b", BOTH),
            ("W2", FILE),
            ("W2b", FILE),
            ("W3", FILE),
            ("W3d", FILE),
            ("W6", FILE),
            ("W9", FILE),
            ("W10", BOTH),
            ("W11", FILE),
            ("W12", FILE),
        ],
        skips: &[
            ("W4", "redb has no list type (a u64-keyed table would be a different workload)"),
            ("W5", "redb has no list type (see W4)"),
            ("W7", "redb keeps no old versions readable by index (savepoints restore, they are not readable)"),
            ("W8", "redb has no list type with insert/remove at a position"),
            ("W13", "as W8"),
        ],
    },
];

/// The coverage entry of `system`, if there is one.
pub fn coverage(system: &str) -> Option<&'static Coverage> {
    COVERAGE.iter().find(|c| c.system == system)
}
