"""Peak memory of CNNFeatureExtractor reading image files, for two file counts.

Writes ``N`` JPEG files (400 x 300 RGB) to a temporary folder, then extracts
EfficientNet-Lite0 codes from the list of paths in a fresh process and reports
that process's peak resident memory (``ru_maxrss``) and the growth of its peak
over the memory after loading the model. If the files were all held in memory,
the growth would scale with ``N`` (about 0.36 MB of pixels per image, 0.6 MB
per image once preprocessed); reading them one batch at a time keeps it flat.

Run from the repository root (about 3 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_cnn_memory.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _environment import command  # a sibling module of this script

CHILD = r"""
import json, resource, sys, time
import torch
from sktransfer import CNNFeatureExtractor
paths = sys.argv[1:]
torch.set_num_threads(2)
ext = CNNFeatureExtractor(batch_size=32).fit(paths[:1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
codes = ext.transform(paths)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": len(paths), "shape": codes.shape, "base_mb": base, "peak_mb": peak,
                  "seconds": elapsed}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[256, 2048])
    args = parser.parse_args()
    print(command(), flush=True)
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i in range(max(args.counts)):
            # Smooth random images compress like photos, unlike white noise.
            small = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
            image = Image.fromarray(small).resize((400, 300), Image.BICUBIC)
            path = Path(folder) / f"{i:05d}.jpg"
            image.save(path, quality=90)
            paths.append(str(path))
        for n in args.counts:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, *paths[:n]], capture_output=True, text=True, check=True
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("EfficientNet-Lite0 codes from JPEG files (400x300), batch 32\n")
    print("| files | peak RSS (MB) | RSS after loading the model (MB) | growth during transform (MB) | images/s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['peak_mb']:.0f} | {r['base_mb']:.0f} | "
              f"{r['peak_mb'] - r['base_mb']:.0f} | {r['n'] / r['seconds']:.1f} |")
    growth = [r["peak_mb"] - r["base_mb"] for r in rows]
    print(f"\npeak growth with {rows[-1]['n']} files minus with {rows[0]['n']} files: "
          f"{growth[-1] - growth[0]:.0f} MB "
          f"(holding the decoded files would take {0.36 * (rows[-1]['n'] - rows[0]['n']):.0f} MB)")


if __name__ == "__main__":
    main()
