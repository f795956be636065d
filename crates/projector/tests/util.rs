//! Shared test fixtures: the recorded display stream under `tests/data/`.

use std::path::PathBuf;

use synchub_protocol::{HubEvent, RoomSnapshot};

/// The path of a fixture.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Every event of `room.jsonl`, in order.
pub fn recording() -> Vec<HubEvent> {
    let text = std::fs::read_to_string(data_path("room.jsonl")).expect("room.jsonl is readable");
    synchub_projector::connection::read_recording(&text).expect("every frame of room.jsonl decodes")
}

/// The recording's `room_snapshot`s, one per second.
pub fn snapshots() -> Vec<RoomSnapshot> {
    recording()
        .into_iter()
        .filter_map(|event| match event {
            HubEvent::RoomSnapshot(snapshot) => Some(snapshot),
            _ => None,
        })
        .collect()
}
