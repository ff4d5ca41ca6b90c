#!/usr/bin/env python3
"""Does libtorch's CPU training give the same bits at 1 thread as at 2? Trains a small conv-BN-ReLU
net (CIFAR-sized input, batch 128, SGD with momentum and weight decay, the paper's recipe) for five
steps from the same weights on the same batches at 1 and at 2 intra-op threads, in fp32 and under
bf16 autocast, and prints the largest weight difference. It decides whether the twins of a pair
could train in parallel at one thread each and still match the sequential loop at two threads bit
for bit (BENCHMARKS.md, "Twins in parallel").

    PYTHONPATH=.libtorch python3 bench/thread_bits.py
"""

import torch
import torch.nn as nn


def train(threads, bf16, steps=5):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers, width = [], 3
    for out, stride in [(16, 1), (32, 2), (64, 2)]:
        layers += [nn.Conv2d(width, out, 3, stride, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
        width = out
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    batches = torch.Generator().manual_seed(1)
    for _ in range(steps):
        xs = torch.randn(128, 3, 32, 32, generator=batches)
        ys = torch.randint(0, 10, (128,), generator=batches)
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            logits = net(xs)
        loss = nn.functional.cross_entropy(logits.float(), ys)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


for bf16 in [False, True]:
    one, two, again = train(1, bf16), train(2, bf16), train(2, bf16)
    print(
        f"{'bf16' if bf16 else 'fp32'}: 1 vs 2 threads "
        + ("identical" if torch.equal(one, two) else f"differ, largest |diff| {(one - two).abs().max():.3g}")
        + f"; 2 vs 2 threads {'identical' if torch.equal(two, again) else 'differ'}"
    )
