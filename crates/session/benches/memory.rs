//! Where the memory of a room goes, per participant: a counting global allocator tracks the
//! bytes live on the heap while analysers and engines are built and fed. Run with
//! `cargo bench -p synchub-session --bench memory`; it prints a breakdown (no timing, so the
//! figures do not depend on machine load).
//!
//! A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system
//! allocator and counts, so the exception to the workspace's no-unsafe rule stays in this file.
#![allow(unsafe_code, clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use synchub_hrv::synchrony::SynchronyAnalyzer;
use synchub_hrv::{Beat, CoherenceAnalyzer, StreamConfig, StreamWorkspace, StreamingAnalyzer};

mod support;
use support::RrRoom;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

struct CountingAllocator;

// SAFETY: every call forwards unchanged to `System`, which upholds the `GlobalAlloc` contract;
// the counter is an atomic, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const N: usize = 1_000;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn per(bytes: isize, n: usize) -> String {
    format!(
        "{:>8.0} B ({:>6.1} KiB)",
        bytes as f64 / n as f64,
        bytes as f64 / n as f64 / 1024.0
    )
}

/// 90 s of beats of a slow rhythm, pushed one second at a time with polling, as the engine does.
fn feed(analyzers: &mut [StreamingAnalyzer], workspace: &mut StreamWorkspace, seconds: f64) {
    for (k, analyzer) in analyzers.iter_mut().enumerate() {
        let mut t_secs = 0.0;
        while t_secs < seconds {
            let rr_ms = 850.0 + 60.0 * (0.6 * t_secs + k as f64).sin();
            t_secs += rr_ms / 1000.0;
            analyzer
                .push(
                    Beat {
                        time_secs: t_secs,
                        rr_ms,
                    },
                    workspace,
                )
                .expect("beat");
            while analyzer.poll_result(workspace).is_some() {}
        }
    }
}

fn main() {
    println!(
        "size_of: StreamingAnalyzer {} B, CoherenceAnalyzer {} B, StreamWorkspace {} B, \
         SynchronyAnalyzer {} B",
        size_of::<StreamingAnalyzer>(),
        size_of::<CoherenceAnalyzer>(),
        size_of::<StreamWorkspace>(),
        size_of::<SynchronyAnalyzer>()
    );
    println!("heap bytes per participant, N = {N}:");

    let before = live();
    let coherence: Vec<CoherenceAnalyzer> = (0..N).map(|_| CoherenceAnalyzer::new()).collect();
    println!(
        "  hrv CoherenceAnalyzer::new (FFT plan + buffers)    {}",
        per(live() - before, N)
    );
    drop(black_box(coherence));
    let before = live();
    let mut workspace = StreamWorkspace::new();
    println!(
        "  hrv StreamWorkspace::new (one per engine, total)     {}",
        per(live() - before, 1)
    );

    for clean in [false, true] {
        let config = StreamConfig {
            clean,
            ..StreamConfig::default()
        };
        let before = live();
        let mut analyzers: Vec<StreamingAnalyzer> =
            (0..N).map(|_| StreamingAnalyzer::new(config)).collect();
        let fresh = live() - before;
        feed(&mut analyzers, &mut workspace, 90.0);
        let fed = live() - before;
        println!(
            "  hrv StreamingAnalyzer clean={clean:<5} new            {}",
            per(fresh, N)
        );
        println!(
            "  hrv StreamingAnalyzer clean={clean:<5} after 90 s     {}",
            per(fed, N)
        );
        drop(black_box(analyzers));
    }

    // The engine's synchrony analyser keeps per-participant buffers between rounds.
    let series: Vec<Vec<f64>> = (0..N)
        .map(|k| {
            (0..256)
                .map(|i| 70.0 + 3.0 * (0.15 * i as f64 + k as f64).sin())
                .collect()
        })
        .collect();
    let slices: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
    let before = live();
    let mut synchrony = SynchronyAnalyzer::new(256);
    drop(black_box(synchrony.group(&slices, 1, 20_000)));
    println!(
        "  hrv SynchronyAnalyzer kept after one round          {}",
        per(live() - before, N)
    );
    drop(synchrony);

    let before = live();
    let mut room = RrRoom::new(N);
    let joined = live() - before;
    println!(
        "  session engine, joined, no beats yet                {}",
        per(joined, N)
    );
    let mut seconds = 0;
    for target in [90, 900] {
        while seconds < target {
            room.send_second();
            room.tick();
            seconds += 1;
        }
        println!(
            "  session engine, after {target:>3} s of 1 batch/s + ticks   {}",
            per(live() - before, N)
        );
    }
    drop(black_box(room));
}
