#!/usr/bin/env python3
"""An independent PyTorch trainer for the paper's CIFAR-10 study, to check resdeg's results.

resdeg's claims (plain nets degrade with depth, residual nets do not) rest on final training and
test errors. This script trains the same nets with the same recipe written the plain PyTorch way
(nn.Conv2d, nn.BatchNorm2d, nn.Linear, F.cross_entropy, torch.optim.SGD), shares no code with
resdeg, and reports the same metrics defined the same way, so the two can be compared
statistically over seeds.

The recipe (He et al. 2015, section 4.2):
  data      the first --train-subset records of data_batch_1..5 (concatenated) for training,
            the first --test-subset records of test_batch for evaluation (CIFAR binary layout);
            images/255 minus the per-pixel mean image of the training images used;
  augment   zero-pad 4 pixels (after mean subtraction), a random 32x32 crop and a horizontal
            flip with p=0.5, drawn per image from a torch.Generator seeded from the run's seed;
  nets      6n+2 layers, `plain` or `residual` (option A shortcuts: identity, or subsample
            x[:, :, ::2, ::2] and zero channels appended at the end), He (fan_in) init for convs;
  training  SGD lr 0.1, momentum 0.9, weight decay 1e-4 on every parameter, batch 128, the rate
            times 0.1 at each milestone (step i, 0-based, has rate lr * 0.1^#{m <= i}).

--last-batch says what happens at the end of each epoch's random permutation:
  partial   ceil(N/B) batches an epoch, the last one smaller (DataLoader drop_last=False);
  drop      floor(N/B) full batches, the N mod B images at the end of the permutation unused;
  wrap      the permutations form one stream, batch k is items [kB, (k+1)B) of it (Caffe-style);
            epoch e is the batches whose first image lies in permutation e.

Metrics: an epoch's training error is wrong predictions / images over its batches, from the
train-mode logits of each step's own forward pass (augmented images, before the update). The
run stops after --iterations steps, possibly mid-epoch; that last epoch is the final one. The
final test error is measured in eval mode (BN running statistics) after the last step.

Each run appends one JSON object to --out and prints one line; a summary per (arch, depth) of
mean +- sample std over seeds closes the output.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")  # torch without numpy warns; it is not used
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RECORD = 3073  # one label byte, then 1024 R, 1024 G, 1024 B bytes
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
PAD = 4
EVAL_BATCH = 500
DATA_SEED_OFFSET = 1_000_003  # the data generator's seed is seed + this, apart from the init seed


# ---------------------------------------------------------------------------------------------
# Data


def read_records(path):
    """uint8 images [n, 3, 32, 32] and int64 labels of every record in one binary file."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) % RECORD:
        sys.exit(f"{path}: {len(raw)} bytes is not a whole number of {RECORD}-byte records")
    rec = torch.frombuffer(raw, dtype=torch.uint8).view(-1, RECORD)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].long()


def load_data(data_dir, n_train, n_test):
    """(train images, train labels, test images, test labels), images uint8 [n, 3, 32, 32]."""
    parts = [read_records(os.path.join(data_dir, f)) for f in TRAIN_FILES]
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    tx, ty = read_records(os.path.join(data_dir, TEST_FILE))
    n_train = len(y) if n_train is None else n_train
    n_test = len(ty) if n_test is None else n_test
    if not 0 < n_train <= len(y) or not 0 < n_test <= len(ty):
        sys.exit(f"subsets must be in 1..{len(y)} (train) and 1..{len(ty)} (test)")
    return x[:n_train].clone(), y[:n_train].clone(), tx[:n_test].clone(), ty[:n_test].clone()


def pixel_mean(images):
    """The per-pixel mean image [3, 32, 32] of images/255 (summed in float64)."""
    return images.double().div(255).mean(0).float()


def normalize(images, mean):
    """uint8 [b, 3, 32, 32] -> float32 images/255 minus the mean image."""
    return images.float().div_(255).sub_(mean)


def augment(x, gen):
    """Zero-pad 4, random 32x32 crop, horizontal flip with p=0.5, per image, in one gather."""
    b, c, h, w = x.shape
    padded = F.pad(x, (PAD, PAD, PAD, PAD))
    offsets = torch.randint(0, 2 * PAD + 1, (b, 2), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    rows = offsets[:, :1] + torch.arange(h)  # [b, h]
    cols = offsets[:, 1:] + torch.arange(w)  # [b, w]
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a flipped crop reads its columns backwards
    return padded[
        torch.arange(b)[:, None, None, None],
        torch.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def batches(n, batch, mode, gen):
    """Yield (epoch, indices) forever: epoch is 1-based, indices index the training images."""
    if mode == "partial":
        for epoch in range(1, sys.maxsize):
            perm = torch.randperm(n, generator=gen)
            for at in range(0, n, batch):
                yield epoch, perm[at : at + batch]
    elif mode == "drop":
        for epoch in range(1, sys.maxsize):
            perm = torch.randperm(n, generator=gen)
            for at in range(0, n - batch + 1, batch):
                yield epoch, perm[at : at + batch]
    else:  # wrap: one stream of permutations, every batch full
        epoch, perm, at = 1, torch.randperm(n, generator=gen), 0
        while True:
            if at == n:
                epoch, perm, at = epoch + 1, torch.randperm(n, generator=gen), 0
            first_epoch, parts, need = epoch, [], batch
            while need:
                if at == n:
                    epoch, perm, at = epoch + 1, torch.randperm(n, generator=gen), 0
                take = min(need, n - at)
                parts.append(perm[at : at + take])
                at, need = at + take, need - take
            yield first_epoch, torch.cat(parts)


# ---------------------------------------------------------------------------------------------
# Nets


class Block(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the option-A shortcut when residual, then ReLU."""

    def __init__(self, c_in, c_out, stride, residual):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.residual = residual
        self.extra = c_out - c_in

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            skip = x if self.extra == 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.extra))
            out = out + skip
        return F.relu(out)


class Net(nn.Module):
    """The paper's 6n+2 CIFAR net: conv 16, three stages of n blocks (16/32/64), pool, fc 10."""

    def __init__(self, arch, depth):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for s, c_out in enumerate([16, 32, 64]):
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                layers.append(Block(c_in, c_out, stride, arch == "residual"))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)  # PyTorch's default init
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(x.mean((2, 3)))


# ---------------------------------------------------------------------------------------------
# Training


def learning_rate(step, lr, milestones):
    """The rate of 0-based step `step`: lr times 0.1 for every milestone m <= step."""
    return lr * 0.1 ** sum(1 for m in milestones if m <= step)


def evaluate(model, images, labels, mean):
    """Error (fraction) on the original views, eval mode, batches of 500."""
    model.eval()
    wrong = 0
    with torch.no_grad():
        for at in range(0, len(labels), EVAL_BATCH):
            x = normalize(images[at : at + EVAL_BATCH], mean)
            x = x.contiguous(memory_format=torch.channels_last)
            wrong += int((model(x).argmax(1) != labels[at : at + EVAL_BATCH]).sum())
    return wrong / len(labels)


def close_epoch(epochs, epoch, iteration, tally):
    wrong, loss_sum, images = tally
    epochs.append({
        "epoch": epoch,
        "iteration": iteration,
        "train_error": wrong / images,
        "train_loss": loss_sum / images,
        "images": images,
    })


def train_run(arch, depth, seed, data, mean, args):
    x_train, y_train, x_test, y_test = data
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = Net(arch, depth).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed + DATA_SEED_OFFSET)
    stream = batches(len(y_train), args.batch, args.last_batch, gen)

    epochs, current, tally = [], None, [0, 0.0, 0]
    model.train()
    for step in range(args.iterations):
        epoch, idx = next(stream)
        if epoch != current:
            if current is not None:
                close_epoch(epochs, current, step, tally)
            current, tally = epoch, [0, 0.0, 0]
        x = augment(normalize(x_train[idx], mean), gen).contiguous(memory_format=torch.channels_last)
        y = y_train[idx]
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.milestones)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tally[0] += int((logits.detach().argmax(1) != y).sum())
        tally[1] += float(loss.detach()) * len(y)
        tally[2] += len(y)
    if current is not None:
        close_epoch(epochs, current, args.iterations, tally)

    test_error = evaluate(model, x_test, y_test, mean)
    last = epochs[-1] if epochs else {"train_error": float("nan"), "train_loss": float("nan")}
    return {
        "impl": "pytorch",
        "arch": arch,
        "depth": depth,
        "seed": seed,
        "last_batch": args.last_batch,
        "iterations": args.iterations,
        "train_images": len(y_train),
        "test_images": len(y_test),
        "final_train_error": last["train_error"],
        "final_train_loss": last["train_loss"],
        "final_test_error": test_error,
        "seconds": time.perf_counter() - t0,
        "epochs": epochs,
    }


# ---------------------------------------------------------------------------------------------
# Reporting


def spread(values):
    """'mean +- std' in percent, sample std (n-1); no std for a single value."""
    mean = 100 * statistics.mean(values)
    if len(values) < 2:
        return f"{mean:6.2f}%          (n=1)"
    return f"{mean:6.2f}% +- {100 * statistics.stdev(values):5.2f}% (n={len(values)})"


def summarize(rows):
    print("\nsummary (final errors, mean +- sample std over seeds):")
    for key in sorted({(r["arch"], r["depth"]) for r in rows}):
        group = [r for r in rows if (r["arch"], r["depth"]) == key]
        train = spread([r["final_train_error"] for r in group])
        test = spread([r["final_test_error"] for r in group])
        print(f"  {key[0]:>8}-{key[1]:<3} train {train}   test {test}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder with data_batch_1..5.bin and test_batch.bin")
    p.add_argument("--train-subset", type=int, default=None, help="first N training records (default all)")
    p.add_argument("--test-subset", type=int, default=None, help="first M test records (default all)")
    p.add_argument("--archs", nargs="+", choices=["plain", "residual"], default=["plain", "residual"])
    p.add_argument("--depths", nargs="+", type=int, default=[20, 56])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--iterations", type=int, default=64000)
    p.add_argument("--milestones", nargs="*", type=int, default=[32000, 48000])
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--last-batch", choices=["partial", "drop", "wrap"], default="partial")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--out", default=None, help="append one JSON object per run to this file")
    args = p.parse_args()
    for d in args.depths:
        if d < 8 or (d - 2) % 6:
            p.error(f"depth {d} is not 6n+2 with n >= 1")
    if args.iterations < 1 or args.batch < 1:
        p.error("--iterations and --batch must be positive")
    return args


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_data(args.data, args.train_subset, args.test_subset)
    if args.last_batch == "drop" and len(data[1]) < args.batch:
        sys.exit(f"--last-batch drop needs at least --batch ({args.batch}) training images")
    mean = pixel_mean(data[0])
    rows = []
    for arch in args.archs:
        for depth in args.depths:
            for seed in args.seeds:
                row = train_run(arch, depth, seed, data, mean, args)
                rows.append(row)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                print(
                    f"{arch}-{depth} seed {seed} ({args.last_batch}, {args.iterations} it, "
                    f"{len(row['epochs'])} epochs): train error {100 * row['final_train_error']:.2f}% "
                    f"loss {row['final_train_loss']:.4f}, test error {100 * row['final_test_error']:.2f}% "
                    f"[{row['seconds']:.1f}s]",
                    flush=True,
                )
    summarize(rows)


if __name__ == "__main__":
    main()
