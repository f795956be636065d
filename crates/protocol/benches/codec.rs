//! What the hub pays per message: decoding a typical `rr_intervals` frame and encoding a
//! `group_metrics_update` broadcast (serialised once per tick for the whole room).
//!
//! Run: `cargo bench -p synchub-protocol --bench codec`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use synchub_protocol::{
    CoherenceDistribution, CoherencePhase, GroupMetrics, GroupMetricsUpdate, HubEvent,
    decode_ws_frame,
};

fn codec(c: &mut Criterion) {
    // One second of beats from one phone, as the load benchmark sends them.
    let rr_frame = r#"{"event":"rr_intervals","data":{"rr":[1012.5,968.25],"endedAt":1732630511000,"seq":42}}"#;
    c.bench_function("decode rr_intervals (2 beats)", |b| {
        b.iter(|| decode_ws_frame(black_box(rr_frame)))
    });
    let rr_300: Vec<f64> = (0..300).map(|i| 800.0 + f64::from(i % 50)).collect();
    let big_frame =
        serde_json::json!({"event": "rr_intervals", "data": {"rr": rr_300, "seq": 1}}).to_string();
    c.bench_function("decode rr_intervals (300 beats)", |b| {
        b.iter(|| decode_ws_frame(black_box(&big_frame)))
    });
    let update = HubEvent::GroupMetricsUpdate(Box::new(GroupMetricsUpdate {
        group_metrics: GroupMetrics {
            session_id: "0b7c9a2e-4f1d-4a8e-9c3b-2d6e8f1a5b7c".into(),
            timestamp: 1_732_630_600_000,
            participant_count: 2000,
            average_coherence: 52.4,
            peak_coherence: 55.0,
            coherence_phase: CoherencePhase::Medium,
            coherence_distribution: CoherenceDistribution {
                low: 600,
                medium: 800,
                high: 600,
            },
            median_coherence: 51.0,
            std_coherence: 14.2,
            active_count: 1990,
            synchrony_index: Some(0.31),
            synchrony_baseline: Some(0.12),
        },
    }));
    c.bench_function("encode group_metrics_update frame", |b| {
        b.iter(|| black_box(&update).to_frame())
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
