"""Extraction of the two maps an ``.sgc`` file stores (informative; spec/sgc-coding.md §5).

* :func:`color_map` — the paper's "blur + downsample", done as the exact area
  average of the image over each cell (a box blur whose support is the cell,
  sampled once per cell). Cell boundaries may fall inside pixels; such a pixel
  contributes to each cell in proportion to the area it has there. Pillow's
  ``BOX`` resampling is *not* used: for non-integer ratios it gives every pixel a
  weight of 0 or 1 by its centre instead of its covered area. The sums are exact
  integers (weights in units of 1/cells pixel) and the mean is rounded half to even.
* :func:`label_map` — majority vote of the full-resolution class ids inside each
  cell (not nearest-neighbour sampling, which keeps whatever class one pixel
  happens to show). Pixels are assigned whole to cells by their centres, in
  integers; unlabeled pixels do not vote, and cells with no labeled pixel take
  the class of the nearest voted cell.

Both count in one pass in C where the native module is built (``SGC_PURE_PYTHON`` forces
the numpy code, which gives the same maps): a 1024×1024 photo takes ~1 ms per map instead
of ~10-20 ms.
"""

from __future__ import annotations

import functools

import numpy as np

from .coding.rangecoder import native_coder
from .container import DEFAULT_COLOR_CELLS, DEFAULT_LABEL_CELLS, MAX_GRID, default_long_side
from .errors import VocabularyError

# The default grids (about the paper's cell counts: a 32×32 label map and a 16×16 colour map at
# 512×512) are a format rule since version 3 leaves them unstored (spec §4.3).
__all__ = ["DEFAULT_COLOR_CELLS", "DEFAULT_LABEL_CELLS", "color_map", "default_long_side", "label_map"]


@functools.lru_cache(maxsize=64)
def _area_weights(n: int, n_out: int) -> np.ndarray:
    """(n_out, n) integer weights: the overlap of cell i, [i·n, (i+1)·n), with pixel p,
    [p·n_out, (p+1)·n_out), in units of 1/n_out pixel (each row sums to n)."""
    cell = np.arange(n_out)[:, None]
    pixel = np.arange(n)[None, :]
    overlap = np.minimum((cell + 1) * n, (pixel + 1) * n_out) - np.maximum(cell * n, pixel * n_out)
    return np.maximum(overlap, 0)


def color_map(image, size: tuple[int, int]) -> np.ndarray:
    """Area-averaged RGB colour map of ``image`` on a grid of ``size`` = (columns, rows).

    ``image`` is a PIL image (converted to RGB) or an (H, W, 3) uint8 array.
    Returns uint8 (rows, columns, 3), each value the cell's mean rounded to nearest.
    """
    rgb = _rgb_array(image)
    height, width = rgb.shape[:2]
    cols, rows = _check_grid(size, width, height)
    native = native_coder()
    if native is not None:  # the same exact sums in one pass (tests/test_maps.py compares)
        data = native.color_map(np.ascontiguousarray(rgb), width, height, cols, rows)
        return np.frombuffer(data, dtype=np.uint8).reshape(rows, cols, 3).copy()
    # Exact integer sums by two matrix products (BLAS): columns in float32, whose partial sums
    # stay integers below 255·65535 < 2^24, then rows in float64 (below 2^53); so the mean is
    # the exact area average, rounded half to even like np.rint.
    sums = _area_weights(height, rows).astype(np.float32) @ rgb.reshape(height, width * 3).astype(np.float32)
    sums = sums.reshape(rows, width, 3).transpose(0, 2, 1).astype(np.float64) @ \
        _area_weights(width, cols).T.astype(np.float64)
    out = np.rint(sums.transpose(0, 2, 1) / (height * width))
    return np.clip(out, 0, 255).astype(np.uint8)


def label_map(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Majority-vote label map of full-resolution class ids on a grid of ``size`` = (cols, rows).

    ``ids`` is a 2-D integer array, ``-1`` = unlabeled. Pixel (y, x) votes in
    cell (⌊(2y+1)·rows / 2H⌋, ⌊(2x+1)·cols / 2W⌋). Ties go to the smallest class
    id. Cells without a labeled pixel are filled by :func:`_fill_unvoted`.
    Raises :class:`VocabularyError` if no pixel is labeled.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise VocabularyError(f"class ids must be a 2-D integer array, got {ids.dtype} {ids.shape}")
    height, width = ids.shape
    cols, rows = _check_grid(size, width, height)
    lowest, n_classes = int(ids.min()), int(ids.max()) + 1
    if n_classes < 1:
        raise VocabularyError("the label map has no labeled pixel")
    if lowest < -1:
        raise VocabularyError(f"class id {lowest} is invalid (-1 marks unlabeled)")
    if n_classes > 65536:
        raise VocabularyError(f"class id {n_classes - 1} does not fit 16 bits")
    n_bins = rows * cols * n_classes
    native = native_coder()
    if native is not None and n_bins <= 1 << 24:  # the same votes in one pass, ~10x faster
        winners, any_vote = native.label_votes(np.ascontiguousarray(ids, dtype=np.int32), width, height, cols,
                                               rows, n_classes)
        grid = np.frombuffer(winners, dtype=np.uint16).reshape(rows, cols)
        voted = np.frombuffer(any_vote, dtype=bool).reshape(rows, cols)
        return grid.copy() if voted.all() else _fill_unvoted(grid, voted).astype(np.uint16)
    cell_y = ((2 * np.arange(height) + 1) * rows) // (2 * height)
    cell_x = ((2 * np.arange(width) + 1) * cols) // (2 * width)
    cell = cell_y[:, None] * cols + cell_x[None, :]
    labeled = ids >= 0
    if n_bins <= 1 << 24:
        # Unlabeled pixels go to one extra bin, dropped after counting.
        codes = np.where(labeled, cell * n_classes + ids, n_bins)
        votes = np.bincount(codes.ravel(), minlength=n_bins + 1)[:n_bins]
        votes = votes.reshape(rows * cols, n_classes)
        winner = votes.argmax(axis=1)  # first maximum = smallest class id
        voted = votes.any(axis=1)
    else:  # huge vocabularies: count (cell, class) pairs sparsely
        cell, classes = cell[labeled], ids[labeled].astype(np.int64)
        pairs, counts = np.unique(cell * n_classes + classes, return_counts=True)
        order = np.lexsort((pairs % n_classes, -counts, pairs // n_classes))
        best_cells, first = np.unique(pairs[order] // n_classes, return_index=True)
        winner = np.zeros(rows * cols, dtype=np.int64)
        winner[best_cells] = pairs[order][first] % n_classes
        voted = np.zeros(rows * cols, dtype=bool)
        voted[best_cells] = True
    grid = winner.reshape(rows, cols)
    if not voted.all():
        grid = _fill_unvoted(grid, voted.reshape(rows, cols))
    return grid.astype(np.uint16)


def _fill_unvoted(grid: np.ndarray, voted: np.ndarray) -> np.ndarray:
    """Give each unvoted cell the class of the nearest voted cell (4-connected steps).

    Filling grows one step per round: a cell reached in a round takes the value
    of its first filled neighbour in the order up, left, right, down (as filled
    before that round), so the result is deterministic.
    """
    grid, filled = grid.copy(), voted.copy()
    while not filled.all():
        new_grid, new_filled = grid.copy(), filled.copy()
        # Later assignments win, so go in reverse priority: down, right, left, up.
        for dy, dx in ((1, 0), (0, 1), (0, -1), (-1, 0)):
            src_filled = _shift(filled, dy, dx, False)
            take = ~filled & src_filled
            new_grid[take] = _shift(grid, dy, dx, 0)[take]
            new_filled |= take
        grid, filled = new_grid, new_filled
    return grid


def _shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, ``fill`` outside the array."""
    out = np.full_like(a, fill)
    h, w = a.shape
    out[max(0, -dy): h - max(0, dy), max(0, -dx): w - max(0, dx)] = \
        a[max(0, dy): h - max(0, -dy), max(0, dx): w - max(0, -dx)]
    return out


def _rgb_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        rgb = image
    else:  # convert() would copy an RGB image once more
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB image or (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    return rgb


def _check_grid(size: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    cols, rows = (int(v) for v in size)
    if not (1 <= cols <= min(MAX_GRID, width) and 1 <= rows <= min(MAX_GRID, height)):
        raise ValueError(
            f"grid {cols}x{rows} must be 1..{MAX_GRID} per side and not exceed the image {width}x{height}"
        )
    return cols, rows
