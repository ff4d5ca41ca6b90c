#!/usr/bin/env python3
"""The PyTorch side of tests/equivalence.rs: is resdeg's training the textbook PyTorch training?

Given a folder written by the Rust test (meta.json, draws.safetensors, <run_id>.safetensors with
resdeg's initial weights, every batch it fed, its losses, learning rates, final weights, momentum
buffers and eval-mode logits), this script independently
  1. reads the CIFAR-format files, computes the per-pixel mean and rebuilds every batch from the
     raw images and resdeg's crop offsets and flips (pad 4 with zeros after mean subtraction);
  2. recomputes the learning-rate schedule (warm-up, then 0.1, then the milestone);
  3. trains the same net written the usual PyTorch way (nn.Conv2d, nn.BatchNorm2d, nn.Linear,
     F.cross_entropy, torch.optim.SGD) from resdeg's initial weights on its own batches;
and compares each with resdeg's. One line per check, then PASS or FAIL naming the failed checks;
exit status 0 only on PASS.

  4. loads resdeg's weights at each evaluation it recorded and computes the test error on the same
     images, and, from the final weights, every 3x3 layer's response std (after BN, before the
     ReLU or addition: forward hooks), against what resdeg wrote to curves.parquet and
     layer_responses.parquet;
  5. loads resdeg's weights at the start, after step 1 and at each evaluation and computes, on the
     first batch of training images (un-augmented, training-mode forward), every 3x3 layer's loss
     gradient with autograd: at its output (retain_grad on the BN output; times sqrt(batch), per
     image) and at its weights, and the weights' norm, against gradient_norms.parquet.

--flip NAME changes one detail of the PyTorch side (the test requires each to be caught):
  bn-no-decay         no weight decay on BN scale and shift
  pad-front           option A puts the new zero channels first
  caffe-momentum      Caffe's momentum form, v = m v + lr g (differs from PyTorch when lr changes)
  bn-momentum         BN running statistics with momentum 0.01 instead of 0.1
  per-channel-mean    subtract the per-channel mean instead of the per-pixel mean image
  partial-batch       batch each epoch with a smaller last batch, whatever last_batch says
  eval-in-train-mode  evaluate with batch statistics (train-mode BN) instead of running ones
  response-before-bn  measure each layer's response at its conv output, before BN
  warmup-cap-only     end the warm-up at its cap only, ignoring the training-error threshold
  gradient-at-conv    take each layer's output gradient at its conv output, before BN
"""

import argparse
import collections
import json
import math
import os
import struct
import sys
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")  # torch without numpy warns; it is not used
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RECORD = 3073
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"

# Tolerances (relative, max-norm): fp32 on both sides, the same libtorch kernels; what remains is
# the order of a few floating-point operations.
TOL_BATCH = 1e-6  # absolute, inputs are O(1)
TOL_LOSS_FIRST = 1e-5
TOL_LOSS = 1e-4
TOL_STATE = 1e-4
TOL_LOGITS = 1e-4

DTYPES = {"BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64, "I64": torch.int64,
          "U8": torch.uint8, "BOOL": torch.bool, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a .safetensors file (8-byte header length, JSON header, raw bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = bytearray(raw[8 + n:])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        t = torch.frombuffer(body[a:b], dtype=DTYPES[h["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[h["dtype"]])
        out[name] = t.reshape(h["shape"]).clone()
    return out


def read_records(path, limit):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    rec = torch.frombuffer(raw, dtype=torch.uint8).view(-1, RECORD)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].long()


def load_data(d, n_train, n_eval):
    parts = [read_records(os.path.join(d, f), None) for f in TRAIN_FILES]
    x = torch.cat([p[0] for p in parts])[:n_train].clone()
    y = torch.cat([p[1] for p in parts])[:n_train].clone()
    tx, ty = read_records(os.path.join(d, TEST_FILE), None)
    return x, y, tx[:n_eval].clone(), ty[:n_eval].clone()


class ConvBn(nn.Module):
    def __init__(self, c_in, c_out, k, stride, bn_momentum):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, momentum=bn_momentum)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride, arch, shortcut, flip, bn_momentum):
        super().__init__()
        self.conv1 = ConvBn(c_in, c_out, 3, stride, bn_momentum)
        self.conv2 = ConvBn(c_out, c_out, 3, 1, bn_momentum)
        self.residual = arch == "residual"
        self.extra = c_out - c_in
        self.pad_front = flip == "pad-front"
        if self.residual and self.extra and shortcut == "B":
            self.shortcut = ConvBn(c_in, c_out, 1, stride, bn_momentum)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.residual:
            return F.relu(out)
        if self.extra == 0:
            skip = x
        elif hasattr(self, "shortcut"):
            skip = self.shortcut(x)
        else:
            pad = (0, 0, 0, 0, self.extra, 0) if self.pad_front else (0, 0, 0, 0, 0, self.extra)
            skip = F.pad(x[:, :, ::2, ::2], pad)
        return F.relu(out + skip)


class Net(nn.Module):
    """The paper's 6n+2 CIFAR net; parameter names are resdeg's VarStore names."""

    def __init__(self, arch, depth, shortcut, flip):
        super().__init__()
        m = 0.01 if flip == "bn-momentum" else 0.1
        n = (depth - 2) // 6
        self.stem = ConvBn(3, 16, 3, 1, m)
        c_in = 16
        for s, c_out in enumerate([16, 32, 64]):
            stage = nn.Module()
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                stage.add_module(f"block{b + 1}", Block(c_in, c_out, stride, arch, shortcut, flip, m))
                c_in = c_out
            self.add_module(f"stage{s + 1}", stage)
        self.fc = nn.Linear(64, 10)
        self.n = n

    def forward(self, x):
        x = F.relu(self.stem(x))
        for s in range(1, 4):
            for b in range(1, self.n + 1):
                x = getattr(getattr(self, f"stage{s}"), f"block{b}")(x)
        return self.fc(x.mean((2, 3)))


def rel(a, b):
    """Relative difference in max norm."""
    return (a.double() - b.double()).abs().max().item() / max(b.double().abs().max().item(), 1e-12)


class Checks:
    def __init__(self, run_id):
        self.run_id, self.failed = run_id, []

    def check(self, name, value, bound, detail=""):
        ok = value <= bound and not math.isnan(value)
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<8} {value:.3e} <= {bound:.0e}  {detail}")
        if not ok and name not in self.failed:
            self.failed.append(name)


def caffe_step(params, state, lr, momentum, weight_decay, decay_of):
    """Caffe's SGD: v = m v + lr (g + wd p); p -= v. The lr sits inside the momentum buffer."""
    with torch.no_grad():
        for name, p in params:
            g = p.grad + decay_of(name) * weight_decay * p
            v = state.setdefault(name, torch.zeros_like(p))
            v.mul_(momentum).add_(g, alpha=lr)
            p.sub_(v)


def check_run(meta, run, draws, data, flip):
    """Trains `run` the PyTorch way from resdeg's initial weights; returns its failed checks."""
    c = Checks(run["id"])
    print(f"{run['id']}:")
    t = read_safetensors(os.path.join(meta["dir"], f"{run['id']}.safetensors"))
    x_all, y_all, x_eval, y_eval = data
    n, batch, steps = meta["train_images"], meta["batch_size"], meta["steps"]

    # The data: the per-pixel mean image, then each step's batch from the raw images.
    mean = x_all.double().mean(0).float() / 255.0
    if flip == "per-channel-mean":
        mean = mean.mean((1, 2), keepdim=True).expand(3, 32, 32)
    c.check("mean", (mean - t["mean"]).abs().max().item(), TOL_BATCH, "per-pixel mean image")
    batches, worst_batch, labels_ok = [], 0.0, True
    mode = "partial" if flip == "partial-batch" else meta["last_batch"]
    for i, segments in enumerate(batch_segments(mode, n, batch, steps), start=1):
        take = lambda part: torch.cat([draws[f"epoch{e}.{part}"][at:at + k] for e, at, k in segments])  # noqa: E731
        idx, dy, dx, fl = take("order"), take("dy"), take("dx"), take("flip")
        p = meta["pad"]
        imgs = F.pad(x_all[idx].float() / 255.0 - mean, (p, p, p, p))
        xs = torch.stack([
            (lambda v: v.flip(-1) if fl[j] else v)(imgs[j, :, dy[j]:dy[j] + 32, dx[j]:dx[j] + 32])
            for j in range(len(idx))
        ])
        ys = y_all[idx]
        theirs = t[f"batch{i}.xs"]
        worst_batch = max(worst_batch, (xs.double() - theirs.double()).abs().max().item()
                          if xs.shape == theirs.shape else math.inf)
        labels_ok &= torch.equal(ys, t[f"batch{i}.ys"])
        batches.append((xs, ys))
    c.check("batch", worst_batch, TOL_BATCH, f"{steps} batches ({mode}) rebuilt from raw images + resdeg's crops/flips")
    c.check("labels", 0.0 if labels_ok else 1.0, 0.0)

    init = {k[len("init."):]: v for k, v in t.items() if k.startswith("init.")}
    he = [v.std().item() / math.sqrt(2.0 / v[0].numel())
          for k, v in init.items() if k.endswith("conv.weight") and v.numel() > 4000]
    fc_w, fc_b = init["fc.weight"], init["fc.bias"]
    init_ok = all(abs(r - 1) < 0.1 for r in he) \
        and all(torch.equal(v, torch.ones_like(v)) for k, v in init.items() if k.endswith("bn.weight")) \
        and all(torch.equal(v, torch.zeros_like(v)) for k, v in init.items() if k.endswith("bn.bias")) \
        and fc_w.abs().max() <= 0.125 and fc_w.max() > 0.1 and fc_w.min() < -0.1 \
        and abs(fc_w.std().item() / (0.125 / math.sqrt(3)) - 1) < 0.1 \
        and fc_b.abs().max() <= 0.125 and fc_b.abs().max() > 0
    c.check("init", 0.0 if init_ok else 1.0, 0.0,
            f"He-normal convs (std/target {min(he):.3f}-{max(he):.3f}), BN (1, 0), FC uniform ±1/8 (PyTorch's default)")

    dtype = torch.float64 if meta["dtype"] == "f64" else torch.float32
    bf16 = meta["dtype"] == "bf16"
    eval_x = x_eval.float() / 255.0 - mean
    ours = train(run, init, batches, meta, dtype, flip, eval_x, bf16)

    # The schedule, decided as the steps go: warm-up rate until the running training error of the
    # last batches falls below the threshold (or the cap), then lr, divided at each milestone.
    lrs = ours["lrs"]
    c.check("lr", max(abs(a - b) for a, b in zip(lrs, t["lr"].tolist())), 1e-12,
            f"{sorted(set(lrs), key=lrs.index)} switching at {[i for i in range(1, steps) if lrs[i] != lrs[i - 1]]}")
    c.check("warmup", 0.0 if list(ours["warmup_end"]) == list(run["warmup_end"]) else 1.0, 0.0,
            f"ends after {ours['warmup_end']} (resdeg: {run['warmup_end']})")

    # What resdeg recorded: test error at each evaluation, from its weights at that point, and the
    # layer responses of its final weights, recomputed here on the same images.
    tol_error = 0.0 if dtype == torch.float64 else 1.0 / len(x_eval)
    for it, recorded in zip(t["recorded.iterations"].tolist(), t["recorded.test_error"].tolist()):
        weights = {k[len(f"eval{it}."):]: v for k, v in t.items() if k.startswith(f"eval{it}.")}
        got = test_error(run, weights, eval_x, y_eval, dtype, bf16, flip)
        c.check("test_error", abs(got - recorded), tol_error, f"after iteration {it}: {100 * got:.2f}% "
                f"(resdeg recorded {100 * recorded:.2f}%, eval mode, {len(x_eval)} images)")
    final = {k[len("final."):]: v for k, v in t.items() if k.startswith("final.")}
    stds = responses(run, final, eval_x, dtype, bf16, flip)
    recorded = t["recorded.responses"]
    tol = {torch.float64: 1e-9, torch.float32: 1e-4}.get(dtype, 1e-2) if not bf16 else 1e-2
    c.check("responses", rel(stds, recorded) if len(stds) == len(recorded) else math.inf, tol,
            f"{len(recorded)} layers, std after BN: {stds[0].item():.3f} ... {stds[-1].item():.3f}")
    # The gradient norms resdeg recorded, from its weights at each point, on the fixed batch.
    probe_x, probe_y = x_all[:batch].float() / 255.0 - mean, y_all[:batch]
    recorded = t["recorded.gradients"]
    # Same weights and batch: one forward and backward pass apart (measured: 1e-14 in every precision).
    tol = {torch.float64: 1e-9, torch.float32: 1e-4}[dtype] if not bf16 else 1e-2
    worst, where = 0.0, ""
    for k, it in enumerate(t["recorded.gradient_iterations"].tolist()):
        prefix = "init." if it == 0 else "step1." if it == 1 else f"eval{it}."
        weights = {key[len(prefix):]: v for key, v in t.items() if key.startswith(prefix)}
        got = gradient_norms(run, weights, probe_x, probe_y, dtype, bf16, flip)
        # Element by element: a norm of 1e-3 must agree as closely as one of 10.
        d = ((got - recorded[k]).abs() / recorded[k].abs()).max().item() if got.shape == recorded[k].shape else math.inf
        if d >= worst:
            worst, where = d, f"iteration {it}"
    c.check("gradients", worst, tol, f"{recorded.shape[0]} points x {recorded.shape[1]} layers (output, weight, "
            f"|W|), worst at {where}; first layer's output gradient at the start {recorded[0, 0, 0].item():.4g}")
    theirs = {
        "loss": t["loss"],
        "final": {k[len("final."):]: v for k, v in t.items() if k.startswith("final.")},
        "momentum": {k[len("momentum."):]: v for k, v in t.items() if k.startswith("momentum.")},
        "logits": t["eval_logits"],
    }
    d = differences(ours, theirs)
    print(f"  {meta['dtype']}: loss difference by step: " + " ".join(f"{v:.0e}" for v in d["loss"]))
    c.check("loss", d["loss"][0], TOL_LOSS_FIRST, f"step 1 ({t['loss'][0].item():.6f})")
    worst = max(range(steps), key=lambda i: d["loss"][i])
    if dtype == torch.float64:
        c.check("loss", d["loss"][worst], TOL_LOSS, f"worst of {steps} steps (step {worst + 1}); "
                f"resdeg {t['loss'][0].item():.4f} -> {t['loss'][-1].item():.4f}")
        for name in ["final", "momentum"]:
            c.check(name, d[name][0], TOL_STATE, f"worst {d[name][1]}")
        c.check("logits", d["logits"], TOL_LOGITS, f"eval mode, {len(x_eval)} test images")
        return c.failed
    if bf16:
        # Under torch.autocast(cpu, bfloat16) on both sides, the same ops in the same precision:
        # step 1 agrees as in fp32 (an fp32 forward would be ~1e-3 off). After that bf16 rounding
        # makes the runs drift, so over all steps resdeg must stay no further from PyTorch's bf16
        # run than twice that run's distance from PyTorch's fp32 one (both chaotic, hence the 2).
        spread = differences(ours, train(run, init, batches, meta, dtype, flip, eval_x, False))
        print("  PyTorch bf16 vs fp32:   loss difference by step: " + " ".join(f"{v:.0e}" for v in spread["loss"]))
        c.check("loss", max(d["loss"]) / max(spread["loss"]), 2.0,
                "all steps: worst resdeg-vs-PyTorch (bf16) over worst PyTorch bf16-vs-fp32")
        print(f"  final (not judged): final {d['final'][0]:.1e}, momentum {d['momentum'][0]:.1e}, logits "
              f"{d['logits']:.1e}; PyTorch bf16 vs fp32: {spread['final'][0]:.1e}, {spread['momentum'][0]:.1e}, "
              f"{spread['logits']:.1e}")
        return c.failed

    # fp32: rounding differences grow chaotically on these small batches (PyTorch in fp32 drifts
    # from PyTorch in fp64 just as fast), so the whole-run comparison is the fp64 one above. Here:
    # bit-level agreement at step 1, and, while PyTorch's own fp32-vs-fp64 spread is still below
    # 1e-3, no more than 10 times that spread (or 1e-5). The rest is printed, not judged.
    floor = differences(ours, train(run, init, batches, meta, torch.float64, flip, eval_x))
    print("  PyTorch fp32 vs fp64:   loss difference by step: " + " ".join(f"{v:.0e}" for v in floor["loss"]))
    # Both distances jump about from step to step (chaos is not monotone: one step's spread can be
    # a tenth of the step before), so each is taken as its largest so far.
    window = next((i for i, f in enumerate(floor["loss"]) if f >= 1e-3), steps)
    so_far = lambda v: [max(v[:i + 1]) for i in range(len(v))]  # noqa: E731
    ratio = max(a / max(10 * b, TOL_LOSS_FIRST)
                for a, b in zip(so_far(d["loss"][:window]), so_far(floor["loss"][:window])))
    c.check("loss", ratio, 1.0, f"steps 1-{window}: resdeg-vs-PyTorch over max(10 x PyTorch fp32-vs-fp64, 1e-5), "
            "each the largest so far")
    print(f"  after step {window} (not judged): final {d['final'][0]:.1e}, momentum {d['momentum'][0]:.1e}, "
          f"logits {d['logits']:.1e}; PyTorch fp32 vs fp64: {floor['final'][0]:.1e}, {floor['momentum'][0]:.1e}, "
          f"{floor['logits']:.1e}")
    return c.failed


def scheduled_lr(meta, i, warming):
    """The rate of step i (0-based): lr divided at each milestone reached; while warming up, the
    warm-up rate unless the milestones already ask for less."""
    s = meta["lr"] * meta["gamma"] ** sum(m <= i for m in meta["milestones"])
    return min(s, meta["warmup"]["lr"]) if warming else s


def load(run, weights, dtype, flip):
    """The PyTorch net with `weights` (resdeg's variable names), in `dtype` and resdeg's layout."""
    # In `dtype` before loading: fp64 weights copied into fp32 parameters would be rounded.
    net = Net(run["arch"], run["depth"], run["shortcut"], flip).to(dtype)
    missing, unexpected = net.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    if run["channels_last"]:
        net = net.to(memory_format=torch.channels_last)

    def layout(v):
        v = v.to(dtype)
        return v.contiguous(memory_format=torch.channels_last) if run["channels_last"] else v
    return net, layout


def autocast(bf16):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def train(run, init, batches, meta, dtype, flip, eval_x, bf16=False):
    """Trains the PyTorch net from `init` on `batches` (forward passes under bfloat16 autocast if
    `bf16`), deciding the warm-up's end as it goes; returns what the checks compare."""
    net, layout = load(run, init, dtype, flip)
    named = list(net.named_parameters())
    is_bn = lambda k: ".bn." in k  # noqa: E731
    if flip == "bn-no-decay":
        groups = [{"params": [p for k, p in named if not is_bn(k)]},
                  {"params": [p for k, p in named if is_bn(k)], "weight_decay": 0.0}]
    else:
        groups = [{"params": [p for _, p in named]}]
    opt = torch.optim.SGD(groups, lr=meta["lr"], momentum=meta["momentum"], weight_decay=meta["weight_decay"])
    caffe_state = {}
    losses, lrs, window = [], [], []
    w = meta["warmup"]
    warming, warmup_end = True, None
    net.train()
    for i, (xs, ys) in enumerate(batches):
        lr = scheduled_lr(meta, i, warming)
        lrs.append(lr)
        with autocast(bf16):
            logits = net(layout(xs))
            loss = F.cross_entropy(logits, ys)
        opt.zero_grad()
        loss.backward()
        if flip == "caffe-momentum":
            caffe_step(named, caffe_state, lr, meta["momentum"], meta["weight_decay"], lambda k: 1.0)
        else:
            for g in opt.param_groups:
                g["lr"] = lr
            opt.step()
        losses.append(loss.item())
        if warming:
            window = (window + [(logits.argmax(-1) != ys).double().mean().item()])[-w["window"]:]
            below = len(window) == w["window"] and sum(window) / len(window) < w["until_train_error"]
            if below and flip != "warmup-cap-only":
                warming, warmup_end = False, [i + 1, "threshold"]
            elif i + 1 >= w["max_iterations"]:
                warming, warmup_end = False, [i + 1, "cap"]
    params = dict(named)
    if flip == "caffe-momentum":
        momentum = {k: v / lrs[-1] for k, v in caffe_state.items()}
    else:
        momentum = {k: opt.state[params[k]]["momentum_buffer"] for k in params}
    net.eval()
    with torch.no_grad(), autocast(bf16):
        logits = net(layout(eval_x))
    return {"loss": torch.tensor(losses, dtype=torch.float64), "final": net.state_dict(), "momentum": momentum,
            "logits": logits, "lrs": lrs, "warmup_end": warmup_end}


def test_error(run, weights, eval_x, eval_y, dtype, bf16, flip):
    """The error of resdeg's `weights` on the evaluation images, in eval mode (BN running
    statistics), as resdeg's evaluation is defined."""
    net, layout = load(run, weights, dtype, flip)
    net.train(flip == "eval-in-train-mode")
    with torch.no_grad(), autocast(bf16):
        logits = torch.cat([net(layout(x)) for x in eval_x.split(500)])
    return (logits.float().argmax(-1) != eval_y).double().mean().item()


def responses(run, weights, eval_x, dtype, bf16, flip):
    """The std of every 3x3 layer's response (its BN's output, before the ReLU or the addition)
    over all elements of all evaluation images, network order (the paper's Fig. 7)."""
    net, layout = load(run, weights, dtype, flip)
    net.eval()
    layers = [net.stem] + [blk for s in (1, 2, 3) for b in range(1, net.n + 1)
                           for blk in (getattr(getattr(net, f"stage{s}"), f"block{b}").conv1,
                                       getattr(getattr(net, f"stage{s}"), f"block{b}").conv2)]
    sums = [[0.0, 0.0, 0] for _ in layers]

    def hook(k):
        def record(_module, _inputs, out):
            x = out.detach().double()
            sums[k][0] += x.sum().item()
            sums[k][1] += x.square().sum().item()
            sums[k][2] += x.numel()
        return record
    handles = [(m.conv if flip == "response-before-bn" else m.bn).register_forward_hook(hook(k))
               for k, m in enumerate(layers)]
    with torch.no_grad(), autocast(bf16):
        for x in eval_x.split(500):
            net(layout(x))
    for h in handles:
        h.remove()
    return torch.tensor([math.sqrt(max(q / n - (s / n) ** 2, 0.0)) for s, q, n in sums], dtype=torch.float64)


def gradient_norms(run, weights, xs, ys, dtype, bf16, flip):
    """Every 3x3 layer's (output gradient per image, weight gradient, weight norm) of the mean
    cross-entropy on (xs, ys) with `weights`, training-mode forward: the textbook way, retain_grad
    on each BN output and one backward pass."""
    net, layout = load(run, weights, dtype, flip)
    net.train()
    layers = [net.stem] + [blk for s in (1, 2, 3) for b in range(1, net.n + 1)
                           for blk in (getattr(getattr(net, f"stage{s}"), f"block{b}").conv1,
                                       getattr(getattr(net, f"stage{s}"), f"block{b}").conv2)]
    outputs = [None] * len(layers)

    def hook(k):
        def keep(_module, _inputs, out):
            out.retain_grad()
            outputs[k] = out
        return keep
    handles = [(m.conv if flip == "gradient-at-conv" else m.bn).register_forward_hook(hook(k))
               for k, m in enumerate(layers)]
    with autocast(bf16):
        loss = F.cross_entropy(net(layout(xs)), ys)
    loss.backward()
    for h in handles:
        h.remove()
    root_b = math.sqrt(len(xs))
    return torch.tensor([[root_b * o.grad.double().norm().item(), m.conv.weight.grad.double().norm().item(),
                          m.conv.weight.double().norm().item()] for o, m in zip(outputs, layers)], dtype=torch.float64)


def batch_segments(mode, n, b, steps):
    """For steps 1..steps, the (epoch, first position, count) runs of the epochs' orders that each
    batch takes: `partial` ceil(n/b) batches an epoch, the last one smaller; `drop` floor(n/b) full
    ones; `wrap` the orders of consecutive epochs as one stream cut every b images."""
    out = []
    for i in range(steps):
        if mode == "wrap":
            start, left, segments = i * b, b, []
            while left:
                e, at = start // n + 1, start % n
                k = min(left, n - at)
                segments.append((e, at, k))
                start, left = start + k, left - k
            out.append(segments)
        else:
            per_epoch = -(-n // b) if mode == "partial" else n // b
            e, k = i // per_epoch + 1, i % per_epoch
            out.append([(e, k * b, min(b, n - k * b))])
    return out


def differences(a, b):
    """Per-step relative loss differences, the worst (relative, name) over final states and over
    momentum buffers, and the relative logit difference, of two training traces."""
    worst = lambda x, y: max((rel(x[k], v), k) for k, v in y.items())  # noqa: E731
    return {
        "loss": [abs(p - q) / abs(q) for p, q in zip(a["loss"].tolist(), b["loss"].tolist())],
        "final": worst(a["final"], b["final"]),
        "momentum": worst(a["momentum"], b["momentum"]),
        "logits": rel(a["logits"], b["logits"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="the folder tests/equivalence.rs wrote")
    ap.add_argument("--only", help="check only this run id")
    ap.add_argument("--flip", choices=["bn-no-decay", "pad-front", "caffe-momentum", "bn-momentum", "per-channel-mean",
                                       "partial-batch", "eval-in-train-mode", "response-before-bn", "warmup-cap-only",
                                       "gradient-at-conv"])
    a = ap.parse_args()
    with open(os.path.join(a.dir, "meta.json")) as f:
        meta = json.load(f)
    meta["dir"] = a.dir
    torch.set_num_threads(meta["threads"])
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {meta['data']}"
          + (f", flipped: {a.flip}" if a.flip else ""))
    data = load_data(meta["data"], meta["train_images"], meta["eval_images"])
    draws = read_safetensors(os.path.join(a.dir, "draws.safetensors"))
    failed = []
    for run in meta["runs"]:
        if a.only and run["id"] != a.only:
            continue
        failed += [f"{run['id']}: {name}" for name in check_run(meta, run, draws, data, a.flip)]
    if failed:
        print("FAIL " + "; ".join(failed))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
