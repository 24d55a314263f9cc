#!/usr/bin/env bash
# Set up everything sktransfer needs on a fresh machine with only Python 3:
# a virtual environment in .venv, the CPU build of torch, and the package with
# the extras for tests, plots and docs (the tests build the docs). Safe to run
# again: it only adds what is missing.
#   EXTRAS=plot bash scripts/bootstrap.sh   # choose other extras
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first, so the package's own range (which 2.13 meets) adds nothing more. On
# PyPI's Linux index that pin is a multi-GB CUDA build: set
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu for the CPU build.
"${PIP[@]}" "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
"${PIP[@]}" -e ".[${EXTRAS:-tests,plot,docs}]"
