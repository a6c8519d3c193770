//! The writers a run shares with the window and the browse path: the checkpoint and the
//! export of the current model, each reporting its outcome as one event.

use super::super::checkpoint::CheckpointDraft;
use super::super::embeddings_export::EmbeddingTable;
use super::super::export::export_encoders;
use super::super::metrics_journal::MetricsJournal;
use super::super::protocol::Event;
use super::CheckpointPlan;
use super::RunResult;
use crate::data::Dataset;
use crate::preset::Experiment;

/// The run's failure when a planned write fails: it stops rather than train on unsaved.
pub fn stopped_unsaved(message: &str, what: &str) -> String {
    format!(
        "the {what} could not be written ({message}); the run is stopped so that no training \
         goes unsaved, and the last {what} written before stays"
    )
}

/// What a checkpoint records beside the model: the journal its metrics go to, and the
/// dataset's fingerprint.
pub struct CheckpointBook<'a> {
    pub journal: &'a mut MetricsJournal,
    pub dataset: &'a str,
}

/// Writes the run's checkpoint, reporting the outcome as an event.
pub fn save_checkpoint(
    plan: &CheckpointPlan,
    exp: &Experiment,
    book: CheckpointBook<'_>,
    result: &mut RunResult,
    emit: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let Some(method) = result.method.as_deref_mut() else {
        return Ok(());
    };
    let mut state = crate::methods::state::MethodState::default();
    let saved = method.save_state(&mut state).map_err(anyhow::Error::from);
    let written = saved.and_then(|()| {
        CheckpointDraft {
            step: result.steps_done,
            experiment: exp,
            metrics: &result.metrics,
            state: &state,
            dataset: book.dataset,
        }
        .write(&plan.dir, book.journal)
    });
    match written {
        Ok(path) => {
            emit(Event::Checkpointed {
                step: result.steps_done,
                path,
            });
            Ok(())
        }
        Err(e) => {
            let message = format!("{e:#}");
            emit(Event::CheckpointFailed {
                message: message.clone(),
            });
            Err(message)
        }
    }
}

/// Exports the current model and reports the outcome as an event (the error is the
/// message of the `ExportFailed` event).
pub fn export_and_report(
    dir: &std::path::Path,
    exp: &Experiment,
    dataset: &Dataset,
    result: &RunResult,
    emit: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let mut failed = |message: String| {
        emit(Event::ExportFailed {
            message: message.clone(),
        });
        Err(message)
    };
    if let Some(step) = result.diverged_at {
        return failed(format!(
            "not exported: the model diverged (non-finite loss) at step {step}; \
             earlier exports are untouched"
        ));
    }
    let Some(method) = result.method.as_deref() else {
        return failed("nothing to export yet: the model has not been built".into());
    };
    let encoders = method.export_encoders();
    let image_size = dataset.image_size();
    let mut files = match export_encoders(dir, &encoders, exp, &result.metrics, image_size) {
        Ok(files) => files,
        Err(e) => return failed(format!("{e:#}")),
    };
    if let Some(device) = &result.device {
        let table = EmbeddingTable::of(method, dataset, &exp.views.normalize, device);
        match table.write(dir) {
            Ok(more) => files.extend(more),
            Err(e) => {
                return failed(format!(
                    "the encoders were written, the embeddings not: {e:#}"
                ));
            }
        }
    }
    // Last: the sums of everything above, as it lies on disk.
    if let Err(e) = super::super::manifest::write_manifest(dir, &files) {
        return failed(format!(
            "the export was written but not its {} ({e:#})",
            super::super::manifest::MANIFEST_FILE
        ));
    }
    files.push(super::super::manifest::MANIFEST_FILE.to_string());
    emit(Event::Exported {
        dir: dir.to_path_buf(),
        files,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::export::MetricsLog;

    #[test]
    fn a_diverged_model_is_never_exported() {
        let result = RunResult {
            method: None,
            metrics: MetricsLog::default(),
            steps_done: 3,
            failed: Some("diverged".into()),
            device: None,
            diverged_at: Some(3),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut events = Vec::new();
        let dataset = crate::data::DatasetSpec::default().load().unwrap();
        let outcome = export_and_report(
            dir.path(),
            &Experiment::default(),
            &dataset,
            &result,
            &mut |e| events.push(e),
        );
        assert!(outcome.is_err());
        match events.as_slice() {
            [Event::ExportFailed { message }] => assert!(message.contains("step 3"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
