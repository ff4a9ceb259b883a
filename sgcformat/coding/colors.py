"""Lossy coding of colour maps with an integer-exact decoder (spec/sgc-coding.md §4).

The map is carried in YCoCg (the reversible integer variant, YCoCg-R). Each plane
goes through two levels of the 5/3 integer wavelet (JPEG 2000's reversible
lifting), every subband is quantised with its own uniform step, and the levels
are coded with context-adaptive binary decisions: the low band by MED prediction
of its neighbours, the detail bands directly (most of them are zero).

Why a wavelet rather than per-cell prediction: at about one bit per sample the
detail bands of a 16×16 map are mostly zero and cost a fraction of a bit each,
while prediction in the quantised domain spends bits on every cell; on the corpus
the wavelet codes the default map ~15 % smaller at the same PSNR. The decoder only
adds, multiplies and shifts integers, so every machine reconstructs the same bytes.

Version 2 (spec §6) codes the colours given the file's label map: regions of one class
share colour, so the class means of each decoded low band, painted back through the label
map, predict the detail bands (and the label regions the low band); with its trained priors it
codes the corpus's COCO/ADE colour maps 91.5 → 83.7 B at the same PSNR.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import BitstreamError
from .rangecoder import (
    NATIVE_SHIFTS,
    SHIFTS,
    Decoder,
    DecoderState,
    Encoder,
    EncoderState,
    contexts,
    decode_bypass,
    encode_bypass,
    native_coder,
)

#: Base quantiser step per quality level, coarse to fine; subband steps scale it (:data:`BAND_SCALE`).
STEPS: tuple[int, ...] = (64, 52, 44, 37, 32, 28, 25, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 1)
QUALITY_LEVELS = len(STEPS)
DEFAULT_QUALITY = 8

#: The count of a seasoned context (the last of rangecoder.SHIFTS).
SEASONED_COUNT = len(SHIFTS) - 1
#: Bitstream versions (spec §4; §6: version 2 predicts detail bands from the label map).
VERSIONS = (1, 2)
#: Wavelet decomposition levels per plane.
LEVELS = 2
#: Subband step = max(1, (base · BAND_SCALE[plane][band] + 32) >> 6), band in the order
#: LL2, LH2/HL2, HH2, LH1/HL1, HH1. Luma's scales are 64/√(synthesis gain) of the 5/3 band, so
#: each band's quantisation error weighs the same in the image; Co and Cg are 2.45× and 2×
#: coarser, their weights in RGB error being 1/6 and 1/4 of luma's.
BAND_SCALE: tuple[tuple[int, ...], ...] = (
    (28, 41, 59, 62, 89),
    (70, 101, 145, 151, 218),
    (57, 82, 119, 123, 178),
)
_PLANES = 3
#: RGB mean squared error per unit squared error of Y, Co, Cg (from the inverse transform).
_RGB_WEIGHTS = (1.0, 1 / 6, 1 / 4)
#: Approximate squared norms of the 5/3 synthesis filters (1-D low, high), for the encoder.
_GAIN_LOW, _GAIN_HIGH = 1.5, 0.72
#: Rate-distortion trade-off of the encoder, in squared base steps per bit (≈ 2·ln 2 / 12), per
#: version: version 2's better prediction buys PSNR at λ = 0.1, spent on bytes at λ = 0.1025 so that
#: the corpus colour fidelity stays that of version 1 (bench/results/bitrate.md).
_LAMBDA = {1: 0.1, 2: 0.1025}
_MAG_UNARY = 6       # magnitudes 1..6 in context-coded unary bins
_ESCAPE_PREFIX = 11  # then Exp-Golomb in equiprobable bits, prefix at most 11 ones
#: |level| · step never exceeds this (5/3 coefficients of 9-bit planes stay within ±1020).
_COEFF_LIMIT = 1024

# Contexts: the low band's per plane kind (luma, chroma); the detail bands' per plane kind,
# level (finest, coarser) and orientation (LH/HL, HH); six magnitude bins for each.
#: Initial probability of a 0 per context, in 32nds (16 = even), so that a map does not pay for
#: learning that most detail coefficients are zero: the rounded frequencies of each decision
#: over the corpus's Kodak, Cityscapes, CamVid and LoveDA maps at qualities 7-9 (held out from
#: the COCO/ADE images the bitrate target is measured on; there they save ~4 B per map).
_PRIOR_LOW_ZERO = (5, 22)
_PRIOR_LOW_MAG = (8, 6, 6, 7, 6, 5, 25, 20, 14, 18, 15, 19)
_PRIOR_ZERO = (23, 28, 12, 15, 31, 31, 30, 31)
_PRIOR_MAG = (
    22, 21, 21, 16, 14, 20, 28, 30, 29, 16, 16, 16, 16, 14, 14, 12, 13, 13, 21, 15, 20, 18, 15, 13,
    30, 30, 16, 16, 16, 16, 27, 16, 16, 16, 16, 16, 26, 28, 22, 13, 24, 16, 30, 28, 16, 16, 16, 16,
)
#: The four tables (LOW_ZERO, LOW_MAG, ZERO, MAG) per version. Version 2 (spec §6.4) has two ZERO
#: contexts per band class; its tables are trained by scripts/train_color_tables.py on all 43
#: labelled corpus pairs (bench/bitrate.py reports them retrained without the image coded, and
#: without its dataset).
PRIORS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: (_PRIOR_LOW_ZERO, _PRIOR_LOW_MAG, _PRIOR_ZERO, _PRIOR_MAG),
    2: (
        (5, 23),
        (8, 7, 6, 7, 6, 5, 22, 18, 17, 16, 12, 15),
        (23, 13, 28, 21, 14, 6, 16, 10, 31, 24, 31, 30, 30, 14, 31, 22),
        (22, 22, 22, 20, 19, 22, 29, 29, 31, 16, 16, 16, 15, 15, 14, 16, 15, 15, 18, 17, 18, 19, 19, 12,
         30, 29, 16, 16, 16, 16, 31, 16, 16, 16, 16, 16, 26, 27, 29, 13, 24, 16, 26, 30, 16, 16, 16, 16),
    ),
}


def encode(rgb: np.ndarray, quality: int = DEFAULT_QUALITY, *, version: int = 1,
           labels: np.ndarray | None = None, after: EncoderState | None = None) -> bytes:
    """Code an RGB colour map (rows, cols, 3) uint8 at ``quality`` (0 = coarsest).

    Version 2 (spec §6) predicts the detail bands from ``labels``, the file's label map (any
    grid size), which the decoder has decoded before the colours. ``after`` (version 2 only)
    goes on in the stream the label map began (:func:`labels.encode_open`): file version 3's
    single stream (coding §7), returned whole.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0 or rgb.dtype != np.uint8:
        raise ValueError(f"a colour map must be non-empty (rows, cols, 3) uint8, got {rgb.dtype} "
                         f"{rgb.shape}")
    base = _base_step(quality)
    predict = _predictor(version, labels, *rgb.shape[:2])
    if after is not None and predict is None:
        raise ValueError("only the version-2 colour bitstream goes on in a label map's stream")
    native = native_coder()
    if native is not None:  # the same bytes (tests/test_native.py), ~50x faster
        steps, _, init, shifts = _native_tables(base, version)
        extra = () if predict is None else predict.native_args()
        lam = _LAMBDA[version] * base * base
        return native.encode_colors(np.ascontiguousarray(rgb), rgb.shape[1], rgb.shape[0], steps, init,
                                    shifts, _NATIVE_GAINS, lam, _NATIVE_LOG2, *extra,
                                    *(() if after is None else (after,)))
    coder = _BandCoder(Encoder(after), base, version)
    for plane_index, plane in enumerate(_ycocg(rgb.astype(np.int64))):
        low, details = _analyse(plane)
        coder.plane(plane_index, low, details, predict)
    return coder.coder.finish()


def decode(data: bytes, width: int, height: int, quality: int = DEFAULT_QUALITY, *,
           version: int = 1, labels: np.ndarray | None = None,
           after: DecoderState | None = None) -> np.ndarray:
    """Decode a colour map of ``height`` rows × ``width`` columns; raises BitstreamError.

    Version 2 needs ``labels``, the file's decoded label map; ``after`` goes on where the label
    map left ``data`` (:func:`labels.decode_open`, file version 3, coding §7).
    """
    if width < 1 or height < 1:
        raise BitstreamError(f"colour map size {width}x{height} is empty")
    base = _base_step(quality)
    predict = _predictor(version, labels, height, width)
    native = native_coder()
    if native is not None:
        tables = _native_tables(base, version)
        if predict is None:
            rgb = native.decode_colors(bytes(data), width, height, *tables)
        else:
            rgb = native.decode_colors_v2(bytes(data), width, height, *tables, *predict.native_args(),
                                          *(() if after is None else (after,)))
        return np.frombuffer(rgb, dtype=np.uint8).reshape(height, width, 3)
    coder = _BandCoder(Decoder(data, after), base, version)
    shapes = _band_shapes(height, width)
    planes = []
    for plane_index in range(_PLANES):
        low = np.zeros(shapes[-1][0], dtype=np.int64)
        details = [tuple(np.zeros(s, dtype=np.int64) for s in level[1:]) for level in shapes]
        planes.append(coder.plane(plane_index, low, details, predict))
    coder.coder.finish()
    return _inverse_ycocg(*planes)


def _predictor(version: int, labels: np.ndarray | None, rows: int, cols: int) -> _LabelPrediction | None:
    """The version's detail-band prediction: none in version 1, from ``labels`` in version 2."""
    if version not in VERSIONS:
        raise BitstreamError(f"colour bitstream version {version} is not one of {VERSIONS}")
    if version == 1:
        return None
    if labels is None:
        raise ValueError("a version-2 colour map is coded given the file's label map")
    return _LabelPrediction(np.asarray(labels), rows, cols)


def band_step(base: int, plane: int, band: int) -> int:
    """Quantiser step of ``band`` (0 = LL2 … 4 = HH1, see :data:`BAND_SCALE`) of ``plane``."""
    return max(1, (base * BAND_SCALE[plane][band] + 32) >> 6)


def _base_step(quality: int) -> int:
    if not 0 <= quality < QUALITY_LEVELS:
        raise BitstreamError(f"colour quality {quality} is not 0..{QUALITY_LEVELS - 1}")
    return STEPS[quality]


@functools.cache
def _native_tables(base: int, version: int) -> tuple[bytes, bytes, bytes, bytes]:
    """This module's tables as the native decoder takes them: per plane and band class the step
    and the level limit (int32), the contexts' initial probabilities (uint16), the shifts."""
    bands = [(plane, band) for plane in range(_PLANES) for band in range(len(BAND_SCALE[0]))]
    steps = [band_step(base, plane, band) for plane, band in bands]
    limits = [_level_limit(version, band, band_step(base, plane, band)) for plane, band in bands]
    init = [p for prior in PRIORS[version] for p in _primed(prior)[0::2]]
    return (np.asarray(steps, dtype=np.int32).tobytes(), np.asarray(limits, dtype=np.int32).tobytes(),
            np.asarray(init, dtype=np.uint16).tobytes(), NATIVE_SHIFTS)


def _level_limit(version: int, band: int, step: int) -> int:
    """Largest |level| of a band; version 2's detail levels are residuals of a prediction."""
    return (_COEFF_LIMIT if version == 1 or band == 0 else 2 * _COEFF_LIMIT) // step + 1


def _detail_band(level: int, orientation: int) -> int:
    """Index into BAND_SCALE of a detail band: level 1 (finest) or 2, orientation LH/HL/HH = 0/1/2."""
    return (1 if level == 2 else 3) + (orientation == 2)


# --- colour and wavelet transforms -----------------------------------------------------------


def _ycocg(rgb: np.ndarray) -> list[np.ndarray]:
    """Forward YCoCg-R (integer lifting): Y, Co, Cg planes."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    co = r - b
    t = b + (co >> 1)
    cg = g - t
    y = t + (cg >> 1)
    return [y, co, cg]


def _inverse_ycocg(y: np.ndarray, co: np.ndarray, cg: np.ndarray) -> np.ndarray:
    t = y - (cg >> 1)
    g = cg + t
    b = t - (co >> 1)
    r = b + co
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def _right_even(even: np.ndarray, n_odd: int) -> np.ndarray:
    """Right even neighbour of each odd sample; past the end x[n] mirrors to x[n - 2]."""
    return even[1: n_odd + 1] if len(even) > n_odd else np.concatenate([even[1:], even[-1:]])


def _odd_sides(odd: np.ndarray, n_even: int) -> np.ndarray:
    """Sum of the left and right odd neighbours of each even sample (d[-1] = d[0], and
    d[n] = d[n - 1] past the end)."""
    left = np.concatenate([odd[:1], odd])[:n_even]
    right = odd if len(odd) == n_even else np.concatenate([odd, odd[-1:]])
    return left + right


def _lift(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One 5/3 analysis step along axis 0: (low, high) of lengths ⌈n/2⌉, ⌊n/2⌋."""
    even, odd = x[0::2], x[1::2]
    if not len(odd):
        return even.copy(), odd.copy()
    high = odd - ((even[: len(odd)] + _right_even(even, len(odd))) >> 1)
    return even + ((_odd_sides(high, len(even)) + 2) >> 2), high


def _unlift(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_lift` (along axis 0)."""
    if not len(high):
        return low.copy()
    even = low - ((_odd_sides(high, len(low)) + 2) >> 2)
    out = np.empty((len(low) + len(high), *low.shape[1:]), dtype=np.int64)
    out[0::2] = even
    out[1::2] = high + ((even[: len(high)] + _right_even(even, len(high))) >> 1)
    return out


def _analyse(plane: np.ndarray, levels: int = LEVELS) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """``levels`` of 2-D 5/3 analysis: the low band and, finest first, (LH, HL, HH) per level.

    Columns are lifted first (vertical low / high), then the rows of each half; LH is
    vertically low and horizontally high.
    """
    details = []
    low = plane
    for _ in range(levels):
        v_low, v_high = _lift(low)
        ll, lh = (b.T for b in _lift(v_low.T))
        hl, hh = (b.T for b in _lift(v_high.T))
        details.append((lh, hl, hh))
        low = ll
    return low, details


def _band_shapes(rows: int, cols: int) -> list[tuple[tuple[int, int], ...]]:
    """Per level, finest first: shapes of (LL, LH, HL, HH)."""
    shapes = []
    for _ in range(LEVELS):
        lr, hr, lc, hc = (rows + 1) // 2, rows // 2, (cols + 1) // 2, cols // 2
        shapes.append(((lr, lc), (lr, hc), (hr, lc), (hr, hc)))
        rows, cols = lr, lc
    return shapes


def _synthesise_level(low: np.ndarray, lh: np.ndarray, hl: np.ndarray, hh: np.ndarray) -> np.ndarray:
    """One level of synthesis from dequantised bands: rows of each half, then columns."""
    v_low = _unlift(low.T, lh.T).T
    v_high = _unlift(hl.T, hh.T).T
    return _unlift(v_low, v_high)


class _LabelPrediction:
    """Version 2's prediction of the detail bands of a level from the label map (spec §6).

    Each label cell belongs to one cell of a grid by its centre (as pixels do in
    :func:`sgcformat.maps.label_map`). A class's mean on a decoded low band is the mean of the
    band over its label cells; each colour cell takes the mean of its label cells' class means,
    an image with the label map's edges and the band's colours, whose own detail bands
    (scaled by 3/4) predict the coded ones: the coder then pays only for what the label map does
    not explain.
    """

    def __init__(self, labels: np.ndarray, rows: int, cols: int) -> None:
        if labels.ndim != 2 or labels.size == 0:
            raise ValueError(f"a label map must be a non-empty 2-D array, got {labels.shape}")
        self.label_shape = labels.shape
        _, local = np.unique(labels, return_inverse=True)
        self.local = local.ravel().astype(np.int64)
        self.counts = np.bincount(self.local)
        self.cell = self._cells(rows, cols)
        self.per_cell = np.bincount(self.cell, minlength=rows * cols)
        # A colour cell no label cell centre falls in (a label grid coarser than the colour
        # grid) takes the class of the label cell that holds its own centre.
        self.fallback = self._centre_classes(rows, cols)
        self.shape = (rows, cols)

    def _cells(self, rows: int, cols: int) -> np.ndarray:
        """The cell of a rows × cols grid each label cell's centre falls in (raster index)."""
        lr, lc = self.label_shape
        return (_owner(lr, rows)[:, None] * cols + _owner(lc, cols)[None, :]).ravel()

    def _centre_classes(self, rows: int, cols: int) -> np.ndarray:
        """Per cell of a rows × cols grid, the class of the label cell holding its centre."""
        lr, lc = self.label_shape
        return self.local[(_owner(rows, lr)[:, None] * lc + _owner(cols, lc)[None, :]).ravel()]

    def __call__(self, low: np.ndarray, level: int) -> tuple[np.ndarray, ...]:
        """Predicted (LH, HL, HH) of ``level`` given the decoded low band ``low`` of that level."""
        sums = np.zeros(len(self.counts), dtype=np.int64)
        np.add.at(sums, self.local, low.ravel()[self._cells(*low.shape)])
        means = _round_div(sums, self.counts)
        total = np.zeros(self.per_cell.size, dtype=np.int64)
        np.add.at(total, self.cell, means[self.local])
        image = np.where(self.per_cell > 0, _round_div(total, np.maximum(self.per_cell, 1)),
                         means[self.fallback])
        _, details = _analyse(image.reshape(self.shape), level)
        return tuple((3 * band) >> 2 for band in details[level - 1])

    def sample_classes(self, rows: int, cols: int) -> list[list[int]]:
        """The class of each cell of a rows × cols low band: the one most of the label cells it
        holds have (ties: the smaller local index), else that of the label cell holding its centre."""
        k = len(self.counts)
        pairs, votes = np.unique(self._cells(rows, cols) * k + self.local, return_counts=True)
        cell, cls = pairs // k, pairs % k
        order = np.lexsort((cls, -votes, cell))  # per cell: most votes, then smallest class
        held, first = np.unique(cell[order], return_index=True)
        out = self._centre_classes(rows, cols)
        out[held] = cls[order][first]
        return out.reshape(rows, cols).tolist()

    def native_args(self) -> tuple[bytes, int, int, int]:
        """The label cells' local classes (uint16), the label grid and the class count."""
        lr, lc = self.label_shape
        return self.local.astype(np.uint16).tobytes(), lc, lr, len(self.counts)


def _owner(n: int, m: int) -> np.ndarray:
    """Cell of an m-cell axis that the centre of each of n cells falls in: ⌊(2i + 1)·m / 2n⌋."""
    return (2 * np.arange(n) + 1) * m // (2 * n)


def _round_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den rounded half up, in integers (den > 0)."""
    return (2 * num + den) // (2 * den)


def _band_gain(band: int) -> float:
    """Approximate squared norm of a band's 2-D synthesis basis (encoder only)."""
    lo, hi = _GAIN_LOW, _GAIN_HIGH
    return (lo**4, lo**3 * hi, lo**2 * hi**2, lo * hi, hi**2)[band]


# --- entropy coding -------------------------------------------------------------------------


class _BandCoder:
    """Codes (Encoder) or decodes in place (Decoder) the quantised bands of each plane.

    Encoding takes the planes' unquantised wavelet coefficients and chooses each level
    as it goes, minimising distortion + λ·rate with the coder's current probabilities.
    """

    def __init__(self, coder: Encoder | Decoder, base: int, version: int = 1) -> None:
        self.coder = coder
        self.encoding = isinstance(coder, Encoder)
        self.base = base
        self.version = version
        self.lam = _LAMBDA[version] * base * base
        self.low_zero, self.low_mag, self.zero, self.mag = (_primed(p, version) for p in PRIORS[version])

    def plane(self, index: int, low: np.ndarray, details: list[tuple[np.ndarray, ...]],
              predict: _LabelPrediction | None = None) -> np.ndarray:
        """Low band (MED-predicted, raster order), then detail bands coarse to fine; returns the
        reconstructed plane. ``predict`` (version 2) predicts each level's detail bands from the
        low band reconstructed so far; the levels code what it leaves."""
        kind = min(index, 1)
        weight = _RGB_WEIGHTS[index]
        step = band_step(self.base, index, 0)
        values, dscale = self._prepare(low, step, weight * _band_gain(0))
        levels = [[0] * low.shape[1] for _ in range(low.shape[0])]
        limit = _level_limit(self.version, 0, step)
        classes = None if predict is None else predict.sample_classes(*low.shape)
        last: dict[int, int] = {}  # version 2: the latest level of each class
        for y, row in enumerate(levels):
            for x in range(len(row)):
                pred = _med(levels, y, x) if classes is None else _low_prediction(levels, classes, last, y, x)
                target = values[y * len(row) + x] if self.encoding else 0
                row[x] = pred + self._value(self.low_zero, self.low_mag, kind, kind, target - pred,
                                            dscale, limit, pred, abs(target - pred) <= 1)
                if classes is not None:
                    last[classes[y][x]] = row[x]
        out = np.asarray(levels, dtype=np.int64).reshape(low.shape) * step
        for level in range(LEVELS, 0, -1):
            predicted = (0, 0, 0) if predict is None else predict(out, level)
            bands = []
            for orientation, band in enumerate(details[level - 1]):
                b = _detail_band(level, orientation)
                step = band_step(self.base, index, b)
                values, dscale = self._prepare(band - predicted[orientation], step, weight * _band_gain(b))
                ctx = (kind * 2 + (level - 1)) * 2 + (orientation == 2)
                limit = _level_limit(self.version, b, step)
                # Version 2: a zero context per band class and whether |prediction| ≥ step / 2.
                zctx = ([ctx] * band.size if predict is None else
                        (2 * ctx + (2 * np.abs(predicted[orientation]) >= step)).ravel().tolist())
                coded = np.reshape([
                    self._value(self.zero, self.mag, zctx[i], ctx, values[i] if self.encoding else 0,
                                dscale, limit, 0, abs(values[i]) <= 1 if self.encoding else False)
                    for i in range(band.size)
                ], band.shape).astype(np.int64)
                bands.append(predicted[orientation] + coded * step)
            out = _synthesise_level(out, *bands)
        return out

    def _prepare(self, band: np.ndarray, step: int, gain: float) -> tuple[list, float]:
        """Encoder: coefficients in units of ``step`` (raster order) and the image distortion of
        one unit² of error."""
        if not self.encoding:
            return [], 0.0
        values = (band / step).ravel().tolist()
        return values, gain * step * step

    def _value(self, zero: list[int], mag: list[int], zctx: int, ctx: int, target: float,
               dscale: float, limit: int, offset: int, zero_ok: bool) -> int:
        """One signed residual, ``|offset + e| ≤ limit``, with zero context ``zctx`` and the
        magnitude contexts of ``ctx``; the encoder picks it near ``target`` (or 0 if ``zero_ok``)."""
        coder = self.coder
        if self.encoding:
            e = self._choose(zero[2 * zctx], mag, ctx, target, dscale, zero_ok)
            coder.bit(zero, zctx, e != 0)
            if e:
                _encode_magnitude(coder, mag, ctx * _MAG_UNARY, abs(e))
                encode_bypass(coder, 1, e < 0)
            return e
        e = 0
        if coder.bit(zero, zctx):
            e = _decode_magnitude(coder, mag, ctx * _MAG_UNARY)
            if decode_bypass(coder, 1):
                e = -e
        if abs(offset + e) > limit:
            raise BitstreamError("colour coefficient outside the quantiser's range")
        return e

    def _choose(self, p_zero: int, mag: list[int], ctx: int, target: float, dscale: float,
                zero_ok: bool) -> int:
        """Residual minimising dscale·err² + λ·bits among ⌊target⌋, ⌊target⌋ + 1 and 0."""
        lo = math.floor(target)
        # In this order, the first of equal costs wins (the native encoder does the same).
        candidates = (lo, lo + 1, 0) if zero_ok and lo not in (-1, 0) else (lo, lo + 1)
        best_cost, best = math.inf, 0
        for e in candidates:
            err = target - e
            cost = dscale * (err * err) + self.lam * _bits(p_zero, mag, ctx, e)
            if cost < best_cost:
                best_cost, best = cost, e
        return best


def _low_prediction(levels: list[list[int]], classes: list[list[int]], last: dict[int, int],
                    y: int, x: int) -> int:
    """Version 2's LL2 prediction (spec §6.3): the neighbour in the same label region when only
    one of left and up is, else the latest level of the cell's class when neither is, else MED."""
    c = classes[y][x]
    left = classes[y][x - 1] if x else None
    up = classes[y - 1][x] if y else None
    if left == c and up is not None and up != c:
        return levels[y][x - 1]
    if up == c and left is not None and left != c:
        return levels[y - 1][x]
    if left != c and up != c and c in last:
        return last[c]
    return _med(levels, y, x)


def _primed(prior: tuple[int, ...], version: int = 1) -> list[int]:
    """Fresh contexts starting at the probabilities ``prior`` (in 32nds): at count 0 in version 1;
    in version 2 seasoned (count 6, the slowest adaptation), since its priors are trained."""
    probs = contexts(len(prior))
    probs[0::2] = [64 * p for p in prior]
    probs[1::2] = [SEASONED_COUNT if version == 2 else 0] * len(prior)
    return probs


#: Cost in bits of a decision of probability p/2048, rounded to 2^-16 so that every machine's
#: encoder has the same table whatever its libm's last bit of log2 (no entry lies within 1e-8 of
#: a rounding boundary), hence chooses the same levels: files are canonical.
_LOG2 = [0.0] + [round(-math.log2(p / 2048) * 65536) / 65536 for p in range(1, 2048)]


#: The encoder's tables as the native encoder takes them: per plane and band class the RGB weight
#: times the band gain (float64), and _LOG2.
_NATIVE_GAINS = np.asarray([_RGB_WEIGHTS[plane] * _band_gain(band) for plane in range(_PLANES)
                            for band in range(len(BAND_SCALE[0]))], dtype=np.float64).tobytes()
_NATIVE_LOG2 = np.asarray(_LOG2, dtype=np.float64).tobytes()


def _bits(p: int, mag: list[int], ctx: int, e: int) -> float:
    """Cost in bits of residual ``e`` with the zero context's probability ``p`` and the current
    magnitude contexts of ``ctx``."""
    if not e:
        return _LOG2[p]
    bits = _LOG2[2048 - p] + 1  # + sign
    m = abs(e)
    base = ctx * _MAG_UNARY
    for i in range(1, _MAG_UNARY + 1):
        pm = mag[2 * (base + i - 1)]
        if m == i:
            return bits + _LOG2[pm]
        bits += _LOG2[2048 - pm]
    return bits + 2 * (m - _MAG_UNARY).bit_length() - 1


def _med(plane: list[list[int]], y: int, x: int) -> int:
    """MED (LOCO-I) prediction from causal neighbours (spec §4.4)."""
    row = plane[y]
    if not y:
        return row[x - 1] if x else 0
    up = plane[y - 1]
    if not x:
        return up[0]
    a, b, c = row[x - 1], up[x], up[x - 1]
    if c >= max(a, b):
        return min(a, b)
    if c <= min(a, b):
        return max(a, b)
    return a + b - c


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
