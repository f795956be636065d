//! The real window, rendered under Xvfb (`xvfb-run`, Mesa's llvmpipe) from the recorded
//! stream, saved as a PNG and checked: the mandala's petals in their three colours, the join
//! QR code, a picture that is not blank.

use std::path::Path;
use std::process::Command;

use crate::util::data_path;

struct Image {
    width: usize,
    height: usize,
    rgba: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let file = std::fs::File::open(path).expect("the screenshot was written");
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("the screenshot is a PNG");
        let mut rgba = vec![0; reader.output_buffer_size().expect("sane size")];
        let info = reader.next_frame(&mut rgba).expect("the PNG decodes");
        assert_eq!(info.color_type, png::ColorType::Rgba);
        rgba.truncate(info.buffer_size());
        Image {
            width: info.width as usize,
            height: info.height as usize,
            rgba,
        }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 4;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }

    /// Pixels within the annulus `inner..outer` around `(cx, cy)` (every 2nd pixel).
    fn annulus(&self, cx: f32, cy: f32, inner: f32, outer: f32) -> Vec<[u8; 3]> {
        let mut pixels = Vec::new();
        for y in (0..self.height).step_by(2) {
            for x in (0..self.width).step_by(2) {
                let r = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                if r >= inner && r < outer {
                    pixels.push(self.pixel(x, y));
                }
            }
        }
        pixels
    }
}

/// Runs the projector on the recording under Xvfb and returns the screenshot.
fn screenshot(name: &str, after_secs: &str, extra_args: &[&str]) -> Image {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("projector-{name}.png"));
    let _ = std::fs::remove_file(&out);
    let binary = env!("CARGO_BIN_EXE_synchub-projector");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1920x1080x24", binary])
        .args([
            "--windowed",
            "--size",
            "1920x1080",
            "--after-secs",
            after_secs,
        ])
        .arg("--screenshot")
        .arg(&out)
        .args(extra_args)
        .status()
        .expect("xvfb-run runs (Debian packages: xvfb xauth libgl1-mesa-dri)");
    assert!(status.success(), "the projector exited with {status}");
    Image::read(&out)
}

#[test]
fn the_recorded_room_is_drawn_as_a_mandala_with_its_join_code() {
    let recording = data_path("room.jsonl");
    let image = screenshot(
        "replay",
        "5",
        &[
            "--replay",
            recording.to_str().expect("UTF-8 path"),
            "--room-code",
            "K7Q2",
            "--join-url",
            "http://192.168.1.20:7878/join?room=K7Q2",
        ],
    );
    assert_eq!((image.width, image.height), (1920, 1080));
    let background = image.pixel(5, image.height / 2);

    // During preparation the mandala sits left of centre (36 % of the width), radius 44 % of
    // the height; the petals of the first ring lie between 24 % and 86 % of that radius.
    let radius = 0.44 * 1080.0;
    let petals = image.annulus(0.36 * 1920.0, 540.0, radius * 0.3, radius * 0.8);
    let differs = |p: &[u8; 3]| p.iter().zip(background).any(|(a, b)| a.abs_diff(b) > 24);
    let drawn = petals.iter().filter(|p| differs(p)).count();
    assert!(
        drawn * 4 > petals.len(),
        "petals cover a quarter of their ring: {drawn} of {}",
        petals.len()
    );
    // Petals in the three bands: ember (red), gold (red+green), aqua (green+blue).
    let ember = petals
        .iter()
        .filter(|p| p[0] > 150 && p[1] < 120 && p[2] < 110)
        .count();
    let gold = petals
        .iter()
        .filter(|p| p[0] > 150 && p[1] > 120 && p[2] < 110)
        .count();
    let aqua = petals
        .iter()
        .filter(|p| p[0] < 140 && p[1] > 150 && p[2] > 130)
        .count();
    assert!(
        ember > 200 && gold > 200 && aqua > 200,
        "ember {ember}, gold {gold}, aqua {aqua}"
    );
    let mut distinct: Vec<[u8; 3]> = petals.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() > 50,
        "a picture, not flat fills: {} colours",
        distinct.len()
    );

    // The join QR code: a white card with dark modules on the right.
    let mut white = 0;
    let mut dark = 0;
    for y in 200..700 {
        for x in 1350..1900 {
            let p = image.pixel(x, y);
            if p.iter().all(|&c| c > 240) {
                white += 1;
            } else if p.iter().all(|&c| c < 40) {
                dark += 1;
            }
        }
    }
    assert!(
        white > 40_000 && dark > 20_000,
        "QR card: {white} white, {dark} dark pixels"
    );
}

#[test]
fn without_a_hub_the_wall_shows_a_calm_waiting_screen() {
    // Nothing listens on port 1: the link keeps retrying while the window waits.
    let image = screenshot("waiting", "2", &["--hub", "http://127.0.0.1:1"]);
    let background = image.pixel(5, 5);
    let centre = image.pixel(960, 540);
    assert!(
        centre
            .iter()
            .zip(background)
            .any(|(a, b)| a.abs_diff(b) > 12),
        "the breathing circle is drawn: centre {centre:?}, background {background:?}"
    );
    // Text under the circle, no petals anywhere.
    let text = (1080 / 2 + 250..1080 / 2 + 330)
        .flat_map(|y| (700..1220).map(move |x| (x, y)))
        .filter(|&(x, y)| image.pixel(x, y).iter().all(|&c| c > 150))
        .count();
    assert!(
        text > 300,
        "the waiting line is written: {text} bright pixels"
    );
    let petals = image.annulus(960.0, 540.0, 0.0, 540.0);
    let coloured = petals.iter().filter(|p| p[0] > 150 && p[2] < 110).count();
    assert_eq!(coloured, 0, "no petals while there is no room");
}
