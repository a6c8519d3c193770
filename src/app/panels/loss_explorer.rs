//! The NT-Xent explorer: drag points on the unit circle and watch the loss, each point's
//! gradient (the arrow: where a step of gradient descent moves it along the circle) and the
//! selected anchor's softmax over the other points, with a temperature slider. The
//! numbers are the real `losses::nt_xent` and burn's autodiff (`engine::loss_explorer`).

use eframe::egui::{self, Color32, Pos2, RichText, Sense, Stroke, Vec2};

use crate::app::loss_explorer::LossExplorer;
use crate::app::palette::class_colour;

/// The accessibility label of the circle (kittest finds it by this).
pub const CIRCLE_LABEL: &str = "points on the unit circle";

pub fn show(ui: &mut egui::Ui, state: &mut LossExplorer) {
    ui.label(
        "NT-Xent on six 2-D embeddings: points of one colour are the two views of one image \
         (a positive pair); every other point is a negative. Drag a point; click one to see \
         its softmax. The arrows point where gradient descent moves each point.",
    );
    ui.horizontal(|ui| {
        let label = ui.label("temperature t");
        ui.add(egui::Slider::new(&mut state.temperature, 0.05..=2.0).logarithmic(true))
            .labelled_by(label.id);
        if ui.button("Reset points").clicked() {
            state.reset_points();
        }
    });
    let loss = state.probe().loss;
    ui.label(
        RichText::new(format!("loss {loss:.4}"))
            .strong()
            .monospace(),
    );
    ui.horizontal_top(|ui| {
        let side = (ui.available_width() * 0.5)
            .min(ui.available_height() - 20.0)
            .max(200.0);
        circle(ui, state, side);
        ui.vertical(|ui| softmax_bars(ui, state, side));
    });
}

fn circle(ui: &mut egui::Ui, state: &mut LossExplorer, side: f32) {
    let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, CIRCLE_LABEL));
    let centre = rect.center();
    // Room outside the circle for each point's name.
    let radius = side * 0.32;
    let at = |p: [f32; 2]| Pos2::new(centre.x + radius * p[0], centre.y - radius * p[1]);
    let nearest = |pos: Pos2, points: &[[f32; 2]]| {
        points
            .iter()
            .enumerate()
            .map(|(i, &p)| (i, at(p).distance(pos)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    };
    let points = state.points();
    if let Some(pos) = response.interact_pointer_pos() {
        if response.drag_started() || response.clicked() {
            state.dragging = nearest(pos, &points);
            if let Some(i) = state.dragging {
                state.anchor = i;
            }
        }
        if response.dragged()
            && let Some(i) = state.dragging
        {
            state.angles[i] = (centre.y - pos.y).atan2(pos.x - centre.x);
        }
    }
    if response.drag_stopped() {
        state.dragging = None;
    }
    let points = state.points();
    let probe = state.probe().clone();
    let painter = ui.painter_at(rect);
    painter.circle_stroke(centre, radius, Stroke::new(1.0, Color32::from_gray(110)));
    let pairs = points.len() / 2;
    for i in 0..pairs {
        painter.line_segment(
            [at(points[i]), at(points[i + pairs])],
            Stroke::new(1.0, class_colour(i).gamma_multiply(0.5)),
        );
    }
    // Arrows: minus the gradient's component along the circle, the largest ~0.4 radius.
    let tangent = |p: [f32; 2], g: [f32; 2]| {
        let t = [-p[1], p[0]];
        let along = -(g[0] * t[0] + g[1] * t[1]);
        [t[0] * along, t[1] * along]
    };
    let moves: Vec<[f32; 2]> = points
        .iter()
        .zip(&probe.gradients)
        .map(|(&p, &g)| tangent(p, g))
        .collect();
    let longest = moves
        .iter()
        .map(|m| (m[0] * m[0] + m[1] * m[1]).sqrt())
        .fold(1e-6f32, f32::max);
    for (i, (&p, m)) in points.iter().zip(&moves).enumerate() {
        let colour = class_colour(i % pairs);
        let scale = 0.4 * radius / longest;
        let tip = at(p) + Vec2::new(m[0] * scale, -m[1] * scale);
        painter.arrow(at(p), tip - at(p), Stroke::new(1.5, colour));
        painter.circle_filled(at(p), 7.0, colour);
        if i == state.anchor {
            painter.circle_stroke(at(p), 11.0, Stroke::new(2.0, Color32::WHITE));
        }
        // The name just outside the circle, on the point's side.
        let view = if i < pairs { 1 } else { 2 };
        let outside = Pos2::new(
            centre.x + (radius + 16.0) * p[0],
            centre.y - (radius + 16.0) * p[1],
        );
        let align = if p[0] >= 0.0 {
            egui::Align2::LEFT_CENTER
        } else {
            egui::Align2::RIGHT_CENTER
        };
        painter.text(
            outside,
            align,
            format!("image {} view {view}", i % pairs + 1),
            egui::FontId::proportional(11.0),
            Color32::from_gray(200),
        );
    }
}

fn softmax_bars(ui: &mut egui::Ui, state: &mut LossExplorer, side: f32) {
    let anchor = state.anchor;
    let partner = state.partner(anchor);
    let probe = state.probe().clone();
    let pairs = probe.softmax.len() / 2;
    ui.label(
        RichText::new(format!(
            "softmax of point \"image {} view {}\" over the others (t = {:.2})",
            anchor % pairs + 1,
            if anchor < pairs { 1 } else { 2 },
            state.temperature
        ))
        .strong(),
    );
    let row = &probe.softmax[anchor];
    let width = (ui.available_width() - 10.0).clamp(150.0, 420.0);
    for (k, &p) in row.iter().enumerate() {
        if k == anchor {
            continue;
        }
        let name = format!(
            "image {} view {}{}",
            k % pairs + 1,
            if k < pairs { 1 } else { 2 },
            if k == partner { " (positive)" } else { "" }
        );
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(Vec2::new(width * 0.6, 16.0), Sense::hover());
            let filled =
                egui::Rect::from_min_size(rect.min, Vec2::new(rect.width() * p, rect.height()));
            let colour = if k == partner {
                Color32::from_rgb(90, 190, 110)
            } else {
                Color32::from_rgb(200, 110, 90)
            };
            ui.painter().rect_filled(filled, 2.0, colour);
            ui.painter().rect_stroke(
                rect,
                2.0,
                Stroke::new(1.0, Color32::from_gray(90)),
                egui::StrokeKind::Inside,
            );
            ui.label(format!("{p:.3}  {name}"));
        });
    }
    ui.add_space(side * 0.05);
    ui.label(
        RichText::new(format!(
            "The anchor's loss is -log {:.3} = {:.3}: raise the positive's share by moving the \
             pair together or the negatives away; a lower t makes the nearest negatives \
             dominate.",
            row[partner],
            -row[partner].max(1e-12).ln()
        ))
        .small(),
    );
}
