//! Proof that a coherence window allocates nothing in steady state (coherence.md §8): the
//! test binary counts allocations per thread.
//!
//! A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system
//! allocator and bumps a thread-local counter, so the exception to the crate's no-unsafe rule
//! stays in this test file.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use synchub_hrv::{CoherenceAnalyzer, StreamConfig, StreamWorkspace, StreamingAnalyzer};

use crate::util::{beats, paced_sine, white_noise};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call forwards unchanged to `System`, which upholds the `GlobalAlloc` contract;
// the counter is a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn a_coherence_window_allocates_nothing_in_steady_state() {
    let beats = beats(&white_noise(600.0, 4));
    let times: Vec<f64> = beats.iter().map(|b| b.time_secs).collect();
    let rr: Vec<f64> = beats.iter().map(|b| b.rr_ms).collect();
    let artifact = vec![false; beats.len()];
    let mut analyzer = CoherenceAnalyzer::new();
    // The first window grows the knot buffers to their working size.
    analyzer
        .analyze_window(&times, &rr, &artifact, times[0], 64.0)
        .unwrap();
    let mut windows = 0;
    let allocations = allocations_during(|| {
        for m in 0..100 {
            let start = times[0] + 5.0 * f64::from(m);
            if analyzer
                .analyze_window(&times, &rr, &artifact, start, 64.0)
                .is_some()
            {
                windows += 1;
            }
        }
    });
    assert_eq!(windows, 100);
    assert_eq!(allocations, 0);
}

#[test]
fn a_streaming_analyser_allocates_nothing_per_beat_in_steady_state() {
    let beats = beats(&paced_sine(900.0));
    let mut analyzer = StreamingAnalyzer::new(StreamConfig::default());
    let mut workspace = StreamWorkspace::new();
    let (warm, steady) = beats.split_at(300);
    for &beat in warm {
        analyzer.push(beat, &mut workspace).unwrap();
        while analyzer.poll_result(&mut workspace).is_some() {}
    }
    let mut results = 0;
    let allocations = allocations_during(|| {
        for &beat in steady {
            analyzer.push(beat, &mut workspace).unwrap();
            while analyzer.poll_result(&mut workspace).is_some() {
                results += 1;
            }
        }
    });
    assert!(results > 100);
    assert_eq!(allocations, 0);
}
