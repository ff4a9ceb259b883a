"""The native label encoder (encode_labels in sgcformat/coding/_native.c) writes the reference's bytes.

Files are canonical: the same map must give the same payload whether or not the extension was
built. Every comparison encodes the same map through the public ``labels.encode`` twice, as
installed (native) and with ``SGC_PURE_PYTHON=1`` (the reference), and requires equal bytes.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sgcformat import maps
from sgcformat.coding import labels, rangecoder
from sgcformat.coding.rangecoder import Encoder
from sgcformat.container import grid_size, read
from sgcformat.errors import VocabularyError
from sgcformat.registry import VOCABULARIES, vocabulary

ROOT = Path(__file__).resolve().parents[1]
NATIVE = rangecoder._native
VOCABS = [1, 2, 65535, *sorted({v.size for v in VOCABULARIES.values()}), *sorted(VOCABULARIES)]

pytestmark = pytest.mark.skipif(
    NATIVE is None, reason="sgcformat.coding._native is not built (no C compiler at install time)")


def _encode(ids, vocab, pure: bool) -> bytes:
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1" if pure else ""}):
        return labels.encode(ids, vocab)


def _decode(data, ids, vocab, pure: bool) -> np.ndarray:
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1" if pure else ""}):
        return labels.decode(data, ids.shape[1], ids.shape[0], vocab)


def _check(ids, vocab) -> bytes:
    """Native and reference payloads are equal and decode (both ways) to ``ids``; returns it."""
    native = _encode(ids, vocab, pure=False)
    assert native == _encode(ids, vocab, pure=True)
    for pure in (False, True):
        np.testing.assert_array_equal(_decode(native, ids, vocab, pure), ids)
    return native


def _plain_payload(ids, vocab) -> bytes:
    """The payload of the map coded without mirroring."""
    enc = Encoder()
    labels.code_map(enc, np.asarray(ids), vocab, mirror=False)
    return enc.finish()


@pytest.mark.parametrize("path", sorted((ROOT / "spec" / "vectors" / "valid").glob("*.sgc")),
                         ids=lambda p: p.stem)
def test_spec_vectors_encode_to_their_payload(path):
    sgc = read(path)
    assert _check(sgc.label_map, sgc.vocab) == sgc.label_data


def test_corpus_maps_encode_identically(corpus_pairs):
    """Every corpus label map at several grid sizes; both mirror choices must occur."""
    mirrored = plain = 0
    for entry in corpus_pairs:
        with Image.open(entry["label"]) as im:
            ids = vocabulary(entry["vocab"]).labels_from_png(np.asarray(im))
        for long_side in (5, 16, 32, 48, 64):
            grid = maps.label_map(ids, grid_size(long_side, ids.shape[1], ids.shape[0]))
            payload = _check(grid, entry["vocab"])
            if len(np.unique(grid)) > 1:
                if payload == _plain_payload(grid, entry["vocab"]):
                    plain += 1
                else:
                    mirrored += 1
    assert mirrored and plain, (mirrored, plain)


@st.composite
def label_maps(draw):
    """1..64 cells a side, 1..k classes of any vocabulary: blocky regions, stripes or noise."""
    vocab = draw(st.sampled_from(VOCABS))
    size = VOCABULARIES[vocab].size if isinstance(vocab, str) else vocab
    rows, cols = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    n_classes = draw(st.integers(1, min(size, 80)))
    classes = draw(st.lists(st.integers(0, size - 1), min_size=n_classes, max_size=n_classes,
                            unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["blocks", "stripes", "noise"]))
    if kind == "blocks":
        block = draw(st.integers(2, 12))
        coarse = rng.choice(classes, size=(-(-rows // block), -(-cols // block)))
        ids = np.kron(coarse, np.ones((block, block), dtype=np.int64))[:rows, :cols]
    elif kind == "stripes":  # diagonal boundaries code differently mirrored
        yy, xx = np.mgrid[0:rows, 0:cols]
        ids = np.asarray(classes)[((xx + 2 * yy) // draw(st.integers(1, 9))) % n_classes]
    else:
        ids = rng.choice(classes, size=(rows, cols))
    return ids.astype(draw(st.sampled_from([np.uint16, np.int32, np.int64]))), vocab


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps())
def test_random_maps_encode_identically(case):
    _check(*case)


def test_many_classes_use_the_rank_tree():
    """Escapes deep into the recency order (bit-tree ranks), sparse ids of a huge vocabulary."""
    rng = np.random.default_rng(3)
    ids = rng.choice(rng.choice(65535, 600, replace=False), size=(40, 40))
    _check(ids.astype(np.uint16), 65535)
    _check(np.arange(32 * 32).reshape(32, 32) % 700, 700)


def test_non_contiguous_input():
    ids = np.kron(np.arange(12).reshape(3, 4), np.ones((5, 7), dtype=np.int64))
    view = ids.T[::2, 1:]
    assert not view.flags.c_contiguous
    _check(view, 182)


def test_native_rejects_what_python_would_have():
    """Input validation stays in Python; the native function still refuses bad arguments."""
    tables = (None, labels._NATIVE_MATCH_INIT, labels._NATIVE_RANK_INIT, rangecoder.NATIVE_SHIFTS)
    ids = np.array([[0, 1], [2, 6]], dtype=np.uint16).tobytes()
    assert NATIVE.encode_labels(ids, 2, 2, 7, *tables) == _encode(np.array([[0, 1], [2, 6]]), 7, True)
    with pytest.raises(ValueError, match="ids"):
        NATIVE.encode_labels(ids[:-2], 2, 2, 7, *tables)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        NATIVE.encode_labels(ids, 2, 2, 6, *tables)
    with pytest.raises(ValueError, match="match_init"):
        NATIVE.encode_labels(ids, 2, 2, 7, None, tables[1][:-2], *tables[2:])
    with pytest.raises(ValueError, match="prior"):
        NATIVE.encode_labels(ids, 2, 2, 7, b"\x00\x04" * 6, *tables[1:])
    with pytest.raises(VocabularyError, match="outside the vocabulary"):
        labels.encode(np.array([[0, 7]]), 7)


def test_pure_python_switch_bypasses_the_native_encoder(monkeypatch):
    calls = []

    class Spy:
        def encode_labels(self, *args):
            calls.append(args[1:4])
            return b"spy"

    monkeypatch.setattr(rangecoder, "_native", Spy())
    ids = np.array([[0, 1, 1], [1, 0, 2]])
    monkeypatch.setenv("SGC_PURE_PYTHON", "1")
    reference = labels.encode(ids, 7)
    assert reference != b"spy" and calls == []
    monkeypatch.delenv("SGC_PURE_PYTHON")
    assert labels.encode(ids, 7) == b"spy"
    assert calls == [(3, 2, 7)]
