"""Map extraction: grid sizes, area-average colour maps, majority-vote label maps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sgcformat import maps
from sgcformat.container import grid_size
from sgcformat.errors import VocabularyError


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
