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
