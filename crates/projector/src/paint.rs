//! Painting with egui: the mandala's shapes, the room's words around it (phase, time left,
//! head count, the breathing cue), the join card with its QR code, and the calm screen shown
//! while there is no hub. These functions draw what they are given; the window's state and
//! the decisions about what to show are `app.rs`'s.

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};
use synchub_protocol::SessionPhase;

use crate::connection::Status;
use crate::geometry::{Rgba, Shape};

/// The QR code of the join URL, as rows of dark/light modules.
#[derive(Debug, Clone)]
pub(crate) struct JoinCode {
    url: String,
    width: usize,
    dark: Vec<bool>,
}

impl JoinCode {
    pub(crate) fn new(url: &str) -> Option<Self> {
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

pub(crate) fn colour(rgba: Rgba) -> Color32 {
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

/// The words around the mandala while connected.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomText {
    /// The session's phase, top left.
    pub(crate) phase: SessionPhase,
    /// Time left in the phase, under it; absent between sessions.
    pub(crate) phase_left_ms: Option<u64>,
    /// People in the room, top right.
    pub(crate) participant_count: usize,
    /// The breathing cue under the mandala, when the pacer is shown: in or out.
    pub(crate) inhaling: Option<bool>,
    /// Where the mandala's centre is, to put the cue under it.
    pub(crate) centre_x: f32,
}

/// Paints [`RoomText`] on `screen` at the size `unit` (the screen's shorter side).
pub(crate) fn room_text_ui(painter: &egui::Painter, text: &RoomText, screen: Rect, unit: f32) {
    let text_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 220);
    let soft_colour = Color32::from_rgba_unmultiplied(235, 235, 245, 140);
    let margin = unit * 0.04;
    let big = FontId::proportional(unit * 0.045);
    let small = FontId::proportional(unit * 0.028);
    painter.text(
        Pos2::new(screen.left() + margin, screen.top() + margin),
        Align2::LEFT_TOP,
        phase_name(text.phase),
        big.clone(),
        text_colour,
    );
    if let Some(left_ms) = text.phase_left_ms {
        painter.text(
            Pos2::new(screen.left() + margin, screen.top() + margin + unit * 0.06),
            Align2::LEFT_TOP,
            format!("{} left", clock_text(left_ms)),
            small.clone(),
            soft_colour,
        );
    }
    let count = text.participant_count;
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
    if let Some(inhaling) = text.inhaling {
        painter.text(
            Pos2::new(text.centre_x, screen.bottom() - margin),
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
}

pub(crate) fn paint_shapes(painter: &egui::Painter, shapes: &[Shape]) {
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
pub(crate) fn join_code_ui(
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
pub(crate) fn waiting_ui(
    painter: &egui::Painter,
    status: &Status,
    screen: Rect,
    unit: f32,
    time_secs: f32,
) {
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
