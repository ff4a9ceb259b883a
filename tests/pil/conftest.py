"""Fixtures for the Pillow plugin tests: small .sgc files built by the real encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import sgcformat
import sgcformat.pil
from sgcformat.pil import register_sgc_opener

#: coco-stuff-182 PNG values of the shared synthetic scene → ade20k-150 PNG values (0 = unlabeled).
COCO_TO_ADE_PNG = {156: 3, 123: 10, 0: 13, 255: 0}


def ade_labels(coco_labels: Image.Image) -> Image.Image:
    values = np.asarray(coco_labels)
    out = np.zeros_like(values)
    for coco, ade in COCO_TO_ADE_PNG.items():
        out[values == coco] = ade
    return Image.fromarray(out, "L")


def write_sgc(path: Path, scene, *, profile: str = "preview", vocab: str = "coco-stuff-182",
              **options) -> Path:
    """Encode the synthetic scene to ``path`` (labels converted to ``vocab``)."""
    image, labels = scene
    if vocab == "ade20k-150":
        labels = ade_labels(labels)
    sgcformat.write(path, sgcformat.encode(image, labels=labels, vocab=vocab, profile=profile, **options))
    return path


@pytest.fixture
def make_sgc(tmp_path, scene):
    """Factory: ``make_sgc(name, **encode_options)`` writes the synthetic scene as an .sgc file."""
    return lambda name, **options: write_sgc(tmp_path / name, scene, **options)


@pytest.fixture(autouse=True)
def _pillow_state():
    """Restore the plugin's defaults and Pillow's global switches after each test."""
    yield
    register_sgc_opener()
    ImageFile.LOAD_TRUNCATED_IMAGES = False


@pytest.fixture
def preview_file(tmp_path, scene) -> Path:
    """A file of profile ``preview``: it decodes without any model."""
    return write_sgc(tmp_path / "preview.sgc", scene)


@pytest.fixture
def generative_file(tmp_path, scene) -> Path:
    """A file of profile ``ldm-semantic-512`` with a stored seed."""
    return write_sgc(tmp_path / "ldm.sgc", scene, profile="ldm-semantic-512", seed=7)


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """No model anywhere: empty model dirs, no config, offline hub with an empty cache."""
    monkeypatch.setenv("SGC_MODEL_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("SGC_MODELS_CONFIG", str(tmp_path / "no-config.json"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
