"""The documentation builds without a warning, gallery examples included."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_data

ROOT = Path(__file__).resolve().parents[1]


@needs_data  # three gallery examples run on the benchmark data
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx_gallery", reason="docs extra not installed: pip install -e .[docs]")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert (tmp_path / "html" / "auto_examples" / "domain_adaptation"
            / "plot_dann_moons.html").exists()
