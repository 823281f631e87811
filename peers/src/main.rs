//! The standard workloads on peer libraries (work in progress).

fn main() {}
