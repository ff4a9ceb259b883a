"""Saving .sgc files through Pillow: options, round trips, input modes, metadata."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import sgcformat
from sgcformat.container import ChunkType


def save_bytes(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format="SGC", **options)
    return out.getvalue()


def test_save_by_extension_round_trips_info(tmp_path, scene):
    image, labels = scene
    path = tmp_path / "out.sgc"
    image.save(path, labels=labels, vocab="coco-stuff-182", profile="preview", seed=42,
               label_size=(24, 16), color_size=(12, 8), color_quality=2)
    with Image.open(path) as im:
        assert im.format == "SGC" and im.size == image.size
        assert im.info["profile"] == "preview"
        assert im.info["vocab"] == "coco-stuff-182"
        assert im.info["seed"] == 42
        assert im.info["label_size"] == (24, 16)
        assert im.info["color_size"] == (12, 8)
        assert im.info["color_quality"] == 2
        assert im.info["bpp"] == pytest.approx(path.stat().st_size * 8 / (image.width * image.height))


def test_save_matches_encoder(scene):
    """The plugin adds nothing of its own: same bytes as sgcformat.encode with the same options."""
    image, labels = scene
    options = dict(labels=labels, vocab="coco-stuff-182", profile="preview", seed=3)
    assert save_bytes(image, **options) == sgcformat.encode(image, **options).to_bytes()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_save_writes_the_format_version_asked_for(scene, version):
    """version= reaches the encoder: older readers get a file they read, with the same maps."""
    image, labels = scene
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", profile="preview", version=version)
    newest = sgcformat.read(save_bytes(image, labels=labels, vocab="coco-stuff-182", profile="preview"))
    sgc = sgcformat.read(data)
    assert data[3] == sgc.version == version and newest.version == 3
    np.testing.assert_array_equal(sgc.label_map, newest.label_map)
    if version >= 2:  # version 1 codes the colours without the label map, so they quantise otherwise
        np.testing.assert_array_equal(sgc.color_map, newest.color_map)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == image.size


def test_save_labels_as_array(scene):
    image, labels = scene
    data = save_bytes(image, labels=np.asarray(labels), vocab="coco-stuff-182", profile="preview")
    assert data == save_bytes(image, labels=labels, vocab="coco-stuff-182", profile="preview")


@pytest.mark.parametrize("target", [300, 600])
def test_save_target_bytes(scene, target):
    image, labels = scene
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", target_bytes=target)
    assert len(data) <= target


def test_save_bpp(scene):
    image, labels = scene
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", bpp=0.5)
    assert len(data) * 8 / (image.width * image.height) <= 0.5


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "I", "I;16", "F", "CMYK", "YCbCr", "HSV"])
def test_save_from_every_mode(scene, mode):
    image, labels = scene
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
        assert converted.mode == "I;16"
    else:
        converted = image.convert(mode)
    data = save_bytes(converted, labels=labels, vocab="coco-stuff-182", profile="preview")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == image.size and im.mode == "RGB"
        im.load()


@pytest.mark.parametrize(
    "options",
    [{"quality": 90}, {"optimize": True}, {"labels_png": None}, {"append_images": []}],
)
def test_save_unsupported_option(tmp_path, scene, options):
    image, labels = scene
    path = tmp_path / "bad.sgc"
    with pytest.raises(ValueError, match="unsupported SGC save option"):
        image.save(path, labels=labels, vocab="coco-stuff-182", **options)
    assert not path.exists()


@pytest.mark.parametrize(
    "options",
    [
        {"label_size": (7, 7)},  # does not follow the aspect ratio
        {"color_quality": 99},
        {"target_bytes": 5},  # smaller than any file
        {"vocab": "no-such-vocab"},
        {"profile": "sd15-controlnet-seg"},  # needs ade20k-150 labels
        {"seed": -1},
        {"exif": 12},
    ],
)
def test_save_invalid_values(scene, options):
    image, labels = scene
    options = {"labels": labels, "vocab": "coco-stuff-182", **options}
    with pytest.raises(ValueError):
        save_bytes(image, **options)


def test_metadata_not_kept_by_default(scene):
    image, labels = scene
    image.info["exif"] = b"Exif\x00\x00" + Image.Exif().tobytes()[6:]
    image.info["icc_profile"] = b"icc" * 100
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", profile="preview")
    assert sgcformat.read(data).chunks == ()


def test_metadata_kept_when_asked(scene):
    image, labels = scene
    exif = Image.Exif()
    exif[0x010F] = "SGC test camera"  # Make
    image.info["exif"] = exif.tobytes()
    image.info["icc_profile"] = b"fake icc profile"
    base = dict(labels=labels, vocab="coco-stuff-182", profile="preview")
    data = save_bytes(image, exif=True, icc_profile=True, xmp="<x:xmpmeta/>", **base)
    sgc = sgcformat.read(data)
    assert sgc.chunk(ChunkType.EXIF).data == exif.tobytes()[6:]  # raw Exif, without "Exif\0\0"
    assert sgc.chunk(ChunkType.ICC).data == b"fake icc profile"
    with Image.open(io.BytesIO(data)) as im:
        assert im.getexif()[0x010F] == "SGC test camera"
        assert im.info["icc_profile"] == b"fake icc profile"
        assert im.info["xmp"] == b"<x:xmpmeta/>"
    plain = save_bytes(image, **base)
    extra = len(exif.tobytes()[6:]) + len(b"fake icc profile") + len(b"<x:xmpmeta/>")
    assert len(data) - len(plain) >= extra


def test_metadata_counts_towards_byte_budget(scene):
    image, labels = scene
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", target_bytes=400,
                      icc_profile=b"p" * 150)
    assert len(data) <= 400
    assert sgcformat.read(data).chunk(ChunkType.ICC).data == b"p" * 150


def test_exif_true_without_exif_stores_nothing(scene):
    image, labels = scene
    data = save_bytes(image, labels=labels, vocab="coco-stuff-182", profile="preview", exif=True)
    assert sgcformat.read(data).chunk(ChunkType.EXIF) is None


def test_resave_sgc_image(tmp_path, preview_file, scene):
    """An opened .sgc image saves like any other: it is decoded, then encoded again."""
    _, labels = scene
    with Image.open(preview_file) as im:
        im.save(tmp_path / "again.sgc", labels=labels, vocab="coco-stuff-182", profile="preview")
    with Image.open(tmp_path / "again.sgc") as again:
        assert again.size == sgcformat.read(preview_file).size
