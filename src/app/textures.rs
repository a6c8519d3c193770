//! Uploading small dataset images to the GPU once and reusing them across frames.

use std::collections::HashMap;

use eframe::egui::{self, ColorImage, TextureHandle, TextureOptions};

/// Textures keyed by a caller-chosen string (e.g. "train/17", "view/3/0/1").
#[derive(Default)]
pub struct TextureCache {
    map: HashMap<String, TextureHandle>,
}

impl TextureCache {
    /// The texture for `key`, uploading `rgb` (`size x size` RGB bytes) on first use.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        key: &str,
        size: usize,
        rgb: impl FnOnce() -> Vec<u8>,
    ) -> &TextureHandle {
        self.map.entry(key.to_string()).or_insert_with(|| {
            let img = ColorImage::from_rgb([size, size], &rgb());
            // Nearest filtering: these are tiny images shown enlarged; keep pixels crisp.
            ctx.load_texture(key, img, TextureOptions::NEAREST)
        })
    }

    /// Forgets textures whose key starts with `prefix` (after a dataset or preview change).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.map.retain(|k, _| !k.starts_with(prefix));
    }

    /// How many textures have keys starting with `prefix`.
    pub fn count_prefix(&self, prefix: &str) -> usize {
        self.map.keys().filter(|k| k.starts_with(prefix)).count()
    }

    /// Pixel sizes of the textures whose key contains `needle`.
    pub fn sizes_containing(&self, needle: &str) -> Vec<[usize; 2]> {
        self.map
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, t)| t.size())
            .collect()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}
