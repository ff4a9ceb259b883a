"""Map extraction: grid sizes, area-average colour maps, majority-vote label maps."""

from __future__ import annotations

from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sgcformat import maps
from sgcformat.container import grid_size
from sgcformat.errors import VocabularyError
from sgcformat.registry import vocabulary


def test_default_long_side():
    assert maps.default_long_side(512, 512, maps.DEFAULT_LABEL_CELLS) == 32
    assert maps.default_long_side(512, 512, maps.DEFAULT_COLOR_CELLS) == 16
    for w, h in ((768, 512), (512, 768), (500, 361), (2048, 100)):
        side = maps.default_long_side(w, h, 1024)
        cols, rows = grid_size(side, w, h)
        assert abs(cols * rows - 1024) < 0.15 * 1024, (w, h, cols, rows)
    assert maps.default_long_side(10, 5, 1024) == 10  # clamped to the image
    assert maps.default_long_side(4000, 4000, 10**6) == 255
    assert maps.default_long_side(3, 1, 1) == 1


def test_color_map_hand_computed_fractional_cells():
    # 3 pixels into 2 cells: cell 0 = px0 + half px1, cell 1 = half px1 + px2 (weights 2/3, 1/3).
    row = np.array([[[0, 30, 90], [60, 60, 60], [120, 90, 0]]], dtype=np.uint8)
    out = maps.color_map(row, (2, 1))
    expected = np.array([[[(0 * 1 + 60 * 0.5) / 1.5, (30 + 30) / 1.5, (90 + 30) / 1.5],
                          [(30 + 120) / 1.5, (30 + 90) / 1.5, (30 + 0) / 1.5]]])
    np.testing.assert_array_equal(out, np.rint(expected).astype(np.uint8))


def test_color_map_integer_blocks_and_pil_input():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(8, 12, 3), dtype=np.uint8)
    out = maps.color_map(Image.fromarray(img), (3, 2))
    blocks = img.reshape(2, 4, 3, 4, 3).astype(float).mean(axis=(1, 3))
    np.testing.assert_array_equal(out, np.rint(blocks).astype(np.uint8))
    with pytest.raises(ValueError):
        maps.color_map(img, (13, 2))


def test_label_map_majority_and_ties():
    ids = np.array([
        [1, 1, 2, 2],
        [1, 3, 2, 3],
        [4, 4, -1, -1],
        [5, 4, -1, 0],
    ])
    out = maps.label_map(ids, (2, 2))
    # Top-left: 1 wins 3:1; top-right: 2 vs 3 is 2:2 -> smaller id 2;
    # bottom-left: 4 wins 3:1; bottom-right: only the 0 votes.
    np.testing.assert_array_equal(out, [[1, 2], [4, 0]])
    assert out.dtype == np.uint16


def test_label_map_uneven_cells_use_pixel_centres():
    # 5 columns into 2 cells: centres 0.5..4.5 scaled by 2/5 -> cells 0,0,1,1,1.
    ids = np.array([[7, 7, 7, 9, 9]])
    np.testing.assert_array_equal(maps.label_map(ids, (2, 1)), [[7, 9]])
    ids = np.array([[7, 7, 9, 9, 9]])
    np.testing.assert_array_equal(maps.label_map(ids, (2, 1)), [[7, 9]])


def test_label_map_fills_unvoted_cells_from_nearest():
    ids = np.full((4, 4), -1)
    ids[0, 0] = 3
    ids[3, 3] = 8
    out = maps.label_map(ids, (4, 4))
    # Equidistant cells (1,2)... resolve by the up, left, right, down priority of the rounds.
    expected = np.array([
        [3, 3, 3, 3],
        [3, 3, 3, 8],
        [3, 3, 8, 8],
        [3, 8, 8, 8],
    ])
    np.testing.assert_array_equal(out, expected)


def test_label_map_all_unlabeled_raises():
    with pytest.raises(VocabularyError):
        maps.label_map(np.full((4, 4), -1), (2, 2))
    with pytest.raises(VocabularyError):
        maps.label_map(np.array([[0, -2]]), (1, 1))


def test_label_map_large_vocabulary_path_agrees():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 3, size=(300, 300))
    big = ids * 30000  # classes 0, 30000, 60000: too many (cell, class) bins for a dense count
    small = maps.label_map(ids, (200, 200))
    np.testing.assert_array_equal(maps.label_map(big, (200, 200)), small.astype(np.int64) * 30000)


# --- fast paths: the native module and BLAS give the maps the previous numpy code gave ----------


def _previous_area_mean(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """The float64 reduceat implementation maps.color_map used before (kept as the reference)."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    edges = np.arange(n_out + 1) * n
    whole, part = edges // n_out, (edges % n_out) / n_out
    sums = np.add.reduceat(a, whole[:-1], axis=0, dtype=np.float64)
    extra = (slice(None),) + (None,) * (a.ndim - 1)
    cut = part[extra] * a[np.minimum(whole, n - 1)]
    sums += cut[1:] - cut[:-1]
    return np.moveaxis(sums * (n_out / n), 0, axis)


def _previous_color_map(rgb: np.ndarray, cols: int, rows: int) -> np.ndarray:
    out = _previous_area_mean(_previous_area_mean(rgb, rows, 0), cols, 1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _both_paths(fn, *args):
    """(native result, pure-numpy result) of a maps function."""
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": ""}):
        native = fn(*args)
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}):
        pure = fn(*args)
    return native, pure


def test_corpus_maps_are_unchanged_at_the_default_grids(corpus_pairs, corpus):
    """Every corpus photo and label map: the same maps as the previous implementation."""
    photos = [e["image"] for e in corpus_pairs] + sorted((corpus / "kodak").glob("*.png"))
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        h, w = rgb.shape[:2]
        cols, rows = grid_size(maps.default_long_side(w, h, maps.DEFAULT_COLOR_CELLS), w, h)
        for out in _both_paths(maps.color_map, rgb, (cols, rows)):
            np.testing.assert_array_equal(out, _previous_color_map(rgb, cols, rows), err_msg=str(path))
    for entry in corpus_pairs:
        with Image.open(entry["label"]) as im:
            ids = vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
        h, w = ids.shape
        for cells in (maps.DEFAULT_LABEL_CELLS, 64, 4096):
            size = grid_size(maps.default_long_side(w, h, cells), w, h)
            native, pure = _both_paths(maps.label_map, ids, size)
            assert native.dtype == pure.dtype == np.uint16
            np.testing.assert_array_equal(native, pure, err_msg=str(entry["label"]))


def _overlap(i: int, cells: int, p: int, pixels: int) -> Fraction:
    """Length (as a fraction of the axis) that cell i of ``cells`` shares with pixel p of ``pixels``."""
    lo = max(Fraction(i, cells), Fraction(p, pixels))
    return max(Fraction(0), min(Fraction(i + 1, cells), Fraction(p + 1, pixels)) - lo)


def _exact_color_map(rgb: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Area averages in exact rationals, rounded half to even (spec §5)."""
    h, w = rgb.shape[:2]
    out = np.zeros((rows, cols, 3), dtype=np.uint8)
    for i in range(rows):
        for j in range(cols):
            total = [Fraction(0)] * 3
            for y in range(h):
                for x in range(w):
                    area = _overlap(i, rows, y, h) * _overlap(j, cols, x, w)
                    total = [t + area * int(v) for t, v in zip(total, rgb[y, x], strict=True)]
            out[i, j] = [round(t * rows * cols) for t in total]  # Fraction rounds half to even
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 13), st.integers(1, 13), st.data())
def test_color_map_is_the_exact_area_average(h, w, data):
    """Both paths, any ratio, including averages that are exactly k + 1/2 (few grey levels)."""
    rows, cols = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    levels = data.draw(st.sampled_from([2, 256]))
    rgb = (np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(0, levels, (h, w, 3))
           * (255 // (levels - 1))).astype(np.uint8)
    expected = _exact_color_map(rgb, cols, rows)
    for out in _both_paths(maps.color_map, rgb, (cols, rows)):
        np.testing.assert_array_equal(out, expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 300), st.data())
def test_label_map_native_and_numpy_agree(h, w, k, data):
    rows, cols = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    ids = rng.integers(-1, k, (h, w))
    ids[rng.random((h, w)) < data.draw(st.sampled_from([0.0, 0.5, 0.95]))] = -1
    ids.flat[0] = k - 1
    native, pure = _both_paths(maps.label_map, ids, (cols, rows))
    np.testing.assert_array_equal(native, pure)
