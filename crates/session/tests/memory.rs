//! What a participant costs in memory (quality.md: 10 000 participants under 1 GiB of hub):
//! the test binary counts the heap bytes live on the test's thread.
//!
//! A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system
//! allocator and counts in a thread-local, so the exception to the workspace's no-unsafe rule
//! stays in this file.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use synchub_session::record::{DeviceKind, Record, ScheduleMode};
use synchub_session::{Engine, EngineConfig, PhaseDurations, ScheduleConfig};

use crate::util::{Heart, Rhythm, TEN_O_CLOCK_MS, join_request};

struct CountingAllocator;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
}

// SAFETY: every call forwards unchanged to `System`, which upholds the `GlobalAlloc` contract;
// the counter is a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

/// Drains every effect without keeping any, confirming beat batches durable as a store would.
fn drain(engine: &mut Engine) {
    while let Some(record) = engine.poll_record() {
        if let Record::Beats(batch) = &record
            && let Some(seq) = batch.seq
        {
            engine.handle_beats_durable(batch.participant_id, seq);
        }
    }
    while engine.poll_message().is_some() {}
    while engine.poll_broadcast().is_some() {}
}

#[test]
fn a_participant_with_beats_costs_under_20_kib_however_long_the_session() {
    const PARTICIPANTS: usize = 60;
    let config = EngineConfig {
        schedule: ScheduleConfig {
            mode: ScheduleMode::Manual,
            phases: PhaseDurations {
                preparation_secs: 0,
                active_secs: 3_600,
                integration_secs: 0,
            },
        },
        ..EngineConfig::default()
    };
    let start_ms = TEN_O_CLOCK_MS;
    let mut engine = Engine::new(config, start_ms, [9; 32]).expect("engine");
    engine.handle_start_session(start_ms).expect("start");
    drain(&mut engine);
    // The engine-wide workspace exists from here on; what follows is per participant.
    let baseline = live_bytes();
    let mut hearts: Vec<_> = (0..PARTICIPANTS)
        .map(|k| {
            let id = engine
                .handle_join(start_ms, join_request(DeviceKind::Sim))
                .expect("join");
            (id, Heart::new(Rhythm::Noise, start_ms as f64, k as u64))
        })
        .collect();
    let mut per_participant = Vec::new();
    let mut now_ms = start_ms;
    for seconds in 1..=300_i64 {
        now_ms = start_ms + seconds * 1_000 + 500;
        for (seq, (id, heart)) in (seconds as u64..).zip(hearts.iter_mut()) {
            let batch = heart.beats_until(now_ms as f64, Some(seq), 0.0);
            engine
                .handle_rr_intervals(now_ms, *id, batch)
                .expect("rr batch");
        }
        drain(&mut engine);
        while let Some(wake_ms) = engine.poll_timeout() {
            if wake_ms > now_ms {
                break;
            }
            engine.handle_timeout(wake_ms);
            drain(&mut engine);
        }
        if seconds == 90 || seconds == 300 {
            per_participant.push((live_bytes() - baseline) / PARTICIPANTS as isize);
        }
    }
    let rounds_recorded = engine
        .group_metrics()
        .and_then(|group| group.synchrony_index);
    assert!(rounds_recorded.is_some(), "synchrony ran");
    let (at_90_s, at_300_s) = (per_participant[0], per_participant[1]);
    // About 3.3 KiB of analyser, 9 KiB of the latest synchrony round, the rest bookkeeping.
    assert!(
        at_90_s < 20 * 1024,
        "{at_90_s} bytes per participant after 90 s"
    );
    // Nothing grows with the number of batches a participant has sent.
    assert!(
        at_300_s <= at_90_s + at_90_s / 20,
        "{at_90_s} → {at_300_s} bytes per participant from 90 s to 300 s"
    );
    assert!(now_ms > start_ms);
}
