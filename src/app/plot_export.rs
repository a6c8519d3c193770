//! "Save data" and "Save picture" for a dashboard plot: the figure's series as CSV, and the
//! plot's pixels cut from the next rendered frame as PNG, both into `<export folder>/plots/`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eframe::egui;

use super::figure::Figure;

pub fn plots_dir(export_dir: &str) -> PathBuf {
    Path::new(export_dir).join("plots")
}

/// Writes `<dir>/<slug>.csv`; returns the path.
pub fn save_csv(dir: &Path, figure: &Figure) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.csv", figure.slug()));
    std::fs::write(&path, figure.csv())?;
    Ok(path)
}

/// Asks for a screenshot of the next frame and writes the `rect` part of it (in points)
/// to `<dir>/<name>.png`; the outcome is put in `outcome` for the status line.
pub fn save_png(
    ctx: &egui::Context,
    dir: PathBuf,
    name: String,
    rect: egui::Rect,
    outcome: Arc<Mutex<Option<String>>>,
) {
    let ppp = ctx.pixels_per_point();
    let repaint = ctx.clone();
    ctx.request_screenshot(move |img| {
        let path = dir.join(format!("{name}.png"));
        let message = match write_region(&img, rect, ppp, &path) {
            Ok(()) => format!("saved {}", path.display()),
            Err(e) => format!("cannot save {}: {e}", path.display()),
        };
        if let Ok(mut slot) = outcome.lock() {
            *slot = Some(message);
        }
        repaint.request_repaint();
    });
}

fn write_region(
    img: &egui::ColorImage,
    rect: egui::Rect,
    ppp: f32,
    path: &Path,
) -> Result<(), String> {
    let part = crop(img, rect, ppp);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let [w, h] = part.size;
    let bytes: Vec<u8> = part.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or("the screenshot had an unexpected size")?
        .save(path)
        .map_err(|e| e.to_string())
}

/// The pixels of `rect` (in points) from a screenshot taken at `ppp` pixels per point,
/// clamped to the image.
pub fn crop(img: &egui::ColorImage, rect: egui::Rect, ppp: f32) -> egui::ColorImage {
    let [w, h] = img.size;
    let x0 = ((rect.min.x * ppp).floor().max(0.0) as usize).min(w);
    let y0 = ((rect.min.y * ppp).floor().max(0.0) as usize).min(h);
    let x1 = ((rect.max.x * ppp).ceil().max(0.0) as usize).clamp(x0, w);
    let y1 = ((rect.max.y * ppp).ceil().max(0.0) as usize).clamp(y0, h);
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        pixels.extend_from_slice(&img.pixels[y * w + x0..y * w + x1]);
    }
    egui::ColorImage::new([x1 - x0, y1 - y0], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_rect_in_pixels_and_clamps_to_the_image() {
        // 4 x 3 image whose pixel (x, y) has red = 10 * y + x.
        let pixels = (0..3)
            .flat_map(|y| (0..4).map(move |x| egui::Color32::from_rgb(10 * y + x, 0, 0)))
            .collect();
        let img = egui::ColorImage::new([4, 3], pixels);
        // At 2 pixels per point, points (0.5, 0.5)-(1.5, 1.5) are pixels 1..3 x 1..3.
        let rect = egui::Rect::from_min_max(egui::pos2(0.5, 0.5), egui::pos2(1.5, 1.5));
        let part = crop(&img, rect, 2.0);
        assert_eq!(part.size, [2, 2]);
        let reds: Vec<u8> = part.pixels.iter().map(|c| c.r()).collect();
        assert_eq!(reds, vec![11, 12, 21, 22]);
        // A rect running off the image is cut at its edge.
        let wide = egui::Rect::from_min_max(egui::pos2(1.0, 1.0), egui::pos2(99.0, 99.0));
        assert_eq!(crop(&img, wide, 1.0).size, [3, 2]);
    }
}
