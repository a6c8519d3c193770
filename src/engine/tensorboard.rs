//! The run's curves as a TensorBoard event file, so `tensorboard --logdir runs/` compares
//! runs made here with runs made elsewhere: scalars (loss, alignment, uniformity, embedding
//! std, effective rank, learning rate, kNN, linear probe), the preset's hyperparameters for
//! the HParams plugin, and a `projector_config.pbtxt` pointing TensorBoard's projector at
//! the exported embeddings.
//!
//! The file is TFRecord: each record is its length (u64, little-endian), the masked
//! CRC32C of those 8 bytes, the data (an `Event` protobuf) and its masked CRC32C. The
//! protobuf subset is declared for prost below (field numbers from TensorFlow's
//! `event.proto`, `summary.proto` and the HParams plugin's `plugin_data.proto`). It is
//! rewritten whole from the metrics log at every export, atomically.

use std::collections::HashMap;

use prost::Message;

use super::export::MetricsLog;
use crate::preset::Experiment;

/// The event file's name inside a run folder.
pub const EVENT_FILE: &str = "events.out.tfevents.0.contrastive-workbench";

#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    content: Vec<u8>,
}

/// The HParams plugin's `HParamsPluginData` with its `SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(message, optional, tag = "3")]
    session_start_info: Option<SessionStartInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SessionStartInfo {
    #[prost(map = "string, message", tag = "1")]
    hparams: std::collections::HashMap<String, ProtoValue>,
    #[prost(string, tag = "4")]
    group_name: String,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

/// `google.protobuf.Value`: a number or a string here.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoValue {
    #[prost(double, optional, tag = "2")]
    number_value: Option<f64>,
    #[prost(string, optional, tag = "3")]
    string_value: Option<String>,
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// One event of scalars; tags may be literals or built per run (attribute names).
fn scalars<T: AsRef<str>>(step: u64, wall_time: f64, values: &[(T, f32)]) -> Event {
    Event {
        wall_time,
        step: step as i64,
        file_version: None,
        summary: Some(Summary {
            value: values
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(tag, v)| SummaryValue {
                    tag: tag.as_ref().into(),
                    simple_value: Some(*v),
                    metadata: None,
                })
                .collect(),
        }),
    }
}

fn number(n: f64) -> ProtoValue {
    ProtoValue {
        number_value: Some(n),
        string_value: None,
    }
}

fn text(s: &str) -> ProtoValue {
    ProtoValue {
        number_value: None,
        string_value: Some(s.into()),
    }
}

/// The preset's settings as hyperparameters, by their dotted TOML names (numbers as
/// numbers; switches, names and lists such as view pipelines as their TOML text).
fn hparams(exp: &Experiment) -> HashMap<String, ProtoValue> {
    exp.settings()
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                toml::Value::Integer(i) => number(i as f64),
                toml::Value::Float(f) => number(f),
                toml::Value::String(s) => text(&s),
                other => text(&other.to_string()),
            };
            (k, value)
        })
        .collect()
}

/// The whole event file for a run: the version record, the hyperparameters, then one event
/// per logged step, evaluation and probe (tags as in `metrics.csv`, grouped by prefix).
pub fn event_file(exp: &Experiment, log: &MetricsLog) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut out = Vec::new();
    let mut put = |e: Event| record(&mut out, &e.encode_to_vec());
    put(Event {
        wall_time: now,
        step: 0,
        file_version: Some("brain.Event:2".into()),
        summary: None,
    });
    let start = HParamsPluginData {
        version: 0,
        session_start_info: Some(SessionStartInfo {
            hparams: hparams(exp),
            group_name: exp.name.clone(),
            start_time_secs: now,
        }),
    };
    put(Event {
        wall_time: now,
        step: 0,
        file_version: None,
        summary: Some(Summary {
            value: vec![SummaryValue {
                tag: "_hparams_/session_start_info".into(),
                simple_value: None,
                metadata: Some(SummaryMetadata {
                    plugin_data: Some(PluginData {
                        plugin_name: "hparams".into(),
                        content: start.encode_to_vec(),
                    }),
                }),
            }],
        }),
    });
    for m in &log.steps {
        put(scalars(
            m.step,
            now,
            &[
                ("train/loss", m.loss),
                ("representation/align", m.align),
                ("representation/uniform", m.uniform),
                ("representation/z_std", m.z_std),
                ("representation/effective_rank", m.effective_rank),
                ("train/lr", m.lr as f32),
            ],
        ));
        // The method's own space (its tag says which in the README, "loss_space/...").
        if let Some(o) = &m.own {
            put(scalars(
                m.step,
                now,
                &[
                    ("loss_space/align", o.align),
                    ("loss_space/uniform", o.uniform),
                    ("loss_space/z_std", o.z_std),
                    ("loss_space/effective_rank", o.effective_rank),
                ],
            ));
        }
    }
    for f in &log.full_evals {
        let mut values: Vec<(String, f32)> = f
            .knn
            .iter()
            .map(|k| (format!("eval_full/knn_top1_k{}", k.k), k.top1))
            .collect();
        values.push(("eval_full/probe_top1".into(), f.probe_top1));
        put(scalars(f.step, now, &values));
    }
    for e in &log.evals {
        put(scalars(
            e.step,
            now,
            &[
                ("eval/knn_top1", e.knn_top1),
                ("eval/knn_baseline_top1", e.baseline_top1),
            ],
        ));
        if !e.attributes.is_empty() {
            let tags: Vec<(String, f32)> = e
                .attributes
                .iter()
                .map(|a| (format!("eval_attribute/knn_{}_top1", a.name), a.top1))
                .collect();
            put(scalars(e.step, now, &tags));
        }
    }
    for p in &log.probes {
        put(scalars(
            p.step,
            now,
            &[
                ("eval/probe_top1", p.accuracy),
                ("eval/probe_baseline_top1", p.baseline),
            ],
        ));
    }
    out
}

/// TensorBoard's projector reads the exported embeddings through this file.
pub const PROJECTOR_CONFIG: &str = "projector_config.pbtxt";

pub fn projector_config() -> String {
    "embeddings {\n  tensor_name: \"held-out representations\"\n  tensor_path: \"vectors.tsv\"\n  \
     metadata_path: \"metadata.tsv\"\n}\n"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_tensorflows_masked_crc32c() {
        // TFRecord's masking of CRC32C("") = 0: rotate right by 15, add 0xa282ead8.
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        let mut out = Vec::new();
        record(&mut out, b"abc");
        assert_eq!(&out[..8], &3u64.to_le_bytes());
        assert_eq!(out.len(), 8 + 4 + 3 + 4);
        let crc = crc32c::crc32c(b"abc");
        assert_eq!(
            u32::from_le_bytes(out[15..19].try_into().unwrap_or_default()),
            crc.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }
}
