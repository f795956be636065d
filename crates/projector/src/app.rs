//! The projector's window: paints the mandala, the session's phase and time, the breathing
//! pacer and the join code, and answers the operator's keys.
//!
//! Everything here is presentation: the room's state comes from [`crate::connection`], the
//! shapes from [`crate::geometry`]. The window also serves the rendering checks: it can save
//! a screenshot after a delay and measure frame times, then close itself.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use eframe::egui::{
    self, Align2, Color32, CursorIcon, FontId, Key, Pos2, Rect, Stroke, Vec2, ViewportCommand,
};
use synchub_protocol::{HubEvent, Pacer, RoomSnapshot, SessionPhase};

use crate::connection::{Link, Status, Update, local_now_ms};
use crate::geometry::{self, Mandala, Rgba, Shape};

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

/// The QR code of the join URL, as rows of dark/light modules.
#[derive(Debug, Clone)]
struct JoinCode {
    url: String,
    width: usize,
    dark: Vec<bool>,
}

impl JoinCode {
    fn new(url: &str) -> Option<Self> {
        let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
        Some(Self {
            url: url.to_owned(),
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|colour| colour == qrcode::Color::Dark)
                .collect(),
        })
    }
}

/// Frame-time measurement in progress.
#[derive(Debug)]
struct Measurement {
    frames_wanted: usize,
    last_frame: Option<Instant>,
    frame_secs: Vec<f64>,
    /// This process's CPU time (all threads, the software rasteriser's included) when the
    /// counted frames began: on a shared machine CPU time per frame is steadier than wall time.
    cpu_secs_at_start: Option<f64>,
}

/// CPU time used by this process so far (user + system, all threads), from `/proc/self/stat`;
/// `None` where there is no procfs.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture we run on.
    Some((utime + stime) / 100.0)
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
    screenshot_requested: bool,
    screenshot_done: Option<Receiver<Result<(), String>>>,
    measurement: Option<Measurement>,
}

impl Projector {
    /// A window fed by `link`, or by a synthetic room of `synthetic_participants` people.
    pub fn new(link: Option<Link>, synthetic_participants: Option<u32>, options: Options) -> Self {
        let join_code = options.join_url.as_deref().and_then(JoinCode::new);
        let measurement = options.measure_frames.map(|frames_wanted| Measurement {
            frames_wanted,
            last_frame: None,
            frame_secs: Vec::with_capacity(frames_wanted),
            cpu_secs_at_start: None,
        });
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
            screenshot_requested: false,
            screenshot_done: None,
            measurement,
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
                self.mandala.apply_group(average, Some(synchrony));
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
                self.mandala
                    .apply_group(metrics.average_coherence, metrics.synchrony_index);
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

    fn handle_checks(&mut self, ctx: &egui::Context) {
        if let Some((path, after_secs)) = &self.options.screenshot
            && !self.screenshot_requested
            && self.started.elapsed().as_secs_f32() >= *after_secs
        {
            self.screenshot_requested = true;
            let path = path.clone();
            let (done, done_rx) = channel();
            self.screenshot_done = Some(done_rx);
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let _ = done.send(write_png(&path, &image));
                repaint.request_repaint();
            });
        }
        if let Some(done) = &self.screenshot_done
            && let Ok(result) = done.try_recv()
        {
            if let Err(error) = result {
                tracing::error!(%error, "could not save the screenshot");
            }
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
        if let Some(measurement) = &mut self.measurement {
            let now = Instant::now();
            if let Some(last) = measurement.last_frame {
                measurement
                    .frame_secs
                    .push(now.duration_since(last).as_secs_f64());
            }
            measurement.last_frame = Some(now);
            // The first frames warm caches and upload the font atlas; they are not counted.
            if measurement.frame_secs.len() == 30 {
                measurement.cpu_secs_at_start = process_cpu_secs();
            }
            if measurement.frame_secs.len() >= measurement.frames_wanted + 30 {
                let cpu_ms_per_frame = measurement
                    .cpu_secs_at_start
                    .zip(process_cpu_secs())
                    .map_or(f64::NAN, |(start, end)| {
                        #[allow(clippy::cast_precision_loss)]
                        let frames = measurement.frames_wanted as f64;
                        (end - start) / frames * 1000.0
                    });
                let mut times: Vec<f64> = measurement.frame_secs[30..].to_vec();
                times.sort_by(f64::total_cmp);
                #[allow(clippy::cast_precision_loss)]
                let mean_ms = times.iter().sum::<f64>() / times.len() as f64 * 1000.0;
                let p99_index = (times.len() * 99).div_ceil(100).saturating_sub(1);
                let p99_ms = times[p99_index] * 1000.0;
                let size = ctx.content_rect().size();
                #[allow(clippy::print_stdout)]
                {
                    println!(
                        "frames={} participants={} size={}x{} mean_ms={mean_ms:.2} p99_ms={p99_ms:.2} fps={:.1} cpu_ms_per_frame={cpu_ms_per_frame:.2}",
                        times.len(),
                        self.mandala.participant_count(),
                        size.x,
                        size.y,
                        1000.0 / mean_ms
                    );
                }
                ctx.send_viewport_cmd(ViewportCommand::Close);
                self.measurement = None;
            }
        }
    }
}

fn write_png(path: &PathBuf, image: &egui::ColorImage) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|error| error.to_string())?;
    let [width, height] = image.size;
    let width = u32::try_from(width).map_err(|error| error.to_string())?;
    let height = u32::try_from(height).map_err(|error| error.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
    let bytes: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|pixel| pixel.to_srgba_unmultiplied())
        .collect();
    writer
        .write_image_data(&bytes)
        .map_err(|error| error.to_string())
}

fn colour(rgba: Rgba) -> Color32 {
    Color32::from_rgba_unmultiplied(rgba.r, rgba.g, rgba.b, rgba.a)
}

fn point(xy: [f32; 2]) -> Pos2 {
    Pos2::new(xy[0], xy[1])
}

/// `mm:ss` of a duration in ms.
pub fn clock_text(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    format!("{}:{:02}", secs / 60, secs % 60)
}

fn phase_name(phase: SessionPhase) -> &'static str {
    match phase {
        SessionPhase::Preparation => "Preparation",
        SessionPhase::Active => "Active",
        SessionPhase::Integration => "Integration",
        SessionPhase::Complete => "Between sessions",
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
        let text_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 220);
        let soft_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 140);
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

            // Session phase and time left, top left; the room, top right.
            let margin = unit * 0.04;
            let big = FontId::proportional(unit * 0.045);
            let small = FontId::proportional(unit * 0.028);
            painter.text(
                Pos2::new(screen.left() + margin, screen.top() + margin),
                Align2::LEFT_TOP,
                phase_name(self.mandala.session_phase),
                big.clone(),
                text_colour,
            );
            if let Some(ends) = self.phase_ends_hub_ms
                && self.mandala.session_phase != SessionPhase::Complete
            {
                painter.text(
                    Pos2::new(screen.left() + margin, screen.top() + margin + unit * 0.06),
                    Align2::LEFT_TOP,
                    format!("{} left", clock_text(ends.saturating_sub(hub_now))),
                    small.clone(),
                    soft_colour,
                );
            }
            let count = self.mandala.participant_count();
            painter.text(
                Pos2::new(screen.right() - margin, screen.top() + margin),
                Align2::RIGHT_TOP,
                format!("{count}"),
                big,
                text_colour,
            );
            painter.text(
                Pos2::new(screen.right() - margin, screen.top() + margin + unit * 0.06),
                Align2::RIGHT_TOP,
                if count == 1 { "person" } else { "people" },
                small.clone(),
                soft_colour,
            );
            if let Some((_, inhaling)) = breath {
                painter.text(
                    Pos2::new(centre.x, screen.bottom() - margin),
                    Align2::CENTER_BOTTOM,
                    if inhaling {
                        "breathe in"
                    } else {
                        "breathe out"
                    },
                    small,
                    soft_colour,
                );
            }
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

        self.handle_checks(&ctx);
        ctx.request_repaint();
    }
}

fn paint_shapes(painter: &egui::Painter, shapes: &[Shape]) {
    for shape in shapes {
        match shape {
            Shape::Circle {
                centre,
                radius,
                fill,
                stroke,
            } => {
                let stroke = stroke.map_or(Stroke::NONE, |(width, rgba)| {
                    Stroke::new(width, colour(rgba))
                });
                painter.circle(point(*centre), *radius, colour(*fill), stroke);
            }
            Shape::Petal(petal) | Shape::Highlight(petal) => {
                painter.add(egui::Shape::convex_polygon(
                    petal.points.iter().copied().map(point).collect(),
                    colour(petal.fill),
                    Stroke::NONE,
                ));
            }
        }
    }
}

/// The join QR code on a white card, the room code under it in large letters.
fn join_code_ui(
    painter: &egui::Painter,
    code: &JoinCode,
    room_code: Option<&str>,
    area: Rect,
    unit: f32,
) {
    // About 40 % of the screen height: at 1080 p a 29-module code gets ~14 px modules, which a
    // phone reads from the back of a small room.
    let side = (area.width() * 0.82).min(unit * 0.42);
    #[allow(clippy::cast_precision_loss)]
    let modules = code.width as f32 + 8.0;
    let module = side / modules;
    let card = Rect::from_center_size(
        Pos2::new(area.center().x, area.center().y - unit * 0.05),
        Vec2::splat(side),
    );
    painter.rect_filled(card, module, Color32::WHITE);
    let dark = Color32::from_rgb(10, 10, 20);
    for row in 0..code.width {
        let mut column = 0;
        while column < code.width {
            if !code.dark[row * code.width + column] {
                column += 1;
                continue;
            }
            // One rect per horizontal run of dark modules keeps the shape count low.
            let start = column;
            while column < code.width && code.dark[row * code.width + column] {
                column += 1;
            }
            #[allow(clippy::cast_precision_loss)]
            let rect = Rect::from_min_max(
                Pos2::new(
                    card.left() + (start as f32 + 4.0) * module,
                    card.top() + (row as f32 + 4.0) * module,
                ),
                Pos2::new(
                    card.left() + (column as f32 + 4.0) * module,
                    card.top() + (row as f32 + 5.0) * module,
                ),
            );
            painter.rect_filled(rect, 0.0, dark);
        }
    }
    let text_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 230);
    let mut y = card.bottom() + unit * 0.03;
    painter.text(
        Pos2::new(card.center().x, y),
        Align2::CENTER_TOP,
        "Scan to join",
        FontId::proportional(unit * 0.03),
        text_colour,
    );
    y += unit * 0.045;
    if let Some(room_code) = room_code {
        painter.text(
            Pos2::new(card.center().x, y),
            Align2::CENTER_TOP,
            room_code,
            FontId::monospace(unit * 0.07),
            text_colour,
        );
        y += unit * 0.085;
    }
    painter.text(
        Pos2::new(card.center().x, y),
        Align2::CENTER_TOP,
        &code.url,
        FontId::proportional(unit * 0.018),
        Color32::from_rgba_unmultiplied(235, 235, 245, 150),
    );
}

/// The calm screen shown while there is no hub: a slowly breathing circle and one line.
fn waiting_ui(painter: &egui::Painter, status: &Status, screen: Rect, unit: f32, time_secs: f32) {
    let breath = (1.0 - (time_secs * std::f32::consts::TAU / 10.0).cos()) / 2.0;
    let accent = Color32::from_rgba_unmultiplied(150, 170, 230, 40 + (breath * 50.0) as u8);
    painter.circle(
        screen.center(),
        unit * (0.12 + 0.05 * breath),
        accent,
        Stroke::new(2.0, Color32::from_rgba_unmultiplied(180, 200, 255, 90)),
    );
    let text_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 200);
    let (headline, detail) = match status {
        Status::Discovering => (
            "Looking for the hub…".to_owned(),
            "on this network (mDNS)".to_owned(),
        ),
        Status::Waiting { url } => ("Waiting for the hub…".to_owned(), url.clone()),
        Status::Choose(hubs) => (
            "Several hubs found: press a number to choose".to_owned(),
            hubs.iter()
                .take(9)
                .enumerate()
                .map(|(i, hub)| format!("{}  {}  ({})", i + 1, hub.room_name, hub.url))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Status::Connected { .. } => (String::new(), String::new()),
    };
    painter.text(
        Pos2::new(screen.center().x, screen.center().y + unit * 0.24),
        Align2::CENTER_TOP,
        headline,
        FontId::proportional(unit * 0.04),
        text_colour,
    );
    painter.text(
        Pos2::new(screen.center().x, screen.center().y + unit * 0.31),
        Align2::CENTER_TOP,
        detail,
        FontId::proportional(unit * 0.025),
        Color32::from_rgba_unmultiplied(235, 235, 245, 130),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_shown_as_minutes_and_seconds() {
        assert_eq!(clock_text(0), "0:00");
        assert_eq!(clock_text(61_000), "1:01");
        assert_eq!(clock_text(750_000), "12:30");
        // A partial second still counts as a second left.
        assert_eq!(clock_text(59_001), "1:00");
    }
}
