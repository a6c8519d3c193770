//! The live 2-D projection (PCA, or t-SNE / UMAP animated on their own threads) of the held-out
//! sample's embeddings, coloured by class or by kNN correctness. Hovering shows the image;
//! clicking selects it and lists its nearest neighbours in embedding space (cosine), which
//! are ringed on the plot and joined to it.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Legend, Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points};

use crate::app::history::RunHistory;
use crate::app::layout_worker::LayoutKind;
use crate::app::palette::class_colour;
use crate::app::projection_view::{
    ColourBy, ProjectionChoice, ProjectionMode, ProjectionView, shown_frame,
};
use crate::app::textures::TextureCache;
use crate::data::Dataset;
use crate::engine::ProjectionFrame;
use crate::preset::PictureSpace;
use crate::projection::align::procrustes;
use crate::projection::nearest_cosine;

/// The accessible name of the scatter plot (what UI tests find it by).
pub const PLOT_LABEL: &str = "embedding projection";
const RIGHT: Color32 = Color32::from_rgb(70, 170, 90);
const WRONG: Color32 = Color32::from_rgb(220, 90, 80);
const THUMB: f32 = 56.0;
const VIEW1: Color32 = Color32::from_rgb(242, 142, 43);
const VIEW2: Color32 = Color32::from_rgb(118, 120, 237);

/// What the projection panel borrows: the run it shows and the dataset (read-only), the
/// remembered choice of projection and colouring, its own state, and the texture cache. The layout workers are the app's: it starts them and
/// hands them each frame before drawing ([`ProjectionView::keep_up`]).
pub struct ProjectionPanel<'a> {
    pub history: &'a RunHistory,
    pub dataset: &'a Dataset,
    pub choice: &'a mut ProjectionChoice,
    pub view: &'a mut ProjectionView,
    pub textures: &'a mut TextureCache,
}

pub fn show(ui: &mut egui::Ui, mut panel: ProjectionPanel) {
    let app = &mut panel;
    controls(ui, app);
    let history = app.history;
    let Some(frame) = shown_frame(app.view.scrub, history) else {
        ui.label("The projection of held-out embeddings appears when training starts.");
        return;
    };
    let (mut points, caption, iterations) = layout(app, frame);
    // A layout from an earlier run's sample can briefly be longer than this frame.
    points.truncate(frame.points.len());
    if app.choice.colour != ColourBy::View {
        // The augmented views are placed in the frame's own PCA axes: never turned.
        points = app.view.aligned(frame, points);
    }
    ui.label(RichText::new(caption).strong());
    scrub_bar(ui, app);
    let colour = app.choice.colour;
    if let Some(s) = app.view.silhouette.of(frame, &points, iterations, colour) {
        ui.label(format!(
            "Silhouette by {}: {s:.2}",
            colour_name(app.dataset, colour)
        ))
        .on_hover_text(
            "How much this picture's clusters are the colouring's groups: 1 = each group a \
             tight cluster far from the others, 0 = the groups mixed, below 0 = points nearer \
             another group (Rousseeuw's silhouette of the 2-D points)",
        );
    }
    let neighbours = selected_position(app, frame).map(|i| {
        (
            i,
            nearest_cosine(&frame.embeddings, frame.dim, i, app.choice.neighbours),
        )
    });
    let side = ui
        .available_width()
        .min(ui.available_height() - 190.0)
        .max(200.0);
    let colour_by = app.choice.colour;
    let names = app.dataset.class_names.clone();
    // Before / after: the run's first picture beside this one, of the same images.
    let first = history
        .frames
        .first()
        .filter(|f| app.view.before && f.step != frame.step && f.indices == frame.indices);
    let width = if first.is_some() {
        (ui.available_width() - 2.0 * ui.spacing().item_spacing.x) / 2.0
    } else {
        ui.available_width()
    };
    let side = side.min(width.max(200.0));
    let response = ui
        .horizontal(|ui| {
            if let Some(first) = first {
                before_plot(ui, first, &points, colour_by, &names, [width, side]);
            }
            ui.vertical(|ui| {
                ui.set_width(width);
                if first.is_some() {
                    ui.label(RichText::new(format!("After: step {}", frame.step)).small());
                }
                let mut plot = Plot::new("projection")
                    .width(width)
                    .height(side)
                    .data_aspect(1.0)
                    .legend(Legend::default());
                if let Some(right) = legend_room(&points) {
                    plot = plot.include_x(right);
                }
                plot.show_axes(false).show(ui, |p| {
                    draw_points(p, frame, &points, colour_by, &names);
                    if let Some((i, near)) = &neighbours {
                        draw_selection(p, &points, *i, near);
                    }
                    hovered_point(p, &points)
                })
            })
            .inner
        })
        .inner;
    response
        .response
        .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, PLOT_LABEL));
    let hovered = response.inner.filter(|_| response.response.hovered());
    if let Some(i) = hovered
        && response.response.clicked()
    {
        app.view.selected = Some(frame.indices[i]);
    }
    hover_line(ui, app, frame, hovered);
    if let Some((i, near)) = neighbours {
        neighbour_strip(ui, app, frame, i, &near);
    }
}

fn controls(ui: &mut egui::Ui, app: &mut ProjectionPanel) {
    let (v, choice) = (&mut *app.view, &mut *app.choice);
    ui.horizontal_wrapped(|ui| {
        ui.label("Projection:");
        ui.selectable_value(&mut choice.mode, ProjectionMode::Pca, "PCA");
        ui.selectable_value(&mut choice.mode, ProjectionMode::Tsne, "t-SNE");
        ui.selectable_value(&mut choice.mode, ProjectionMode::Umap, "UMAP");
        ui.separator();
        ui.label("Colour:");
        ui.selectable_value(&mut choice.colour, ColourBy::Class, "class");
        ui.selectable_value(&mut choice.colour, ColourBy::KnnCorrect, "kNN right/wrong");
        ui.selectable_value(&mut choice.colour, ColourBy::View, "augmented views")
            .on_hover_text(
                "The first 100 images' two augmented views (the same augmentations at every \
                 evaluation), joined: a short line is a positive pair the encoder keeps \
                 together. PCA only.",
            );
        for (k, a) in app.dataset.attributes.iter().enumerate() {
            let a = a.name.as_str();
            ui.selectable_value(&mut choice.colour, ColourBy::Attribute(k), a)
                .on_hover_text(format!(
                    "Each image's {a}, a property other than its class: clusters of one {a} \
                     mean the representation groups images by {a}."
                ));
        }
        if let Some(kind) = choice.mode.layout() {
            ui.separator();
            let mut paused = v.layout_paused;
            if ui
                .checkbox(&mut paused, format!("Pause {}", kind.name()))
                .changed()
            {
                v.set_paused(paused);
            }
        }
    });
}

/// What the points are grouped by, in words.
fn colour_name(dataset: &Dataset, colour: ColourBy) -> &str {
    match colour {
        ColourBy::Attribute(k) => dataset.attributes.get(k).map_or("attribute", |a| &a.name),
        _ => "class",
    }
}

/// Under the picture: the hovered point's image and what it is, or how to use the plot.
fn hover_line(
    ui: &mut egui::Ui,
    app: &mut ProjectionPanel,
    frame: &ProjectionFrame,
    hovered: Option<usize>,
) {
    ui.horizontal(|ui| match hovered {
        Some(i) => {
            thumbnail(ui, app, frame.indices[i]);
            ui.label(format!(
                "held-out image {}: {}{}",
                frame.indices[i],
                class_name(app, frame.labels[i]),
                if frame.knn_correct.get(i) == Some(&false) {
                    " (kNN gets it wrong)"
                } else {
                    ""
                }
            ));
        }
        None => {
            ui.label(
                RichText::new("Hover a point to see its image; click it for its neighbours.")
                    .small(),
            );
        }
    });
}

/// Step 0's picture (the random network: PCA of its embeddings) turned onto `now`, the
/// picture beside it, so the same image sits in about the same place in both.
fn before_plot(
    ui: &mut egui::Ui,
    first: &ProjectionFrame,
    now: &[[f32; 2]],
    colour_by: ColourBy,
    names: &[String],
    [width, height]: [f32; 2],
) {
    let points = procrustes(&first.points, now);
    ui.vertical(|ui| {
        ui.set_width(width);
        ui.label(
            RichText::new(format!(
                "Before: step {} (the random network), PCA",
                first.step
            ))
            .small(),
        );
        Plot::new("projection-before")
            .width(width)
            .height(height)
            .data_aspect(1.0)
            .show_axes(false)
            .show(ui, |p| draw_points(p, first, &points, colour_by, names));
    });
}

/// The x the picture reaches to so its legend (top right) sits beside the points, not on
/// them: a third of the points' width past the rightmost.
pub fn legend_room(points: &[[f32; 2]]) -> Option<f64> {
    let xs = points
        .iter()
        .map(|p| f64::from(p[0]))
        .filter(|x| x.is_finite());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    (hi > lo).then(|| hi + (hi - lo) / 3.0)
}

/// Seconds each evaluation stays on screen while the run is replayed.
const PLAY_SECONDS_PER_FRAME: f64 = 0.6;

/// The film of the run: a slider over every kept evaluation (step 0, the random network,
/// to now), Play to replay it, Latest to follow the run again.
fn scrub_bar(ui: &mut egui::Ui, app: &mut ProjectionPanel) {
    let frames = &app.history.frames;
    let n = frames.len();
    if n < 2 {
        return;
    }
    let mut at = app.view.scrub.unwrap_or(n - 1).min(n - 1);
    let playing = app.view.playing_since.is_some();
    let now = ui.input(|i| i.time);
    ui.horizontal(|ui| {
        let play = if playing { "Pause" } else { "Play" };
        if ui
            .button(play)
            .on_hover_text("Replay the run's pictures from step 0, one evaluation at a time")
            .clicked()
        {
            if playing {
                app.view.playing_since = None;
            } else {
                if at == n - 1 {
                    at = 0;
                }
                app.view.scrub = Some(at);
                app.view.playing_since = Some(now);
            }
        }
        let label = format!("step {} ({} of {n} evaluations)", frames[at].step, at + 1);
        let slider = egui::Slider::new(&mut at, 0..=n - 1)
            .show_value(false)
            .text(label);
        if ui
            .add(slider)
            .on_hover_text("Step back through the run's evaluations; step 0 is the random network")
            .changed()
        {
            app.view.scrub = (at < n - 1).then_some(at);
            app.view.playing_since = None;
        }
        if app.view.scrub.is_some() && ui.button("Latest").clicked() {
            app.view.scrub = None;
            app.view.playing_since = None;
        }
        ui.checkbox(&mut app.view.before, "step 0 beside")
            .on_hover_text("Before / after: the random network's picture beside this one");
    });
    if let Some(since) = app.view.playing_since {
        if now - since >= PLAY_SECONDS_PER_FRAME {
            let next = app.view.scrub.unwrap_or(n - 1) + 1;
            app.view.scrub = (next < n - 1).then_some(next);
            app.view.playing_since = app.view.scrub.map(|_| now);
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(
                PLAY_SECONDS_PER_FRAME / 4.0,
            ));
    }
}

/// Where the picture is not the representation itself, the caption says so.
fn space_note(frame: &ProjectionFrame) -> &'static str {
    match frame.space {
        PictureSpace::Encoder => "",
        PictureSpace::Head => " in the projection head's space z",
    }
}

/// The points to draw, the caption saying what they are, and the animated layout's
/// iteration count (`None` for PCA).
fn layout(
    app: &mut ProjectionPanel,
    frame: &ProjectionFrame,
) -> (Vec<[f32; 2]>, String, Option<u32>) {
    let pca = || {
        (
            frame.points.clone(),
            format!(
                "PCA at step {}: {} held-out images{}; axes explain {:.0}% and {:.0}% of variance",
                frame.step,
                frame.points.len(),
                space_note(frame),
                100.0 * frame.explained[0],
                100.0 * frame.explained[1]
            ),
            None,
        )
    };
    let Some(kind) = app.choice.mode.layout() else {
        return pca();
    };
    if app.choice.colour == ColourBy::View {
        // The views are placed with PCA's axes; a t-SNE/UMAP layout has no room for them.
        let (p, caption, _) = pca();
        return (
            p,
            format!("{caption} (augmented views are shown on PCA)"),
            None,
        );
    }
    let starting = || {
        let (p, _, _) = pca();
        (
            p,
            format!("{} is starting; showing PCA meanwhile", kind.name()),
            None,
        )
    };
    let Some(worker) = app.view.running(kind) else {
        return starting();
    };
    let unit = if kind == LayoutKind::Umap {
        "epoch"
    } else {
        "iteration"
    };
    let latest = worker.latest().cloned();
    if let Some(why) = &worker.failed {
        let (p, _, _) = pca();
        return (p, format!("{why}; showing PCA instead"), None);
    }
    match latest {
        Some(l) if !l.points.is_empty() => (
            l.points.clone(),
            format!(
                "{} of step {}'s embeddings: {} held-out images{}, {unit} {}{} ({:.0}/s)",
                kind.name(),
                l.step,
                l.points.len(),
                space_note(frame),
                l.iterations,
                if l.settled { ", settled" } else { "" },
                l.iterations_per_sec
            ),
            Some(l.iterations),
        ),
        _ => starting(),
    }
}

fn draw_points(
    p: &mut egui_plot::PlotUi,
    frame: &ProjectionFrame,
    points: &[[f32; 2]],
    colour_by: ColourBy,
    names: &[String],
) {
    let xy = |q: &[f32; 2]| [f64::from(q[0]), f64::from(q[1])];
    let series = |keep: &dyn Fn(usize) -> bool| -> Vec<[f64; 2]> {
        points
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, q)| xy(q))
            .collect()
    };
    match colour_by {
        ColourBy::Class => {
            for (c, name) in names.iter().enumerate() {
                let pts = series(&|i| frame.labels.get(i).is_some_and(|&l| l as usize == c));
                p.points(
                    Points::new(name.clone(), PlotPoints::from(pts))
                        .color(class_colour(c))
                        .radius(2.5),
                );
            }
        }
        ColourBy::View => {
            // The held-out images faint, for context; the pairs on top.
            p.points(
                Points::new("held-out images", PlotPoints::from(series(&|_| true)))
                    .color(Color32::from_gray(90))
                    .radius(1.5),
            );
            for pair in &frame.view_pairs {
                let ends: Vec<[f64; 2]> = pair.iter().map(xy).collect();
                p.line(
                    Line::new("", PlotPoints::from(ends))
                        .color(Color32::from_gray(150))
                        .width(0.7),
                );
            }
            for (k, (name, colour)) in [("view 1", VIEW1), ("view 2", VIEW2)]
                .into_iter()
                .enumerate()
            {
                let pts: Vec<[f64; 2]> = frame.view_pairs.iter().map(|p| xy(&p[k])).collect();
                p.points(
                    Points::new(name, PlotPoints::from(pts))
                        .color(colour)
                        .radius(2.5),
                );
            }
        }
        ColourBy::Attribute(k) => {
            let Some(a) = frame.attributes.get(k) else {
                return;
            };
            for (value, name) in a.values.iter().enumerate() {
                let pts = series(&|i| a.of_point.get(i).is_some_and(|&v| v as usize == value));
                p.points(
                    Points::new(name.clone(), PlotPoints::from(pts))
                        .color(class_colour(value))
                        .radius(2.5),
                );
            }
        }
        ColourBy::KnnCorrect => {
            for (name, colour, want) in [("kNN right", RIGHT, true), ("kNN wrong", WRONG, false)] {
                let pts = series(&|i| frame.knn_correct.get(i) == Some(&want));
                p.points(
                    Points::new(name, PlotPoints::from(pts))
                        .color(colour)
                        .radius(2.5),
                );
            }
        }
    }
}

/// Rings the selected point and its neighbours, joined by thin lines.
fn draw_selection(p: &mut egui_plot::PlotUi, points: &[[f32; 2]], i: usize, near: &[(usize, f32)]) {
    let Some(&sel) = points.get(i) else { return };
    let sel = [f64::from(sel[0]), f64::from(sel[1])];
    let near: Vec<[f64; 2]> = near
        .iter()
        .filter_map(|&(j, _)| points.get(j))
        .map(|q| [f64::from(q[0]), f64::from(q[1])])
        .collect();
    for q in &near {
        p.line(
            Line::new("", PlotPoints::from(vec![sel, *q]))
                .color(Color32::from_gray(140))
                .width(0.8),
        );
    }
    p.points(
        Points::new("neighbours", PlotPoints::from(near))
            .shape(MarkerShape::Circle)
            .filled(false)
            .radius(5.0)
            .color(Color32::from_gray(60)),
    );
    p.points(
        Points::new("selected", PlotPoints::from(vec![sel]))
            .shape(MarkerShape::Circle)
            .filled(false)
            .radius(8.0)
            .color(Color32::BLACK),
    );
}

/// The point nearest the pointer, within 12 screen points.
fn hovered_point(p: &egui_plot::PlotUi, points: &[[f32; 2]]) -> Option<usize> {
    let ptr = p.pointer_coordinate()?;
    let t = p.transform();
    let at = t.position_from_point(&ptr);
    points
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let s = t.position_from_point(&PlotPoint::new(q[0], q[1]));
            (i, s.distance(at))
        })
        .filter(|(_, dist)| *dist < 12.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Where the selected image sits in this frame (None when nothing is selected or it is
/// not in the sample).
fn selected_position(app: &ProjectionPanel, frame: &ProjectionFrame) -> Option<usize> {
    let idx = app.view.selected?;
    frame.indices.iter().position(|&j| j == idx)
}

fn neighbour_strip(
    ui: &mut egui::Ui,
    app: &mut ProjectionPanel,
    frame: &ProjectionFrame,
    i: usize,
    near: &[(usize, f32)],
) {
    let own = frame.labels[i];
    ui.horizontal_wrapped(|ui| {
        if ui.small_button("Clear").clicked() {
            app.view.selected = None;
        }
        ui.label(
            RichText::new(format!(
                "Nearest neighbours of held-out image {} ({}) at step {}, by cosine similarity:",
                frame.indices[i],
                class_name(app, own),
                frame.step
            ))
            .strong(),
        );
    });
    ui.horizontal_wrapped(|ui| {
        thumbnail(ui, app, frame.indices[i]);
        ui.separator();
        for &(j, sim) in near {
            ui.vertical(|ui| {
                let clicked = thumbnail(ui, app, frame.indices[j]).clicked();
                let same = frame.labels[j] == own;
                ui.label(
                    RichText::new(format!("{}\n{sim:.3}", class_name(app, frame.labels[j])))
                        .small()
                        .color(if same { RIGHT } else { WRONG }),
                );
                if clicked {
                    // Walk the neighbourhood: the neighbour becomes the selection.
                    app.view.selected = Some(frame.indices[j]);
                }
            });
        }
    });
}

/// A held-out image's thumbnail; clickable.
fn thumbnail(ui: &mut egui::Ui, app: &mut ProjectionPanel, idx: usize) -> egui::Response {
    let d = app.dataset;
    if idx >= d.test.len() {
        // The run was on a dataset that has since been replaced.
        return ui.label("(image not loaded)");
    }
    let tex = app
        .textures
        .get(ui.ctx(), &format!("test/{idx}"), d.image_size(), || {
            d.test.image(idx).to_vec()
        });
    ui.add(
        egui::Image::new(tex)
            .fit_to_exact_size(egui::vec2(THUMB, THUMB))
            .sense(egui::Sense::click()),
    )
}

fn class_name(app: &ProjectionPanel, label: u16) -> String {
    app.dataset
        .class_names
        .get(label as usize)
        .cloned()
        .unwrap_or_else(|| format!("class {label}"))
}
