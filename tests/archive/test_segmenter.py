"""Without label maps the profile's segmenter runs in batches: ⌈N / B⌉ calls for N photos."""

from __future__ import annotations

import math

import pytest

import sgcformat
from sgcformat import models
from sgcformat.archive import encode_tree


@pytest.mark.parametrize(("count", "batch"), [(7, 3), (4, 4), (5, 8)])
def test_segmenter_calls_equal_ceil_n_over_b(tmp_path, make_scene, tiny_models, monkeypatch, count, batch):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(count):
        make_scene(80, 60, seed=i)[0].save(src / f"p{i}.jpg")
    calls = []
    real = models.segment_batch

    def counting(images, profile, device=None):
        calls.append(len(images))
        return real(images, profile, device)

    monkeypatch.setattr(models, "segment_batch", counting)
    summary = encode_tree(src, tmp_path / "out", profile="ldm-semantic-512", batch_size=batch)
    assert summary.done == count
    assert len(calls) == math.ceil(count / batch)
    assert all(n == batch for n in calls[:-1])
    for i in range(count):
        assert sgcformat.read(tmp_path / "out" / f"p{i}.jpg.sgc").profile == "ldm-semantic-512"
