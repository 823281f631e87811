//! `report [--runs 3] [--out FILE] [--systems LIST] [--workloads LIST]
//! [--no-build] [--timeout SECS]`: every standard workload on xitdb and on
//! every peer, side by side, as a markdown table of medians.
//!
//! It builds xitdb's runner (`cargo build --release -p xitdb-peers --bin
//! workloads`) and the `peers` binary first (unless `--no-build`), then,
//! `--runs` times, on a fresh scratch directory per run (the children's
//! `TMPDIR`), runs each workload of each system in a process of its own, in
//! spec order: xitdb as `target/release/workloads ID` (which runs every
//! backend of that id in one process), a peer as `target/release/peers
//! SYSTEM ID[:BACKEND]` (one backend per process). It records each
//! process's JSON lines (seconds, bytes, n) and its peak RSS, prints the
//! tables on stdout, writes every raw JSON line of every run to `--out`
//! (with `run`, `peak_rss_kib` and `process` appended; a failed process gets
//! a `failed` line), and exits non-zero if any workload process failed (its
//! cells read FAILED).
//!
//! The reference medians are hard-coded from `shared/bench/reference-
//! baseline.md`; W3's comparison is its "fsync removed" diagnostic row, the
//! only no-fsync W3 the reference can run.

// Benchmark harness over data it generates itself: indexing into its own
// vectors is checked by the workloads' result checks, not by the lint.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use xitdb_peers::{COVERAGE, WORKLOADS};

/// What the reference did on one spec row (medians of 3 runs), and the
/// speed-up the performance issue asks of xitdb there.
struct Reference {
    workload: &'static str,
    backend: &'static str,
    seconds: Option<f64>,
    row: &'static str,
    rss_mib: Option<f64>,
    bytes: Option<u64>,
    target: Target,
}

/// The target on one row.
#[derive(Clone, Copy)]
enum Target {
    /// No target.
    None,
    /// reference s / xitdb s at least this.
    Ratio(f64),
    /// reference s / xitdb s at least this, and xitdb no slower than redb.
    RatioAndRedb(f64),
    /// xitdb s at most this many times imbl's.
    WithinImbl(f64),
    /// xitdb s no more than redb's on the same row.
    NoSlowerThanRedb,
    /// redb s / xitdb s at least this on the same row.
    FasterThanRedb(f64),
    /// xitdb s at most this many times xitdb's own figure on another
    /// (workload, backend) row.
    WithinOwn(&'static str, &'static str, f64),
}

const fn r(
    workload: &'static str,
    backend: &'static str,
    seconds: Option<f64>,
    row: &'static str,
    rss_mib: Option<f64>,
    bytes: Option<u64>,
    target: Target,
) -> Reference {
    Reference {
        workload,
        backend,
        seconds,
        row,
        rss_mib,
        bytes,
        target,
    }
}

/// reference-baseline.md, medians of 3 runs (Zig xitdb, ReleaseFast).
const REFERENCE: &[Reference] = &[
    r(
        "W1",
        "memory",
        Some(0.0320),
        "spec",
        Some(12.7),
        Some(9_373_556),
        Target::Ratio(2.0),
    ),
    r(
        "W1",
        "file",
        Some(0.2693),
        "spec",
        Some(5.5),
        Some(9_373_556),
        Target::Ratio(5.0),
    ),
    r(
        "W1b",
        "memory",
        Some(0.0701),
        "spec",
        Some(14.2),
        Some(10_973_556),
        Target::None,
    ),
    r(
        "W1b",
        "file",
        Some(0.4556),
        "spec",
        Some(5.5),
        Some(10_973_556),
        Target::None,
    ),
    r(
        "W2",
        "file",
        Some(2.0783),
        "spec",
        Some(3.4),
        Some(9_373_556),
        Target::Ratio(5.0),
    ),
    r(
        "W2b",
        "file",
        Some(2.1148),
        "spec",
        Some(3.4),
        Some(10_973_556),
        Target::None,
    ),
    r(
        "W3",
        "file",
        Some(0.0841),
        "fsync removed (spec row, fsync per commit: 2.1466)",
        Some(3.7),
        Some(5_768_084),
        Target::Ratio(2.0),
    ),
    r(
        "W3d",
        "file",
        Some(0.1912),
        "spec",
        Some(3.7),
        Some(458_660),
        Target::RatioAndRedb(0.8),
    ),
    r(
        "W4",
        "memory",
        Some(0.2146),
        "spec",
        Some(13.0),
        Some(9_600_532),
        Target::Ratio(2.0),
    ),
    r(
        "W5",
        "memory",
        Some(0.2097),
        "spec",
        Some(13.0),
        Some(9_600_532),
        Target::Ratio(3.0),
    ),
    r(
        "W6",
        "file",
        Some(0.0731),
        "spec",
        Some(3.5),
        Some(9_373_556),
        Target::Ratio(10.0),
    ),
    r(
        "W7",
        "file",
        Some(0.3509),
        "spec",
        Some(3.4),
        Some(5_768_084),
        Target::Ratio(5.0),
    ),
    r(
        "W8",
        "memory",
        None,
        "reference fails W8",
        None,
        None,
        Target::WithinImbl(3.0),
    ),
    r(
        "W9",
        "file",
        Some(0.0055),
        "spec",
        Some(3.4),
        Some(9_373_556),
        Target::None,
    ),
    r(
        "W10",
        "file",
        None,
        "no reference figure (issue 12 goal)",
        None,
        None,
        Target::NoSlowerThanRedb,
    ),
    r(
        "W11",
        "file",
        None,
        "no reference figure (issue 12 goal)",
        None,
        None,
        Target::WithinOwn("W2", "file", 1.5),
    ),
    r(
        "W12",
        "file",
        None,
        "no reference figure (issue 12 goal)",
        None,
        None,
        Target::FasterThanRedb(2.0),
    ),
    r(
        "W13",
        "memory",
        None,
        "no reference figure (issue 12 goal)",
        None,
        None,
        Target::WithinImbl(3.0),
    ),
];

/// The systems in table order (xitdb first, then the peers).
fn systems() -> Vec<&'static str> {
    COVERAGE.iter().map(|c| c.system).collect()
}

/// One workload process to run.
struct Job {
    system: &'static str,
    workload: &'static str,
    /// The backends whose lines it must print.
    backends: Vec<&'static str>,
    /// Its command-line filter.
    filter: String,
}

/// One measured row of one run.
#[derive(Clone, Copy)]
struct Sample {
    seconds: f64,
    bytes: u64,
    n: u64,
    rss_kib: u64,
}

/// (system, workload, backend) -> one entry per run: the sample or why not.
type Results = BTreeMap<(&'static str, &'static str, &'static str), Vec<Result<Sample, String>>>;

struct Args {
    runs: usize,
    out: Option<PathBuf>,
    systems: Option<Vec<String>>,
    workloads: Option<Vec<String>>,
    build: bool,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runs: 3,
        out: None,
        systems: None,
        workloads: None,
        build: true,
        timeout: Duration::from_secs(600),
    };
    let mut it = std::env::args().skip(1);
    let list = |s: String| s.split(',').map(str::to_string).collect::<Vec<_>>();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => a.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--out" => a.out = Some(value()?.into()),
            "--systems" => a.systems = Some(list(value()?)),
            "--workloads" => a.workloads = Some(list(value()?)),
            "--timeout" => {
                a.timeout =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout: {e}"))?)
            }
            "--no-build" => a.build = false,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(a)
}

/// Every process to run, in spec order (workload, then system).
fn jobs(args: &Args) -> Vec<Job> {
    let mut jobs = Vec::new();
    for w in WORKLOADS {
        if args
            .workloads
            .as_ref()
            .is_some_and(|l| !l.iter().any(|x| x == w))
        {
            continue;
        }
        for c in COVERAGE {
            if args
                .systems
                .as_ref()
                .is_some_and(|l| !l.iter().any(|x| x == c.system))
            {
                continue;
            }
            let Some((_, backends)) = c.runs.iter().find(|r| r.0 == w) else {
                continue;
            };
            if backends.len() == 1 {
                jobs.push(Job {
                    system: c.system,
                    workload: w,
                    backends: backends.to_vec(),
                    filter: w.to_string(),
                });
            } else {
                for b in *backends {
                    jobs.push(Job {
                        system: c.system,
                        workload: w,
                        backends: vec![b],
                        filter: format!("{w}:{b}"),
                    });
                }
            }
        }
    }
    jobs
}

/// How one process ended.
struct Outcome {
    /// `None` if it exited 0, else how it failed.
    failure: Option<String>,
    stdout: String,
    stderr: String,
    rss_kib: u64,
}

/// Runs `cmd args` with `TMPDIR=tmp`, collecting its output, and reaps it
/// with wait4 for its own peak RSS. The `libc` dependency is for this:
/// std's `Child::wait` gives no resource usage, getrusage(RUSAGE_CHILDREN)
/// gives the maximum over all children reaped so far (not this one's), and
/// /proc/PID/status's VmHWM is gone by the time the child has exited.
#[expect(
    unsafe_code,
    reason = "wait4 reports each child's peak RSS, which std cannot; kill stops a child past its timeout"
)]
fn run_process(
    cmd: &Path,
    args: &[&str],
    tmp: &Path,
    timeout: Duration,
) -> std::io::Result<Outcome> {
    let mut child = Command::new(cmd)
        .args(args)
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let missing = || std::io::Error::other("child output was not piped");
    let out = reader(Box::new(child.stdout.take().ok_or_else(missing)?));
    let err = reader(Box::new(child.stderr.take().ok_or_else(missing)?));
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut killed = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data, all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own unreaped child; the pointers are to locals.
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            break (status, usage);
        }
        if got < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if !killed && Instant::now() > deadline {
            // SAFETY: pid is our own child, not yet reaped (so not reused).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let failure = if killed {
        Some(format!("timed out after {} s", timeout.as_secs()))
    } else if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        None
    } else if libc::WIFEXITED(status) {
        Some(format!("exit code {}", libc::WEXITSTATUS(status)))
    } else {
        Some(format!("signal {}", libc::WTERMSIG(status)))
    };
    Ok(Outcome {
        failure,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        rss_kib: usage.ru_maxrss as u64,
    })
}

/// One JSON line's fields, if it is a workload line.
fn parse_line(line: &str) -> Option<(String, String, String, Sample)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
    let u = |k: &str| v.get(k)?.as_u64();
    Some((
        s("system")?,
        s("workload")?,
        s("backend")?,
        Sample {
            seconds: v.get("seconds")?.as_f64()?,
            bytes: u("bytes")?,
            n: u("n")?,
            rss_kib: 0,
        },
    ))
}

/// Builds one binary with cargo from the workspace root; whether it worked.
fn build(root: &Path, args: &[&str]) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("report: cargo {}", args.join(" "));
    match Command::new(cargo).args(args).current_dir(root).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            eprintln!("report: build failed ({s})");
            false
        }
        Err(e) => {
            eprintln!("report: cannot run cargo: {e}");
            false
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// The median of one field over a cell's runs; `Err` if any run failed.
fn cell<T>(
    results: &Results,
    key: (&str, &str, &str),
    f: impl Fn(&Sample) -> T,
) -> Option<Result<Vec<T>, String>> {
    let runs = results.iter().find(|(k, _)| **k == key)?.1;
    let mut out = Vec::new();
    for r in runs {
        match r {
            Ok(s) => out.push(f(s)),
            Err(e) => return Some(Err(e.clone())),
        }
    }
    Some(Ok(out))
}

fn median_seconds(results: &Results, key: (&str, &str, &str)) -> Option<Result<f64, String>> {
    cell(results, key, |s| s.seconds).map(|c| c.map(median))
}

fn fmt_s(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3}")
    } else if s >= 0.01 {
        format!("{s:.4}")
    } else {
        format!("{s:.6}")
    }
}

fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn show(c: Option<Result<f64, String>>) -> String {
    match c {
        None => "–".into(),
        Some(Ok(s)) => fmt_s(s),
        Some(Err(_)) => "FAILED".into(),
    }
}

/// The table rows: every (workload, backend) some system covers, in spec
/// order, memory before file.
fn rows(args: &Args) -> Vec<(&'static str, &'static str)> {
    let mut rows = Vec::new();
    for w in WORKLOADS {
        if args
            .workloads
            .as_ref()
            .is_some_and(|l| !l.iter().any(|x| x == w))
        {
            continue;
        }
        for b in ["memory", "file"] {
            if COVERAGE
                .iter()
                .any(|c| c.runs.iter().any(|r| r.0 == w && r.1.contains(&b)))
            {
                rows.push((w, b));
            }
        }
    }
    rows
}

/// The target's text and whether xitdb meets it ("pass", "MISS", "–").
fn verdict(
    t: Target,
    reference: Option<f64>,
    xitdb: Option<Result<f64, String>>,
    peer: Option<Result<f64, String>>,
) -> (String, String) {
    let text = match t {
        Target::None => return ("–".into(), "–".into()),
        Target::Ratio(x) => format!("≥ {x}×"),
        Target::RatioAndRedb(x) => format!("≥ {x}× and ≤ redb s"),
        Target::WithinImbl(x) => format!("≤ {x}× imbl s"),
        Target::NoSlowerThanRedb => "≤ redb s".into(),
        Target::FasterThanRedb(x) => format!("redb s / xitdb s ≥ {x}"),
        Target::WithinOwn(w, b, x) => format!("≤ {x}× xitdb {w} {b} s"),
    };
    let x = match xitdb {
        Some(Ok(x)) => x,
        Some(Err(_)) => return (text, "FAILED".into()),
        None => return (text, "–".into()),
    };
    let ratio_ok = |min: f64| reference.map(|r| r / x >= min);
    let peer_s = match peer {
        Some(Ok(p)) => Some(p),
        _ => None,
    };
    let ok = match t {
        Target::None => None,
        Target::Ratio(min) => ratio_ok(min),
        Target::RatioAndRedb(min) => ratio_ok(min).zip(peer_s).map(|(a, p)| a && x <= p),
        Target::WithinImbl(f) | Target::WithinOwn(_, _, f) => peer_s.map(|p| x <= f * p),
        Target::NoSlowerThanRedb => peer_s.map(|p| x <= p),
        Target::FasterThanRedb(min) => peer_s.map(|p| p / x >= min),
    };
    let v = match ok {
        Some(true) => "pass",
        Some(false) => "**MISS**",
        None => "? (no figure to compare)",
    };
    (text, v.into())
}

fn print_tables(args: &Args, results: &Results) {
    let peers: Vec<&str> = systems().into_iter().filter(|s| *s != "xitdb").collect();
    println!(
        "## Standard workloads: medians of {} run(s), seconds (timed region only)\n",
        args.runs
    );
    print!("| workload | backend | n | xitdb s | reference s | reference row | reference/xitdb | target | pass |");
    for p in &peers {
        print!(" {p} s |");
    }
    print!("\n|---|---|---:|---:|---:|---|---:|---|---|");
    for _ in &peers {
        print!("---:|");
    }
    println!();
    for (w, b) in rows(args) {
        let xitdb = median_seconds(results, ("xitdb", w, b));
        let reference = REFERENCE.iter().find(|r| r.workload == w && r.backend == b);
        let n = systems()
            .iter()
            .find_map(|s| cell(results, (s, w, b), |s| s.n)?.ok()?.first().copied());
        let ref_s = reference.and_then(|r| r.seconds);
        let ratio = match (&xitdb, ref_s) {
            (Some(Ok(x)), Some(r)) => format!("{:.2}", r / x),
            _ => "–".into(),
        };
        let target = reference.map_or(Target::None, |r| r.target);
        let peer = match target {
            Target::RatioAndRedb(_) => median_seconds(results, ("redb", w, b)),
            Target::WithinImbl(_) => median_seconds(results, ("imbl", w, b)),
            Target::NoSlowerThanRedb | Target::FasterThanRedb(_) => {
                median_seconds(results, ("redb", w, b))
            }
            Target::WithinOwn(ow, ob, _) => median_seconds(results, ("xitdb", ow, ob)),
            _ => None,
        };
        let (text, pass) = verdict(target, ref_s, xitdb.clone(), peer);
        print!(
            "| {w} | {b} | {} | {} | {} | {} | {ratio} | {text} | {pass} |",
            n.map_or("–".into(), fmt_int),
            show(xitdb),
            ref_s.map_or("–".into(), fmt_s),
            reference.map_or("–", |r| r.row),
        );
        for p in &peers {
            print!(" {} |", show(median_seconds(results, (p, w, b))));
        }
        println!();
    }

    println!("\n## Peak RSS (MiB) and database bytes: medians\n");
    print!("| workload | backend | reference |");
    for s in systems() {
        print!(" {s} |");
    }
    print!("\n|---|---|---:|");
    for _ in systems() {
        print!("---:|");
    }
    println!();
    let fmt_mem = |rss: f64, bytes: u64| {
        if bytes > 0 {
            format!("{rss:.1} ({} B)", fmt_int(bytes))
        } else {
            format!("{rss:.1}")
        }
    };
    for (w, b) in rows(args) {
        let reference = REFERENCE.iter().find(|r| r.workload == w && r.backend == b);
        let ref_text = match reference.and_then(|r| r.rss_mib.zip(r.bytes)) {
            Some((rss, bytes)) => fmt_mem(rss, bytes),
            None => "–".into(),
        };
        print!("| {w} | {b} | {ref_text} |");
        for s in systems() {
            let rss = cell(results, (s, w, b), |x| x.rss_kib as f64 / 1024.0);
            let bytes = cell(results, (s, w, b), |x| x.bytes as f64);
            let text = match (rss, bytes) {
                (Some(Ok(rss)), Some(Ok(bytes))) => fmt_mem(median(rss), median(bytes) as u64),
                (Some(_), _) => "FAILED".into(),
                _ => "–".into(),
            };
            print!(" {text} |");
        }
        println!();
    }

    println!("\nNotes");
    println!("- Each workload/backend ran in a process of its own (`workloads W1:file`, `peers redb W1:memory`), so each peak RSS is that backend's alone.");
    println!("- W3's reference is the \"fsync removed\" diagnostic row (the reference fsyncs every commit and cannot turn it off; its spec row is 2.1466 s). W8 has no reference figure (the reference fails it); its target compares xitdb with imbl. W13 is W8 on the B-tree LinkedArrayList family (W8 runs the RRB family); std and imbl run the same edits for it.");
    println!("- std, imbl and rpds run in memory: their W2/W2b/W6 read W1's map and their W7 reads W3's versions in the same process (built untimed); they hash keys with std's RandomState (SipHash-1-3), their default, where xitdb uses the precomputed SHA-1 as the key (W1/W2) or computes SHA-1 (W1b/W2b).");
    println!("- W10-W12 (sorted map) have no reference figure; their targets are issue 12's goals: W10 file no slower than redb's one-transaction insert, W11 within 1.5× of xitdb's own W2 (run W2 too for its verdict), W12 at least 2× faster than redb's range(start..).take(100). std, imbl and rpds run them on BTreeMap, OrdMap and RedBlackTreeMap in memory (W11/W12 on W10's map, built untimed); redb on a &[u8; 8] -> u64 table. W12's n is the number of scans (each reads up to 100 entries).");
    println!("- redb: W1/W1b commit with its default Durability::Immediate (one fsync); W3 is 10,000 Durability::None commits plus one final empty Durability::Immediate commit (timed; without it nothing persists); W3d commits each transaction with Durability::Immediate. Keys are &[u8; 20] / &[u8; 8] (memcmp order).");
    let skips: Vec<String> = COVERAGE
        .iter()
        .flat_map(|c| {
            c.skips
                .iter()
                .map(move |(w, why)| format!("{} {w}: {why}", c.system))
        })
        .collect();
    if !skips.is_empty() {
        println!("- Skipped: {}.", skips.join("; "));
    }
}

/// The two runners' binaries, and whether each was built.
struct Runners {
    xitdb: PathBuf,
    peers: PathBuf,
    xitdb_ok: bool,
    peers_ok: bool,
}

/// What the runs gathered: every sample, every raw JSON line, failures.
#[derive(Default)]
struct Gathered {
    results: Results,
    raw: String,
    failed: usize,
}

/// Runs one job (one process) of run `run` in `dir` and records what it
/// printed, per backend, in `g`.
fn run_job(job: &Job, run: usize, args: &Args, dir: &Path, runners: &Runners, g: &mut Gathered) {
    let (bin, cmd_args, built) = if job.system == "xitdb" {
        (&runners.xitdb, vec![job.filter.as_str()], runners.xitdb_ok)
    } else {
        (
            &runners.peers,
            vec![job.system, job.filter.as_str()],
            runners.peers_ok,
        )
    };
    let outcome = if built {
        run_process(bin, &cmd_args, dir, args.timeout)
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))
    } else {
        Err("its binary did not build".to_string())
    };
    let mut lines: Vec<(String, Sample)> = Vec::new();
    let failure = match &outcome {
        Ok(o) => {
            for line in o.stdout.lines().filter(|l| l.starts_with('{')) {
                let extra = format!(
                    ",\"run\":{run},\"peak_rss_kib\":{},\"process\":\"{} {}\"}}",
                    o.rss_kib, job.system, job.filter
                );
                g.raw
                    .push_str(line.trim_end().strip_suffix('}').unwrap_or(line));
                g.raw.push_str(&extra);
                g.raw.push('\n');
                if let Some((sys, w, b, mut s)) = parse_line(line) {
                    if sys == job.system && w == job.workload {
                        s.rss_kib = o.rss_kib;
                        lines.push((b, s));
                    }
                }
            }
            o.failure.clone()
        }
        Err(e) => Some(e.clone()),
    };
    for b in &job.backends {
        let got = lines.iter().find(|(lb, _)| lb == b).map(|x| x.1);
        let entry = match (&failure, got) {
            (None, Some(s)) => Ok(s),
            (Some(f), _) => Err(f.clone()),
            (None, None) => Err("no JSON line for this backend".to_string()),
        };
        let status = match &entry {
            Ok(s) => format!(
                "{} s, {:.1} MiB",
                fmt_s(s.seconds),
                s.rss_kib as f64 / 1024.0
            ),
            Err(e) => {
                g.failed += 1;
                g.raw.push_str(&format!(
                    "{{\"workload\":\"{}\",\"backend\":\"{b}\",\"system\":\"{}\",\"run\":{run},\"failed\":{}}}\n",
                    job.workload,
                    job.system,
                    serde_json::Value::String(e.clone())
                ));
                format!("FAILED: {e}")
            }
        };
        eprintln!(
            "report: run {run}/{} {} {} {b}: {status}",
            args.runs, job.system, job.workload
        );
        g.results
            .entry((job.system, job.workload, b))
            .or_default()
            .push(entry);
    }
    if let (Ok(o), Some(_)) = (&outcome, &failure) {
        let tail: Vec<&str> = o.stderr.lines().rev().take(10).collect();
        for l in tail.into_iter().rev() {
            eprintln!("report:   | {l}");
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("report: {e}");
            eprintln!("usage: report [--runs 3] [--out FILE] [--systems xitdb,std,imbl,rpds,redb] [--workloads W1,W2] [--no-build] [--timeout SECS]");
            return ExitCode::from(2);
        }
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest).to_path_buf();
    let bin_dir = match std::env::current_exe() {
        Ok(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(e) => {
            eprintln!("report: cannot find my own binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut runners = Runners {
        xitdb: bin_dir.join("workloads"),
        peers: bin_dir.join("peers"),
        xitdb_ok: true,
        peers_ok: true,
    };
    if args.build {
        // both runners are binaries of this crate
        let bin = |name| ["build", "--release", "-p", "xitdb-peers", "--bin", name];
        runners.xitdb_ok = build(&root, &bin("workloads"));
        runners.peers_ok = build(&root, &bin("peers"));
    }
    let jobs = jobs(&args);
    let mut g = Gathered::default();
    let scratch = std::env::temp_dir().join(format!("xitdb-report-{}", std::process::id()));
    for run in 1..=args.runs {
        let dir = scratch.join(format!("run-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("report: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        for job in &jobs {
            run_job(job, run, &args, &dir, &runners, &mut g);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    print_tables(&args, &g.results);
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, &g.raw) {
            eprintln!("report: cannot write {}: {e}", out.display());
            g.failed += 1;
        }
    }
    if g.failed > 0 {
        eprintln!("report: {} workload result(s) FAILED", g.failed);
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
