#!/usr/bin/env python3
"""The PyTorch side of `scripts/bench`: the paper's CIFAR ResNets written the usual PyTorch way.

Same nets (3x3 convs without bias, BN, option-A shortcuts, He init), same optimizer settings
(torch.optim.SGD, lr 0.1, momentum 0.9, weight decay 1e-4), and the data pipeline a user would
write: a torchvision-style Dataset whose __getitem__ pads, randomly crops and flips one image,
fed by a DataLoader with worker processes. Per-pixel mean subtraction as in the paper (and
resdeg). It measures what resdeg's `bench` measures, the same way, and prints one JSON object
a line:
  {"impl": "pytorch", "depth": 20, "metric": "train_img_s", "median": ..., "min": ..., "max": ...}
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
from torch.utils.data import DataLoader, Dataset  # noqa: E402

RECORD = 3073  # one label byte, then 3x32x32 pixel bytes (the official binary layout)


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.extra = c_out - c_in  # option A: subsample, then zero channels

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.extra == 0 else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.extra))
        return F.relu(out + skip)


class ResNet(nn.Module):
    def __init__(self, depth):
        super().__init__()
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, c_in = [], 16
        for s, c_out in enumerate([16, 32, 64]):
            for b in range(n):
                layers.append(Block(c_in, c_out, 2 if s > 0 and b == 0 else 1))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def read_split(data_dir, names, limit):
    """uint8 images [N, 3, 32, 32] and int64 labels of the first `limit` records of `names`."""
    raw = bytearray(b"".join(open(os.path.join(data_dir, n), "rb").read() for n in names))
    rec = torch.frombuffer(raw, dtype=torch.uint8).view(-1, RECORD)[:limit]
    return rec[:, 1:].reshape(-1, 3, 32, 32).clone(), rec[:, 0].long()


class Cifar(Dataset):
    """torchvision-style: one image per __getitem__, augmented on the fly."""

    def __init__(self, images, labels, mean, train):
        self.images, self.labels, self.mean, self.train = images, labels, mean, train

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = self.images[i].float().div_(255).sub_(self.mean)
        if self.train:
            x = F.pad(x, (4, 4, 4, 4))
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            x = x[:, dy : dy + 32, dx : dx + 32]
            if torch.rand(()) < 0.5:
                x = x.flip(2)
        return x, int(self.labels[i])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def spread(name, depth, values, args, **extra):
    row = {
        "impl": args.label,
        "depth": depth,
        "metric": name,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        **extra,
    }
    print(json.dumps(row), flush=True)


def bench_depth(depth, args, device, data):
    torch.manual_seed(0)
    model = ResNet(depth).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    batch = args.batch
    g = torch.Generator().manual_seed(1)
    xs = torch.randn(batch, 3, 32, 32, generator=g).to(device)
    ys = torch.randint(0, 10, (batch,), generator=g).to(device)
    if args.channels_last:
        xs = xs.contiguous(memory_format=torch.channels_last)

    def steps(k):
        model.train()
        for _ in range(k):
            loss = F.cross_entropy(model(xs), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    steps(args.warmup)
    sync(device)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        steps(args.steps)
        sync(device)
        times.append(time.perf_counter() - t)
    spread("train_img_s", depth, [args.steps * batch / t for t in times], args)
    spread("train_ms_per_it", depth, [1000 * t / args.steps for t in times], args)
    if device.type == "cuda":
        spread("peak_alloc_mib", depth, [torch.cuda.max_memory_allocated() / 2**20], args)

    # Evaluation throughput: eval mode, no gradients, batches of 500 as resdeg evaluates.
    images = torch.randn(args.eval_images, 3, 32, 32, generator=g).to(device)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)

    def evaluate():
        model.eval()
        with torch.no_grad():
            for at in range(0, len(images), 500):
                model(images[at : at + 500]).argmax(1)
        sync(device)

    evaluate()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        evaluate()
        times.append(time.perf_counter() - t)
    spread("eval_img_s", depth, [len(images) / t for t in times], args)

    if data is None:
        return
    # One epoch end to end: the DataLoader's augmentation, training, then the test set.
    train_set, test_set = data
    pin = device.type == "cuda"
    train_loader = DataLoader(
        train_set, batch_size=batch, shuffle=True, num_workers=args.workers, pin_memory=pin
    )
    test_loader = DataLoader(test_set, batch_size=500, num_workers=args.workers, pin_memory=pin)

    def epoch():
        model.train()
        for x, y in train_loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if args.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        wrong = 0
        with torch.no_grad():
            for x, y in test_loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                wrong += (model(x).argmax(1) != y).sum()
        return int(wrong)  # read back once, as a user printing the test error would

    times = []
    for k in range(args.epoch_repeats + 1):
        t = time.perf_counter()
        epoch()
        if k > 0:  # the first epoch warms up
            times.append(time.perf_counter() - t)
    spread("epoch_s", depth, times, args, train=len(train_set), test=len(test_set))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--depths", default="20,56,110")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=5, help="training steps before timing")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--eval-images", type=int, default=2000)
    p.add_argument("--data", help="CIFAR-10 binary folder; without it no epoch is timed")
    p.add_argument("--epoch-train", type=int, default=5120, help="training images in the epoch")
    p.add_argument("--epoch-test", type=int, default=1000, help="test images in the epoch")
    p.add_argument("--epoch-repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--label", default="pytorch", help="the impl name in the JSON lines")
    p.add_argument("--no-mkldnn", action="store_true", help="turn oneDNN off (to measure it)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(
        json.dumps(
            {
                "impl": args.label,
                "torch": torch.__version__,
                "channels_last": args.channels_last,
                "threads": torch.get_num_threads(),
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "workers": args.workers,
            }
        ),
        flush=True,
    )
    data = None
    if args.data:
        train = [f"data_batch_{i}.bin" for i in range(1, 6)]
        images, labels = read_split(args.data, train, args.epoch_train)
        mean = (images.double().mean(0) / 255).float()
        test_images, test_labels = read_split(args.data, ["test_batch.bin"], args.epoch_test)
        data = (Cifar(images, labels, mean, True), Cifar(test_images, test_labels, mean, False))
    for depth in [int(d) for d in args.depths.split(",")]:
        bench_depth(depth, args, device, data)


if __name__ == "__main__":
    sys.exit(main())
