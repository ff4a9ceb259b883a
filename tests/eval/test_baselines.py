"""Classical codecs reach the requested size, or say that they cannot."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sgcformat.eval import baselines
from sgcformat.eval.metrics import psnr

CODECS = {c.name: c for c in baselines.available_codecs()}


def _photo(size: int = 96) -> Image.Image:
    """A smooth gradient with texture: compressible, but every quality step changes the size."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([200 * xx, 150 * yy, 100 + 80 * np.sin(6 * xx * yy)], axis=-1)
    rgb += rng.normal(0, 12, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name", sorted(CODECS))
def test_matched_rate_lands_in_the_bracket(name):
    codec, image = CODECS[name], _photo()
    smallest = len(codec.encode(image, codec.lo))
    largest = len(codec.encode(image, codec.hi))
    target = int((smallest * largest) ** 0.5)
    result = codec.at_rate(image, target)
    assert result.reached
    assert result.size <= target
    # close to the target: the search stops within one quality step or 1 % of ratio
    assert result.size >= 0.5 * target
    assert result.image.size == image.size
    assert psnr(np.asarray(image), np.asarray(result.image)) > 15


@pytest.mark.parametrize("name", sorted(CODECS))
def test_unreachable_target_keeps_the_smallest_file(name):
    codec, image = CODECS[name], _photo()
    result = codec.at_rate(image, 10)
    assert not result.reached
    assert result.size == len(codec.encode(image, codec.lo))
    assert result.target_bytes == 10


def test_generous_target_uses_the_top_quality():
    codec, image = CODECS["JPEG"], _photo()
    result = codec.at_rate(image, 10**7)
    assert result.reached and result.setting == "q=95"


def test_missing_vvc_is_explained(monkeypatch):
    monkeypatch.setattr(baselines.shutil, "which", lambda name: None)
    assert "VVC" not in [c.name for c in baselines.available_codecs()]
    assert "vvencapp" in baselines.missing_codecs()["VVC"]


def test_yuv420_round_trip_is_close():
    rgb = np.asarray(_photo(64).filter(__import__("PIL.ImageFilter").ImageFilter.GaussianBlur(2)))
    back = baselines.yuv420_to_rgb(baselines.rgb_to_yuv420(rgb), 64, 64)
    assert back.shape == rgb.shape
    assert psnr(rgb, back) > 35
