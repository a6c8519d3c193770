//! The workbench window (eframe/egui). Never touches burn: it edits an `Experiment`,
//! starts the engine's trainer thread, and draws the plain-data events it sends back.
//!
//! The frame ([`WorkbenchApp`]) holds the remembered settings and a few owning parts;
//! panels draw from view structs of what they borrow and return [`Action`]s, which the
//! frame hands to the part that owns them after drawing (the egui_demo_app pattern), so
//! no panel mutates shared state behind another's back.

pub mod action;
pub mod classroom_state;
pub mod compare_state;
pub mod dataset_jobs;
pub mod dataset_state;
pub mod figure;
pub mod frame_times;
pub mod history;
pub mod layout_silhouette;
pub mod layout_worker;
pub mod lesson_state;
pub mod loss_explorer;
pub mod palette;
pub mod panels;
pub mod persisted;
pub mod plot_export;
pub mod projection_view;
pub mod run_archive;
pub mod run_state;
pub mod run_view;
pub mod screenshot;
pub mod textures;
pub mod workbench;

use std::path::PathBuf;

pub use action::{
    Action, ClassroomAction, CompareAction, DatasetAction, PlotAction, RunAction, Tab,
};
pub use history::{RunHistory, RunStatus};
pub use screenshot::ScreenshotPlan;
pub use workbench::WorkbenchApp;

/// How the window is opened.
#[derive(Debug, Default)]
pub struct LaunchOptions {
    pub preset: Option<PathBuf>,
    /// A built-in lesson to open (it replaces the experiment).
    pub lesson: Option<String>,
    /// A classroom file to open (it replaces the experiment; after `lesson`).
    pub classroom: Option<PathBuf>,
    pub screenshot: Option<ScreenshotPlan>,
}

/// Opens the window and runs until it is closed.
pub fn launch(opts: LaunchOptions) -> anyhow::Result<()> {
    // A preset named on the command line wins over the remembered experiment.
    let preset = match &opts.preset {
        Some(p) => Some(crate::preset::Experiment::load(p)?),
        None => None,
    };
    // An unknown lesson is refused before any window opens.
    if let Some(id) = &opts.lesson {
        crate::lessons::find(id).map_err(anyhow::Error::msg)?;
    }
    // So is a classroom file that does not read.
    if let Some(path) = &opts.classroom {
        crate::lessons::classroom_file::ClassroomFile::load(path).map_err(anyhow::Error::msg)?;
    }
    let (lesson, classroom) = (opts.lesson, opts.classroom);
    let screenshot = opts.screenshot;
    // A picture that cannot be saved is refused before the run it waits for.
    let shot = screenshot.as_ref().map(|plan| plan.path.clone());
    if let Some(path) = &shot {
        screenshot::check_writable(path)?;
    }
    let started = std::time::SystemTime::now();
    let native = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("contrastive-workbench")
            .with_inner_size([1360.0, 860.0])
            .with_min_inner_size([900.0, 600.0]),
        // A screenshot is taken at the size asked for, wherever the last window was.
        persist_window: screenshot.is_none(),
        ..Default::default()
    };
    eframe::run_native(
        "contrastive-workbench",
        native,
        Box::new(move |cc| {
            let saved = cc
                .storage
                .filter(|_| screenshot.is_none())
                .and_then(|s| s.get_string(persisted::KEY))
                .map(|text| persisted::Settings::parse(&text));
            let ctx = cc.egui_ctx.clone();
            let mut app = match (saved, preset) {
                (Some(Ok(mut settings)), preset) => {
                    if let Some(preset) = preset {
                        settings.experiment = preset;
                    }
                    WorkbenchApp::restored(ctx, settings)
                }
                (Some(Err(problem)), preset) => {
                    let mut app = WorkbenchApp::new(ctx, preset.unwrap_or_default());
                    app.notice(format!("{problem}; starting from the defaults"));
                    app
                }
                (None, preset) => WorkbenchApp::new(ctx, preset.unwrap_or_default()),
            };
            if let Some(id) = &lesson {
                app.open_lesson(id).map_err(|e| anyhow::anyhow!(e))?;
            }
            if let Some(path) = &classroom {
                app.open_classroom(path).map_err(|e| anyhow::anyhow!(e))?;
            }
            if let Some(plan) = screenshot {
                app.enable_screenshot(plan);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    match shot {
        Some(path) => screenshot::check_saved(&path, started),
        None => Ok(()),
    }
}
