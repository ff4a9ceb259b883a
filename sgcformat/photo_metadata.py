"""EXIF ↔ :class:`~sgcformat.container.EssentialMetadata`: what an archive keeps of a photo's tags.

Full EXIF is 1–60 KB (maker notes, thumbnails); an archive mostly needs when (DateTimeOriginal
+ OffsetTimeOriginal), where (the GPS IFD), which camera (Make/Model) and which file (the
source's name) — a few tens of bytes in a META chunk. :func:`to_exif` turns the record back
into EXIF bytes, so readers that expect Pillow's ``info["exif"]`` get the same tags.
"""

from __future__ import annotations

import datetime as dt
import re

from PIL import Image

from .container import Chunk, ChunkType, EssentialMetadata

KEEP_CHOICES = ("essential", "all", "none")

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _DATETIME, _DOCUMENT_NAME, ORIENTATION_TAG = 0x010F, 0x0110, 0x0132, 0x010D, 0x0112
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED, _OFFSET_ORIGINAL = 0x9003, 0x9004, 0x9011
_MAX_TEXT = 255
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")


def extract(exif: Image.Exif, name: str | None = None) -> EssentialMetadata | None:
    """The essential record of ``exif`` and the source's file ``name`` (else DocumentName, which
    :func:`to_exif` writes); ``None`` if empty.

    Values the record cannot hold (dates before 1970, offsets off the quarter hour, GPS out
    of range) are dropped rather than failing the photo: they are metadata, not content.
    """
    ifd = exif.get_ifd(_EXIF_IFD)
    captured = next((d for d in (_datetime(ifd.get(_DATETIME_ORIGINAL)),
                                 _datetime(ifd.get(_DATETIME_DIGITIZED)),
                                 _datetime(exif.get(_DATETIME))) if d is not None), None)
    offset = _offset(ifd.get(_OFFSET_ORIGINAL)) if captured is not None else None
    gps, altitude = _gps(exif.get_ifd(_GPS_IFD))
    fields = dict(captured=captured, utc_offset=offset, gps=gps, altitude=altitude,
                  make=_text(exif.get(_MAKE)), model=_text(exif.get(_MODEL)),
                  original_name=_text(name) or _text(exif.get(_DOCUMENT_NAME)))
    if all(v is None for v in fields.values()):
        return None
    return EssentialMetadata(**fields)


def to_exif(meta: EssentialMetadata) -> bytes:
    """EXIF bytes (``Exif\\0\\0`` + TIFF, as Pillow's JPEG ``info["exif"]``) holding ``meta``.

    The original name goes to TIFF DocumentName, the only standard tag for a file's name.
    """
    exif = Image.Exif()
    for tag, value in ((_MAKE, meta.make), (_MODEL, meta.model), (_DOCUMENT_NAME, meta.original_name)):
        if value is not None:
            exif[tag] = value
    if meta.captured is not None:
        ifd = exif.get_ifd(_EXIF_IFD)
        ifd[_DATETIME_ORIGINAL] = meta.captured.strftime("%Y:%m:%d %H:%M:%S")
        if meta.utc_offset is not None:
            hours, minutes = divmod(abs(int(meta.utc_offset.total_seconds())) // 60, 60)
            sign = "-" if meta.utc_offset < dt.timedelta(0) else "+"
            ifd[_OFFSET_ORIGINAL] = f"{sign}{hours:02d}:{minutes:02d}"
    if meta.gps is not None or meta.altitude is not None:
        gps = exif.get_ifd(_GPS_IFD)
        gps[0] = b"\x02\x02\x00\x00"  # GPSVersionID 2.2
        if meta.gps is not None:
            (lat, lon) = meta.gps
            gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
            gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
        if meta.altitude is not None:
            gps[5], gps[6] = int(meta.altitude < 0), abs(meta.altitude)
    return exif.tobytes()


def chunks_for(im: Image.Image, name: str | None, keep: str) -> tuple[Chunk, ...]:
    """The metadata chunks an archive stores for ``im``: ``essential`` (META), ``all`` (META plus
    the original EXIF, XMP and ICC profile) or ``none``.

    Pixels are stored upright, so a kept EXIF block says Orientation 1 (else a reader that
    honours the tag would rotate the photo a second time).
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep_metadata must be one of {KEEP_CHOICES}, not {keep!r}")
    if keep == "none":
        return ()
    exif = im.getexif()
    meta = extract(exif, name)
    chunks = [] if meta is None else [Chunk(ChunkType.META, meta.to_bytes())]
    if keep == "all":
        if len(exif):
            chunks.append(Chunk(ChunkType.EXIF, upright_exif(exif.tobytes()[6:])))  # raw TIFF (spec §5)
        for key, type_ in (("xmp", ChunkType.XMP), ("icc_profile", ChunkType.ICC)):
            value = im.info.get(key)
            if value:
                chunks.append(Chunk(type_, value.encode() if isinstance(value, str) else bytes(value)))
    return tuple(chunks)


def upright_exif(raw: bytes) -> bytes:
    """EXIF (raw TIFF) of a photo whose pixels were turned upright: Orientation 1, all else kept."""
    exif = Image.Exif()
    exif.load(raw)
    if exif.get(ORIENTATION_TAG, 1) == 1:
        return raw
    exif[ORIENTATION_TAG] = 1
    return exif.tobytes()[6:]


def _datetime(value) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return parsed if parsed.year >= 1970 else None


def _offset(value) -> dt.timedelta | None:
    match = _OFFSET.match(value.strip("\x00 ")) if isinstance(value, str) else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = dt.timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    quarter = dt.timedelta(minutes=15)
    return offset if offset % quarter == dt.timedelta(0) and abs(offset) <= 56 * quarter else None


def _degrees(value) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return d + m / 60 + s / 3600


def _gps(ifd: dict) -> tuple[tuple[float, float] | None, float | None]:
    lat, lon = _degrees(ifd.get(2)), _degrees(ifd.get(4))
    position = None
    if lat is not None and lon is not None:
        lat *= -1 if str(ifd.get(1, "N")).upper().startswith("S") else 1
        lon *= -1 if str(ifd.get(3, "E")).upper().startswith("W") else 1
        if abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0):
            position = (round(lat, 7), round(lon, 7))
    altitude = None
    try:
        if 6 in ifd:
            altitude = float(ifd[6]) * (-1 if ifd.get(5) in (1, b"\x01") else 1)
    except (TypeError, ValueError, ZeroDivisionError):
        altitude = None
    if altitude is not None and not abs(altitude) < 1e6:
        altitude = None
    return position, None if altitude is None else round(altitude, 1)


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def _text(value) -> str | None:
    """EXIF ASCII → text without NULs and padding, cut to what the record holds."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    raw = value.encode("utf-8")[:_MAX_TEXT]
    return raw.decode("utf-8", "ignore") or None
