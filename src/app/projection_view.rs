//! What the projection panel shows: which projection, how points are coloured, the
//! selected image and the layout workers (t-SNE, UMAP: each started when first chosen).

use eframe::egui;

use super::history::RunHistory;
use super::layout_silhouette::LayoutSilhouette;
use super::layout_worker::{LayoutKind, LayoutWorker};
use crate::engine::ProjectionFrame;
use crate::projection::align::procrustes;

/// The frame on screen: the one at `scrub` (a `ProjectionView`'s) among `history`'s kept
/// frames, or the newest. A free function, so the frame is borrowed beside a mutable view.
pub fn shown_frame(scrub: Option<usize>, history: &RunHistory) -> Option<&ProjectionFrame> {
    scrub
        .and_then(|i| history.frames.get(i))
        .or_else(|| history.projection())
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProjectionMode {
    #[default]
    Pca,
    Tsne,
    Umap,
}

impl ProjectionMode {
    /// The layout worker this mode needs (PCA comes with each evaluation).
    pub fn layout(self) -> Option<LayoutKind> {
        match self {
            ProjectionMode::Pca => None,
            ProjectionMode::Tsne => Some(LayoutKind::Tsne),
            ProjectionMode::Umap => Some(LayoutKind::Umap),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ColourBy {
    #[default]
    Class,
    /// Green where the kNN evaluation labels the image right, red where wrong.
    KnnCorrect,
    /// The first images' two augmented views, view 1 and view 2 in two colours, joined
    /// (PCA only: they are placed with the held-out images' axes).
    View,
    /// The `k`-th nuisance attribute of the dataset (the shapes' colour, background, size).
    Attribute(usize),
}

/// What the projection shows, remembered between sessions (part of `persisted::Settings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProjectionChoice {
    /// Stored as `projection`, the key version 1 wrote.
    #[serde(rename = "projection")]
    pub mode: ProjectionMode,
    pub colour: ColourBy,
    /// How many nearest neighbours the panel lists.
    pub neighbours: usize,
}

impl Default for ProjectionChoice {
    fn default() -> Self {
        Self {
            mode: ProjectionMode::Pca,
            colour: ColourBy::Class,
            neighbours: 8,
        }
    }
}

/// The projection's state within a session: the selected image, the layout workers, the
/// silhouette on screen.
#[derive(Default)]
pub struct ProjectionView {
    /// The selected held-out image (an index into the test split, stable across frames).
    pub selected: Option<usize>,
    /// The animated layout (t-SNE, UMAP) is paused.
    pub layout_paused: bool,
    /// One worker per layout kind, started on first use.
    workers: Vec<LayoutWorker>,
    /// The silhouette of the picture on screen, by its colouring.
    pub silhouette: LayoutSilhouette,
    /// The evaluation on screen, an index into the run's kept frames; `None` follows the
    /// newest.
    pub scrub: Option<usize>,
    /// Replaying the run: when the picture last stepped forward (egui time, seconds).
    pub playing_since: Option<f64>,
    /// "Before / after": step 0's picture beside the one shown.
    pub before: bool,
    /// The points last drawn, with the held-out indices they are: the next picture of the
    /// same points is turned onto them, so stepping through evaluations moves points
    /// rather than flipping the cloud.
    drawn: Option<(Vec<usize>, Vec<[f32; 2]>)>,
}

impl ProjectionView {
    /// Before drawing: starts the layout worker the chosen projection needs (once) and
    /// hands it the newest frame. Drawing code never starts threads.
    pub fn keep_up(
        &mut self,
        ctx: &egui::Context,
        choice: &ProjectionChoice,
        frame: Option<&ProjectionFrame>,
    ) {
        let (Some(kind), Some(frame)) = (choice.mode.layout(), frame) else {
            return;
        };
        if choice.colour == ColourBy::View {
            return;
        }
        self.worker(kind, ctx)
            .offer(frame.step, &frame.embeddings, frame.dim);
    }

    /// `points` (a picture of `frame`) turned, mirrored and scaled onto the last picture
    /// drawn of the same held-out images, and remembered as the next one's reference.
    pub fn aligned(&mut self, frame: &ProjectionFrame, points: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
        let points = match &self.drawn {
            Some((indices, last)) if *indices == frame.indices => procrustes(&points, last),
            _ => points,
        };
        self.drawn = Some((frame.indices.clone(), points.clone()));
        points
    }

    /// The worker of `kind`, if it runs.
    pub fn running(&mut self, kind: LayoutKind) -> Option<&mut LayoutWorker> {
        self.workers.iter_mut().find(|w| w.kind == kind)
    }

    /// The worker for `kind`, started on first use.
    pub fn worker(&mut self, kind: LayoutKind, ctx: &egui::Context) -> &mut LayoutWorker {
        let i = match self.workers.iter().position(|w| w.kind == kind) {
            Some(i) => i,
            None => {
                let worker = LayoutWorker::start(kind, ctx.clone());
                if self.layout_paused {
                    worker.set_paused(true);
                }
                self.workers.push(worker);
                self.workers.len() - 1
            }
        };
        &mut self.workers[i]
    }

    /// Pauses or resumes every animated layout.
    pub fn set_paused(&mut self, paused: bool) {
        self.layout_paused = paused;
        for w in &self.workers {
            w.set_paused(paused);
        }
    }
}
