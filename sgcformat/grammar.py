"""The declarative grammar of the ``.sgc`` container (spec/sgc.md §3-§5), in construct.

:func:`sgcformat.container.build` serialises with it; reading is the hand-written
:func:`sgcformat.container.parse`, and ``tests/test_container.py`` checks on hypothesis-generated
files that the two read the same thing. A module of its own so that opening files never
imports construct (~20 ms).
"""

from __future__ import annotations

import construct as cs

from .chunks import varint_bytes
from .container import ASPECT_MASK, END_OF_CHUNKS, LAYOUT_CHUNKS, LAYOUT_GRIDS
from .errors import InvalidFieldError


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
        try:
            out = varint_bytes(obj, self.max_bytes)
        except ValueError as exc:
            raise cs.IntegerError(str(exc), path=path) from exc
        cs.stream_write(stream, out, len(out), path)
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

ChunkRecord = cs.Struct(
    "type" / cs.Int8ul,
    "data" / cs.If(cs.this.type != END_OF_CHUNKS, cs.Prefixed(Length, cs.GreedyBytes)),
)

#: Everything between signature+version and the CRC: fields 3-8 of spec §3. The colour
#: bitstream is last, so its length is implied by the CRC's position.
Body = cs.Struct(
    "header" / Header,
    "chunks" / cs.RepeatUntil(lambda chunk, _lst, _ctx: chunk["type"] == END_OF_CHUNKS, ChunkRecord),
    "label_data" / cs.Prefixed(Length, cs.GreedyBytes),
    "color_data" / cs.GreedyBytes,
)

#: Version 3 (spec §3.2): what the layout byte says is default or absent is not stored, and
#: both maps are one stream.
BodyV3 = cs.Struct(
    "layout" / cs.Int8ul,
    "width" / Dimension,
    "height" / cs.If(cs.this.layout & ASPECT_MASK == 0, Dimension),
    "models" / cs.Int8ul,
    "grids" / cs.If(cs.this.layout & LAYOUT_GRIDS, cs.Struct(
        "label_grid" / cs.Int8ul, "color_grid" / cs.Int8ul, "color_quality" / cs.Int8ul)),
    "chunks" / cs.If(cs.this.layout & LAYOUT_CHUNKS, cs.RepeatUntil(
        lambda chunk, _lst, _ctx: chunk["type"] == END_OF_CHUNKS, ChunkRecord)),
    "map_data" / cs.GreedyBytes,
)
