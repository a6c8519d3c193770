//! `screenshot` mode: start training, wait for a given step's evaluation, save the window
//! to a PNG through egui's screenshot command, then close. Used by CI's smoke test and to
//! regenerate `screenshots/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use eframe::egui;

use super::action::{Action, RunAction};
use super::frame_times::FrameTimes;
use super::history::RunStatus;
use super::projection_view::{ColourBy, ProjectionChoice, ProjectionMode, ProjectionView};
use super::run_state::RunState;
use crate::preset::Experiment;

#[derive(Clone, Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the `screenshot` command's independent flags, as given on its command line"
)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    /// Training steps before the picture (0: do not train).
    pub after_steps: u64,
    pub tab: String,
    /// Show the t-SNE (or UMAP) projection, and wait for it to settle on the last
    /// evaluation.
    pub tsne: bool,
    pub umap: bool,
    /// Select the first projected image (its neighbours show).
    pub select: bool,
    /// Show the augmented view pairs (colour by view).
    pub pairs: bool,
}

/// t-SNE iterations on the final data before the picture is taken.
const TSNE_SETTLED: u32 = 500;

const WAITING: u8 = 0;
const REQUESTED: u8 = 1;
const SAVED: u8 = 2;
const FAILED: u8 = 3;

pub struct ScreenshotState {
    plan: ScreenshotPlan,
    frames: u64,
    started: bool,
    /// Training was paused for the picture.
    paused: bool,
    /// The frame times were printed.
    reported: bool,
    phase: Arc<AtomicU8>,
}

impl ScreenshotState {
    pub fn new(plan: ScreenshotPlan, exp: &mut Experiment) -> Self {
        if plan.after_steps > 0 {
            // Evaluate (and project) a few times on the way, and right at the picture.
            exp.train.steps = exp.train.steps.max(plan.after_steps);
            exp.eval.every = (plan.after_steps / 4).max(1);
            while !plan.after_steps.is_multiple_of(exp.eval.every) {
                exp.eval.every -= 1;
            }
        }
        Self {
            plan,
            frames: 0,
            started: false,
            paused: false,
            reported: false,
            phase: Arc::new(AtomicU8::new(WAITING)),
        }
    }

    /// Called every frame; returns the actions the plan needs (start, stop).
    pub fn drive(
        &mut self,
        ctx: &egui::Context,
        run: &RunState,
        choice: &mut ProjectionChoice,
        view: &mut ProjectionView,
        frame_times: &FrameTimes,
        loading_dataset: bool,
    ) -> Vec<Action> {
        // A lesson or preset on another dataset loads it first: the picture (and the
        // run) wait for it.
        if loading_dataset {
            return Vec::new();
        }
        let (status, history) = (&run.status, &run.history);
        self.frames += 1;
        if self.plan.tsne {
            choice.mode = ProjectionMode::Tsne;
        }
        if self.plan.umap {
            choice.mode = ProjectionMode::Umap;
        }
        if self.plan.pairs {
            choice.colour = ColourBy::View;
        }
        if self.plan.select && view.selected.is_none() {
            view.selected = history
                .projection()
                .and_then(|f| f.indices.first().copied());
        }
        // An animated layout is ready when it shows the picture's evaluation (its frame
        // arrives just after the kNN report) and has run a while.
        let after = self.plan.after_steps;
        let tsne_settled = match choice.mode.layout() {
            None => true,
            Some(kind) => history.projection().is_some_and(|f| {
                f.step >= after
                    && view.worker(kind, ctx).latest().is_some_and(|l| {
                        l.step == f.step && (l.settled || l.iterations >= TSNE_SETTLED)
                    })
            }),
        };
        let mut actions = Vec::new();
        if self.plan.after_steps > 0 && !self.started {
            self.started = true;
            actions.push(RunAction::Start.into());
        }
        let ready = if self.plan.after_steps == 0 {
            self.frames > 5
        } else {
            let evaluated = history
                .log
                .evals
                .last()
                .is_some_and(|e| e.step >= self.plan.after_steps);
            if evaluated && !self.paused {
                // Hold training still while the picture (and t-SNE) settles.
                self.paused = true;
                actions.push(RunAction::Pause.into());
            }
            (evaluated && tsne_settled)
                || matches!(status, RunStatus::Failed(_) | RunStatus::Finished { .. })
        };
        match self.phase.load(Ordering::SeqCst) {
            WAITING if ready => {
                self.phase.store(REQUESTED, Ordering::SeqCst);
                let path = self.plan.path.clone();
                let phase = Arc::clone(&self.phase);
                let repaint = ctx.clone();
                ctx.request_screenshot(move |img| {
                    let ok = save_png(&path, &img);
                    phase.store(if ok { SAVED } else { FAILED }, Ordering::SeqCst);
                    repaint.request_repaint();
                });
            }
            SAVED | FAILED => {
                if let Some((p50, p99)) = frame_times.percentiles().filter(|_| !self.reported) {
                    self.reported = true;
                    crate::errln!(
                        "UI frame build time over the last {} frames: p50 {p50:.2} ms, p99 {p99:.2} ms",
                        frame_times.len()
                    );
                }
                actions.push(RunAction::Stop.into());
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            _ => {}
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
        actions
    }
}

fn save_png(path: &std::path::Path, img: &egui::ColorImage) -> bool {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(parent);
    }
    let [w, h] = img.size;
    let bytes: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_array()).collect();
    match image::RgbaImage::from_raw(w as u32, h as u32, bytes).map(|i| i.save(path)) {
        Some(Ok(())) => {
            crate::errln!("screenshot saved to {}", path.display());
            true
        }
        Some(Err(e)) => {
            crate::errln!("cannot save screenshot {}: {e}", path.display());
            false
        }
        None => false,
    }
}

/// Refuses a screenshot path whose folder cannot be created or written, naming it.
pub fn check_writable(path: &std::path::Path) -> anyhow::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| {
        anyhow::anyhow!(
            "cannot save the screenshot {}: cannot create {}: {e}",
            path.display(),
            folder.display()
        )
    })?;
    let probe = folder.join(format!(".cw-screenshot-probe-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|e| {
        anyhow::anyhow!(
            "cannot save the screenshot {}: {} is not writable: {e}",
            path.display(),
            folder.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The window closed: the screenshot must have been written since `started`.
pub fn check_saved(path: &std::path::Path, started: std::time::SystemTime) -> anyhow::Result<()> {
    let written = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= started);
    anyhow::ensure!(
        written,
        "the screenshot was not saved to {} (the window closed before it, or the write failed)",
        path.display()
    );
    Ok(())
}
