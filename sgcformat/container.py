"""The ``.sgc`` container: data model, reading, building and validation (spec/sgc.md §3-§7).

The construct grammars of :mod:`sgcformat.grammar` are the declarative definition of the
layout and are what :func:`build` serialises with (imported on the first build: opening files
never needs construct). Reading goes through a hand-written single pass instead
(:func:`parse`): it is what every ``Image.open`` runs, it is ~20× faster than construct's
interpreter, it stops at the first chunk-order violation (so at most 255 chunks are ever
looked at) and it never copies more than the file. ``tests/test_container.py`` checks on
hypothesis-generated files that both read the same thing. The coded maps are kept as bytes
and decoded only when :attr:`SgcFile.label_map` / :attr:`SgcFile.color_map` are first read.
"""

from __future__ import annotations

import binascii
import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import numpy as np

from . import chunks as payloads
from . import registry
from .chunks import ChunkType, DecodeParams, EssentialMetadata, read_varint, varint_bytes
from .coding import colors, labels
from .coding import stream as single_stream
from .errors import (
    BadSignatureError,
    ChecksumError,
    InvalidFieldError,
    LimitExceededError,
    SgcFormatError,
    TruncatedFileError,
    UnknownCriticalChunkError,
    UnsupportedVersionError,
)
from .files import atomic_write_bytes

__all__ = ["ChunkType", "DecodeParams", "EssentialMetadata", "SgcFile", "build", "parse", "read",
           "salvage", "write"]

SIGNATURE = b"SGC"
#: The default version of an :class:`SgcFile` made by hand; readers accept every one of
#: SUPPORTED_VERSIONS (spec §3), and the encoder writes the last.
VERSION = 1
SUPPORTED_VERSIONS = (1, 2, 3)
MIME_TYPE = "image/x-sgc"
EXTENSION = ".sgc"

#: Reader limits (spec §7), enforced before anything is allocated. 1 MiB keeps the cost of any
#: input bounded (the CRC alone takes 4-12 ns a byte: ≤ 13 ms at the limit); real files are ~150 B.
MAX_FILE_BYTES = 1024 * 1024
MAX_DIMENSION = 65535
MAX_GRID = 255

#: Version 3's layout byte (spec §4.4): an aspect code in the low nibble (0: the height is
#: stored), a flag for stored grids and quality (else the defaults), a flag for a chunk list.
ASPECT_MASK = 0x0F
LAYOUT_GRIDS = 0x10
LAYOUT_CHUNKS = 0x20
LAYOUT_RESERVED = 0xC0
#: Aspect codes 1-15: width : height, the height being width·h/w rounded half up (spec §4.4).
ASPECT_RATIOS = ((1, 1), (4, 3), (3, 4), (3, 2), (2, 3), (16, 9), (9, 16), (2, 1), (1, 2),
                 (5, 4), (4, 5), (16, 10), (10, 16), (21, 9), (9, 21))
#: Cells of the default grids (spec §4.3); the default quality is colors.DEFAULT_QUALITY.
DEFAULT_LABEL_CELLS = 1024
DEFAULT_COLOR_CELLS = 256

CRITICAL_BIT = 0x80
#: Chunk type 0 has no length and no payload: it ends the chunk list (spec §5).
END_OF_CHUNKS = 0x00

#: The first read of a file: every real .sgc file fits.
_FIRST_READ = 1 << 14

# --- data model ---------------------------------------------------------------------------


def grid_size(long_side: int, width: int, height: int) -> tuple[int, int]:
    """Grid (columns, rows) whose longer side is ``long_side`` and whose shape follows the image.

    The shorter side is ``round(long_side * short / long)`` (halves round up), at least 1.
    A square image's grid is square. Integer-only, so every reader agrees (spec §4.3).
    """
    long_img, short_img = max(width, height), min(width, height)
    short = max(1, (2 * long_side * short_img + long_img) // (2 * long_img))
    return (long_side, short) if width >= height else (short, long_side)


def default_long_side(width: int, height: int, cells: int) -> int:
    """Grid long side whose aspect-following grid (:func:`grid_size`) has about ``cells`` cells.

    Integer-only (spec §4.3), since version 3 files rely on it: the candidates around
    sqrt(cells·long/short), clamped to 1 .. min(255, long side); the closest cell count wins,
    ties going to the smaller grid.
    """
    if width < 1 or height < 1 or cells < 1:
        raise ValueError(f"need a positive size and cell count, got {width}x{height}, {cells}")
    long_img, short_img = max(width, height), min(width, height)
    limit = min(MAX_GRID, long_img)
    guess = math.isqrt(cells * long_img // short_img)
    best = None
    for side in range(guess - 1, guess + 3):
        side = min(max(side, 1), limit)
        cols, rows = grid_size(side, width, height)
        key = (abs(cols * rows - cells), side)
        if best is None or key < best:
            best = key
    return best[1]


@functools.lru_cache(maxsize=1024)  # a pure function of the size, asked on every open of a v3 file
def default_grids(width: int, height: int) -> tuple[int, int, int]:
    """(label_grid, color_grid, color_quality) that a version 3 file leaves unstored."""
    return (default_long_side(width, height, DEFAULT_LABEL_CELLS),
            default_long_side(width, height, DEFAULT_COLOR_CELLS), colors.DEFAULT_QUALITY)


def aspect_height(code: int, width: int) -> int:
    """The height aspect code ``code`` (1-15) gives an image ``width`` wide (spec §4.4)."""
    w, h = ASPECT_RATIOS[code - 1]
    return (2 * width * h + w) // (2 * w)


@functools.lru_cache(maxsize=1024)  # asked on every open of a version 3 file that stores its height
def aspect_code(width: int, height: int) -> int:
    """The first aspect code that gives ``height`` from ``width``, or 0 (the height is stored)."""
    for code in range(1, len(ASPECT_RATIOS) + 1):
        if aspect_height(code, width) == height:
            return code
    return 0


class Chunk(NamedTuple):
    """One chunk: a type byte and its payload, kept verbatim (a tuple: cheap to make on open)."""

    type: int
    data: bytes

    @property
    def critical(self) -> bool:
        return bool(self.type & CRITICAL_BIT)

    @property
    def encoded_size(self) -> int:
        """Bytes this chunk takes in a file: type, length varint, payload."""
        return 1 + len(varint_bytes(len(self.data), 4)) + len(self.data)


@dataclass(frozen=True)
class SgcFile:
    """The content of one ``.sgc`` file.

    Maps are stored coded and decoded on first access of :attr:`label_map` /
    :attr:`color_map`: two bitstreams (``label_data``, ``color_data``) in versions 1-2, one
    stream of both (``map_data``) in version 3. Ancillary chunks, known or
    not, are kept verbatim in ``chunks`` so a rewrite preserves them. ``vocab`` is a
    registry name, or ``"custom"`` with the class list in a VOCAB chunk (:attr:`vocabulary`).
    """

    width: int
    height: int
    vocab: str
    profile: str
    label_grid: int
    color_grid: int
    color_quality: int
    label_data: bytes = b""
    color_data: bytes = b""
    chunks: tuple[Chunk, ...] = ()
    version: int = VERSION
    map_data: bytes = b""

    @classmethod
    def _checked(cls, state: dict) -> SgcFile:
        """An instance whose ``__dict__`` is ``state``: every field, already validated, and the
        cached properties already answered (the reader's fast path: a frozen dataclass's
        ``__init__`` sets each field through ``object.__setattr__``)."""
        sgc = object.__new__(cls)
        object.__setattr__(sgc, "__dict__", state)
        return sgc

    # -- derived header fields
    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @functools.cached_property
    def label_size(self) -> tuple[int, int]:
        return grid_size(self.label_grid, self.width, self.height)

    @functools.cached_property
    def color_size(self) -> tuple[int, int]:
        return grid_size(self.color_grid, self.width, self.height)

    def chunk(self, type_: int) -> Chunk | None:
        for c in self.chunks:  # at most a handful: a plain loop beats building a generator
            if c.type == type_:
                return c
        return None

    @functools.cached_property
    def seed(self) -> int | None:
        """The seed chosen for this file (SEED chunk), or ``None``."""
        chunk = self.chunk(ChunkType.SEED)
        return None if chunk is None else payloads.parse_seed(chunk.data)

    @functools.cached_property
    def params(self) -> DecodeParams:
        chunk = self.chunk(ChunkType.PARAMS)
        return DecodeParams() if chunk is None else payloads.parse_params(chunk.data)

    @functools.cached_property
    def metadata(self) -> EssentialMetadata | None:
        """The essential metadata record (META chunk), or ``None``."""
        chunk = self.chunk(ChunkType.META)
        return None if chunk is None else EssentialMetadata.from_bytes(chunk.data)

    @functools.cached_property
    def vocabulary(self) -> registry.Vocabulary:
        """The file's vocabulary: a registry entry, or the VOCAB chunk's class list (id 15)."""
        if self.vocab != registry.CUSTOM_VOCAB_NAME:
            return registry.vocabulary(self.vocab)
        chunk = self.chunk(ChunkType.VOCAB)
        if chunk is None:
            raise InvalidFieldError("vocabulary 15 (custom) needs a VOCAB chunk")
        return registry.CustomVocabulary.from_names(payloads.parse_vocab(chunk.data))

    @property
    def class_names(self) -> list[str]:
        """Names of the classes the label map uses, in class-id order."""
        names = self.vocabulary.class_names
        return [names[i] for i in np.unique(self.label_map)]

    # -- decoded maps
    @functools.cached_property
    def label_map(self) -> np.ndarray:
        """Class ids, shape (rows, columns), dtype uint16."""
        if self.version >= 3:
            return self._labels_in_stream[0]
        w, h = self.label_size
        return labels.decode(self.label_data, w, h, self.vocabulary.label_coder_key)

    @functools.cached_property
    def _labels_in_stream(self) -> tuple[np.ndarray, tuple]:
        """Version 3: the label map and where the colour map goes on in ``map_data``."""
        return single_stream.decode_labels(self.map_data, self.label_size, self.vocabulary.label_coder_key)

    @functools.cached_property
    def color_map(self) -> np.ndarray:
        """RGB colours, shape (rows, columns, 3), dtype uint8."""
        if self.version >= 3:
            ids, after = self._labels_in_stream
            return single_stream.decode_colors(self.map_data, self.color_size, self.color_quality, ids,
                                               after)
        w, h = self.color_size
        # Version 2 codes the colours given the label map (spec/sgc-coding.md §6).
        return colors.decode(self.color_data, w, h, self.color_quality, version=self.version,
                             labels=self.label_map if self.version >= 2 else None)

    # -- editing
    def with_chunk(self, type_: int, data: bytes | None) -> SgcFile:
        """A copy with chunk ``type_`` set to ``data`` (or removed when ``None``)."""
        kept = [c for c in self.chunks if c.type != type_]
        if data is not None:
            kept.append(Chunk(type_, bytes(data)))
        return dataclasses.replace(self, chunks=tuple(sorted(kept, key=lambda c: c.type)))

    def with_seed(self, seed: int | None) -> SgcFile:
        """A copy whose stored seed is ``seed`` (``None`` removes it); other chunks unchanged."""
        return self.with_chunk(ChunkType.SEED, None if seed is None else payloads.seed_payload(seed))

    def with_params(self, params: DecodeParams) -> SgcFile:
        return self.with_chunk(ChunkType.PARAMS, payloads.params_payload(params))

    def with_metadata(self, meta: EssentialMetadata | None) -> SgcFile:
        """A copy carrying ``meta`` as its META chunk (``None`` removes it)."""
        return self.with_chunk(ChunkType.META, None if meta is None else meta.to_bytes())

    def to_bytes(self) -> bytes:
        return build(self)

    def chunk_table(self) -> list[dict]:
        """Byte accounting per part of the file, for ``sgc info`` (computed, not built)."""
        chunks = [{"type": chunk_name(c.type), "bytes": c.encoded_size} for c in self.chunks]
        if self.version >= 3:
            layout = _layout(self)
            header = (5 + len(varint_bytes(self.width, 3)) + 1
                      + (0 if layout & ASPECT_MASK else len(varint_bytes(self.height, 3)))
                      + (3 if layout & LAYOUT_GRIDS else 0) + (1 if self.chunks else 0))
            maps = [{"type": "maps", "bytes": len(self.map_data)}]
        else:
            header = (4 + len(varint_bytes(self.width, 3)) + len(varint_bytes(self.height, 3)) + 4
                      + 1 + len(varint_bytes(len(self.label_data), 4)))
            maps = [{"type": "labels", "bytes": len(self.label_data)},
                    {"type": "colors", "bytes": len(self.color_data)}]
        return [{"type": "header", "bytes": header}, *chunks, *maps, {"type": "crc", "bytes": 2}]


_CHUNK_NAMES = {v: k for k, v in vars(ChunkType).items() if not k.startswith("_")}
#: Structured payloads checked on reading (spec §5 rule 3); EXIF, XMP and ICC are opaque.
_PAYLOAD_CHECKS = {
    ChunkType.SEED: payloads.parse_seed,
    ChunkType.PARAMS: payloads.parse_params,
    ChunkType.META: EssentialMetadata.from_bytes,
    ChunkType.VOCAB: payloads.parse_vocab,
}
#: Registry entries by file id (spec §4.2), looked up on every open.
_VOCAB_NAMES = {v.id: v.name for v in registry.VOCABULARIES.values()}
_PROFILES = {p.id: p for p in registry.PROFILES.values()}
#: The SgcFile attribute each check's result is, so reading it later costs nothing.
_NO_PARAMS = DecodeParams()
_PARSED_AS = {ChunkType.SEED: "seed", ChunkType.PARAMS: "params", ChunkType.META: "metadata",
              ChunkType.VOCAB: "vocabulary"}


#: tuple.__new__, which a NamedTuple's generated __new__ calls from Python: the reader's fast path.
_new_chunk = tuple.__new__


def chunk_name(type_: int) -> str:
    return _CHUNK_NAMES.get(type_, f"0x{type_:02x}")


# --- reading ------------------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as the spec defines it."""
    return binascii.crc_hqx(data, 0xFFFF)


def parse(data: bytes) -> SgcFile:
    """Parse and validate a whole file held in memory, in the order of spec §7.

    Raises :class:`SgcFormatError` subclasses: the first failure of the stated order.
    """
    if type(data) is not bytes:
        data = bytes(data)
    _check_prefix(data)
    end = len(data) - 2
    fields = _read_body(data, end, partial=False)
    # crc16(), written out: this runs on every open (a slice of ~150 bytes beats a memoryview)
    if binascii.crc_hqx(data[:end], 0xFFFF) != int.from_bytes(data[end:], "little"):
        raise ChecksumError("CRC-16 mismatch: the file is corrupt, truncated or has bytes appended")
    return _validated(data[3], *fields)


def _check_prefix(data: bytes) -> None:
    """Steps 1-4 of spec §7: size limit, signature, version, room for the CRC."""
    n = len(data)
    if n > MAX_FILE_BYTES:
        raise LimitExceededError(f"file is {n} bytes, the limit is {MAX_FILE_BYTES}")
    if not n or data[:3] != SIGNATURE[:n]:
        raise BadSignatureError("not an SGC file (bad signature)")
    if n < 4:
        raise TruncatedFileError("file ends inside the signature")
    if data[3] not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(
            f"SGC version {data[3]} is not supported (this reader: {SUPPORTED_VERSIONS})")
    if n < 6:
        raise TruncatedFileError("file ends before it has room for a CRC")


def _read_header(data: bytes, end: int) -> tuple[tuple, int, bool]:
    """The header fields (layout, width, height, models, label_grid, color_grid, quality), where
    the chunk list starts, and whether there is one. Version 3 leaves out what its layout byte
    says is implied (``None`` here); versions 1-2 have no layout byte (``None``)."""
    if data[3] < 3:
        width, pos = read_varint(data, 4, end, 3, "width")
        height, pos = read_varint(data, pos, end, 3, "height")
        if end - pos < 4:
            raise TruncatedFileError("file ends inside its header")
        return (None, width, height, data[pos], data[pos + 1], data[pos + 2], data[pos + 3]), pos + 4, True
    if end <= 4:
        raise TruncatedFileError("file ends before its layout byte")
    layout = data[4]
    width, pos = read_varint(data, 5, end, 3, "width")
    height = None
    if not layout & ASPECT_MASK:
        height, pos = read_varint(data, pos, end, 3, "height")
    grids = layout & LAYOUT_GRIDS
    if end - pos < (4 if grids else 1):
        raise TruncatedFileError("file ends inside its header")
    if grids:
        return ((layout, width, height, data[pos], data[pos + 1], data[pos + 2], data[pos + 3]), pos + 4,
                bool(layout & LAYOUT_CHUNKS))
    return (layout, width, height, data[pos], None, None, None), pos + 1, bool(layout & LAYOUT_CHUNKS)


def _read_body(data: bytes, end: int, partial: bool) -> tuple:
    """Step 5 of spec §7, one pass over ``data[4:end]``: header, chunks, the maps' bytes.

    The first problem in byte order wins. ``partial`` (for :func:`salvage`) keeps whatever
    was read before a problem after the header instead of raising.
    """
    header, pos, has_chunks = _read_header(data, end)
    found: list[Chunk] = []
    maps = (b"", b"", b"")  # label_data, color_data (versions 1-2); map_data (version 3)
    try:
        if has_chunks:
            pos = _read_chunks(data, pos, end, found)
        if data[3] >= 3:
            maps = (b"", b"", data[pos:end])
        else:
            n, pos = read_varint(data, pos, end, 4, "label length")
            if n > end - pos:
                raise TruncatedFileError(f"label bitstream declares {n} bytes past the CRC")
            maps = (data[pos:pos + n], data[pos + n:end], b"")
    except SgcFormatError:
        if not partial:
            raise
    return header, tuple(found), maps


def _read_chunks(data: bytes, pos: int, end: int, found: list[Chunk]) -> int:
    """Chunks into ``found`` up to the end-of-chunks marker; returns the position after it."""
    previous = END_OF_CHUNKS
    while True:
        if pos >= end:
            raise TruncatedFileError("file ends before the end-of-chunks marker")
        type_ = data[pos]
        if type_ == END_OF_CHUNKS:
            if not found and data[3] >= 3:
                raise InvalidFieldError("the layout byte announces chunks, but the list is empty")
            return pos + 1
        if type_ <= previous:
            raise InvalidFieldError("chunks must appear in strictly ascending type order")
        previous = type_
        n, pos = read_varint(data, pos + 1, end, 4, "chunk length")
        if n > end - pos:
            raise TruncatedFileError(f"chunk 0x{type_:02x} declares {n} bytes past the CRC")
        found.append(_new_chunk(Chunk, (type_, data[pos:pos + n])))  # Chunk(...) without its __new__
        pos += n


def _validated(version: int, header: tuple, found: tuple[Chunk, ...], maps: tuple) -> SgcFile:
    """Step 7 of spec §7 (after the CRC, step 6): field semantics in field order, then chunks."""
    layout, width, height, models, label_grid, color_grid, quality = header
    if layout is not None and layout & LAYOUT_RESERVED:
        raise InvalidFieldError(f"layout byte 0x{layout:02x} sets reserved bits")
    if not 1 <= width <= MAX_DIMENSION:
        raise InvalidFieldError(f"width {width} outside 1..{MAX_DIMENSION}")
    if height is None:
        height = aspect_height(layout & ASPECT_MASK, width)
        if not 1 <= height <= MAX_DIMENSION:
            raise InvalidFieldError(f"aspect code {layout & ASPECT_MASK} gives height {height}, "
                                    f"outside 1..{MAX_DIMENSION}")
    elif not 1 <= height <= MAX_DIMENSION:
        raise InvalidFieldError(f"height {height} outside 1..{MAX_DIMENSION}")
    elif layout is not None and aspect_code(width, height):
        raise InvalidFieldError(f"height {height} must be given by aspect code {aspect_code(width, height)}, "
                                "not stored")
    vocab_id = models >> 4
    custom = vocab_id == registry.CUSTOM_VOCAB_ID
    vocab = registry.CUSTOM_VOCAB_NAME if custom else _VOCAB_NAMES.get(vocab_id)
    if vocab is None:
        raise InvalidFieldError(f"unknown vocabulary id {vocab_id}")
    profile = _PROFILES.get(models & 0x0F)
    if profile is None:
        raise InvalidFieldError(f"unknown decoder profile id {models & 0x0F}")
    if profile.vocab is not None and profile.vocab != vocab:
        raise InvalidFieldError(f"profile {profile.name} cannot decode vocabulary {vocab}")
    if label_grid is None:
        label_grid, color_grid, quality, label_size, color_size = _default_layout(width, height)
    else:
        grid_limit = MAX_GRID if width > MAX_GRID or height > MAX_GRID else max(width, height)
        if not 1 <= label_grid <= grid_limit:
            raise InvalidFieldError(f"label_grid {label_grid} outside 1..min(255, image long side)")
        if not 1 <= color_grid <= grid_limit:
            raise InvalidFieldError(f"color_grid {color_grid} outside 1..min(255, image long side)")
        if quality >= colors.QUALITY_LEVELS:
            raise InvalidFieldError(f"color_quality {quality} outside 0..{colors.QUALITY_LEVELS - 1}")
        if layout is not None and (label_grid, color_grid, quality) == default_grids(width, height):
            raise InvalidFieldError("the grids and quality are the defaults: they must not be stored")
        label_size, color_size = _grid_sizes(label_grid, color_grid, width, height)
    label_data, color_data, map_data = maps
    # Every field, and the cached properties answered now (absent chunks, grid sizes), so that
    # nothing computes them later: on Python 3.11 each first cached_property access takes a lock.
    state = {"width": width, "height": height, "vocab": vocab, "profile": profile.name,
             "label_grid": label_grid, "color_grid": color_grid, "color_quality": quality,
             "label_data": label_data, "color_data": color_data, "chunks": found, "version": version,
             "map_data": map_data, "seed": None, "params": _NO_PARAMS, "metadata": None,
             "label_size": label_size, "color_size": color_size}
    for c in found:
        check = _PAYLOAD_CHECKS.get(c.type)
        if check is not None:
            state[_PARSED_AS[c.type]] = check(c.data)
        elif c.type & CRITICAL_BIT:
            raise UnknownCriticalChunkError(f"unknown critical chunk type 0x{c.type:02x}")
    has_vocab = "vocabulary" in state
    if has_vocab != custom:
        raise InvalidFieldError("a VOCAB chunk belongs with vocabulary 15 (custom), and only there")
    if custom:
        state["vocabulary"] = registry.CustomVocabulary.from_names(state["vocabulary"])
    return SgcFile._checked(state)


@functools.lru_cache(maxsize=1024)  # a pure function of four small integers, asked on every open
def _grid_sizes(label_grid: int, color_grid: int, width: int, height: int) -> tuple[tuple[int, int], ...]:
    return grid_size(label_grid, width, height), grid_size(color_grid, width, height)


@functools.lru_cache(maxsize=1024)
def _default_layout(width: int, height: int) -> tuple:
    """The default grids and quality of a size and the grid sizes they give, in one look-up."""
    label_grid, color_grid, quality = default_grids(width, height)
    return (label_grid, color_grid, quality, *_grid_sizes(label_grid, color_grid, width, height))


def salvage(data: bytes) -> SgcFile:
    """Best-effort reading of a damaged file whose header is intact (e.g. a cut download).

    Chunks and maps are kept as far as they can be read; a cut label bitstream and whatever
    follows it are left empty. The CRC is not checked: this is for viewers that show what
    survives, never for validation. Raises :class:`SgcFormatError` when the header is bad.
    """
    data = bytes(data[:MAX_FILE_BYTES])
    _check_prefix(data)
    header, found, (label_data, color_data, map_data) = _read_body(data, len(data), partial=True)
    maps = (label_data, color_data[:-2], map_data[:-2])
    try:
        return _validated(data[3], header, found, maps)
    except InvalidFieldError:  # a damaged chunk: keep the header and maps
        return _validated(data[3], header, (), maps)


# --- building -----------------------------------------------------------------------------


def _layout(sgc: SgcFile) -> int:
    """Version 3's layout byte for ``sgc``: store only what is not implied (spec §4.4)."""
    grids = (sgc.label_grid, sgc.color_grid, sgc.color_quality) != default_grids(sgc.width, sgc.height)
    return (aspect_code(sgc.width, sgc.height) | (LAYOUT_GRIDS if grids else 0)
            | (LAYOUT_CHUNKS if sgc.chunks else 0))


def build(sgc: SgcFile) -> bytes:
    """Serialise ``sgc`` with the grammar; the exact inverse of :func:`parse`."""
    from .grammar import Body, BodyV3

    types = [c.type for c in sgc.chunks]
    if types != sorted(set(types)) or END_OF_CHUNKS in types:
        raise ValueError("chunks must have distinct types 1..255 in ascending order")
    if sgc.version not in SUPPORTED_VERSIONS:
        raise ValueError(f"version {sgc.version} is not one of {SUPPORTED_VERSIONS}")
    if (sgc.label_data or sgc.color_data) if sgc.version >= 3 else sgc.map_data:
        raise ValueError("version 3 keeps both maps in map_data, versions 1-2 in label_data and color_data")
    models = sgc.vocabulary.id << 4 | registry.profile(sgc.profile).id
    chunks = [*(dict(type=c.type, data=c.data) for c in sgc.chunks), dict(type=END_OF_CHUNKS, data=None)]
    if sgc.version >= 3:
        layout = _layout(sgc)
        body = BodyV3.build(dict(
            layout=layout, width=sgc.width, height=sgc.height, models=models,
            grids=dict(label_grid=sgc.label_grid, color_grid=sgc.color_grid,
                       color_quality=sgc.color_quality),
            chunks=chunks, map_data=sgc.map_data,
        ))
    else:
        body = Body.build(dict(
            header=dict(width=sgc.width, height=sgc.height, models=models, label_grid=sgc.label_grid,
                        color_grid=sgc.color_grid, color_quality=sgc.color_quality),
            chunks=chunks, label_data=sgc.label_data, color_data=sgc.color_data,
        ))
    head = SIGNATURE + bytes([sgc.version]) + body
    return head + crc16(head).to_bytes(2, "little")


# --- files --------------------------------------------------------------------------------


def read_limited(f: BinaryIO) -> bytes:
    """All of ``f``, but never more than one byte past the size limit (so :func:`parse` can
    say LimitExceededError) and without allocating the limit up front: files are ~150 bytes,
    so one small read is the whole file (cheaper than asking the OS for its size)."""
    first = f.read(_FIRST_READ)
    if len(first) < _FIRST_READ:
        return first
    parts, total = [first], len(first)
    while total <= MAX_FILE_BYTES:
        block = f.read(MAX_FILE_BYTES + 1 - total)
        if not block:
            break
        parts.append(block)
        total += len(block)
    return b"".join(parts)


def read(source: str | os.PathLike | bytes | BinaryIO) -> SgcFile:
    """Read an ``.sgc`` file from a path, a binary file object or bytes (header-level, lazy maps)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse(bytes(source))
    if hasattr(source, "read"):
        return parse(read_limited(source))
    with open(source, "rb") as f:
        return parse(read_limited(f))


def write(path: str | os.PathLike, sgc: SgcFile | bytes) -> None:
    """Write atomically: a temporary file in the same folder, fsync, then rename over ``path``."""
    data = sgc if isinstance(sgc, bytes) else build(sgc)
    atomic_write_bytes(path, data)
