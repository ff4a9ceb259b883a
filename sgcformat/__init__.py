"""SGC: semantic generative compression of images.

An ``.sgc`` file stores what a photo *means* — a small semantic label map and a
small colour map, a few hundred bytes — and a diffusion model paints a realistic
image with that content when the file is decoded (Bordin & Maugey, MMSP 2023).

Importing this package is cheap: torch, diffusers and transformers load only
when a model is actually needed (:func:`decode`, or :func:`encode` without labels).
"""

from __future__ import annotations

from .container import EXTENSION, MIME_TYPE, DecodeParams, EssentialMetadata, SgcFile, read, write
from .errors import (
    BudgetError,
    DecodeCancelled,
    MapShapeError,
    ModelNotFoundError,
    SgcError,
    SgcFormatError,
    VocabularyError,
)
from .registry import PROFILES, VOCABULARIES

__version__ = "0.2.0"

__all__ = [
    "EXTENSION",
    "MIME_TYPE",
    "PROFILES",
    "VOCABULARIES",
    "BudgetError",
    "DecodeCancelled",
    "DecodeParams",
    "EssentialMetadata",
    "MapShapeError",
    "ModelNotFoundError",
    "SgcError",
    "SgcFile",
    "SgcFormatError",
    "VocabularyError",
    "decode",
    "encode",
    "preview",
    "read",
    "write",
]


def encode(image, **options) -> SgcFile:
    """Encode an image (PIL image, array or path). See :func:`sgcformat.codec.encode`."""
    from .codec import encode as _encode

    return _encode(image, **options)


def preview(sgc: SgcFile, size: tuple[int, int] | None = None):
    """Weight-free *preview* reconstruction (not the generative decode). See :mod:`sgcformat.preview`."""
    from .preview_decoder import render_preview

    return render_preview(sgc, size)


def decode(sgc: SgcFile, **options):
    """Generative decode to a PIL image, within :data:`sgcformat.limits.MAX_IMAGE_PIXELS`.

    See :func:`sgcformat.models.generate`.
    """
    from .limits import check_pixels
    from .models import generate

    check_pixels(*sgc.size)
    return generate(sgc, **options)
