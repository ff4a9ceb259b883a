"""The pixel limit on decoded images, with Pillow's ``MAX_IMAGE_PIXELS`` semantics.

A 35-byte file can declare 65535×65535 pixels: the size is only metadata for the
decoder's output, so the bytes say nothing about the cost. As in Pillow, an output
over :data:`MAX_IMAGE_PIXELS` warns, one over twice the limit raises, before anything
is allocated. Set the limit to ``None`` to disable it. The Pillow plugin applies
Pillow's own ``Image.MAX_IMAGE_PIXELS`` instead.
"""

from __future__ import annotations

import warnings

from .errors import SgcError

#: Outputs above this many pixels warn, above twice as many raise. 32 Mi pixels (96 MiB of
#: RGB) is lower than Pillow's 89.5 M: decoders paint at most 1024² natively, so a larger
#: declared size costs memory and time without adding detail.
MAX_IMAGE_PIXELS: int | None = 32 * 1024 * 1024


class DecompressionBombWarning(RuntimeWarning):
    """The output would have more than :data:`MAX_IMAGE_PIXELS` pixels."""


class DecompressionBombError(SgcError):
    """The output would have more than twice :data:`MAX_IMAGE_PIXELS` pixels."""


def check_pixels(width: int, height: int) -> None:
    """Warn or raise for an output of ``width`` × ``height`` pixels, as Pillow does on open."""
    limit = MAX_IMAGE_PIXELS
    if limit is None:
        return
    pixels = width * height
    if pixels > 2 * limit:
        raise DecompressionBombError(
            f"image size {width}x{height} ({pixels} pixels) exceeds the limit of {2 * limit} pixels "
            "(2 x sgcformat.limits.MAX_IMAGE_PIXELS), a possible decompression bomb; "
            "raise the limit to decode it")
    if pixels > limit:
        warnings.warn(
            f"image size {width}x{height} ({pixels} pixels) exceeds sgcformat.limits.MAX_IMAGE_PIXELS "
            f"({limit}), a possible decompression bomb", DecompressionBombWarning, stacklevel=3)
