//! A net with its optimizer: one SGD step of the paper's recipe on one batch. The training loop
//! (`train`) decides which batch and rate; measurements (`measure`) read the net without stepping it.

use crate::backend;
use crate::config::{self, Config};
use crate::model::{self, Net};
use crate::plan::Run;
use tch::{Device, Kind, Reduction, Tensor, nn};

/// SGD with momentum as PyTorch's `torch.optim.SGD` (dampening 0, weight decay added to the
/// gradient, optional Nesterov), written out because tch's optimizer keeps its momentum buffers out
/// of reach and a checkpoint needs them.
struct Sgd {
    /// Trainable variables by name (sorted), so that checkpoints and tests can name the buffers.
    names: Vec<String>,
    params: Vec<Tensor>,
    buffers: Vec<Tensor>,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
}

impl Sgd {
    fn new(vs: &nn::VarStore, o: &config::Optimizer) -> Sgd {
        let mut named: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, params): (Vec<String>, Vec<Tensor>) = named.into_iter().unzip();
        let buffers = params.iter().map(Tensor::zeros_like).collect();
        Sgd {
            names,
            params,
            buffers,
            momentum: o.momentum,
            weight_decay: o.weight_decay,
            nesterov: o.nesterov,
        }
    }

    fn step(&mut self, lr: f64) {
        tch::no_grad(|| {
            for (p, buf) in self.params.iter_mut().zip(&mut self.buffers) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let mut d = if self.weight_decay != 0.0 { &g + &*p * self.weight_decay } else { g };
                if self.momentum != 0.0 {
                    // A zero buffer makes the first step's buffer the gradient, as PyTorch's does.
                    *buf *= self.momentum;
                    *buf += &d;
                    d = if self.nesterov { d + &*buf * self.momentum } else { buf.shallow_clone() };
                }
                *p -= d * lr;
            }
        });
    }

    fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }
}

/// A net with its variables and optimizer: what one training step needs.
pub struct Learner {
    pub vs: nn::VarStore,
    pub net: Net,
    sgd: Sgd,
    /// Forward passes under bfloat16 autocast (the config's `bf16`).
    bf16: bool,
}

impl Learner {
    /// Builds `run`'s net from its seed (so twins start from the same weights), in the memory
    /// format that `backend` chose for `device`, with variables of `kind` (Float to train).
    pub fn new(cfg: &Config, run: &Run, device: Device, kind: Kind) -> Learner {
        tch::manual_seed(run.seed as i64);
        let mut vs = nn::VarStore::new(device);
        let net = model::net(&vs.root(), run.arch, run.depth, run.shortcut);
        if kind != Kind::Float {
            vs.set_kind(kind);
        }
        if backend::channels_last(cfg, device) {
            model::make_channels_last(&vs);
        }
        let sgd = Sgd::new(&vs, &cfg.optimizer);
        Learner { vs, net, sgd, bf16: cfg.bf16 }
    }

    /// The autocast that every forward pass of this net runs under, if any; one per pass, so
    /// that its cached bf16 weights never outlive an SGD step.
    pub fn autocast(&self) -> Option<backend::Bf16Autocast> {
        self.bf16.then(|| backend::Bf16Autocast::new(self.vs.device()))
    }

    /// Forward, loss, backward and SGD step on one batch; returns the loss and the logits, still
    /// on the device (reading them back would cost a host synchronisation).
    pub fn step(&mut self, xs: &Tensor, ys: &Tensor, lr: f64) -> (Tensor, Tensor) {
        let (loss, logits) = {
            let _bf16 = self.autocast();
            let logits = xs.apply_t(&self.net, true);
            // ATen's cross_entropy, as F.cross_entropy (tch's cross_entropy_for_logits would take
            // the log-softmax in fp32 whatever the logits' precision); autocast computes it in fp32.
            (logits.cross_entropy_loss::<Tensor>(ys, None, Reduction::Mean, -100, 0.0), logits)
        };
        self.sgd.zero_grad();
        loss.backward();
        self.sgd.step(lr);
        (loss.detach(), logits.detach())
    }

    /// The momentum buffer of every trainable variable, by variable name.
    pub fn momentum_buffers(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.sgd.names.iter().map(String::as_str).zip(&self.sgd.buffers)
    }

    /// The same, to restore them from a checkpoint.
    pub fn momentum_buffers_mut(&mut self) -> impl Iterator<Item = (&str, &mut Tensor)> {
        self.sgd.names.iter().map(String::as_str).zip(&mut self.sgd.buffers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};

    /// Our SGD against tch's (libtorch's C++ torch::optim::SGD) on the same net and batches, in
    /// float64. In float32 the two differ in rounding (we add `wd·p` and scale by `lr` in separate
    /// ops, libtorch fuses them), and three steps through batch norm on 8 images amplify that to
    /// 6e-3 relative on some inputs: 3 of 80 random inputs broke a 1e-5 bound. In float64 the
    /// largest difference over the same 80 inputs was 2.4e-15 relative, so 1e-10 catches any slip
    /// in the update rule (a momentum off by one part in a million fails it) and no rounding.
    #[test]
    fn sgd_matches_libtorch() {
        use tch::nn::OptimizerConfig;
        let _rng = crate::testing::torch_rng_lock();
        tch::manual_seed(0);
        let xs = Tensor::randn([8, 3, 32, 32], (Kind::Double, Device::Cpu));
        let ys = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5, 6, 7]);
        for nesterov in [false, true] {
            let o = config::Optimizer { lr: 0.1, momentum: 0.9, weight_decay: 1e-4, nesterov };
            let build = || {
                tch::manual_seed(1);
                let mut vs = nn::VarStore::new(Device::Cpu);
                let net = model::net(&vs.root(), Arch::Residual, 8, Shortcut::B);
                vs.set_kind(Kind::Double);
                (vs, net)
            };
            let (vs_a, net_a) = build();
            let (vs_b, net_b) = build();
            let mut ours = Sgd::new(&vs_a, &o);
            let mut theirs =
                nn::Sgd { momentum: 0.9, dampening: 0.0, wd: 1e-4, nesterov }.build(&vs_b, 0.1).unwrap();
            for step in 0..3 {
                let lr = if step == 2 { 0.01 } else { 0.1 };
                ours.zero_grad();
                xs.apply_t(&net_a, true).cross_entropy_for_logits(&ys).backward();
                ours.step(lr);
                theirs.set_lr(lr);
                theirs.backward_step(&xs.apply_t(&net_b, true).cross_entropy_for_logits(&ys));
            }
            let (a, b) = (vs_a.variables(), vs_b.variables());
            for (name, t) in &a {
                assert!(t.allclose(&b[name], 1e-10, 1e-12, false), "{name} (nesterov {nesterov})");
            }
        }
    }
}
