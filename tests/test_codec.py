"""The semantic encoder: extraction settings, aspect-ratio checks, rate control, input modes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sgcformat
from sgcformat import codec
from sgcformat.coding import stream
from sgcformat.container import parse
from sgcformat.errors import BitstreamError, BudgetError, MapShapeError, VocabularyError


def test_default_encode_round_trips_through_bytes(scene):
    image, labels = scene
    sgc = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", seed=5)
    again = parse(sgc.to_bytes())
    assert again.size == image.size
    assert again.profile == "ldm-semantic-512" and again.seed == 5
    assert np.array_equal(again.label_map, sgc.label_map)
    assert set(again.class_names) == {"person", "grass", "sky-other"}


def test_same_input_gives_same_bytes(scene):
    image, labels = scene
    first = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182").to_bytes()
    assert sgcformat.encode(image.copy(), labels=labels.copy(), vocab="coco-stuff-182").to_bytes() == first


def test_label_map_at_lower_resolution_is_accepted(scene):
    image, labels = scene
    half = labels.resize((48, 32), Image.NEAREST)
    sgc = sgcformat.encode(image, labels=half, vocab="coco-stuff-182")
    assert sgc.label_size == sgcformat.encode(image, labels=labels, vocab="coco-stuff-182").label_size


def test_label_map_with_other_aspect_ratio_is_rejected(scene):
    image, labels = scene
    with pytest.raises(MapShapeError, match="aspect"):
        sgcformat.encode(image, labels=labels.resize((64, 64), Image.NEAREST), vocab="coco-stuff-182")


def test_grid_size_must_follow_aspect_ratio(scene):
    image, labels = scene
    sgc = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", label_size=(24, 16),
                           color_size=(12, 8))
    assert sgc.label_size == (24, 16) and sgc.color_size == (12, 8)
    with pytest.raises(MapShapeError, match="use 24x16"):
        sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", label_size=(24, 24))


def test_class_outside_vocabulary_is_rejected(scene):
    image, labels = scene
    with pytest.raises(VocabularyError, match="not a class"):
        sgcformat.encode(image, labels=labels, vocab="camvid-11")


def test_profile_vocabulary_mismatch_is_rejected(scene):
    image, labels = scene
    with pytest.raises(VocabularyError):
        sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", profile="sd15-controlnet-seg")


@pytest.fixture(scope="module")
def larger_scene(make_scene):
    image, labels = make_scene(384, 256, seed=3)
    finest = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", target_bytes=10**6)
    return image, labels, len(finest.to_bytes())


@pytest.mark.parametrize("budget", [64, 128, 256, 512, 1024])
def test_target_bytes_is_respected(larger_scene, budget):
    image, labels, finest = larger_scene
    data = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", target_bytes=budget).to_bytes()
    assert len(data) <= budget
    assert finest > 1024  # so every budget here binds, and must be used well
    assert len(data) >= 0.8 * budget


def test_bpp_budget(scene):
    image, labels = scene
    sgc = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", bpp=0.2)
    assert len(sgc.to_bytes()) * 8 / (image.width * image.height) <= 0.2


def test_impossible_budget_raises(scene):
    image, labels = scene
    with pytest.raises(BudgetError, match="too small"):
        sgcformat.encode(image, labels=labels, vocab="coco-stuff-182", target_bytes=10)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "I;16", "CMYK", "LA", "F"])
def test_any_input_mode(scene, mode):
    image, labels = scene
    converted = image.convert(mode) if mode != "I;16" else Image.fromarray(
        np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    rgb = codec.to_rgb(converted)
    assert rgb.mode == "RGB" and rgb.size == image.size
    if mode == "I;16":  # 16-bit data is rescaled, not clipped to white
        assert abs(np.asarray(rgb, dtype=float).mean() - np.asarray(image.convert("L")).mean()) < 2
    sgcformat.encode(converted, labels=labels, vocab="coco-stuff-182")


def test_preview_has_requested_size_and_follows_colours(scene):
    image, labels = scene
    sgc = sgcformat.encode(image, labels=labels, vocab="coco-stuff-182")
    full = sgcformat.preview(sgc)
    assert full.size == image.size and full.mode == "RGB"
    assert sgcformat.preview(sgc, (40, 30)).size == (40, 30)
    error = np.abs(np.asarray(full, dtype=float) - np.asarray(image, dtype=float)).mean()
    assert error < 25  # a preview, not a copy: but it must resemble the photo's colours
    # sky pixels stay sky-coloured: the preview does not bleed grass green into the sky
    top = np.asarray(full)[: image.height // 5].reshape(-1, 3).mean(axis=0)
    assert top[2] > top[1] > top[0]


def test_files_are_version_3_one_stream_with_colours_given_the_label_map(scene):
    """encode() writes the newest version: one stream, whose colours go on after the label map
    and decode only given it."""
    image, label_png = scene
    sgc = parse(sgcformat.encode(image, labels=label_png, vocab="coco-stuff-182").to_bytes())
    assert sgc.version == 3 and sgc.map_data and not sgc.label_data and not sgc.color_data
    ids, after = stream.decode_labels(sgc.map_data, sgc.label_size, "coco-stuff-182")
    np.testing.assert_array_equal(ids, sgc.label_map)
    given = stream.decode_colors(sgc.map_data, sgc.color_size, sgc.color_quality, ids, after)
    np.testing.assert_array_equal(sgc.color_map, given)
    assert len(np.unique(ids)) > 1
    try:
        other = stream.decode_colors(sgc.map_data, sgc.color_size, sgc.color_quality, np.zeros_like(ids),
                                     after)
    except BitstreamError:
        other = None
    assert other is None or not np.array_equal(other, given)
