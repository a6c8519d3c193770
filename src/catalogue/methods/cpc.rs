//! CPC (v1/v2): what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::cpc`.

use crate::catalogue::preview::{PreviewColumn, ViewsPreview};
use crate::catalogue::settings::hidden_width;
use crate::catalogue::{MethodInfo, ParamSpec, Params};
use crate::views::patch_grid::PatchGrid;

pub const CONTEXTS: &[&str] = &["masked-conv", "gru"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        grid: usize = ParamSpec::integer(
            "patch grid",
            "Patches per row and column, overlapping by half: 3 on 32x32 images gives 16x16 \
             patches at stride 8, the paper's 7 gives 8x8 patches at stride 4; reduced when \
             the image is too small for patches of 2 pixels",
            3.0,
            2.0,
            15.0,
        ),
        steps: usize = ParamSpec::integer(
            "prediction steps k",
            "Predict the rows 1..=k below each context row (at most grid - 1)",
            2.0,
            1.0,
            14.0,
        ),
        context: &'static str = ParamSpec::choice(
            "context network",
            "PixelCNN-style masked convolution over the rows above (the paper's image model), \
             or a GRU running down each column",
            CONTEXTS,
            0,
        ),
        context_dim: usize = hidden_width(
            "context dim",
            128.0,
            "Channels of the context network",
        ),
        negatives: usize = ParamSpec::integer(
            "negatives",
            "Patches sampled from the whole batch (all positions, all images) as negatives for \
             every prediction",
            256.0,
            1.0,
            8192.0,
        )
        .log(),
        layer_norm: bool = ParamSpec::switch(
            "layer norm (CPC v2)",
            "Layer norm instead of BatchNorm in the patch encoder: patches of one image must \
             not share batch statistics, which leak the answer",
            true,
        ),
        patch_augment: bool = ParamSpec::switch(
            "patch augmentation (CPC v2)",
            "Mirror each patch at random and drop two of its three colour channels half of the \
             time, so neighbouring patches cannot be matched by low-level colour and edges",
            true,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "cpc",
    name: "CPC (v1/v2)",
    paper: "van den Oord et al. 2018, Representation Learning with Contrastive Predictive Coding; \
            Henaff et al. 2020, Data-Efficient Image Recognition with CPC",
    summary: "Each image is cut into a grid of overlapping patches and the encoder embeds every \
              patch. A context network reads the rows of patch embeddings from the top down and, \
              from what it has seen so far, predicts the embeddings of patches k rows below. \
              The true patch must win a softmax against patches from elsewhere in the batch \
              (InfoNCE), which bounds the mutual information between context and future.",
    formula: "L_k = -E log [ exp(z_{r+k,c}^T W_k c_{r,c}) / sum_j exp(z_j^T W_k c_{r,c}) ],  \
              L = mean_k L_k,  I(c; z_{+k}) >= log(N+1) - L_k",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "patch rows <= r",
        top: &[
            crate::catalogue::trained("encoder -> z per patch"),
            crate::catalogue::trained("context net -> c_r"),
            crate::catalogue::trained("W_k c_r"),
        ],
        bottom_input: "patch k rows below",
        bottom: &[crate::catalogue::shared("encoder -> z_{r+k}")],
        bottom_stop_gradient: false,
        store: None,
        loss: "InfoNCE: prediction vs true patch and sampled patches",
    },
    needs: crate::catalogue::Needs {
        preview,
        ..crate::catalogue::Needs::PAIRS
    },
};

/// Each view's patch grid, context rows and predicted rows marked.
fn preview(params: &Params, image: usize) -> ViewsPreview {
    let (g, k) = geometry(&Settings::read(params), image);
    let text = format!(
        "CPC: each view is cut into {n}x{n} patches of {p}x{p} pixels at stride {s} (overlapping \
         by half); both views are used as separate images. From the context of the rows seen so \
         far (blue, down to row {r}), the network predicts the patch embeddings 1 to {k} rows \
         below (orange); every row takes its turn as the last context row. Patch augmentation, \
         if on, is applied per patch during training and not shown.",
        n = g.grid,
        p = g.patch,
        s = g.stride,
        r = g.grid.saturating_sub(1 + k),
    );
    ViewsPreview {
        columns: [PreviewColumn::Patches(0), PreviewColumn::Patches(1)],
        text,
        patches: Some((g, k)),
    }
}

/// The grid the settings ask for, made smaller until its patches are at least 2 pixels.
fn fitted_grid(image: usize, grid: usize) -> PatchGrid {
    (2..=grid.max(2))
        .rev()
        .find_map(|g| PatchGrid::new(image, g).ok())
        .unwrap_or(PatchGrid {
            grid: 1,
            patch: image,
            stride: image,
            offset: 0,
        })
}

/// The patch grid and the number of rows predicted ahead that CPC's settings give on
/// `image`-pixel images: what training uses and what the views preview draws.
pub fn geometry(s: &Settings, image: usize) -> (PatchGrid, usize) {
    let grid = fitted_grid(image, s.grid);
    let steps = s.steps.clamp(1, grid.grid.saturating_sub(1).max(1));
    (grid, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_shrinks_until_patches_fit() {
        assert_eq!(fitted_grid(32, 7).grid, 7);
        assert_eq!(fitted_grid(6, 7).grid, 5); // stride 6 / 6 = 1, patches of 2 pixels
        assert_eq!(fitted_grid(32, 15).patch, 4);
    }
}
