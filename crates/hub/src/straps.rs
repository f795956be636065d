//! Bluetooth LE straps the hub reads itself (`synchub serve --ble`): the strap reader of
//! `synchub-ble` finds and connects them through every Bluetooth adapter; the facilitator
//! assigns a strap to a wearer; the bridge here forwards an assigned strap's beats to the engine
//! task as the same beats input a phone's `rr_intervals` becomes, from the strap's own
//! connection, so a strap's wearer is a participant exactly like a phone's.
//!
//! Without Bluetooth (no adapter, no BlueZ, no permission) the hub runs normally and
//! `GET /api/straps` says why; the reason is logged once at WARN. `roster` remembers the
//! adapters the reader has used, so the list keeps one that went away.

mod roster;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use synchub_ble::{ReaderConfig, ReaderSnapshot, StrapEvent, StrapId, StrapReader, StrapStatus};
use synchub_protocol::DeviceKind;
use synchub_protocol::rest::{Strap, StrapAssignRequest, StrapList};
use synchub_store::OrgSecret;
use tokio::sync::{mpsc, oneshot};

use crate::client_input::ClientInput;
use crate::clock::Clock;
use crate::convert;
use crate::engine_task::{EngineHandle, Input};
use crate::peer::{ConnId, Peer};
use crate::relays::{RelayStrapPeer, Relays, hub_strap_id, split_hub_strap_id};
use roster::AdapterRoster;

/// Why straps cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Availability {
    /// The hub was started without `--ble`.
    Off,
    /// Bluetooth is not usable; the Bluetooth stack's own words.
    Unavailable(String),
    On,
}

/// A strap given to a wearer.
#[derive(Debug, Clone)]
struct Assignment {
    label: String,
    conn: ConnId,
}

/// Who wears which strap. What the straps themselves are doing is the reader's snapshot, the
/// one copy of that state.
#[derive(Debug)]
struct Registry {
    availability: Availability,
    assignments: BTreeMap<StrapId, Assignment>,
}

/// Why an assignment was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssignError {
    #[error("straps are not available: {0}")]
    Unavailable(String),
    #[error("no strap with id {0} has been seen; list the straps with GET /api/straps")]
    UnknownStrap(String),
    #[error("strap {0} is already assigned; release it first")]
    AlreadyAssigned(String),
    #[error("strap {0} is not assigned")]
    NotAssigned(String),
    #[error("the hub is stopping")]
    Stopping,
}

/// The codes this room shows for its straps: keyed with the hub's secret (a Bluetooth scan
/// does not reveal them) and unique in the room (a strap whose code another strap already
/// shows gets the next attempt's code). A strap keeps its code while the hub runs.
struct StrapCodes {
    key: [u8; 32],
    by_strap: BTreeMap<StrapId, String>,
}

impl std::fmt::Debug for StrapCodes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StrapCodes")
            .field("straps", &self.by_strap.len())
            .finish_non_exhaustive()
    }
}

impl StrapCodes {
    fn code_of(&mut self, strap: &StrapId) -> String {
        if let Some(code) = self.by_strap.get(strap) {
            return code.clone();
        }
        let code = (0..)
            .map(|attempt| synchub_ble::keyed_strap_code(&self.key, strap.as_str(), attempt))
            .find(|code| !self.by_strap.values().any(|taken| taken == code))
            .expect("160 000 codes outnumber the straps of a room");
        self.by_strap.insert(strap.clone(), code.clone());
        code
    }
}

/// The hub's straps: what the reader reports, and who wears which.
#[derive(Debug)]
pub struct StrapRoom {
    registry: Mutex<Registry>,
    reader: Mutex<Option<StrapReader>>,
    codes: Mutex<StrapCodes>,
    adapters: Mutex<AdapterRoster>,
    /// Relays and the straps they read (listed, assigned and claimed like the hub's own).
    relays: Arc<Relays>,
}

/// A strap as the room lists it: its status, and the relay that reads it (`None`: the hub).
type Listed = (StrapStatus, Option<String>);

/// What the hub derives strap codes from its secret for.
const STRAP_CODE_PURPOSE: &str = "strap codes";

impl StrapRoom {
    /// A hub without Bluetooth.
    pub fn off(org_secret: &OrgSecret, relays: Arc<Relays>) -> Arc<StrapRoom> {
        Arc::new(StrapRoom::with(Availability::Off, org_secret, relays))
    }

    /// Starts the strap reader and the bridge to `engine`. Never fails: without Bluetooth the
    /// room says why, and the reason is logged once. The reader uses every adapter, connecting
    /// at most `links_per_adapter` straps through each.
    pub async fn start(
        engine: &EngineHandle,
        org_secret: &OrgSecret,
        links_per_adapter: usize,
        relays: Arc<Relays>,
    ) -> Arc<StrapRoom> {
        // The reader takes a plain function for its clock, so it reads the system's wall
        // clock; the bridge moves its beat times onto hub time.
        let config = ReaderConfig {
            now_ms: Clock::system_wall_ms,
            links_per_adapter,
            ..ReaderConfig::default()
        };
        match StrapReader::start(config).await {
            Ok((reader, events)) => {
                tracing::info!("reading Bluetooth LE heart-rate straps");
                let room = Arc::new(StrapRoom::with(Availability::On, org_secret, relays));
                *room.reader_slot() = Some(reader);
                tokio::spawn(bridge(
                    room.clone(),
                    events,
                    engine.inputs.clone(),
                    engine.clock.clone(),
                ));
                room
            }
            Err(error) => {
                tracing::warn!(%error, "Bluetooth straps are not available; the hub runs without them");
                Arc::new(StrapRoom::with(
                    Availability::Unavailable(error.to_string()),
                    org_secret,
                    relays,
                ))
            }
        }
    }

    fn with(availability: Availability, org_secret: &OrgSecret, relays: Arc<Relays>) -> StrapRoom {
        StrapRoom {
            registry: Mutex::new(Registry {
                availability,
                assignments: BTreeMap::new(),
            }),
            reader: Mutex::new(None),
            codes: Mutex::new(StrapCodes {
                key: org_secret.derived_key(STRAP_CODE_PURPOSE),
                by_strap: BTreeMap::new(),
            }),
            adapters: Mutex::new(AdapterRoster::default()),
            relays,
        }
    }

    /// The relays whose straps this room lists.
    pub fn relays(&self) -> &Arc<Relays> {
        &self.relays
    }

    /// The code this room shows for `strap` (given on first sight, unique in the room).
    fn code_of(&self, strap: &StrapId) -> String {
        self.codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .code_of(strap)
    }

    /// The code of the strap with id `id`, if the reader has seen it.
    pub fn code_of_id(&self, id: &str) -> Option<String> {
        let strap = StrapId::new(id);
        self.snapshot()
            .iter()
            .any(|(status, _)| status.id == strap)
            .then(|| self.code_of(&strap))
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reader_slot(&self) -> MutexGuard<'_, Option<StrapReader>> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every strap seen since the start (none without Bluetooth), ordered by id, then every
    /// relay's straps as each relay reported them last, by relay.
    fn snapshot(&self) -> Vec<Listed> {
        let own = self
            .reader_slot()
            .as_ref()
            .map(StrapReader::straps)
            .unwrap_or_default();
        self.with_relay_straps(own)
    }

    /// The hub's own straps (`via` none) followed by every relay's.
    fn with_relay_straps(&self, own: Vec<StrapStatus>) -> Vec<Listed> {
        let mut straps: Vec<Listed> = own.into_iter().map(|status| (status, None)).collect();
        straps.extend(
            self.relays
                .straps()
                .into_iter()
                .map(|(relay, connected, strap)| {
                    let status = convert::relay_strap_status(&relay, connected, &strap);
                    (status, Some(relay))
                }),
        );
        straps
    }

    /// Everything the reader knows now: adapters, straps and advice (empty without Bluetooth).
    fn reader_snapshot(&self) -> ReaderSnapshot {
        self.reader_slot().as_ref().map_or(
            ReaderSnapshot {
                adapters: Vec::new(),
                straps: Vec::new(),
                advice: None,
            },
            StrapReader::snapshot,
        )
    }

    fn roster(&self) -> MutexGuard<'_, AdapterRoster> {
        self.adapters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why straps cannot be read; `None` when they can.
    fn unavailable_reason(registry: &Registry) -> Option<String> {
        match &registry.availability {
            Availability::On => None,
            Availability::Off => Some(
                "this hub was started without Bluetooth; start it with --ble (or ble = true in its config file) to read straps".to_owned(),
            ),
            Availability::Unavailable(reason) => Some(reason.clone()),
        }
    }

    /// `GET /api/straps`. `slot_of` maps a strap code to its wearer's slot in the session,
    /// `claimers_of` to the slots of the participants who claimed it.
    pub fn list(
        &self,
        slot_of: impl Fn(&str) -> Option<u32>,
        claimers_of: impl Fn(&str) -> Vec<u32>,
    ) -> StrapList {
        let ReaderSnapshot {
            adapters,
            straps: own,
            advice,
        } = self.reader_snapshot();
        let adapters = self.roster().list(&adapters);
        let straps = self.with_relay_straps(own);
        let codes: Vec<String> = straps
            .iter()
            .map(|(status, _)| self.code_of(&status.id))
            .collect();
        let registry = self.lock();
        // Straps from relays are straps too: a hub without Bluetooth of its own still lists
        // and assigns them.
        let has_relay_straps = straps.iter().any(|(_, via)| via.is_some());
        let reason = Self::unavailable_reason(&registry).filter(|_| !has_relay_straps);
        StrapList {
            available: reason.is_none(),
            reason,
            straps: straps
                .iter()
                .zip(&codes)
                .map(|((status, via), code)| {
                    let assignment = registry
                        .assignments
                        .get(&status.id)
                        .map(|assignment| (assignment.label.clone(), slot_of(code)));
                    convert::strap(status, code, assignment, claimers_of(code), via.clone())
                })
                .collect(),
            adapters,
            advice,
        }
    }

    /// The battery of the strap showing `code`.
    pub fn battery_of_code(&self, code: &str) -> Option<u8> {
        self.snapshot()
            .into_iter()
            .find(|(status, _)| self.code_of(&status.id) == code)
            .and_then(|(status, _)| status.battery_pct)
    }

    /// `POST /api/straps/{id}/assign`: the strap's wearer joins the room as a participant.
    pub async fn assign(
        &self,
        id: &str,
        request: StrapAssignRequest,
        conn: ConnId,
        org_secret: &OrgSecret,
        engine: &EngineHandle,
    ) -> Result<Strap, AssignError> {
        let strap_id = StrapId::new(id);
        let listed = self
            .snapshot()
            .into_iter()
            .find(|(status, _)| status.id == strap_id);
        let via = listed.as_ref().and_then(|(_, via)| via.clone());
        let status = listed.map(|(status, _)| status);
        let (code, model) = {
            let mut registry = self.lock();
            if via.is_none()
                && let Some(reason) = Self::unavailable_reason(&registry)
            {
                return Err(AssignError::Unavailable(reason));
            }
            let status = status
                .as_ref()
                .ok_or_else(|| AssignError::UnknownStrap(id.to_owned()))?;
            let found = (
                self.code_of(&status.id),
                status.model.clone().or(status.name.clone()),
            );
            if registry.assignments.contains_key(&strap_id) {
                return Err(AssignError::AlreadyAssigned(found.0));
            }
            // Reserved before the engine answers, so two facilitators cannot assign it twice.
            registry.assignments.insert(
                strap_id.clone(),
                Assignment {
                    label: request.label.clone(),
                    conn,
                },
            );
            found
        };
        let mut join = request.join;
        join.device = Some(synchub_protocol::Device {
            kind: DeviceKind::Ble,
            model,
        });
        // Each assignment is a different wearer, so a fresh pseudonym (never the strap's address).
        let pseudonym = org_secret.pseudonym(&format!("strap-wearer:{}", uuid::Uuid::new_v4()));
        // A relay's strap answers through its relay: `rr_ack` becomes `relay_ack`.
        let peer = via.as_ref().and_then(|relay| {
            let (_, strap) = split_hub_strap_id(id)?;
            let peer: Arc<dyn Peer> = Arc::new(RelayStrapPeer {
                relays: self.relays.clone(),
                relay: relay.clone(),
                strap: strap.to_owned(),
            });
            Some(peer)
        });
        let (reply, answer) = oneshot::channel();
        let sent = engine
            .inputs
            .send(Input::StrapAssigned {
                conn,
                code: code.clone(),
                pseudonym,
                join: convert::join_fields(&join),
                peer,
                reply,
            })
            .await;
        let answered = match sent {
            Ok(()) => answer.await.is_ok(),
            Err(_) => false,
        };
        if !answered {
            self.lock().assignments.remove(&strap_id);
            return Err(AssignError::Stopping);
        }
        let status = status.ok_or_else(|| AssignError::UnknownStrap(id.to_owned()))?;
        Ok(convert::strap(
            &status,
            &code,
            Some((request.label, None)),
            Vec::new(),
            via,
        ))
    }

    /// `DELETE /api/straps/{id}/assign`: the wearer leaves; the strap is free again.
    pub async fn release(&self, id: &str, engine: &EngineHandle) -> Result<(), AssignError> {
        let assignment = self
            .lock()
            .assignments
            .remove(&StrapId::new(id))
            .ok_or_else(|| AssignError::NotAssigned(id.to_owned()))?;
        engine
            .inputs
            .send(Input::StrapReleased {
                conn: assignment.conn,
            })
            .await
            .map_err(|_| AssignError::Stopping)
    }

    /// Disconnects every strap (the hub is stopping).
    pub async fn shutdown(&self) {
        let reader = self.reader_slot().take();
        if let Some(reader) = reader {
            reader.shutdown().await;
        }
    }

    /// The connection of the wearer of relay `relay`'s strap `strap`, if it is assigned.
    pub fn relay_strap_conn(&self, relay: &str, strap: &str) -> Option<ConnId> {
        self.assigned_conn(&StrapId::new(hub_strap_id(relay, strap)))
    }

    fn assigned_conn(&self, strap: &StrapId) -> Option<ConnId> {
        self.lock()
            .assignments
            .get(strap)
            .map(|assignment| assignment.conn)
    }
}

/// Forwards an assigned strap's beats to the engine as beats of the strap's connection. Beat
/// times were rebuilt on this computer's wall clock (`coherence.md` §7); they are moved onto
/// hub time here, so they need no offset and a step of the wall clock leaves them in place.
/// Status events are not needed: [`StrapRoom::list`] reads the reader's snapshot. Adapter lists
/// are noted, so an adapter that comes and goes between two listings is still remembered.
async fn bridge(
    room: Arc<StrapRoom>,
    mut events: mpsc::Receiver<StrapEvent>,
    inputs: mpsc::Sender<Input>,
    clock: Clock,
) {
    while let Some(event) = events.recv().await {
        match event {
            StrapEvent::Status(_) => {}
            StrapEvent::Adapters(adapters) => room.roster().note(&adapters),
            StrapEvent::Beats { strap, mut batch } => {
                let Some(conn) = room.assigned_conn(&strap) else {
                    continue;
                };
                if batch.rr_ms.is_empty() {
                    continue;
                }
                if batch.ended_at_ms >= 0 {
                    batch.ended_at_ms += clock.hub_ms() - clock.wall_ms();
                }
                let input = Input::Client {
                    conn,
                    input: ClientInput::Beats(convert::strap_beats(batch)),
                    reply: None,
                };
                if inputs.send(input).await.is_err() {
                    break;
                }
            }
        }
    }
}
