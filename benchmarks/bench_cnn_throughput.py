"""Extraction throughput: CNNFeatureExtractor vs bare PyTorch inference.

The same EfficientNet-Lite0 (ImageNet weights), the same images (uint8, 256 x
256 RGB, NHWC, so the preprocessing only crops and normalises), the same batch
size, thread count and memory layout. The bare loop is what a user would
write by hand: permute, crop, ``(x - 127) / 128``, forward to the pooled
features under ``torch.inference_mode``. The two are run alternately
``--repeats`` times; the best time of each is kept (the least disturbed by
other work on the machine) and the median is printed too.

Run from the repository root::

    .venv/bin/python benchmarks/bench_cnn_throughput.py            # 2 threads
    .venv/bin/python benchmarks/bench_cnn_throughput.py --layout contiguous
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _environment import command  # a sibling module of this script

from sktransfer import CNNFeatureExtractor
from sktransfer.nn import EfficientNetLite0


def bare_pytorch(model, images, batch_size, channels_last):
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start : start + batch_size]).permute(0, 3, 1, 2).float()
            x = (x[..., 16:240, 16:240] - 127.0) / 128.0
            # The permuted NHWC array is channels-last in memory already:
            # make the layout explicit either way.
            x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            x = model.avgpool(model.head(model.blocks(model.stem(x))))
            outputs.append(x.numpy())
    return np.concatenate(outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-images", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layout", choices=("channels_last", "contiguous"), default="channels_last")
    args = parser.parse_args()
    print(command(), flush=True)
    torch.set_num_threads(args.threads)
    channels_last = args.layout == "channels_last"

    images = np.random.default_rng(0).integers(0, 256, (args.n_images, 256, 256, 3), dtype=np.uint8)
    model = EfficientNetLite0().eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    extractor = CNNFeatureExtractor(
        batch_size=args.batch_size, channels_last=channels_last
    ).fit(images[:1])

    # Same numbers from both (a check that the comparison is fair).
    np.testing.assert_allclose(
        extractor.transform(images[:4]), bare_pytorch(model, images[:4], 4, channels_last),
        rtol=1e-4, atol=1e-4,
    )
    times = {"bare PyTorch": [], "CNNFeatureExtractor": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        bare_pytorch(model, images, args.batch_size, channels_last)
        times["bare PyTorch"].append(time.perf_counter() - start)
        start = time.perf_counter()
        extractor.transform(images)
        times["CNNFeatureExtractor"].append(time.perf_counter() - start)

    print(f"EfficientNet-Lite0, {args.n_images} images 256x256 uint8, batch {args.batch_size}, "
          f"{args.threads} threads, {args.layout}, best and median of {args.repeats} alternating runs\n")
    print("| extractor | images/s (best) | images/s (median) |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {args.n_images / min(t):.1f} | {args.n_images / np.median(t):.1f} |")
    ratio = min(times["bare PyTorch"]) / min(times["CNNFeatureExtractor"])
    ratio_med = np.median(times["bare PyTorch"]) / np.median(times["CNNFeatureExtractor"])
    print(f"\nthroughput ratio CNNFeatureExtractor / bare: {ratio:.3f} (best), {ratio_med:.3f} (median)")


if __name__ == "__main__":
    main()
