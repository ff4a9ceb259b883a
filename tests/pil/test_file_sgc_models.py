"""Generative decoding through Pillow, with the tiny random-weight models of ``sgcformat.testing``.

The tiny models paint noise-like images: these tests check plumbing (sizes, seeds,
options, threads, errors), never image quality.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import sgcformat
from sgcformat.errors import DecodeCancelled, ModelNotFoundError
from sgcformat.models import generate, loading

pytest.importorskip("diffusers")

STEPS = 2


def decoded(path, **options) -> np.ndarray:
    with Image.open(path) as im:
        im.decoder_options(steps=STEPS, use_cache=False, **options)
        im.load()
        assert im.size == sgcformat.read(path).size
        assert im.mode == "RGB"
        return np.asarray(im)


def test_load_runs_the_generative_decoder(generative_file, tiny_models):
    sgc = sgcformat.read(generative_file)
    expected = generate(sgc, seed=7, steps=STEPS, use_cache=False)
    assert np.array_equal(decoded(generative_file), np.asarray(expected))


def test_controlnet_profile(make_sgc, tiny_models):
    path = make_sgc("ade.sgc", vocab="ade20k-150", profile="sd15-controlnet-seg")
    pixels = decoded(path)
    assert pixels.shape[:2] == sgcformat.read(path).size[::-1]


def test_frames_are_different_samples(generative_file, tiny_models):
    with Image.open(generative_file) as im:
        im.decoder_options(steps=STEPS, use_cache=False, frames=2)
        im.load()
        first = np.asarray(im).copy()
        im.seek(1)
        im.load()
        second = np.asarray(im)
    assert not np.array_equal(first, second)
    # Frame 1 is seed 8: the same as frame 0 with the seed option set to 8.
    assert np.array_equal(second, decoded(generative_file, seed=8))


def test_callback_reports_steps(generative_file, tiny_models):
    calls = []
    decoded(generative_file, callback=lambda step, total: calls.append((step, total)))
    assert calls and calls[-1][0] == calls[-1][1]


def test_cancel(generative_file, tiny_models):
    cancel = threading.Event()
    cancel.set()
    with Image.open(generative_file) as im:
        im.decoder_options(steps=STEPS, use_cache=False, cancel=cancel)
        with pytest.raises(DecodeCancelled):
            im.load()


def test_missing_model_is_an_oserror_naming_it(generative_file, no_models):
    with Image.open(generative_file) as im, pytest.raises(OSError) as info:
        im.load()
    assert isinstance(info.value, ModelNotFoundError)
    message = str(info.value)
    assert "ldm-semantic-512" in message and "get it with" in message


def test_concurrent_loads_share_one_model(make_sgc, tiny_models, monkeypatch):
    paths = [make_sgc(f"{i}.sgc", profile="ldm-semantic-512", seed=i) for i in range(2)]
    factory_runs = []
    real_shared = loading.shared

    def counting_shared(key, factory):
        def counted():
            factory_runs.append(key)
            return factory()
        return real_shared(key, counted)

    monkeypatch.setattr(loading, "shared", counting_shared)
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:  # re-raises a worker's exception
        results = list(pool.map(decoded, paths))
    assert len(factory_runs) == len(set(factory_runs)), "a model component was loaded twice"
    for result, path in zip(results, paths, strict=True):
        assert np.array_equal(result, decoded(path))


def test_save_without_labels_runs_the_segmenter(scene, tiny_models):
    image, _ = scene
    out = io.BytesIO()
    image.save(out, format="SGC")
    with Image.open(io.BytesIO(out.getvalue())) as im:
        assert im.info["profile"] == "ldm-semantic-512"
        assert im.info["vocab"] == "coco-stuff-182"
    out = io.BytesIO()
    image.save(out, format="SGC", profile="sd15-controlnet-seg")
    with Image.open(io.BytesIO(out.getvalue())) as im:
        assert im.info["vocab"] == "ade20k-150"
