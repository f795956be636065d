//! The reader's main task: it keeps the adapters and straps, turns every adapter's events into
//! "who hears which strap how well", places waiting straps on adapters with
//! [`place_straps`], starts and stops their link tasks, and publishes the adapter list.
//!
//! Everything that decides where a strap goes happens here, on one task, so no two decisions
//! race; the link tasks only connect and stream, and report back when a controller refuses them.
//! `adapter_changes` is the part that handles adapters appearing and going away.

mod adapter_changes;

use super::adapters::{HEART_RATE_SERVICE, strap_id};
use super::link::{GATT_TIMEOUT, LinkReport, LinkTask, SharedTimeline, new_timeline, stopped};
use super::state::Shared;
use super::status::{
    AdapterId, AdapterStatus, Hearing, NOT_HEARD_PROBLEM, StrapId, StrapState, StrapStatus,
    no_free_connection_problem,
};
use crate::placement::{AdapterRoom, Placement, WaitingStrap, place_straps};
use btleplug::api::{Central as _, CentralEvent, Peripheral as _};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch as watch_channel};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tracing::{debug, info, warn};

/// How long a newly heard strap waits before it is placed, so that every adapter has had a
/// moment to hear it and the loudest one can be chosen.
const HEARING_SETTLE: Duration = Duration::from_secs(1);
/// How often waiting straps are considered for placement.
const PLACEMENT_TICK: Duration = Duration::from_millis(500);

/// An adapter in use.
struct AdapterEntry {
    adapter: Adapter,
    address: Option<String>,
    link_budget: usize,
    controller_refusal: Option<String>,
    /// Forwards the adapter's events; aborted when the adapter goes away.
    watcher: JoinHandle<()>,
}

/// One adapter hearing a strap: the strap's peripheral object on that adapter.
struct HeardOn {
    peripheral: Peripheral,
    rssi: Option<i16>,
}

/// A strap the reader knows.
struct StrapEntry {
    first_heard: Instant,
    heard: BTreeMap<AdapterId, HeardOn>,
    link: Option<Link>,
    timeline: SharedTimeline,
}

/// A strap's link task on one adapter.
struct Link {
    adapter: AdapterId,
    peripheral: PeripheralId,
    generation: u64,
    disconnected: Arc<Notify>,
    stop: watch_channel::Sender<bool>,
    task: JoinHandle<()>,
}

pub(super) struct Supervisor {
    manager: Manager,
    shared: Arc<Shared>,
    adapters: BTreeMap<AdapterId, AdapterEntry>,
    /// Adapters that could not be used, with why: retried at every listing, logged once.
    unusable: BTreeMap<AdapterId, String>,
    straps: BTreeMap<StrapId, StrapEntry>,
    /// Which strap each adapter's peripheral object is.
    peripherals: HashMap<PeripheralId, (AdapterId, StrapId)>,
    central_sender: mpsc::Sender<(AdapterId, CentralEvent)>,
    central_events: mpsc::Receiver<(AdapterId, CentralEvent)>,
    report_sender: mpsc::UnboundedSender<LinkReport>,
    reports: mpsc::UnboundedReceiver<LinkReport>,
    next_generation: u64,
}

impl Supervisor {
    pub(super) fn new(manager: Manager, shared: Arc<Shared>) -> Supervisor {
        let (central_sender, central_events) = mpsc::channel(256);
        let (report_sender, reports) = mpsc::unbounded_channel();
        Supervisor {
            manager,
            shared,
            adapters: BTreeMap::new(),
            unusable: BTreeMap::new(),
            straps: BTreeMap::new(),
            peripherals: HashMap::new(),
            central_sender,
            central_events,
            report_sender,
            reports,
            next_generation: 0,
        }
    }

    /// Runs until told to stop, then disconnects every strap.
    pub(super) async fn run(mut self, mut stop: watch_channel::Receiver<bool>) {
        let poll = self.shared.config.adapter_poll;
        let mut adapter_poll = tokio::time::interval_at(Instant::now() + poll, poll);
        let mut placement =
            tokio::time::interval_at(Instant::now() + PLACEMENT_TICK, PLACEMENT_TICK);
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                Some((adapter, event)) = self.central_events.recv() => {
                    self.on_central_event(adapter, event).await;
                }
                Some(report) = self.reports.recv() => self.on_link_report(report),
                _ = adapter_poll.tick() => self.poll_adapters().await,
                _ = placement.tick() => self.place_waiting(),
            }
        }
        self.shutdown().await;
    }

    async fn shutdown(mut self) {
        for (id, entry) in &self.adapters {
            entry.watcher.abort();
            if self.shared.config.scan
                && let Ok(Err(error)) = timeout(GATT_TIMEOUT, entry.adapter.stop_scan()).await
            {
                debug!(adapter = %id, %error, "stopping the scan failed");
            }
        }
        let links: Vec<Link> = self
            .straps
            .values_mut()
            .filter_map(|entry| entry.link.take())
            .collect();
        for link in &links {
            link.stop.send_replace(true);
        }
        // Each link task is disconnecting its strap.
        for link in links {
            let _ = timeout(GATT_TIMEOUT, link.task).await;
        }
    }

    async fn on_central_event(&mut self, adapter: AdapterId, event: CentralEvent) {
        match event {
            CentralEvent::DeviceDiscovered(id) => {
                if self.peripherals.contains_key(&id) {
                    return;
                }
                let Some(peripheral) = self.peripheral(&adapter, &id).await else {
                    return;
                };
                let Ok(Some(properties)) = peripheral.properties().await else {
                    return;
                };
                if properties.services.contains(&HEART_RATE_SERVICE) {
                    self.hear(adapter, peripheral, properties.local_name, properties.rssi);
                }
            }
            CentralEvent::ServicesAdvertisement { id, services } => {
                if self.peripherals.contains_key(&id) || !services.contains(&HEART_RATE_SERVICE) {
                    return;
                }
                let Some(peripheral) = self.peripheral(&adapter, &id).await else {
                    return;
                };
                let properties = peripheral.properties().await.ok().flatten();
                let (name, rssi) = properties.map_or((None, None), |p| (p.local_name, p.rssi));
                self.hear(adapter, peripheral, name, rssi);
            }
            CentralEvent::RssiUpdate { id, rssi } => {
                let Some((_, strap)) = self.peripherals.get(&id) else {
                    return;
                };
                let strap = strap.clone();
                if let Some(entry) = self.straps.get_mut(&strap)
                    && let Some(heard) = entry.heard.get_mut(&adapter)
                {
                    heard.rssi = Some(rssi);
                    let (heard_by, rssi) = (hearings(entry), strap_rssi(entry));
                    let now_ms = self.shared.now_ms();
                    self.shared.update(&strap, |status| {
                        status.heard_by = heard_by;
                        status.rssi = rssi;
                        status.last_seen_ms = now_ms;
                    });
                }
            }
            CentralEvent::DeviceDisconnected(id) => {
                let Some((_, strap)) = self.peripherals.get(&id) else {
                    return;
                };
                if let Some(link) = self.straps.get(strap).and_then(|entry| entry.link.as_ref())
                    && link.peripheral == id
                {
                    link.disconnected.notify_one();
                }
            }
            _ => {}
        }
    }

    async fn peripheral(&self, adapter: &AdapterId, id: &PeripheralId) -> Option<Peripheral> {
        self.adapters
            .get(adapter)?
            .adapter
            .peripheral(id)
            .await
            .ok()
    }

    /// Records that `adapter` hears a strap.
    fn hear(
        &mut self,
        adapter: AdapterId,
        peripheral: Peripheral,
        name: Option<String>,
        rssi: Option<i16>,
    ) {
        let strap = strap_id(&peripheral);
        self.peripherals
            .insert(peripheral.id(), (adapter.clone(), strap.clone()));
        let now_ms = self.shared.now_ms();
        let heard = HeardOn { peripheral, rssi };
        if let Some(entry) = self.straps.get_mut(&strap) {
            debug!(strap = %strap, %adapter, ?rssi, "heart-rate strap heard by another adapter");
            entry.heard.insert(adapter, heard);
            let (heard_by, rssi) = (hearings(entry), strap_rssi(entry));
            self.shared.update(&strap, |status| {
                status.heard_by = heard_by;
                status.rssi = rssi;
                if status.name.is_none() {
                    status.name = name;
                }
                status.last_seen_ms = now_ms;
            });
            return;
        }
        let entry = StrapEntry {
            first_heard: Instant::now(),
            heard: BTreeMap::from([(adapter.clone(), heard)]),
            link: None,
            timeline: new_timeline(),
        };
        let mut status = StrapStatus::discovered(strap.clone(), name, rssi, now_ms);
        status.heard_by = hearings(&entry);
        info!(strap = %strap, code = %status.code, name = ?status.name, %adapter, "heart-rate strap found");
        self.shared.insert(status);
        self.straps.insert(strap, entry);
    }

    /// Places the straps without a link that every adapter has had time to hear.
    fn place_waiting(&mut self) {
        let now = Instant::now();
        let mut waiting: Vec<(&StrapId, &StrapEntry)> = self
            .straps
            .iter()
            .filter(|(_, entry)| {
                entry.link.is_none() && now.duration_since(entry.first_heard) >= HEARING_SETTLE
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        // Earlier straps first: a strap that has waited keeps its claim on the next free link.
        waiting
            .sort_by(|(a_id, a), (b_id, b)| a.first_heard.cmp(&b.first_heard).then(a_id.cmp(b_id)));
        let waiting: Vec<WaitingStrap> = waiting
            .into_iter()
            .map(|(strap, entry)| WaitingStrap {
                strap: strap.clone(),
                heard_by: entry
                    .heard
                    .iter()
                    .map(|(adapter, heard)| (adapter.clone(), heard.rssi))
                    .collect(),
            })
            .collect();
        let rooms: Vec<AdapterRoom> = self
            .adapter_statuses()
            .into_iter()
            .map(|adapter| AdapterRoom {
                adapter: adapter.id,
                free_links: adapter.free_links,
            })
            .collect();
        let placements = place_straps(&rooms, &waiting);
        let mut placed_any = false;
        for (strap, placement) in waiting.iter().map(|w| &w.strap).zip(placements) {
            match placement {
                Placement::Adapter(adapter) => {
                    self.start_link(strap, adapter);
                    placed_any = true;
                }
                Placement::NoFreeConnection => {
                    let adapters = self.adapter_statuses();
                    self.shared.update(strap, |status| {
                        if status.state != StrapState::NoFreeConnection {
                            info!(strap = %status.id, "heart-rate strap heard, but no adapter that hears it has a free connection");
                        }
                        status.state = StrapState::NoFreeConnection;
                        status.adapter = None;
                        status.connection_problem =
                            Some(no_free_connection_problem(&status.heard_by, &adapters));
                    });
                }
                Placement::NotHeard => self.shared.update(strap, |status| {
                    status.state = StrapState::Reconnecting;
                    status.adapter = None;
                    status.connection_problem = Some(NOT_HEARD_PROBLEM.to_owned());
                }),
            }
        }
        if placed_any {
            self.publish_adapters();
        }
    }

    fn start_link(&mut self, strap: &StrapId, adapter: AdapterId) {
        let Some(entry) = self.straps.get_mut(strap) else {
            return;
        };
        let Some(heard) = entry.heard.get(&adapter) else {
            return;
        };
        self.next_generation += 1;
        let (stop, stop_receiver) = watch_channel::channel(false);
        let disconnected = Arc::new(Notify::new());
        let task = LinkTask {
            peripheral: heard.peripheral.clone(),
            strap: strap.clone(),
            adapter: adapter.clone(),
            generation: self.next_generation,
            shared: self.shared.clone(),
            disconnected: disconnected.clone(),
            stop: stop_receiver,
            reports: self.report_sender.clone(),
            timeline: entry.timeline.clone(),
        };
        debug!(strap = %strap, %adapter, "connecting the strap through this adapter");
        entry.link = Some(Link {
            adapter: adapter.clone(),
            peripheral: heard.peripheral.id(),
            generation: self.next_generation,
            disconnected,
            stop,
            task: tokio::spawn(task.run()),
        });
        let rssi = strap_rssi(entry);
        self.shared.update(strap, |status| {
            status.adapter = Some(adapter);
            status.connection_problem = None;
            status.rssi = rssi;
            if status.state == StrapState::NoFreeConnection {
                status.state = StrapState::Discovered;
            }
        });
    }

    fn on_link_report(&mut self, report: LinkReport) {
        let LinkReport::ControllerFull {
            strap,
            generation,
            reason,
        } = report;
        let Some(entry) = self.straps.get_mut(&strap) else {
            return;
        };
        if entry.link.as_ref().map(|link| link.generation) != Some(generation) {
            return;
        }
        let Some(link) = entry.link.take() else {
            return;
        };
        // The controller holds what the adapter's other links hold: that is its real limit.
        let in_use = self.links_on(&link.adapter);
        if let Some(adapter) = self.adapters.get_mut(&link.adapter)
            && in_use < adapter.link_budget
        {
            warn!(
                adapter = %link.adapter, links = in_use, %reason,
                "the Bluetooth controller refused another connection; keeping to {in_use} on it"
            );
            adapter.link_budget = in_use;
            adapter.controller_refusal = Some(format!(
                "the controller refused connection {} ({reason}); the reader keeps to {in_use} on it",
                in_use + 1
            ));
        }
        self.shared.update(&strap, |status| status.adapter = None);
        self.publish_adapters();
    }

    fn links_on(&self, adapter: &AdapterId) -> usize {
        self.straps
            .values()
            .filter(|entry| entry.link.as_ref().is_some_and(|l| &l.adapter == adapter))
            .count()
    }

    fn adapter_statuses(&self) -> Vec<AdapterStatus> {
        self.adapters
            .iter()
            .map(|(id, adapter)| {
                let straps: Vec<StrapId> = self
                    .straps
                    .iter()
                    .filter(|(_, entry)| entry.link.as_ref().is_some_and(|l| &l.adapter == id))
                    .map(|(strap, _)| strap.clone())
                    .collect();
                AdapterStatus {
                    id: id.clone(),
                    address: adapter.address.clone(),
                    link_budget: adapter.link_budget,
                    controller_refusal: adapter.controller_refusal.clone(),
                    links_in_use: straps.len(),
                    free_links: adapter.link_budget.saturating_sub(straps.len()),
                    straps,
                }
            })
            .collect()
    }

    fn publish_adapters(&self) {
        self.shared.set_adapters(self.adapter_statuses());
    }
}

fn hearings(entry: &StrapEntry) -> Vec<Hearing> {
    entry
        .heard
        .iter()
        .map(|(adapter, heard)| Hearing {
            adapter: adapter.clone(),
            rssi: heard.rssi,
        })
        .collect()
}

/// The strap's signal as its own adapter hears it, or the loudest while it has no adapter.
fn strap_rssi(entry: &StrapEntry) -> Option<i16> {
    match &entry.link {
        Some(link) => entry.heard.get(&link.adapter).and_then(|heard| heard.rssi),
        None => entry.heard.values().filter_map(|heard| heard.rssi).max(),
    }
}
