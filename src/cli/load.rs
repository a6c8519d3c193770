//! Loading a preset's dataset headless, with an indicatif bar and the loader's report.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::{Dataset, DatasetSpec, LoadProgress};

/// Loads `spec` on a worker thread while this thread draws its progress.
pub fn load_with_bar(spec: &DatasetSpec) -> anyhow::Result<Dataset> {
    let loaded = load_until(spec, &|| false)?;
    Ok(loaded.expect("a load nothing stops ends with the dataset"))
}

/// As [`load_with_bar`], given up as soon as `stop` says so (Ctrl-C): the loader is told to
/// cancel and is not waited for. `None` when stopped.
pub fn load_until(spec: &DatasetSpec, stop: &dyn Fn() -> bool) -> anyhow::Result<Option<Dataset>> {
    let progress = Arc::new(LoadProgress::default());
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("loading {msg} {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(spec.label());
    let worker = {
        let (spec, progress) = (spec.clone(), Arc::clone(&progress));
        std::thread::spawn(move || spec.load_with(&progress))
    };
    while !worker.is_finished() {
        if stop() {
            progress.cancel();
            bar.finish_and_clear();
            return Ok(None);
        }
        let (done, total) = progress.counts();
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bar.finish_and_clear();
    let dataset = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the dataset loader crashed"))??;
    for w in &dataset.report.warnings {
        crate::errln!("warning: {w}");
    }
    if !dataset.report.skipped.is_empty() {
        crate::errln!("skipped {} files:", dataset.report.skipped.len());
        for s in dataset.report.skipped.iter().take(20) {
            crate::errln!("  {}: {}", s.path.display(), s.problem);
        }
        if dataset.report.skipped.len() > 20 {
            crate::errln!("  ... and {} more", dataset.report.skipped.len() - 20);
        }
    }
    Ok(Some(dataset))
}
