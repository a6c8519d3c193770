//! The layering rules of ARCHITECTURE.md, checked on the source: the UI never uses burn,
//! and the engine and everything below it never use egui.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn the_ui_never_uses_burn() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    for (path, text) in sources(&src) {
        assert!(!text.contains("burn::"), "{path} uses burn");
    }
}

#[test]
fn below_the_ui_nothing_uses_egui() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for module in [
        "data",
        "views",
        "model",
        "losses",
        "methods",
        "engine",
        "metrics",
        "projection",
    ] {
        for (path, text) in sources(&root.join(module)) {
            for forbidden in ["egui::", "eframe::", "egui_plot::"] {
                assert!(!text.contains(forbidden), "{path} uses {forbidden}");
            }
        }
    }
}
