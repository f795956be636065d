//! The window's own rendering checks, for the render tests and the frame-time figures in
//! `docs/performance.md`: save a screenshot after a delay, or measure frame times and CPU time
//! per frame and print them; either closes the window when it is done.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use eframe::egui::{self, ViewportCommand};

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

/// What the window checks while it runs; nothing when started without `--screenshot` or
/// `--measure-frames`.
#[derive(Debug)]
pub(crate) struct RenderChecks {
    /// Save a PNG to this path after this many seconds, then close.
    screenshot: Option<(PathBuf, f32)>,
    screenshot_requested: bool,
    screenshot_done: Option<Receiver<Result<(), String>>>,
    measurement: Option<Measurement>,
}

impl RenderChecks {
    /// A screenshot to take and frames to measure, if any.
    pub(crate) fn new(screenshot: Option<(PathBuf, f32)>, measure_frames: Option<usize>) -> Self {
        RenderChecks {
            screenshot,
            screenshot_requested: false,
            screenshot_done: None,
            measurement: measure_frames.map(|frames_wanted| Measurement {
                frames_wanted,
                last_frame: None,
                frame_secs: Vec::with_capacity(frames_wanted),
                cpu_secs_at_start: None,
            }),
        }
    }

    /// Called once per frame, after painting: requests the screenshot when it is due, closes
    /// the window once it is saved, and counts the frame towards the measurement.
    pub(crate) fn after_frame(
        &mut self,
        ctx: &egui::Context,
        elapsed_secs: f32,
        participant_count: usize,
    ) {
        if let Some((path, after_secs)) = &self.screenshot
            && !self.screenshot_requested
            && elapsed_secs >= *after_secs
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
                        participant_count,
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

fn write_png(path: &std::path::Path, image: &egui::ColorImage) -> Result<(), String> {
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
