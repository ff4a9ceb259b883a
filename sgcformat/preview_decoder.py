"""The *preview* decoder: an instant, weight-free picture of an ``.sgc`` file.

This is not the generative decode. It paints each semantic region with the
colour map's colours *of that region*: per class, a normalised convolution
spreads the colour cells that the class covers over the whole grid, so colours
never bleed across a label boundary; each label cell then takes the field of its
class, and the result is smoothed and interpolated to the output size. Used for
thumbnails, Pillow's draft mode and the viewer before the diffusion model has run.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from .container import SgcFile


def _linear_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of a triangle filter, widened when shrinking (as Pillow's BILINEAR)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    weights = np.clip(1 - np.abs(np.arange(n_in) + 0.5 - centres[:, None]) / support, 0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _resize(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Linear resize of planes (..., h, w) to (..., H, W) for ``size`` = (W, H): two matrix products."""
    h, w = planes.shape[-2:]
    return _linear_weights(h, size[1]) @ planes @ _linear_weights(w, size[0]).T


def _box_sum_matrix(n: int) -> np.ndarray:
    """(n, n) matrix summing each element with its two neighbours, edges replicated."""
    m = np.eye(n, dtype=np.float32) + np.eye(n, k=1, dtype=np.float32) + np.eye(n, k=-1, dtype=np.float32)
    m[0, 0] += 1
    m[-1, -1] += 1
    return m


def class_color_fields(label_map: np.ndarray, color_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per present class, a colour field on the colour grid: (classes, fields (k, ch, cw, 3))."""
    ch, cw = color_map.shape[:2]
    classes, index = np.unique(label_map, return_inverse=True)
    index = index.reshape(label_map.shape)
    onehot = (index[None] == np.arange(len(classes))[:, None, None]).astype(np.float32)
    coverage = _resize(onehot, (cw, ch)).clip(0, 1)  # share of each colour cell per class
    colour = color_map.astype(np.float32).transpose(2, 0, 1)  # (3, ch, cw)
    den = coverage + 1e-6
    num = den[:, None] * colour[None]  # (k, 3, ch, cw)
    # Spread each class's colours (3×3 box sums) until every cell has some support.
    by, bx = _box_sum_matrix(ch), _box_sum_matrix(cw)
    for _ in range(max(ch, cw)):
        if (den > 0.05).all():
            break
        num, den = by @ num @ bx, by @ den @ bx
    return classes, (num / den[:, None]).transpose(0, 2, 3, 1)


def render_preview(sgc: SgcFile, size: tuple[int, int] | None = None) -> Image.Image:
    """Preview image of ``sgc`` at ``size`` (default: the stored image size), RGB.

    Each label cell takes the colour of its own class's field at that cell; the label-grid
    image is then smoothed and interpolated to the output size.
    """
    width, height = size or sgc.size
    label_map = sgc.label_map
    classes, fields = class_color_fields(label_map, sgc.color_map)
    lh, lw = label_map.shape
    at_cells = _resize(fields.transpose(0, 3, 1, 2), (lw, lh))  # (k, 3, lh, lw)
    index = np.searchsorted(classes, label_map)
    cells = np.take_along_axis(at_cells, index[None, None], axis=0)[0].transpose(1, 2, 0)
    image = Image.fromarray(np.clip(cells + 0.5, 0, 255).astype(np.uint8), "RGB")
    # Round the staircase of the cell grid off at 4 pixels a cell (boundaries are only known to
    # a cell anyway), then interpolate to the output: the cost does not grow with the output.
    smooth = (min(width, 4 * lw), min(height, 4 * lh))
    image = image.resize(smooth, Image.BICUBIC).filter(ImageFilter.BoxBlur(1))
    return image if smooth == (width, height) else image.resize((width, height), Image.BILINEAR)
