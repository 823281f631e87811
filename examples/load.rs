//! Builds a database file from a canonical JSON dump.
//!
//! `cargo run --example load -- JSON_FILE OUT_FILE`
use std::process::ExitCode;

fn run(json_path: &str, out: &str) -> Result<(), xitdb::Error> {
    let json = std::fs::read_to_string(json_path)?;
    let store = xitdb::storage::FileStorage::create(std::path::Path::new(out))?;
    xitdb::json::load_json(&json, store)?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [json_path, out] = args.as_slice() else {
        eprintln!("usage: load JSON_FILE OUT_FILE");
        return ExitCode::from(2);
    };
    match run(json_path, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
