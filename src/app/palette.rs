//! Class colours: Tableau 10, distinguishable and colour-blind friendlier than a hue wheel.

use eframe::egui::Color32;

const TABLEAU10: [Color32; 10] = [
    Color32::from_rgb(78, 121, 167),
    Color32::from_rgb(242, 142, 43),
    Color32::from_rgb(225, 87, 89),
    Color32::from_rgb(118, 183, 178),
    Color32::from_rgb(89, 161, 79),
    Color32::from_rgb(237, 201, 72),
    Color32::from_rgb(176, 122, 161),
    Color32::from_rgb(255, 157, 167),
    Color32::from_rgb(156, 117, 95),
    Color32::from_rgb(186, 176, 172),
];

pub fn class_colour(label: usize) -> Color32 {
    TABLEAU10[label % TABLEAU10.len()]
}

/// `class_colour` for constants.
pub const fn class_colour_const(label: usize) -> Color32 {
    TABLEAU10[label % TABLEAU10.len()]
}

/// Diverging colour for `t` in [-1, 1]: blue below zero, near-white at zero, red above
/// (ColorBrewer RdBu end points), for similarity heatmaps.
pub fn diverging(t: f32) -> Color32 {
    let t = t.clamp(-1.0, 1.0);
    let (end, w) = if t < 0.0 {
        ([33.0, 102.0, 172.0], -t)
    } else {
        ([178.0, 24.0, 43.0], t)
    };
    let mix = |e: f32| (247.0 + (e - 247.0) * w).round() as u8;
    Color32::from_rgb(mix(end[0]), mix(end[1]), mix(end[2]))
}

/// Sequential colour for `t` in [0, 1]: near-white to dark blue, for counts.
pub fn sequential(t: f32) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f32, b: f32| (a + (b - a) * t).round() as u8;
    Color32::from_rgb(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}
