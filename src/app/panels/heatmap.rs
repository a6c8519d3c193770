//! A square-celled heatmap drawn with the painter (egui_plot has none): one colour per
//! cell, optional outlined cells, and the hovered cell's text as a tooltip.

use eframe::egui::{self, Color32, Rect, Sense, Stroke, StrokeKind, pos2, vec2};

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
        for r in 0..self.rows {
            for c in 0..self.cols {
                painter.rect_filled(at(r, c), 0.0, (self.colour)(r, c));
            }
        }
        let outline = Stroke::new((cell * 0.15).clamp(1.0, 2.0), Color32::BLACK);
        for r in 0..self.rows {
            for c in 0..self.cols {
                if (self.marked)(r, c) {
                    painter.rect_stroke(at(r, c).shrink(0.5), 0.0, outline, StrokeKind::Inside);
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
}
