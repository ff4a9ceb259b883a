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


def _resize(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of float planes (n, h, w) to (n, H, W) with Pillow's 'F' images."""
    return np.stack([
        np.asarray(Image.fromarray(p.astype(np.float32), "F").resize(size, Image.BILINEAR))
        for p in planes
    ])


def _box_blur(a: np.ndarray) -> np.ndarray:
    """3×3 box sum over the last two axes, edges replicated."""
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = a.shape[-2:]
    return sum(p[..., i:i + h, j:j + w] for i in range(3) for j in range(3))


def class_color_fields(label_map: np.ndarray, color_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per present class, a colour field on the colour grid: (classes, fields (k, ch, cw, 3))."""
    ch, cw = color_map.shape[:2]
    classes, index = np.unique(label_map, return_inverse=True)
    index = index.reshape(label_map.shape)
    onehot = (index[None] == np.arange(len(classes))[:, None, None]).astype(np.float32)
    coverage = _resize(onehot, (cw, ch)).clip(0, 1)  # share of each colour cell per class
    colour = color_map.astype(np.float32)
    weight = coverage + 1e-6
    num = weight[..., None] * colour[None]
    den = weight
    # Spread each class's colours until every cell has some support (at most a few passes).
    for _ in range(max(ch, cw)):
        if (den > 0.05).all():
            break
        num, den = _box_blur(num.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1), _box_blur(den)
    return classes, num / den[..., None]


def render_preview(sgc: SgcFile, size: tuple[int, int] | None = None) -> Image.Image:
    """Preview image of ``sgc`` at ``size`` (default: the stored image size), RGB.

    Each label cell takes the colour of its own class's field at that cell; the label-grid
    image is then smoothed and interpolated to the output size.
    """
    width, height = size or sgc.size
    label_map = sgc.label_map
    classes, fields = class_color_fields(label_map, sgc.color_map)
    lh, lw = label_map.shape
    at_cells = _resize(fields.transpose(0, 3, 1, 2).reshape(-1, *fields.shape[1:3]), (lw, lh))
    at_cells = at_cells.reshape(len(classes), 3, lh, lw)
    index = np.searchsorted(classes, label_map)
    cells = np.take_along_axis(at_cells, index[None, None], axis=0)[0].transpose(1, 2, 0)
    image = Image.fromarray(np.clip(cells + 0.5, 0, 255).astype(np.uint8), "RGB")
    # Round the staircase of the cell grid off at 4 pixels a cell (boundaries are only known to
    # a cell anyway), then interpolate to the output: the cost does not grow with the output.
    smooth = (min(width, 4 * lw), min(height, 4 * lh))
    image = image.resize(smooth, Image.BICUBIC).filter(ImageFilter.BoxBlur(1))
    return image if smooth == (width, height) else image.resize((width, height), Image.BILINEAR)
