"""A normal (non-editable) install has the namespaced layout of pyproject's package-dir mapping."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None, reason="needs setuptools to build")
def test_wheel_layout(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "-w", str(tmp_path), "--no-deps",
         "--no-build-isolation", "-q"],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("sgcformat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # sgcformat-<version>-<tags>.whl: a platform wheel where the native decoder was built.
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"sgcformat", dist_info}
    for module in ("sgcformat/pil/SgcImagePlugin.py", "sgcformat/viewer/app.py",
                   "sgcformat/models/decode.py", "sgcformat/coding/labels.py",
                   "sgcformat/data/vocab/coco-stuff-182.txt",
                   "sgcformat/viewer/resources/sgcformat-mime.xml"):
        assert module in names
    if importlib.util.find_spec("sgcformat.coding._native") is not None:  # built here: in the wheel
        assert any(n.startswith("sgcformat/coding/_native.") for n in names), names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "sgc = sgcformat.cli:main" in entry_points
    assert "view = sgcformat.viewer.cli:add_parser" in entry_points
