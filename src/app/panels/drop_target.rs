//! Dropping a folder or file anywhere on the window opens it as a dataset, or, for a
//! `.toml` file, as a classroom file or preset; while files hover, the window says so.

use eframe::egui::{self, Align2, Color32, FontId, Id, LayerId, Order};

use crate::app::action::{Action, ClassroomAction, DatasetAction, Tab};

pub fn show(ctx: &egui::Context, actions: &mut Vec<Action>) {
    let (hovering, dropped) = ctx.input(|i| {
        (
            !i.raw.hovered_files.is_empty(),
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .find(|p| !p.as_os_str().is_empty()),
        )
    });
    if hovering {
        let painter = ctx.layer_painter(LayerId::new(Order::Foreground, Id::unique("drop_target")));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, Color32::from_black_alpha(180));
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "Drop a dataset folder (image classes, MNIST IDX or CIFAR batches), or a classroom file",
            FontId::proportional(22.0),
            Color32::WHITE,
        );
    }
    if let Some(path) = dropped {
        if path.extension().is_some_and(|e| e == "toml") {
            actions.push(ClassroomAction::Open(path).into());
        } else {
            actions.push(Action::ShowTab(Tab::Dataset));
            actions.push(DatasetAction::Inspect(path).into());
        }
    }
}
