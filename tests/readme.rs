//! The README's quick start is the code of examples/quickstart.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[test]
fn readme_quick_start_is_the_quickstart_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/quickstart.rs")).unwrap();
    let start = readme.find("```rust\n").expect("a rust code block") + "```rust\n".len();
    let len = readme[start..].find("```").expect("closed code block");
    let block = &readme[start..start + len];
    // the example may carry a leading doc comment; the code must match exactly
    let code: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block, code);
}
