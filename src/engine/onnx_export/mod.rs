//! An exported encoder as ONNX (opset 17): the network in evaluation mode, ready for
//! onnxruntime, OpenCV's DNN module or TensorRT; the protobuf messages are `onnx_proto`'s.
//! One file per backbone: `small_cnn`, `resnet`, `vit`.
//!
//! The convolutional graphs fold BatchNorm's running statistics into the `Conv` before
//! it and end in `GlobalAveragePool` and `Flatten`. Every graph has input `input`
//! `[batch, C, height, width]` and output `representation` `[batch, D]`, the batch dynamic,
//! and height and width too except for the ViT (its position embeddings are laid out for
//! one size). The input normalisation is not in the graph: the export README states it.

mod resnet;
mod small_cnn;
mod vit;

pub use resnet::resnet_model;
pub use small_cnn::encoder_model;
pub use vit::vit_model;

use prost::Message;

use super::onnx_proto::{
    ATTR_FLOAT, ATTR_INT, ATTR_INTS, AttributeProto, Dimension, FLOAT, GraphProto, INT64,
    ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto,
};
use crate::model::Encoder;

/// ONNX's opset and the IR version that goes with it.
pub const OPSET: i64 = 17;
const IR_VERSION: i64 = 8;

fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn tensor(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        name: name.into(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: ATTR_INTS,
        ..Default::default()
    }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: v,
        r#type: ATTR_FLOAT,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: ATTR_INT,
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Dimension]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim: dims.to_vec() }),
            }),
        }),
    }
}

fn named(param: &str) -> Dimension {
    Dimension {
        dim_value: None,
        dim_param: Some(param.into()),
    }
}

fn fixed(size: usize) -> Dimension {
    Dimension {
        dim_value: Some(size as i64),
        dim_param: None,
    }
}

/// Builds the graph node by node.
struct Builder {
    graph: GraphProto,
}

impl Builder {
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attributes: Vec<AttributeProto>) {
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: output.into(),
            op_type: op.into(),
            attribute: attributes,
        });
    }

    fn constant(&mut self, name: &str, dims: &[usize], data: &[f32]) {
        self.graph.initializer.push(tensor(name, dims, data));
    }

    /// An INT64 initializer (shapes, indices).
    fn constant_i64(&mut self, name: &str, dims: &[usize], data: &[i64]) {
        self.graph.initializer.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: INT64,
            name: name.into(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }
}

impl Builder {
    fn new(doc: &str) -> Self {
        Self {
            graph: GraphProto {
                name: "contrastive-workbench encoder".into(),
                doc_string: doc.into(),
                ..Default::default()
            },
        }
    }

    /// A `Conv` of `x` with `weight` `[c_out, c_in, k, k]` and `bias`, padding `k / 2`,
    /// named `name`; returns its output's name.
    fn conv(
        &mut self,
        name: &str,
        x: &str,
        parameters: (&[f32], &[f32]),
        dims: [usize; 4],
        stride: usize,
    ) -> String {
        self.conv_padded(name, x, parameters, dims, stride, dims[2] / 2)
    }

    /// As [`Self::conv`], without padding (a ViT's patch embedding).
    fn conv_valid(
        &mut self,
        name: &str,
        x: &str,
        parameters: (&[f32], &[f32]),
        dims: [usize; 4],
        stride: usize,
    ) -> String {
        self.conv_padded(name, x, parameters, dims, stride, 0)
    }

    fn conv_padded(
        &mut self,
        name: &str,
        x: &str,
        (weight, bias): (&[f32], &[f32]),
        dims: [usize; 4],
        stride: usize,
        pad: usize,
    ) -> String {
        let (w, b) = (format!("{name}.weight"), format!("{name}.bias"));
        self.constant(&w, &dims, weight);
        self.constant(&b, &[dims[0]], bias);
        let (k, pad) = (dims[2] as i64, pad as i64);
        let stride = stride as i64;
        self.node(
            "Conv",
            &[x, &w, &b],
            name,
            vec![
                ints("kernel_shape", &[k, k]),
                ints("pads", &[pad, pad, pad, pad]),
                ints("strides", &[stride, stride]),
            ],
        );
        name.to_string()
    }

    /// `GlobalAveragePool` and `Flatten` of `x` (`channels` wide), then the model.
    fn finish(mut self, x: &str, inputs: usize, channels: usize, doc: &str) -> ModelProto {
        self.node("GlobalAveragePool", &[x], "pooled", vec![]);
        self.node(
            "Flatten",
            &["pooled"],
            "representation",
            vec![int("axis", 1)],
        );
        self.model(inputs, None, channels, doc)
    }

    /// The graph's input (`size` fixes height and width; None: dynamic) and output
    /// `representation`, and the model around the graph.
    fn model(
        mut self,
        inputs: usize,
        size: Option<usize>,
        channels: usize,
        doc: &str,
    ) -> ModelProto {
        let side = |name: &str| size.map_or_else(|| named(name), fixed);
        self.graph.input.push(value_info(
            "input",
            &[named("batch"), fixed(inputs), side("height"), side("width")],
        ));
        self.graph.output.push(value_info(
            "representation",
            &[named("batch"), fixed(channels)],
        ));
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "contrastive-workbench".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(self.graph),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
        }
    }
}

/// A convolution's weight and bias with the BatchNorm after it folded in (running
/// statistics, evaluation mode): y = gamma (conv + b - mean) / sqrt(var + eps) + beta.
fn fold_batch_norm(
    conv: &burn::nn::conv::Conv2d,
    bn: Option<&burn::nn::BatchNorm>,
) -> (Vec<f32>, Vec<f32>, [usize; 4]) {
    let dims = conv.weight.dims();
    let c_out = dims[0];
    let per_out = dims[1] * dims[2] * dims[3];
    let mut weight = values(conv.weight.val());
    let mut bias = conv
        .bias
        .as_ref()
        .map_or_else(|| vec![0.0; c_out], |b| values(b.val()));
    if let Some(bn) = bn {
        let (gamma, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
        let (mean, var) = (
            values(bn.running_mean.value()),
            values(bn.running_var.value()),
        );
        for co in 0..c_out {
            let s = gamma[co] / (f64::from(var[co]) + bn.epsilon).sqrt() as f32;
            for v in &mut weight[co * per_out..(co + 1) * per_out] {
                *v *= s;
            }
            bias[co] = (bias[co] - mean[co]) * s + beta[co];
        }
    }
    (weight, bias, dims)
}

/// The ONNX model of `network` (evaluation mode) taking `inputs` channels of `size x size`
/// images (the ViT's graph is fixed to that size; the CNNs' height and width are dynamic).
pub fn model_for(network: &Encoder, inputs: usize, doc: &str, size: usize) -> ModelProto {
    match network {
        Encoder::SmallCnn(n) => encoder_model(n, inputs, doc),
        Encoder::ResNet(n) => resnet_model(n, inputs, doc),
        Encoder::Vit(n) => vit_model(n, inputs, doc, size),
    }
}

/// The model's bytes (protobuf), as written to `<name>.onnx`.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Reads a model back (for tests and tools).
pub fn decode(bytes: &[u8]) -> Result<ModelProto, prost::DecodeError> {
    ModelProto::decode(bytes)
}
