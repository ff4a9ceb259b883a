"""The *preview* decoder: an instant, weight-free picture of an ``.sgc`` file.

This is not the generative decode. It paints each semantic region with the
colour map's colours *of that region*: every label cell takes a weighted mean
of the colour cells under the label cells of its own class around it, so
colours never bleed across a label boundary; the label-grid picture is then
smoothed and interpolated to the output size. Used for thumbnails, Pillow's
draft mode and the viewer before the diffusion model has run.

Cost: the class-aware mean compares each label cell with a fixed window of
neighbours (two 1-D passes), so it is linear in the grid cells whatever the number of classes
(a per-class formulation cost up to 6 s and 540 MiB on a valid 123-byte file
with 182 classes on a 255×255 grid); everything after it is Pillow C code whose
memory is the output image plus intermediates no larger than it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from .container import SgcFile
from .limits import check_pixels

#: Half-width of the window a label cell takes colours from, in colour cells: 2.5 is about
#: as smooth as the former per-class colour fields (mean absolute difference 4 of 255 on the
#: corpus, and closer to the photos than they were); at most :data:`MAX_RADIUS` label cells.
SPAN = 2.5
MAX_RADIUS = 8
#: Cap on label cells × window taps (two passes), so that the cost stays fixed on the largest
#: grids: 255×255 then gets a radius of 3, about 14 passes over 65,025 cells.
MAX_WORK = 1 << 20


def _cell_colours(color_map: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The colour cell under each label cell's centre: (rows, cols, 3) uint8 (Pillow's NEAREST
    samples at centres, and is several times cheaper than numpy fancy indexing here)."""
    return np.asarray(Image.fromarray(color_map, "RGB").resize((cols, rows), Image.NEAREST))


def window_radius(label_size: tuple[int, int], color_size: tuple[int, int]) -> int:
    """Radius in label cells of the class-aware window for these grids (at least 1)."""
    (lw, lh), (cw, ch) = label_size, color_size
    radius = min(MAX_RADIUS, max(1, round(SPAN * max(lw / cw, lh / ch))))
    while radius > 1 and 2 * (2 * radius + 1) * lw * lh > MAX_WORK:
        radius -= 1
    return radius


def _masked_pass(labels: np.ndarray, planes: np.ndarray, centre: np.ndarray, taps, axis: int) -> np.ndarray:
    """Sum of ``planes`` at each tap offset along ``axis``, weighted, where the label equals ``centre``.

    ``labels`` and ``planes`` (channels first) are padded by the largest offset along ``axis``;
    the result has the shape of ``centre`` (plus channels).
    """
    pad = max(abs(d) for d, _ in taps)
    n = centre.shape[axis]
    acc = np.zeros((planes.shape[0], *centre.shape), np.float32)
    same = np.empty(centre.shape, bool)
    weight = np.empty(centre.shape, np.float32)
    term = np.empty_like(acc)
    for offset, tap in taps:
        window = slice(pad + offset, pad + offset + n)
        np.equal(labels[(slice(None),) * axis + (window,)], centre, out=same)
        np.multiply(same, np.float32(tap), out=weight)
        np.multiply(planes[(slice(None),) * (axis + 1) + (window,)], weight, out=term)
        acc += term
    return acc


def class_aware_cells(label_map: np.ndarray, color_map: np.ndarray) -> np.ndarray:
    """Colour of each label cell from the colour cells its own class covers nearby: (rows, cols, 3).

    A normalised convolution with a triangle window whose weights are zero wherever the
    neighbour's class differs: as if each class had its own colour field, but only the
    field of a cell's own class is ever evaluated, at that cell. It runs as two 1-D passes
    (rows, then columns of the row sums); both test the class against the cell's own, so
    every cell that contributes is of that class. A fourth plane of ones carries the weights.
    """
    rows, cols = label_map.shape
    r = window_radius((cols, rows), color_map.shape[1::-1])
    taps = [(d, r + 1 - abs(d)) for d in range(-r, r + 1)]
    labels = np.full((rows + 2 * r, cols + 2 * r), -1, np.int32)  # -1: outside the grid
    labels[r:r + rows, r:r + cols] = label_map
    planes = np.ones((4, rows + 2 * r, cols + 2 * r), np.float32)
    planes[:3, r:r + rows, r:r + cols] = _cell_colours(color_map, rows, cols).transpose(2, 0, 1)
    # Row pass on every padded row, so that the column pass can read its neighbours' sums.
    row_sums = _masked_pass(labels, planes, labels[:, r:r + cols], taps, axis=1)
    acc = _masked_pass(labels[:, r:r + cols], row_sums, label_map, taps, axis=0)
    return (acc[:3] / acc[3]).transpose(1, 2, 0)  # acc[3] > 0: the cell itself always counts


def render_preview(sgc: SgcFile, size: tuple[int, int] | None = None, *,
                   check_size: bool = True) -> Image.Image:
    """Preview image of ``sgc`` at ``size`` (default: the stored image size), RGB.

    The output size is checked against :data:`sgcformat.limits.MAX_IMAGE_PIXELS`
    (``check_size=False`` for callers that apply their own limit, as the Pillow plugin does).
    """
    width, height = size or sgc.size
    if check_size:
        check_pixels(width, height)
    cells = class_aware_cells(sgc.label_map, sgc.color_map)
    lh, lw = cells.shape[:2]
    image = Image.fromarray(np.clip(cells + 0.5, 0, 255).astype(np.uint8), "RGB")
    # Round the staircase of the cell grid off at 4 pixels a cell (boundaries are only known to
    # a cell anyway), then interpolate to the output: Pillow's C passes, whose memory is no
    # larger than the output. (The same linear chain as numpy matrix products is faster for
    # thumbnails only where BLAS threads do not contend: 14 ms instead of 1 on two busy cores.)
    smooth = (min(width, 4 * lw), min(height, 4 * lh))
    image = image.resize(smooth, Image.BICUBIC).filter(ImageFilter.BoxBlur(1))
    if smooth == (width, height):
        return image
    # At most 2x more, the smoothed picture has nothing left for an interpolation to recover:
    # NEAREST there is 10x cheaper than BILINEAR (mean absolute difference 0.5 of 255 on corpus
    # thumbnails), and thumbnails at 256² from ~32-cell grids are such a case.
    near = width <= 2 * smooth[0] and height <= 2 * smooth[1]
    return image.resize((width, height), Image.NEAREST if near else Image.BILINEAR)
