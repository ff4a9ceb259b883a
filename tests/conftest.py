"""Fixtures shared by the whole suite: the corpus and small synthetic scenes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Tiny random-weight models for every profile (fixtures tiny_model_dir, tiny_models), built once.
pytest_plugins = ["sgcformat.testing"]

CORPUS = Path(os.environ.get("SGC_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "manifest.json").exists():
        pytest.skip(f"corpus not found at {CORPUS} (set SGC_CORPUS)")
    return CORPUS


@pytest.fixture(scope="session")
def corpus_pairs(corpus) -> list[dict]:
    """Manifest entries that have a label map, with absolute paths."""
    entries = json.loads((corpus / "manifest.json").read_text())
    return [
        {**e, "image": corpus / e["image"], "label": corpus / e["label"]}
        for e in entries if e.get("label")
    ]


def make_scene(width: int = 96, height: int = 64, seed: int = 0) -> tuple[Image.Image, Image.Image]:
    """A synthetic photo and its coco-stuff-182 label PNG: sky over grass, a 'person' blob, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    labels = np.where(yy < height * 0.45, 156, 123).astype(np.uint8)  # sky-other / grass
    blob = (xx - width * 0.6) ** 2 + (yy - height * 0.6) ** 2 < (min(width, height) * 0.2) ** 2
    labels[blob] = 0  # person
    labels[:2, :2] = 255  # a few unlabeled pixels
    palette = {156: (110, 160, 230), 123: (60, 150, 50), 0: (200, 120, 90), 255: (0, 0, 0)}
    rgb = np.zeros((height, width, 3), dtype=np.float64)
    for value, colour in palette.items():
        rgb[labels == value] = colour
    rgb += rng.normal(0, 6, rgb.shape) + (yy / height * 30)[..., None]
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    return image, Image.fromarray(labels, "L")


@pytest.fixture(name="make_scene", scope="session")
def make_scene_fixture():
    """The :func:`make_scene` factory, for tests that need other sizes or seeds."""
    return make_scene


@pytest.fixture
def scene() -> tuple[Image.Image, Image.Image]:
    return make_scene()
