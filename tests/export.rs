//! The exported encoder loads back: safetensors (PyTorch names and layout) with the same
//! values as the module, and the burn record reproduces the same outputs.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use contrastive_workbench::engine::export::{MetricsLog, export_encoders};
use contrastive_workbench::methods::{EncoderInput, ExportedEncoder};
use contrastive_workbench::model::{Encoder, EncoderConfig};
use contrastive_workbench::preset::Experiment;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// `encoder` exported alone as an RGB encoder into a fresh folder: the folder and its files.
fn export_rgb(encoder: &Encoder) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let only = ExportedEncoder {
        name: "encoder",
        network: encoder.clone(),
        input: EncoderInput::Rgb,
    };
    let files = export_encoders(
        dir.path(),
        &[only],
        &Experiment::default(),
        &MetricsLog::default(),
        32,
    )
    .unwrap();
    (dir, files)
}

#[test]
fn safetensors_and_burnpack_round_trip() {
    let device = Device::flex();
    device.seed(3);
    let encoder = EncoderConfig::default().init(&device);
    let (dir, files) = export_rgb(&encoder);
    for f in [
        "encoder.safetensors",
        "encoder.bpk",
        "preset.toml",
        "metrics.csv",
        "README.md",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} missing from {files:?}");
    }
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());

    let bytes = std::fs::read(dir.path().join("encoder.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let read = |name: &str| -> (Vec<usize>, Vec<f32>) {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
        let v = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (t.shape().to_vec(), v)
    };
    let b0 = &encoder.as_small_cnn().unwrap().blocks[0];
    let (shape, w) = read("blocks.0.conv.weight");
    assert_eq!(shape, vec![32, 3, 3, 3]);
    assert_eq!(w, values(b0.conv.weight.val()));
    let (shape, g) = read("blocks.3.bn.weight");
    assert_eq!(shape, vec![256]);
    assert_eq!(
        g,
        values(
            encoder.as_small_cnn().unwrap().blocks[3]
                .bn
                .as_ref()
                .unwrap()
                .gamma
                .val()
        )
    );
    let (_, rv) = read("blocks.1.bn.running_var");
    assert_eq!(
        rv,
        values(
            encoder.as_small_cnn().unwrap().blocks[1]
                .bn
                .as_ref()
                .unwrap()
                .running_var
                .value()
        )
    );
    let (_, bias) = read("blocks.2.conv.bias");
    assert_eq!(
        bias,
        values(
            encoder.as_small_cnn().unwrap().blocks[2]
                .conv
                .bias
                .as_ref()
                .unwrap()
                .val()
        )
    );
    // 4 blocks x (conv weight, conv bias, bn weight, bn bias, running mean, running var).
    assert_eq!(st.names().len(), 24, "{:?}", st.names());

    // The burn record reproduces the encoder's outputs exactly.
    let loaded: Encoder = EncoderConfig::default()
        .init(&device)
        .load_file(dir.path().join("encoder.bpk"));
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    assert_eq!(
        values(encoder.valid().forward(x.clone())),
        values(loaded.valid().forward(x))
    );
}

/// `spec`'s method on a two-stage encoder (8, 16 channels), and that encoder's config.
fn small_method(
    spec: &contrastive_workbench::methods::MethodSpec,
) -> (
    Box<dyn contrastive_workbench::methods::Method>,
    EncoderConfig,
) {
    use contrastive_workbench::methods::{self, BuildContext};
    use contrastive_workbench::preset::TrainSpec;
    let device = Device::flex().autodiff();
    let (info, params) = methods::resolve(spec).unwrap();
    let encoder = EncoderConfig {
        channels: vec![8, 16],
        ..EncoderConfig::default()
    };
    let method = methods::build(
        info,
        &BuildContext {
            device: &device,
            encoder: &encoder,
            params: &params,
            train: &TrainSpec::default(),
            dataset_len: 10,
            image_size: 32,
            normalize: contrastive_workbench::views::Normalize::HALF,
            seed: 0,
        },
    );
    (method, encoder)
}

#[test]
fn cmc_exports_both_view_encoders_with_their_input_channels() {
    use contrastive_workbench::methods::MethodSpec;
    let spec: MethodSpec = toml::from_str("kind = \"cmc\"").unwrap();
    let (method, encoder) = small_method(&spec);
    let exp = Experiment {
        encoder,
        method: spec,
        ..Experiment::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let files = export_encoders(
        dir.path(),
        &method.export_encoders(),
        &exp,
        &MetricsLog::default(),
        32,
    )
    .unwrap();
    for (name, c_in) in [("encoder_l", 1), ("encoder_ab", 2)] {
        assert!(files.contains(&format!("{name}.safetensors")), "{files:?}");
        let bytes = std::fs::read(dir.path().join(format!("{name}.safetensors"))).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("blocks.0.conv.weight").unwrap();
        // Each view's encoder has half the channels (CMC's split, on by default).
        assert_eq!(w.shape(), &[4, c_in, 3, 3], "{name}");
    }
    // The README describes each encoder with its own widths, and its loader builds them.
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(
        readme.contains("| blocks.0.conv.weight | [4, 1, 3, 3] |"),
        "{readme}"
    );
    assert!(
        readme.contains("| blocks.0.conv.weight | [4, 2, 3, 3] |"),
        "{readme}"
    );
    assert!(
        readme.contains(
            "encoder_ab = load(\"encoder_ab.safetensors\", in_channels=2, layer_norm=False, \
             channels=[4, 8])"
        ),
        "{readme}"
    );
    assert!(readme.contains("It is 16-d."), "{readme}");
}

#[test]
fn cmc_with_three_views_exports_l_a_and_b() {
    use contrastive_workbench::methods::MethodSpec;
    let spec: MethodSpec = toml::from_str("kind = \"cmc\"\nviews = \"L-a-b\"").unwrap();
    let (method, _) = small_method(&spec);
    let names: Vec<&str> = method.export_encoders().iter().map(|e| e.name).collect();
    assert_eq!(names, ["encoder_l", "encoder_a", "encoder_b"]);
    assert!(method.export_encoders().iter().all(|e| {
        e.network.as_small_cnn().unwrap().blocks[0]
            .conv
            .weight
            .dims()[1]
            == 1
    }));
    // The representation concatenates the three encoders, each a third as wide (16 / 3).
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Default, &Device::flex());
    assert_eq!(method.embed(x).dims(), [2, 3 * 5]);
}

/// ResNet-18's graph: the stem, eight BasicBlocks with three folded downsamples, one `Add`
/// per block, named as torchvision's modules. (onnxruntime's numbers: tests/python_export.rs.)
#[test]
fn resnet18s_onnx_graph_has_one_residual_add_per_block_and_torchvisions_names() {
    use contrastive_workbench::engine::onnx_export::decode;
    let encoder = EncoderConfig::resnet18(4).init(&Device::flex());
    let (dir, files) = export_rgb(&encoder);
    assert!(files.iter().any(|f| f == "encoder.onnx"), "{files:?}");
    let model = decode(&std::fs::read(dir.path().join("encoder.onnx")).unwrap()).unwrap();
    let graph = model.graph.unwrap();
    let count = |op: &str| graph.node.iter().filter(|n| n.op_type == op).count();
    assert_eq!(
        count("Conv"),
        1 + 8 * 2 + 3,
        "stem, two per block, three downsamples"
    );
    assert_eq!(count("Add"), 8);
    assert_eq!(count("Relu"), 1 + 8 * 2);
    assert_eq!(count("BatchNormalization"), 0, "folded");
    let names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
    for name in [
        "conv1",
        "layer1.0.conv1",
        "layer2.0.downsample",
        "layer4.1.add",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    assert!(
        !names.contains(&"layer1.0.downsample"),
        "layer1 keeps its shape"
    );
    let shape = |name: &str| {
        graph
            .initializer
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .dims
            .clone()
    };
    assert_eq!(shape("layer2.0.downsample.weight"), [8, 4, 1, 1]);
    assert_eq!(shape("layer4.1.conv2.weight"), [32, 32, 3, 3]);
    let output = &graph.output[0];
    let dims = &output
        .r#type
        .as_ref()
        .unwrap()
        .tensor_type
        .as_ref()
        .unwrap()
        .shape;
    assert_eq!(
        dims.as_ref().unwrap().dim[1].dim_value,
        Some(32),
        "8 x width"
    );
}

/// The ViT's graph: one attention (`Softmax`) and two norms per block, the final norm, the
/// image size fixed at the position embeddings' and the batch dynamic. (onnxruntime's
/// numbers: tests/python_export.rs.)
#[test]
fn the_vits_onnx_graph_has_its_blocks_and_a_fixed_image_size() {
    use contrastive_workbench::engine::onnx_export::decode;
    let cfg = EncoderConfig {
        embed_dim: 16,
        depth: 3,
        heads: 2,
        ..EncoderConfig::vit()
    };
    let (dir, files) = export_rgb(&cfg.init(&Device::flex()));
    assert!(files.iter().any(|f| f == "encoder.onnx"), "{files:?}");
    let model = decode(&std::fs::read(dir.path().join("encoder.onnx")).unwrap()).unwrap();
    let graph = model.graph.unwrap();
    let count = |op: &str| graph.node.iter().filter(|n| n.op_type == op).count();
    assert_eq!(count("Softmax"), 3);
    assert_eq!(count("LayerNormalization"), 2 * 3 + 1);
    assert_eq!(count("Erf"), 3, "GELU written with erf");
    let dims = |v: &contrastive_workbench::engine::onnx_proto::ValueInfoProto| {
        v.r#type
            .as_ref()
            .unwrap()
            .tensor_type
            .as_ref()
            .unwrap()
            .shape
            .as_ref()
            .unwrap()
            .dim
            .clone()
    };
    let input = dims(&graph.input[0]);
    assert_eq!(input[0].dim_param.as_deref(), Some("batch"));
    assert_eq!(
        [input[2].dim_value, input[3].dim_value],
        [Some(32), Some(32)],
        "the size the position embeddings are laid out for"
    );
    assert_eq!(dims(&graph.output[0])[1].dim_value, Some(16));
}

#[test]
fn the_onnx_graph_decodes_with_batchnorm_folded_into_its_convolutions() {
    use contrastive_workbench::engine::onnx_export::{OPSET, decode};
    // Train a few steps so the running statistics are not the identity.
    let device = Device::flex().autodiff();
    let cfg = EncoderConfig {
        channels: vec![4, 8],
        ..EncoderConfig::default()
    };
    let encoder = cfg.init(&device);
    for _ in 0..3 {
        let x = Tensor::<4>::random([6, 3, 8, 8], Distribution::Normal(0.5, 2.0), &device);
        drop(encoder.forward(x));
    }
    let encoder = encoder.valid();
    let (dir, files) = export_rgb(&encoder);
    assert!(files.iter().any(|f| f == "encoder.onnx"), "{files:?}");
    let model = decode(&std::fs::read(dir.path().join("encoder.onnx")).unwrap()).unwrap();
    assert_eq!(model.opset_import[0].version, OPSET);
    let graph = model.graph.unwrap();
    let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        [
            "Conv",
            "Relu",
            "Conv",
            "Relu",
            "GlobalAveragePool",
            "Flatten"
        ]
    );
    let input = graph.input[0]
        .r#type
        .as_ref()
        .unwrap()
        .tensor_type
        .as_ref()
        .unwrap();
    let dims = &input.shape.as_ref().unwrap().dim;
    assert_eq!(
        dims[0].dim_param.as_deref(),
        Some("batch"),
        "a named dynamic batch"
    );
    assert_eq!(dims[1].dim_value, Some(3));

    // Folded by hand: W' = W * gamma / sqrt(var + eps), b' = (b - mean) * that + beta.
    let block = &encoder.as_small_cnn().unwrap().blocks[1];
    let bn = block.bn.as_ref().unwrap();
    let (w, b) = (
        values(block.conv.weight.val()),
        values(block.conv.bias.as_ref().unwrap().val()),
    );
    let (g, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
    let (m, v) = (
        values(bn.running_mean.value()),
        values(bn.running_var.value()),
    );
    assert!(m.iter().any(|x| x.abs() > 1e-3), "statistics moved: {m:?}");
    let init = |name: &str| -> Vec<f32> {
        let t = graph.initializer.iter().find(|t| t.name == name).unwrap();
        t.raw_data
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (w_onnx, b_onnx) = (init("blocks.1.weight"), init("blocks.1.bias"));
    for co in 0..8 {
        let s = g[co] / (v[co] + bn.epsilon as f32).sqrt();
        let k = 9 * 4;
        for j in 0..k {
            assert!((w_onnx[co * k + j] - w[co * k + j] * s).abs() < 1e-6);
        }
        assert!((b_onnx[co] - ((b[co] - m[co]) * s + beta[co])).abs() < 1e-5);
    }
}
