"""Other programs' habits (issue 9): matplotlib, imageio and scikit-image, through their real calls."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import sgcformat
import sgcformat.models
from sgcformat.pil import IGNORED_SAVE_OPTIONS, register_sgc_opener

plt = pytest.importorskip("matplotlib.pyplot")
iio = pytest.importorskip("imageio.v3")
skio = pytest.importorskip("skimage.io")

LABELS = {"vocab": "coco-stuff-182", "profile": "preview"}


@pytest.fixture
def pixels(scene) -> np.ndarray:
    return np.asarray(scene[0])


@pytest.fixture
def decodes(monkeypatch, scene):
    """Count generative decodes: each returns the scene photo at the requested size."""
    calls = []

    def generate(sgc, seed=None, **_options):
        calls.append(seed)
        return scene[0].resize(sgc.size)

    monkeypatch.setattr(sgcformat.models, "generate", generate)
    return calls


def test_matplotlib_imsave_passes_dpi_which_is_ignored(tmp_path, scene, pixels):
    path = tmp_path / "plt.sgc"
    plt.imsave(path, pixels, pil_kwargs={"labels": scene[1], **LABELS})  # imsave adds dpi=(100, 100)
    expected = sgcformat.encode(Image.fromarray(pixels).convert("RGBA"), labels=scene[1], **LABELS)
    assert path.read_bytes() == expected.to_bytes()
    assert "dpi" in IGNORED_SAVE_OPTIONS


def test_unknown_keys_still_raise(scene):
    image, labels = scene
    for key, value in {"quality": 90, "optimize": True, "lables": labels}.items():
        with pytest.raises(ValueError, match=key):
            image.save(io.BytesIO(), format="SGC", labels=labels, **LABELS, **{key: value})


def test_imageio_write_and_read(tmp_path, scene, pixels):
    path = tmp_path / "iio.sgc"
    iio.imwrite(path, pixels, labels=scene[1], **LABELS)
    assert iio.imread(path).shape == pixels.shape
    assert len(list(iio.imiter(path))) == 1


def test_scikit_image_write_and_read(tmp_path, scene, pixels):
    path = tmp_path / "ski.sgc"
    skio.imsave(path, pixels, plugin="pil", check_contrast=False, labels=scene[1], **LABELS)
    assert skio.imread(path, plugin="pil").shape == pixels.shape


def test_frame_stacking_readers_run_one_decode(generative_file, decodes):
    """skimage's pil plugin seeks through every frame; imageio.imiter yields each one."""
    assert skio.imread(generative_file, plugin="pil").shape[-1] == 3
    assert decodes == [7]
    decodes.clear()
    assert len(list(iio.imiter(generative_file))) == 1
    assert decodes == [7]


def test_frames_opt_in_reaches_those_readers(generative_file, decodes):
    register_sgc_opener(frames=3)
    assert len(list(iio.imiter(generative_file))) == 3
    assert decodes == [7, 8, 9]


def test_save_without_torch_gives_the_same_hint_as_load(monkeypatch, generative_file, scene):
    """Without labels, save runs the segmenter: a missing torch must read like load's error."""
    def no_torch(*_args, **_options):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(sgcformat.models, "generate", no_torch)
    with Image.open(generative_file) as im, pytest.raises(OSError) as load_error:
        im.load()
    monkeypatch.setattr(sgcformat.models, "segment", no_torch)
    with pytest.raises(OSError) as save_error:
        scene[0].save(io.BytesIO(), format="SGC", profile="ldm-semantic-512")
    for error in (load_error.value, save_error.value):
        assert str(error).count("\n") == 0
        assert "needs the models extra (torch is missing): pip install 'sgcformat[models]'" in str(error)
