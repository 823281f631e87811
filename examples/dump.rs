//! Prints the canonical JSON of a database file.
//!
//! `cargo run --example dump -- FILE`
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE");
        return ExitCode::from(2);
    };
    match xitdb::Database::open_read_only(&path).and_then(|db| xitdb::json::dump_json(&db)) {
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
