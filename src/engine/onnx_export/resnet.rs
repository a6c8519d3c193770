//! ResNet-18 (CIFAR stem) as ONNX, each BatchNorm folded into its `Conv`: the stem
//! Conv -> Relu, then per BasicBlock Conv -> Relu -> Conv, the identity (or the folded 1x1
//! strided `Conv` of the downsample), `Add`, `Relu`. Names follow torchvision's
//! (`layer2.0.conv1`, `layer2.0.downsample`), so a node reads like the safetensors key.

use super::{Builder, fold_batch_norm};
use crate::engine::onnx_proto::ModelProto;
use crate::model::resnet::{BasicBlock, ResNet};

/// The ONNX model of `network` (evaluation mode) taking `inputs` channels.
pub fn resnet_model(network: &ResNet, inputs: usize, doc: &str) -> ModelProto {
    let mut b = Builder::new(doc);
    let (weight, bias, dims) = fold_batch_norm(&network.conv1, Some(&network.bn1));
    let stem = b.conv("conv1", "input", (&weight, &bias), dims, 1);
    b.node("Relu", &[&stem], "relu", vec![]);
    let mut x = "relu".to_string();
    let stages = [
        &network.layer1,
        &network.layer2,
        &network.layer3,
        &network.layer4,
    ];
    for (k, stage) in stages.into_iter().enumerate() {
        for (i, block) in stage.iter().enumerate() {
            x = basic_block(&mut b, &format!("layer{}.{i}", k + 1), &x, block);
        }
    }
    let channels = network.channels().last().copied().unwrap_or(0);
    b.finish(&x, inputs, channels, doc)
}

fn basic_block(b: &mut Builder, name: &str, x: &str, block: &BasicBlock) -> String {
    let stride = block.conv1.stride[0];
    let (w1, b1, d1) = fold_batch_norm(&block.conv1, Some(&block.bn1));
    let h = b.conv(&format!("{name}.conv1"), x, (&w1, &b1), d1, stride);
    let relu = format!("{name}.relu1");
    b.node("Relu", &[&h], &relu, vec![]);
    let (w2, b2, d2) = fold_batch_norm(&block.conv2, Some(&block.bn2));
    let h = b.conv(&format!("{name}.conv2"), &relu, (&w2, &b2), d2, 1);
    let identity = match &block.downsample {
        Some(d) => {
            let (w, bias, dims) = fold_batch_norm(&d.conv, Some(&d.bn));
            b.conv(
                &format!("{name}.downsample"),
                x,
                (&w, &bias),
                dims,
                d.conv.stride[0],
            )
        }
        None => x.to_string(),
    };
    let sum = format!("{name}.add");
    b.node("Add", &[&h, &identity], &sum, vec![]);
    let out = format!("{name}.relu");
    b.node("Relu", &[&sum], &out, vec![]);
    out
}
