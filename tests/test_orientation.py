"""EXIF orientation 1-8: every entry point stores the photo upright (as viewers show it)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import sgcformat
import sgcformat.pil
from sgcformat.archive import encode_tree

ORIENTATIONS = range(1, 9)


@pytest.fixture(scope="module")
def samples(corpus):
    folder = corpus / "exif" / "orientation"
    return {(kind, k): folder / f"{kind}_{k}.jpg" for kind in ("Landscape", "Portrait") for k in ORIENTATIONS}


def upright_labels(size) -> Image.Image:
    """A label map in the displayed orientation: sky over grass."""
    w, h = size
    values = np.full((h, w), 123, np.uint8)
    values[: h // 2] = 156
    return Image.fromarray(values)


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
@pytest.mark.parametrize("k", ORIENTATIONS)
def test_encode_and_plugin_save_store_the_photo_upright(samples, kind, k):
    size = (1800, 1200) if kind == "Landscape" else (1200, 1800)
    reference = sgcformat.encode(samples[kind, 1], labels=upright_labels(size), vocab="coco-stuff-182")
    sgc = sgcformat.encode(samples[kind, k], labels=upright_labels(size), vocab="coco-stuff-182")
    assert sgc.size == size
    diff = np.abs(sgc.color_map.astype(int) - reference.color_map.astype(int)).mean()
    assert diff < 6, f"orientation {k}: colour map differs from the upright one by {diff:.1f}"
    with Image.open(samples[kind, k]) as im:
        buffer = io.BytesIO()
        im.save(buffer, format="SGC", labels=upright_labels(size), vocab="coco-stuff-182", exif=True)
    saved = sgcformat.read(buffer.getvalue())
    assert saved.size == size and saved.color_map.tobytes() == sgc.color_map.tobytes()
    with Image.open(io.BytesIO(buffer.getvalue())) as back:
        assert back.getexif().get(0x0112, 1) == 1  # pixels upright, so the kept EXIF says so


def test_archive_stores_every_orientation_upright(samples, tmp_path):
    src, labels = tmp_path / "src", tmp_path / "labels"
    src.mkdir()
    labels.mkdir()
    for (kind, _), path in samples.items():
        (src / path.name).write_bytes(path.read_bytes())
        size = (1800, 1200) if kind == "Landscape" else (1200, 1800)
        upright_labels(size).save(labels / f"{path.stem}.png")
    summary = encode_tree(src, tmp_path / "out", labels_dir=labels, vocab="coco-stuff-182",
                          keep_metadata="all")
    assert summary.done == 16 and summary.failed == 0
    for (kind, _), path in samples.items():
        with Image.open(tmp_path / "out" / f"{path.name}.sgc") as im:
            assert im.size == ((1800, 1200) if kind == "Landscape" else (1200, 1800))
            assert im.getexif().get(0x0112, 1) == 1
