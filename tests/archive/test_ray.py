"""The Ray engine writes byte-identical files to the local one (local ``ray.init(num_cpus=2)``).

Ray runs in a subprocess with a timeout, so a scheduling stall fails the test instead of
hanging CI.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sgcformat.archive import encode_tree

pytest.importorskip("ray")

SCRIPT = """
import sys, ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
from sgcformat.archive import encode_tree
src, labels, out = sys.argv[1:4]
a = encode_tree(src, out + "/labels", labels_dir=labels, vocab="coco-stuff-182", engine="ray", workers=2)
b = encode_tree(src, out + "/segmented", profile="ldm-semantic-512", engine="ray", batch_size=4)
print(a.done, b.done)
"""


def outputs(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.sgc")}


def test_ray_and_local_write_the_same_bytes(photo_tree, tmp_path, tiny_models):
    src, labels = photo_tree
    local = tmp_path / "local"
    encode_tree(src, local / "labels", labels_dir=labels, vocab="coco-stuff-182", workers=2)
    encode_tree(src, local / "segmented", profile="ldm-semantic-512", batch_size=4)
    ray_out = tmp_path / "ray"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(src), str(labels), str(ray_out)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["6", "6"]
    for kind in ("labels", "segmented"):
        expected = outputs(local / kind)
        assert len(expected) == 6
        assert outputs(ray_out / kind) == expected


def test_ray_engine_keeps_stderr_quiet(photo_tree, tmp_path):
    """``sgc archive encode --engine ray`` starting its own Ray prints no Ray INFO lines, warnings
    or progress bars: stderr stays free for the run's own progress and failures."""
    src, labels = photo_tree
    cmd = [sys.executable, "-m", "sgcformat.cli", "archive", "encode", str(src), "-o", str(tmp_path / "out"),
           "--labels-dir", str(labels), "--vocab", "coco-stuff-182", "--engine", "ray", "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "encoded 6" in done.stdout
    assert done.stderr.strip() == ""
