//! CPC's context networks over a grid of patch embeddings: the context at row `r` sees only
//! rows `0..=r` (of every column for the masked convolution, of its own column for the GRU),
//! so predicting rows below it is a real prediction of unseen content.
//!
//! - `MaskedConv` (van den Oord et al. 2018 for images; Henaff et al. 2020): PixelCNN-style
//!   convolutions padded only above, so an output row never sees the rows under it.
//! - `Gru`: a GRU running down each column (the sequence model CPC uses for audio).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::gru::{Gru, GruConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Which context network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextKind {
    MaskedConv,
    Gru,
}

/// Three causal 3x3 convolutions (kernel rows r-2..=r), residual after the first: row `r`
/// sees up to 6 rows above it.
#[derive(Module, Debug)]
pub struct MaskedConvStack {
    pub layers: Vec<Conv2d>,
}

impl MaskedConvStack {
    fn new(input: usize, hidden: usize, device: &Device) -> Self {
        let causal = |c_in| {
            Conv2dConfig::new([c_in, hidden], [3, 3])
                // top, left, bottom, right: rows come only from above.
                .with_padding(PaddingConfig2d::Explicit(2, 1, 0, 1))
                .init(device)
        };
        Self {
            layers: vec![causal(input), causal(hidden), causal(hidden)],
        }
    }

    fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let mut h = relu(self.layers[0].forward(z));
        for layer in &self.layers[1..] {
            h = h.clone() + relu(layer.forward(h));
        }
        h
    }
}

/// The context network: exactly one of the two is present.
#[derive(Module, Debug)]
pub struct ContextNet {
    pub masked: Option<MaskedConvStack>,
    pub gru: Option<Gru>,
}

impl ContextNet {
    pub fn new(kind: ContextKind, input: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            ContextKind::MaskedConv => Self {
                masked: Some(MaskedConvStack::new(input, hidden, device)),
                gru: None,
            },
            ContextKind::Gru => Self {
                masked: None,
                gru: Some(GruConfig::new(input, hidden, true).init(device)),
            },
        }
    }

    /// `[B, d, rows, cols]` patch embeddings -> `[B, hidden, rows, cols]` contexts; the
    /// context at `(r, c)` depends only on rows `0..=r`.
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        if let Some(m) = &self.masked {
            return m.forward(z);
        }
        let Some(gru) = &self.gru else {
            return z;
        };
        let [b, d, rows, cols] = z.dims();
        // One sequence per column, running down the rows: [B * cols, rows, d].
        let seq = z.permute([0, 3, 2, 1]).reshape([b * cols, rows, d]);
        let out = gru.forward(seq, None);
        let hidden = out.dims()[2];
        out.reshape([b, cols, rows, hidden]).permute([0, 3, 2, 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// Changing row 3 of the input changes no context in rows 0..3, and does change row 3.
    #[test]
    fn contexts_never_see_the_rows_below() {
        let d = Device::flex();
        for kind in [ContextKind::MaskedConv, ContextKind::Gru] {
            let net = ContextNet::new(kind, 4, 6, &d);
            let z = Tensor::<4>::random([2, 4, 5, 5], Distribution::Normal(0.0, 1.0), &d);
            let bump = Tensor::<4>::random([2, 4, 1, 5], Distribution::Normal(0.0, 3.0), &d);
            let changed = z
                .clone()
                .slice_assign([0..2, 0..4, 3..4, 0..5], z.clone().narrow(2, 3, 1) + bump);
            let (a, b) = (net.forward(z), net.forward(changed));
            assert_eq!(a.dims(), [2, 6, 5, 5]);
            let above = |t: Tensor<4>| values(t.narrow(2, 0, 3));
            assert_eq!(
                above(a.clone()),
                above(b.clone()),
                "{kind:?} saw a lower row"
            );
            let row3 = |t: Tensor<4>| values(t.narrow(2, 3, 1));
            assert_ne!(row3(a), row3(b), "{kind:?} ignores its own row");
        }
    }

    #[test]
    fn masked_conv_sees_rows_above_in_every_column_and_gru_only_its_own_column() {
        let d = Device::flex();
        for (kind, crosses_columns) in [(ContextKind::MaskedConv, true), (ContextKind::Gru, false)]
        {
            let net = ContextNet::new(kind, 4, 6, &d);
            let z = Tensor::<4>::random([1, 4, 5, 5], Distribution::Normal(0.0, 1.0), &d);
            // Change row 0, column 0 only; look at row 1, column 1.
            let bump = Tensor::<4>::random([1, 4, 1, 1], Distribution::Normal(0.0, 3.0), &d);
            let changed = z.clone().slice_assign(
                [0..1, 0..4, 0..1, 0..1],
                z.clone().narrow(2, 0, 1).narrow(3, 0, 1) + bump,
            );
            let at = |t: Tensor<4>| values(t.narrow(2, 1, 1).narrow(3, 1, 1));
            let differs = at(net.forward(z)) != at(net.forward(changed));
            assert_eq!(differs, crosses_columns, "{kind:?}");
        }
    }
}
