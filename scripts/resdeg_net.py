#!/usr/bin/env python3
"""A resdeg run's final weights in plain PyTorch, without resdeg.

Every finished run leaves `results/<experiment>/<run_id>/weights.safetensors`: the net's
`state_dict` under PyTorch's names (what the module tree below gives), the per-pixel mean image
it was trained with (`input_mean`), and in the header's metadata which net it is (arch, depth,
shortcut). `safetensors.torch.load_file` reads it; so does `read_safetensors` below, which needs
nothing but torch.

    from resdeg_net import load
    net = load("results/paper_depth/residual-56-A-s0/weights.safetensors")   # eval mode
    logits = net(images_uint8.float() / 255)                                 # [N, 3, 32, 32]

As a command, it prints the net's error on the CIFAR-10 test set (the first N images with
--images), as resdeg records it (eval mode, batches of 500, channels-last on the CPU):

    python3 scripts/resdeg_net.py WEIGHTS --data DIR [--images N]

The net is the paper's (section 4.2): a 3x3 conv, three stages of 2n blocks of two 3x3 conv-BN
layers on 16, 32 and 64 channels, global average pooling, a 10-way linear layer. A residual block
adds its input (option A: subsampled and zero-padded where the shape changes; option B: a 1x1
conv-BN projection there) before its last ReLU.
"""
import argparse
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}


def read_safetensors(path):
    """(tensors by name, metadata) of a .safetensors file: 8 bytes of header length, the JSON
    header, then each tensor's little-endian bytes at its offsets."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = bytearray(raw[8 + n:])
    tensors = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        t = torch.frombuffer(body[a:b], dtype=DTYPES[h["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[h["dtype"]])
        tensors[name] = t.reshape(h["shape"]).clone()
    return tensors, meta


class ConvBn(nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride, arch, shortcut):
        super().__init__()
        self.conv1 = ConvBn(c_in, c_out, 3, stride)
        self.conv2 = ConvBn(c_out, c_out, 3, 1)
        self.residual = arch == "residual"
        self.extra = c_out - c_in
        if self.residual and self.extra and shortcut == "B":
            self.shortcut = ConvBn(c_in, c_out, 1, stride)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        if not self.residual:
            return F.relu(out)
        if self.extra == 0:
            skip = x
        elif hasattr(self, "shortcut"):
            skip = self.shortcut(x)
        else:
            skip = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.extra))
        return F.relu(out + skip)


class Net(nn.Module):
    """The paper's 6n+2-layer CIFAR net, plain or residual, taking images scaled to [0, 1]."""

    def __init__(self, arch, depth, shortcut="A"):
        super().__init__()
        assert depth >= 8 and (depth - 2) % 6 == 0, f"depth {depth} is not 6n+2"
        self.n = (depth - 2) // 6
        self.register_buffer("input_mean", torch.zeros(3, 32, 32))
        self.stem = ConvBn(3, 16, 3, 1)
        c_in = 16
        for s, c_out in enumerate([16, 32, 64]):
            stage = nn.Module()
            for b in range(self.n):
                stride = 2 if s > 0 and b == 0 else 1
                stage.add_module(f"block{b + 1}", Block(c_in, c_out, stride, arch, shortcut))
                c_in = c_out
            self.add_module(f"stage{s + 1}", stage)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.stem(x - self.input_mean))
        for s in range(1, 4):
            for b in range(1, self.n + 1):
                x = getattr(getattr(self, f"stage{s}"), f"block{b}")(x)
        return self.fc(x.mean((2, 3)))


def load(path):
    """The net of a resdeg weights file, its weights loaded (strictly), in eval mode."""
    tensors, meta = read_safetensors(path)
    net = Net(meta["arch"], int(meta["depth"]), meta["shortcut"])
    net.load_state_dict(tensors, strict=True)
    return net.eval()


def test_images(data, count):
    """The first `count` images of CIFAR-10's test_batch.bin (uint8 [N, 3, 32, 32]) and labels."""
    with open(os.path.join(data, "test_batch.bin"), "rb") as f:
        raw = bytearray(f.read())
    rec = torch.frombuffer(raw, dtype=torch.uint8).view(-1, 3073)[:count]
    return rec[:, 1:].reshape(-1, 3, 32, 32).clone(), rec[:, 0].long()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", help="a run's weights.safetensors")
    p.add_argument("--data", required=True, help="folder with CIFAR-10's test_batch.bin")
    p.add_argument("--images", type=int, default=10000, help="evaluate the first N test images")
    a = p.parse_args()
    _, meta = read_safetensors(a.weights)
    net = load(a.weights).to(memory_format=torch.channels_last)
    x, y = test_images(a.data, a.images)
    wrong = 0
    with torch.no_grad():
        for xs, ys in zip(x.split(500), y.split(500)):
            xs = (xs.float() / 255.0).contiguous(memory_format=torch.channels_last)
            wrong += (net(xs).argmax(-1) != ys).sum().item()
    print(f"{meta['run_id']}: {wrong} of {len(y)} test images wrong ({100 * wrong / len(y):.2f}%)")


if __name__ == "__main__":
    sys.exit(main())
