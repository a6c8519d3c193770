//! A non-finite loss never reaches the weights: the step is refused.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use burn::tensor::{Device, Tensor, TensorData};
use contrastive_workbench::methods::{self, BuildContext, MethodSpec, StepError, TrainBatch};
use contrastive_workbench::model::EncoderConfig;
use contrastive_workbench::preset::TrainSpec;

/// The method of `info` built on `device` for `dataset_len` images of `image_size` pixels.
fn build(
    info: &contrastive_workbench::catalogue::MethodInfo,
    params: &contrastive_workbench::catalogue::Params,
    device: &Device,
    encoder: &EncoderConfig,
    train: &TrainSpec,
    dataset_len: usize,
    image_size: usize,
) -> Box<dyn methods::Method> {
    methods::build(
        info,
        &BuildContext {
            device,
            encoder,
            params,
            train,
            dataset_len,
            image_size,
            normalize: contrastive_workbench::views::Normalize::HALF,
            seed: 0,
        },
    )
}

/// Method `id` at its defaults but for one switch.
fn with_switch(id: &str, key: &str, on: bool) -> MethodSpec {
    let mut spec = MethodSpec::with_defaults(contrastive_workbench::catalogue::find(id).unwrap());
    spec.params.insert(key.into(), toml::Value::Boolean(on));
    spec
}

/// A small encoder, for the tests that step every method.
fn small() -> EncoderConfig {
    EncoderConfig {
        channels: vec![8, 16],
        ..EncoderConfig::default()
    }
}

#[test]
fn nan_input_is_refused_and_weights_are_unchanged() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let (info, params) = methods::resolve(&MethodSpec::default()).unwrap();
    let mut method = build(
        info,
        &params,
        &ad,
        &EncoderConfig::default(),
        &TrainSpec::default(),
        4,
        32,
    );
    let weights = |m: &dyn methods::Method| {
        m.encoder().as_small_cnn().unwrap().blocks[0]
            .conv
            .weight
            .val()
            .into_data()
    };
    let before = weights(method.as_ref());

    let mut bad = vec![0.1f32; 4 * 3 * 32 * 32];
    bad[7] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(bad, [4, 3, 32, 32]), &ad);
    match method.train_step(batch(x, 0), 1e-3) {
        Err(StepError::NonFinite(v)) => assert!(!v.is_finite()),
        Ok(o) => panic!("accepted a NaN batch: loss {}", o.loss),
        Err(other) => panic!("refused for another reason: {other}"),
    }
    // The update was not applied (BatchNorm statistics did see the batch: the engine
    // therefore refuses to export a model after a non-finite loss).
    assert_eq!(weights(method.as_ref()), before);

    // A normal step afterwards still works and changes the weights.
    let ok: Vec<f32> = (0..4 * 3 * 32 * 32)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(ok, [4, 3, 32, 32]), &ad);
    let out = method.train_step(batch(x, 1), 1e-2).unwrap();
    assert!(out.loss.is_finite());
    assert_eq!(out.read_embeddings().len(), 4 * out.dim);
}

/// Views `[2N, ...]` of images 0..N at `step`.
fn batch(views: Tensor<4>, step: u64) -> TrainBatch {
    let n = views.dims()[0] / 2;
    TrainBatch::untracked(views, (0..n).collect(), step)
}

#[test]
fn every_registered_method_takes_two_steps() {
    two_steps_of_each_method(&small());
}

/// On a ViT too: its "stages" are blocks on one patch grid (DIM, PixPro), CPC's patches
/// resample its position grid, CMC narrows it head by head.
#[test]
fn every_registered_method_takes_two_steps_on_a_vit() {
    two_steps_of_each_method(&EncoderConfig {
        embed_dim: 8,
        depth: 2,
        heads: 2,
        image_size: 16,
        ..EncoderConfig::vit()
    });
}

fn two_steps_of_each_method(encoder: &EncoderConfig) {
    let device = Device::flex().autodiff();
    for info in contrastive_workbench::catalogue::methods() {
        let spec = MethodSpec::with_defaults(info);
        let (_, params) = methods::resolve(&spec).unwrap();
        let mut m = build(
            info,
            &params,
            &device,
            encoder,
            &TrainSpec::default(),
            16,
            16,
        );
        for step in 0..2 {
            let data: Vec<f32> = (0..8 * 3 * 16 * 16)
                .map(|i| ((i * 13 + step) % 29) as f32 / 14.0 - 1.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(data, [8, 3, 16, 16]), &device);
            let out = m
                .train_step(batch(x, step as u64), 1e-3)
                .unwrap_or_else(|e| panic!("{}: {e}", info.id));
            assert!(out.loss.is_finite(), "{}", info.id);
        }
    }
}

#[test]
fn every_optimiser_updates_the_weights() {
    use contrastive_workbench::preset::OptimizerKind;
    let device = Device::flex().autodiff();
    for kind in [OptimizerKind::Adam, OptimizerKind::Sgd, OptimizerKind::Lars] {
        let (info, params) = methods::resolve(&MethodSpec::default()).unwrap();
        let train = TrainSpec {
            optimizer: kind,
            ..TrainSpec::default()
        };
        let mut m = build(info, &params, &device, &small(), &train, 16, 16);
        let weights = |m: &dyn methods::Method| {
            m.encoder().as_small_cnn().unwrap().blocks[1]
                .conv
                .weight
                .val()
                .into_data()
                .iter::<f32>()
                .collect::<Vec<f32>>()
        };
        let before = weights(m.as_ref());
        for step in 0..2 {
            let data: Vec<f32> = (0..8 * 3 * 16 * 16)
                .map(|i| ((i * 7 + step) % 31) as f32 / 15.0 - 1.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(data, [8, 3, 16, 16]), &device);
            let out = m.train_step(batch(x, step as u64), 0.05).unwrap();
            assert!(out.loss.is_finite(), "{kind:?}");
        }
        let after = weights(m.as_ref());
        assert!(after.iter().all(|v| v.is_finite()), "{kind:?}");
        assert_ne!(before, after, "{kind:?} did not move the weights");
    }
}

#[test]
fn cmc_refuses_a_greyscale_dataset_with_a_clear_message() {
    use contrastive_workbench::engine::session::run_experiment;
    let text = "name = \"t\"\n[dataset]\nkind = \"fashion-mnist-mini\"\n[method]\nkind = \"cmc\"\n\
                [train]\nsteps = 2\nbackend = \"cpu\"\n";
    let exp = contrastive_workbench::preset::Experiment::from_toml(text, "t.toml").unwrap();
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let result = run_experiment(&exp, &dataset, &commands, &mut |_| {});
    let message = result.failed.expect("a greyscale dataset must be refused");
    assert!(
        message.contains("greyscale") && message.contains(&dataset.name),
        "{message}"
    );
    assert_eq!(result.steps_done, 0);
}

#[test]
fn a_vit_patch_larger_than_an_input_is_refused_before_training() {
    use contrastive_workbench::engine::session::run_experiment;
    let refusal = |text: &str| {
        let exp = contrastive_workbench::preset::Experiment::from_toml(text, "t.toml").unwrap();
        let dataset = exp.dataset.load().unwrap();
        let (_keep, commands) = crossbeam_channel::bounded(1);
        let result = run_experiment(&exp, &dataset, &commands, &mut |_| {});
        if result.failed.is_some() {
            assert_eq!(result.steps_done, 0, "{text}: {:?}", result.failed);
        }
        result.failed
    };
    let vit = "[encoder]\nkind = \"vit\"\npatch = 16\nimage_size = 32\n\
               [train]\nsteps = 1\nbatch_size = 8\nbackend = \"cpu\"\n\
               [eval]\nbank_size = 64\nquery_size = 32\n";
    // 8-pixel images under 16-pixel patches (the convolution used to panic at step 0).
    let small = format!("name = \"t\"\n[dataset]\nkind = \"shapes\"\nsize = 8\n{vit}");
    let message = refusal(&small).expect("8-pixel images must be refused");
    assert!(
        message.contains("encoder.patch = 16") && message.contains("8x8"),
        "{message}"
    );
    // Local crops of 12 pixels for DINO, on 32-pixel images.
    let dino = format!(
        "name = \"t\"\n[dataset]\nkind = \"shapes\"\n[method]\nkind = \"dino\"\n\
         [views.local]\ncount = 2\nsize = 12\n{vit}"
    );
    let message = refusal(&dino).expect("12-pixel local crops must be refused");
    assert!(message.contains("views.local.size"), "{message}");
    // Local crops switched off (count 0) are not an input, whatever their size.
    let no_local = dino.replace("count = 2", "count = 0");
    assert_eq!(refusal(&no_local), None);
    // CPC's patches of 32-pixel images in its paper's 7x7 grid are 8 pixels.
    let cpc = format!(
        "name = \"t\"\n[dataset]\nkind = \"shapes\"\n[method]\nkind = \"cpc\"\ngrid = 7\n{vit}"
    );
    let message = refusal(&cpc).expect("CPC's 8-pixel patches must be refused");
    assert!(message.contains("CPC's patches"), "{message}");
}

/// The divergence message names the step as the logs number it: the first update is
/// step 1, so the update after the last logged one.
#[test]
fn a_diverged_run_names_the_step_that_diverged() {
    use contrastive_workbench::engine::Event;
    use contrastive_workbench::engine::session::run_experiment;
    // VICReg with every weight at 1000, SGD at rate 10: the second update's loss is inf.
    let text = "name = \"t\"\n[dataset]\nkind = \"shapes\"\ntrain_per_class = 8\n\
                test_per_class = 4\nsize = 16\nbackgrounds = 1\n[encoder]\nchannels = [8, 16]\n\
                norm = \"layer\"\n[train]\nsteps = 8\nbatch_size = 8\nlog_every = 1\n\
                backend = \"cpu\"\nwarmup_steps = 0\nlearning_rate = 10.0\noptimizer = \"sgd\"\n\
                momentum = 0.99\nweight_decay = 0.0\nschedule = \"constant\"\n[eval]\nevery = 8\n\
                bank_size = 64\nquery_size = 32\n[method]\nkind = \"vicreg\"\n\
                sim_weight = 1000.0\nvar_weight = 1000.0\ncov_weight = 1000.0\n";
    let exp = contrastive_workbench::preset::Experiment::from_toml(text, "t.toml").unwrap();
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let mut logged = Vec::new();
    let result = run_experiment(&exp, &dataset, &commands, &mut |e| {
        if let Event::Step(m) = e {
            logged.push(m.step);
        }
    });
    let message = result.failed.expect("the run must diverge");
    let last = *logged.last().expect("a finite step was logged first");
    let diverged = format!("diverged at step {}", last + 1);
    assert!(message.contains(&diverged), "logged {logged:?}; {message}");
    assert_eq!(result.diverged_at, Some(last + 1));
}

#[test]
fn supcon_refuses_an_unlabelled_dataset_with_a_clear_message() {
    use contrastive_workbench::engine::session::run_experiment;
    // A flat folder of photos has no classes: every image would be every other's positive.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..24u8 {
        let img = image::RgbImage::from_pixel(32, 32, image::Rgb([i * 10, 255 - i * 10, i]));
        img.save(dir.path().join(format!("photo{i}.png"))).unwrap();
    }
    let text = format!(
        "name = \"t\"\n[dataset]\nkind = \"image-folder\"\npath = {:?}\n[method]\n\
         kind = \"supcon\"\n[train]\nsteps = 2\nbackend = \"cpu\"\n",
        dir.path().display().to_string()
    );
    let exp = contrastive_workbench::preset::Experiment::from_toml(&text, "t.toml").unwrap();
    let dataset = exp.dataset.load().unwrap();
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let result = run_experiment(&exp, &dataset, &commands, &mut |_| {});
    let message = result
        .failed
        .expect("an unlabelled dataset must be refused");
    assert!(
        message.contains("labels") && message.contains(&dataset.name),
        "{message}"
    );
    assert_eq!(result.steps_done, 0);
}

#[test]
fn simsiams_predictor_keeps_its_rate_while_the_schedule_decays() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let x: Vec<f32> = (0..8 * 3 * 32 * 32)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(x, [8, 3, 32, 32]), &ad);
    for fixed in [true, false] {
        let spec = with_switch("simsiam", "fixed_predictor_lr", fixed);
        let (info, params) = methods::resolve(&spec).unwrap();
        let mut method = build(
            info,
            &params,
            &ad,
            &EncoderConfig::default(),
            &TrainSpec::default(),
            8,
            32,
        );
        let weights = |m: &dyn methods::Method| {
            m.encoder().as_small_cnn().unwrap().blocks[0]
                .conv
                .weight
                .val()
                .into_data()
        };
        let encoder_before = weights(method.as_ref());
        // The schedule has decayed to 0: only a fixed-rate predictor still moves, which the
        // next loss on the same batch shows (train-mode BatchNorm uses batch statistics).
        let first = method.train_step(batch(x.clone(), 0), 0.0).unwrap().loss;
        let second = method.train_step(batch(x.clone(), 1), 0.0).unwrap().loss;
        assert_eq!(weights(method.as_ref()), encoder_before, "fixed = {fixed}");
        if fixed {
            assert_ne!(
                first, second,
                "the predictor did not move at its fixed rate"
            );
        } else {
            assert_eq!(first, second, "something moved at a learning rate of 0");
        }
    }
}

#[test]
fn cmc_splits_the_width_so_its_representation_is_as_wide_as_the_others() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let encoder = EncoderConfig::default();
    let width = |split: bool| {
        let (info, params) = methods::resolve(&with_switch("cmc", "split_width", split)).unwrap();
        let method = build(info, &params, &ad, &encoder, &TrainSpec::default(), 8, 32);
        let images = Tensor::<4>::zeros([2, 3, 32, 32], &device);
        method.embed(images).dims()[1]
    };
    assert_eq!(width(true), encoder.output_dim(), "the paper's split");
    assert_eq!(
        width(false),
        2 * encoder.output_dim(),
        "a full encoder per view"
    );
}

#[test]
fn cmc_nce_normalises_by_a_z_fixed_on_the_first_batch_per_direction() {
    let device = Device::flex().autodiff();
    let mut spec =
        MethodSpec::with_defaults(contrastive_workbench::catalogue::find("cmc").unwrap());
    spec.params
        .insert("objective".into(), toml::Value::String("nce".into()));
    spec.params
        .insert("negatives".into(), toml::Value::Integer(8));
    let (info, params) = methods::resolve(&spec).unwrap();
    let mut m = build(
        info,
        &params,
        &device,
        &small(),
        &TrainSpec::default(),
        16,
        16,
    );
    let z_after = |m: &mut Box<dyn methods::Method>, step: u64| {
        let data: Vec<f32> = (0..8 * 3 * 16 * 16)
            .map(|i| ((i as u64 * 7 + step * 3) % 31) as f32 / 15.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [8, 3, 16, 16]), &device);
        m.train_step(batch(x, step), 1e-2).unwrap();
        let mut state = contrastive_workbench::methods::state::MethodState::default();
        m.save_state(&mut state).unwrap();
        // L scored against the ab bank, and ab against the L bank: one Z each.
        ["log_z0", "log_z1"].map(|k| state.f64(k).unwrap())
    };
    let first = z_after(&mut m, 0);
    assert!(first.iter().all(|z| z.is_finite()), "{first:?}");
    assert_eq!(z_after(&mut m, 1), first, "Z is estimated once, then kept");
}

#[test]
fn cpc_says_when_resnet18_cannot_give_it_layer_norm() {
    let device = Device::flex().autodiff();
    let (info, params) = methods::resolve(&MethodSpec::with_defaults(
        contrastive_workbench::catalogue::find("cpc").unwrap(),
    ))
    .unwrap();
    let warned = |encoder: &EncoderConfig| {
        build(
            info,
            &params,
            &device,
            encoder,
            &TrainSpec::default(),
            16,
            32,
        )
        .warnings(16)
    };
    let w = warned(&EncoderConfig::resnet18(4));
    assert!(w.iter().any(|m| m.contains("method.layer_norm")), "{w:?}");
    assert!(warned(&small()).is_empty());
}

/// The temperature a method trains with is the one the dashboard's softmax view shows: for
/// every method with a `temperature` setting, `logit_temperature` is that setting.
#[test]
fn the_dashboard_temperature_is_the_setting() {
    let device = Device::flex();
    let tempered: Vec<_> = contrastive_workbench::catalogue::methods()
        .filter(|info| info.params.iter().any(|p| p.key == "temperature"))
        .collect();
    // SimCLR, MoCo, InstDisc, CMC and NCE at least.
    assert!(tempered.len() >= 5, "{} tempered methods", tempered.len());
    for info in tempered {
        let mut spec = MethodSpec::with_defaults(info);
        spec.params
            .insert("temperature".into(), toml::Value::Float(0.37));
        let (info, params) = methods::resolve(&spec).unwrap();
        let method = build(
            info,
            &params,
            &device.clone().autodiff(),
            &small(),
            &TrainSpec::default(),
            16,
            16,
        );
        let shown = method.logit_temperature();
        assert!(
            shown.is_some_and(|t| (t - 0.37).abs() < 1e-6),
            "{}: the dashboard shows {shown:?}, the setting is 0.37",
            info.id
        );
    }
}
