//! What the Views tab shows of a method's input, offered by each method as data
//! ([`super::MethodInfo::preview`]) so the window never names a method.

use super::Params;
use crate::views::patch_grid::PatchGrid;

/// One column of the preview, beside the source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewColumn {
    /// View 0 or 1 as augmented.
    View(usize),
    /// The L channel of view 1 (grey), as CMC's first encoder sees it.
    LabL,
    /// The ab channels of view 1 (colour at fixed lightness), as CMC's second encoder sees it.
    LabAb,
    /// The patch grid of view 0 or 1, context rows and predicted rows marked (CPC).
    Patches(usize),
}

/// The two columns a method sees and a sentence saying what they are.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewsPreview {
    pub columns: [PreviewColumn; 2],
    pub text: String,
    /// The patch grid and the rows predicted ahead, for [`PreviewColumn::Patches`].
    pub patches: Option<(PatchGrid, usize)>,
}

impl ViewsPreview {
    /// The two augmented views, with `text` explaining them.
    pub fn pairs(text: &str) -> Self {
        Self {
            columns: [PreviewColumn::View(0), PreviewColumn::View(1)],
            text: text.into(),
            patches: None,
        }
    }
}

/// What the preview of most methods says.
pub const PAIRS_TEXT: &str = "Each triple: an image and the two views the method compares.";

/// The preview of most methods: an image and its two views.
pub fn pairs(_: &Params, _image: usize) -> ViewsPreview {
    ViewsPreview::pairs(PAIRS_TEXT)
}
