"""Fixtures for the model tests: tiny random-weight models (see :mod:`sgcformat.testing`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sgcformat

# The tiny models do microseconds of work per op; on a shared 2-core machine extra
# intra-op threads only add contention (measured: a small conv 0.6 ms on 1 thread, 80 ms on 2).
torch.set_num_threads(1)


def _ade_scene(width: int, height: int) -> tuple:
    """A synthetic photo with an ade20k-150 label PNG (1-based): sky, building, road."""
    yy, xx = np.mgrid[0:height, 0:width]
    labels = np.where(yy < height * 0.4, 3, np.where(yy < height * 0.75, 2, 7)).astype(np.uint8)
    labels[(xx > width * 0.6) & (yy > height * 0.3) & (yy < height * 0.8)] = 5  # tree
    colours = {3: (120, 170, 230), 2: (150, 120, 100), 7: (90, 90, 90), 5: (40, 120, 40)}
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    for value, colour in colours.items():
        rgb[labels == value] = colour
    from PIL import Image

    return Image.fromarray(rgb), Image.fromarray(labels)


@pytest.fixture(scope="session")
def sgc_files(make_scene) -> dict[str, sgcformat.SgcFile]:
    """One small file per generative profile, from given label maps (no segmenter)."""
    image, labels = make_scene(64, 48)
    ade_image, ade_labels = _ade_scene(64, 48)
    return {
        "ldm-semantic-512": sgcformat.encode(image, labels=labels, vocab="coco-stuff-182"),
        "sd15-controlnet-seg": sgcformat.encode(ade_image, labels=ade_labels, vocab="ade20k-150"),
    }
