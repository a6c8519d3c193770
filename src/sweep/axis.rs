//! One varied setting: its key as written in a preset and its values, parsed from
//! `KEY=V1,V2,...` or `KEY=LO..HI:COUNT` (linear) / `KEY=LO..HI:COUNT:log`, and applied to
//! an experiment through the preset's own validation.

use serde::{Deserialize, Serialize};

use super::STRENGTH_KEY;
use crate::catalogue::{self, MethodSpec};
use crate::preset::Experiment;

/// Settings that say where a run goes, not what it is: not varied by a sweep.
const NOT_VARIED: &[&str] = &["train.backend", "train.remote", "train.remote_token_file"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// As written in a preset: `train.batch_size`, `method.temperature`, `method.kind`,
    /// or `views.strength`.
    pub key: String,
    pub values: Vec<toml::Value>,
}

impl Axis {
    /// `KEY=V1,V2,...`, `KEY=LO..HI:COUNT` or `KEY=LO..HI:COUNT:log`. Values are read as
    /// TOML (`64`, `0.1`, `true`), anything else as text (`byol`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (key, values) = text.split_once('=').ok_or_else(|| {
            format!("`{text}`: write KEY=V1,V2,... (e.g. train.batch_size=64,128)")
        })?;
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(format!("`{text}`: the setting's key is empty"));
        }
        let values = values.trim();
        let values = if let Some((range, count)) = values.split_once(':') {
            range_values(&key, range, count)?
        } else {
            split_top_level(values)
                .into_iter()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(value_of)
                .collect()
        };
        if values.is_empty() {
            return Err(format!("{key} has no values"));
        }
        Ok(Self { key, values })
    }

    /// The key's last segment, for cell names and table headers (`batch_size`).
    pub fn short_name(&self) -> &str {
        self.key.rsplit('.').next().unwrap_or(&self.key)
    }
}

/// `LO..HI` and `COUNT[:log]`: COUNT values from LO to HI, evenly or log-evenly spaced.
fn range_values(key: &str, range: &str, count: &str) -> Result<Vec<toml::Value>, String> {
    let bad = || format!("{key}: write a range as LO..HI:COUNT or LO..HI:COUNT:log");
    let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
    let (count, log) = match count.split_once(':') {
        Some((c, "log")) => (c, true),
        Some(_) => return Err(bad()),
        None => (count, false),
    };
    let parse = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    let count: usize = count.trim().parse().map_err(|_| bad())?;
    if !(2..=64).contains(&count) || !lo.is_finite() || !hi.is_finite() {
        return Err(format!(
            "{key}: a range needs finite ends and 2..=64 values"
        ));
    }
    if log && (lo <= 0.0 || hi <= 0.0) {
        return Err(format!("{key}: a log range needs positive ends"));
    }
    let integers = lo.fract() == 0.0 && hi.fract() == 0.0 && !log;
    let values = (0..count).map(|i| {
        let t = i as f64 / (count - 1) as f64;
        if log {
            (lo.ln() + t * (hi.ln() - lo.ln())).exp()
        } else {
            lo + t * (hi - lo)
        }
    });
    Ok(values
        .map(|v| {
            if integers && (v - v.round()).abs() < 1e-9 {
                toml::Value::Integer(v.round() as i64)
            } else {
                // Four significant digits: names and tables stay readable.
                toml::Value::Float(format!("{v:.4e}").parse().unwrap_or(v))
            }
        })
        .collect())
}

/// Splits at commas outside brackets and quotes, so a list value stays whole
/// (`[8,16],[16,32]` is two values).
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn value_of(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// A value as it reads in a folder name or a table: text without quotes.
pub fn plain(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every key a sweep can vary on `exp`: its `[train]` and `[encoder]` settings, its
/// method's settings, `method.kind` and `views.strength`.
pub fn valid_keys(exp: &Experiment) -> Vec<String> {
    // A preset leaves some settings out at their defaults (`encoder.kind`, `encoder.norm`,
    // `encoder.width`, the ViT's shape): an encoder far from the defaults writes them all.
    let mut every = exp.clone();
    every.encoder = crate::model::EncoderConfig {
        norm: crate::model::Norm::Layer,
        patch: 8,
        embed_dim: 64,
        depth: 2,
        heads: 2,
        pooling: crate::model::Pooling::Mean,
        image_size: 64,
        ..crate::model::EncoderConfig::resnet18(crate::model::encoder::RESNET_WIDTH / 2)
    };
    let mut keys: Vec<String> = exp
        .settings()
        .into_keys()
        .chain(every.settings().into_keys())
        .filter(|k| k.starts_with("train.") || k.starts_with("encoder."))
        .filter(|k| !NOT_VARIED.contains(&k.as_str()))
        .collect();
    keys.push("method.kind".into());
    if let Some(info) = catalogue::find(&exp.method.kind) {
        keys.extend(info.params.iter().map(|p| format!("method.{}", p.key)));
    }
    keys.push(STRENGTH_KEY.into());
    keys.sort();
    keys.dedup();
    keys
}

/// `exp` with `key` set to `value`, validated as a preset is; the error names the key.
pub fn apply(exp: &Experiment, key: &str, value: &toml::Value) -> Result<Experiment, String> {
    if key == "method.kind" {
        let id = plain(value);
        let info = catalogue::find(&id).ok_or_else(|| {
            let known: Vec<&str> = catalogue::methods().map(|m| m.id).collect();
            format!(
                "method.kind = {id:?} is not a known method; known: {}",
                known.join(", ")
            )
        })?;
        let mut out = exp.clone();
        out.method = MethodSpec::with_defaults(info);
        return Ok(out);
    }
    if key == STRENGTH_KEY {
        let s = value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64))
            .filter(|s| (0.0..=super::strength::MAX).contains(s) && *s > 0.0)
            .ok_or_else(|| {
                format!(
                    "{STRENGTH_KEY} = {} is out of range: must be in (0, {}]",
                    plain(value),
                    super::strength::MAX
                )
            })?;
        let mut out = exp.clone();
        super::strength::scale(&mut out.views, s);
        return out.validate().map(|()| out);
    }
    let method_key = key.strip_prefix("method.");
    let known = valid_keys(exp);
    if !known.iter().any(|k| k == key) && method_key.is_none() {
        return Err(format!(
            "`{key}` is not a setting a sweep can vary; valid keys: {}",
            known.join(", ")
        ));
    }
    let mut tree = toml::Value::try_from(exp).map_err(|e| e.to_string())?;
    set_path(&mut tree, key, value.clone())?;
    let text = toml::to_string(&tree).map_err(|e| e.to_string())?;
    Experiment::from_toml(&text, "the sweep").map_err(|e| match e {
        crate::preset::PresetError::Invalid { message, .. } => message,
        other => other.to_string(),
    })
}

/// Sets the dotted `key` in a preset's TOML tree; an integer where a float was becomes a
/// float (`learning_rate = 1`).
fn set_path(tree: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut node = tree;
    for p in parts {
        node = node
            .as_table_mut()
            .and_then(|t| t.get_mut(p))
            .ok_or_else(|| format!("`{key}` is not a setting of this experiment"))?;
    }
    let table = node
        .as_table_mut()
        .ok_or_else(|| format!("`{key}` is not a setting of this experiment"))?;
    let value = match (table.get(last), value) {
        (Some(toml::Value::Float(_)), toml::Value::Integer(i)) => toml::Value::Float(i as f64),
        (_, v) => v,
    };
    table.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_parse() {
        let a = Axis::parse("train.batch_size=32, 64,128").unwrap();
        assert_eq!(a.key, "train.batch_size");
        assert_eq!(a.values, vec![32.into(), 64.into(), 128.into()]);
        let a = Axis::parse("encoder.channels=[8,16], [16, 32]").unwrap();
        assert_eq!(a.values.len(), 2, "{:?}", a.values);
        assert_eq!(a.values[1].as_array().map(Vec::len), Some(2));
        let out = apply(&Experiment::default(), &a.key, &a.values[0]).unwrap();
        assert_eq!(out.encoder.channels, vec![8, 16]);
        let a = Axis::parse("method.kind=simclr,byol").unwrap();
        assert_eq!(a.values, vec!["simclr".into(), "byol".into()]);
        let a = Axis::parse("train.learning_rate=0.0001..0.01:3:log").unwrap();
        let v: Vec<f64> = a.values.iter().map(|v| v.as_float().unwrap()).collect();
        assert!(
            (v[0] - 1e-4).abs() < 1e-12
                && (v[1] - 1e-3).abs() < 1e-12
                && (v[2] - 1e-2).abs() < 1e-12,
            "{v:?}"
        );
        let a = Axis::parse("train.batch_size=32..128:4").unwrap();
        assert_eq!(a.values, vec![32.into(), 64.into(), 96.into(), 128.into()]);
        let a = Axis::parse("method.temperature=0.1..0.2:3").unwrap();
        assert_eq!(a.values[1].as_float(), Some(0.15));
        for bad in [
            "train.steps",
            "=1",
            "train.steps=",
            "a=1..2:1",
            "a=0..1:3:log",
            "a=1..x:3",
        ] {
            assert!(Axis::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_apply_through_the_presets_validation() {
        let exp = Experiment::default();
        let out = apply(&exp, "train.learning_rate", &1.into()).unwrap();
        assert_eq!(out.train.learning_rate, 1.0);
        let out = apply(&exp, "method.temperature", &0.3.into()).unwrap();
        assert_eq!(out.method.params["temperature"].as_float(), Some(0.3));
        let e = apply(&exp, "method.temperature", &(-1.0).into()).unwrap_err();
        assert!(
            e.contains("method.temperature") && e.contains("out of range"),
            "{e}"
        );
        let e = apply(&exp, "train.batch_sise", &8.into()).unwrap_err();
        assert!(
            e.contains("train.batch_sise") && e.contains("train.batch_size"),
            "{e}"
        );
        let e = apply(&exp, "train.backend", &"cpu".into()).unwrap_err();
        assert!(e.contains("not a setting a sweep can vary"), "{e}");
        let e = apply(&exp, "dataset.size", &64.into()).unwrap_err();
        assert!(e.contains("valid keys"), "{e}");
        let e = apply(&exp, "method.kind", &"nope".into()).unwrap_err();
        assert!(e.contains("simclr"), "{e}");
        let e = apply(&exp, STRENGTH_KEY, &0.into()).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        for key in [
            "encoder.kind",
            "encoder.norm",
            "encoder.width",
            "encoder.channels",
            "encoder.depth",
            "encoder.heads",
            "encoder.embed_dim",
            "encoder.patch",
            "encoder.pooling",
        ] {
            assert!(valid_keys(&exp).contains(&key.to_string()), "{key}");
        }
        let out = apply(&exp, "encoder.kind", &"resnet18".into()).unwrap();
        assert_eq!(out.encoder.kind, crate::model::EncoderKind::Resnet18);
        // A ViT's shape is checked as a preset's is: 3 heads cannot split 128.
        let vit = apply(&exp, "encoder.kind", &"vit".into()).unwrap();
        let e = apply(&vit, "encoder.heads", &3.into()).unwrap_err();
        assert!(e.contains("encoder.heads"), "{e}");
    }
}
