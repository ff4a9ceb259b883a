"""Payloads of the chunks the format defines (spec/sgc.md §5): SEED, PARAMS, META, VOCAB.

Each structured payload has a reader that raises :class:`InvalidFieldError` unless the bytes
match the definition exactly (no trailing bytes, no non-minimal varint, every field in range),
and a writer producing the one canonical encoding. Readers work on ``bytes`` with explicit
positions instead of a parsing library: they run on every open, where microseconds count.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

from .errors import InvalidFieldError, TruncatedFileError


class ChunkType:
    """Chunk types defined by spec 1.1 (§5). Bit 7 set = critical."""

    SEED = 0x01
    PARAMS = 0x02
    EXIF = 0x10
    XMP = 0x11
    ICC = 0x12
    META = 0x13
    VOCAB = 0x81


# --- varints (spec §2) --------------------------------------------------------------------


def read_varint(data: bytes, pos: int, end: int, max_bytes: int, what: str,
                truncated: type[Exception] = TruncatedFileError) -> tuple[int, int]:
    """Decode the ULEB128 varint at ``data[pos:end]``: (value, position after it).

    Read byte by byte, so whichever problem comes first in the bytes wins: the end of the data
    (``truncated``), more than ``max_bytes`` bytes, or a non-minimal final 0x00 byte (both
    :class:`InvalidFieldError`) — spec §7 step 5.
    """
    if pos < end:  # fast paths for the one- and two-byte values of real files
        low = data[pos]
        if low < 0x80:
            return low, pos + 1
        if pos + 1 < end and 0 < data[pos + 1] < 0x80 and max_bytes > 1:
            return low & 0x7F | data[pos + 1] << 7, pos + 2
    value = shift = 0
    for i in range(max_bytes):
        if pos >= end:
            raise truncated(f"the data ends inside the {what} varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and i:
                raise InvalidFieldError(f"non-minimal varint ({what})")
            return value, pos
        shift += 7
    raise InvalidFieldError(f"{what} varint longer than {max_bytes} bytes")


def varint_bytes(value: int, max_bytes: int) -> bytes:
    """The minimal ULEB128 encoding of ``value`` (ValueError if it needs more than ``max_bytes``)."""
    if not isinstance(value, int) or value < 0 or value >= 1 << (7 * max_bytes):
        raise ValueError(f"{value!r} does not fit a {max_bytes}-byte varint")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _payload_varint(data: bytes, pos: int, max_bytes: int, what: str) -> tuple[int, int]:
    return read_varint(data, pos, len(data), max_bytes, what, truncated=InvalidFieldError)


def _consumed(data: bytes, pos: int, what: str) -> None:
    if pos != len(data):
        raise InvalidFieldError(f"{what} payload has {len(data) - pos} byte(s) beyond its definition")


# --- SEED ---------------------------------------------------------------------------------

MAX_SEED = 2**32 - 1


def parse_seed(data: bytes) -> int:
    seed, pos = _payload_varint(data, 0, 5, "SEED")
    _consumed(data, pos, "SEED")
    if seed > MAX_SEED:
        raise InvalidFieldError(f"seed {seed} outside 0..2**32-1")
    return seed


def seed_payload(seed: int) -> bytes:
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..2**32-1, got {seed}")
    return varint_bytes(seed, 5)


# --- PARAMS -------------------------------------------------------------------------------

MAX_STEPS = 1000


@dataclass(frozen=True)
class DecodeParams:
    """Sampling overrides stored in a PARAMS chunk; ``None`` means the profile default."""

    steps: int | None = None
    strength: float | None = None
    guidance_scale: float | None = None


def parse_params(data: bytes) -> DecodeParams:
    """PARAMS: steps varint(2) 0..1000, strength_percent u8 0..100, guidance_tenths u8; not all 0."""
    steps, pos = _payload_varint(data, 0, 2, "PARAMS steps")
    if len(data) - pos < 2:
        raise InvalidFieldError("PARAMS payload ends before its strength and guidance fields")
    strength, guidance = data[pos], data[pos + 1]
    _consumed(data, pos + 2, "PARAMS")
    if steps > MAX_STEPS:
        raise InvalidFieldError(f"PARAMS steps {steps} outside 0..{MAX_STEPS}")
    if strength > 100:
        raise InvalidFieldError(f"PARAMS strength {strength} % outside 0..100")
    if not (steps or strength or guidance):
        raise InvalidFieldError("PARAMS with every field 0 (the defaults): omit the chunk instead")
    return DecodeParams(steps or None, strength / 100 if strength else None,
                        guidance / 10 if guidance else None)


def params_payload(params: DecodeParams) -> bytes | None:
    """The PARAMS payload of ``params``, ``None`` when every field is the default."""
    steps = params.steps or 0
    strength = round((params.strength or 0) * 100)
    guidance = round((params.guidance_scale or 0) * 10)
    if not 0 <= steps <= MAX_STEPS or not 0 <= strength <= 100 or not 0 <= guidance <= 255:
        raise ValueError(f"decode parameters out of range: {params}")
    if not (steps or strength or guidance):
        return None
    return varint_bytes(steps, 2) + bytes([strength, guidance])


# --- META (essential metadata) ------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1)
_QUARTER_HOUR = dt.timedelta(minutes=15)
_MAX_OFFSET_QUARTERS = 56
_GPS_UNIT = 1e-7
_FIELDS = ("captured", "utc_offset", "gps", "altitude", "make", "model", "original_name")


@dataclass(frozen=True)
class EssentialMetadata:
    """What an archive keeps of a photo's EXIF: when, where, which camera, which file (META).

    ``captured`` is the local capture time as EXIF ``DateTimeOriginal`` records it (naive,
    whole seconds); ``utc_offset`` the zone's offset, when known; ``gps`` (latitude,
    longitude) in degrees, ``altitude`` in metres. A few tens of bytes instead of 1-60 KB.
    """

    captured: dt.datetime | None = None
    utc_offset: dt.timedelta | None = None
    gps: tuple[float, float] | None = None
    altitude: float | None = None
    make: str | None = None
    model: str | None = None
    original_name: str | None = None

    def to_bytes(self) -> bytes:
        """The canonical META payload; ValueError for values the record cannot hold."""
        flags, out = 0, bytearray()
        if self.captured is not None:
            c = self.captured
            if c.tzinfo is not None or c.microsecond or c < _EPOCH:
                raise ValueError("captured must be a naive local time in whole seconds, from 1970")
            out += varint_bytes((c - _EPOCH) // dt.timedelta(seconds=1), 5)
        if self.utc_offset is not None:
            quarters, rest = divmod(self.utc_offset, _QUARTER_HOUR)
            if rest or abs(quarters) > _MAX_OFFSET_QUARTERS or self.captured is None:
                raise ValueError("utc_offset must be whole quarter hours within ±14 h, with captured")
            out += quarters.to_bytes(1, "little", signed=True)
        if self.gps is not None:
            lat, lon = (round(v / _GPS_UNIT) for v in self.gps)
            if abs(lat) > 900_000_000 or abs(lon) > 1_800_000_000:
                raise ValueError(f"gps {self.gps} outside ±90° latitude, ±180° longitude")
            out += lat.to_bytes(4, "little", signed=True) + lon.to_bytes(4, "little", signed=True)
        if self.altitude is not None:
            dm = round(self.altitude * 10)
            out += varint_bytes(2 * dm if dm >= 0 else -2 * dm - 1, 4)
        for text in (self.make, self.model, self.original_name):
            if text is not None:
                raw = text.encode("utf-8")
                if not 1 <= len(raw) <= 255 or b"\x00" in raw:
                    raise ValueError(f"{text!r}: 1..255 bytes of UTF-8 without NUL")
                out += varint_bytes(len(raw), 2) + raw
        for bit, name in enumerate(_FIELDS):
            flags |= (getattr(self, name) is not None) << bit
        if not flags:
            raise ValueError("an empty metadata record: store no META chunk instead")
        return bytes([flags]) + bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> EssentialMetadata:
        """Parse a META payload; :class:`InvalidFieldError` unless it matches spec §5.2 exactly."""
        data = bytes(data)
        if not data:
            raise InvalidFieldError("META payload is empty")
        flags, pos, values = data[0], 1, {}
        if flags & 0x80 or not flags:
            raise InvalidFieldError(f"META flags 0x{flags:02x}: bit 7 is reserved, some field must be set")
        if flags & 0b10 and not flags & 0b01:
            raise InvalidFieldError("META has a UTC offset without a capture time")
        if flags & 0b1:
            seconds, pos = _payload_varint(data, pos, 5, "META date-time")
            values["captured"] = _EPOCH + dt.timedelta(seconds=seconds)
        if flags & 0b10:
            quarters = int.from_bytes(_take(data, pos, 1), "little", signed=True)
            pos += 1
            if abs(quarters) > _MAX_OFFSET_QUARTERS:
                raise InvalidFieldError(f"META UTC offset {quarters} quarter hours outside ±56")
            values["utc_offset"] = quarters * _QUARTER_HOUR
        if flags & 0b100:
            raw = _take(data, pos, 8)
            pos += 8
            lat = int.from_bytes(raw[:4], "little", signed=True)
            lon = int.from_bytes(raw[4:], "little", signed=True)
            if abs(lat) > 900_000_000 or abs(lon) > 1_800_000_000:
                raise InvalidFieldError("META GPS position outside ±90° latitude, ±180° longitude")
            values["gps"] = (lat * _GPS_UNIT, lon * _GPS_UNIT)
        if flags & 0b1000:
            z, pos = _payload_varint(data, pos, 4, "META altitude")
            values["altitude"] = ((z >> 1) if not z & 1 else -((z + 1) >> 1)) / 10
        for bit, name in ((4, "make"), (5, "model"), (6, "original_name")):
            if flags >> bit & 1:
                n, pos = _payload_varint(data, pos, 2, f"META {name} length")
                if not 1 <= n <= 255:
                    raise InvalidFieldError(f"META {name} length {n} outside 1..255")
                values[name] = _text(_take(data, pos, n), f"META {name}", b"\x00")
                pos += n
        _consumed(data, pos, "META")
        return cls(**values)


def _take(data: bytes, pos: int, n: int) -> bytes:
    if len(data) - pos < n:
        raise InvalidFieldError("chunk payload ends inside a field")
    return data[pos:pos + n]


def _text(raw: bytes, what: str, forbidden: bytes) -> str:
    """UTF-8 text without any of the ``forbidden`` bytes."""
    if any(b in raw for b in forbidden):
        raise InvalidFieldError(f"{what} contains a forbidden control byte")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFieldError(f"{what} is not valid UTF-8") from exc


# --- VOCAB (custom vocabulary) ------------------------------------------------------------

MAX_CUSTOM_CLASSES = 4096
MAX_CLASS_NAME_BYTES = 255
_DEFLATED = 0x01
#: Bytes no class name may hold: C0 controls (incl. the 0x0A separator) and DEL.
_CONTROL = bytes([*range(0x20), 0x7F])


def parse_vocab(data: bytes) -> tuple[str, ...]:
    """Class names of a VOCAB payload (spec §5.3): flags, count, names joined by 0x0A."""
    data = bytes(data)
    if not data:
        raise InvalidFieldError("VOCAB payload is empty")
    flags = data[0]
    if flags & ~_DEFLATED:
        raise InvalidFieldError(f"VOCAB flags 0x{flags:02x}: only bit 0 is defined")
    count, pos = _payload_varint(data, 1, 2, "VOCAB count")
    if not 1 <= count <= MAX_CUSTOM_CLASSES:
        raise InvalidFieldError(f"VOCAB class count {count} outside 1..{MAX_CUSTOM_CLASSES}")
    text = data[pos:]
    if flags & _DEFLATED:
        text = _inflate(text, count * (MAX_CLASS_NAME_BYTES + 1))
    raw_names = text.split(b"\n")
    if len(raw_names) != count:
        raise InvalidFieldError(f"VOCAB declares {count} classes but holds {len(raw_names)} names")
    names = []
    for raw in raw_names:
        if not 1 <= len(raw) <= MAX_CLASS_NAME_BYTES:
            raise InvalidFieldError(f"VOCAB class name of {len(raw)} bytes (1..255 allowed)")
        name = _text(raw, "VOCAB class name", _CONTROL)
        if name != name.strip():
            raise InvalidFieldError(f"VOCAB class name {name!r} has leading or trailing spaces")
        names.append(name)
    if len(set(names)) != len(names):
        raise InvalidFieldError("VOCAB class names must be distinct")
    return tuple(names)


def vocab_payload(names: tuple[str, ...] | list[str]) -> bytes:
    """The VOCAB payload of ``names``: deflated when that is shorter (checked on the way back)."""
    text = "\n".join(names).encode("utf-8")
    head = varint_bytes(len(names), 2)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    packed = packer.compress(text) + packer.flush()
    payload = (bytes([_DEFLATED]) + head + packed if len(packed) < len(text)
               else b"\x00" + head + text)
    try:
        if parse_vocab(payload) != tuple(names):
            raise ValueError("class names do not survive the VOCAB round trip")
    except InvalidFieldError as exc:
        raise ValueError(f"invalid custom vocabulary: {exc}") from exc
    return payload


def _inflate(packed: bytes, limit: int) -> bytes:
    """Raw DEFLATE data that must end exactly at the payload's end and inflate to ≤ ``limit``."""
    inflater = zlib.decompressobj(-15)
    try:
        text = inflater.decompress(packed, limit)
    except zlib.error as exc:
        raise InvalidFieldError(f"VOCAB names do not inflate: {exc}") from exc
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise InvalidFieldError("VOCAB deflate stream is cut, too large or followed by bytes")
    return text
