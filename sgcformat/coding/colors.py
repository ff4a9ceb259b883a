"""Lossy coding of colour maps with an integer-exact decoder (spec/sgc-coding.md §4).

The map is carried in YCoCg (the reversible integer variant, YCoCg-R), each
plane quantised with a uniform step from :data:`STEPS` (index = quality), then
coded losslessly in the quantised domain: MED prediction from causal neighbours
and context-adaptive binary coding of the residuals. The decoder only adds,
multiplies and shifts integers, so every machine reconstructs the same bytes.
"""

from __future__ import annotations

import numpy as np

from ..errors import BitstreamError
from .rangecoder import Decoder, Encoder, contexts, decode_bypass, encode_bypass

#: Quantiser steps (luma, chroma) per quality level, coarse to fine. Chroma planes
#: (Co, Cg) have twice luma's range, hence the larger steps.
STEPS: tuple[tuple[int, int], ...] = (
    (64, 128), (52, 104), (44, 88), (36, 72), (30, 60), (25, 50), (21, 42), (18, 36), (16, 32),
    (14, 28), (12, 24), (10, 20), (8, 16), (6, 12), (5, 10), (4, 8), (3, 6), (2, 4), (1, 2),
)
QUALITY_LEVELS = len(STEPS)
DEFAULT_QUALITY = 8

_PLANES = 3
#: RGB mean squared error per unit squared error of Y, Co, Cg (from the inverse transform).
_RGB_WEIGHTS = (1.0, 1 / 6, 1 / 4)
#: Rate-distortion trade-off of the encoder's level choice, in squared quantiser steps per bit.
_LAMBDA = 0.05
_ACTIVITY_CLASSES = 4
_MAG_UNARY = 8      # magnitudes 1..8 in context-coded unary bins
_ESCAPE_PREFIX = 10  # then Exp-Golomb in equiprobable bits, prefix at most 10 ones


def encode(rgb: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    """Code an RGB colour map (rows, cols, 3) uint8 at ``quality`` (0 = coarsest)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0 or rgb.dtype != np.uint8:
        raise ValueError(f"a colour map must be non-empty (rows, cols, 3) uint8, got {rgb.dtype} "
                         f"{rgb.shape}")
    steps = _steps(quality)
    planes = [
        _choose_levels(plane.tolist(), step, weight)
        for plane, step, weight in zip(_ycocg(rgb.astype(np.int64)), (steps[0], steps[1], steps[1]),
                                       _RGB_WEIGHTS, strict=True)
    ]
    enc = Encoder()
    _code_planes(planes, rgb.shape[0], rgb.shape[1], steps, enc)
    return enc.finish()


def decode(data: bytes, width: int, height: int, quality: int = DEFAULT_QUALITY) -> np.ndarray:
    """Decode a colour map of ``height`` rows × ``width`` columns; raises BitstreamError."""
    if width < 1 or height < 1:
        raise BitstreamError(f"colour map size {width}x{height} is empty")
    steps = _steps(quality)
    dec = Decoder(data)
    planes = [[[0] * width for _ in range(height)] for _ in range(_PLANES)]
    _code_planes(planes, height, width, steps, dec)
    dec.finish()
    return _reconstruct(np.asarray(planes, dtype=np.int64), steps)


def _steps(quality: int) -> tuple[int, int]:
    if not 0 <= quality < QUALITY_LEVELS:
        raise BitstreamError(f"colour quality {quality} is not 0..{QUALITY_LEVELS - 1}")
    return STEPS[quality]


def _ycocg(rgb: np.ndarray) -> list[np.ndarray]:
    """Forward YCoCg-R (integer lifting): Y, Co, Cg planes."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    co = r - b
    t = b + (co >> 1)
    cg = g - t
    y = t + (cg >> 1)
    return [y, co, cg]


def _choose_levels(values: list[list[int]], step: int, weight: float) -> list[list[int]]:
    """Quantisation levels for one plane, trading distortion for rate (encoder only).

    In raster order with the decoder's MED prediction, each value takes the nearer of
    its two neighbouring levels, or the level the prediction gives if it is within one
    step: ``weight`` × squared error + λ × (rough bit cost) is minimised.
    ``weight`` converts the plane's error into RGB mean squared error.
    """
    lam = _LAMBDA * step * step
    rows, cols = len(values), len(values[0])
    out = [[0] * cols for _ in range(rows)]
    for y in range(rows):
        for x in range(cols):
            pred = _med(out, y, x, cols)[0]
            v = values[y][x] / step
            lo = int(v // 1)
            best = None
            for q in {lo, lo + 1, pred} if abs(v - pred) <= 1 else (lo, lo + 1):
                err = (v - q) * step
                res = abs(q - pred)
                cost = weight * err * err + lam * (1 + 2 * res.bit_length() if res else 0.3)
                if best is None or cost < best[0]:
                    best = (cost, q)
            out[y][x] = best[1]
    return out


def _med(plane: list[list[int]], y: int, x: int, cols: int) -> tuple[int, int]:
    """MED (LOCO-I) prediction and activity from causal neighbours (spec §4.3)."""
    row = plane[y]
    if not y:
        return (row[x - 1] if x else 0), 0
    up = plane[y - 1]
    if not x:
        return up[0], (abs(up[0] - up[1]) if cols > 1 else 0)
    a, b, c = row[x - 1], up[x], up[x - 1]
    if c >= max(a, b):
        pred = min(a, b)
    elif c <= min(a, b):
        pred = max(a, b)
    else:
        pred = a + b - c
    return pred, abs(a - c) + abs(b - c)


def _reconstruct(planes: np.ndarray, steps: tuple[int, int]) -> np.ndarray:
    """Integer inverse: dequantise, inverse YCoCg-R, clip to 0..255."""
    y = planes[0] * steps[0]
    co = planes[1] * steps[1]
    cg = planes[2] * steps[1]
    t = y - (cg >> 1)
    g = cg + t
    b = t - (co >> 1)
    r = b + co
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def _code_planes(planes: list, rows: int, cols: int, steps: tuple[int, int], coder) -> None:
    """Encode (Encoder) or decode in place (Decoder) the quantised planes, plane by plane.

    Levels stay within ±(255 // step + 1), the range the encoder can produce; a
    decoded level outside it is a BitstreamError, which also keeps arithmetic small.
    """
    encoding = isinstance(coder, Encoder)
    zero = contexts(_PLANES * _ACTIVITY_CLASSES)
    sign = contexts(_PLANES)
    mag = contexts(_PLANES * _ACTIVITY_CLASSES * _MAG_UNARY)
    for plane_index, plane in enumerate(planes):
        limit = 255 // steps[min(plane_index, 1)] + 1
        for y in range(rows):
            row = plane[y]
            for x in range(cols):
                pred, act = _med(plane, y, x, cols)
                act_class = min(act, _ACTIVITY_CLASSES - 1)
                ctx = plane_index * _ACTIVITY_CLASSES + act_class
                if encoding:
                    res = row[x] - pred
                    coder.bit(zero, ctx, res != 0)
                    if res:
                        _encode_magnitude(coder, mag, ctx * _MAG_UNARY, abs(res))
                        coder.bit(sign, plane_index, res < 0)
                else:
                    res = 0
                    if coder.bit(zero, ctx):
                        res = _decode_magnitude(coder, mag, ctx * _MAG_UNARY)
                        if coder.bit(sign, plane_index):
                            res = -res
                    if abs(pred + res) > limit:
                        raise BitstreamError("colour level outside the quantiser's range")
                    row[x] = pred + res


def _encode_magnitude(enc: Encoder, probs: list[int], base: int, m: int) -> None:
    """m >= 1: unary over 1.._MAG_UNARY with context per bin, then Exp-Golomb escape."""
    for i in range(1, _MAG_UNARY + 1):
        if m == i:
            enc.bit(probs, base + i - 1, 0)
            return
        enc.bit(probs, base + i - 1, 1)
    value = m - _MAG_UNARY  # >= 1
    n = value.bit_length() - 1
    encode_bypass(enc, n + 1, (1 << (n + 1)) - 2)
    encode_bypass(enc, n, value - (1 << n))


def _decode_magnitude(dec: Decoder, probs: list[int], base: int) -> int:
    for i in range(1, _MAG_UNARY + 1):
        if not dec.bit(probs, base + i - 1):
            return i
    n = 0
    while decode_bypass(dec, 1):
        n += 1
        if n > _ESCAPE_PREFIX:
            raise BitstreamError("colour residual escape is too long")
    return _MAG_UNARY + (1 << n) + decode_bypass(dec, n)
