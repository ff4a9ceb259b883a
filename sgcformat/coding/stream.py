"""File version 3's map data: the label map, then the colour map, in one range-coder stream
(spec/sgc-coding.md §7).

One stream instead of two saves the label bitstream's length field and one flush. The colour
map is the version-2 colour bitstream (§6, coded given the label map), decoded from where the
label map left the decoder; the end of the stream (§2.6) is checked once, after the colours.
"""

from __future__ import annotations

import numpy as np

from . import colors, labels
from .rangecoder import DecoderState


def encode(ids: np.ndarray, vocab: str | int, rgb: np.ndarray, quality: int) -> bytes:
    """The stream of the label map ``ids`` of ``vocab`` and the colour map ``rgb`` at ``quality``."""
    return colors.encode(rgb, quality, version=2, labels=ids, after=labels.encode_open(ids, vocab))


def decode_labels(data: bytes, label_size: tuple[int, int],
                  vocab: str | int) -> tuple[np.ndarray, DecoderState]:
    """The label map (rows, columns) and where the colour map begins; ``label_size`` is
    (columns, rows). The stream's end is not checked: :func:`decode_colors` does."""
    return labels.decode_open(data, *label_size, vocab)


def decode_colors(data: bytes, color_size: tuple[int, int], quality: int, label_map: np.ndarray,
                  after: DecoderState) -> np.ndarray:
    """The colour map (rows, columns, 3) that follows ``label_map`` in ``data`` at ``after``."""
    return colors.decode(data, *color_size, quality, version=2, labels=label_map, after=after)
