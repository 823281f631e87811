//! The `xitdb` binary, driven as a user would: arguments, standard input,
//! exit codes, standard output and standard error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/golden")
        .join(name)
}

fn xitdb(args: &[&str]) -> Output {
    xitdb_in(args, None)
}

/// Runs the binary with `stdin` as its standard input (none: empty).
fn xitdb_in(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xitdb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xitdb");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            // a command that does not read its input may be gone already
            let _ = input.write_all(s.as_bytes());
        }
    }
    child.wait_with_output().expect("wait for xitdb")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must succeed; returns its standard output.
fn ok(args: &[&str]) -> String {
    let out = xitdb(args);
    assert!(
        out.status.success(),
        "xitdb {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail cleanly; returns its one line of stderr.
fn fails(args: &[&str]) -> String {
    let out = xitdb(args);
    check_clean_failure(args, &out)
}

fn check_clean_failure(args: &[&str], out: &Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "xitdb {args:?} should exit 1; stderr: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "xitdb {args:?} panicked: {err}"
    );
    assert!(
        err.starts_with("xitdb: error: "),
        "xitdb {args:?}: stderr {err:?}"
    );
    assert_eq!(err.lines().count(), 1, "xitdb {args:?}: stderr {err:?}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn help_reads_well() {
    let top = ok(&["--help"]);
    for word in [
        "info",
        "log",
        "dump",
        "load",
        "get",
        "put",
        "remove",
        "diff",
        "verify",
        "compact",
        "shell",
        "range",
        "--wait <SECS>",
        "Examples:",
    ] {
        assert!(top.contains(word), "--help lacks {word}: {top}");
    }
    let put = ok(&["help", "put"]);
    assert!(
        put.contains("PATH syntax") && put.contains("VALUE syntax"),
        "{put}"
    );
    assert!(
        put.contains("{\"int\":5}") && put.contains("created"),
        "{put}"
    );
    assert!(put.contains("{\"sorted_map\":[]}"), "{put}");
    let range = ok(&["help", "range"]);
    for word in [
        "--from",
        "--to",
        "--prefix",
        "--limit",
        "--reverse",
        "--json",
        "hex:",
    ] {
        assert!(range.contains(word), "help range lacks {word}: {range}");
    }
    let log = ok(&["log", "--help"]);
    assert!(log.contains("BYTES"), "{log}");
    let out = xitdb(&["info"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn info_on_a_golden_file() {
    let out = ok(&["info", s(&golden("hash_map_small.xdb"))]);
    assert!(out.contains("size       1436 bytes"), "{out}");
    assert!(out.contains("xitdb version 0"), "{out}");
    assert!(out.contains("sha1, 20-byte hashes"), "{out}");
    assert!(out.contains("array_list"), "{out}");
    assert!(out.contains("moments    5"), "{out}");
    let out = ok(&["info", s(&golden("crash_mid_transaction.xdb"))]);
    assert!(out.contains("committed  726 bytes"), "{out}");
    let out = ok(&["info", s(&golden("toplevel_hash_map.xdb"))]);
    assert!(out.contains("root       hash_map"), "{out}");
    let out = ok(&["info", s(&golden("empty_db.xdb"))]);
    assert!(out.contains("moments    0"), "{out}");
}

#[test]
fn info_and_verify_report_the_list_family() {
    let btree = golden("../golden-btree/linked_list_btree_put.xdb");
    let rrb = golden("linked_list_append.xdb");
    let out = ok(&["info", s(&btree)]);
    assert!(out.contains("lists      btree (inferred"), "{out}");
    let out = ok(&["info", s(&rrb)]);
    assert!(out.contains("lists      rrb (inferred"), "{out}");
    let out = ok(&["verify", "--list-family", "btree", s(&btree)]);
    assert!(
        out.contains("lists      btree (as --list-family says)"),
        "{out}"
    );
    let out = ok(&["info", s(&golden("hash_map_small.xdb"))]);
    assert!(
        out.contains("no linked list or sorted collection tells"),
        "{out}"
    );
    // read in the wrong family, the lists do not verify
    let err = fails(&["verify", "--list-family", "rrb", s(&btree)]);
    assert!(err.contains("verification failed"), "{err}");
    let out = ok(&["get", "--list-family", "rrb", s(&rrb), "list"]);
    assert!(!out.is_empty());
    let out = xitdb(&["info", "--list-family", "avl", s(&rrb)]);
    assert_eq!(out.status.code(), Some(2), "a bad family is a usage error");
}

#[test]
fn log_lists_every_moment_and_adds_up() {
    let out = ok(&["log", s(&golden("hash_map_small.xdb"))]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[0].contains("moment") && lines[0].contains("bytes"),
        "{out}"
    );
    let mut total = 0u64;
    for (i, l) in lines[1..6].iter().enumerate() {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(cols[0], i.to_string(), "{l}");
        total += cols[1].parse::<u64>().expect("bytes column");
        assert!(l.contains("hash_map, "), "{l}");
    }
    assert_eq!(lines[1].split_whitespace().nth(1), Some("347"), "{out}");
    assert!(
        lines[6].contains(&format!(
            "{total} bytes, plus 180 bytes of headers; 1436 bytes committed"
        )),
        "{out}"
    );
    // an undo reuses an older root
    let out = ok(&["log", s(&golden("undo.xdb"))]);
    assert!(out.contains("(the root of moment 1)"), "{out}");
    // JSON lines
    let out = ok(&["log", "--json", s(&golden("hash_map_small.xdb"))]);
    let first: serde_json::Value =
        serde_json::from_str(out.lines().next().unwrap_or("")).expect("json");
    assert_eq!(first["moment"], 0);
    assert_eq!(first["bytes"], 347);
    assert_eq!(first["root"], "hash_map");
    assert_eq!(first["size"], 3);
    fails(&["log", s(&golden("toplevel_hash_map.xdb"))]);
}

#[test]
fn dump_equals_every_golden_json() {
    let dir = golden("");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("golden dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "xdb") {
            let expected = std::fs::read_to_string(path.with_extension("json")).expect("json");
            let out = xitdb(&["dump", s(&path)]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                text(&out.stderr)
            );
            assert!(
                out.stdout == expected.as_bytes(),
                "dump of {} differs",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 40, "only {n} golden files");
}

#[test]
fn dump_a_moment_or_a_path() {
    let f = golden("hash_map_small.xdb");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(golden("hash_map_small.json")).expect("json"),
    )
    .expect("parse");
    let m0 = ok(&["dump", s(&f), "--moment", "0"]);
    let m0: serde_json::Value = serde_json::from_str(&m0).expect("moment json");
    assert_eq!(m0, doc["root"]["array_list"][0]);
    let last = ok(&["dump", s(&f), "--moment", "-1"]);
    let last: serde_json::Value = serde_json::from_str(&last).expect("moment json");
    assert_eq!(last, doc["root"]["array_list"][4]);
    let v = ok(&["dump", s(&f), "--moment", "0", "--path", "apple-key-1"]);
    assert_eq!(v, "{\"bytes\":\"6170706c65\"}\n");
    let pretty = ok(&["dump", s(&f), "--pretty"]);
    assert!(pretty.lines().count() > 20, "{pretty}");
    let back: serde_json::Value = serde_json::from_str(&pretty).expect("pretty json");
    assert_eq!(back, doc);
    fails(&["dump", s(&f), "--moment", "5"]);
}

#[test]
fn get_reads_values_of_any_moment() {
    let f = golden("hash_map_small.xdb");
    assert_eq!(
        ok(&["get", s(&f), "apple-key-1", "--moment", "0"]),
        "\"apple\"\n"
    );
    assert_eq!(ok(&["get", s(&f), "apple-key-1"]), "\"pear\"\n");
    assert_eq!(ok(&["get", s(&f), "apple-key-2", "--moment", "0"]), "42\n");
    assert_eq!(ok(&["get", s(&f), "apple-key-1", "--raw"]), "pear");
    let e = fails(&["get", s(&f), "no-such-key"]);
    assert!(e.contains("not found: no-such-key"), "{e}");
    let e = fails(&["get", s(&f), "apple-key-1[0]"]);
    assert!(e.contains("is bytes, not a list"), "{e}");
    let e = fails(&["get", s(&f), "a..b"]);
    assert!(e.contains("path"), "{e}");
    // lists, negative indices
    let l = golden("array_list_size17.xdb");
    let all: serde_json::Value = serde_json::from_str(&ok(&["get", s(&l), "."])).expect("json");
    let items = all.as_array().expect("items").clone();
    assert_eq!(items.len(), 17);
    let last = ok(&["get", s(&l), "[-1]"]);
    assert_eq!(
        ok(&["get", s(&l), "[16]"]),
        last,
        "[-1] and [16] are the same item"
    );
}

#[test]
fn load_then_dump_round_trips() {
    let dir = tempdir();
    let out = dir.path().join("copy.xdb");
    for name in [
        "hash_map_nested",
        "linked_list_insert",
        "toplevel_counted_hash_map",
        "empty_db",
    ] {
        let json = golden(&format!("{name}.json"));
        let _ = std::fs::remove_file(&out);
        let msg = ok(&["load", s(&json), s(&out)]);
        assert!(msg.contains("loaded"), "{msg}");
        let dumped = ok(&["dump", s(&out)]);
        assert_eq!(
            dumped,
            std::fs::read_to_string(&json).expect("json"),
            "{name}"
        );
    }
    let e = fails(&["load", s(&golden("undo.json")), s(&out)]);
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    ok(&["load", s(&golden("undo.json")), s(&out), "--force"]);
    assert_eq!(
        ok(&["dump", s(&out)]),
        std::fs::read_to_string(golden("undo.json")).expect("json")
    );
    // from standard input
    let piped = dir.path().join("piped.xdb");
    let json = std::fs::read_to_string(golden("hash_set.json")).expect("json");
    let o = xitdb_in(&["load", "-", s(&piped)], Some(&json));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(ok(&["dump", s(&piped)]), json);
    // not a dump: nothing is written
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"header\": 1}").expect("write");
    let target = dir.path().join("never.xdb");
    fails(&["load", s(&bad), s(&target)]);
    assert!(!target.exists());
}

#[test]
fn put_get_remove_on_a_new_file() {
    let dir = tempdir();
    let f = dir.path().join("app.xdb");
    let f = s(&f);
    ok(&["put", f, "users.alice.age", "36"]);
    assert_eq!(ok(&["get", f, "users.alice.age"]), "36\n");
    ok(&["put", f, "users.alice.name", "\"Alice\""]);
    ok(&["put", f, "users.alice.tags", "[]"]);
    ok(&["put", f, "users.alice.tags[]", "\"admin\""]);
    ok(&["put", f, "users.alice.tags[]", "\"ops\""]);
    ok(&["put", f, "n", "-3"]);
    ok(&["put", f, "i", "{\"int\":5}"]);
    ok(&["put", f, "x", "1.5"]);
    ok(&["put", f, "nothing", "null"]);
    ok(&["put", f, "empty", "{}"]);
    ok(&["put", f, "\"a.b\"", "7"]);
    ok(&["put", f, "roles", "{\"hash_set\":[]}"]);
    ok(&["put", f, "roles.admin", "null"]);
    ok(&[
        "put",
        f,
        "bin",
        "{\"bytes\":\"00ff\",\"format_tag\":\"6a73\"}",
    ]);
    assert_eq!(ok(&["get", f, "users.alice.tags[-1]"]), "\"ops\"\n");
    assert_eq!(ok(&["get", f, "users.alice.tags[0]"]), "\"admin\"\n");
    assert_eq!(ok(&["get", f, "n"]), "-3\n");
    // plain JSON by default, the exact kinds with --canonical
    assert_eq!(ok(&["get", f, "i"]), "5\n");
    assert_eq!(ok(&["get", f, "i", "--canonical"]), "{\"int\":5}\n");
    assert_eq!(ok(&["get", f, "x"]), "1.5\n");
    assert_eq!(ok(&["get", f, "x", "--canonical"]), "1.5e0\n");
    assert_eq!(ok(&["get", f, "nothing"]), "null\n");
    assert_eq!(ok(&["get", f, "empty"]), "{}\n");
    assert_eq!(
        ok(&["get", f, "empty", "--canonical"]),
        "{\"hash_map\":[]}\n"
    );
    assert_eq!(ok(&["get", f, "[\"a.b\"]"]), "7\n");
    assert_eq!(ok(&["get", f, ".\"a.b\""]), "7\n");
    assert_eq!(ok(&["get", f, "roles.admin"]), "null\n");
    assert_eq!(
        ok(&["get", f, "bin"]),
        "{\"bytes\":\"00ff\",\"format_tag\":\"6a73\"}\n"
    );
    // what get prints, put reads back, in either form
    let alice = ok(&["get", f, "users.alice"]);
    assert_eq!(
        alice,
        "{\"age\":36,\"name\":\"Alice\",\"tags\":[\"admin\",\"ops\"]}\n"
    );
    ok(&["put", f, "copy", alice.trim()]);
    assert_eq!(ok(&["get", f, "copy"]), alice);
    let exact = ok(&["get", f, "users.alice", "--canonical"]);
    ok(&["put", f, "copy", exact.trim()]);
    assert_eq!(ok(&["get", f, "copy", "--canonical"]), exact);
    // every put was one transaction
    let moments = ok(&["info", f]);
    assert!(moments.contains("moments    16"), "{moments}");
    // remove
    ok(&["remove", f, "users.alice.tags[-1]"]);
    assert_eq!(ok(&["get", f, "users.alice.tags"]), "[\"admin\"]\n");
    assert_eq!(
        ok(&["get", f, "users.alice.tags", "--canonical"]),
        "{\"array_list\":[{\"bytes\":\"61646d696e\"}]}\n"
    );
    ok(&["rm", f, "roles.admin"]);
    fails(&["get", f, "roles.admin"]);
    ok(&["remove", f, "users.alice.name"]);
    let e = fails(&["get", f, "users.alice.name"]);
    assert!(e.contains("not found: users.alice.name"), "{e}");
    // failures add no moment
    let before = std::fs::read(f).expect("read");
    let e = fails(&["remove", f, "users.bob"]);
    assert!(e.contains("not found: users.bob"), "{e}");
    let e = fails(&["put", f, "users.alice.age.x", "1"]);
    assert!(e.contains("users.alice.age is a uint, not a map"), "{e}");
    let e = fails(&["put", f, "users.alice.tags[7]", "1"]);
    assert!(e.contains("not found: users.alice.tags[7]"), "{e}");
    let e = fails(&["put", f, "k", "hello"]);
    assert!(e.contains("JSON string"), "{e}");
    fails(&["put", f, "k", "true"]);
    fails(&["put", f, "k", "{\"a\":true}"]);
    fails(&["put", f, "k", "{\"int\":\"five\"}"]);
    fails(&["put", f, "k", "99999999999999999999"]);
    fails(&["put", f, "roles.x", "1"]);
    fails(&["remove", f, "."]);
    assert_eq!(
        std::fs::read(f).expect("read"),
        before,
        "failed commands changed the file"
    );
    // a failed put does not leave a new file behind
    let g = dir.path().join("never.xdb");
    fails(&["put", s(&g), "a[0]", "1"]);
    assert!(!g.exists());
    let e = fails(&["remove", s(&g), "a"]);
    assert!(e.contains("no such file"), "{e}");
    assert!(!g.exists());
}

#[test]
fn verify_exit_codes() {
    let out = ok(&["verify", s(&golden("hash_map_small.xdb"))]);
    assert!(out.contains(": ok"), "{out}");
    assert!(out.contains("moments    5"), "{out}");
    let dir = tempdir();
    let bad = dir.path().join("bad.xdb");
    let mut bytes = std::fs::read(golden("hash_map_small.xdb")).expect("read");
    bytes[180] = 0x0e; // an invalid tag in moment 0's root block
    std::fs::write(&bad, &bytes).expect("write");
    let o = xitdb(&["verify", s(&bad)]);
    let e = check_clean_failure(&["verify"], &o);
    assert!(
        e.contains("verification failed") && e.contains("180"),
        "{e}"
    );
    assert!(text(&o.stdout).contains("problem"), "{}", text(&o.stdout));
}

/// Bad inputs: one line on stderr, exit status 1, no panic, no change.
#[test]
fn bad_files_fail_cleanly() {
    let dir = tempdir();
    let text_file = dir.path().join("passwd");
    std::fs::write(&text_file, "root:x:0:0:root:/root:/bin/bash\n").expect("write");
    let empty = dir.path().join("empty.xdb");
    std::fs::write(&empty, b"").expect("write");
    let short = dir.path().join("short.xdb");
    std::fs::write(&short, b"xit\x02").expect("write");
    let truncated = dir.path().join("truncated.xdb");
    let golden_bytes = std::fs::read(golden("hash_map_small.xdb")).expect("read");
    std::fs::write(&truncated, &golden_bytes[..700]).expect("write");
    let missing = dir.path().join("missing.xdb");
    let files = [
        &text_file,
        &empty,
        &short,
        &truncated,
        &missing,
        &dir.path().to_path_buf(),
    ];
    for f in files {
        let f = s(f);
        for args in [
            vec!["info", f],
            vec!["log", f],
            vec!["dump", f],
            vec!["get", f, "a"],
            vec!["diff", f, "0", "1"],
            vec!["verify", f],
            vec!["remove", f, "a"],
            vec!["compact", f, s(&dir.path().join("out.xdb"))],
            vec!["shell", f],
        ] {
            if args[0] == "shell" && f == s(&missing) {
                continue; // a missing file is a new database for the shell
            }
            let out = xitdb_in(&args, Some("ls\n"));
            check_clean_failure(&args, &out);
        }
    }
    // files that are not databases are not changed by a write
    fails(&["put", s(&text_file), "a", "1"]);
    fails(&["put", s(&truncated), "a", "1"]);
    fails(&["put", s(&empty), "a", "1"]);
    assert_eq!(std::fs::metadata(&empty).expect("stat").len(), 0);
    assert_eq!(
        std::fs::read(&truncated).expect("read"),
        &golden_bytes[..700]
    );
    assert!(std::fs::read_to_string(&text_file)
        .expect("read")
        .starts_with("root:x"));
    assert!(!dir.path().join("out.xdb").exists());
    // messages say what is wrong
    let e = fails(&["info", s(&text_file)]);
    assert!(e.contains("not an xitdb database"), "{e}");
    let e = fails(&["info", s(&truncated)]);
    assert!(e.contains("truncated"), "{e}");
    let e = fails(&["info", s(&missing)]);
    assert!(e.contains("no such file"), "{e}");
}

#[test]
fn read_commands_leave_the_file_alone() {
    let dir = tempdir();
    let f = dir.path().join("crashed.xdb");
    std::fs::copy(golden("crash_mid_transaction.xdb"), &f).expect("copy");
    let before = std::fs::read(&f).expect("read");
    ok(&["info", s(&f)]);
    ok(&["log", s(&f)]);
    ok(&["dump", s(&f)]);
    ok(&["verify", s(&f)]);
    ok(&["get", s(&f), "."]);
    assert_eq!(std::fs::read(&f).expect("read"), before);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempdir();
    let f = dir.path().join("locked.xdb");
    ok(&["put", s(&f), "a", "1"]);
    let holder = xitdb::Database::open(&f).expect("open");
    let e = fails(&["put", s(&f), "a", "2"]);
    assert!(e.contains("locked") && e.contains("--wait SECS"), "{e}");
    // a wait that runs out is an error too
    let e = fails(&["put", s(&f), "a", "2", "--wait", "0.1"]);
    assert!(
        e.contains("still locked") && e.contains("after waiting"),
        "{e}"
    );
    // readers take no lock
    assert_eq!(ok(&["get", s(&f), "a"]), "1\n");
    drop(holder);
    ok(&["put", s(&f), "a", "2"]);
    let out = xitdb(&["put", s(&f), "a", "3", "--wait", "soon"]);
    assert_eq!(out.status.code(), Some(2), "a bad --wait is a usage error");
}

/// A writer in another process that waits: `put --wait` started while this
/// process holds the lock commits after this process's own commit.
#[test]
fn a_writer_with_wait_gets_the_lock_when_it_is_released() {
    let dir = tempdir();
    let f = dir.path().join("wait.xdb");
    ok(&["put", s(&f), "a", "1"]);
    let mut holder = xitdb::Database::open(&f).expect("open");
    let mut waiter = Command::new(env!("CARGO_BIN_EXE_xitdb"))
        .args(["--wait", "120", "put", s(&f), "a", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xitdb");
    // give it time to be waiting (only makes the test stronger)
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(waiter.try_wait().unwrap().is_none(), "put --wait gave up");
    holder
        .transact(|tx| tx.root_map()?.put("a", 2u64))
        .expect("commit");
    drop(holder);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ok(&["get", s(&f), "a"]), "3\n");
    assert_eq!(ok(&["get", s(&f), "a", "--moment", "1"]), "2\n");
}

/// Several writer processes at once, each waiting its turn: every put
/// lands, one moment each, and the file verifies.
#[test]
fn concurrent_writers_with_wait_all_commit() {
    const WRITERS: u64 = 6;
    let dir = tempdir();
    let f = dir.path().join("many.xdb");
    ok(&["put", s(&f), "start", "0"]);
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_xitdb"))
                .args(["put", s(&f), &format!("k{i}"), &i.to_string()])
                .args(["--wait", "120"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn xitdb")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let db = xitdb::Database::open_read_only(&f).expect("open");
    assert_eq!(db.moment_count().unwrap(), WRITERS + 1);
    for i in 0..WRITERS {
        assert_eq!(ok(&["get", s(&f), &format!("k{i}")]), format!("{i}\n"));
    }
    ok(&["verify", s(&f)]);
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xitdb"))
        .args(["dump", s(&golden("hash_map_large.xdb"))])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = [0u8; 16];
    stdout.read_exact(&mut buf).expect("read");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn diff_between_moments() {
    let f = golden("hash_map_small.xdb");
    let out = ok(&["diff", s(&f), "0", "1"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "~ apple-key-1 \"apple\" -> \"pear\"",
            "~ apple-key-2 42 -> \"now bytes, not a uint\"",
        ],
        "{out}"
    );
    // default: the last two moments; --json carries every value in full
    let json = ok(&["diff", s(&f), "--json"]);
    let same = ok(&["diff", s(&f), "-2", "-1", "--json"]);
    assert_eq!(json, same);
    for line in ok(&["diff", s(&f), "0", "4", "--json"]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        let kind = v["kind"].as_str().expect("kind");
        assert!(["added", "removed", "changed"].contains(&kind), "{line}");
        assert!(v["path"].is_string() && v["steps"].is_array(), "{line}");
        assert_eq!(v.get("old").is_some(), kind != "added", "{line}");
        assert_eq!(v.get("new").is_some(), kind != "removed", "{line}");
    }
    // on a file of our own: added, removed, changed, nested paths
    let dir = tempdir();
    let g = dir.path().join("d.xdb");
    let g = s(&g);
    ok(&["put", g, "keep", "1"]);
    ok(&["put", g, "gone", "\"bye\""]);
    ok(&["put", g, "users.alice.age", "36"]);
    ok(&["put", g, "users.alice.age", "37"]);
    ok(&["remove", g, "gone"]);
    ok(&["put", g, "users.bob", "{}"]);
    let out = ok(&["diff", g, "2", "-1"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "+ users.bob hash_map (0 entries)",
            "- gone \"bye\"",
            "~ users.alice.age 36 -> 37",
        ],
        "{out}"
    );
    let json = ok(&["diff", g, "2", "-1", "--json"]);
    assert!(json.lines().any(|l| l
        == "{\"kind\":\"changed\",\"path\":\"users.alice.age\",\"steps\":[\"users\",\"alice\",\"age\"],\"old\":{\"uint\":36},\"new\":{\"uint\":37}}"), "{json}");
    assert_eq!(ok(&["diff", g, "1", "1"]), "");
    let e = fails(&["diff", g, "0", "99"]);
    assert!(e.contains("moment 99"), "{e}");
    fails(&["diff", s(&golden("toplevel_hash_map.xdb")), "0", "1"]);
}

#[test]
fn compact_keeps_the_moments_asked_for() {
    let dir = tempdir();
    let src = golden("many_moments.xdb");
    let out = dir.path().join("small.xdb");
    let report = ok(&["compact", s(&src), s(&out), "--keep-last", "3"]);
    assert!(report.contains("200 -> 3"), "{report}");
    assert!(report.contains("49661 -> "), "{report}");
    assert!(ok(&["info", s(&out)]).contains("moments    3"));
    assert!(ok(&["verify", s(&out)]).contains(": ok"));
    for (old, new) in [("-1", "-1"), ("-3", "0")] {
        assert_eq!(
            ok(&["dump", s(&src), "--moment", old]),
            ok(&["dump", s(&out), "--moment", new])
        );
    }
    let e = fails(&["compact", s(&src), s(&out)]);
    assert!(e.contains("--force"), "{e}");
    let e = fails(&["compact", s(&out), s(&out), "--force"]);
    assert!(e.contains("same file"), "{e}");
    // every moment, replacing the file
    let report = ok(&["compact", s(&src), s(&out), "--force"]);
    assert!(report.contains("200 -> 200"), "{report}");
    let full: serde_json::Value = serde_json::from_str(&ok(&["dump", s(&out)])).expect("json");
    let orig: serde_json::Value = serde_json::from_str(&ok(&["dump", s(&src)])).expect("json");
    assert_eq!(full, orig);
    // a database whose root is a map has no moments: its root is copied
    let map_copy = dir.path().join("map.xdb");
    let report = ok(&["compact", s(&golden("toplevel_hash_map.xdb")), s(&map_copy)]);
    assert!(report.contains("no history"), "{report}");
    assert_eq!(
        ok(&["dump", s(&map_copy)]),
        std::fs::read_to_string(golden("toplevel_hash_map.json")).expect("json")
    );
    std::fs::remove_file(&map_copy).expect("remove");
    // log finds each moment's bytes in a compacted file too (its root
    // blocks come last): the same as in the file written by transactions,
    // but for the history's blocks (144 bytes every 16 moments), which a
    // compacted file keeps after the last moment
    let bytes = |log: &str| -> Vec<u64> {
        log.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .collect()
    };
    for name in ["hash_map_small.xdb", "undo.xdb", "many_moments.xdb"] {
        let copy = dir.path().join("copy.xdb");
        ok(&["compact", s(&golden(name)), s(&copy), "--force"]);
        let (orig, compacted) = (ok(&["log", s(&golden(name))]), ok(&["log", s(&copy)]));
        let (a, b) = (bytes(&orig), bytes(&compacted));
        assert_eq!(a.len(), b.len(), "{name}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            // the history's new blocks count with the moment before them
            let extra = x.checked_sub(*y).unwrap_or(1);
            assert!(
                extra % 144 == 0 && (extra == 0 || i % 16 == 15),
                "{name} moment {i}: {x} vs {y}:\n{orig}\n{compacted}"
            );
        }
        std::fs::remove_file(&copy).expect("remove");
    }
    // no temporary file is left behind
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["small.xdb".to_string()]);
}

#[test]
fn shell_driven_through_stdin() {
    let dir = tempdir();
    let f = dir.path().join("sh.xdb");
    let f = s(&f);
    ok(&["put", f, "users.alice.age", "36"]);
    ok(&["put", f, "users.alice.name", "\"Alice\""]);
    let script = "\
# comments and blank lines are skipped

ls
cd users.alice
pwd
ls
put age 37
put tags []
put tags[] \"admin\"
status
get age
ls
cd ..
cd /
get users.alice.tags[0]
commit
log
diff
diff 1 -1 --json
quit
";
    let out = xitdb_in(&["shell", f], Some(script));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}\nstdout: {stdout}");
    assert!(stderr.is_empty(), "{stderr}");
    let expected_start = "\
users  hash_map (1 entry)
/users.alice
age   36
name  \"Alice\"
put users.alice.age 37
put users.alice.tags []
put users.alice.tags[] \"admin\"
37
age   37
name  \"Alice\"
tags  array_list (1 item)
\"admin\"
committed moment 2 (3 changes)
";
    assert!(stdout.starts_with(expected_start), "{stdout}");
    assert!(stdout.contains("3 moments: "), "{stdout}");
    assert!(stdout.contains("~ users.alice.age 36 -> 37"), "{stdout}");
    assert!(
        stdout.contains("+ users.alice.tags array_list (1 item)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("{\"kind\":\"added\",\"path\":\"users.alice.tags\""),
        "{stdout}"
    );
    // the commit was one transaction
    assert!(ok(&["info", f]).contains("moments    3"));
    assert_eq!(ok(&["get", f, "users.alice.tags[0]"]), "\"admin\"\n");
}

#[test]
fn shell_errors_and_uncommitted_changes() {
    let dir = tempdir();
    let f = dir.path().join("new.xdb");
    // a new file: nothing committed, nothing left behind
    let out = xitdb_in(&["shell", s(&f)], Some("ls\nput a 1\nget a\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "(no moments yet)\n1\n");
    assert!(text(&out.stderr).contains("warning: 1 staged change was not committed"));
    assert!(!f.exists(), "an uncommitted shell left a file");
    // a failing command: reported with its line, the rest goes on, exit 1
    let script = "put a 1\nget nope\nbogus\nput a[0] 2\nput b \"x\"\ncommit\n";
    let out = xitdb_in(&["shell", s(&f)], Some(script));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("xitdb: error: line 2: not found: nope"),
        "{stderr}"
    );
    assert!(
        stderr.contains("xitdb: error: line 3: unknown command"),
        "{stderr}"
    );
    assert!(
        stderr.contains("xitdb: error: line 4: a is a uint, not a list"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(text(&out.stdout), "committed moment 0 (2 changes)\n");
    assert_eq!(ok(&["get", s(&f), "b"]), "\"x\"\n");
    // discard drops staged changes
    let out = xitdb_in(&["shell", s(&f)], Some("put a 5\ndiscard\nget a\n"));
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "discarded 1 staged change\n1\n");
    assert!(ok(&["info", s(&f)]).contains("moments    1"));
}

fn golden_btree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/golden-btree")
        .join(name)
}

#[test]
fn paths_through_a_sorted_map_in_a_golden_file() {
    let dir = tempdir();
    let db = dir.path().join("large.xdb");
    std::fs::copy(golden_btree("sorted_map_large.xdb"), &db).unwrap();
    let db = s(&db);
    assert_eq!(ok(&["get", db, "map[hex:001cf4]"]), "266\n");
    assert_eq!(
        ok(&["get", db, "map[hex:001cf4]", "--moment", "-1"]),
        "266\n"
    );
    ok(&["put", db, "map.alice", "42"]);
    assert_eq!(ok(&["get", db, "map.alice"]), "42\n");
    // missing keys on the way become hash maps inside the sorted map
    ok(&["put", db, "map.bob.x", "\"deep\""]);
    assert_eq!(ok(&["get", db, "map.bob.x"]), "\"deep\"\n");
    assert!(ok(&["dump", db, "--path", "map.bob"]).starts_with("{\"hash_map\":"));
    ok(&["remove", db, "map.alice"]);
    assert!(fails(&["get", db, "map.alice"]).contains("not found: map.alice"));
    assert!(fails(&["remove", db, "map.alice"]).contains("not found"));
    let e = fails(&["get", db, "map.#00ff"]);
    assert!(
        e.contains("map is a sorted_map") && e.contains("not #hash"),
        "{e}"
    );
    // the entries kept their order around the new one
    let keys = ok(&["range", db, "map", "--from", "bob", "--limit", "1"]);
    assert_eq!(keys, "bob  hash_map (1 entry)\n");
}

/// A database holding `scores`, a sorted map, and `tags`, a sorted set.
fn sorted_db(dir: &Path) -> PathBuf {
    let db = dir.join("sorted.xdb");
    let p = s(&db);
    ok(&[
        "put",
        p,
        "scores",
        r#"{"sorted_map":[{"key":"alice","value":9},{"key":"bob","value":5},
            {"key":"carol","value":7},{"key":"dave","value":[1]}]}"#,
    ]);
    ok(&["put", p, "tags", r#"{"sorted_set":[]}"#]);
    for t in ["red", "green", "blue"] {
        ok(&["put", p, &format!("tags.{t}"), "null"]);
    }
    db
}

#[test]
fn sorted_containers_made_and_changed_by_put_and_remove() {
    let dir = tempdir();
    let db = sorted_db(dir.path());
    let db = s(&db);
    assert_eq!(ok(&["get", db, "scores.alice"]), "9\n");
    assert_eq!(ok(&["get", db, "tags.red"]), "null\n");
    assert!(fails(&["get", db, "tags.pink"]).contains("not found: tags.pink"));
    let e = fails(&["put", db, "tags.pink", "1"]);
    assert!(e.contains("tags is a sorted_set"), "{e}");
    ok(&["remove", db, "tags.green"]);
    assert_eq!(ok(&["range", db, "tags"]), "blue\nred\n");
    ok(&["put", db, "scores.bob", "6"]);
    ok(&["remove", db, "scores.carol"]);
    assert_eq!(
        ok(&["range", db, "scores"]),
        "alice  9\nbob  6\ndave  array_list (1 item)\n"
    );
    assert_eq!(ok(&["get", db, "tags"]), "[\"blue\",\"red\"]\n");
    assert_eq!(
        ok(&["get", db, "tags", "--canonical"]),
        "{\"sorted_set\":[{\"key\":{\"bytes\":\"626c7565\"}},{\"key\":{\"bytes\":\"726564\"}}]}\n"
    );
}

#[test]
fn range_flags() {
    let dir = tempdir();
    let db = sorted_db(dir.path());
    let db = s(&db);
    let all = "alice  9\nbob  5\ncarol  7\ndave  array_list (1 item)\n";
    assert_eq!(ok(&["range", db, "scores"]), all);
    assert_eq!(
        ok(&["range", db, "scores", "--from", "b", "--to", "carol"]),
        "bob  5\n"
    );
    assert_eq!(
        ok(&["range", db, "scores", "--from", "bob"]),
        "bob  5\ncarol  7\ndave  array_list (1 item)\n"
    );
    assert_eq!(ok(&["range", db, "scores", "--to", "bob"]), "alice  9\n");
    assert_eq!(ok(&["range", db, "scores", "--prefix", "c"]), "carol  7\n");
    assert_eq!(ok(&["range", db, "scores", "--prefix", "x"]), "");
    assert_eq!(
        ok(&["range", db, "scores", "--limit", "2"]),
        "alice  9\nbob  5\n"
    );
    assert_eq!(
        ok(&["range", db, "scores", "--reverse", "--limit", "2"]),
        "dave  array_list (1 item)\ncarol  7\n"
    );
    assert_eq!(
        ok(&[
            "range",
            db,
            "scores",
            "--from",
            "b",
            "--to",
            "d",
            "--reverse"
        ]),
        "carol  7\nbob  5\n"
    );
    assert_eq!(ok(&["range", db, "scores", "--from", "z", "--to", "a"]), "");
    assert_eq!(
        ok(&["range", db, "scores", "--prefix", "d", "--json"]),
        "{\"key\":\"dave\",\"value\":{\"array_list\":[{\"uint\":1}]}}\n"
    );
    assert_eq!(
        ok(&["range", db, "tags", "--json", "--reverse"]),
        "{\"key\":\"red\"}\n{\"key\":\"green\"}\n{\"key\":\"blue\"}\n"
    );
    assert_eq!(
        ok(&["range", db, "scores", "--moment", "0", "--limit", "1"]),
        "alice  9\n"
    );
    assert_eq!(
        ok(&["range", db, "scores", "--from", "hex:63"]),
        "carol  7\ndave  array_list (1 item)\n"
    );
}

#[test]
fn range_errors() {
    let dir = tempdir();
    let db = sorted_db(dir.path());
    let db = s(&db);
    let e = fails(&["range", db, "."]);
    assert!(
        e.contains(". is a hash_map, not a sorted_map or sorted_set"),
        "{e}"
    );
    let e = fails(&["range", db, "scores.alice"]);
    assert!(e.contains("scores.alice is a uint"), "{e}");
    assert!(fails(&["range", db, "nope"]).contains("not found: nope"));
    let out = xitdb(&["range", db, "scores", "--prefix", "a", "--from", "b"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot be used with"));
    let gold = golden_btree("sorted_map_small.xdb");
    assert_eq!(ok(&["range", s(&gold), ".", "--limit", "1"]), "[\"\"]  7\n");
}

#[test]
fn shell_with_sorted_containers() {
    let dir = tempdir();
    let db = sorted_db(dir.path());
    let script = "cd scores\nls\nput zed 1\nrange --from d\nrm alice\nrange --limit 1 --reverse\n\
                  commit\ncd /tags\nls\nrm red\nput aqua null\nrange --json\ncommit\n\
                  range /scores --prefix a --from b\n";
    let out = xitdb_in(&["shell", s(&db)], Some(script));
    let stdout = text(&out.stdout);
    let want = "alice  9\nbob    5\ncarol  7\ndave   array_list (1 item)\n\
                dave  array_list (1 item)\nzed  1\n\
                zed  1\n\
                committed moment 5 (2 changes)\n\
                blue\ngreen\nred\n\
                {\"key\":\"aqua\"}\n{\"key\":\"blue\"}\n{\"key\":\"green\"}\n\
                committed moment 6 (2 changes)\n";
    assert_eq!(stdout, want);
    let err = text(&out.stderr);
    assert!(
        err.contains("line 14: --prefix cannot be combined"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(ok(&["get", s(&db), "scores.zed"]), "1\n");
}
