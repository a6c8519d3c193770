//! The export as a user elsewhere reads it: Python with numpy and safetensors only loads the
//! encoder and the embeddings, and the names, shapes and values must be what Rust wrote.
//! Needs `python3` with `numpy` and `safetensors` (`.ci/run` installs them; so does the
//! README's test command). Set `PYTHON` to use another interpreter.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;

use burn::module::Module;
use contrastive_workbench::data::Dataset;
use contrastive_workbench::engine::embeddings_export::EmbeddingTable;
use contrastive_workbench::engine::session::{RunOptions, run_experiment_with};
use contrastive_workbench::model::Encoder;
use contrastive_workbench::preset::Experiment;
use serde_json::{Map, Value, json};

/// Names, shapes, first values and sums of every tensor in a safetensors file, as read by
/// the Rust `safetensors` crate.
fn describe_safetensors(path: &std::path::Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = Map::new();
    for name in st.names() {
        let t = st.tensor(name).unwrap();
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        out.insert(
            name.to_string(),
            json!({"shape": t.shape(), "first": &values[..values.len().min(4)], "sum": sum}),
        );
    }
    Value::Object(out)
}

/// `exp` run to the end, exported after each evaluation into a fresh folder.
fn run_exported(
    exp: &Experiment,
) -> (
    tempfile::TempDir,
    Dataset,
    contrastive_workbench::engine::session::RunResult,
) {
    let dataset = exp.dataset.load().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        export_each_eval: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let (_keep, commands) = crossbeam_channel::bounded(1);
    let result = run_experiment_with(exp, &dataset, &commands, &options, &mut |_| {});
    assert!(result.failed.is_none(), "{:?}", result.failed);
    (dir, dataset, result)
}

/// The run's (first) exported encoder, in evaluation mode.
fn exported_encoder(result: &contrastive_workbench::engine::session::RunResult) -> Encoder {
    result
        .method
        .as_deref()
        .unwrap()
        .export_encoders()
        .remove(0)
        .network
        .valid()
}

/// `n` fixed 32x32 RGB inputs (values `((i * mul) % modulo) / (modulo / 2) - 1`) and
/// `encoder`'s features for them, written as `<prefix>input.npy` and `<prefix>output.npy`
/// into `dir` for the Python checks; returns the features.
fn write_features(
    encoder: &Encoder,
    dir: &Path,
    prefix: &str,
    n: usize,
    pattern: (usize, usize),
) -> Vec<f32> {
    write_features_sized(encoder, dir, prefix, n, pattern, 32)
}

/// As [`write_features`], for `size x size` images.
fn write_features_sized(
    encoder: &Encoder,
    dir: &Path,
    prefix: &str,
    n: usize,
    (mul, modulo): (usize, usize),
    size: usize,
) -> Vec<f32> {
    let input: Vec<f32> = (0..n * 3 * size * size)
        .map(|i| ((i * mul) % modulo) as f32 / (modulo / 2) as f32 - 1.0)
        .collect();
    let x = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(input.clone(), [n, 3, size, size]),
        &burn::tensor::Device::flex(),
    );
    let output: Vec<f32> = encoder.forward(x).into_data().iter::<f32>().collect();
    let npy = contrastive_workbench::engine::embeddings_export::npy_f32;
    std::fs::write(
        dir.join(format!("{prefix}input.npy")),
        npy(&input, n, 3 * size * size),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{prefix}output.npy")),
        npy(&output, n, output.len() / n),
    )
    .unwrap();
    output
}

#[test]
fn python_reads_the_export_with_numpy_and_safetensors() {
    let mut exp = common::tiny_experiment(20, 16, 2);
    exp.encoder.channels = vec![8, 16];
    let (dir, dataset, result) = run_exported(&exp);

    // What Rust wrote: the tensors as the Rust reader sees them, and the embeddings of the
    // exported model (recomputed: evaluation is deterministic).
    let table = EmbeddingTable::of(
        result.method.as_deref().unwrap(),
        &dataset,
        &exp.views.normalize,
        result.device.as_ref().unwrap(),
    );
    let expected = json!({
        "safetensors": {"encoder.safetensors": describe_safetensors(&dir.path().join("encoder.safetensors"))},
        "embeddings": {
            "shape": [table.rows.len(), table.dim],
            "first_row": &table.values[..table.dim],
            "labels": table.rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        },
    });
    // A fixed input and the burn encoder's output for it, for the ONNX check in Python.
    write_features(&exported_encoder(&result), dir.path(), "onnx_", 4, (37, 97));
    // A layer-norm encoder (CPC's patch encoder uses one) in ln/, through the same check.
    let ln = contrastive_workbench::model::EncoderConfig {
        channels: vec![8, 16],
        norm: contrastive_workbench::model::Norm::Layer,
        ..Default::default()
    }
    .init(&burn::tensor::Device::flex());
    let ln_dir = dir.path().join("ln");
    contrastive_workbench::engine::export::export_encoders(
        &ln_dir,
        &[contrastive_workbench::methods::ExportedEncoder {
            name: "encoder",
            network: ln.clone(),
            input: contrastive_workbench::methods::EncoderInput::Rgb,
        }],
        &exp,
        &Default::default(),
        32,
    )
    .unwrap();
    write_features(&ln, &ln_dir, "onnx_", 4, (37, 97));
    let expected_path = dir.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap();

    let stdout = run_python("check_export.py", &[dir.path(), &expected_path]);
    assert!(stdout.starts_with("ok:"), "{stdout}");
}

/// Runs `tests/python/<script>` on `args`; its stdout, or a failure that says what it needs.
fn run_python(script: &str, args: &[&std::path::Path]) -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&python)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} ({e}); the export check needs Python 3"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python check failed (it needs numpy, safetensors, onnx and onnxruntime: \
         python3 -m pip install numpy safetensors onnx onnxruntime)\nstdout: {stdout}\nstderr: {stderr}"
    );
    stdout
}

#[test]
fn resnet18_exports_in_torchvisions_names_and_numpy_computes_the_same_features() {
    let mut exp = common::tiny_experiment(10, 16, 2);
    exp.encoder = contrastive_workbench::model::EncoderConfig::resnet18(8);
    // Two steps, so the BatchNorm statistics the check reads are not the initial 0 and 1.
    let (dir, _, result) = run_exported(&exp);
    let output = write_features(&exported_encoder(&result), dir.path(), "", 3, (29, 89));
    assert_eq!(output.len(), 3 * 64, "8 x width features");
    let stdout = run_python("check_resnet.py", &[dir.path()]);
    println!("{stdout}");
    assert!(stdout.starts_with("ok:"), "{stdout}");
}

/// A ViT's export loads in timm's `VisionTransformer` by name: its tensors are timm's
/// state_dict for that shape, and a NumPy ViT written from timm's forward pass computes
/// burn's features from them, for class-token and mean pooling.
#[test]
fn vit_exports_in_timms_names_and_numpy_computes_the_same_features() {
    use contrastive_workbench::model::{EncoderConfig, Pooling};
    for (pooling, patch) in [(Pooling::ClassToken, 4), (Pooling::Mean, 8)] {
        let mut exp = common::tiny_experiment(10, 16, 2);
        exp.encoder = EncoderConfig {
            embed_dim: 16,
            depth: 2,
            heads: 2,
            patch,
            pooling,
            ..EncoderConfig::vit()
        };
        // Two steps, so every tensor the check reads has moved from its initial value.
        let (dir, _, result) = run_exported(&exp);
        let output = write_features(&exported_encoder(&result), dir.path(), "", 3, (29, 89));
        assert_eq!(output.len(), 3 * 16, "embed_dim features");
        let stdout = run_python("check_vit.py", &[dir.path()]);
        println!("{pooling:?}: {stdout}");
        assert!(stdout.starts_with("ok:"), "{pooling:?}: {stdout}");
    }
}

/// A ViT trained on images smaller than its `image_size` (16 against 32): its ONNX graph
/// takes the images it trained on, with the position embeddings resampled as the model
/// resamples them, and gives the model's features in onnxruntime.
#[test]
fn a_vits_onnx_takes_the_image_size_it_trained_on() {
    use contrastive_workbench::data::DatasetSpec;
    let mut exp = common::tiny_experiment(10, 16, 2);
    exp.dataset = DatasetSpec::Shapes(contrastive_workbench::data::shapes::ShapesSpec {
        size: 16,
        ..common::tiny_shapes(10)
    });
    exp.encoder = common::tiny_vit(4);
    let (dir, _, result) = run_exported(&exp);
    write_features_sized(&exported_encoder(&result), dir.path(), "", 3, (29, 89), 16);
    let check = format!(
        "import sys; sys.path.insert(0, {tests:?}); from check_export import check_onnx; \
         print('ok:', check_onnx({dir:?}, prefix='', any_size=False))",
        tests = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python"),
        dir = dir.path().display().to_string(),
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args(["-c", &check])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.starts_with("ok:"), "{said}");
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("[N, 3, 16, 16]"), "{readme}");
    assert!(readme.contains("fixed at 16"), "{readme}");
}
