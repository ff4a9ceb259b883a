"""The ``.sgc`` container: construct grammar, parsing, building and validation.

The grammar below mirrors the tables of ``spec/sgc.md`` §4 one to one. Parsing
checks, in the order the spec prescribes: size limit, signature, version,
structure (truncation), CRC-16, then field semantics. The coded maps are kept as
bytes and decoded only when :attr:`SgcFile.label_map` or
:attr:`SgcFile.color_map` is first read, so opening a file costs microseconds.
"""

from __future__ import annotations

import binascii
import dataclasses
import io
import os
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

import construct as cs
import numpy as np

from . import registry
from .coding import colors, labels
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

SIGNATURE = b"SGC"
VERSION = 1
MIME_TYPE = "image/x-sgc"
EXTENSION = ".sgc"

#: Reader limits (spec §7), enforced before anything is allocated.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DIMENSION = 65535
MAX_GRID = 255
#: The smallest possible file: signature, version, a minimal header, two empty maps, CRC.
MIN_FILE_BYTES = 3 + 1 + 1 + 1 + 1 + 3 + 1 + 1 + 2

CRITICAL_BIT = 0x80


class ChunkType:
    """Chunk types defined by version 1 (spec §5). Bit 7 set = critical."""

    SEED = 0x01
    PARAMS = 0x02
    EXIF = 0x10
    XMP = 0x11
    ICC = 0x12


# --- grammar ------------------------------------------------------------------------------


class CanonicalVarInt(cs.Construct):
    """ULEB128 unsigned integer, at most ``max_bytes`` long, minimal encoding required.

    Minimality makes the encoding of a value unique, which keeps files canonical
    (``build(parse(b)) == b``).
    """

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes = max_bytes

    def _parse(self, stream, context, path):
        value = shift = 0
        for i in range(self.max_bytes):
            byte = cs.stream_read(stream, 1, path)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise InvalidFieldError(f"non-minimal varint at {path}")
                return value
        raise InvalidFieldError(f"varint longer than {self.max_bytes} bytes at {path}")

    def _build(self, obj, stream, context, path):
        if not isinstance(obj, int) or obj < 0 or obj >= 1 << (7 * self.max_bytes):
            raise cs.IntegerError(f"{obj!r} does not fit a {self.max_bytes}-byte varint", path=path)
        out = bytearray()
        while True:
            byte, obj = obj & 0x7F, obj >> 7
            out.append(byte | (0x80 if obj else 0))
            if not obj:
                break
        cs.stream_write(stream, bytes(out), len(out), path)
        return obj

    def _sizeof(self, context, path):
        raise cs.SizeofError("varint has no fixed size", path=path)


Dimension = CanonicalVarInt(3)
Length = CanonicalVarInt(4)

Header = cs.Struct(
    "width" / Dimension,
    "height" / Dimension,
    "models" / cs.Int8ul,  # vocabulary id << 4 | profile id
    "label_grid" / cs.Int8ul,
    "color_grid" / cs.Int8ul,
    "color_quality" / cs.Int8ul,
)

#: Chunk type 0 has no length and no payload: it ends the chunk list (spec §5).
END_OF_CHUNKS = 0x00

ChunkRecord = cs.Struct(
    "type" / cs.Int8ul,
    "data" / cs.If(cs.this.type != END_OF_CHUNKS, cs.Prefixed(Length, cs.GreedyBytes)),
)

#: Everything between signature+version and the CRC: fields 3-7 of spec §3. The colour
#: bitstream is last, so its length is implied by the CRC's position.
Body = cs.Struct(
    "header" / Header,
    "chunks" / cs.RepeatUntil(lambda chunk, _lst, _ctx: chunk["type"] == END_OF_CHUNKS, ChunkRecord),
    "label_data" / cs.Prefixed(Length, cs.GreedyBytes),
    "color_data" / cs.GreedyBytes,
)

SeedPayload = CanonicalVarInt(5)

#: Sampling overrides; 0 in a field means "the profile's default".
ParamsPayload = cs.Struct(
    "steps" / CanonicalVarInt(2),
    "strength_percent" / cs.Int8ul,
    "guidance_tenths" / cs.Int8ul,
)


# --- data model ---------------------------------------------------------------------------


def grid_size(long_side: int, width: int, height: int) -> tuple[int, int]:
    """Grid (columns, rows) whose longer side is ``long_side`` and whose shape follows the image.

    The shorter side is ``round(long_side * short / long)`` (halves round up), at least 1.
    A square image's grid is square. Integer-only, so every reader agrees (spec §4.3).
    """
    long_img, short_img = max(width, height), min(width, height)
    short = max(1, (2 * long_side * short_img + long_img) // (2 * long_img))
    return (long_side, short) if width >= height else (short, long_side)


@dataclass(frozen=True)
class Chunk:
    """One chunk: a type byte and its payload, kept verbatim."""

    type: int
    data: bytes

    @property
    def critical(self) -> bool:
        return bool(self.type & CRITICAL_BIT)

    @property
    def encoded_size(self) -> int:
        """Bytes this chunk takes in a file: type, length varint, payload."""
        return 1 + len(Length.build(len(self.data))) + len(self.data)


@dataclass(frozen=True)
class DecodeParams:
    """Sampling overrides stored in a PARAMS chunk; ``None`` means the profile default."""

    steps: int | None = None
    strength: float | None = None
    guidance_scale: float | None = None


@dataclass(frozen=True)
class SgcFile:
    """The content of one ``.sgc`` file.

    Maps are stored coded (``label_data``, ``color_data``) and decoded on first
    access of :attr:`label_map` / :attr:`color_map`. Ancillary chunks, known or
    not, are kept verbatim in ``chunks`` so a rewrite preserves them.
    """

    width: int
    height: int
    vocab: str
    profile: str
    label_grid: int
    color_grid: int
    color_quality: int
    label_data: bytes
    color_data: bytes
    chunks: tuple[Chunk, ...] = ()

    # -- derived header fields
    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def label_size(self) -> tuple[int, int]:
        return grid_size(self.label_grid, self.width, self.height)

    @property
    def color_size(self) -> tuple[int, int]:
        return grid_size(self.color_grid, self.width, self.height)

    def chunk(self, type_: int) -> Chunk | None:
        return next((c for c in self.chunks if c.type == type_), None)

    @property
    def seed(self) -> int | None:
        """The seed chosen for this file (SEED chunk), or ``None``."""
        chunk = self.chunk(ChunkType.SEED)
        if chunk is None:
            return None
        seed = _parse_exact(SeedPayload, chunk.data, "SEED")
        if seed >= 2**32:
            raise InvalidFieldError(f"seed {seed} outside 0..2**32-1")
        return seed

    @property
    def params(self) -> DecodeParams:
        chunk = self.chunk(ChunkType.PARAMS)
        if chunk is None:
            return DecodeParams()
        p = _parse_exact(ParamsPayload, chunk.data, "PARAMS")
        return DecodeParams(
            steps=p.steps or None,
            strength=p.strength_percent / 100 if p.strength_percent else None,
            guidance_scale=p.guidance_tenths / 10 if p.guidance_tenths else None,
        )

    @property
    def class_names(self) -> list[str]:
        names = registry.vocabulary(self.vocab).class_names
        return [names[i] for i in np.unique(self.label_map)]

    # -- decoded maps
    @cached_property
    def label_map(self) -> np.ndarray:
        """Class ids, shape (rows, columns), dtype uint16."""
        w, h = self.label_size
        return labels.decode(self.label_data, w, h, self.vocab)

    @cached_property
    def color_map(self) -> np.ndarray:
        """RGB colours, shape (rows, columns, 3), dtype uint8."""
        w, h = self.color_size
        return colors.decode(self.color_data, w, h, self.color_quality)

    # -- editing
    def with_chunk(self, type_: int, data: bytes | None) -> SgcFile:
        """A copy with chunk ``type_`` set to ``data`` (or removed when ``None``)."""
        kept = [c for c in self.chunks if c.type != type_]
        if data is not None:
            kept.append(Chunk(type_, bytes(data)))
        return dataclasses.replace(self, chunks=tuple(sorted(kept, key=lambda c: c.type)))

    def with_seed(self, seed: int | None) -> SgcFile:
        """A copy whose stored seed is ``seed`` (``None`` removes it); other chunks unchanged."""
        if seed is not None and not 0 <= seed < 2**32:
            raise ValueError(f"seed must be in 0..2**32-1, got {seed}")
        return self.with_chunk(ChunkType.SEED, None if seed is None else SeedPayload.build(seed))

    def with_params(self, params: DecodeParams) -> SgcFile:
        if params == DecodeParams():
            return self.with_chunk(ChunkType.PARAMS, None)
        data = ParamsPayload.build(
            dict(
                steps=params.steps or 0,
                strength_percent=round((params.strength or 0) * 100),
                guidance_tenths=round((params.guidance_scale or 0) * 10),
            )
        )
        return self.with_chunk(ChunkType.PARAMS, data)

    def to_bytes(self) -> bytes:
        return build(self)

    def chunk_table(self) -> list[dict]:
        """Byte accounting per part of the file, for ``sgc info``."""
        total = len(build(self))
        maps = len(self.label_data) + len(self.color_data)
        optional = [{"type": chunk_name(c.type), "bytes": c.encoded_size} for c in self.chunks]
        header = total - maps - 2 - sum(row["bytes"] for row in optional)
        return [
            {"type": "header", "bytes": header},
            *optional,
            {"type": "labels", "bytes": len(self.label_data)},
            {"type": "colors", "bytes": len(self.color_data)},
            {"type": "crc", "bytes": 2},
        ]


#: Payload grammars that must consume their chunk exactly.
_EXACT = {c: cs.Sequence(c, cs.Terminated) for c in (SeedPayload, ParamsPayload)}

_CHUNK_NAMES = {v: k for k, v in vars(ChunkType).items() if not k.startswith("_")}


def chunk_name(type_: int) -> str:
    return _CHUNK_NAMES.get(type_, f"0x{type_:02x}")


def _parse_exact(construct: cs.Construct, data: bytes, what: str):
    try:
        return _EXACT[construct].parse(data)[0]
    except SgcFormatError:
        raise
    except cs.ConstructError as exc:
        raise InvalidFieldError(f"malformed {what} chunk") from exc


# --- parse / build ------------------------------------------------------------------------


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as the spec defines it."""
    return binascii.crc_hqx(data, 0xFFFF)


def parse(data: bytes) -> SgcFile:
    """Parse and validate a whole file held in memory. Raises :class:`SgcFormatError` subclasses."""
    data = bytes(data)
    if len(data) > MAX_FILE_BYTES:
        raise LimitExceededError(f"file is {len(data)} bytes, the limit is {MAX_FILE_BYTES}")
    if not data or not data.startswith(SIGNATURE[: len(data)]):
        raise BadSignatureError("not an SGC file (bad signature)")
    if len(data) <= len(SIGNATURE):
        raise TruncatedFileError("file ends inside the signature")
    if data[3] != VERSION:
        raise UnsupportedVersionError(f"SGC version {data[3]} is not supported (this reader: 1)")
    body_end = max(4, len(data) - 2)
    try:
        body = Body.parse(data[4:body_end])
    except cs.StreamError as exc:
        raise TruncatedFileError("file ends inside a field or payload it declares") from exc
    if len(data) < 6 or crc16(data[:body_end]) != int.from_bytes(data[body_end:], "little"):
        raise ChecksumError("CRC-16 mismatch: the file is corrupt, truncated or has bytes appended")
    return _validated(body)


def salvage(data: bytes) -> SgcFile:
    """Best-effort reading of a damaged file whose header is intact (e.g. a cut download).

    Chunks and maps are kept as far as they can be read; a cut label bitstream and whatever
    follows it are left empty. The CRC is not checked: this is for viewers that show what
    survives, never for validation. Raises :class:`SgcFormatError` when the header is bad.
    """
    data = bytes(data[:MAX_FILE_BYTES])
    if not data.startswith(SIGNATURE) or len(data) < 5:
        raise BadSignatureError("not an SGC file (bad signature)")
    if data[3] != VERSION:
        raise UnsupportedVersionError(f"SGC version {data[3]} is not supported (this reader: 1)")
    stream = io.BytesIO(data[4:])
    try:
        header = Header.parse_stream(stream)
    except cs.StreamError as exc:
        raise TruncatedFileError("file ends inside its header") from exc
    chunks, label_data, color_data = [], b"", b""
    try:
        while (record := ChunkRecord.parse_stream(stream)).type != END_OF_CHUNKS:
            chunks.append(record)
        label_data = cs.Prefixed(Length, cs.GreedyBytes).parse_stream(stream)
        color_data = stream.read()[:-2]
    except (cs.StreamError, InvalidFieldError):
        pass
    end = [cs.Container(type=END_OF_CHUNKS)]
    try:
        return _validated(cs.Container(header=header, chunks=chunks + end,
                                       label_data=label_data, color_data=color_data))
    except InvalidFieldError:  # a damaged chunk: keep the header and maps
        return _validated(cs.Container(header=header, chunks=end,
                                       label_data=label_data, color_data=color_data))


def _validated(body) -> SgcFile:
    h = body.header
    for name in ("width", "height"):
        if not 1 <= h[name] <= MAX_DIMENSION:
            raise InvalidFieldError(f"{name} {h[name]} outside 1..{MAX_DIMENSION}")
    vocab = registry.vocabulary(h.models >> 4)
    profile = registry.profile(h.models & 0x0F)
    if profile.vocab is not None and profile.vocab != vocab.name:
        raise InvalidFieldError(f"profile {profile.name} cannot decode vocabulary {vocab.name}")
    for name in ("label_grid", "color_grid"):
        if not 1 <= h[name] <= min(MAX_GRID, max(h.width, h.height)):
            raise InvalidFieldError(f"{name} {h[name]} outside 1..min(255, image long side)")
    if h.color_quality >= colors.QUALITY_LEVELS:
        raise InvalidFieldError(f"color_quality {h.color_quality} >= {colors.QUALITY_LEVELS}")
    previous = -1
    chunks = []
    for c in body.chunks[:-1]:
        if c.type <= previous:
            raise InvalidFieldError("chunks must appear in strictly ascending type order")
        previous = c.type
        if c.type & CRITICAL_BIT and c.type not in _CHUNK_NAMES:
            raise UnknownCriticalChunkError(f"unknown critical chunk type 0x{c.type:02x}")
        chunks.append(Chunk(c.type, c.data))
    sgc = SgcFile(
        width=h.width, height=h.height, vocab=vocab.name, profile=profile.name,
        label_grid=h.label_grid, color_grid=h.color_grid, color_quality=h.color_quality,
        label_data=body.label_data, color_data=body.color_data, chunks=tuple(chunks),
    )
    sgc.seed, sgc.params  # noqa: B018 - validate known chunk payloads now, not at decode time
    return sgc


def build(sgc: SgcFile) -> bytes:
    """Serialise ``sgc``; the exact inverse of :func:`parse`."""
    types = [c.type for c in sgc.chunks]
    if types != sorted(set(types)) or END_OF_CHUNKS in types:
        raise ValueError("chunks must have distinct types 1..255 in ascending order")
    body = Body.build(dict(
        header=dict(
            width=sgc.width, height=sgc.height,
            models=registry.vocabulary(sgc.vocab).id << 4 | registry.profile(sgc.profile).id,
            label_grid=sgc.label_grid, color_grid=sgc.color_grid,
            color_quality=sgc.color_quality,
        ),
        chunks=[*(dict(type=c.type, data=c.data) for c in sgc.chunks),
                dict(type=END_OF_CHUNKS, data=None)],
        label_data=sgc.label_data, color_data=sgc.color_data,
    ))
    head = SIGNATURE + bytes([VERSION]) + body
    return head + crc16(head).to_bytes(2, "little")


# --- files --------------------------------------------------------------------------------


def read(source: str | os.PathLike | bytes | BinaryIO) -> SgcFile:
    """Read an ``.sgc`` file from a path, a binary file object or bytes (header-level, lazy maps)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse(bytes(source))
    if hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        with open(source, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    return parse(data)


def write(path: str | os.PathLike, sgc: SgcFile | bytes) -> None:
    """Write atomically: a temporary file in the same folder, fsync, then rename over ``path``."""
    data = sgc if isinstance(sgc, bytes) else build(sgc)
    atomic_write_bytes(path, data)
