//! The projector's window: paints the mandala, the session's phase and time, the breathing
//! pacer and the join code, and answers the operator's keys.
//!
//! Everything here is presentation: the room's state comes from [`crate::connection`], the
//! shapes from [`crate::geometry`], and `paint.rs` draws them. The window also serves the
//! rendering checks (`checks.rs`): it can save a screenshot after a delay and measure frame
//! times, then close itself.

use std::path::PathBuf;
use std::time::Instant;

use eframe::egui::{self, CursorIcon, Key, Pos2, Rect, ViewportCommand};
use synchub_protocol::{HubEvent, Pacer, RoomSnapshot, SessionPhase};

use crate::checks::RenderChecks;
use crate::connection::{Link, Status, Update, local_now_ms};
use crate::geometry::{self, Mandala};
use crate::paint::{
    JoinCode, RoomText, colour, join_code_ui, paint_shapes, room_text_ui, waiting_ui,
};

/// What the window should do besides showing the room.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The room code to show (and the handshake's), if any.
    pub room_code: Option<String>,
    /// The join URL for the QR code; derived from the hub URL when absent.
    pub join_url: Option<String>,
    /// Save a PNG of the window to this path after `after_secs`, then close.
    pub screenshot: Option<(PathBuf, f32)>,
    /// Render this many frames as fast as possible, print the frame times, then close.
    pub measure_frames: Option<usize>,
    /// Start in full screen (F toggles).
    pub fullscreen: bool,
    /// Start with the join code shown outside preparation too (C toggles).
    pub show_code: bool,
}

/// A synthetic room of `count` participants at hub time `hub_now_ms`, for frame-time
/// measurements and demonstrations without a hub: scores drift slowly, person by person.
pub fn synthetic_snapshot(count: u32, hub_now_ms: u64) -> RoomSnapshot {
    #[allow(clippy::cast_precision_loss)]
    let time_secs = hub_now_ms as f64 / 1000.0;
    let participants = (0..count)
        .map(|slot| {
            let seed = f64::from(slot) * 0.618_033_988_75;
            let coherence = 50.0
                + 32.0 * (time_secs * 0.07 + seed * std::f64::consts::TAU).sin()
                + 12.0 * (time_secs * 0.23 + seed * 17.0).sin();
            let coherence = coherence.clamp(0.0, 100.0);
            synchub_protocol::SnapshotParticipant {
                slot,
                coherence,
                phase: synchub_protocol::CoherencePhase::from_score(coherence),
                quality: synchub_protocol::SignalQuality::Good,
            }
        })
        .collect();
    RoomSnapshot {
        timestamp: hub_now_ms,
        session_id: Some("synthetic".to_owned()),
        phase: SessionPhase::Active,
        phase_time_left: 600_000 - hub_now_ms % 600_000,
        session_time_left: 720_000 - hub_now_ms % 600_000,
        participants,
    }
}

/// The projector window.
#[derive(Debug)]
pub struct Projector {
    link: Option<Link>,
    synthetic_participants: Option<u32>,
    options: Options,
    mandala: Mandala,
    status: Status,
    pacer: Option<Pacer>,
    clock_offset_ms: f64,
    phase_ends_hub_ms: Option<u64>,
    session_ends_hub_ms: Option<u64>,
    show_pacer: bool,
    show_code: bool,
    fullscreen: bool,
    join_code: Option<JoinCode>,
    started: Instant,
    last_synthetic_second: u64,
    sized_to_monitor: bool,
    checks: RenderChecks,
}

impl Projector {
    /// A window fed by `link`, or by a synthetic room of `synthetic_participants` people.
    pub fn new(link: Option<Link>, synthetic_participants: Option<u32>, options: Options) -> Self {
        let join_code = options.join_url.as_deref().and_then(JoinCode::new);
        let checks = RenderChecks::new(options.screenshot.clone(), options.measure_frames);
        let status = if synthetic_participants.is_some() {
            Status::Connected {
                url: "synthetic room".to_owned(),
            }
        } else {
            Status::Discovering
        };
        Self {
            link,
            synthetic_participants,
            fullscreen: options.fullscreen,
            show_code: options.show_code,
            options,
            mandala: Mandala::new(),
            status,
            pacer: synthetic_participants.map(|_| Pacer {
                breaths_per_min: 6.0,
                inhale_ratio: 0.4,
                epoch_hub_time: 0,
            }),
            clock_offset_ms: 0.0,
            phase_ends_hub_ms: None,
            session_ends_hub_ms: None,
            show_pacer: true,
            join_code,
            started: Instant::now(),
            last_synthetic_second: u64::MAX,
            sized_to_monitor: false,
            checks,
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn hub_now_ms(&self) -> u64 {
        (local_now_ms() + self.clock_offset_ms).max(0.0) as u64
    }

    fn drain_updates(&mut self) {
        let mut updates = Vec::new();
        if let Some(link) = &self.link {
            while let Ok(update) = link.updates.try_recv() {
                updates.push(update);
            }
        }
        for update in updates {
            match update {
                Update::Status(status) => {
                    if let Status::Connected { url } = &status
                        && self.join_code.is_none()
                        && url.starts_with("http")
                    {
                        let join = match &self.options.room_code {
                            Some(code) => format!("{url}/join?room={code}"),
                            None => format!("{url}/join"),
                        };
                        self.join_code = JoinCode::new(&join);
                    }
                    self.status = status;
                }
                Update::ClockOffsetMs(offset) => self.clock_offset_ms = offset,
                Update::Event(event) => self.apply_event(event),
            }
        }
        if let Some(count) = self.synthetic_participants {
            let hub_now = self.hub_now_ms();
            if hub_now / 1000 != self.last_synthetic_second {
                self.last_synthetic_second = hub_now / 1000;
                let snapshot = synthetic_snapshot(count, hub_now);
                let average = snapshot
                    .participants
                    .iter()
                    .map(|p| p.coherence)
                    .sum::<f64>()
                    / f64::from(count.max(1));
                #[allow(clippy::cast_precision_loss)]
                let synchrony = 0.55 + 0.3 * (hub_now as f64 / 40_000.0).sin();
                self.apply_event(HubEvent::RoomSnapshot(snapshot));
                self.mandala
                    .apply_group(average, Some(synchrony), Some(0.2));
            }
        }
    }

    fn apply_event(&mut self, event: HubEvent) {
        match event {
            HubEvent::RoomSnapshot(snapshot) => {
                self.phase_ends_hub_ms = Some(snapshot.timestamp + snapshot.phase_time_left);
                self.session_ends_hub_ms = Some(snapshot.timestamp + snapshot.session_time_left);
                self.mandala.apply_snapshot(&snapshot);
            }
            HubEvent::GroupMetricsUpdate(update) => {
                let metrics = &update.group_metrics;
                self.mandala.apply_group(
                    metrics.average_coherence,
                    metrics.synchrony_index,
                    metrics.synchrony_baseline,
                );
            }
            HubEvent::Pacer(pacer) => self.pacer = Some(pacer),
            HubEvent::PhaseChanged(changed) => {
                self.mandala.session_phase = changed.phase;
                self.phase_ends_hub_ms = Some(changed.ends_at);
            }
            HubEvent::SessionJoined(joined) => {
                self.mandala.session_phase = joined.current_phase;
                self.phase_ends_hub_ms = Some(joined.phase_ends_at);
            }
            _ => {}
        }
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        let (f, p, c, q, escape, digit) = ctx.input(|input| {
            let digits = [
                Key::Num1,
                Key::Num2,
                Key::Num3,
                Key::Num4,
                Key::Num5,
                Key::Num6,
                Key::Num7,
                Key::Num8,
                Key::Num9,
            ];
            (
                input.key_pressed(Key::F),
                input.key_pressed(Key::P),
                input.key_pressed(Key::C),
                input.key_pressed(Key::Q),
                input.key_pressed(Key::Escape),
                digits.iter().position(|&key| input.key_pressed(key)),
            )
        });
        if f {
            self.fullscreen = !self.fullscreen;
            ctx.send_viewport_cmd(ViewportCommand::Fullscreen(self.fullscreen));
        }
        if p {
            self.show_pacer = !self.show_pacer;
        }
        if c {
            self.show_code = !self.show_code;
        }
        if q || (escape && !self.fullscreen) {
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
        if let (Some(index), Status::Choose(_), Some(link)) = (digit, &self.status, &self.link) {
            link.choose(index);
        }
    }

    /// Full screen is the window manager's job; on a bare X server (a kiosk mini-PC, Xvfb)
    /// nobody does it, so the window sizes itself to its monitor.
    fn fill_monitor(&mut self, ctx: &egui::Context) {
        if !self.fullscreen || self.sized_to_monitor {
            return;
        }
        let monitor = ctx.input(|input| input.viewport().monitor_size);
        if let Some(monitor) = monitor {
            self.sized_to_monitor = true;
            let size = ctx.content_rect().size();
            if size.x + 1.0 < monitor.x || size.y + 1.0 < monitor.y {
                ctx.send_viewport_cmd(ViewportCommand::OuterPosition(Pos2::ZERO));
                ctx.send_viewport_cmd(ViewportCommand::InnerSize(monitor));
            }
        }
    }
}

impl eframe::App for Projector {
    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        colour(self.mandala.background()).to_normalized_gamma_f32()
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.drain_updates();
        self.handle_keys(&ctx);
        let dt_secs = ctx.input(|input| input.stable_dt).min(0.25);
        self.mandala.advance(dt_secs);
        ctx.set_cursor_icon(CursorIcon::None);
        self.fill_monitor(&ctx);

        let screen = ctx.content_rect();
        let painter = ui.painter();
        // The background is the GL clear colour (see `clear_color`): painting it as a shape
        // would cost a second full-screen pass on a software renderer.
        let unit = screen.height().min(screen.width());
        let time_secs = self.started.elapsed().as_secs_f32();

        if let Status::Connected { .. } = self.status {
            let hub_now = self.hub_now_ms();
            let show_code = self.join_code.is_some()
                && (self.show_code || self.mandala.session_phase == SessionPhase::Preparation);
            let centre = if show_code {
                Pos2::new(screen.left() + screen.width() * 0.36, screen.center().y)
            } else {
                screen.center()
            };
            let radius = unit * 0.44;
            let breath = self.pacer.filter(|_| self.show_pacer).map(|pacer| {
                let phase = pacer.breath_phase(hub_now);
                (
                    geometry::breath_openness(phase, pacer.inhale_ratio),
                    geometry::is_inhaling(phase, pacer.inhale_ratio),
                )
            });
            let shapes = self.mandala.shapes(
                [centre.x, centre.y],
                radius,
                time_secs,
                breath.map(|(openness, _)| openness),
            );
            paint_shapes(painter, &shapes);

            room_text_ui(
                painter,
                &RoomText {
                    phase: self.mandala.session_phase,
                    phase_left_ms: self
                        .phase_ends_hub_ms
                        .filter(|_| self.mandala.session_phase != SessionPhase::Complete)
                        .map(|ends| ends.saturating_sub(hub_now)),
                    participant_count: self.mandala.participant_count(),
                    inhaling: breath.map(|(_, inhaling)| inhaling),
                    centre_x: centre.x,
                },
                screen,
                unit,
            );
            if show_code && let Some(code) = &self.join_code {
                join_code_ui(
                    painter,
                    code,
                    self.options.room_code.as_deref(),
                    Rect::from_min_max(
                        Pos2::new(screen.left() + screen.width() * 0.68, screen.top()),
                        screen.max,
                    ),
                    unit,
                );
            }
        } else {
            waiting_ui(painter, &self.status, screen, unit, time_secs);
        }

        self.checks.after_frame(
            &ctx,
            self.started.elapsed().as_secs_f32(),
            self.mandala.participant_count(),
        );
        ctx.request_repaint();
    }
}
