//! Builds a database file from a canonical JSON dump.
//!
//! `cargo run --example load -- [--list-family rrb|btree] JSON_FILE OUT_FILE`
//!
//! A dump does not say which layout its linked lists had; `--list-family`
//! chooses the one written. Without it, `rrb` (the layout this example
//! has always written, which xitdb before June 2026 reads).
use std::process::ExitCode;
use xitdb::ListFamily;

fn run(json_path: &str, out: &str, family: ListFamily) -> Result<(), xitdb::Error> {
    let json = std::fs::read_to_string(json_path)?;
    let store = xitdb::storage::FileStorage::create(std::path::Path::new(out))?;
    xitdb::json::load_json_with(&json, store, family)?;
    Ok(())
}

/// The `--list-family` value, and the other arguments.
fn parse(mut args: Vec<String>) -> Result<(ListFamily, Vec<String>), String> {
    let mut family = ListFamily::Rrb;
    if let Some(i) = args.iter().position(|a| a == "--list-family") {
        let value = args.get(i + 1).ok_or("--list-family needs rrb or btree")?;
        family = value.parse()?;
        args.drain(i..i + 2);
    }
    Ok((family, args))
}

fn main() -> ExitCode {
    let usage = "usage: load [--list-family rrb|btree] JSON_FILE OUT_FILE";
    let (family, args) = match parse(std::env::args().skip(1).collect()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("load: {e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let [json_path, out] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    match run(json_path, out, family) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
