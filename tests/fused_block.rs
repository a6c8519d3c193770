//! The fused conv3x3 + BatchNorm + ReLU stage (`model::fast_block`) against burn's own
//! conv2d + batch_norm + relu through autodiff: forward, every gradient and the running
//! statistics, in training and in evaluation mode, over several shapes and both strides.

use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use contrastive_workbench::model::Norm;
use contrastive_workbench::model::encoder::ConvBlock;
use contrastive_workbench::model::fast_block;

/// One test's draws at a time, from a seeded generator (burn's is process-wide, and the
/// tests run side by side). A fixed draw because a ReLU network's gradient jumps where a
/// pre-activation crosses zero: in about 2% of random draws (8 of 300, 7 of 300 with the
/// patch GEMMs; 6 of 300 with Winograd, 2026-12-06) one image holds a pre-activation so
/// near zero that the fused kernels and burn's ops, rounding differently, gate it
/// differently, and that image's input gradient differs by 1e-2 to 2e-1 (the other
/// images by about 10x less, through BatchNorm's batch statistics). A bug would move
/// every image alike, and every draw.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The autodiff device with burn's generator at `seed`, held for the caller's draws.
fn seeded(seed: u64) -> (std::sync::MutexGuard<'static, ()>, Device) {
    let turn = SEEDED.lock().unwrap_or_else(|p| p.into_inner());
    let device = Device::flex().autodiff();
    device.seed(seed);
    (turn, device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// max |a - b| / max(max |b|, 1e-6): the relative error the issue bounds by 1e-4.
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    let e = rel_err(got, want);
    assert!(e < 1e-4, "{what}: relative error {e:.2e} (>= 1e-4)");
}

/// Two blocks with identical parameters and separate running statistics.
fn twin_blocks(
    c_in: usize,
    c_out: usize,
    stride: usize,
    device: &Device,
) -> (ConvBlock, ConvBlock) {
    let a = ConvBlock::new(c_in, c_out, stride, Norm::Batch, device);
    let mut b = ConvBlock::new(c_in, c_out, stride, Norm::Batch, device);
    b.conv.weight = Param::from_tensor(a.conv.weight.val().detach());
    b.conv.bias = a
        .conv
        .bias
        .as_ref()
        .map(|p| Param::from_tensor(p.val().detach()));
    // Non-trivial affine parameters, so gamma and beta gradients are exercised.
    (with_affine(a, device), with_affine(b, device))
}

fn with_affine(mut block: ConvBlock, device: &Device) -> ConvBlock {
    let bn = block.bn.as_mut().expect("batch norm");
    let c = bn.gamma.dims()[0];
    let gamma: Vec<f32> = (0..c).map(|i| 0.5 + 0.1 * i as f32).collect();
    let beta: Vec<f32> = (0..c).map(|i| 0.05 * i as f32 - 0.2).collect();
    bn.gamma = Param::from_tensor(Tensor::from_data(TensorData::new(gamma, [c]), device));
    bn.beta = Param::from_tensor(Tensor::from_data(TensorData::new(beta, [c]), device));
    block
}

struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    stride: usize,
}

fn check_training(case: &Case, seed: u64) {
    let (_turn, device) = seeded(seed);
    let (reference, fused) = twin_blocks(case.c_in, case.c_out, case.stride, &device);
    let input = Tensor::<4>::random(
        [case.batch, case.c_in, case.h, case.w],
        Distribution::Normal(0.3, 1.0),
        &device,
    );
    let x_ref = input.clone().detach().require_grad();
    let x_fused = input.detach().require_grad();

    let y_ref = reference.forward_reference(x_ref.clone());
    let weights = y_ref.random_like(Distribution::Uniform(-1.0, 1.0)).detach();
    let y_fused = fast_block::forward_nhwc(&fused, x_fused.clone().permute([0, 2, 3, 1]))
        .permute([0, 3, 1, 2]);
    assert_eq!(y_ref.dims(), y_fused.dims());
    let name = format!(
        "batch {} {}->{} {}x{} stride {}",
        case.batch, case.c_in, case.c_out, case.h, case.w, case.stride
    );
    assert_close(
        &format!("{name}: forward"),
        &values(y_fused.clone()),
        &values(y_ref.clone()),
    );

    let g_ref = (y_ref * weights.clone()).sum().backward();
    let g_fused = (y_fused * weights).sum().backward();
    let grad = |b: &ConvBlock, x: &Tensor<4>, g| {
        let bn = b.bn.as_ref().expect("batch norm");
        [
            values(x.grad(g).expect("input gradient")),
            values(b.conv.weight.grad(g).expect("weight gradient")),
            values(bn.gamma.grad(g).expect("gamma gradient")),
            values(bn.beta.grad(g).expect("beta gradient")),
        ]
    };
    let (want, got) = (
        grad(&reference, &x_ref, &g_ref),
        grad(&fused, &x_fused, &g_fused),
    );
    for (part, (got, want)) in ["input", "weight", "gamma", "beta"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        assert_close(&format!("{name}: {part} gradient"), got, want);
    }
    // The conv bias gradient is zero up to rounding through batch statistics: compare
    // absolutely, on the scale of the weight gradient.
    let bias = |b: &ConvBlock, g| {
        values(
            b.conv
                .bias
                .as_ref()
                .expect("bias")
                .grad(g)
                .expect("bias gradient"),
        )
    };
    let scale = want[1].iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in bias(&fused, &g_fused).iter().zip(bias(&reference, &g_ref)) {
        assert!(
            (a - b).abs() < 1e-4 * scale,
            "{name}: bias gradient {a} vs {b}"
        );
    }

    let stats = |b: &ConvBlock| {
        let bn = b.bn.as_ref().expect("batch norm");
        (
            values(bn.running_mean.value()),
            values(bn.running_var.value()),
        )
    };
    let ((m_ref, v_ref), (m_f, v_f)) = (stats(&reference), stats(&fused));
    assert_close(&format!("{name}: running mean"), &m_f, &m_ref);
    assert_close(&format!("{name}: running var"), &v_f, &v_ref);

    // Evaluation mode on the plain device, with the running statistics just updated.
    let (reference, fused) = (reference.valid(), fused.valid());
    let x = Tensor::<4>::random(
        [case.batch, case.c_in, case.h, case.w],
        Distribution::Normal(0.0, 1.0),
        &Device::flex(),
    );
    let y_ref = reference.forward_reference(x.clone());
    let y_fused = fast_block::forward_nhwc(&fused, x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
    assert_close(
        &format!("{name}: evaluation forward"),
        &values(y_fused),
        &values(y_ref),
    );
}

#[test]
fn fused_block_matches_burn_ops_in_training_and_evaluation() {
    for (i, case) in [
        Case {
            batch: 2,
            c_in: 3,
            c_out: 8,
            h: 8,
            w: 8,
            stride: 1,
        },
        Case {
            batch: 5,
            c_in: 3,
            c_out: 4,
            h: 7,
            w: 9,
            stride: 2,
        },
        Case {
            batch: 4,
            c_in: 8,
            c_out: 16,
            h: 9,
            w: 6,
            stride: 2,
        },
        Case {
            batch: 3,
            c_in: 16,
            c_out: 5,
            h: 5,
            w: 5,
            stride: 1,
        },
        Case {
            batch: 64,
            c_in: 32,
            c_out: 64,
            h: 16,
            w: 16,
            stride: 2,
        },
    ]
    .iter()
    .enumerate()
    {
        check_training(case, i as u64);
    }
}

#[test]
fn the_encoder_takes_the_fused_path_and_agrees_with_burn_ops() {
    use contrastive_workbench::model::EncoderConfig;
    let (_turn, device) = seeded(10);
    let fused = EncoderConfig::default().init(&device);
    let reference = fused.valid().train();
    let blocks = &reference.as_small_cnn().unwrap().blocks;
    assert!(!blocks.is_empty());
    let x = Tensor::<4>::random([6, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let want = {
        let mut h = x.clone();
        for b in blocks {
            h = b.forward_reference(h);
        }
        let [n, c, _, _] = h.dims();
        h.mean_dim(3).mean_dim(2).reshape([n, c])
    };
    let got = fused.forward(x.clone());
    assert_close("encoder output", &values(got), &values(want));
    let (_, map) = fused.forward_with_map(x, 1);
    assert_eq!(map.dims(), [6, 64, 16, 16], "a kept map is NCHW");
}

#[test]
fn a_nan_in_the_input_reaches_the_output() {
    // The engine refuses a step whose loss is not finite; a rectifier that turned NaN into
    // 0 would hide a bad batch from it.
    let device = Device::flex().autodiff();
    let block = ConvBlock::new(3, 4, 1, Norm::Batch, &device);
    let mut v = vec![0.5f32; 2 * 3 * 4 * 4];
    v[5] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(v, [2, 4, 4, 3]), &device);
    let y = values(fast_block::forward_nhwc(&block, x));
    assert!(y.iter().any(|v| v.is_nan()), "NaN swallowed");
}

/// ResNet-18's blocks on the fused path (3x3 convolutions without a bias, BatchNorm without
/// a ReLU before the residual add, the 1x1 stride-2 projection) against burn's ops: the
/// representation, a kept map, the gradients of the input and of parameters in every kind
/// of convolution, the running statistics, and evaluation mode.
#[test]
fn resnet_takes_the_fused_path_and_agrees_with_burn_ops() {
    use contrastive_workbench::model::resnet::ResNet;
    let (_turn, device) = seeded(20);
    let fused = ResNet::resnet18(3, 8, &device);
    let reference = fused.clone().valid().train();
    let input = Tensor::<4>::random([5, 3, 16, 16], Distribution::Normal(0.2, 1.0), &device);
    let (x_ref, x_fused) = (
        input.clone().detach().require_grad(),
        input.detach().require_grad(),
    );
    let (h_ref, map_ref) = reference.run_reference(x_ref.clone(), Some(1));
    let (h_fused, map_fused) = fused.run(x_fused.clone(), Some(1));
    assert_close(
        "representation",
        &values(h_fused.clone()),
        &values(h_ref.clone()),
    );
    let (map_ref, map_fused) = (map_ref.unwrap(), map_fused.unwrap());
    assert_eq!(map_fused.dims(), [5, 16, 8, 8], "a kept map is NCHW");
    assert_close("stage 2's map", &values(map_fused), &values(map_ref));

    let weights = h_ref.random_like(Distribution::Uniform(-1.0, 1.0)).detach();
    let g_ref = (h_ref * weights.clone()).sum().backward();
    let g_fused = (h_fused * weights).sum().backward();
    assert_close(
        "input gradient",
        &values(x_fused.grad(&g_fused).unwrap()),
        &values(x_ref.grad(&g_ref).unwrap()),
    );
    // Each parameter's gradient under the pass's own graph.
    let grads = |n: &ResNet, g: &burn::tensor::Gradients| {
        let down = n.layer2[0].downsample.as_ref().unwrap();
        let w = |p: &Param<Tensor<4>>| values(p.grad(g).unwrap());
        let v = |p: &Param<Tensor<1>>| values(p.grad(g).unwrap());
        [
            ("stem conv", w(&n.conv1.weight)),
            ("stem gamma", v(&n.bn1.gamma)),
            ("layer1.0.conv2", w(&n.layer1[0].conv2.weight)),
            ("layer1.0.bn2 beta", v(&n.layer1[0].bn2.beta)),
            ("layer2.0.conv1 (stride 2)", w(&n.layer2[0].conv1.weight)),
            ("layer2.0.downsample conv", w(&down.conv.weight)),
            ("layer2.0.downsample gamma", v(&down.bn.gamma)),
            ("layer4.1.conv2", w(&n.layer4[1].conv2.weight)),
        ]
    };
    for ((name, got), (_, want)) in grads(&fused, &g_fused)
        .into_iter()
        .zip(grads(&reference, &g_ref))
    {
        assert_close(&format!("{name} gradient"), &got, &want);
    }
    let stats = |n: &ResNet| {
        let bn = &n.layer3[0].downsample.as_ref().unwrap().bn;
        (
            values(bn.running_mean.value()),
            values(bn.running_var.value()),
        )
    };
    let ((m_ref, v_ref), (m_f, v_f)) = (stats(&reference), stats(&fused));
    assert_close("running mean", &m_f, &m_ref);
    assert_close("running var", &v_f, &v_ref);

    let (reference, fused) = (reference.valid(), fused.valid());
    let x = Tensor::<4>::random(
        [3, 3, 16, 16],
        Distribution::Normal(0.0, 1.0),
        &Device::flex(),
    );
    assert_close(
        "evaluation representation",
        &values(fused.run(x.clone(), None).0),
        &values(reference.run_reference(x, None).0),
    );
}
