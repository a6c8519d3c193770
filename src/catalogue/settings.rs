//! Typed method settings. A method declares its settings once, as a struct whose fields
//! carry their [`ParamSpec`]s; [`settings!`] derives from it the spec list that presets
//! and the UI use and a reader that turns resolved [`Params`] into the struct. The key of
//! each setting is its field's name, so a method can never ask for a setting it did not
//! declare.

use super::{ParamSpec, Params};

/// How a field of a settings struct is read from its resolved value.
pub trait FromParam {
    fn from_param(params: &Params, key: &'static str) -> Self;
}

impl FromParam for f64 {
    fn from_param(params: &Params, key: &'static str) -> Self {
        params.get(key)
    }
}

impl FromParam for f32 {
    fn from_param(params: &Params, key: &'static str) -> Self {
        params.get(key) as f32
    }
}

impl FromParam for usize {
    fn from_param(params: &Params, key: &'static str) -> Self {
        params.count(key)
    }
}

impl FromParam for bool {
    fn from_param(params: &Params, key: &'static str) -> Self {
        params.on(key)
    }
}

/// A choice setting: the name of the chosen option.
impl FromParam for &'static str {
    fn from_param(params: &Params, key: &'static str) -> Self {
        params.choice(key)
    }
}

/// Declares a method's settings struct:
///
/// ```ignore
/// settings! {
///     pub struct SimClrSettings {
///         temperature: f32 = ParamSpec::number("temperature t", "...", 0.2, 0.01, 10.0).log(),
///     }
/// }
/// ```
///
/// gives the struct, `SimClrSettings::PARAMS` (for `MethodInfo::params`) and
/// `SimClrSettings::read(&params)`.
#[macro_export]
macro_rules! settings {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty = $spec:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $name {
            /// Every setting, keyed by its field's name.
            pub const PARAMS: &'static [$crate::catalogue::ParamSpec] =
                &[ $( $spec.keyed(stringify!($field)), )* ];

            /// The settings from resolved values.
            pub fn read(params: &$crate::catalogue::Params) -> Self {
                Self {
                    $( $field: $crate::catalogue::settings::FromParam::from_param(
                        params,
                        stringify!($field),
                    ), )*
                }
            }
        }
    };
}

/// The softmax temperature of a contrastive loss (a logarithmic slider over 0.01..=10).
pub const fn temperature(default: f64, help: &'static str) -> ParamSpec {
    ParamSpec::number("temperature t", help, default, 0.01, 10.0).log()
}

/// A hidden layer's width (of a projector or predictor MLP).
pub const fn hidden_width(label: &'static str, default: f64, help: &'static str) -> ParamSpec {
    ParamSpec::integer(label, help, default, 8.0, 8192.0).log()
}

/// The dimension of the space a loss sees (a projector's output).
pub const fn projection_dim(default: f64, help: &'static str) -> ParamSpec {
    ParamSpec::integer("projection dim", help, default, 2.0, 8192.0).log()
}

/// The momentum at step 0 of a target that follows its online network by EMA, rising to 1
/// by the last step on a cosine (BYOL, MoCo v3, PixPro).
pub const fn cosine_momentum(label: &'static str, help: &'static str) -> ParamSpec {
    ParamSpec::number(label, help, 0.99, 0.0, 0.99999)
}

/// The hidden width of a projector and predictor pair (BYOL's and MoCo v3's).
pub const MLP_HIDDEN: ParamSpec = hidden_width(
    "MLP hidden width",
    512.0,
    "Hidden width of projector and predictor (4096 in the paper)",
);

/// The output of a projector and predictor pair (BYOL's and MoCo v3's).
pub const MLP_OUTPUT: ParamSpec = projection_dim(
    128.0,
    "Output of projector and predictor (256 in the paper)",
);

/// Settings every memory-bank method (InstDisc, CMC) shares, with the papers' values.
pub const BANK_TEMPERATURE: ParamSpec =
    ParamSpec::number("temperature t", "0.07 in the paper", 0.07, 0.01, 10.0).log();
pub const BANK_MOMENTUM: ParamSpec = ParamSpec::number(
    "bank momentum",
    "How much of the old entry is kept at each update (0.5 in the paper)",
    0.5,
    0.0,
    0.999,
);
pub const BANK_FEATURE_DIM: ParamSpec = ParamSpec::integer(
    "feature dim",
    "Dimension of the features stored in the bank (128 in the paper)",
    128.0,
    2.0,
    2048.0,
)
.log();
