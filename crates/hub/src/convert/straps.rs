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
    via: Option<String>,
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
        via,
    }
}

/// A relay's strap as the room lists it, with its hub id `<strap>@<relay>`. While the relay is
/// not connected its straps show as reconnecting: their beats wait in the relay's queue.
pub fn relay_strap_status(
    relay: &str,
    relay_connected: bool,
    strap: &synchub_protocol::relay::RelayStrap,
) -> synchub_ble::StrapStatus {
    use synchub_ble::StrapState as Reader;
    let state = match strap.state {
        _ if !relay_connected => Reader::Reconnecting,
        rest::StrapState::Discovered => Reader::Discovered,
        rest::StrapState::Connected => Reader::Connected,
        rest::StrapState::NoContact => Reader::NoContact,
        rest::StrapState::Reconnecting => Reader::Reconnecting,
        rest::StrapState::NoFreeConnection => Reader::NoFreeConnection,
    };
    synchub_ble::StrapStatus {
        id: synchub_ble::StrapId::new(crate::relays::hub_strap_id(relay, &strap.id)),
        // Never shown: the room shows its own keyed code.
        code: String::new(),
        name: strap.name.clone(),
        model: strap.model.clone(),
        manufacturer: strap.manufacturer.clone(),
        state,
        adapter: None,
        heard_by: Vec::new(),
        rssi: strap.rssi,
        battery_pct: strap.battery_pct,
        battery_low: strap.battery_low,
        heart_rate_bpm: strap.heart_rate_bpm,
        body_location: None,
        smoothed_rr_warning: strap.smoothed_rr_warning.clone(),
        connection_problem: strap.connection_problem.clone(),
        last_seen_ms: 0,
    }
}

/// A relay reader's strap for the relay link: what the hub lists of it.
pub fn relay_strap(status: &synchub_ble::StrapStatus) -> synchub_protocol::relay::RelayStrap {
    use synchub_ble::StrapState as Reader;
    synchub_protocol::relay::RelayStrap {
        id: status.id.as_str().to_owned(),
        name: status.name.clone(),
        model: status.model.clone(),
        manufacturer: status.manufacturer.clone(),
        state: match status.state {
            Reader::Discovered => rest::StrapState::Discovered,
            Reader::NoFreeConnection => rest::StrapState::NoFreeConnection,
            Reader::Connected => rest::StrapState::Connected,
            Reader::NoContact => rest::StrapState::NoContact,
            Reader::Reconnecting => rest::StrapState::Reconnecting,
        },
        adapter: status.adapter.as_ref().map(ToString::to_string),
        rssi: status.rssi,
        battery_pct: status.battery_pct,
        battery_low: status.battery_low,
        heart_rate_bpm: status.heart_rate_bpm,
        smoothed_rr_warning: status.smoothed_rr_warning.clone(),
        connection_problem: status.connection_problem.clone(),
    }
}

/// A relay's batch as the engine task's beats input: times already on the hub's clock (the
/// relay converted them with its `time_sync` offset), and the relay's `seq`, by which a batch
/// sent again is stored once.
pub fn relay_beats(batch: &synchub_protocol::relay::RelayBatch) -> domain::RrBatch {
    domain::RrBatch {
        rr_ms: batch.rr.clone(),
        ended_at_client_ms: batch.ended_at,
        seq: Some(batch.seq),
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
