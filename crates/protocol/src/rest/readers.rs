//! What reads the hub's straps: the computer's Bluetooth adapters, each with the connections it
//! holds and the room it has left (the `adapters` of `GET /api/straps`). A controller holds only
//! a handful of connections, so the facilitator needs to see which adapter is full before a
//! strap is left waiting.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One Bluetooth adapter the hub reads straps through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BluetoothAdapter {
    /// The adapter's name on the hub's computer: "hci0", "hci1", … on Linux; what a strap's
    /// `adapter` names.
    pub id: String,
    /// Its own Bluetooth address, where the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether the adapter is there now; false for one that went away while the hub ran (a
    /// dongle unplugged), whose straps were moved to adapters with room.
    pub present: bool,
    /// How many straps the hub connects through it at most: the configured budget
    /// (`--ble-links-per-adapter`, 7 by default), or fewer once its controller refused a
    /// connection.
    pub connection_budget: u32,
    /// Straps placed on it: connected, connecting or reconnecting.
    pub connections_in_use: u32,
    /// How many more straps it can take: `connectionBudget` minus `connectionsInUse` (0 when
    /// not present).
    pub free_connections: u32,
    /// Set when the controller refused a connection within the budget: what it said, and the
    /// lower budget the hub keeps to from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_refusal: Option<String>,
    /// The ids of the straps placed on it (as in `straps[].id`).
    pub straps: Vec<String>,
}
