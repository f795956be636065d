//! The room as participants see it: its name and the code they must give. The facilitator may
//! change both while the hub runs, so the hub shares them through a `watch` channel; the edge
//! checks codes against them, the engine task names the room in `session_joined`, and mDNS
//! announces the name.

/// A room's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSettings {
    pub name: String,
    /// `None`: no code required.
    pub code: Option<String>,
}
