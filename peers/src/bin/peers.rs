//! `peers [SYSTEM|all] [FILTER]`: the standard workloads on a peer system.
//!
//! SYSTEM is `std`, `imbl`, `rpds` or `redb` (`all`, or nothing, for every
//! one of them); FILTER is a workload id (`W2`), optionally with a backend
//! (`W1:file`), so each workload/backend can run in a process of its own.
//! Prints one JSON line per workload (with `"system"`), says on stderr which
//! workloads the system skips and why, and exits non-zero if a result is
//! wrong. `peers --list` prints the coverage table.

// Benchmark harness over data it generates itself: indexing into its own
// vectors is checked by the workloads' result checks, not by the lint.
#![allow(clippy::indexing_slicing)]

use std::process::ExitCode;
use xitdb_peers::common::{hashes, Ctx, Res, N};
use xitdb_peers::{coverage, memory, redb_peer, COVERAGE};

/// The peer systems this binary runs, each with its dispatch.
type Run = fn(&str, &Ctx) -> Option<Res>;
const PEERS: [(&str, Run); 4] = [
    ("std", memory::run_std),
    ("imbl", memory::run_imbl),
    ("rpds", memory::run_rpds),
    ("redb", redb_peer::run_redb),
];

fn usage() -> ExitCode {
    eprintln!("usage: peers [std|imbl|rpds|redb|all] [WORKLOAD[:BACKEND]] | peers --list");
    ExitCode::from(2)
}

fn list() {
    for c in COVERAGE {
        for (id, backends) in c.runs {
            println!("{} {id} {}", c.system, backends.join(","));
        }
        for (id, why) in c.skips {
            println!("{} {id} skipped: {why}", c.system);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        list();
        return ExitCode::SUCCESS;
    }
    let system = args.first().map(String::as_str).unwrap_or("all");
    let filter = args.get(1).map(String::as_str);
    if args.len() > 2 || (system != "all" && !PEERS.iter().any(|p| p.0 == system)) {
        return usage();
    }
    let (id_filter, backend) = match filter.map(|f| f.split_once(':').unwrap_or((f, ""))) {
        Some((id, b)) => (Some(id), (!b.is_empty()).then(|| b.to_string())),
        None => (None, None),
    };
    if id_filter.is_some_and(|f| !xitdb_peers::WORKLOADS.contains(&f)) {
        return usage();
    }
    let dir = std::env::temp_dir().join(format!("xitdb-peers-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("peers: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let ctx = Ctx {
        h: hashes(N),
        dir,
        backend,
    };
    let mut failed = false;
    for (name, run) in PEERS.iter().filter(|p| system == "all" || p.0 == system) {
        let Some(cov) = coverage(name) else {
            eprintln!("peers: {name} has no coverage entry");
            failed = true;
            continue;
        };
        let wanted = |id: &str| id_filter.is_none_or(|f| f == id);
        for (id, backends) in cov.runs.iter().filter(|r| wanted(r.0)) {
            if let Some(b) = ctx.backend.as_deref().filter(|b| !backends.contains(b)) {
                eprintln!("peers: {name} {id} has no backend {b}");
                continue;
            }
            match run(id, &ctx) {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    eprintln!("peers: {name} {id} FAILED: {e}");
                    failed = true;
                }
                None => {
                    eprintln!("peers: {name} {id} is in the coverage table but not implemented");
                    failed = true;
                }
            }
        }
        for (id, why) in cov.skips.iter().filter(|s| wanted(s.0)) {
            eprintln!("peers: {name} skips {id}: {why}");
        }
    }
    let _ = std::fs::remove_dir_all(&ctx.dir);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
