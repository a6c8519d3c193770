//! DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers",
//! Algorithm 1): a student (encoder and `DinoHead`) is trained to match, on every other
//! crop, the centred and sharpened softmax of a teacher that is its momentum copy and sees
//! only the two global views. The centre is an EMA of the teacher's batch means, kept in
//! the checkpoint; the last layer is frozen for the first steps, as the reference cancels
//! its gradients during the first epoch.

use burn::module::{Module, ParamId, list_param_ids};
use burn::tensor::Tensor;

use super::common::{halves, tensor_2d};
use super::momentum::{Online, OnlineTarget, Schedule, Target};
use super::persist::Persist;
use super::state::{MethodState, StateError};
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::catalogue::methods::dino::Settings;
use crate::losses::{dino, mean_entropy, teacher_targets, updated_centre};
use crate::model::Encoder;
use crate::model::dino_head::{DinoHead, DinoHeadConfig};

/// The student's (and the teacher's) network: the encoder and DINO's head.
#[derive(Module, Debug)]
pub struct DinoNet {
    pub encoder: Encoder,
    pub head: DinoHead,
}

impl DinoNet {
    fn new(ctx: &BuildContext, s: &Settings) -> Self {
        let head = DinoHeadConfig {
            input: ctx.encoder.output_dim(),
            hidden: s.hidden,
            bottleneck: s.bottleneck,
            outputs: s.outputs,
        };
        Self {
            encoder: ctx.encoder.init(ctx.device),
            head: head.init(ctx.device),
        }
    }

    /// `[B, K]` outputs of `[B, 3, H, W]` images.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(x))
    }
}

/// The teacher follows the whole student.
impl Online for DinoNet {
    type Target = DinoNet;

    fn followed(&self) -> &DinoNet {
        self
    }
}

/// The teacher's outputs for the global views, `[2N, K]`, detached.
impl Target for DinoNet {
    type Keys = Tensor<2>;

    fn keys(&self, views: Tensor<4>) -> Tensor<2> {
        self.forward(views).detach()
    }

    fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}

/// The centre, `K` values.
struct Centre(Vec<f32>);

impl Persist for Centre {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        state.put_f32s(name, &self.0);
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        self.0 = state.f32s(name, self.0.len())?;
        Ok(())
    }
}

pub struct Dino {
    nets: OnlineTarget<DinoNet>,
    centre: Centre,
    s: Settings,
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    Box::new(Dino::new(ctx))
}

impl Dino {
    fn new(ctx: &BuildContext) -> Self {
        let s = Settings::read(ctx.params);
        let student = DinoNet::new(ctx, &s);
        let teacher = DinoNet::new(ctx, &s);
        Dino {
            nets: OnlineTarget::new(ctx, student, teacher, Schedule::cosine(ctx, s.momentum))
                .named("student", "teacher"),
            centre: Centre(vec![0.0; s.outputs]),
            s,
        }
    }
}

impl Dino {
    /// The teacher's temperature at `step`: linear from its start over the warm-up.
    pub fn teacher_temperature(&self, step: u64) -> f64 {
        let (start, end) = (self.s.teacher_temperature_start, self.s.teacher_temperature);
        let warmup = self.s.teacher_warmup_steps as f64;
        if (step as f64) >= warmup {
            return end;
        }
        start + (end - start) * step as f64 / warmup
    }

    /// The last layer's parameters while it is frozen (the reference sets their
    /// gradients to `None`, so the optimiser's moments do not see them either).
    fn frozen(&self, step: u64) -> Vec<ParamId> {
        if step >= self.s.freeze_last_layer_steps as u64 {
            return Vec::new();
        }
        // Taken from the network as it is now: loading a checkpoint gives its parameters
        // the ids they were saved with.
        list_param_ids(&self.nets.online().head.last)
    }
}

impl Method for Dino {
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let k = self.s.outputs;
        let device = batch.views.device();
        let (t_t, t_s) = (
            self.teacher_temperature(batch.step),
            self.s.student_temperature,
        );
        let centre = tensor_2d(self.centre.0.clone(), 1, k, &device);
        let used_centre = self.s.centering.then(|| centre.clone());
        let frozen = self.frozen(batch.step);
        let (views, local) = (batch.views, batch.local);
        let teacher_views = views.clone();
        let (loss, (student, teacher, targets), tau) = self.nets.step_freezing(
            lr,
            &frozen,
            batch.step,
            |teacher| teacher.keys(teacher_views),
            |net, teacher| {
                let student = net.forward(views);
                let (t1, t2) = halves(teacher.clone(), n);
                let targets = vec![
                    teacher_targets(t1, used_centre.clone(), t_t),
                    teacher_targets(t2, used_centre, t_t),
                ];
                let (s1, s2) = halves(student.clone(), n);
                let mut crops = vec![s1, s2];
                if let Some(local) = local {
                    let s_local = net.forward(local);
                    let count = s_local.dims()[0] / n;
                    crops.extend((0..count).map(|c| s_local.clone().narrow(0, c * n, n)));
                }
                (dino(&targets, &crops, t_s), (student, teacher, targets))
            },
        )?;
        // Only an applied step moves the centre (the reference: after the loss).
        let new_centre = updated_centre(centre, teacher, self.s.centre_momentum);
        self.centre.0 = new_centre.into_data().iter::<f32>().collect();
        let entropy = mean_entropy(Tensor::cat(targets, 0));
        let centre_norm = self.centre.0.iter().map(|c| c * c).sum::<f32>().sqrt();
        Ok(StepOutput::new(loss, student, k)
            .in_space("student outputs")
            // 1: the uniform collapse; 0 with a KL near 0: the one-hot collapse.
            .with_signal(
                "teacher entropy / ln K (1 uniform, 0 one-hot)",
                entropy / (k as f32).ln(),
            )
            // Each term's cross-entropy is the teacher's entropy plus the KL.
            .with_signal("KL teacher-student (nats)", loss - entropy)
            .with_signal("centre norm", centre_norm)
            .with_signal("teacher temperature", t_t as f32)
            .with_signal("teacher momentum", tau as f32))
    }

    fn encoder_ref(&self) -> &Encoder {
        &self.nets.online().encoder
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        let mut parts = self.nets.parts();
        parts.push(("centre", &mut self.centre));
        parts
    }

    fn logit_temperature(&self) -> Option<f32> {
        Some(self.s.student_temperature as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{TestBuild, test_batch as batch};

    fn last_layer(m: &Dino) -> Vec<f32> {
        let head = &m.nets.online().head;
        head.last
            .direction
            .val()
            .into_data()
            .iter::<f32>()
            .collect()
    }

    /// The last layer is left out of the first steps' updates (with Adam, whose moments
    /// would otherwise move it on the first step after), then trained.
    #[test]
    fn the_last_layer_is_frozen_for_its_steps_then_trained() {
        let b = TestBuild::new("kind = \"dino\"\noutputs = 16\nfreeze_last_layer_steps = 2");
        let mut m = Dino::new(&b.ctx());
        let start = last_layer(&m);
        for step in 0..2 {
            m.train_step(batch(step, &b.device), 1e-2).unwrap();
        }
        assert_eq!(last_layer(&m), start, "a frozen last layer moved");
        m.train_step(batch(2, &b.device), 1e-2).unwrap();
        let moved = last_layer(&m);
        // Adam's first step for a parameter moves each weight by the rate (m / sqrt(v) =
        // g / |g|, short of it only where |g| nears Adam's epsilon): the frozen steps'
        // gradients never reached its moments. Measured: 17-72% of the weights (by the draw
        // of the initial weights, which tests do not seed) within 1% of the rate; at a zero
        // rate instead of dropped gradients, none. So the bound is a twentieth.
        let first_step = start
            .iter()
            .zip(&moved)
            .filter(|(a, b)| ((*a - *b).abs() / 1e-2 - 1.0).abs() < 0.01)
            .count();
        assert!(
            first_step * 20 >= start.len(),
            "{first_step} of {} weights moved by Adam's first step",
            start.len()
        );
    }
}
