//! The CLI's path parser (`cli/src/path.rs`, included as it is): any text
//! either fails to parse or parses to steps that `display` writes back as
//! text parsing to the same steps; `to_json` and the per-step text never
//! panic.
#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/path.rs"]
mod path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(steps) = path::parse(text) else {
        return;
    };
    let shown = path::display(&steps);
    match path::parse(&shown) {
        Ok(again) => assert_eq!(again, steps, "{text:?} displayed as {shown:?}"),
        Err(e) => panic!("{text:?} displayed as {shown:?}, which does not parse: {e}"),
    }
    let json = path::to_json(&steps);
    assert!(
        xitdb_fuzz::is_json(&json),
        "{text:?}: to_json gave {json:?}"
    );
    for (i, s) in steps.iter().enumerate() {
        let _ = path::step_text(s, i == 0);
    }
});
