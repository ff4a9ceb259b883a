"""Lossless coding of label maps (spec/sgc-coding.md §3).

A label map at 32×32 has few classes and large regions, so the bitstream

1. codes the *set* of classes present: its size, then one presence decision per
   vocabulary id with the exact enumerative probability (remaining classes over
   remaining ids), which costs about log2(C(vocab, k)) bits;
2. codes each cell in raster order as a choice among the distinct causal
   neighbours' classes (W, N, NE, NW, in that order), each a binary decision
   whose context is the neighbourhood's shape, then, if none matches, the
   cell's index among the other present classes with a bit-tree.

Classes are handled by their rank among the present ones, so no decoded value
can fall outside the vocabulary.
"""

from __future__ import annotations

import numpy as np

from ..errors import BitstreamError, VocabularyError
from .rangecoder import (
    PROB_ONE,
    Decoder,
    Encoder,
    contexts,
    decode_bypass,
    decode_tree,
    encode_bypass,
    encode_tree,
)

MAX_VOCAB = 65535
_N_SHAPES = 16
_MAX_CANDIDATES = 4
_UNARY_RANKS = 2
#: Initial probability (/2048) of a *miss* for the neighbour-match contexts: matches are likely.
MATCH_INIT = 512


def encode(ids: np.ndarray, vocab_size: int) -> bytes:
    """Code a (rows, cols) map of class ids ``< vocab_size`` losslessly."""
    ids = np.asarray(ids)
    _check_vocab(vocab_size)
    if ids.ndim != 2 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise VocabularyError(f"a label map must be a non-empty 2-D integer array, got {ids.shape}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        bad = int(ids.min() if ids.min() < 0 else ids.max())
        raise VocabularyError(f"class id {bad} is outside the vocabulary (0..{vocab_size - 1})")
    present = np.unique(ids)
    enc = Encoder()
    _encode_class_set(enc, [int(c) for c in present], vocab_size)
    if len(present) > 1:
        local = np.searchsorted(present, ids).tolist()
        _code_cells(len(present), ids.shape[0], ids.shape[1], local, enc)
    return enc.finish()


def decode(data: bytes, width: int, height: int, vocab_size: int) -> np.ndarray:
    """Decode a label map of ``height`` rows × ``width`` columns; raises BitstreamError."""
    _check_vocab(vocab_size)
    if width < 1 or height < 1:
        raise BitstreamError(f"label map size {width}x{height} is empty")
    dec = Decoder(data)
    present = _decode_class_set(dec, vocab_size)
    if len(present) == 1:
        local = [[0] * width for _ in range(height)]
    else:
        local = [[0] * width for _ in range(height)]
        _code_cells(len(present), height, width, local, dec)
    dec.finish()
    return np.asarray(present, dtype=np.uint16)[np.asarray(local, dtype=np.intp)]


def _check_vocab(vocab_size: int) -> None:
    if not 1 <= vocab_size <= MAX_VOCAB:
        raise VocabularyError(f"vocabulary size must be 1..{MAX_VOCAB}, got {vocab_size}")


# --- class set ------------------------------------------------------------------------------


def _presence_p0(remaining_ids: int, remaining_classes: int) -> int:
    """Probability (/2048) that the next id is absent: exactly what is left to choose from."""
    p0 = (remaining_ids - remaining_classes) * PROB_ONE // remaining_ids
    return min(max(p0, 1), PROB_ONE - 1)


def _encode_class_set(enc: Encoder, present: list[int], vocab_size: int) -> None:
    # k - 1 as Exp-Golomb (order 0) in equiprobable bits.
    value = len(present)  # = (k - 1) + 1
    n = value.bit_length() - 1
    encode_bypass(enc, n + 1, (1 << (n + 1)) - 2)  # n ones, then a zero
    encode_bypass(enc, n, value - (1 << n))
    chosen = set(present)
    left = len(present)
    for c in range(vocab_size):
        if left in (0, vocab_size - c):
            break
        enc.fixed(_presence_p0(vocab_size - c, left), int(c in chosen))
        left -= c in chosen


def _decode_class_set(dec: Decoder, vocab_size: int) -> list[int]:
    limit = vocab_size.bit_length()
    n = 0
    while decode_bypass(dec, 1):
        n += 1
        if n > limit:
            raise BitstreamError("class count prefix is too long")
    k = (1 << n) + decode_bypass(dec, n)
    if k > vocab_size:
        raise BitstreamError(f"{k} classes present, the vocabulary has {vocab_size}")
    present = []
    for c in range(vocab_size):
        left = k - len(present)
        if left == 0:
            break
        if left == vocab_size - c:
            present.extend(range(c, vocab_size))
            break
        if dec.fixed(_presence_p0(vocab_size - c, left)):
            present.append(c)
    return present


# --- cells ----------------------------------------------------------------------------------


def _code_cells(k: int, rows: int, cols: int, local: list, coder) -> None:
    """Encode (coder is an Encoder) or decode in place (a Decoder) the local class indices.

    One routine for both directions keeps the context selection identical by construction.
    """
    encoding = isinstance(coder, Encoder)
    match = contexts(_MAX_CANDIDATES * _N_SHAPES)
    match[::2] = [MATCH_INIT] * (_MAX_CANDIDATES * _N_SHAPES)
    rank = contexts(2 * _UNARY_RANKS)
    tree = contexts(1 << (k - 1).bit_length())
    last_seen = [-1] * k  # raster position of each class's latest cell
    position = 0
    for y in range(rows):
        row = local[y]
        up = local[y - 1] if y else None
        for x in range(cols):
            # Causal neighbours that exist (-1 where not), in candidate order W, N, NE, NW.
            w = row[x - 1] if x else -1
            n = up[x] if up is not None else -1
            ne = up[x + 1] if up is not None and x + 1 < cols else -1
            nw = up[x - 1] if up is not None and x else -1
            shape = (w == n) | (n == ne) << 1 | (w == nw) << 2 | (n == nw) << 3
            cands = []
            for c in (w, n, ne, nw):
                if c >= 0 and c not in cands:
                    cands.append(c)
            value = row[x] if encoding else -1
            implied = len(cands) - 1 if len(cands) == k else len(cands)
            for j, c in enumerate(cands):
                if j == implied:  # the only class left
                    value = c
                    break
                ctx = j * _N_SHAPES + shape
                if encoding:
                    hit = value == c
                    coder.bit(match, ctx, hit)
                else:
                    hit = coder.bit(match, ctx)
                if hit:
                    value = c
                    break
            else:
                value = _code_other(coder, encoding, value, cands, k, last_seen, rank, tree)
            if not encoding:
                row[x] = value
            last_seen[value] = position
            position += 1


def _code_other(coder, encoding: bool, value: int, cands: list[int], k: int,
                last_seen: list[int], rank: list[int], tree: list[int]) -> int:
    """A class none of the neighbours has: its rank among the others, most recently seen first.

    Ranks 0 and 1 are unary bins (context: bin, whether that class was seen yet); larger
    ranks go through a bit-tree. Returns the (decoded) local class index.
    """
    others = sorted((c for c in range(k) if c not in cands), key=lambda c: -last_seen[c])
    m = len(others)
    r = others.index(value) if encoding else 0
    for i in range(_UNARY_RANKS):
        if i == m - 1:  # the last remaining rank is implied
            return others[i]
        ctx = 2 * i + (last_seen[others[i]] >= 0)
        if encoding:
            coder.bit(rank, ctx, r > i)
            stop = r == i
        else:
            stop = not coder.bit(rank, ctx)
        if stop:
            return others[i]
    rest = m - _UNARY_RANKS
    depth = (rest - 1).bit_length()
    if encoding:
        encode_tree(coder, tree, 0, depth, r - _UNARY_RANKS)
        return value
    r = decode_tree(coder, tree, 0, depth)
    if r >= rest:
        raise BitstreamError("label rank outside the classes present")
    return others[_UNARY_RANKS + r]
