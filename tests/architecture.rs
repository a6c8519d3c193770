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

/// A file's text before its unit tests (tests may build what they like).
fn without_tests(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn the_ui_reads_the_burn_free_catalogue_not_the_methods() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (path, text) in sources(&root.join("app")) {
        assert!(
            !text.contains("methods::"),
            "{path} reaches into methods (use catalogue)"
        );
    }
    for (path, text) in sources(&root.join("catalogue")) {
        assert!(!text.contains("burn::"), "{path} uses burn");
    }
    // Lessons are data the window shows: they read the catalogue, never burn or methods.
    for (path, text) in sources(&root.join("lessons")) {
        assert!(!text.contains("burn::"), "{path} uses burn");
        assert!(!text.contains("methods::"), "{path} reaches into methods");
    }
    // Presets describe methods through the catalogue too, so preset and methods do not
    // import each other.
    let preset = std::fs::read_to_string(root.join("preset.rs")).unwrap();
    assert!(!preset.contains("methods::"), "preset.rs imports methods");
}

#[test]
fn only_the_backend_module_creates_devices() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (path, text) in sources(&root) {
        if path.contains("engine/backend/") {
            continue;
        }
        let code = without_tests(&text);
        for made in [
            "Device::flex(",
            "Device::wgpu",
            "Device::default(",
            "Device::cuda",
            "Device::enumerate",
            "Device::remote_options",
        ] {
            assert!(!code.contains(made), "{path} creates a device ({made})");
        }
    }
}

#[test]
fn panels_borrow_what_they_draw_and_never_the_whole_app_mutably() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app/panels");
    for (path, text) in sources(&root) {
        assert!(
            !text.contains("&mut WorkbenchApp"),
            "{path} takes the whole app mutably: borrow its own state and return actions"
        );
        assert!(
            !text.contains("LayoutWorker::start") && !text.contains("thread::"),
            "{path} starts threads from drawing code"
        );
        // The preview calls the functions training uses, never its own random streams.
        assert!(
            !text.contains("view_rng"),
            "{path} draws views itself: call views::batch::training_view / local_crop"
        );
    }
}
