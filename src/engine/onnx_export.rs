//! An exported encoder as ONNX (opset 17): the network in evaluation mode, ready for
//! onnxruntime, OpenCV's DNN module or TensorRT. Only the small CNN is written as ONNX
//! (a ResNet-18 export is for PyTorch); the protobuf messages are `onnx_proto`'s.
//!
//! Graph: per stage a `Conv` (3x3, padding 1) with BatchNorm's running statistics folded into
//! its weights and bias (so the graph is Conv -> Relu per stage), or, for layer-norm
//! encoders, Conv -> the layer norm written out (ReduceMean, Sub, Mul, ReduceMean, Add,
//! Sqrt, Div, then the per-channel affine) -> Relu; then `GlobalAveragePool` and `Flatten`.
//! Input `input` `[batch, C, height, width]` and output `representation` `[batch, D]`, all
//! three of batch, height and width dynamic. The input normalisation is not in the graph:
//! the export README states it.

use prost::Message;

use super::onnx_proto::{
    ATTR_INT, ATTR_INTS, AttributeProto, Dimension, FLOAT, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use crate::model::SmallCnn;

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
}

/// The ONNX model of `network` (evaluation mode) taking `inputs` channels.
pub fn encoder_model(network: &SmallCnn, inputs: usize, doc: &str) -> ModelProto {
    let mut b = Builder {
        graph: GraphProto {
            name: "contrastive-workbench encoder".into(),
            doc_string: doc.into(),
            ..Default::default()
        },
    };
    let mut x = "input".to_string();
    let mut c_in = inputs;
    for (i, block) in network.blocks.iter().enumerate() {
        let w = values(block.conv.weight.val());
        let c_out = w.len() / (9 * c_in);
        let mut bias = block
            .conv
            .bias
            .as_ref()
            .map_or_else(|| vec![0.0; c_out], |b| values(b.val()));
        let mut weight = w;
        if let Some(bn) = &block.bn {
            // y = gamma (conv + b - mean) / sqrt(var + eps) + beta, folded into the conv.
            let (gamma, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
            let (mean, var) = (
                values(bn.running_mean.value()),
                values(bn.running_var.value()),
            );
            for co in 0..c_out {
                let s = gamma[co] / (f64::from(var[co]) + bn.epsilon).sqrt() as f32;
                for v in &mut weight[co * 9 * c_in..(co + 1) * 9 * c_in] {
                    *v *= s;
                }
                bias[co] = (bias[co] - mean[co]) * s + beta[co];
            }
        }
        let (wn, bn_name) = (format!("blocks.{i}.weight"), format!("blocks.{i}.bias"));
        b.constant(&wn, &[c_out, c_in, 3, 3], &weight);
        b.constant(&bn_name, &[c_out], &bias);
        let stride = block.conv.stride[0] as i64;
        let conv = format!("blocks.{i}.conv");
        b.node(
            "Conv",
            &[&x, &wn, &bn_name],
            &conv,
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("pads", &[1, 1, 1, 1]),
                ints("strides", &[stride, stride]),
            ],
        );
        let mut h = conv;
        if let Some(ln) = &block.ln {
            h = layer_norm(&mut b, i, &h, ln, c_out);
        }
        let relu = format!("blocks.{i}.relu");
        b.node("Relu", &[&h], &relu, vec![]);
        x = relu;
        c_in = c_out;
    }
    b.node("GlobalAveragePool", &[&x], "pooled", vec![]);
    b.node(
        "Flatten",
        &["pooled"],
        "representation",
        vec![int("axis", 1)],
    );
    b.graph.input.push(value_info(
        "input",
        &[
            named("batch"),
            fixed(inputs),
            named("height"),
            named("width"),
        ],
    ));
    b.graph
        .output
        .push(value_info("representation", &[named("batch"), fixed(c_in)]));
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "contrastive-workbench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(b.graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    }
}

/// GroupNorm with one group (layer norm over C, H, W) with its per-channel affine.
fn layer_norm(b: &mut Builder, i: usize, x: &str, ln: &burn::nn::GroupNorm, c: usize) -> String {
    let p = |s: &str| format!("blocks.{i}.ln.{s}");
    let axes = || ints("axes", &[1, 2, 3]);
    b.node(
        "ReduceMean",
        &[x],
        &p("mean"),
        vec![axes(), int("keepdims", 1)],
    );
    b.node("Sub", &[x, &p("mean")], &p("centred"), vec![]);
    b.node(
        "Mul",
        &[&p("centred"), &p("centred")],
        &p("squared"),
        vec![],
    );
    b.node(
        "ReduceMean",
        &[&p("squared")],
        &p("var"),
        vec![axes(), int("keepdims", 1)],
    );
    b.constant(&p("epsilon"), &[], &[ln.epsilon as f32]);
    b.node("Add", &[&p("var"), &p("epsilon")], &p("var_eps"), vec![]);
    b.node("Sqrt", &[&p("var_eps")], &p("std"), vec![]);
    b.node("Div", &[&p("centred"), &p("std")], &p("normalised"), vec![]);
    let mut out = p("normalised");
    if let (Some(gamma), Some(beta)) = (&ln.gamma, &ln.beta) {
        b.constant(&p("weight"), &[c, 1, 1], &values(gamma.val()));
        b.constant(&p("bias"), &[c, 1, 1], &values(beta.val()));
        b.node("Mul", &[&out, &p("weight")], &p("scaled"), vec![]);
        b.node("Add", &[&p("scaled"), &p("bias")], &p("affine"), vec![]);
        out = p("affine");
    }
    out
}

/// The model's bytes (protobuf), as written to `<name>.onnx`.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Reads a model back (for tests and tools).
pub fn decode(bytes: &[u8]) -> Result<ModelProto, prost::DecodeError> {
    ModelProto::decode(bytes)
}
