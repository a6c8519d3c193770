//! Draws a method's [`Diagram`]: one column per branch (views at the top, the loss at the
//! bottom), momentum copies dashed with an EMA arrow, stop-gradients marked on the arrow into
//! the loss, and the queue or memory bank beside the loss.

use eframe::egui::{
    self, Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, StrokeKind, Vec2,
};

use crate::catalogue::{Diagram, Mark, Stage};

const ROW: f32 = 30.0;
const BOX_H: f32 = 20.0;
const EMA_COLOUR: Color32 = Color32::from_rgb(230, 160, 60);
const STOP_COLOUR: Color32 = Color32::from_rgb(230, 90, 80);

pub fn show(ui: &mut egui::Ui, d: &Diagram) {
    let width = ui.available_width().clamp(200.0, 360.0);
    let stages = d.top.len().max(d.bottom.len());
    let store_rows = if d.store.is_some() { 1.0 } else { 0.0 };
    let height = ROW * (stages as f32 + 2.0 + store_rows) + 6.0;
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
    let canvas = Canvas {
        painter: ui.painter_at(rect),
        rect,
        two_columns: !d.bottom.is_empty(),
        ink: ui.visuals().text_color(),
        faint: ui.visuals().weak_text_color(),
        font: FontId::proportional(11.0),
    };
    let loss_rect = canvas.wide_box(stages + 1, width - 8.0);
    let branches: [(&str, &[Stage]); 2] = [(d.top_input, d.top), (d.bottom_input, d.bottom)];
    for (col, (input, branch)) in branches.into_iter().enumerate() {
        if branch.is_empty() {
            continue;
        }
        let last = canvas.branch(col, input, branch, d.top.len());
        let into_loss = Rect::from_min_max(
            Pos2::new(last.left(), loss_rect.top()),
            Pos2::new(last.right(), loss_rect.bottom()),
        );
        let stopped = col == 1 && d.bottom_stop_gradient;
        let faint = canvas.faint;
        canvas.arrow(last, into_loss, if stopped { STOP_COLOUR } else { faint });
        if stopped {
            canvas.stop_gradient(last, loss_rect);
        }
    }
    canvas.loss_box(loss_rect, d.loss, ui.visuals().faint_bg_color);
    if let Some(store) = d.store {
        canvas.store_box(store, stages + 2, loss_rect);
    }
}

/// Where and how the diagram is drawn: one or two columns of boxes, a row per stage.
struct Canvas {
    painter: egui::Painter,
    rect: Rect,
    two_columns: bool,
    ink: Color32,
    faint: Color32,
    font: FontId,
}

impl Canvas {
    fn centre_x(&self, col: usize) -> f32 {
        if self.two_columns {
            self.rect.left() + self.rect.width() * (0.25 + 0.5 * col as f32)
        } else {
            self.rect.center().x
        }
    }

    fn row_y(&self, row: usize) -> f32 {
        self.rect.top() + 4.0 + ROW * row as f32 + BOX_H / 2.0
    }

    /// The box of column `col`, row `row`.
    fn boxed(&self, col: usize, row: usize) -> Rect {
        let w = if self.two_columns {
            self.rect.width() / 2.0 - 10.0
        } else {
            self.rect.width() * 0.6
        };
        Rect::from_center_size(
            Pos2::new(self.centre_x(col), self.row_y(row)),
            Vec2::new(w, BOX_H),
        )
    }

    /// A box across both columns, centred, in row `row`.
    fn wide_box(&self, row: usize, width: f32) -> Rect {
        Rect::from_center_size(
            Pos2::new(self.rect.center().x, self.row_y(row)),
            Vec2::new(width, BOX_H),
        )
    }

    fn arrow(&self, from: Rect, to: Rect, colour: Color32) {
        let start = from.center_bottom();
        let end = Pos2::new(start.x, to.top()) + Vec2::new(0.0, -1.0);
        self.painter
            .arrow(start, end - start, Stroke::new(1.2, colour));
    }

    fn text(&self, at: Pos2, text: impl ToString, colour: Color32) {
        self.painter
            .text(at, Align2::CENTER_CENTER, text, self.font.clone(), colour);
    }

    /// One branch: its input, then a box per stage joined by arrows; returns its last box.
    /// A momentum copy is dashed, with the EMA arrow from the trained box on its left
    /// (`top_len`: how many boxes the left branch has).
    fn branch(&self, col: usize, input: &str, stages: &[Stage], top_len: usize) -> Rect {
        let input_rect = self.boxed(col, 0);
        self.text(input_rect.center(), input, self.faint);
        let mut above = input_rect;
        for (i, stage) in stages.iter().enumerate() {
            let r = self.boxed(col, i + 1);
            self.arrow(above, r, self.faint);
            let (colour, label) = match stage.mark {
                Mark::Trained => (self.ink, stage.label.to_string()),
                Mark::Shared => (self.faint, format!("{} (shared)", stage.label)),
                Mark::Ema => (EMA_COLOUR, format!("{} (EMA)", stage.label)),
            };
            if stage.mark == Mark::Ema {
                dashed_rect(&self.painter, r, Stroke::new(1.2, colour));
                let from = self.boxed(0, i + 1);
                if col == 1 && i < top_len {
                    self.painter.arrow(
                        from.right_center(),
                        r.left_center() - from.right_center() - Vec2::new(2.0, 0.0),
                        Stroke::new(1.0, EMA_COLOUR),
                    );
                }
            } else {
                self.painter
                    .rect_stroke(r, 3.0, Stroke::new(1.2, colour), StrokeKind::Inside);
            }
            self.text(r.center(), label, colour);
            above = r;
        }
        above
    }

    /// The stop-gradient mark on the arrow from `last` into the loss.
    fn stop_gradient(&self, last: Rect, loss: Rect) {
        let mid = Pos2::new(last.center().x, (last.bottom() + loss.top()) / 2.0);
        self.painter.line_segment(
            [mid + Vec2::new(-7.0, -3.0), mid + Vec2::new(7.0, 3.0)],
            Stroke::new(2.0, STOP_COLOUR),
        );
        self.painter.text(
            mid + Vec2::new(10.0, 0.0),
            Align2::LEFT_CENTER,
            "stop-grad",
            FontId::proportional(10.0),
            STOP_COLOUR,
        );
    }

    fn loss_box(&self, r: Rect, loss: &str, fill: Color32) {
        self.painter.rect_filled(r, 3.0, fill);
        self.painter
            .rect_stroke(r, 3.0, Stroke::new(1.2, self.ink), StrokeKind::Inside);
        self.text(r.center(), loss, self.ink);
    }

    /// The queue or memory bank under the loss, feeding it.
    fn store_box(&self, store: &str, row: usize, loss: Rect) {
        let r = self.wide_box(row, self.rect.width() - 40.0);
        self.painter
            .rect_stroke(r, 3.0, Stroke::new(1.2, EMA_COLOUR), StrokeKind::Inside);
        self.text(r.center(), store, EMA_COLOUR);
        self.painter.arrow(
            r.center_top(),
            loss.center_bottom() - r.center_top() + Vec2::new(0.0, 1.0),
            Stroke::new(1.0, EMA_COLOUR),
        );
    }
}

fn dashed_rect(painter: &egui::Painter, r: Rect, stroke: Stroke) {
    let pts = [
        r.left_top(),
        r.right_top(),
        r.right_bottom(),
        r.left_bottom(),
        r.left_top(),
    ];
    painter.extend(Shape::dashed_line(&pts, stroke, 4.0, 3.0));
}
