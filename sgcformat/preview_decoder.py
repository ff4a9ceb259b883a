"""The *preview* decoder: an instant, weight-free picture of an ``.sgc`` file.

This is not the generative decode. It paints each semantic region with the
colour map's colours *of that region*: per class, a normalised convolution
spreads the colour cells that the class covers over the whole grid, so colours
never bleed across a label boundary; each pixel then takes the field of its
class. Boundaries follow the label map smoothed by bilinear interpolation of
its one-hot planes. Used for thumbnails, Pillow's draft mode and the viewer
before the diffusion model has run.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

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


#: Previews are painted at most this large, then resized: memory stays bounded for any file.
MAX_RENDER_SIDE = 1024


def render_preview(sgc: SgcFile, size: tuple[int, int] | None = None) -> Image.Image:
    """Preview image of ``sgc`` at ``size`` (default: the stored image size), RGB."""
    width, height = size or sgc.size
    scale = min(1.0, MAX_RENDER_SIDE / max(width, height))
    render = (max(1, round(width * scale)), max(1, round(height * scale)))
    classes, fields = class_color_fields(sgc.label_map, sgc.color_map)
    # Owner class per pixel: argmax of the bilinearly upsampled one-hot planes, one plane at a time.
    best = np.full(render[::-1], -1.0, dtype=np.float32)
    owner = np.zeros(render[::-1], dtype=np.intp)
    for i, c in enumerate(classes):
        plane = _resize((sgc.label_map == c)[None].astype(np.float32), render)[0]
        wins = plane > best
        best[wins], owner[wins] = plane[wins], i
    out = np.empty((*render[::-1], 3), dtype=np.float32)
    for i in range(len(classes)):
        mask = owner == i
        field = _resize(fields[i].transpose(2, 0, 1), render)
        out[mask] = field[:, mask].T
    image = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")
    return image if render == (width, height) else image.resize((width, height), Image.BILINEAR)
