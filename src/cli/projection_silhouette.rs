//! The picture a class would look at, measured headless: the held-out images' t-SNE,
//! settled as the window settles it (its perplexity, PCA start and iteration count), and
//! the silhouette of that layout by class and by each nuisance attribute. A teacher reads
//! from it, without a window, whether the classes form islands or the backgrounds do.

use crate::engine::ProjectionFrame;
use crate::metrics::silhouette;
use crate::projection::tsne::{ITERATIONS_PER_DATA, PERPLEXITY, TSNE_MAX_POINTS, Tsne};

/// `{"step", "space", "tsne_iterations", "points", "class", "<attribute>": ...}` for the frame's
/// settled t-SNE; a silhouette is null where the grouping has a single group.
pub fn of(frame: &ProjectionFrame) -> serde_json::Value {
    // The window lays out at most TSNE_MAX_POINTS, the first ones.
    let n = (frame.embeddings.len() / frame.dim.max(1)).min(TSNE_MAX_POINTS);
    let mut tsne = Tsne::new(&frame.embeddings[..n * frame.dim], frame.dim, PERPLEXITY);
    for _ in 0..ITERATIONS_PER_DATA {
        tsne.step();
    }
    let points = tsne.layout();
    let score = |labels: &[u16]| {
        let n = points.len().min(labels.len());
        silhouette(&points[..n], &labels[..n])
    };
    let mut out = serde_json::json!({
        "step": frame.step,
        "space": frame.space,
        "tsne_iterations": ITERATIONS_PER_DATA,
        "points": points.len(),
        "class": score(&frame.labels),
    });
    for attribute in &frame.attributes {
        out[attribute.name.as_str()] = serde_json::json!(score(&attribute.of_point));
    }
    out
}
