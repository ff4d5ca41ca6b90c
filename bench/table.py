#!/usr/bin/env python3
"""Prints scripts/bench's table from the JSON lines of every side: resdeg, the PyTorch reference as
usually written ("pytorch") and at its best CPU setting ("pytorch-best": channels-last, no
DataLoader workers). Speedups are against the faster PyTorch setting, metric by metric, so that a
claim survives the strongest baseline; the last line is `speedup step=<x> epoch=<y>` for ResNet-20
(resdeg / that baseline, higher is better for resdeg): the ratio of training images/s and of epoch
times, medians measured side by side."""

import json
import sys

# metric -> (label, higher is better)
METRICS = {
    "train_img_s": ("train img/s", True),
    "train_ms_per_it": ("train ms/iteration", False),
    "pair_img_s": ("pair img/s (2 nets)", True),
    "eval_img_s": ("eval img/s", True),
    "epoch_s": ("epoch s", False),
    "peak_gpu_mem_mib": ("peak GPU MiB", False),
    "peak_alloc_mib": ("peak torch alloc MiB", False),
}


def main(path):
    rows, headers = {}, []
    for line in open(path):
        r = json.loads(line)
        if "metric" not in r:
            headers.append(r)
            continue
        rows[(r["depth"], r["metric"], r["impl"])] = r
    for h in {json.dumps(h, sort_keys=True): h for h in headers}.values():
        print("# " + ", ".join(f"{k}={v}" for k, v in h.items()))
    cell = lambda r: f"{r['median']:.4g} [{r['min']:.4g}-{r['max']:.4g}]" if r else "-"
    print(f"{'depth':>5}  {'metric':<22} {'resdeg median [min-max]':>28} {'PyTorch usual':>28} "
          f"{'PyTorch best setting':>28} {'vs usual':>8} {'vs best':>8}")
    speed = {}
    for depth in sorted({k[0] for k in rows}):
        for metric, (label, higher) in METRICS.items():
            ours = rows.get((depth, metric, "resdeg"))
            usual, best = rows.get((depth, metric, "pytorch")), rows.get((depth, metric, "pytorch-best"))
            if not (ours or usual or best):
                continue
            ratio = lambda t: (ours["median"] / t["median"] if higher else t["median"] / ours["median"]) if ours and t else None  # noqa: E731
            ratios = [ratio(usual), ratio(best)]
            known = [x for x in ratios if x is not None]
            if known:
                speed[(depth, metric)] = min(known)
            show = [f"{x:.2f}x" if x is not None else "" for x in ratios]
            extra = f" ({ours['train']}+{ours['test']} images)" if ours and "train" in ours else ""
            print(f"{depth:>5}  {label + extra:<22} {cell(ours):>28} {cell(usual):>28} {cell(best):>28} "
                  f"{show[0]:>8} {show[1]:>8}")
            if metric == "train_ms_per_it" and ours:
                mins = ours["median"] * 64000 / 60000
                print(f"{depth:>5}  {'64k iterations (min)':<22} {mins:>28.1f}")
    # ResNet-20's; a run without depth 20 (CI's quick check) reports its shallowest depth.
    depths = sorted({k[0] for k in rows})
    d = 20 if 20 in depths else depths[0]
    fmt = lambda k: f"{speed[k]:.2f}" if k in speed else "n/a"
    print(f"speedup step={fmt((d, 'train_img_s'))} epoch={fmt((d, 'epoch_s'))}")


if __name__ == "__main__":
    main(sys.argv[1])
