//! Method settings: declared by each method as [`ParamSpec`]s, stored in presets as
//! `[method] kind = "..."` plus `key = value` lines, checked against the spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MethodInfo, REGISTRY, find};

/// One numeric setting of a method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    /// Whole numbers only (dimensions, sizes).
    pub integer: bool,
    /// Drawn on a logarithmic slider (temperatures, rates).
    pub logarithmic: bool,
}

/// `[method]` in a preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodSpec {
    pub kind: String,
    #[serde(flatten)]
    pub params: toml::Table,
}

impl Default for MethodSpec {
    fn default() -> Self {
        Self {
            kind: "simclr".into(),
            params: toml::Table::new(),
        }
    }
}

impl MethodSpec {
    /// A spec with every parameter at its default.
    pub fn with_defaults(info: &MethodInfo) -> Self {
        Self {
            kind: info.id.into(),
            params: info
                .params
                .iter()
                .map(|p| (p.key.to_string(), value_of(p, p.default)))
                .collect(),
        }
    }

    /// Sets one parameter (as the UI does).
    pub fn set(&mut self, spec: &ParamSpec, v: f64) {
        self.params.insert(spec.key.into(), value_of(spec, v));
    }
}

fn value_of(spec: &ParamSpec, v: f64) -> toml::Value {
    if spec.integer {
        toml::Value::Integer(v.round() as i64)
    } else {
        toml::Value::Float(v)
    }
}

/// Resolved settings: every declared key with a checked value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Params(BTreeMap<&'static str, f64>);

impl Params {
    /// The value of `key`. Keys come from the method's own spec list, so a missing key is
    /// a programming error.
    pub fn get(&self, key: &str) -> f64 {
        self.0
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("method parameter {key} is not declared"))
    }
}

/// Looks up the method and checks its settings; errors name the field.
pub fn resolve(spec: &MethodSpec) -> Result<(&'static MethodInfo, Params), String> {
    let info = find(&spec.kind).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|m| m.id).collect();
        format!(
            "method.kind = \"{}\" is not a known method; known: {}",
            spec.kind,
            known.join(", ")
        )
    })?;
    for key in spec.params.keys() {
        if !info.params.iter().any(|p| p.key == key) {
            let known: Vec<&str> = info.params.iter().map(|p| p.key).collect();
            return Err(format!(
                "method.{key} is not a setting of {}; its settings are: {}",
                info.id,
                known.join(", ")
            ));
        }
    }
    let mut out = BTreeMap::new();
    for p in info.params {
        let v = match spec.params.get(p.key) {
            None => p.default,
            Some(toml::Value::Float(f)) if !p.integer => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(other) => {
                return Err(format!(
                    "method.{} = {other} has the wrong type: expected {}",
                    p.key,
                    if p.integer { "an integer" } else { "a number" }
                ));
            }
        };
        if !(v.is_finite() && v >= p.min && v <= p.max) {
            return Err(format!(
                "method.{} = {v} is out of range: must be in {}..={}",
                p.key, p.min, p.max
            ));
        }
        out.insert(p.key, v);
    }
    Ok((info, Params(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_resolves_with_its_defaults_and_round_trips_a_change() {
        for info in REGISTRY {
            let mut spec = MethodSpec::with_defaults(info);
            let (found, params) = resolve(&spec).unwrap();
            assert_eq!(found.id, info.id);
            for p in info.params {
                assert_eq!(params.get(p.key), p.default, "{}.{}", info.id, p.key);
                spec.set(p, p.max);
            }
            let (_, params) = resolve(&spec).unwrap();
            for p in info.params {
                assert_eq!(params.get(p.key), p.max);
            }
        }
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_named() {
        let mut spec = MethodSpec::default();
        spec.params
            .insert("projection_dim".into(), toml::Value::Float(12.5));
        assert!(
            resolve(&spec)
                .unwrap_err()
                .contains("method.projection_dim")
        );
        let mut spec = MethodSpec::default();
        spec.params.insert("tau".into(), toml::Value::Float(0.1));
        let e = resolve(&spec).unwrap_err();
        assert!(e.contains("method.tau") && e.contains("temperature"), "{e}");
    }
}
