#!/usr/bin/env python3
"""The PyTorch side of tests/explain_equivalence.rs: are resdeg's `--explain` measurements the
published ones, computed the usual PyTorch way?

Given a folder written by the Rust test (for each run: its weights.safetensors and
<run_id>.explain.safetensors holding the images resdeg used, the raw normal draws of its two
landscape directions, and what resdeg measured in fp64), this script loads the weights into the
plain PyTorch net of scripts/resdeg_net.py, in fp64, and independently computes
  1. the 1D loss slice (Li et al. 2018): each direction filter-normalised here from the raw draw
     (every slice along the first dimension scaled to the weights' filter norm), parameters of one
     dimension (BN scale and shift, FC bias) not moved, BN running statistics untouched, loss and
     error in eval mode;
  2. the lesions (Veit et al. 2016): the test error and loss with the listed blocks deleted (a
     residual block leaves its shortcut, a plain block the identity);
  3. the shattered gradients (Balduzzi et al. 2017): the gradient of the log-probability of the
     first image's class with respect to the input along the line between two test images, and the
     mean cosine between gradients at each lag;
  4. the branch ratios: per residual block, the mean over images of ||F(x)|| / ||shortcut(x)||
     with batch statistics (train-mode BN, running statistics put back);
and compares each with resdeg's to 1e-10. One line per check, then PASS or FAIL; exit 0 on PASS.

--flip NAME changes one detail (the test requires each to be caught):
  bn-perturbed          the direction moves BN scales and shifts and the FC bias too
  no-filter-norm        the raw draw is used as the direction, not filter-normalised
  lesion-drops-shortcut a deleted residual block outputs zeros (its shortcut deleted with it)
  gradients-in-train-mode  the input gradients with batch statistics (the points see each other)
  branch-over-output    the branch measured against the block's output, not its shortcut
"""

import argparse
import copy
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")  # torch without numpy warns; it is not used
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from resdeg_net import load, read_safetensors  # noqa: E402

TOL = 1e-10
FLIPS = ["bn-perturbed", "no-filter-norm", "lesion-drops-shortcut", "gradients-in-train-mode", "branch-over-output"]


def blocks(net):
    return [getattr(getattr(net, f"stage{s}"), f"block{b}") for s in range(1, 4) for b in range(1, net.n + 1)]


def skip(block, x):
    if block.extra == 0:
        return x
    if hasattr(block, "shortcut"):
        return block.shortcut(x)
    return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, block.extra))


def forward(net, x, deleted=(), flip=None):
    """The net's forward pass (x: normalised inputs) with the blocks in `deleted` taken out."""
    x = F.relu(net.stem(x))
    for k, block in enumerate(blocks(net)):
        if k in deleted:
            if not block.residual:
                continue  # the identity: only blocks that keep their input's shape are deleted
            s = skip(block, x)
            x = torch.zeros_like(s) if flip == "lesion-drops-shortcut" else F.relu(s)
        else:
            x = block(x)
    return net.fc(x.mean((2, 3)))


def score(net, x, y, deleted=(), flip=None):
    with torch.no_grad():
        z = forward(net.eval(), x, deleted, flip)
        return F.cross_entropy(z, y).item(), (z.argmax(-1) != y).double().mean().item()


def direction(net, raw, flip):
    d = {}
    for name, p in net.named_parameters():
        r = raw[name].double()
        if p.dim() <= 1:
            d[name] = r if flip == "bn-perturbed" else torch.zeros_like(p)
        elif flip == "no-filter-norm":
            d[name] = r
        else:
            dims = tuple(range(1, p.dim()))
            norm = lambda t: torch.linalg.vector_norm(t, dim=dims, keepdim=True)  # noqa: E731
            d[name] = r * (norm(p) / norm(r))
    return d


def input_gradients(net, a, b, cls, points, flip):
    t = torch.linspace(0.0, 1.0, points, dtype=torch.float64).view(-1, 1, 1, 1)
    x = (a.unsqueeze(0) + t * (b - a).unsqueeze(0)).detach().requires_grad_(True)
    net = copy.deepcopy(net)
    net.train(flip == "gradients-in-train-mode")
    out = F.log_softmax(forward(net, x), -1)[:, cls].sum()
    (g,) = torch.autograd.grad(out, x)
    return g.reshape(points, -1)


def branch_ratios(net, x, flip):
    net = copy.deepcopy(net).train()
    ratios = []
    h = F.relu(net.stem(x))
    with torch.no_grad():
        for block in blocks(net):
            f = block.conv2(F.relu(block.conv1(h)))
            s = skip(block, h)
            out = F.relu(f + s)
            against = out if flip == "branch-over-output" else s
            ratios.append((f.flatten(1).norm(dim=1) / against.flatten(1).norm(dim=1)).mean().item())
            h = out
    return ratios


def close(a, b):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool(((a - b).abs() <= TOL * b.abs().clamp(min=1.0)).all())


def check_run(folder, run_id, meta, flip):
    net = load(os.path.join(folder, f"{run_id}.weights.safetensors")).double()
    got, _ = read_safetensors(os.path.join(folder, f"{run_id}.explain.safetensors"))
    mean = net.input_mean.float()
    norm = lambda images: ((images.float() / 255.0) - mean).double()  # noqa: E731 (resdeg's order: fp32, then fp64)
    xtr, ytr = norm(got["train_images"]), got["train_labels"]
    xte, yte = norm(got["test_images"]), got["test_labels"]
    results = []

    # 1. The slice along the first direction.
    d = direction(net, {k[len("raw.") :]: v for k, v in got.items() if k.startswith("raw.")}, flip)
    centre = {k: v.detach().clone() for k, v in net.named_parameters()}
    losses, errors = [], []
    for a in got["slice_alpha"].tolist():
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.copy_(centre[name] + d[name] * a)
        loss, err = score(net, xtr, ytr)
        losses.append(loss)
        errors.append(err)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(centre[name])
    results.append(("slice loss", close(losses, got["slice_loss"]) and close(errors, got["slice_error"])))

    # 2. The lesions.
    lesions = meta["lesions"][run_id]
    scores = [score(net, xte, yte, set(bl), flip) for bl in lesions]
    results.append(
        (
            "lesions",
            close([s[0] for s in scores], got["lesion_loss"]) and close([s[1] for s in scores], got["lesion_error"]),
        )
    )

    # 3. The shattered gradients.
    lines, points = meta["lines"], meta["points"]
    sums = torch.zeros(points - 1, dtype=torch.float64)
    for i in range(lines):
        g = input_gradients(net, xte[2 * i], xte[2 * i + 1], int(yte[2 * i]), points, flip)
        u = g / g.norm(dim=1, keepdim=True)
        c = u @ u.T
        sums += torch.stack([torch.diagonal(c, lag).mean() for lag in range(1, points)])
    results.append(("shattered", close(sums / lines, got["shattered"])))

    # 4. The branch ratios (residual nets).
    if "branches" in got:
        results.append(("branches", close(branch_ratios(net, xte, flip), got["branches"])))
    return [(f"{run_id}: {name}", ok) for name, ok in results]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--flip", choices=FLIPS)
    a = p.parse_args()
    with open(os.path.join(a.folder, "meta.json")) as f:
        meta = json.load(f)
    torch.set_num_threads(1)
    checks = [c for run_id in meta["runs"] for c in check_run(a.folder, run_id, meta, a.flip)]
    for name, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    failed = [name for name, ok in checks if not ok]
    print("PASS" if not failed else "FAIL: " + ", ".join(failed))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
