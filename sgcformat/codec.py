"""The semantic encoder: image (+ label map) → :class:`SgcFile`, with rate control.

Encoding is the extraction of two small maps and their lossless coding; the
only costly step is segmentation, which runs only when no label map is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from . import maps, registry
from .chunks import vocab_payload
from .coding import colors, stream
from .coding import labels as label_coder  # encode() has a parameter called labels
from .container import MAX_GRID, SUPPORTED_VERSIONS, ChunkType, SgcFile, build, grid_size
from .errors import BudgetError, MapShapeError

ImageLike = Image.Image | np.ndarray | str | os.PathLike

ORIENTATION_TAG = 0x0112

#: encode() writes the newest version: 3 codes both maps in one stream, the colours given the
#: label map, and stores no default header field (fewest bytes).
WRITTEN_VERSION = SUPPORTED_VERSIONS[-1]

#: Aspect ratios of image and label map may differ by this much (resizing rounds sizes).
ASPECT_TOLERANCE = 0.02


def to_rgb(image: ImageLike) -> Image.Image:
    """Any Pillow mode, array or path → 8-bit RGB (16-bit and float data are rescaled, not clipped).

    An EXIF Orientation tag is applied first: maps are stored upright, as viewers show the photo.
    """
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as im:
            return to_rgb(im.copy())
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.getexif().get(ORIENTATION_TAG, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        image = Image.fromarray(np.clip(values * 255.0 / top + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def label_ids(label_image: ImageLike, vocab: str) -> np.ndarray:
    """Class ids (``-1`` = unlabeled) from a label map in the vocabulary's PNG encoding."""
    if isinstance(label_image, (str, os.PathLike)):
        with Image.open(label_image) as im:
            label_image = im.copy()
    values = np.asarray(label_image)
    if values.ndim == 3 and values.shape[2] in (1,):
        values = values[..., 0]
    return registry.vocabulary(vocab).labels_from_png(values)


def check_aspect(image_size: tuple[int, int], map_size: tuple[int, int], what: str) -> None:
    """Raise :class:`MapShapeError` when a map's aspect ratio disagrees with the image's."""
    (w, h), (mw, mh) = image_size, map_size
    if abs((mw * h) / (mh * w) - 1) > ASPECT_TOLERANCE and (mw, mh) != grid_size(max(mw, mh), w, h):
        raise MapShapeError(
            f"{what} is {mw}x{mh} but the image is {w}x{h}: aspect ratios differ"
        )


def long_side_of(size: tuple[int, int] | None, image_size: tuple[int, int], what: str) -> int | None:
    """The stored long side for a requested grid size, which must follow the image's aspect ratio."""
    if size is None:
        return None
    gw, gh = (int(v) for v in size)
    long_side = max(gw, gh)
    if not 1 <= long_side <= min(MAX_GRID, max(image_size)):
        raise MapShapeError(f"{what} {gw}x{gh}: the long side must be 1..{min(MAX_GRID, max(image_size))}")
    expected = grid_size(long_side, *image_size)
    if (gw, gh) != expected:
        raise MapShapeError(
            f"{what} {gw}x{gh} does not follow the image's aspect ratio; "
            f"use {expected[0]}x{expected[1]}"
        )
    return long_side


@dataclass(frozen=True)
class Settings:
    """One point of the rate ladder: grid long sides and colour quality."""

    label_grid: int
    color_grid: int
    color_quality: int


class _Encoder:
    """Holds the full-resolution inputs and memoises coded maps per grid, for rate control."""

    def __init__(self, rgb: Image.Image, ids: np.ndarray, vocab: str, profile: str, version: int):
        self.rgb, self.ids, self.vocab, self.profile, self.version = rgb, ids, vocab, profile, version
        self.size = rgb.size
        # the label coder's prior follows a registry name; a custom vocabulary is a bare size
        self.vocab_name = registry.vocabulary(vocab).label_coder_key
        self._label_map = cache(lambda long_side: maps.label_map(self.ids, grid_size(long_side, *self.size)))
        self._color_map = cache(lambda long_side: maps.color_map(self.rgb, grid_size(long_side, *self.size)))
        self._maps = cache(self._code_maps)

    def _code_maps(self, s: Settings) -> dict[str, bytes]:
        """The coded maps as SgcFile fields: version 3's one stream (the label map, then the
        colours given it, spec/sgc-coding.md §7), or the two bitstreams of versions 1-2."""
        ids, rgb = self._label_map(s.label_grid), self._color_map(s.color_grid)
        if self.version >= 3:
            return {"map_data": stream.encode(ids, self.vocab_name, rgb, s.color_quality)}
        return {"label_data": label_coder.encode(ids, self.vocab_name),
                "color_data": colors.encode(rgb, s.color_quality, version=self.version, labels=ids)}

    def file(self, s: Settings, chunks=()) -> SgcFile:
        return SgcFile(
            width=self.size[0], height=self.size[1], vocab=registry.vocabulary(self.vocab).name,
            profile=self.profile,
            label_grid=s.label_grid, color_grid=s.color_grid, color_quality=s.color_quality,
            chunks=tuple(chunks), version=self.version, **self._maps(s),
        )

    def nbytes(self, s: Settings) -> int:
        return len(build(self.file(s)))


def _ladder(image_size: tuple[int, int]) -> list[tuple[int, int]]:
    """(label, colour) long sides from coarse to fine, cell counts growing by √2 per rung."""
    limit = min(MAX_GRID, max(image_size))
    rungs = []
    for k in range(-20, 13):
        scale = 2.0 ** (k / 2)
        pair = tuple(
            min(limit, maps.default_long_side(*image_size, max(1, round(cells * scale))))
            for cells in (maps.DEFAULT_LABEL_CELLS, maps.DEFAULT_COLOR_CELLS)
        )
        if not rungs or pair != rungs[-1]:
            rungs.append(pair)
    return rungs


def _largest_fitting(values: list, fits) -> int:
    """Index of the last value for which ``fits`` holds, assuming it holds on a prefix (-1 if none)."""
    lo, hi = -1, len(values) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(values[mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _fit_budget(enc: _Encoder, budget: int, extra: int) -> Settings:
    """The finest settings whose file fits ``budget`` bytes (``extra`` = bytes of optional chunks).

    File size grows (nearly) monotonically along the ladder, with colour quality, and with the label
    grid, so three binary searches find a point that fills the budget well with a dozen encodes.
    """

    def fits(s: Settings) -> bool:
        return enc.nbytes(s) + extra <= budget

    smallest = Settings(1, 1, 0)
    if not fits(smallest):
        raise BudgetError(
            f"{budget} bytes is too small: the smallest encoding of this image takes "
            f"{enc.nbytes(smallest) + extra} bytes"
        )
    rungs = _ladder(enc.size)
    qualities = list(range(colors.QUALITY_LEVELS))
    i = _largest_fitting(rungs, lambda r: fits(Settings(*r, colors.DEFAULT_QUALITY)))
    candidates = [smallest]
    for label_grid, color_grid in rungs[max(i, 0): i + 2]:  # this rung, and the next at a coarser quality
        q = _largest_fitting(qualities, lambda q, lg=label_grid, cg=color_grid: fits(Settings(lg, cg, q)))
        if q >= 0:
            candidates.append(Settings(label_grid, color_grid, q))
    best = max(candidates, key=lambda s: (enc.nbytes(s), s.label_grid, s.color_quality))
    # Spend what is left on a finer colour grid, then on a finer label grid.
    limit = min(MAX_GRID, max(enc.size))
    grids = list(range(best.color_grid, limit + 1))
    j = _largest_fitting(grids, lambda g: fits(Settings(best.label_grid, g, best.color_quality)))
    best = Settings(best.label_grid, grids[max(j, 0)], best.color_quality)
    grids = list(range(best.label_grid, limit + 1))
    j = _largest_fitting(grids, lambda g: fits(Settings(g, best.color_grid, best.color_quality)))
    return Settings(grids[max(j, 0)], best.color_grid, best.color_quality)


def encode(
    image: ImageLike,
    *,
    labels: ImageLike | None = None,
    vocab: str | registry.Vocabulary | None = None,
    profile: str | None = None,
    target_bytes: int | None = None,
    bpp: float | None = None,
    label_size: tuple[int, int] | None = None,
    color_size: tuple[int, int] | None = None,
    color_quality: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    chunks: tuple[Any, ...] = (),
    version: int = WRITTEN_VERSION,
) -> SgcFile:
    """Encode an image into its semantic representation.

    Args:
        image: the photo (PIL image of any mode, array, or path).
        labels: its label map in ``vocab``'s PNG encoding (see :mod:`sgcformat.registry`), at
            the image's resolution or any resolution with the same aspect ratio. Without it,
            the profile's segmentation network runs (needs the ``models`` extra and weights).
        vocab: vocabulary of ``labels``; defaults to the profile's. A
            :class:`~sgcformat.registry.CustomVocabulary` is stored in the file (VOCAB chunk).
        profile: decoder profile recorded in the file; defaults to the vocabulary's usual one.
        target_bytes / bpp: byte budget for the whole file; the finest grids and colour quality
            that fit are chosen (:class:`BudgetError` when even the coarsest does not fit).
        label_size / color_size: explicit grid sizes (columns, rows); they must follow the
            image's aspect ratio (:class:`MapShapeError` otherwise).
        color_quality: colour quantiser index, ``0 .. colors.QUALITY_LEVELS - 1``.
        seed: seed stored in the file, the default for every later decode.
        device: device for the segmentation network.
        chunks: extra :class:`~sgcformat.container.Chunk` objects (EXIF, XMP, ICC, ...).
        version: file format version to write: the newest by default; 2 or 1 for readers of
            spec revisions 1.1 or 1.0 (a few bytes larger).
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"version must be one of {SUPPORTED_VERSIONS}, got {version}")
    rgb = to_rgb(image)
    if profile is None:
        profile = registry.DEFAULT_PROFILE_FOR_VOCAB.get(vocab, "preview") if vocab else None
    if labels is None:
        if profile is None or registry.profile(profile).vocab is None:
            raise ValueError("without labels, name a profile whose segmenter should run")
        from .models import segment

        vocab = registry.profile(profile).vocab
        ids = np.asarray(segment(rgb, profile, device=device), dtype=np.int32)
    else:
        if vocab is None:
            if profile is None or registry.profile(profile).vocab is None:
                raise ValueError("name the vocabulary of the label map (vocab=...)")
            vocab = registry.profile(profile).vocab
        ids = label_ids(labels, vocab)
    registry.check_pair(profile, vocab)
    check_aspect(rgb.size, (ids.shape[1], ids.shape[0]), "the label map")

    enc = _Encoder(rgb, ids, vocab, profile, version)
    carrier = SgcFile(1, 1, registry.vocabulary(vocab).name, profile, 1, 1, 0, b"", b"")
    if isinstance(vocab, registry.CustomVocabulary):
        carrier = carrier.with_chunk(ChunkType.VOCAB, vocab_payload(vocab.class_names))
    for chunk in chunks:
        carrier = carrier.with_chunk(chunk.type, chunk.data)
    if seed is not None:
        carrier = carrier.with_seed(seed)
    extra = sum(c.encoded_size for c in carrier.chunks)
    if bpp is not None:
        if target_bytes is not None:
            raise ValueError("give target_bytes or bpp, not both")
        target_bytes = int(bpp * rgb.size[0] * rgb.size[1] / 8)
    if target_bytes is not None:
        if label_size or color_size or color_quality is not None:
            raise ValueError("a byte budget chooses grid sizes and quality: do not give them too")
        settings = _fit_budget(enc, int(target_bytes), extra)
    else:
        settings = Settings(
            long_side_of(label_size, rgb.size, "label size")
            or maps.default_long_side(*rgb.size, maps.DEFAULT_LABEL_CELLS),
            long_side_of(color_size, rgb.size, "colour size")
            or maps.default_long_side(*rgb.size, maps.DEFAULT_COLOR_CELLS),
            colors.DEFAULT_QUALITY if color_quality is None else int(color_quality),
        )
        if not 0 <= settings.color_quality < colors.QUALITY_LEVELS:
            raise ValueError(f"color_quality must be 0..{colors.QUALITY_LEVELS - 1}")
    return enc.file(settings, carrier.chunks)
