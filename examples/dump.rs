//! Prints the canonical JSON of a database file.
//!
//! `cargo run --example dump -- [--list-family rrb|btree|auto] FILE`
//!
//! Nothing in a file says which layout its linked lists use: `auto` (the
//! default) infers it from what the file holds and fails rather than guess
//! when it cannot tell; `rrb` or `btree` says it.
use std::process::ExitCode;
use xitdb::{Database, ListFamily, Options};

/// The `--list-family` value (`None` for `auto`), and the other arguments.
fn parse(mut args: Vec<String>) -> Result<(Option<ListFamily>, Vec<String>), String> {
    let mut family = None;
    if let Some(i) = args.iter().position(|a| a == "--list-family") {
        let value = args
            .get(i + 1)
            .ok_or("--list-family needs rrb, btree or auto")?;
        if value != "auto" {
            family = Some(value.parse()?);
        }
        args.drain(i..i + 2);
    }
    Ok((family, args))
}

fn main() -> ExitCode {
    let usage = "usage: dump [--list-family rrb|btree|auto] FILE";
    let (family, args) = match parse(std::env::args().skip(1).collect()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("dump: {e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let [path] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let opts = Options {
        list_family: family,
        ..Options::default()
    };
    match Database::open_read_only_with(path, opts).and_then(|db| xitdb::json::dump_json(&db)) {
        Ok(json) => {
            print!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dump: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
