"""Extraction of the two maps an ``.sgc`` file stores (informative; spec/sgc-coding.md §5).

* :func:`color_map` — the paper's "blur + downsample", done as the exact area
  average of the image over each cell (a box blur whose support is the cell,
  sampled once per cell). Cell boundaries may fall inside pixels; such a pixel
  contributes to each cell in proportion to the area it has there. Pillow's
  ``BOX`` resampling is *not* used: for non-integer ratios it gives every pixel a
  weight of 0 or 1 by its centre instead of its covered area.
* :func:`label_map` — majority vote of the full-resolution class ids inside each
  cell (not nearest-neighbour sampling, which keeps whatever class one pixel
  happens to show). Pixels are assigned whole to cells by their centres, in
  integers; unlabeled pixels do not vote, and cells with no labeled pixel take
  the class of the nearest voted cell.
"""

from __future__ import annotations

import math

import numpy as np

from .container import MAX_GRID, grid_size
from .errors import VocabularyError

#: About the paper's cell counts: a 32×32 label map and a 16×16 colour map at 512×512.
DEFAULT_LABEL_CELLS = 1024
DEFAULT_COLOR_CELLS = 256


def default_long_side(width: int, height: int, cells: int) -> int:
    """Grid long side whose aspect-following grid (:func:`grid_size`) has about ``cells`` cells.

    Clamped to ``1 .. min(255, long side of the image)``; ties between two
    candidates go to the smaller grid.
    """
    if width < 1 or height < 1 or cells < 1:
        raise ValueError(f"need a positive size and cell count, got {width}x{height}, {cells}")
    limit = min(MAX_GRID, max(width, height))
    guess = math.sqrt(cells * max(width, height) / min(width, height))
    best = None
    for side in range(max(1, math.floor(guess) - 1), math.ceil(guess) + 2):
        side = min(side, limit)
        cols, rows = grid_size(side, width, height)
        key = (abs(cols * rows - cells), side)
        if best is None or key < best:
            best = key
    return best[1]


def _area_mean(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Area average of ``a`` along ``axis`` into ``n_out <= n`` equal cells (float64).

    Cell i spans [e_i, e_(i+1)) with e_i = i·n/n_out pixel units: the whole pixels
    from ⌊e_i⌋ on, minus the part of pixel ⌊e_i⌋ before e_i, plus the part of
    pixel ⌊e_(i+1)⌋ before e_(i+1); partly covered pixels count by area.
    """
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    edges = np.arange(n_out + 1) * n
    whole, part = edges // n_out, (edges % n_out) / n_out
    sums = np.add.reduceat(a, whole[:-1], axis=0, dtype=np.float64)
    extra = (slice(None),) + (None,) * (a.ndim - 1)
    cut = part[extra] * a[np.minimum(whole, n - 1)]  # part[-1] = 0 covers whole[-1] = n
    sums += cut[1:] - cut[:-1]
    return np.moveaxis(sums * (n_out / n), 0, axis)


def color_map(image, size: tuple[int, int]) -> np.ndarray:
    """Area-averaged RGB colour map of ``image`` on a grid of ``size`` = (columns, rows).

    ``image`` is a PIL image (converted to RGB) or an (H, W, 3) uint8 array.
    Returns uint8 (rows, columns, 3), each value the cell's mean rounded to nearest.
    """
    rgb = _rgb_array(image)
    cols, rows = _check_grid(size, rgb.shape[1], rgb.shape[0])
    out = _area_mean(_area_mean(rgb, rows, 0), cols, 1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


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
    labeled = ids >= 0
    if not labeled.any():
        raise VocabularyError("the label map has no labeled pixel")
    if (ids < -1).any():
        raise VocabularyError(f"class id {int(ids.min())} is invalid (-1 marks unlabeled)")
    n_classes = int(ids.max()) + 1
    if n_classes > 65536:
        raise VocabularyError(f"class id {n_classes - 1} does not fit 16 bits")
    cell_y = ((2 * np.arange(height) + 1) * rows) // (2 * height)
    cell_x = ((2 * np.arange(width) + 1) * cols) // (2 * width)
    cell = cell_y[:, None] * cols + cell_x[None, :]
    n_bins = rows * cols * n_classes
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
    rgb = image if isinstance(image, np.ndarray) else np.asarray(image.convert("RGB"))
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
