//! SimSiam without its stop-gradient collapses, and the dashboard says so; with it, the
//! same run stays healthy (Chen & He 2021, sec. 4.1, fig. 2).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::app::Tab;
use contrastive_workbench::engine::Event;
use contrastive_workbench::engine::session::run_experiment;
use contrastive_workbench::methods::MethodSpec;
use egui_kittest::kittest::Queryable;

/// Runs SimSiam with the stop-gradient on or off; returns every event.
fn simsiam_run(stop_gradient: bool) -> Vec<Event> {
    let mut exp = common::tiny_experiment(100, 64, 100);
    exp.encoder.channels = vec![16, 32, 64, 128];
    exp.method = toml::from_str::<MethodSpec>(&format!(
        "kind = \"simsiam\"\nstop_gradient = {stop_gradient}"
    ))
    .unwrap();
    // A high learning rate makes the collapse quick enough for a test (measured: z_std
    // 0.063 -> 0.005 in 100 steps without stop-gradient, ~0.08 throughout with it).
    exp.train.learning_rate = 0.03;
    exp.train.log_every = 5;
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let mut events = Vec::new();
    let result = run_experiment(&exp, &dataset, &commands, &mut |ev| events.push(ev));
    assert!(result.failed.is_none(), "{:?}", result.failed);
    events
}

/// Whether the training dashboard shows the collapse alarm after these events.
fn dashboard_alarm(events: Vec<Event>) -> bool {
    let mut h = common::ui_harness(contrastive_workbench::preset::Experiment::default());
    h.state_mut().settings.tab = Tab::Training;
    for ev in events {
        h.state_mut().run.history.apply(ev);
    }
    h.run_steps(2);
    h.query_by_label_contains("COLLAPSE").is_some()
}

#[test]
fn without_stop_gradient_simsiam_collapses_and_the_alarm_fires() {
    let collapsed = simsiam_run(false);
    let last = collapsed
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Step(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    eprintln!(
        "no stop-gradient: z_std {:.4} (healthy {:.4}), effective rank {:.2}",
        last.z_std, last.z_std_healthy, last.effective_rank
    );
    let collapsed_rank = last.effective_rank;
    assert!(last.collapsing, "z_std {} did not collapse", last.z_std);
    // The projection collapses to a point; the encoder output follows it down.
    let own = last.own.as_ref().unwrap();
    eprintln!("  {}: z_std {:.4}", own.space, own.z_std);
    assert!(own.z_std < 0.25 / (own.dim as f32).sqrt());
    assert!(last.z_std < 0.5 * last.z_std_healthy);
    assert!(
        dashboard_alarm(collapsed),
        "the dashboard shows no collapse alarm"
    );

    let healthy = simsiam_run(true);
    let steps: Vec<_> = healthy
        .iter()
        .filter_map(|e| match e {
            Event::Step(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    // The healthy run logs every fifth of its 100 steps; the checks below see them all.
    assert_eq!(steps.len(), 20, "logged steps of the healthy run");
    let last = steps.last().unwrap();
    eprintln!(
        "stop-gradient: z_std {:.4}, effective rank {:.2}",
        last.z_std, last.effective_rank
    );
    assert!(steps.iter().all(|m| !m.collapsing));
    assert!(last.z_std > 0.5 * last.z_std_healthy);
    // The collapsed run also uses fewer directions.
    assert!(
        collapsed_rank < last.effective_rank,
        "effective rank {collapsed_rank} collapsed vs {} healthy",
        last.effective_rank
    );
    assert!(!dashboard_alarm(healthy), "alarm shown for a healthy run");
}
