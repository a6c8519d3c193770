//! What the projection panel shows: which projection, how points are coloured, the
//! selected image and the t-SNE worker (started the first time t-SNE is chosen).

use eframe::egui;

use super::tsne_worker::TsneWorker;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProjectionMode {
    #[default]
    Pca,
    Tsne,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColourBy {
    #[default]
    Class,
    /// Green where the kNN evaluation labels the image right, red where wrong.
    KnnCorrect,
}

pub struct ProjectionView {
    pub mode: ProjectionMode,
    pub colour: ColourBy,
    /// The selected held-out image (an index into the test split, stable across frames).
    pub selected: Option<usize>,
    /// How many nearest neighbours the panel lists.
    pub neighbours: usize,
    pub tsne_paused: bool,
    tsne: Option<TsneWorker>,
}

impl Default for ProjectionView {
    fn default() -> Self {
        Self {
            mode: ProjectionMode::Pca,
            colour: ColourBy::Class,
            selected: None,
            neighbours: 8,
            tsne_paused: false,
            tsne: None,
        }
    }
}

impl ProjectionView {
    /// The t-SNE worker, started on first use.
    pub fn tsne(&mut self, ctx: &egui::Context) -> &mut TsneWorker {
        self.tsne
            .get_or_insert_with(|| TsneWorker::start(ctx.clone()))
    }
}
