//! A global allocator that records, per thread, the largest single
//! allocation and the number of allocations made: for tests that bound what
//! hostile bytes can make us allocate, and for tests that reads allocate
//! nothing. Included by the test binaries that need it with `#[path]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    grow(size as isize);
}

/// Live bytes allocated on this thread change by `by`; the peak follows.
fn grow(by: isize) {
    let _ = LIVE.try_with(|l| {
        let now = l.get().saturating_add(by);
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping only touches a const-initialised thread-local cell.
#[expect(
    unsafe_code,
    reason = "a counting global allocator: the allocation bounds of the hostile-input and zero-allocation tests"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        grow(-(layout.size() as isize));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as isize));
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; returns its result and the number of allocations (and
/// reallocations) it made on this thread.
#[allow(dead_code)]
pub fn allocation_count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(0));
    let out = f();
    (out, COUNT.with(|c| c.get()))
}

/// Runs `f`; returns its result and the largest single allocation it made
/// on this thread.
#[allow(dead_code)]
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let out = f();
    (out, LARGEST.with(|c| c.get()))
}

/// Runs `f`; returns its result and the most bytes it had allocated (and
/// not yet freed) on this thread at any one time: its peak memory.
#[allow(dead_code)]
pub fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(start));
    let out = f();
    (
        out,
        PEAK.with(|p| p.get()).saturating_sub(start).max(0) as usize,
    )
}
