//! The momentum composition: an online network trained with the experiment's optimiser and
//! a momentum target, a copy of (part of) it that gets no gradient and follows it by an
//! exponential moving average after every applied step. BYOL, MoCo v3 and PixPro are this
//! composition plus their loss (lightly's `update_momentum`, solo-learn's momentum base
//! class); MoCo v1/v2 hold its [`OnlineTarget`] beside their queue.

use burn::module::{Module, ParamId};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::tensor::Tensor;

use super::common::{Backbone, PredictorNet};
use super::persist::Persist;
use super::plain::{Pairs, Scored};
use super::trainable::Trainable;
use super::{BuildContext, Method, StepError, StepOutput, TrainBatch};
use crate::model::Encoder;
use crate::model::ema::{ema_update, momentum_copy};

/// How the target's momentum moves over a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The same momentum at every step (MoCo v1/v2).
    Constant(f64),
    /// From `base` at step 0 to 1 at step `total`, on a half cosine (BYOL sec. 3.2, MoCo
    /// v3): `1 - (1 - base)(cos(pi k / K) + 1) / 2`.
    Cosine { base: f64, total: u64 },
}

impl Schedule {
    /// The cosine schedule from `base` over the experiment's steps.
    pub fn cosine(ctx: &BuildContext, base: f64) -> Self {
        Self::Cosine {
            base,
            total: ctx.train.steps,
        }
    }

    /// The momentum of the update after step `step`.
    pub fn at(self, step: u64) -> f64 {
        match self {
            Self::Constant(m) => m,
            Self::Cosine { base, total } => {
                let progress = step as f64 / total.max(1) as f64;
                1.0 - (1.0 - base) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
            }
        }
    }
}

/// An online network, and the part of it its momentum target copies and follows.
pub trait Online: Module {
    type Target: Module;
    fn followed(&self) -> &Self::Target;
}

/// A momentum target as a loss sees it: what it gives for a batch of views (detached: no
/// gradient reaches it), and the encoder inside it (also the online network's, followed).
pub trait Target: Module {
    type Keys;
    fn keys(&self, views: Tensor<4>) -> Self::Keys;
    fn encoder(&self) -> &Encoder;
    /// The projector applied to the encoder's output, where the followed part has one (the
    /// picture of the head's space).
    fn head_of(&self, _h: Tensor<2>) -> Option<Tensor<2>> {
        None
    }
}

impl Online for PredictorNet {
    type Target = Backbone;

    fn followed(&self) -> &Backbone {
        &self.backbone
    }
}

/// BYOL's target projections, MoCo v3's keys: `[B, d]`.
impl Target for Backbone {
    type Keys = Tensor<2>;

    fn keys(&self, views: Tensor<4>) -> Tensor<2> {
        self.forward(views).detach()
    }

    fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    fn head_of(&self, h: Tensor<2>) -> Option<Tensor<2>> {
        Some(self.projector.forward(h))
    }
}

/// An online network with its optimiser, and its momentum target.
pub struct OnlineTarget<N: Online> {
    online: Trainable<N>,
    /// `None` only while a step moves it through its update.
    target: Option<N::Target>,
    schedule: Schedule,
    /// The checkpoint sections of the online network and of the target.
    names: [&'static str; 2],
}

impl<N: Online> OnlineTarget<N> {
    /// `online` trained with the experiment's optimiser; the target is `fresh` (built like
    /// the followed part, so that it has BatchNorm statistics of its own) with the followed
    /// weights copied in and gradients off. Checkpoint sections "online" and "target".
    pub fn new(ctx: &BuildContext, online: N, fresh: N::Target, schedule: Schedule) -> Self {
        let target = momentum_copy(fresh, online.followed());
        Self {
            online: Trainable::new(online, super::optimizer::build_optimizer(ctx.train)),
            target: Some(target),
            schedule,
            names: ["online", "target"],
        }
    }

    /// Other checkpoint section names (MoCo's "query" and "key").
    pub fn named(mut self, online: &'static str, target: &'static str) -> Self {
        self.names = [online, target];
        self
    }

    pub fn online(&self) -> &N {
        self.online.net()
    }

    pub fn target(&self) -> &N::Target {
        self.target.as_ref().expect("target present between steps")
    }

    /// One step at `step`: `keys` runs the target, `loss` the online network on what the
    /// target gave. When the loss is finite the optimiser updates the online network and
    /// the target then moves toward it by EMA at the schedule's momentum. Returns the loss
    /// value, the loss's extra output and the momentum.
    pub fn step<K, X>(
        &mut self,
        lr: impl Into<ModuleLearningRate>,
        step: u64,
        keys: impl FnOnce(&N::Target) -> K,
        loss: impl FnOnce(&N, K) -> (Tensor<1>, X),
    ) -> Result<(f32, X, f64), StepError> {
        self.step_freezing(lr, &[], step, keys, loss)
    }

    /// As [`OnlineTarget::step`], the `frozen` parameters left out of the update (see
    /// [`Trainable::step_freezing`]); the target still follows them.
    pub fn step_freezing<K, X>(
        &mut self,
        lr: impl Into<ModuleLearningRate>,
        frozen: &[ParamId],
        step: u64,
        keys: impl FnOnce(&N::Target) -> K,
        loss: impl FnOnce(&N, K) -> (Tensor<1>, X),
    ) -> Result<(f32, X, f64), StepError> {
        let keys = keys(self.target());
        let (value, extra) = self
            .online
            .step_freezing(lr, frozen, |net| loss(net, keys))?;
        let tau = self.schedule.at(step);
        let target = self.target.take().expect("target present between steps");
        self.target = Some(ema_update(target, self.online.net().followed(), tau));
        Ok((value, extra, tau))
    }

    /// The online network with its optimiser, and the target, under their section names.
    pub fn parts(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        let [online, target] = self.names;
        vec![(online, &mut self.online), (target, &mut self.target)]
    }
}

/// What the target gives a momentum loss.
pub type Keys<N> = <<N as Online>::Target as Target>::Keys;

/// An online network, its momentum target and a loss.
pub struct Momentum<N: Online, L> {
    nets: OnlineTarget<N>,
    loss: L,
    /// What the loss's embeddings are, for the dashboard.
    space: &'static str,
    /// The name the momentum is shown under.
    signal: &'static str,
    /// Handed to the loss in [`Pairs`] and shown by the dashboard.
    temperature: Option<f64>,
}

/// `online` trained by `loss` with the experiment's optimiser; its target (`fresh`, given
/// the followed weights) moves by EMA at `schedule`'s momentum. The loss gets the online
/// network, the batch and the target's keys for the batch's views, and gives the loss with
/// its signals and the embeddings the dashboard shows (`[2N, d]`, rows `i` and `i + N` a
/// pair).
pub fn momentum<N, L>(
    ctx: &BuildContext,
    online: N,
    fresh: N::Target,
    schedule: Schedule,
    loss: L,
) -> Momentum<N, L>
where
    N: Online,
    N::Target: Target,
    L: FnMut(&N, TrainBatch, Keys<N>, &Pairs) -> (Scored, Tensor<2>) + Send,
{
    Momentum {
        nets: OnlineTarget::new(ctx, online, fresh, schedule),
        loss,
        space: "the loss's embeddings",
        signal: "target tau",
        temperature: None,
    }
}

impl<N: Online, L> Momentum<N, L> {
    /// Names the space of the loss's embeddings.
    pub fn in_space(mut self, space: &'static str) -> Self {
        self.space = space;
        self
    }

    /// Shows the momentum as `name` (default "target tau").
    pub fn momentum_signal(mut self, name: &'static str) -> Self {
        self.signal = name;
        self
    }

    /// The loss's temperature, as [`super::plain::Plain::temperature`].
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }
}

impl<N, L> Method for Momentum<N, L>
where
    N: Online,
    N::Target: Target,
    L: FnMut(&N, TrainBatch, Keys<N>, &Pairs) -> (Scored, Tensor<2>) + Send,
{
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let pairs = Pairs::of(&batch, self.temperature);
        let (step, views) = (batch.step, batch.views.clone());
        let loss = &mut self.loss;
        let (value, (z, signals), tau) = self.nets.step(
            lr,
            step,
            |target| target.keys(views),
            |net, keys| {
                let (scored, z) = loss(net, batch, keys, &pairs);
                (scored.loss, (z, scored.signals))
            },
        )?;
        let dim = z.dims()[1];
        let mut out = StepOutput::new(value, z, dim).in_space(self.space);
        out.signals = signals;
        Ok(out.with_signal(self.signal, tau as f32))
    }

    fn encoder_ref(&self) -> &Encoder {
        self.nets.online().followed().encoder()
    }

    fn head(&self, h: Tensor<2>) -> Option<Tensor<2>> {
        // The online network's projector (BYOL's, MoCo v3's): what the predictor reads.
        self.nets.online().followed().valid().head_of(h)
    }

    fn state(&mut self) -> Vec<(&'static str, &mut dyn Persist)> {
        self.nets.parts()
    }

    fn logit_temperature(&self) -> Option<f32> {
        self.temperature.map(|t| t as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::methods::moco_v3::Settings;
    use crate::methods::TestBuild;
    use crate::methods::moco_v3::{build, networks};
    use crate::methods::state::MethodState;
    use burn::module::{ModuleVisitor, Param};

    /// Every float the module visits (parameters and BatchNorm statistics), each with
    /// whether it requires a gradient.
    #[derive(Default)]
    struct Values(Vec<(f32, bool)>);

    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let trained = t.is_require_grad();
            self.0
                .extend(t.into_data().iter::<f32>().map(|v| (v, trained)));
        }
    }

    fn values<M: Module>(m: &M) -> Vec<(f32, bool)> {
        let mut v = Values::default();
        m.visit(&mut v);
        v.0
    }

    #[test]
    fn mocov3s_momentum_encoder_gets_no_gradient_and_moves_only_by_its_ema() {
        let test = TestBuild::new("kind = \"mocov3\"\nmomentum = 0.9");
        let (ctx, device) = (test.ctx(), &test.device);
        // Fresh networks of the method's shapes: templates for its checkpoint sections.
        let (online, target) = networks(&ctx, &Settings::read(&test.params));
        // The target's weights and the followed online weights, as the method saves them.
        let weights = |m: &mut Box<dyn Method>| {
            let mut state = MethodState::default();
            m.save_state(&mut state).expect("saved");
            let online = state.module("online.net", online.clone()).expect("online");
            let target = state.module("target", target.clone()).expect("target");
            (values(&online.backbone), values(&target))
        };
        let mut method = build(&ctx);
        let (online_before, target_before) = weights(&mut method);
        let views =
            Tensor::<4>::random([8, 3, 16, 16], burn::tensor::Distribution::Default, device);
        let batch = TrainBatch::untracked(views.clone(), (0..4).collect(), 0);
        let out = method.train_step(batch, 0.05).expect("a finite loss");
        let tau = Schedule::cosine(&ctx, 0.9).at(0);
        assert_eq!(
            out.signals.last().map(|s| (s.name, s.value)),
            Some(("key momentum", tau as f32))
        );
        let (online_after, target_after) = weights(&mut method);
        assert_ne!(
            online_after, online_before,
            "the optimiser moved the online network"
        );
        // Learnt weights (BatchNorm's statistics aside, which its forward pass moves):
        // exactly the EMA of the target's old weights and the online network's new ones.
        let trained = values(&online.backbone);
        let mut compared = 0;
        for (k, &(_, learnt)) in trained.iter().enumerate() {
            if learnt {
                let expected =
                    tau as f32 * target_before[k].0 + (1.0 - tau as f32) * online_after[k].0;
                assert!((target_after[k].0 - expected).abs() < 1e-6, "weight {k}");
                compared += 1;
            }
        }
        assert!(compared > 100, "{compared} weights compared");
        // And no gradient reaches the momentum encoder, even with its output not detached.
        let copy = momentum_copy(target, &online.backbone);
        let loss = online.forward(views.clone()).1.sum() + copy.forward(views).sum();
        let grads = loss.backward();
        struct Gradients<'a>(&'a burn::tensor::Gradients, usize, usize);
        impl ModuleVisitor for Gradients<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                match param.val().grad(self.0) {
                    Some(_) => self.1 += 1,
                    None => self.2 += 1,
                }
            }
        }
        let mut seen = Gradients(&grads, 0, 0);
        copy.visit(&mut seen);
        assert_eq!(seen.1, 0, "a momentum encoder parameter got a gradient");
        let mut seen = Gradients(&grads, 0, 0);
        online.backbone.visit(&mut seen);
        assert!(seen.1 > 0, "the online network got no gradient");
    }

    #[test]
    fn the_cosine_schedule_runs_from_its_base_to_one() {
        let at = |step| {
            Schedule::Cosine {
                base: 0.996,
                total: 100,
            }
            .at(step)
        };
        assert!((at(0) - 0.996).abs() < 1e-12);
        assert!((at(50) - 0.998).abs() < 1e-12);
        assert!((at(100) - 1.0).abs() < 1e-12);
        assert_eq!(Schedule::Constant(0.99).at(70), 0.99);
    }
}
