"""Small labelled scenes for the evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def _scene(path_stem, seed: int, width: int = 72, height: int = 48) -> None:
    """A tiny 'photo' (sky, grass, a blob) and its coco-stuff-182 label PNG."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    labels = np.where(yy < height * (0.3 + 0.1 * seed), 156, 123).astype(np.uint8)
    labels[(xx - width * 0.6) ** 2 + (yy - height * 0.6) ** 2 < (height * 0.2) ** 2] = 0
    colours = {156: (110, 160, 230), 123: (60, 150, 50), 0: (200, 120, 90)}
    rgb = np.zeros((height, width, 3))
    for value, colour in colours.items():
        rgb[labels == value] = colour
    rgb += rng.normal(0, 8, rgb.shape)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(f"{path_stem}.png")
    Image.fromarray(labels, "L").save(f"{path_stem}.label.png")


@pytest.fixture
def scenes(tmp_path):
    """Factory: a folder with ``n`` scenes (``sceneK.png`` + ``sceneK.label.png``)."""

    def make(n: int):
        folder = tmp_path / "images"
        folder.mkdir(exist_ok=True)
        for i in range(n):
            _scene(folder / f"scene{i}", i)
        return folder

    return make
