"""Lossless coding of label maps (spec/sgc-coding.md §3).

A label map at 32×32 has few classes and large regions, so the bitstream

1. codes the *set* of classes present: for a vocabulary with a class-frequency
   prior (``PRESENCE``, from public dataset statistics), one presence decision per
   id with that class's prior probability; otherwise its size, then one presence
   decision per id with the exact enumerative probability (remaining classes over
   remaining ids), which costs about log2(C(vocab, k)) bits;
2. codes whether the map is stored mirrored left-right (and, in version 3, transposed; the
   encoder codes each orientation and keeps the shortest), then each cell in raster order
   as a choice among the distinct causal neighbours' classes (W, N, NE, NW; the one most of
   them share first). Each choice is a binary decision whose probability is the mean of three adaptive
   contexts: the neighbourhood's shape plus which of four further causal cells
   (out to two rows up and three columns right) hold the same class. Their
   initial probabilities are normative tables (``_INIT_TABLE``) trained on label
   maps of other datasets (scripts/train_label_tables.py), so a map does not
   pay to learn what region boundaries look like;
3. if no neighbour matches, codes the cell's rank among the other present
   classes: the class two cells left, then those further right in the row above,
   then the rest most recently seen first.

Classes are handled by their rank among the present ones, so no decoded value
can fall outside the vocabulary.
"""

from __future__ import annotations

import numpy as np

from .. import registry
from ..errors import BitstreamError, VocabularyError
from .rangecoder import (
    NATIVE_SHIFTS,
    PROB_INIT,
    PROB_ONE,
    SHIFTS,
    Decoder,
    DecoderState,
    Encoder,
    EncoderState,
    contexts,
    decode_bypass,
    decode_tree,
    encode_bypass,
    encode_tree,
    native_coder,
)

MAX_VOCAB = 65535
_N_SHAPES = 16
_MAX_CANDIDATES = 4
_UNARY_RANKS = 2
#: Grid padding: cells outside the map read as -1 (two rows above, two columns left, three right).
_PAD_TOP, _PAD_LEFT, _PAD_RIGHT = 2, 2, 3
#: The three match-context groups: each names four cells (row offset, column offset) whose
#: agreement with the candidate class forms the context's low four bits (first cell = bit 0).
GROUPS = (
    ((0, -2), (-2, 1), (-2, -1), (-1, 2)),   # WW, NNE, NNW, NEE
    ((-1, -2), (-2, 0), (-2, 2), (-1, 3)),   # NWW, NN, NNEE, NEEE
    ((0, -2), (-1, -2), (-2, -1), (-2, 0)),  # WW, NWW, NNW, NN
)
_GROUP_SIZE = _MAX_CANDIDATES * _N_SHAPES * 16
#: Initial probabilities (/2048, of a miss) that the 4-bit table entries 1..15 stand for:
#: round(2048 / (1 + exp(-0.55 (q - 8)))). Entry 0 is an untrained context.
INIT_LEVELS = (43, 73, 123, 204, 330, 511, 749, 1024, 1299, 1537, 1718, 1844, 1925, 1975, 2005)
#: Initial state of a context the tables leave untrained: matches are likely.
MATCH_INIT = 512
_SEASONED = len(SHIFTS) - 1


def encode(ids: np.ndarray, vocab: str | int) -> bytes:
    """Code a (rows, cols) map of class ids of ``vocab`` losslessly (file versions 1 and 2).

    ``vocab`` is a registry name, or a bare vocabulary size (no class prior).
    """
    return _encode(ids, vocab, version=1)


def encode_open(ids: np.ndarray, vocab: str | int) -> EncoderState:
    """Code the map as version 3's single stream begins (coding §7): the encoder's state,
    for :func:`sgcformat.coding.colors.encode` to go on with (``after=``)."""
    return _encode(ids, vocab, version=3)


def _encode(ids: np.ndarray, vocab: str | int, version: int):
    size, prior = _vocab(vocab)
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise VocabularyError(f"a label map must be a non-empty 2-D integer array, got {ids.shape}")
    if ids.min() < 0 or ids.max() >= size:
        bad = int(ids.min() if ids.min() < 0 else ids.max())
        raise VocabularyError(f"class id {bad} is outside the vocabulary (0..{size - 1})")
    native = native_coder()
    if native is not None:  # the same bytes as below (tests/test_fastencode.py), ~90x faster
        return native.encode_labels(ids.astype(np.uint16).tobytes(), ids.shape[1], ids.shape[0], size,
                                    None if prior is None else _NATIVE_PRESENCE[vocab],
                                    _NATIVE_MATCH_INIT, _NATIVE_RANK_INIT, NATIVE_SHIFTS, version)
    # Boundaries code differently seen from the left or the right, or across (the contexts look
    # up and to one side): code each orientation and keep the shortest, the first on ties.
    best, best_length = None, 0
    for mirror, transpose in _orientations(version, ids.min() != ids.max()):
        enc = Encoder()
        code_map(enc, ids, vocab, mirror, transpose)
        length = enc.finished_length()
        if best is None or length < best_length:
            best, best_length = enc, length
    return best.state() if version == 3 else best.finish()


def _orientations(version: int, several_classes: bool) -> list[tuple[bool, bool | None]]:
    """(mirror, transpose) choices of a version, in the order the encoder tries them; the
    transpose flag exists from version 3 on (``None``: not coded)."""
    if not several_classes:
        return [(False, None)]
    if version < 3:
        return [(False, None), (True, None)]
    return [(False, False), (True, False), (False, True), (True, True)]


def code_map(enc: Encoder, ids: np.ndarray, vocab: str | int, mirror: bool = False,
             transpose: bool | None = None) -> None:
    """Code a checked map's decisions into ``enc`` (for tools that record them: bench, training).

    ``mirror`` codes the map's left-right mirror image, flagged so the decoder turns it back;
    ``transpose`` (version 3; ``None`` in versions 1-2, where the flag does not exist) codes
    the transposed map, mirrored after transposing.
    """
    present = np.unique(ids)
    _encode_class_set(enc, [int(c) for c in present], *_vocab(vocab))
    if len(present) > 1:
        encode_bypass(enc, 1, int(mirror))
        if transpose is not None:
            encode_bypass(enc, 1, int(transpose))
            if transpose:
                ids = ids.T
        if mirror:
            ids = ids[:, ::-1]
        rows, cols = ids.shape
        grid, stride = _padded_grid(rows, cols)
        local = np.searchsorted(present, ids).tolist()
        for y in range(rows):
            start = _cell_index(y, 0, stride)
            grid[start:start + cols] = local[y]
        _code_cells(len(present), rows, cols, grid, enc)


def decode(data: bytes, width: int, height: int, vocab: str | int) -> np.ndarray:
    """Decode a label map of ``height`` rows × ``width`` columns; raises BitstreamError."""
    return _decode(data, width, height, vocab, version=1)


def decode_open(data: bytes, width: int, height: int,
                vocab: str | int) -> tuple[np.ndarray, DecoderState]:
    """Decode the label map that begins version 3's single stream (coding §7): the map and the
    decoder's state, where the colour map goes on. The end of the stream is checked after
    the colour map, not here."""
    return _decode(data, width, height, vocab, version=3)


def _decode(data: bytes, width: int, height: int, vocab: str | int, version: int):
    size, prior = _vocab(vocab)
    if width < 1 or height < 1:
        raise BitstreamError(f"label map size {width}x{height} is empty")
    native = native_coder()
    if native is not None:
        out = native.decode_labels(bytes(data), width, height, size,
                                   None if prior is None else _NATIVE_PRESENCE[vocab],
                                   _NATIVE_MATCH_INIT, _NATIVE_RANK_INIT, NATIVE_SHIFTS, version)
        ids, state = out if version == 3 else (out, None)
        ids = np.frombuffer(ids, dtype=np.uint16).reshape(height, width)
        return (ids, state) if version == 3 else ids
    dec = Decoder(data)
    present = _decode_class_set(dec, size, prior)
    if len(present) == 1:
        local = np.zeros((height, width), dtype=np.intp)
    else:
        mirror = decode_bypass(dec, 1)
        transpose = version == 3 and decode_bypass(dec, 1)
        rows, cols = (width, height) if transpose else (height, width)
        grid, stride = _padded_grid(rows, cols)
        _code_cells(len(present), rows, cols, grid, dec)
        local = np.asarray(grid, dtype=np.intp).reshape(-1, stride)[_PAD_TOP:, _PAD_LEFT:-_PAD_RIGHT]
        if mirror:
            local = local[:, ::-1]
        if transpose:
            local = local.T
    ids = np.asarray(present, dtype=np.uint16)[local]
    if version == 3:
        return ids, dec.state()
    dec.finish()
    return ids


def _vocab(vocab: str | int) -> tuple[int, tuple[int, ...] | None]:
    """(size, presence prior or None) of a registry vocabulary name or a bare size."""
    if isinstance(vocab, str):
        return registry.vocabulary(vocab).size, PRESENCE.get(vocab)
    if not 1 <= vocab <= MAX_VOCAB:
        raise VocabularyError(f"vocabulary size must be 1..{MAX_VOCAB}, got {vocab}")
    return vocab, None


# --- class set ------------------------------------------------------------------------------


def _presence_p0(remaining_ids: int, remaining_classes: int) -> int:
    """Probability (/2048) that the next id is absent: exactly what is left to choose from."""
    p0 = (remaining_ids - remaining_classes) * PROB_ONE // remaining_ids
    return min(max(p0, 1), PROB_ONE - 1)


def _encode_class_set(enc: Encoder, present: list[int], vocab_size: int,
                      prior: tuple[int, ...] | None) -> None:
    if prior is not None:  # one decision per class with its prior probability of presence
        chosen = set(present)
        for c, p1 in enumerate(prior):
            enc.fixed(PROB_ONE - p1, int(c in chosen))
        return
    # k - 1 as Exp-Golomb of order 1 in equiprobable bits: u = k + 1 = 2^(e+1) + rest.
    u = len(present) + 1
    e = u.bit_length() - 2
    encode_bypass(enc, e + 1, (1 << (e + 1)) - 2)  # e ones, then a zero
    encode_bypass(enc, e + 1, u - (2 << e))
    chosen = set(present)
    left = len(present)
    for c in range(vocab_size):
        if left in (0, vocab_size - c):
            break
        enc.fixed(_presence_p0(vocab_size - c, left), int(c in chosen))
        left -= c in chosen


def _decode_class_set(dec: Decoder, vocab_size: int, prior: tuple[int, ...] | None) -> list[int]:
    if prior is not None:
        present = [c for c, p1 in enumerate(prior) if dec.fixed(PROB_ONE - p1)]
        if not present:
            raise BitstreamError("the class set is empty")
        return present
    limit = vocab_size.bit_length()
    e = 0
    while decode_bypass(dec, 1):
        e += 1
        if e > limit:
            raise BitstreamError("class count prefix is too long")
    k = (2 << e) + decode_bypass(dec, e + 1) - 1
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


def _initial_match_contexts(table: str, untrained: int = MATCH_INIT) -> list[int]:
    """Context states from the 4-bit entries of ``table`` (spec §3.2)."""
    probs = []
    for q in table:
        level = int(q, 16)
        probs += [INIT_LEVELS[level - 1], _SEASONED] if level else [untrained, 0]
    return probs


def _rank_contexts() -> list[int]:
    """Fresh RANK contexts (spec §3.2); the training script hooks it to count their decisions."""
    return list(_RANK_INIT)


def _padded_grid(rows: int, cols: int) -> tuple[list[int], int]:
    """A flat grid of -1 with room for every neighbour offset; returns it and its row stride."""
    stride = _PAD_LEFT + cols + _PAD_RIGHT
    return [-1] * ((_PAD_TOP + rows) * stride), stride


def _cell_index(y: int, x: int, stride: int) -> int:
    return (_PAD_TOP + y) * stride + _PAD_LEFT + x


def _code_cells(k: int, rows: int, cols: int, grid: list[int], coder) -> None:
    """Encode (coder is an Encoder, ``grid`` filled) or decode into ``grid`` (a Decoder).

    ``grid`` is a padded grid (:func:`_padded_grid`) of local class indices. One routine for
    both directions keeps the context selection identical by construction: every cell it
    reads lies before the current one in raster order.
    """
    encoding = isinstance(coder, Encoder)
    stride = _PAD_LEFT + cols + _PAD_RIGHT
    match = list(_MATCH_INIT)
    rank = _rank_contexts()
    tree = contexts(1 << (k - 1).bit_length())
    (a0, a1, a2, a3), (b0, b1, b2, b3), (c0, c1, c2, c3) = (
        [dy * stride + dx for dy, dx in group] for group in GROUPS)
    g1, g2 = _GROUP_SIZE, 2 * _GROUP_SIZE
    last_seen = [-1] * k  # raster position of each class's latest cell
    position = 0
    for y in range(rows):
        row_start = _cell_index(y, 0, stride)
        for i in range(row_start, row_start + cols):
            w = grid[i - 1]
            n = grid[i - stride]
            ne = grid[i - stride + 1]
            nw = grid[i - stride - 1]
            shape = (w == n) | (n == ne) << 1 | (w == nw) << 2 | (n == nw) << 3
            if shape == 15 and w >= 0:  # flat neighbourhood: the common case
                cands = [w]
            else:
                cands = []
                for c in (w, n, ne, nw):
                    if c >= 0 and c not in cands:
                        cands.append(c)
                if len(cands) > 1:  # the class most of W, N, NE, NW share first (stable)
                    cands.sort(key=lambda c: (w != c) + (n != c) + (ne != c) + (nw != c))
            value = grid[i] if encoding else -1
            implied = len(cands) - 1 if len(cands) == k else len(cands)
            for j, c in enumerate(cands):
                if j == implied:  # the only class left
                    value = c
                    break
                ctx = (j * _N_SHAPES + shape) << 4
                idx = (
                    ctx | (grid[i + a0] == c) | (grid[i + a1] == c) << 1
                    | (grid[i + a2] == c) << 2 | (grid[i + a3] == c) << 3,
                    g1 + (ctx | (grid[i + b0] == c) | (grid[i + b1] == c) << 1
                          | (grid[i + b2] == c) << 2 | (grid[i + b3] == c) << 3),
                    g2 + (ctx | (grid[i + c0] == c) | (grid[i + c1] == c) << 1
                          | (grid[i + c2] == c) << 2 | (grid[i + c3] == c) << 3),
                )
                if encoding:
                    hit = value == c
                    coder.bit_mean(match, idx, hit)
                else:
                    hit = coder.bit_mean(match, idx)
                if hit:
                    value = c
                    break
            else:
                # Classes hinted at by the causal cells beyond the neighbours: two to the left,
                # then the row above from two columns right to its end.
                hints = grid[i - stride + 2: row_start - stride + cols]
                hints.insert(0, grid[i - 2])
                value = _code_other(coder, encoding, value, cands, hints, k, last_seen, rank, tree)
            if not encoding:
                grid[i] = value
            last_seen[value] = position
            position += 1


def _code_other(coder, encoding: bool, value: int, cands: list[int], hints: list[int], k: int,
                last_seen: list[int], rank: list[int], tree: list[int]) -> int:
    """A class none of the neighbours has: its rank among the others.

    The order: ``hints`` (first occurrence, skipping -1 and candidates), then the remaining
    classes most recently seen first. Ranks 0 and 1 are unary bins (context: bin, whether
    that class was seen yet, whether it is a hint); larger ranks go through a bit-tree.
    Returns the (decoded) local class index.
    """
    others: list[int] = []
    for c in hints:
        if c >= 0 and c not in cands and c not in others:
            others.append(c)
    n_hints = len(others)
    excluded = set(cands).union(others)
    others += sorted((c for c in range(k) if c not in excluded), key=lambda c: -last_seen[c])
    m = len(others)
    r = others.index(value) if encoding else 0
    for i in range(_UNARY_RANKS):
        if i == m - 1:  # the last remaining rank is implied
            return others[i]
        ctx = 4 * i + 2 * (last_seen[others[i]] >= 0) + (i < n_hints)
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


#: Normative initial match-context table (spec §3.2, Appendix A): one hex digit per context,
#: 3 groups × 4 candidate positions × 16 shapes × 16 feature masks. Trained by
#: scripts/train_label_tables.py (defaults: 24² to 64² and mirror images) on the corpus's
#: cityscapes, camvid and aerial label maps, so the coco-stuff and ade20k maps the benchmark
#: reports stay held out.
_INIT_TABLE = (
    "98a9b9da87a9cccb55985677447528868887aab89687daa83334572611126625"
    "88a9cbbb68889aba00000000000000009868cadc5838aacb0000000000000000"
    "968699ba446799a800000000000000007499899ab98799980000000000000000"
    "0000000000000000437954784476446600000000000000003234213311113111"
    "788599987a74a88075a787ca438361746666866545a90705677a88bc6a357397"
    "4477658754776574000000000000000043443254333153320000000000000000"
    "7578545754685352000000000000000043556442124444440000000000000000"
    "0000000000000000667583963455336200000000000000000000000000000000"
    "569788aa769a6090ac00aac06000a5a0795088d966067b960000000000000000"
    "739990d776758684000000000000000000000000000000000000000000000000"
    "849746a077866075000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "88b0cad0960080a0000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "9acd9bac8a799bbb555588784466555689989999989778882325443514341214"
    "a98aaaca896b9a790000000000000000b98caa6c795b6a2b0000000000000000"
    "799a589b38aa589a00000000000000004b899a8b9c8a8a790000000000000000"
    "0000000000000000435566774444535500000000000000003121553211111111"
    "886798777a778a77878798a932835564685877484840696077aba9ac68065786"
    "5546787845555766000000000000000034444444334423220000000000000000"
    "6644886747555645000000000000000033452446143525470000000000000000"
    "0000000000000000658665894366456400000000000000000000000000000000"
    "68379996987599879cc9b00006068a6078aa79b6660079890000000000000000"
    "88a6979b78607785000000000000000000000000000000000000000000000000"
    "877487a079807874000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "9acdbaac680a70a0000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "98a9d9dbbaabb9cb554555786555534788a6aa778697a9891143473412543445"
    "8788c9aa7898b8ba00000000000000008888c9ba3b99c9cc0000000000000000"
    "54a786a987aa97a9000000000000000073c999a978a776a90000000000000000"
    "0000000000000000444355545755566500000000000000002131344211211121"
    "8869c06a648590b8647466666686867365689589560854a658678897877ab6aa"
    "5475567755856285000000000000000032634432326233430000000000000000"
    "7566527654674255000000000000000042437234564732640000000000000000"
    "0000000000000000555560416575759500000000000000000000000000000000"
    "778790b84486707790ac9bda0000a0b47a7879998060a0c70000000000000000"
    "759685a68894b680000000000000000000000000000000000000000000000000"
    "8487706680647005000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "8599a0b90000d0ea000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
)
#: Normative initial escape-rank table (spec §3.2, Appendix A): one hex digit per RANK context.
_RANK_TABLE = "60786066"
assert len(_INIT_TABLE) == 3 * _GROUP_SIZE and len(_RANK_TABLE) == 4 * _UNARY_RANKS
_MATCH_INIT = _initial_match_contexts(_INIT_TABLE)
_RANK_INIT = _initial_match_contexts(_RANK_TABLE, PROB_INIT)

#: Normative class-presence priors (spec §3.1, Appendix B): per class id, the probability
#: (/2048, 1..2047) that a map contains it. ade20k-150: round(2048 · Train / 20210), at least
#: 1, from the ``Train`` column of ADE20K's objectInfo150 (images of the 20210 training images
#: that contain the class); scripts/train_label_tables.py --presence prints it.
PRESENCE: dict[str, tuple[int, ...]] = {
    "ade20k-150": (
        1182, 613, 838, 946, 677, 669, 408, 193, 475, 246, 291, 311, 514, 183, 676, 433, 171,
        405, 218, 330, 321, 72, 334, 121, 154, 68, 66, 187, 117, 49, 119, 131, 140, 71, 79, 39,
        313, 41, 81, 147, 42, 146, 81, 269, 56, 37, 32, 120, 29, 47, 41, 13, 57, 89, 9, 17, 20,
        94, 14, 57, 32, 26, 28, 34, 80, 40, 133, 113, 27, 67, 34, 54, 37, 15, 27, 33, 31, 17, 7,
        7, 25, 50, 254, 45, 15, 59, 54, 202, 7, 63, 14, 8, 18, 102, 18, 46, 4, 31, 98, 12, 36,
        11, 56, 5, 10, 6, 30, 8, 34, 7, 47, 5, 63, 8, 6, 54, 29, 7, 44, 14, 12, 27, 6, 42, 32,
        121, 10, 35, 5, 25, 11, 20, 29, 27, 103, 130, 54, 46, 68, 40, 9, 23, 58, 22, 21, 13, 18,
        51, 79, 43,
    ),
}
assert all(len(PRESENCE[name]) == registry.VOCABULARIES[name].size for name in PRESENCE)

# The same tables as the native decoder takes them: (p, n) uint16 pairs and uint16 priors.
_NATIVE_MATCH_INIT = np.asarray(_MATCH_INIT, dtype=np.uint16).tobytes()
_NATIVE_RANK_INIT = np.asarray(_RANK_INIT, dtype=np.uint16).tobytes()
_NATIVE_PRESENCE = {name: np.asarray(p, dtype=np.uint16).tobytes() for name, p in PRESENCE.items()}
