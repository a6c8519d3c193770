//! A square-celled heatmap (egui_plot has none): one colour per cell, optional outlined
//! cells, and the hovered cell's text as a tooltip. Small maps are painted cell by cell;
//! large ones (a whole batch's 2N x 2N similarities) become a texture, rebuilt only when
//! their version changes.

use eframe::egui::{
    self, Color32, ColorImage, Rect, Sense, Stroke, StrokeKind, TextureHandle, TextureOptions,
    pos2, vec2,
};

/// A version for `cache` that changes whenever `values` do (runs reuse step numbers).
pub fn version_of(values: impl IntoIterator<Item = u32>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

/// Marks cells too small for an outline.
const MARK: Color32 = Color32::from_rgba_premultiplied(120, 100, 0, 120);

/// Above this many cells the map is drawn as a texture.
const TEXTURE_CELLS: usize = 1024;

/// What one heatmap shows; the closures take (row, column).
pub struct Heatmap<'a> {
    pub rows: usize,
    pub cols: usize,
    /// Side of the whole map in points.
    pub side: f32,
    pub colour: &'a dyn Fn(usize, usize) -> Color32,
    /// Cells drawn with an outline (e.g. the positives).
    pub marked: &'a dyn Fn(usize, usize) -> bool,
    pub hover: &'a dyn Fn(usize, usize) -> String,
    /// Where a large map keeps its texture, and the version of its contents (the texture
    /// is rebuilt when it changes).
    pub cache: (egui::Id, u64),
}

impl Heatmap<'_> {
    pub fn show(&self, ui: &mut egui::Ui) -> egui::Response {
        let cell = self.side / self.rows.max(self.cols).max(1) as f32;
        let size = vec2(cell * self.cols as f32, cell * self.rows as f32);
        let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
        let painter = ui.painter_at(rect);
        let at = |r: usize, c: usize| {
            Rect::from_min_size(
                pos2(rect.left() + c as f32 * cell, rect.top() + r as f32 * cell),
                vec2(cell, cell),
            )
        };
        if self.rows * self.cols > TEXTURE_CELLS {
            let texture = self.texture(ui.ctx());
            let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
            painter.image(texture.id(), rect, uv, Color32::WHITE);
        } else {
            for r in 0..self.rows {
                for c in 0..self.cols {
                    painter.rect_filled(at(r, c), 0.0, (self.colour)(r, c));
                }
            }
        }
        let outline = Stroke::new((cell * 0.15).clamp(1.0, 2.0), Color32::BLACK);
        for r in 0..self.rows {
            for c in 0..self.cols {
                if !(self.marked)(r, c) {
                    continue;
                }
                if cell >= 3.0 {
                    painter.rect_stroke(at(r, c).shrink(0.5), 0.0, outline, StrokeKind::Inside);
                } else {
                    // Too small to outline: a faint mark that still lets the colour show.
                    painter.rect_filled(at(r, c), 0.0, MARK);
                }
            }
        }
        let hovered = response.hover_pos().and_then(|p| {
            let c = ((p.x - rect.left()) / cell) as usize;
            let r = ((p.y - rect.top()) / cell) as usize;
            (r < self.rows && c < self.cols).then_some((r, c))
        });
        match hovered {
            Some((r, c)) => response.on_hover_text((self.hover)(r, c)),
            None => response,
        }
    }

    /// The map as a texture, from egui's memory when its version is current.
    fn texture(&self, ctx: &egui::Context) -> TextureHandle {
        let (id, version) = self.cache;
        if let Some((v, t)) = ctx.data(|d| d.get_temp::<(u64, TextureHandle)>(id))
            && v == version
        {
            return t;
        }
        let pixels = (0..self.rows)
            .flat_map(|r| (0..self.cols).map(move |c| (r, c)))
            .map(|(r, c)| (self.colour)(r, c))
            .collect();
        let image = ColorImage::new([self.cols, self.rows], pixels);
        // Cells larger than a pixel stay crisp; a map with more cells than pixels is
        // averaged rather than aliased into moire.
        let options = if self.side >= self.rows.max(self.cols) as f32 {
            TextureOptions::NEAREST
        } else {
            TextureOptions::LINEAR
        };
        let texture = ctx.load_texture(format!("heatmap-{id:?}"), image, options);
        ctx.data_mut(|d| d.insert_temp(id, (version, texture.clone())));
        texture
    }
}
