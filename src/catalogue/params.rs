//! Method settings: declared by each method as [`ParamSpec`]s, stored in presets as
//! `[method] kind = "..."` plus `key = value` lines, checked against the spec.
//!
//! Values are held as `f64` whatever their kind: a switch is 0 or 1, a choice is the index
//! of the option. In TOML a switch is `true`/`false` and a choice is the option's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MethodInfo, find, methods};

/// What kind of value a setting takes, which decides its TOML form and its widget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A real number in `min..=max`; `log` draws a logarithmic slider (temperatures, rates).
    Number { log: bool },
    /// A whole number in `min..=max` (dimensions, sizes).
    Integer { log: bool },
    /// On or off: `true`/`false` in TOML, a checkbox in the UI.
    Switch,
    /// One of named options: the name in TOML, a drop-down in the UI.
    Choice(&'static [&'static str]),
}

/// One setting of a method.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub kind: ParamKind,
}

impl ParamSpec {
    /// A real-valued setting. Its key is set by [`crate::settings!`] from the
    /// field's name.
    pub const fn number(
        label: &'static str,
        help: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Self {
        Self {
            key: "",
            label,
            help,
            default,
            min,
            max,
            kind: ParamKind::Number { log: false },
        }
    }

    /// The same setting stored under `key` (the settings struct's field name).
    pub const fn keyed(mut self, key: &'static str) -> Self {
        self.key = key;
        self
    }

    /// A whole-number setting.
    pub const fn integer(
        label: &'static str,
        help: &'static str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Self {
        Self {
            kind: ParamKind::Integer { log: false },
            ..Self::number(label, help, default, min, max)
        }
    }

    /// An on/off setting.
    pub const fn switch(label: &'static str, help: &'static str, on: bool) -> Self {
        Self {
            kind: ParamKind::Switch,
            ..Self::number(label, help, if on { 1.0 } else { 0.0 }, 0.0, 1.0)
        }
    }

    /// One of `options`; `default` is an index into them.
    pub const fn choice(
        label: &'static str,
        help: &'static str,
        options: &'static [&'static str],
        default: usize,
    ) -> Self {
        Self {
            kind: ParamKind::Choice(options),
            ..Self::number(label, help, default as f64, 0.0, (options.len() - 1) as f64)
        }
    }

    /// The same setting drawn on a logarithmic slider.
    pub const fn log(mut self) -> Self {
        self.kind = match self.kind {
            ParamKind::Number { .. } => ParamKind::Number { log: true },
            ParamKind::Integer { .. } => ParamKind::Integer { log: true },
            other => other,
        };
        self
    }

    /// Whole numbers only (integers, switches and choices).
    pub fn is_integer(&self) -> bool {
        !matches!(self.kind, ParamKind::Number { .. })
    }
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
    match spec.kind {
        ParamKind::Number { .. } => toml::Value::Float(v),
        ParamKind::Integer { .. } => toml::Value::Integer(v.round() as i64),
        ParamKind::Switch => toml::Value::Boolean(v >= 0.5),
        ParamKind::Choice(options) => {
            let i = (v.round().max(0.0) as usize).min(options.len() - 1);
            toml::Value::String(options[i].into())
        }
    }
}

/// Resolved settings: every declared key with a checked value. Methods read them through
/// their typed settings struct (see [`crate::settings!`]), never by string.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Params {
    values: BTreeMap<&'static str, f64>,
    specs: &'static [ParamSpec],
}

impl Params {
    /// The value of `key`. Keys come from the method's own spec list, so a missing key is
    /// a programming error (the settings structs make it impossible).
    pub fn get(&self, key: &str) -> f64 {
        self.values
            .get(key)
            .copied()
            .unwrap_or_else(|| panic!("method parameter {key} is not declared"))
    }

    /// A switch's state.
    pub fn on(&self, key: &str) -> bool {
        self.get(key) >= 0.5
    }

    /// A whole-number setting (sizes, dimensions, choice indices).
    pub fn count(&self, key: &str) -> usize {
        self.get(key).round().max(0.0) as usize
    }

    /// The chosen option of a choice setting, by name.
    pub fn choice(&self, key: &str) -> &'static str {
        let index = self.count(key);
        match self.specs.iter().find(|p| p.key == key).map(|p| p.kind) {
            Some(ParamKind::Choice(options)) => options[index.min(options.len() - 1)],
            _ => panic!("method parameter {key} is not a choice"),
        }
    }
}

/// Reads one value from TOML as the spec's kind; errors name the field.
fn read_value(p: &ParamSpec, value: &toml::Value) -> Result<f64, String> {
    let wrong = |expected: &str| {
        format!(
            "method.{} = {value} has the wrong type: expected {expected}",
            p.key
        )
    };
    match (p.kind, value) {
        (ParamKind::Number { .. }, toml::Value::Float(f)) => Ok(*f),
        (ParamKind::Number { .. } | ParamKind::Integer { .. }, toml::Value::Integer(i)) => {
            Ok(*i as f64)
        }
        (ParamKind::Number { .. }, _) => Err(wrong("a number")),
        (ParamKind::Integer { .. }, _) => Err(wrong("an integer")),
        (ParamKind::Switch, toml::Value::Boolean(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        (ParamKind::Switch, _) => Err(wrong("true or false")),
        (ParamKind::Choice(options), toml::Value::String(s)) => options
            .iter()
            .position(|o| o == s)
            .map(|i| i as f64)
            .ok_or_else(|| {
                format!(
                    "method.{} = \"{s}\" is not an option; options: {}",
                    p.key,
                    options.join(", ")
                )
            }),
        (ParamKind::Choice(options), _) => {
            Err(wrong(&format!("one of the strings {}", options.join(", "))))
        }
    }
}

/// Looks up the method and checks its settings; errors name the field.
pub fn resolve(spec: &MethodSpec) -> Result<(&'static MethodInfo, Params), String> {
    let info = find(&spec.kind).ok_or_else(|| {
        let known: Vec<&str> = methods().map(|m| m.id).collect();
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
            Some(value) => read_value(p, value)?,
        };
        if !(v.is_finite() && v >= p.min && v <= p.max) {
            return Err(format!(
                "method.{} = {v} is out of range: must be in {}..={}",
                p.key, p.min, p.max
            ));
        }
        out.insert(p.key, v);
    }
    Ok((
        info,
        Params {
            values: out,
            specs: info.params,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_resolves_with_its_defaults_and_round_trips_a_change() {
        for info in methods() {
            let mut spec = MethodSpec::with_defaults(info);
            let (found, params) = resolve(&spec).unwrap();
            assert_eq!(found.id, info.id);
            for p in info.params {
                assert_eq!(params.get(p.key), p.default, "{}.{}", info.id, p.key);
                assert!(
                    p.min <= p.default && p.default <= p.max,
                    "{}.{}",
                    info.id,
                    p.key
                );
                spec.set(p, p.max);
            }
            let text = toml::to_string(&spec).unwrap();
            let back: MethodSpec = toml::from_str(&text).unwrap();
            let (_, params) = resolve(&back).unwrap();
            for p in info.params {
                assert_eq!(params.get(p.key), p.max, "{}.{}", info.id, p.key);
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

    #[test]
    fn switches_and_choices_read_their_toml_forms() {
        let spec: MethodSpec =
            toml::from_str("kind = \"simsiam\"\nstop_gradient = false\n").unwrap();
        let (_, params) = resolve(&spec).unwrap();
        assert!(!params.on("stop_gradient"));
        let spec: MethodSpec = toml::from_str("kind = \"simsiam\"\nstop_gradient = 0\n").unwrap();
        let e = resolve(&spec).unwrap_err();
        assert!(
            e.contains("method.stop_gradient") && e.contains("true or false"),
            "{e}"
        );
        let spec: MethodSpec =
            toml::from_str("kind = \"triplet\"\nmining = \"hardest\"\n").unwrap();
        let e = resolve(&spec).unwrap_err();
        assert!(
            e.contains("method.mining") && e.contains("semi-hard"),
            "{e}"
        );
        let spec: MethodSpec = toml::from_str("kind = \"triplet\"\nmining = \"hard\"\n").unwrap();
        let (info, params) = resolve(&spec).unwrap();
        let ParamKind::Choice(options) =
            info.params.iter().find(|p| p.key == "mining").unwrap().kind
        else {
            panic!("mining is a choice")
        };
        assert_eq!(options[params.count("mining")], "hard");
    }
}
