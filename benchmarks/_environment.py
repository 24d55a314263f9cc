"""Lines naming how a benchmark ran: the machine and library builds, and the command.

Results of chaotic fits (a high learning rate, few epochs) move with the CPU and
the numerical libraries' builds even on the same code, so the benchmarks that
publish accuracies print :func:`describe` in their headers; every benchmark
prints :func:`command`, so a saved report says how to reproduce it.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("numpy", "scipy", "scikit-learn", "skorch", "torch")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """``"CPU: <model> (<n> cores, <arch>); numpy x, scipy y, ..."``."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} not installed")
    return (f"CPU: {_cpu_model()} ({os.cpu_count()} cores, {platform.machine()}); "
            + ", ".join(versions))


def command() -> str:
    """``"Command: `OMP_NUM_THREADS=1 python benchmarks/<script> <arguments>`"``, quoted for a shell."""
    script = os.path.basename(sys.argv[0])
    line = f"OMP_NUM_THREADS=1 python benchmarks/{script} {shlex.join(sys.argv[1:])}".rstrip()
    return f"Command: `{line}`"
