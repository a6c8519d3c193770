//! Writing a run's results: the encoder (burnpack and PyTorch-layout safetensors), the
//! preset that reproduces the run, the metrics, and a README describing the tensors.
//! Every file is written to a temporary name and renamed into place, so a crash or a
//! failed export never leaves a half-written file where a good one was.
//!
//! Each encoder a method exports gets its own files (CMC's `encoder_l` and `encoder_ab`):
//! `<name>.safetensors` (in torchvision's or timm's names for ResNet-18 and the ViT),
//! `<name>.bpk` and `<name>.onnx`. Beside them go the metrics CSVs and the TensorBoard
//! event file. `MetricsLog` is the one log of steps, evaluations, full evaluations and probes; the session and the window's history both
//! fold events into it with `MetricsLog::record`.

use std::path::Path;

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};

use super::protocol::{EvalReport, FullEvalReport, ProbeReport, StepMetrics};
use super::run_folder::{atomically, claim, write_atomically};
use crate::methods::{EncoderInput, ExportedEncoder};
use crate::model::encoder::RESNET_WIDTH;
use crate::model::resnet::TORCHVISION_KEYS;
use crate::model::{EncoderKind, Norm};
use crate::preset::Experiment;
use crate::views::Normalize;

/// Everything logged during a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsLog {
    pub steps: Vec<StepMetrics>,
    pub evals: Vec<EvalReport>,
    pub probes: Vec<ProbeReport>,
    /// Full-split evaluations (absent from checkpoints written before they existed).
    #[serde(default)]
    pub full_evals: Vec<FullEvalReport>,
}

impl MetricsLog {
    /// Folds a step, evaluation or probe event into the log (others are not part of it).
    /// The session and the window's history keep their logs through this one function.
    pub fn record(&mut self, event: &super::protocol::Event) {
        use super::protocol::Event;
        match event {
            Event::Step(m) => self.steps.push(m.clone()),
            Event::Eval(e) => self.evals.push(e.clone()),
            Event::Probe(p) => self.probes.push(p.clone()),
            Event::FullEval(f) => self.full_evals.push(f.clone()),
            _ => {}
        }
    }

    pub fn steps_csv(&self) -> String {
        let mut s = String::from(
            "step,loss,align,uniform,z_std,z_std_healthy,effective_rank,pos_sim,neg_sim,lr,steps_per_sec,views_per_sec,data_wait",
        );
        // Method signals become extra columns, named after the first logged step's.
        let signal_names: Vec<&str> = self
            .steps
            .first()
            .map(|m| m.signals.iter().map(|(k, _)| k.as_str()).collect())
            .unwrap_or_default();
        for name in &signal_names {
            s += &format!(",{}", name.replace([',', ' '], "_"));
        }
        s.push('\n');
        for m in &self.steps {
            s += &format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                m.step,
                m.loss,
                m.align,
                m.uniform,
                m.z_std,
                m.z_std_healthy,
                m.effective_rank,
                m.pos_sim,
                m.neg_sim,
                m.lr,
                m.steps_per_sec,
                m.views_per_sec,
                m.data_wait
            );
            for name in &signal_names {
                let v = m.signals.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
                s += &format!(",{}", v.unwrap_or(f32::NAN));
            }
            s.push('\n');
        }
        s
    }

    pub fn probes_csv(&self) -> String {
        let mut s = String::from("step,probe_top1,baseline_top1\n");
        for p in &self.probes {
            s += &format!("{},{},{}\n", p.step, p.accuracy, p.baseline);
        }
        s
    }

    /// The latest probe's confusion matrix: one row per true class, one column per
    /// predicted class, headed by class names.
    pub fn confusion_csv(&self) -> Option<String> {
        let p = self.probes.last()?;
        let k = p.class_names.len();
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut s = String::from("true\\predicted");
        for name in &p.class_names {
            s += &format!(",{}", quote(name));
        }
        s.push('\n');
        for (t, name) in p.class_names.iter().enumerate() {
            s += &quote(name);
            for c in 0..k {
                s += &format!(",{}", p.confusion.get(t * k + c).copied().unwrap_or(0));
            }
            s.push('\n');
        }
        Some(s)
    }

    /// One row per full-split evaluation: its kNN figures, probe, duration and memory.
    pub fn full_evals_csv(&self) -> String {
        let mut s = String::from("step,train_images,test_images");
        let settings: Vec<(usize, f32)> = self
            .full_evals
            .first()
            .map(|f| f.knn.iter().map(|k| (k.k, k.temperature)).collect())
            .unwrap_or_default();
        for (k, t) in &settings {
            s += &format!(",knn_top1_k{k}_t{t}");
        }
        s += ",probe_top1,seconds,peak_rss_mib\n";
        for f in &self.full_evals {
            s += &format!("{},{},{}", f.step, f.train_images, f.test_images);
            for k in &f.knn {
                s += &format!(",{}", k.top1);
            }
            let peak = f.peak_rss_mib.map_or(String::new(), |m| m.to_string());
            s += &format!(",{},{},{peak}\n", f.probe_top1, f.seconds);
        }
        s
    }

    /// One row per evaluation; each nuisance attribute's kNN top-1, then each class's, as
    /// extra columns (`knn_<attribute>_top1`, `knn_class_<class>_top1`).
    pub fn evals_csv(&self) -> String {
        let first = self.evals.first();
        let attributes: Vec<String> = first
            .map(|e| e.attributes.iter().map(|a| column_safe(&a.name)).collect())
            .unwrap_or_default();
        let classes: Vec<String> = first
            .map(|e| e.per_class.iter().map(|c| column_safe(&c.name)).collect())
            .unwrap_or_default();
        let mut s = String::from("step,knn_top1,baseline_top1");
        for name in &attributes {
            s += &format!(",knn_{name}_top1");
        }
        for name in &classes {
            s += &format!(",knn_class_{name}_top1");
        }
        s.push('\n');
        for e in &self.evals {
            s += &format!("{},{},{}", e.step, e.knn_top1, e.baseline_top1);
            for k in 0..attributes.len() {
                let v = e.attributes.get(k).map_or(f32::NAN, |a| a.top1);
                s += &format!(",{v}");
            }
            for k in 0..classes.len() {
                let v = e.per_class.get(k).map_or(f32::NAN, |c| c.top1);
                s += &format!(",{v}");
            }
            s.push('\n');
        }
        s
    }
}

/// A name as a CSV column header: separators, quotes and spaces become '_'.
fn column_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the export into `dir` (created if needed): `<name>.safetensors` and `<name>.bpk`
/// per encoder, then the preset, metrics and README, for encoders trained on `image_size`
/// pixel images. Returns the file names written.
pub fn export_encoders(
    dir: &Path,
    encoders: &[ExportedEncoder],
    exp: &Experiment,
    metrics: &MetricsLog,
    image_size: usize,
) -> anyhow::Result<Vec<String>> {
    let describe =
        |e: &ExportedEncoder| input_description(e.input, &exp.views.normalize, image_size);
    // Held while writing: refuses a folder another process writes, or one of foreign files.
    let _claim = claim(dir, false)?;
    let mut written = Vec::new();
    let mut tables = Vec::new();
    for e in encoders {
        let file = format!("{}.safetensors", e.name);
        // Serialised in memory, then written like every other file (burn-store's file
        // writer goes through a 0600 temporary of the safetensors crate).
        let mut store = SafetensorsStore::from_bytes(None)
            .with_to_adapter(BurnToPyTorchAdapter)
            // The network's own names (`blocks.0...`, `layer1.0...`), not the enum's.
            .skip_enum_variants(true)
            .metadata("producer", "contrastive-workbench")
            .metadata("input", describe(e));
        for (from, to) in TORCHVISION_KEYS {
            store = store.with_key_remapping(from, to);
        }
        e.network
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("cannot serialise {file}: {e}"))?;
        let bytes = store
            .get_bytes()
            .map_err(|e| anyhow::anyhow!("cannot serialise {file}: {e}"))?;
        write_atomically(&dir.join(&file), &bytes)?;
        tables.push(table_of(&bytes));
        written.push(file);
        let file = format!("{}.bpk", e.name);
        atomically(&dir.join(&file), |tmp| {
            e.network
                .clone()
                .save_file(tmp)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })?;
        written.push(file);
        let doc = describe(e);
        let size = e.input.side(image_size);
        let model = super::onnx_export::model_for(&e.network, e.input.channels(), &doc, size);
        let file = format!("{}.onnx", e.name);
        write_atomically(&dir.join(&file), &super::onnx_export::encode(&model))?;
        written.push(file);
    }

    let mut texts = vec![
        ("preset.toml", exp.to_toml()),
        ("metrics.csv", metrics.steps_csv()),
        ("eval.csv", metrics.evals_csv()),
        (
            "README.md",
            readme(encoders, exp, &tables, &describe, image_size),
        ),
    ];
    if !metrics.full_evals.is_empty() {
        texts.push(("full_eval.csv", metrics.full_evals_csv()));
    }
    if !metrics.probes.is_empty() {
        texts.push(("probe.csv", metrics.probes_csv()));
    }
    if let Some(csv) = metrics.confusion_csv() {
        texts.push(("confusion.csv", csv));
    }
    texts.push((
        super::tensorboard::PROJECTOR_CONFIG,
        super::tensorboard::projector_config(),
    ));
    for (name, text) in texts {
        write_atomically(&dir.join(name), text.as_bytes())?;
        written.push(name.to_string());
    }
    let events = super::tensorboard::event_file(exp, metrics);
    write_atomically(&dir.join(super::tensorboard::EVENT_FILE), &events)?;
    written.push(super::tensorboard::EVENT_FILE.to_string());
    Ok(written)
}

/// What `input` takes, for encoders trained on `image_size`-pixel images.
fn input_description(input: EncoderInput, normalize: &Normalize, image_size: usize) -> String {
    let s = image_size;
    match input {
        EncoderInput::Rgb => format!(
            "float32 [N, 3, {s}, {s}] RGB in 0..1, {}",
            normalize.describe()
        ),
        EncoderInput::LabL => format!(
            "float32 [N, 1, {s}, {s}]: the L channel of CIE Lab (D65, sRGB), \
             scaled as L / 50 - 1"
        ),
        EncoderInput::LabAb => format!(
            "float32 [N, 2, {s}, {s}]: the a and b channels of CIE Lab (D65, \
             sRGB), each divided by 100"
        ),
        EncoderInput::LabA => format!(
            "float32 [N, 1, {s}, {s}]: the a channel of CIE Lab (D65, sRGB), \
             divided by 100"
        ),
        EncoderInput::LabB => format!(
            "float32 [N, 1, {s}, {s}]: the b channel of CIE Lab (D65, sRGB), \
             divided by 100"
        ),
        EncoderInput::RgbPatches(g) => format!(
            "float32 [N * {n}, 3, {p}, {p}]: the {g}x{g} grid of {p}x{p} patches at stride {s} \
             (top-left patch at pixel {o}, {o}) of each RGB image in 0..1, {norm}; an image's \
             representation is \
             the mean of its {n} patch outputs. In PyTorch: \
             `x[:, :, {o}:, {o}:].unfold(2, {p}, {s}).unfold(3, {p}, {s})[:, :, :{g}, :{g}]\
             .permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, {p}, {p})`",
            n = g.len(),
            g = g.grid,
            p = g.patch,
            s = g.stride,
            o = g.offset,
            norm = normalize.describe(),
        ),
    }
}

/// The tensor table of one encoder (its own widths: CMC's view encoders are narrower).
fn tensor_table(channels: &[usize], inputs: usize, norm: Norm) -> String {
    let mut tensors = String::from("| tensor | shape |\n|---|---|\n");
    let mut c_in = inputs;
    for (i, &c) in channels.iter().enumerate() {
        tensors += &format!(
            "| blocks.{i}.conv.weight | [{c}, {c_in}, 3, 3] |\n| blocks.{i}.conv.bias | [{c}] |\n"
        );
        tensors += &match norm {
            Norm::Batch => format!(
                "| blocks.{i}.bn.weight | [{c}] |\n| blocks.{i}.bn.bias | [{c}] |\n\
                 | blocks.{i}.bn.running_mean | [{c}] |\n| blocks.{i}.bn.running_var | [{c}] |\n"
            ),
            Norm::Layer => {
                format!("| blocks.{i}.ln.weight | [{c}] |\n| blocks.{i}.ln.bias | [{c}] |\n")
            }
        };
        c_in = c;
    }
    tensors
}

/// Every tensor of a safetensors file with its shape, as a Markdown table, in file order.
fn table_of(bytes: &[u8]) -> String {
    let mut table = String::from("| tensor | shape |\n|---|---|\n");
    if let Ok(file) = safetensors::SafeTensors::deserialize(bytes) {
        let mut tensors = file.tensors();
        tensors.sort_by_key(|(_, t)| t.data().as_ptr() as usize);
        for (name, t) in tensors {
            table += &format!("| {name} | {:?} |\n", t.shape());
        }
    }
    table
}

fn readme(
    encoders: &[ExportedEncoder],
    exp: &Experiment,
    tables: &[String],
    describe: &dyn Fn(&ExportedEncoder) -> String,
    image_size: usize,
) -> String {
    if exp.encoder.kind == EncoderKind::Resnet18 {
        return resnet_readme(encoders, exp, tables, describe);
    }
    if exp.encoder.kind == EncoderKind::Vit {
        return super::vit_readme::vit_readme(encoders, exp, tables, describe, image_size);
    }
    let widths: Vec<Vec<usize>> = encoders.iter().map(|e| e.network.channels()).collect();
    let dim: usize = widths.iter().filter_map(|c| c.last()).sum();
    let mut files = String::new();
    let mut sections = String::new();
    let mut loads = String::new();
    for (e, channels) in encoders.iter().zip(&widths) {
        let c_in = e.input.channels();
        files += &format!(
            "- `{n}.safetensors`: weights in PyTorch layout and names (float32); `{n}.bpk`: \
             the same as a burn record (burnpack), for `Encoder::load_file`; `{n}.onnx`: \
             {onnx}\n",
            n = e.name,
            onnx = ONNX_LINE
        );
        sections += &format!(
            "## `{n}` ({p} parameters)\nInput: {input}.\n\n{table}\n",
            n = e.name,
            p = e.network.num_params(),
            input = describe(e),
            table = tensor_table(channels, c_in, e.network.norm()),
        );
        loads += &format!(
            "{n} = load(\"{n}.safetensors\", in_channels={c_in}, layer_norm={ln}, \
             channels={channels:?})\n",
            n = e.name,
            ln = if e.network.norm() == Norm::Layer {
                "True"
            } else {
                "False"
            },
        );
    }
    let representation = if encoders.len() > 1 {
        format!(
            "The representation is the concatenation of the {} encoders' outputs.",
            encoders.len()
        )
    } else {
        "The representation is the encoder's output.".into()
    };
    format!(
        r#"# Exported encoder: {name}

Trained by contrastive-workbench with method `{method}` on `{dataset}`.
`preset.toml` reproduces the run: `contrastive-workbench train --preset preset.toml`.

## Files
{files}- `metrics.csv`, `eval.csv`: the logged training metrics and kNN evaluations.
- `embeddings.npy` (float32 `[n, d]`, `numpy.load`), `embeddings.csv` (split, index, label,
  class, then the values): the held-out images' representations (up to 10,000);
  `vectors.tsv` and `metadata.tsv`: the same for the TensorFlow Embedding Projector.

## Architecture
Stage 0 is conv3x3 stride 1, later stages conv3x3 stride 2, all with padding 1; each conv
is followed by BatchNorm2d (eps 1e-5), or with layer norm GroupNorm(1, C) (eps 1e-5), and
ReLU; then global average pooling. {representation} It is {dim}-d.

{sections}## Loading it in PyTorch
```python
import torch, torch.nn as nn
from safetensors.torch import load_file

def block(cin, cout, stride, layer_norm):
    norm = nn.GroupNorm(1, cout) if layer_norm else nn.BatchNorm2d(cout)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), norm, nn.ReLU())

class SmallCnn(nn.Module):
    def __init__(self, channels, in_channels=3, layer_norm=False):
        super().__init__()
        cins = [in_channels] + channels[:-1]
        self.blocks = nn.ModuleList(
            block(ci, co, 1 if i == 0 else 2, layer_norm)
            for i, (ci, co) in enumerate(zip(cins, channels)))
    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x.mean(dim=(2, 3))

def load(path, in_channels, layer_norm, channels):
    state = {{k.replace(".conv.", ".0.").replace(".bn.", ".1.").replace(".ln.", ".1."): v
             for k, v in load_file(path).items()}}
    model = SmallCnn(channels, in_channels=in_channels, layer_norm=layer_norm)
    model.load_state_dict(state, strict=False)  # num_batches_tracked is not stored
    return model.eval()

{loads}```
"#,
        name = exp.name,
        method = exp.method.kind,
        dataset = exp.dataset.label(),
    )
}

/// What a README says of `<name>.onnx`.
pub(crate) const ONNX_LINE: &str = "the encoder in evaluation mode as ONNX (opset 17), for \
onnxruntime, OpenCV's DNN module or TensorRT: input `input` `[batch, C, height, width]`, \
normalised as below, output `representation` `[batch, D]`.";

/// The README of a ResNet-18 export: torchvision's names, so torchvision loads it.
fn resnet_readme(
    encoders: &[ExportedEncoder],
    exp: &Experiment,
    tables: &[String],
    describe: &dyn Fn(&ExportedEncoder) -> String,
) -> String {
    let width = exp.encoder.width;
    let mut sections = String::new();
    let mut loads = String::new();
    for (e, table) in encoders.iter().zip(tables) {
        sections += &format!(
            "## `{n}` ({p} parameters)\nInput: {input}.\n\n{table}\n",
            n = e.name,
            p = e.network.num_params(),
            input = describe(e),
        );
        loads += &format!(
            "{n} = load(\"{n}.safetensors\", in_channels={c})\n",
            n = e.name,
            c = e.input.channels()
        );
    }
    let torchvision = if width == RESNET_WIDTH {
        "torchvision's `resnet18` with the CIFAR stem loads it as it is:"
    } else {
        "its width is not torchvision's 64, so torchvision's `resnet18` cannot hold it; the \
         names and shapes above are torchvision's layout at this width:"
    };
    format!(
        r#"# Exported encoder: {name}

Trained by contrastive-workbench with method `{method}` on `{dataset}`.
`preset.toml` reproduces the run: `contrastive-workbench train --preset preset.toml`.

## Files
- `*.safetensors`: weights in torchvision's names and layout (float32); `*.bpk`: the same
  as a burn record (burnpack); `*.onnx`: {onnx}
- `metrics.csv`, `eval.csv`: the logged training metrics and kNN evaluations.
- `embeddings.npy`, `embeddings.csv`, `vectors.tsv`, `metadata.tsv`: the held-out images'
  representations.

## Architecture
ResNet-18 (He et al. 2016) with the CIFAR stem: conv1 is 3x3 stride 1 padding 1 without
bias, no max-pool; four stages of two BasicBlocks of widths {w1}, {w2}, {w3}, {w4} (stages 2-4
start with stride 2 and a 1x1 `downsample`); BatchNorm2d (eps 1e-5); global average pooling;
no classifier. The representation is the pooled output, {w4}-d.

{sections}## Loading it in PyTorch
{torchvision}
```python
import torch.nn as nn, torchvision
from safetensors.torch import load_file

def load(path, in_channels=3):
    model = torchvision.models.resnet18()
    model.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    model.fc = nn.Identity()
    missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    return model.eval()

{loads}```
"#,
        name = exp.name,
        method = exp.method.kind,
        dataset = exp.dataset.label(),
        onnx = ONNX_LINE,
        w1 = width,
        w2 = 2 * width,
        w3 = 4 * width,
        w4 = 8 * width,
    )
}
