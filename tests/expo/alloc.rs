//! Allocation budget of `expo::parse` on the recorded node_exporter bodies: the parser sizes its
//! vectors up front, so a whole body costs a handful of allocations, not one per line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nocscope::expo::{Format, parse};

const NODE_PROM: &[u8] = include_bytes!("../../benches/data/node_exporter.prom");
const NODE_OM: &[u8] = include_bytes!("../../benches/data/node_exporter.om");

/// Counts allocations made by the current thread only, so the test harness's own threads do
/// not disturb the figure.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(body: &[u8], format: Format) -> usize {
    let before = ALLOCS.with(Cell::get);
    let parsed = parse(body, format);
    let after = ALLOCS.with(Cell::get);
    assert!(parsed.is_ok(), "{:?}", parsed.err());
    after - before
}

#[test]
fn node_exporter_bodies_parse_in_a_few_allocations() {
    for (body, format) in [
        (NODE_PROM, Format::Prometheus004),
        (NODE_OM, Format::OpenMetrics1),
    ] {
        let n = allocations(body, format);
        eprintln!("{format:?}: {n} allocations");
        // samples, labels, families, opened and the reopen table: one each.
        assert!(n <= 5, "{format:?}: {n} allocations per body");
    }
}
