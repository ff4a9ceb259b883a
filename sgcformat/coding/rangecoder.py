"""Adaptive binary range coder (LZMA's), with a minimal flush (spec/sgc-coding.md §2).

Why this coder: it is defined bit-exactly in integer arithmetic (32-bit range,
11-bit probabilities, count-based adaptation shifts, carry propagation through a cached
byte), so a third party can re-implement it from a page of spec; it is
byte-granular, which matters when a whole map is ~50 bytes (word-oriented
coders such as constriction's ANS/range coders emit 32-bit words); and binary
adaptive contexts learn quickly on maps of only ~1000 symbols.

Two changes to LZMA's framing save 5-6 bytes per stream:

* the first output byte of an LZMA stream is always 0 and is not written;
* the encoder ends on the value of the final interval with the most trailing
  zero bits and drops every trailing 0x00 byte; the decoder reads bytes past the
  end of the payload as 0x00.

A decoder also rejects payloads that are not what the encoder would write:
bytes it never reads, or a last byte of 0x00 (:meth:`Decoder.finish`).
"""

from __future__ import annotations

import os
from types import ModuleType

from ..errors import BitstreamError

try:  # the optional C coder (_native.c): decodes both bitstreams, encodes label maps
    from . import _native
except ImportError:
    _native = None

PROB_BITS = 11
PROB_ONE = 1 << PROB_BITS
PROB_INIT = PROB_ONE // 2
TOP = 1 << 24
MASK32 = 0xFFFFFFFF


#: Adaptation shift by the number of bits a context has coded so far: a fresh context moves
#: fast (like a count-based estimate), a seasoned one settles at a shift of 4 (LZMA: 5), which tracks
#: the few hundred decisions of a map better.
SHIFTS = (2, 2, 3, 3, 3, 3, 4)
_SEASONED = len(SHIFTS) - 1
#: SHIFTS as the native coder takes them.
NATIVE_SHIFTS = bytes(SHIFTS)


def native_coder() -> ModuleType | None:
    """The compiled coder module, or None where it is not built or ``SGC_PURE_PYTHON`` is set
    (non-empty), which forces the reference coders below, e.g. to compare or debug."""
    return None if os.environ.get("SGC_PURE_PYTHON") else _native


def contexts(n: int) -> list[int]:
    """``n`` fresh adaptive contexts, stored flat as [probability of a 0 (/2048), count] pairs.

    Context ``i`` lives at indices ``2i`` and ``2i + 1``.
    """
    return [PROB_INIT, 0] * n


def _adapt(probs: list[int], i: int, bit: int) -> None:
    """Adapt the context stored at ``probs[i]``, ``probs[i + 1]`` to a coded ``bit``."""
    p = probs[i]
    n = probs[i + 1]
    if n < _SEASONED:
        probs[i + 1] = n + 1
    probs[i] = p - (p >> SHIFTS[n]) if bit else p + ((PROB_ONE - p) >> SHIFTS[n])


#: An open encoder: (low, range, cache, cache_size, bytes so far) — what one map's coder hands
#: the next one in version 3's single stream (coding §7); the native coder uses the same tuple.
EncoderState = tuple[int, int, int, int, bytes]
#: An open decoder: (pos, range, code).
DecoderState = tuple[int, int, int]


class Encoder:
    """Range encoder; call :meth:`bit` per binary decision and :meth:`finish` once."""

    __slots__ = ("_cache", "_cache_size", "_low", "_out", "_range")

    def __init__(self, state: EncoderState | None = None) -> None:
        """A fresh encoder, or one that goes on from ``state`` (:meth:`state`)."""
        if state is None:
            state = (0, MASK32, 0, 1, b"")
        self._low, self._range, self._cache, self._cache_size, out = state
        self._out = bytearray(out)

    def state(self) -> EncoderState:
        """Where the stream stands, for another coder to go on with."""
        return (self._low, self._range, self._cache, self._cache_size, bytes(self._out))

    def finished_length(self) -> int:
        """The length :meth:`finish` would give now, leaving this encoder open."""
        return len(Encoder(self.state()).finish())

    def bit(self, probs: list[int], i: int, bit: int) -> None:
        """Code ``bit`` with adaptive context ``i`` of ``probs`` and update the context."""
        i <<= 1
        self._code_bit((self._range >> PROB_BITS) * probs[i], bit)
        _adapt(probs, i, bit)

    def bit_mean(self, probs: list[int], indices: tuple[int, ...], bit: int) -> None:
        """Code ``bit`` with the mean probability of contexts ``indices``, then update each."""
        slots = [i << 1 for i in indices]
        self._code_bit((self._range >> PROB_BITS) * (sum([probs[j] for j in slots]) // len(slots)), bit)
        for j in slots:
            _adapt(probs, j, bit)

    def fixed(self, p0: int, bit: int) -> None:
        """Code ``bit`` with the fixed probability ``p0``/2048 of a 0 (1 <= p0 <= 2047)."""
        self._code_bit((self._range >> PROB_BITS) * p0, bit)

    def _code_bit(self, bound: int, bit: int) -> None:
        """Split the range at ``bound`` (0 below, 1 above), keep ``bit``'s part, renormalise."""
        if bit:
            self._low += bound
            self._range -= bound
        else:
            self._range = bound
        while self._range < TOP:
            self._range <<= 8
            self._shift_low()

    def _shift_low(self) -> None:
        low = self._low
        if low < 0xFF000000 or low > MASK32:
            carry = low >> 32
            byte = self._cache
            while True:
                self._out.append((byte + carry) & 0xFF)
                byte = 0xFF
                self._cache_size -= 1
                if not self._cache_size:
                    break
            self._cache = (low >> 24) & 0xFF
        self._cache_size += 1
        self._low = (low & 0x00FFFFFF) << 8

    def finish(self) -> bytes:
        """End the stream: shortest value in the final interval, trailing zeros dropped."""
        low, high = self._low, self._low + self._range - 1
        k = 40
        while ((low + (1 << k) - 1) >> k) << k > high:
            k -= 1
        self._low = ((low + (1 << k) - 1) >> k) << k
        for _ in range(5):
            self._shift_low()
        out = self._out
        assert out[0] == 0, "the first byte of an LZMA range coder stream is always 0"
        return bytes(out[1:]).rstrip(b"\x00")


class Decoder:
    """Range decoder over ``data``; bytes past its end read as 0x00."""

    __slots__ = ("_code", "_data", "_pos", "_range")

    def __init__(self, data: bytes, state: DecoderState | None = None) -> None:
        """Start decoding ``data``, or go on from ``state`` (:meth:`state`) in it."""
        self._data = bytes(data)
        if state is not None:
            self._pos, self._range, self._code = state
            return
        self._code = int.from_bytes(self._data[:4].ljust(4, b"\x00"), "big")
        self._range = MASK32
        self._pos = 4
        if self._code == MASK32:
            raise BitstreamError("range coder stream starts with an impossible value")

    def state(self) -> DecoderState:
        """Where the stream stands, for another decoder to go on with."""
        return (self._pos, self._range, self._code)

    def _next_byte(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        return self._data[pos] if pos < len(self._data) else 0

    def bit(self, probs: list[int], i: int) -> int:
        """Decode one bit with adaptive context ``i`` of ``probs`` and update the context."""
        i <<= 1
        bit = self._decode_bit((self._range >> PROB_BITS) * probs[i])
        _adapt(probs, i, bit)
        return bit

    def bit_mean(self, probs: list[int], indices: tuple[int, ...]) -> int:
        """Decode one bit coded with :meth:`Encoder.bit_mean`."""
        slots = [i << 1 for i in indices]
        bit = self._decode_bit((self._range >> PROB_BITS) * (sum([probs[j] for j in slots]) // len(slots)))
        for j in slots:
            _adapt(probs, j, bit)
        return bit

    def fixed(self, p0: int) -> int:
        """Decode one bit coded with the fixed probability ``p0``/2048 of a 0."""
        return self._decode_bit((self._range >> PROB_BITS) * p0)

    def _decode_bit(self, bound: int) -> int:
        """The bit whose part of the range (split at ``bound``) holds the code; renormalise."""
        if self._code < bound:
            self._range = bound
            bit = 0
        else:
            self._code -= bound
            self._range -= bound
            bit = 1
        while self._range < TOP:
            self._range <<= 8
            self._code = (self._code << 8) | self._next_byte()
        return bit

    def finish(self) -> None:
        """Check that the payload is canonical: no unread bytes, no trailing 0x00."""
        if len(self._data) > self._pos:
            raise BitstreamError(
                f"{len(self._data) - self._pos} byte(s) after the end of the coded map"
            )
        if self._data and self._data[-1] == 0:
            raise BitstreamError("coded map ends with a 0x00 byte (not canonical)")


# --- binarisations shared by the label and colour bitstreams (spec §2.5) -------------------


def encode_tree(enc: Encoder, probs: list[int], base: int, nbits: int, value: int) -> None:
    """``nbits``-bit value, MSB first, contexts ``probs[base + node]`` with node 1..2**nbits-1."""
    node = 1
    for shift in range(nbits - 1, -1, -1):
        bit = (value >> shift) & 1
        enc.bit(probs, base + node, bit)
        node = (node << 1) | bit


def decode_tree(dec: Decoder, probs: list[int], base: int, nbits: int) -> int:
    node = 1
    for _ in range(nbits):
        node = (node << 1) | dec.bit(probs, base + node)
    return node - (1 << nbits)


def encode_bypass(enc: Encoder, nbits: int, value: int) -> None:
    """``nbits`` equiprobable bits, MSB first."""
    for shift in range(nbits - 1, -1, -1):
        enc.fixed(PROB_INIT, (value >> shift) & 1)


def decode_bypass(dec: Decoder, nbits: int) -> int:
    value = 0
    for _ in range(nbits):
        value = (value << 1) | dec.fixed(PROB_INIT)
    return value
