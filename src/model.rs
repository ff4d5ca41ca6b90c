//! The paper's CIFAR nets (section 4.2): a 3x3 conv, three stages of 2n 3x3 convs on 32x32,
//! 16x16 and 8x8 maps with 16, 32 and 64 filters, global average pooling and a 10-way FC layer.
//! Plain and residual nets share every layer; a residual block only adds its shortcut before the
//! last ReLU. This is the one module that knows layer shapes.

use crate::config::{Arch, Shortcut};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// Filters per stage; the first conv of stages 2 and 3 has stride 2.
const WIDTHS: [i64; 3] = [16, 32, 64];
const CLASSES: i64 = 10;

/// n in 6n+2: the number of conv pairs per stage.
pub fn blocks_per_stage(depth: u32) -> i64 {
    assert!(depth >= 8 && (depth - 2).is_multiple_of(6), "depth {depth} is not 6n+2");
    ((depth - 2) / 6) as i64
}

/// Conv without bias (BN follows), He-initialised: normal with std sqrt(2 / fan_in).
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl ConvBn {
    fn new(p: &nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64) -> ConvBn {
        let cfg = nn::ConvConfig {
            stride,
            padding: k / 2,
            bias: false,
            ws_init: nn::init::DEFAULT_KAIMING_NORMAL,
            ..Default::default()
        };
        // BN starts as the identity (scale 1, shift 0), as in the paper and PyTorch; tch's
        // default would draw the scale from U(0, 1).
        let bn = nn::BatchNormConfig { ws_init: nn::Init::Const(1.0), ..Default::default() };
        ConvBn {
            conv: nn::conv2d(p / "conv", c_in, c_out, k, cfg),
            bn: nn::batch_norm2d(p / "bn", c_out, bn),
        }
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train)
    }
}

/// What a residual block adds to its output; where the shape changes, A or B decides.
#[derive(Debug)]
enum Skip {
    Identity,
    /// Option A: every other pixel, new channels zero.
    SubsamplePad {
        extra_channels: i64,
    },
    /// Option B: 1x1 conv with stride 2, then BN.
    Projection(Box<ConvBn>),
}

impl Skip {
    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Skip::Identity => xs.shallow_clone(),
            Skip::SubsamplePad { extra_channels } => {
                xs.slice(2, 0, None, 2).slice(3, 0, None, 2).constant_pad_nd([0, 0, 0, 0, 0, *extra_channels])
            }
            Skip::Projection(p) => p.forward(xs, train),
        }
    }
}

/// Two 3x3 conv-BN layers: relu(bn2(conv2(relu(bn1(conv1 x)))) [+ skip(x)]).
#[derive(Debug)]
struct Block {
    first: ConvBn,
    second: ConvBn,
    /// None in a plain net.
    skip: Option<Skip>,
}

/// A layer's output, kept by the tap if there is one; what goes on is `h` itself or a copy.
fn keep(tap: &mut Option<Tap>, h: Tensor) -> Tensor {
    match tap.as_mut() {
        Some(Tap::Responses(r)) => {
            r.add(&h);
            h
        }
        // The ReLU and the addition work in place: they go on with a copy (the same gradient
        // flows into it), so that what is kept stays the BN output.
        Some(Tap::Outputs(kept)) => {
            let copy = h.copy();
            kept.push(h);
            copy
        }
        None | Some(Tap::Branches(_)) => h,
    }
}

/// A plain or residual CIFAR net of depth 6n+2. Use it as any tch module
/// (`xs.apply_t(&net, train)`), or through [`Net::forward_recording`] to measure layer responses.
#[derive(Debug)]
pub struct Net {
    stem: ConvBn,
    blocks: Vec<Block>,
    fc: nn::Linear,
}

/// Builds the net's variables under `p`: He init for convs, BN scale 1 and shift 0, and PyTorch's
/// default for the FC layer (the paper names none; weight and bias uniform in ±1/√fan_in, where
/// tch's default weight bound would be √(6/fan_in)). Every layer that plain and residual twins
/// share draws its init first, in network order; option B's projections come last, so that with
/// the same seed the twins start identical in every shared layer.
pub fn net(p: &nn::Path, arch: Arch, depth: u32, shortcut: Shortcut) -> Net {
    let n = blocks_per_stage(depth);
    let stem = ConvBn::new(&(p / "stem"), 3, WIDTHS[0], 3, 1);
    let mut blocks = Vec::new();
    let mut c_in = WIDTHS[0];
    for (s, &c_out) in WIDTHS.iter().enumerate() {
        for b in 0..n {
            let q = p / format!("stage{}", s + 1) / format!("block{}", b + 1);
            let stride = if s > 0 && b == 0 { 2 } else { 1 };
            let skip = match (arch, c_in == c_out, shortcut) {
                (Arch::Plain, _, _) => None,
                (Arch::Residual, true, _) => Some(Skip::Identity),
                (Arch::Residual, false, Shortcut::A) => {
                    Some(Skip::SubsamplePad { extra_channels: c_out - c_in })
                }
                // Created below, after the layers both twins have.
                (Arch::Residual, false, Shortcut::B) => None,
            };
            blocks.push(Block {
                first: ConvBn::new(&(&q / "conv1"), c_in, c_out, 3, stride),
                second: ConvBn::new(&(&q / "conv2"), c_out, c_out, 3, 1),
                skip,
            });
            c_in = c_out;
        }
    }
    let bound = 1.0 / (c_in as f64).sqrt();
    let uniform = nn::Init::Uniform { lo: -bound, up: bound };
    let fc = nn::linear(
        p / "fc",
        c_in,
        CLASSES,
        nn::LinearConfig { ws_init: uniform, bs_init: Some(uniform), bias: true },
    );
    if arch == Arch::Residual && shortcut == Shortcut::B {
        for (s, w) in WIDTHS.windows(2).enumerate() {
            let q = p / format!("stage{}", s + 2) / "block1" / "shortcut";
            blocks[(s + 1) * n as usize].skip =
                Some(Skip::Projection(Box::new(ConvBn::new(&q, w[0], w[1], 1, 2))));
        }
    }
    Net { stem, blocks, fc }
}

impl Net {
    /// The precision of the weights (Float unless a test asked for Double).
    pub fn kind(&self) -> Kind {
        self.stem.conv.ws.kind()
    }

    /// Whether the weights were re-laid by [`make_channels_last`] (inputs should follow).
    pub fn is_channels_last(&self) -> bool {
        let w = &self.stem.conv.ws;
        w.stride()[1] == 1 && w.size()[1] > 1
    }

    /// Inputs in the layout and precision of the net's weights (channels-last when its first conv
    /// is).
    pub fn inputs(&self, xs: Tensor) -> Tensor {
        let xs = xs.to_kind(self.kind());
        if self.is_channels_last() { channels_last(&xs) } else { xs }
    }

    /// The forward pass; with a [`Tap`], also keeps every 3x3 conv's output after its BN and
    /// before the ReLU / addition, in network order (where the paper's Fig. 7 measures).
    pub fn forward_recording(&self, xs: &Tensor, train: bool, tap: Option<Tap>) -> Tensor {
        self.forward_probed(xs, train, tap, &[])
    }

    /// [`Net::forward_recording`] with the blocks in `deleted` (0-based, network order) taken out,
    /// as Veit et al. delete them: a residual block leaves its shortcut, relu(shortcut(x)); a
    /// plain block leaves the identity, which only blocks that keep their input's shape have
    /// ([`Net::deletable`]).
    pub fn forward_probed(
        &self,
        xs: &Tensor,
        train: bool,
        mut tap: Option<Tap>,
        deleted: &[usize],
    ) -> Tensor {
        // ReLUs and shortcut additions work in place on the fresh BN outputs (BN's backward needs
        // its input, not its output): less memory traffic, as torchvision's ResNet does.
        let mut x = keep(&mut tap, self.stem.forward(xs, train)).relu_();
        for (k, b) in self.blocks.iter().enumerate() {
            if deleted.contains(&k) {
                if let Some(skip) = &b.skip {
                    x = skip.forward(&x, train).relu_();
                } else {
                    assert!(
                        self.deletable()[k],
                        "block {k} of a plain net changes shape: it cannot be deleted"
                    );
                }
                continue;
            }
            let mut h = keep(&mut tap, b.first.forward(&x, train));
            let mut h = keep(&mut tap, b.second.forward(&h.relu_(), train));
            if let Some(skip) = &b.skip {
                let s = skip.forward(&x, train);
                if let Some(Tap::Branches(ratios)) = tap.as_mut() {
                    let norm = |t: &Tensor| {
                        t.detach().flatten(1, -1).norm_scalaropt_dim(2, [1i64].as_slice(), false)
                    };
                    ratios.push(norm(&h) / norm(&s));
                }
                h += s;
            }
            x = h.relu_();
        }
        let kind = x.kind();
        x.mean_dim([2i64, 3].as_slice(), false, kind).apply(&self.fc)
    }

    /// Which blocks [`Net::forward_probed`] can delete: every block of a residual net (its
    /// shortcut stays), the blocks of a plain net that keep their input's shape.
    pub fn deletable(&self) -> Vec<bool> {
        let keeps = blocks_keeping_shape(2 + 2 * self.blocks.len() as u32);
        self.blocks.iter().zip(keeps).map(|(b, keeps)| b.skip.is_some() || keeps).collect()
    }

    /// The weights of every 3x3 conv in network order (the layers [`Tap`] sees; option B's 1x1
    /// projections are not among them).
    pub fn conv_weights(&self) -> Vec<&Tensor> {
        let convs = self.blocks.iter().flat_map(|b| [&b.first.conv.ws, &b.second.conv.ws]);
        std::iter::once(&self.stem.conv.ws).chain(convs).collect()
    }
}

/// What [`Net::forward_recording`] keeps of every 3x3 layer's output.
pub enum Tap<'a> {
    /// The running statistics of Fig. 7.
    Responses(&'a mut Responses),
    /// The outputs themselves, still in the autograd graph, so that a backward pass can give the
    /// loss's gradient with respect to each.
    Outputs(&'a mut Vec<Tensor>),
    /// Per residual block, each image's ‖F(x)‖ / ‖shortcut(x)‖ (F(x): the block's second BN
    /// output), detached.
    Branches(&'a mut Vec<Tensor>),
}

/// The same values laid out channels-last (NHWC strides, NCHW shape): oneDNN's faster layout for
/// convolutions on the CPU. tch has no memory-format API, so permute, copy, permute back.
pub fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Re-lays every conv weight of a net channels-last, so that convolutions on channels-last inputs
/// need no conversions.
pub fn make_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut w) in vs.variables() {
            if w.dim() == 4 {
                w.set_data(&channels_last(&w));
            }
        }
    });
}

/// The net's variables under the names PyTorch gives the same module tree (`stem.conv.weight`,
/// `stage2.block1.conv1.bn.running_var`, `fc.bias`: tch's VarStore paths are already PyTorch's),
/// each contiguous NCHW (channels-last weights re-laid), sorted by name, plus every BN's
/// `num_batches_tracked`, which tch does not keep, set to the `steps` trained: so that a PyTorch
/// net of the same names takes them with `load_state_dict(strict=True)`. The per-pixel `mean`
/// image the net was trained with goes along as `input_mean`: it is part of the paper's net
/// (section 4.2), and without it the weights would need the training set to be used.
pub fn state_dict(vs: &nn::VarStore, steps: i64, mean: &Tensor) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> =
        vs.variables().into_iter().map(|(name, t)| (name, t.detach().contiguous())).collect();
    named.push(("input_mean".into(), mean.contiguous()));
    let tracked: Vec<(String, Tensor)> = named
        .iter()
        .filter_map(|(name, _)| name.strip_suffix(".running_mean"))
        .map(|bn| (format!("{bn}.num_batches_tracked"), Tensor::from(steps)))
        .collect();
    named.extend(tracked);
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

impl ModuleT for Net {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.forward_recording(xs, train, None)
    }
}

/// Running per-channel sums of each 3x3 layer's response over many batches, kept on the device
/// (f64) so that measuring costs no host round trip per batch.
#[derive(Debug, Default)]
pub struct Responses {
    layers: Vec<(Tensor, Tensor, i64)>,
    next: usize,
}

/// The spread of one layer's response. `std` pools every element (channels included), as the
/// paper's Fig. 7 is drawn; `channel_std` is the root mean within-channel variance, which leaves
/// out how far the channels' means lie apart (`std² = channel_std² + variance of channel means`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerStd {
    pub std: f64,
    pub channel_std: f64,
}

impl Responses {
    fn add(&mut self, t: &Tensor) {
        let t = t.detach().to_kind(Kind::Double);
        let dims = [0i64, 2, 3];
        let s = t.sum_dim_intlist(dims.as_slice(), false, Kind::Double);
        let sq = t.square().sum_dim_intlist(dims.as_slice(), false, Kind::Double);
        let count = t.numel() as i64 / t.size()[1];
        match self.layers.get_mut(self.next) {
            Some((a, b, c)) => {
                *a += s;
                *b += sq;
                *c += count;
            }
            None => self.layers.push((s, sq, count)),
        }
        self.next += 1;
    }

    /// Call after each forward pass, before the next.
    pub fn end_batch(&mut self) {
        self.next = 0;
    }

    /// Every 3x3 layer's response spread over all batches seen, network order.
    pub fn stds(&self) -> Vec<LayerStd> {
        self.layers
            .iter()
            .map(|(s, sq, n)| {
                let (s, sq) = (Vec::<f64>::try_from(s).unwrap(), Vec::<f64>::try_from(sq).unwrap());
                let n = *n as f64;
                let means: Vec<f64> = s.iter().map(|x| x / n).collect();
                let vars: Vec<f64> = sq.iter().zip(&means).map(|(q, m)| (q / n - m * m).max(0.0)).collect();
                let c = means.len() as f64;
                let mean = means.iter().sum::<f64>() / c;
                let pooled = sq.iter().sum::<f64>() / (n * c) - mean * mean;
                LayerStd { std: pooled.max(0.0).sqrt(), channel_std: (vars.iter().sum::<f64>() / c).sqrt() }
            })
            .collect()
    }
}

/// The widths (in, out), map size and stride of every 3x3 conv in network order.
fn convs(depth: u32) -> Vec<(i64, i64, i64, i64)> {
    let n = blocks_per_stage(depth);
    let mut v = vec![(3, WIDTHS[0], 32, 1)];
    let mut c_in = WIDTHS[0];
    for (s, &c) in WIDTHS.iter().enumerate() {
        for j in 0..2 * n {
            let stride = if s > 0 && j == 0 { 2 } else { 1 };
            v.push((c_in, c, 32 >> s, stride));
            c_in = c;
        }
    }
    v
}

/// Whether each block (network order) keeps its input's shape (its first conv keeps the width and
/// the map size): all but the first of stages 2 and 3.
pub fn blocks_keeping_shape(depth: u32) -> Vec<bool> {
    convs(depth)[1..]
        .iter()
        .step_by(2)
        .map(|&(c_in, c_out, _, stride)| c_in == c_out && stride == 1)
        .collect()
}

/// The stage (0 for the first conv, then 1, 2, 3) of each 3x3 conv in network order.
pub fn conv_stages(depth: u32) -> Vec<u32> {
    let n = blocks_per_stage(depth) as u32;
    std::iter::once(0).chain((1..=3).flat_map(|s| std::iter::repeat_n(s, 2 * n as usize))).collect()
}

/// Trainable parameters (conv weights, BN scale and shift, FC weights and bias), from the layer
/// shapes alone; equals the sum over a built net's trainable variables.
pub fn parameters(arch: Arch, depth: u32, shortcut: Shortcut) -> u64 {
    let conv_bn: i64 = convs(depth).iter().map(|&(i, o, _, _)| 9 * i * o + 2 * o).sum();
    let fc = WIDTHS[2] * CLASSES + CLASSES;
    let projections = match (arch, shortcut) {
        (Arch::Residual, Shortcut::B) => WIDTHS.windows(2).map(|w| w[0] * w[1] + 2 * w[1]).sum(),
        _ => 0,
    };
    (conv_bn + fc + projections) as u64
}

/// Multiply-adds of one image's forward pass through the convs and the FC layer (the paper's
/// "FLOPs"; BN, ReLU, additions and pooling are not counted).
pub fn flops(arch: Arch, depth: u32, shortcut: Shortcut) -> u64 {
    let convs: i64 = convs(depth).iter().map(|&(i, o, size, _)| 9 * i * o * size * size).sum();
    let projections = match (arch, shortcut) {
        (Arch::Residual, Shortcut::B) => {
            // 1x1 convs at the output sizes of stages 2 and 3.
            WIDTHS.windows(2).zip([16i64, 8]).map(|(w, size)| w[0] * w[1] * size * size).sum()
        }
        _ => 0,
    };
    (convs + projections + WIDTHS[2] * CLASSES) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn::VarStore};

    fn built(arch: Arch, depth: u32, shortcut: Shortcut) -> (VarStore, Net) {
        let _rng = crate::testing::torch_rng_lock();
        tch::manual_seed(0);
        let vs = VarStore::new(Device::Cpu);
        let net = net(&vs.root(), arch, depth, shortcut);
        (vs, net)
    }

    fn trainable(vs: &VarStore) -> u64 {
        vs.trainable_variables().iter().map(|t| t.numel() as u64).sum()
    }

    #[test]
    fn parameter_counts_are_the_papers() {
        // 97,216·n − 21,926 for plain and option A; option B adds two projections (2,752).
        for depth in [8, 20, 32, 44, 56, 110, 1202] {
            let n = blocks_per_stage(depth) as u64;
            let want = 97_216 * n - 21_926;
            for arch in [Arch::Plain, Arch::Residual] {
                assert_eq!(parameters(arch, depth, Shortcut::A), want);
            }
            assert_eq!(parameters(Arch::Plain, depth, Shortcut::B), want);
            assert_eq!(parameters(Arch::Residual, depth, Shortcut::B), want + 2_752);
        }
        assert_eq!(parameters(Arch::Residual, 20, Shortcut::A), 269_722);
        assert_eq!(parameters(Arch::Residual, 1202, Shortcut::A), 19_421_274);
    }

    #[test]
    fn built_nets_have_the_counted_parameters() {
        for depth in [8, 20, 56] {
            for (arch, sc) in
                [(Arch::Plain, Shortcut::A), (Arch::Residual, Shortcut::A), (Arch::Residual, Shortcut::B)]
            {
                let (vs, _) = built(arch, depth, sc);
                assert_eq!(trainable(&vs), parameters(arch, depth, sc), "{arch} {depth} {sc}");
            }
        }
    }

    /// PyTorch's names for every variable, each BN with its `num_batches_tracked`, and NCHW
    /// contiguous weights even when the net trains channels-last.
    #[test]
    fn state_dict_has_pytorchs_names_and_layout() {
        let (vs, _) = built(Arch::Residual, 8, Shortcut::B);
        make_channels_last(&vs);
        let mean = Tensor::full([3, 32, 32], 0.5, (Kind::Float, Device::Cpu));
        let sd = state_dict(&vs, 7, &mean);
        let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "stem.conv.weight",
            "stem.bn.weight",
            "stem.bn.bias",
            "stem.bn.running_mean",
            "stem.bn.running_var",
            "stem.bn.num_batches_tracked",
            "stage2.block1.conv1.conv.weight",
            "stage3.block1.shortcut.bn.num_batches_tracked",
            "fc.weight",
            "fc.bias",
            "input_mean",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        // 1 + 6 + 2 convs with a BN each (option B's two projections included), 5 tensors a BN;
        // the FC layer's two, the mean image.
        assert_eq!(sd.len(), 9 * 6 + 2 + 1);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by name");
        for (name, t) in &sd {
            assert!(t.is_contiguous(), "{name}");
            if name.ends_with("num_batches_tracked") {
                assert_eq!((t.kind(), t.int64_value(&[])), (Kind::Int64, 7), "{name}");
            }
        }
        let stem = &sd.iter().find(|(n, _)| n == "stem.conv.weight").unwrap().1;
        assert_eq!(stem.size(), [16, 3, 3, 3]);
    }

    #[test]
    fn blocks_that_keep_their_shape() {
        let keeps = blocks_keeping_shape(20);
        assert_eq!(keeps, [true, true, true, false, true, true, false, true, true]);
        assert_eq!(built(Arch::Plain, 20, Shortcut::A).1.deletable(), keeps);
        assert!(built(Arch::Residual, 20, Shortcut::B).1.deletable().iter().all(|&d| d));
    }

    #[test]
    fn flops_of_resnet20() {
        // 40.55M multiply-adds, the figure usually quoted for ResNet-20 (about 41M).
        assert_eq!(flops(Arch::Residual, 20, Shortcut::A), 40_551_040);
        assert_eq!(
            flops(Arch::Residual, 20, Shortcut::B) - flops(Arch::Residual, 20, Shortcut::A),
            16 * 32 * 256 + 32 * 64 * 64
        );
    }

    #[test]
    fn shapes_and_responses() {
        let xs = {
            let _rng = crate::testing::torch_rng_lock();
            Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu))
        };
        for (arch, sc) in
            [(Arch::Plain, Shortcut::A), (Arch::Residual, Shortcut::A), (Arch::Residual, Shortcut::B)]
        {
            let (_vs, net) = built(arch, 14, sc);
            assert_eq!(xs.apply_t(&net, true).size(), [4, 10]);
            let mut r = Responses::default();
            for _ in 0..2 {
                let out = net.forward_recording(&xs, false, Some(Tap::Responses(&mut r)));
                r.end_batch();
                assert_eq!(out.size(), [4, 10]);
            }
            let stds = r.stds();
            assert_eq!(stds.len(), 13); // 6n+1 3x3 convs
            assert_eq!(conv_stages(14).len(), 13);
            assert!(
                stds.iter().all(|s| s.std.is_finite() && s.std >= s.channel_std && s.channel_std > 0.0),
                "{stds:?}"
            );
            // In train mode BN standardises each channel of the batch (mean 0, std 1), so both
            // measures are 1.
            let mut r = Responses::default();
            let _ = net.forward_recording(&xs, true, Some(Tap::Responses(&mut r)));
            let ok = |x: f64| (x - 1.0).abs() < 1e-2;
            assert!(r.stds().iter().all(|s| ok(s.std) && ok(s.channel_std)), "{:?}", r.stds());
            // Channels with different means: the pooled std counts their spread, channel_std not.
            let mut r = Responses::default();
            r.add(&Tensor::cat(
                &[
                    Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu)),
                    Tensor::ones([2, 1, 4, 4], (Kind::Float, Device::Cpu)) * 2.0,
                ],
                1,
            ));
            assert_eq!(r.stds(), [LayerStd { std: 1.0, channel_std: 0.0 }]);
        }
    }

    #[test]
    fn he_init_and_zero_padded_shortcut() {
        let (vs, _) = built(Arch::Residual, 56, Shortcut::A);
        let vars = vs.variables();
        let w = &vars["stage3.block2.conv1.conv.weight"];
        let std = w.std(true).double_value(&[]);
        let want = (2.0f64 / (64.0 * 9.0)).sqrt();
        assert!((std / want - 1.0).abs() < 0.02, "std {std} vs {want}");
        assert!(!vars.keys().any(|k| k.ends_with("conv.bias")));
        assert!(vars["stage1.block1.conv1.bn.weight"].equal(&Tensor::ones([16], (Kind::Float, Device::Cpu))));

        let x = Tensor::arange(2 * 16 * 4 * 4, (Kind::Float, Device::Cpu)).view([2, 16, 4, 4]);
        let y = Skip::SubsamplePad { extra_channels: 16 }.forward(&x, false);
        assert_eq!(y.size(), [2, 32, 2, 2]);
        assert!(y.narrow(1, 0, 16).equal(&x.slice(2, 0, None, 2).slice(3, 0, None, 2)));
        assert_eq!(y.narrow(1, 16, 16).abs().sum(Kind::Float).double_value(&[]), 0.0);
    }

    #[test]
    fn residual_and_plain_twins_start_identical_in_every_shared_layer() {
        let (vp, _) = built(Arch::Plain, 20, Shortcut::A);
        let p = vp.variables();
        for sc in [Shortcut::A, Shortcut::B] {
            let (vr, _) = built(Arch::Residual, 20, sc);
            let r = vr.variables();
            for (k, v) in &p {
                assert!(v.equal(&r[k]), "{k} differs (option {sc}): same seed must give the same init");
            }
            let extra: Vec<&String> = r.keys().filter(|k| !p.contains_key(*k)).collect();
            let want = if sc == Shortcut::A { 0 } else { 2 * 5 }; // 2 projections: conv + BN (4)
            assert_eq!(extra.len(), want, "{sc}: {extra:?}");
            assert!(extra.iter().all(|k| k.contains(".block1.shortcut.")), "{extra:?}");
        }
    }

    #[test]
    fn fc_init_is_pytorchs_default() {
        let (vs, _) = built(Arch::Plain, 20, Shortcut::A);
        let vars = vs.variables();
        let bound = 1.0 / 8.0; // 1/√64
        for name in ["fc.weight", "fc.bias"] {
            let t = &vars[name];
            let max = t.abs().max().double_value(&[]);
            assert!(max <= bound && max > 0.8 * bound, "{name}: max |w| {max}");
        }
        // U(−b, b) has std b/√3.
        let std = vars["fc.weight"].std(true).double_value(&[]);
        assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.15, "fc.weight std {std}");
    }
}
