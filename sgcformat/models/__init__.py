"""Generative decoders and segmenters (torch, diffusers, transformers; imported lazily).

Importing this package stays cheap: the heavy libraries load on the first call of
:func:`generate`, :func:`generate_batch` or :func:`segment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from ..container import SgcFile

__all__ = ["generate", "generate_batch", "segment", "segment_batch"]


def generate(sgc: SgcFile, **options) -> Image.Image:
    """Generative decode of ``sgc``. See :func:`sgcformat.models.decode.generate`."""
    from .decode import generate as _generate

    return _generate(sgc, **options)


def generate_batch(sgc: SgcFile, seeds, **options) -> list[Image.Image]:
    """One decode per seed. See :func:`sgcformat.models.decode.generate_batch`."""
    from .decode import generate_batch as _generate_batch

    return _generate_batch(sgc, seeds, **options)


def segment(image: Image.Image, profile: str, device: str | None = None) -> np.ndarray:
    """Full-resolution class ids of ``profile``'s vocabulary. See :mod:`sgcformat.models.segmenters`."""
    from .segmenters import segment as _segment

    return _segment(image, profile, device)


def segment_batch(images, profile: str, device: str | None = None) -> list[np.ndarray]:
    """:func:`segment` for several images in one batch."""
    from .segmenters import segment_batch as _segment_batch

    return _segment_batch(images, profile, device)
