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
    let painter = ui.painter_at(rect);
    let ink = ui.visuals().text_color();
    let faint = ui.visuals().weak_text_color();
    let font = FontId::proportional(11.0);
    let two = !d.bottom.is_empty();
    let col_w = if two { width / 2.0 - 10.0 } else { width * 0.6 };
    let centre_x = |col: usize| {
        if two {
            rect.left() + width * (0.25 + 0.5 * col as f32)
        } else {
            rect.center().x
        }
    };
    let row_y = |row: usize| rect.top() + 4.0 + ROW * row as f32 + BOX_H / 2.0;
    let boxed = |col: usize, row: usize| {
        Rect::from_center_size(
            Pos2::new(centre_x(col), row_y(row)),
            Vec2::new(col_w, BOX_H),
        )
    };
    let arrow = |from: Rect, to: Rect, colour: Color32| {
        let start = from.center_bottom();
        let end = Pos2::new(start.x, to.top()) + Vec2::new(0.0, -1.0);
        painter.arrow(start, end - start, Stroke::new(1.2, colour));
    };

    let loss_row = stages + 1;
    let loss_rect = Rect::from_center_size(
        Pos2::new(rect.center().x, row_y(loss_row)),
        Vec2::new(width - 8.0, BOX_H),
    );
    let branches: [(&str, &[Stage]); 2] = [(d.top_input, d.top), (d.bottom_input, d.bottom)];
    for (col, (input, branch)) in branches.iter().enumerate() {
        if branch.is_empty() {
            continue;
        }
        let input_rect = boxed(col, 0);
        painter.text(
            input_rect.center(),
            Align2::CENTER_CENTER,
            *input,
            font.clone(),
            faint,
        );
        let mut above = input_rect;
        for (i, stage) in branch.iter().enumerate() {
            let r = boxed(col, i + 1);
            arrow(above, r, faint);
            let (colour, label) = match stage.mark {
                Mark::Trained => (ink, stage.label.to_string()),
                Mark::Shared => (faint, format!("{} (shared)", stage.label)),
                Mark::Ema => (EMA_COLOUR, format!("{} (EMA)", stage.label)),
            };
            if stage.mark == Mark::Ema {
                dashed_rect(&painter, r, Stroke::new(1.2, colour));
                // The EMA arrow from the trained box on the left.
                let from = boxed(0, i + 1);
                if col == 1 && i < d.top.len() {
                    painter.arrow(
                        from.right_center(),
                        r.left_center() - from.right_center() - Vec2::new(2.0, 0.0),
                        Stroke::new(1.0, EMA_COLOUR),
                    );
                }
            } else {
                painter.rect_stroke(r, 3.0, Stroke::new(1.2, colour), StrokeKind::Inside);
            }
            painter.text(
                r.center(),
                Align2::CENTER_CENTER,
                label,
                font.clone(),
                colour,
            );
            above = r;
        }
        let into_loss = Rect::from_min_max(
            Pos2::new(above.left(), loss_rect.top()),
            Pos2::new(above.right(), loss_rect.bottom()),
        );
        let stopped = col == 1 && d.bottom_stop_gradient;
        arrow(above, into_loss, if stopped { STOP_COLOUR } else { faint });
        if stopped {
            let mid = Pos2::new(above.center().x, (above.bottom() + loss_rect.top()) / 2.0);
            painter.line_segment(
                [mid + Vec2::new(-7.0, -3.0), mid + Vec2::new(7.0, 3.0)],
                Stroke::new(2.0, STOP_COLOUR),
            );
            painter.text(
                mid + Vec2::new(10.0, 0.0),
                Align2::LEFT_CENTER,
                "stop-grad",
                FontId::proportional(10.0),
                STOP_COLOUR,
            );
        }
    }
    painter.rect_filled(loss_rect, 3.0, ui.visuals().faint_bg_color);
    painter.rect_stroke(loss_rect, 3.0, Stroke::new(1.2, ink), StrokeKind::Inside);
    painter.text(
        loss_rect.center(),
        Align2::CENTER_CENTER,
        d.loss,
        font.clone(),
        ink,
    );
    if let Some(store) = d.store {
        let r = Rect::from_center_size(
            Pos2::new(rect.center().x, row_y(loss_row + 1)),
            Vec2::new(width - 40.0, BOX_H),
        );
        painter.rect_stroke(r, 3.0, Stroke::new(1.2, EMA_COLOUR), StrokeKind::Inside);
        painter.text(r.center(), Align2::CENTER_CENTER, store, font, EMA_COLOUR);
        painter.arrow(
            r.center_top(),
            loss_rect.center_bottom() - r.center_top() + Vec2::new(0.0, 1.0),
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
