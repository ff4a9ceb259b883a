"""A small photo tree with label maps in a mirrored folder, and a helper to run ``sgc``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sgcformat.cli import main

PATTERN = "{stem}.png"


def build_tree(root: Path, make_scene, count: int = 6, size=(96, 64)) -> tuple[Path, Path]:
    """``root/photos`` (JPEG and PNG in two folders) and ``root/labels`` mirroring it."""
    src, labels = root / "photos", root / "labels"
    for i in range(count):
        folder = "trip" if i % 2 else "home/garden"
        image, label = make_scene(*size, seed=i)
        ext = "jpg" if i % 3 else "png"
        (src / folder).mkdir(parents=True, exist_ok=True)
        (labels / folder).mkdir(parents=True, exist_ok=True)
        image.save(src / folder / f"p{i}.{ext}", quality=90)
        label.save(labels / folder / f"p{i}.png")
    return src, labels


@pytest.fixture
def photo_tree(tmp_path, make_scene) -> tuple[Path, Path]:
    return build_tree(tmp_path, make_scene)


def tree_hashes(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root`` (to prove sources are untouched)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_sgc(capsys, *argv) -> tuple[int, str, str]:
    """``sgc ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def encode_args(src: Path, dest: Path, labels: Path, *extra) -> list:
    return ["archive", "encode", src, "-o", dest, "--labels-dir", labels, "--labels-pattern", PATTERN,
            "--vocab", "coco-stuff-182", *extra]
