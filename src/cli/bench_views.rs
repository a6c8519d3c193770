//! `bench --views-only`: how fast the views of the reference SimCLR pipeline are made, on
//! the CPU's threads (`make_view_batch`, as the prefetching producer makes them) and on a
//! device (`train.augment_on = "device"`: the draws on the CPU, then `device_views`'s
//! rendering, waited for to its end), one JSON line: whether a GPU's step would wait for
//! the CPU, and whether rendering on the GPU would keep up instead.

use std::time::Instant;

use crate::device_views;
use crate::engine::backend::select_local;
use crate::preset::BackendChoice;
use crate::views::plan::plan_view_batch;
use crate::views::{ViewsSpec, make_view_batch};

/// Times `batches` batches of `batch` images (two views each, after one warm-up batch).
pub fn bench_views(batch: usize, batches: usize, backend: BackendChoice) -> anyhow::Result<()> {
    anyhow::ensure!(
        batch >= 2 && batches >= 1,
        "bench needs --batch >= 2 and --steps >= 1"
    );
    let data = super::bench::shapes_for(batch);
    let views = ViewsSpec::default();
    let per_sec = |seconds: f64| (2 * batch * batches) as f64 / seconds;

    drop(make_view_batch(&data.train, &views, 0, 0, batch));
    let t = Instant::now();
    for step in 1..=batches as u64 {
        drop(make_view_batch(&data.train, &views, 0, step, batch));
    }
    let cpu = per_sec(t.elapsed().as_secs_f64());

    let (device, info) = select_local(backend).map_err(anyhow::Error::msg)?;
    crate::errln!("device: {} ({})", info.name, info.reason);
    // One batch drawn and rendered; the seconds its drawing took.
    let render = |step: u64| -> anyhow::Result<f64> {
        let t = Instant::now();
        let (_, plan) = plan_view_batch(&data.train, &views, 0, step, batch);
        let planning = t.elapsed().as_secs_f64();
        drop(device_views::render(&plan, &device));
        device
            .sync()
            .map_err(|e| anyhow::anyhow!("the device failed: {e:?}"))?;
        Ok(planning)
    };
    render(0)?;
    let mut planning = 0.0;
    let t = Instant::now();
    for step in 1..=batches as u64 {
        planning += render(step)?;
    }
    let on_device = per_sec(t.elapsed().as_secs_f64());
    crate::outln!(
        "{}",
        serde_json::json!({
            "views": "simclr (crop, flip, jitter p=0.8, grey p=0.2, blur p=0.2), 32x32",
            "batch": batch,
            "cpu_threads": rayon::current_num_threads(),
            "cpu_views_per_sec": cpu,
            "device": info.name,
            "device_views_per_sec": on_device,
            "planning_views_per_sec": per_sec(planning),
        })
    );
    Ok(())
}
