//! Settings that are valid on their own but will not do what they seem to on this dataset:
//! said once when the run starts (`Event::Warning`), each naming its field as in a preset.
//! The session adds the method's own (`Method::warnings`).

use crate::data::Dataset;
use crate::preset::Experiment;

/// The warnings for running `exp` on `dataset` (the method's own come from
/// [`crate::methods::Method::warnings`]).
pub fn warnings(exp: &Experiment, dataset: &Dataset) -> Vec<String> {
    let mut out = Vec::new();
    let train = dataset.train.len();
    let t = &exp.train;
    if t.batch_size > train {
        out.push(format!(
            "train.batch_size = {} is larger than the {train} training images: each step uses \
             all {train} of them",
            t.batch_size
        ));
    }
    let bank = exp.eval.bank_size.min(train);
    if exp.eval.knn_k > bank {
        out.push(format!(
            "eval.knn_k = {} is larger than the kNN bank ({bank} images): every query votes \
             over the whole bank",
            exp.eval.knn_k
        ));
    }
    let local = &exp.views.local;
    let uses_local_crops =
        crate::methods::resolve(&exp.method).is_ok_and(|(info, _)| info.needs.local_crops);
    let image = dataset.image_size();
    if uses_local_crops && local.count > 0 && local.size > image {
        out.push(format!(
            "views.local.size = {} is larger than the {image}-pixel images: multi-crop's \
             \"local\" crops would be enlarged past the global views (they are meant to be \
             smaller: 96 against 224 in the papers)",
            local.size
        ));
    }
    if t.warmup_steps >= t.steps {
        out.push(format!(
            "train.warmup_steps = {} is not shorter than the run ({} steps): the learning rate \
             only rises, to {:.3e} at the last step, never reaching train.learning_rate = {}",
            t.warmup_steps,
            t.steps,
            t.lr_at(t.steps.saturating_sub(1)),
            t.learning_rate
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetSpec;
    use crate::data::shapes::ShapesSpec;

    #[test]
    fn each_nonsense_setting_is_named_and_sensible_ones_say_nothing() {
        let dataset = DatasetSpec::Shapes(ShapesSpec {
            train_per_class: 8,
            test_per_class: 2,
            ..ShapesSpec::default()
        })
        .load()
        .expect("shapes");
        let mut exp = Experiment::default();
        assert!(warnings(&exp, &dataset).is_empty() || dataset.train.len() < 128);

        exp.train.batch_size = 512;
        exp.eval.knn_k = 200;
        exp.train.warmup_steps = exp.train.steps + 5;
        exp.method = crate::catalogue::MethodSpec::with_defaults(
            crate::catalogue::methods()
                .find(|m| m.id == "swav")
                .expect("swav"),
        );
        exp.views.local.count = 2;
        exp.views.local.size = 64;
        let said = warnings(&exp, &dataset).join("\n");
        for field in [
            "train.batch_size",
            "eval.knn_k",
            "train.warmup_steps",
            "views.local.size",
        ] {
            assert!(said.contains(field), "{field} not named in:\n{said}");
        }
    }
}
