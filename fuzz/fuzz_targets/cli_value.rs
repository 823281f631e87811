//! The CLI's value parser (`cli/src/value.rs`, included as it is, with the
//! modules it uses): any text either fails to parse or gives a canonical
//! value that parses to itself again; a value that writes reads back
//! (`full`, as `get` prints it) as text that `put` parses and writes to
//! the same value; the other printers never panic, and `pretty` keeps
//! the JSON it indents.
#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../../cli/src/path.rs"]
mod path;
#[allow(dead_code)]
#[path = "../../cli/src/value.rs"]
mod value;

use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;
use xitdb::{Database, Error};

/// Writes `v` as the root of a new moment; its `full` text, or `None`
/// when the library refuses the value.
fn write_and_read(v: &Json) -> Option<String> {
    let mut db = Database::memory();
    db.transact(|tx| value::write(tx.root(), v).map_err(|_| Error::InvalidArgument("refused")))
        .ok()?;
    let c = db.moment(-1).expect("the moment just written");
    let _ = value::plain(&c);
    let _ = value::short(&c);
    let _ = value::size(&c);
    Some(value::full(&c).expect("a written value reads back"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = value::pretty(text);
    let Ok(v) = value::parse(text) else {
        return;
    };
    let canonical = v.to_string();
    match value::parse(&canonical) {
        Ok(again) => assert_eq!(again, v, "{text:?} -> {canonical}"),
        Err(e) => panic!("{text:?} -> {canonical}, which does not parse: {e}"),
    }
    let Some(full) = write_and_read(&v) else {
        return;
    };
    let back = value::parse(&full).unwrap_or_else(|e| panic!("{text:?}: get printed {full}: {e}"));
    assert_eq!(
        write_and_read(&back).as_deref(),
        Some(full.as_str()),
        "{text:?}: put of get's {full} writes something else"
    );
    if let Ok(j) = serde_json::from_str::<Json>(&full) {
        let p: Json = serde_json::from_str(&value::pretty(&full)).expect("pretty JSON parses");
        assert_eq!(p, j, "pretty changed {full}");
    }
});
