//! What the Bluetooth layer reports, for the console and the engine task: a strap's status as
//! the console lists it, and a strap's beats as the engine task's domain input.

use synchub_protocol::rest;
use synchub_session as domain;

/// A strap for the console; `assignment` is the wearer's label and slot.
pub fn strap(
    status: &synchub_ble::StrapStatus,
    code: &str,
    assignment: Option<(String, Option<u32>)>,
    claimed_by: Vec<u32>,
) -> rest::Strap {
    rest::Strap {
        id: status.id.as_str().to_owned(),
        // The room's keyed code, never the reader's public one (a scan would reveal it).
        code: code.to_owned(),
        name: status.name.clone(),
        model: status.model.clone(),
        manufacturer: status.manufacturer.clone(),
        state: match status.state {
            synchub_ble::StrapState::Discovered => rest::StrapState::Discovered,
            synchub_ble::StrapState::Connected => rest::StrapState::Connected,
            synchub_ble::StrapState::NoContact => rest::StrapState::NoContact,
            synchub_ble::StrapState::Reconnecting => rest::StrapState::Reconnecting,
            synchub_ble::StrapState::NoFreeConnection => rest::StrapState::NoFreeConnection,
        },
        adapter: status
            .adapter
            .as_ref()
            .map(|adapter| adapter.as_str().to_owned()),
        connection_problem: status.connection_problem.clone(),
        rssi: status.rssi,
        battery_pct: status.battery_pct,
        battery_low: status.battery_low,
        heart_rate_bpm: status.heart_rate_bpm,
        smoothed_rr_warning: status.smoothed_rr_warning.clone(),
        assigned: assignment.map(|(label, slot)| rest::StrapAssignment { label, slot }),
        claimed_by,
    }
}

/// A Bluetooth adapter for the console; `present` is false for one that went away while the
/// hub ran (it then holds no connection and has no room).
pub fn bluetooth_adapter(
    status: &synchub_ble::AdapterStatus,
    present: bool,
) -> rest::BluetoothAdapter {
    let count = |links: usize| u32::try_from(links).unwrap_or(u32::MAX);
    rest::BluetoothAdapter {
        id: status.id.as_str().to_owned(),
        address: status.address.clone(),
        present,
        connection_budget: count(status.link_budget),
        connections_in_use: if present {
            count(status.links_in_use)
        } else {
            0
        },
        free_connections: if present { count(status.free_links) } else { 0 },
        controller_refusal: status.controller_refusal.clone(),
        straps: if present {
            status
                .straps
                .iter()
                .map(|strap| strap.as_str().to_owned())
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A hub-read strap's beats. Their times are already on the hub's clock (`coherence.md` §7,
/// rebuilt in the Bluetooth layer), so they carry no sequence number and need no offset.
pub fn strap_beats(batch: synchub_ble::BeatBatch) -> domain::RrBatch {
    domain::RrBatch {
        rr_ms: batch.rr_ms,
        #[allow(clippy::cast_precision_loss)] // Epoch ms < 2^53: exact.
        ended_at_client_ms: (batch.ended_at_ms >= 0).then_some(batch.ended_at_ms as f64),
        seq: None,
    }
}
