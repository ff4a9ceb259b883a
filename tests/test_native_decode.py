"""The native map decoder (sgcformat/coding/_native.c) matches the Python reference bit for bit.

Every comparison decodes the same payload twice through the public ``decode`` functions: once
as installed (native) and once with ``SGC_PURE_PYTHON=1`` (the reference), and requires the
same array or the same BitstreamError.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgcformat.coding import colors, labels, rangecoder
from sgcformat.container import read
from sgcformat.errors import BitstreamError
from sgcformat.registry import VOCABULARIES

ROOT = Path(__file__).resolve().parents[1]
NATIVE = rangecoder._native
VOCABS = [1, 2, 65535, *sorted({v.size for v in VOCABULARIES.values()}), *sorted(VOCABULARIES)]


def test_native_module_is_built_where_a_compiler_is():
    """The comparisons below skip without the module; that must only happen without a compiler."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if NATIVE is None and shutil.which(compiler):
        pytest.fail(f"{compiler} exists but sgcformat.coding._native is not built: "
                    "reinstall with `pip install -e .`")


needs_native = pytest.mark.skipif(
    NATIVE is None, reason="sgcformat.coding._native is not built (no C compiler at install time)")


def _outcome(decode, *args):
    """What a decode call gives: its array (dtype, shape, bytes) or its BitstreamError message."""
    try:
        out = decode(*args)
    except BitstreamError as exc:
        return ("error", str(exc))
    assert out.flags.c_contiguous and out.flags.writeable
    return (out.dtype.str, out.shape, out.tobytes())


def _both(decode, *args):
    """(native outcome, reference outcome)."""
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": ""}):
        native = _outcome(decode, *args)
    with mock.patch.dict("os.environ", {"SGC_PURE_PYTHON": "1"}):
        reference = _outcome(decode, *args)
    return native, reference


@needs_native
@pytest.mark.parametrize("path", sorted((ROOT / "spec" / "vectors" / "valid").glob("*.sgc")),
                         ids=lambda p: p.stem)
def test_spec_vectors_decode_identically(path):
    sgc = read(path)
    (lw, lh), (cw, ch) = sgc.label_size, sgc.color_size
    native, reference = _both(labels.decode, sgc.label_data, lw, lh, sgc.vocab)
    assert native == reference and native[0] == np.dtype(np.uint16).str
    native, reference = _both(colors.decode, sgc.color_data, cw, ch, sgc.color_quality)
    assert native == reference and native[1] == (ch, cw, 3)


@st.composite
def label_maps(draw):
    """Corpus-like maps (blocky regions) or noise, 1..64 cells a side, any vocabulary."""
    vocab = draw(st.sampled_from(VOCABS))
    size = VOCABULARIES[vocab].size if isinstance(vocab, str) else vocab
    rows, cols = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    n_classes = draw(st.integers(1, min(size, 40)))
    classes = draw(st.lists(st.integers(0, size - 1), min_size=n_classes, max_size=n_classes,
                            unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        block = draw(st.integers(2, 12))
        coarse = rng.choice(classes, size=(-(-rows // block), -(-cols // block)))
        ids = np.kron(coarse, np.ones((block, block), dtype=np.int64))[:rows, :cols]
    else:
        ids = rng.choice(classes, size=(rows, cols))
    return ids.astype(np.uint16), vocab


@needs_native
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_maps())
def test_label_maps_decode_identically(case):
    ids, vocab = case
    data = labels.encode(ids, vocab)
    native, reference = _both(labels.decode, data, ids.shape[1], ids.shape[0], vocab)
    assert native == reference == (np.dtype(np.uint16).str, ids.shape, ids.tobytes())


@needs_native
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 64), st.integers(1, 64), st.integers(0, colors.QUALITY_LEVELS - 1),
       st.integers(0, 2**32 - 1), st.booleans())
def test_colour_maps_decode_identically(rows, cols, quality, seed, smooth):
    rng = np.random.default_rng(seed)
    if smooth:
        yy, xx = np.mgrid[0:rows, 0:cols]
        rgb = np.clip(rng.integers(0, 256, 3) + np.stack([yy * 3, xx * 2, -yy - xx], axis=-1), 0, 255)
    else:
        rgb = rng.integers(0, 256, size=(rows, cols, 3))
    data = colors.encode(rgb.astype(np.uint8), quality)
    native, reference = _both(colors.decode, data, cols, rows, quality)
    assert native == reference and native[1] == (rows, cols, 3)


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=120), st.integers(1, 24), st.integers(1, 24), st.sampled_from(VOCABS))
def test_label_garbage_gives_the_same_map_or_error(data, cols, rows, vocab):
    native, reference = _both(labels.decode, data, cols, rows, vocab)
    assert native == reference


@needs_native
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=160), st.integers(1, 24), st.integers(1, 24),
       st.integers(0, colors.QUALITY_LEVELS - 1))
def test_colour_garbage_gives_the_same_map_or_error(data, cols, rows, quality):
    native, reference = _both(colors.decode, data, cols, rows, quality)
    assert native == reference


@needs_native
@pytest.mark.parametrize("vocab", ["ade20k-150", 182, 7])
def test_truncated_and_corrupted_payloads_agree(vocab):
    """Every prefix and every single-byte corruption of real payloads, both bitstreams."""
    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 7, size=(5, 6))
    ids = np.kron(coarse, np.ones((6, 6), dtype=np.int64))[:28, :33].astype(np.uint16)
    rgb = np.clip(ids[::2, ::2, None] * 20 + rng.integers(0, 40, (14, 17, 3)), 0, 255).astype(np.uint8)
    cases = [(labels.decode, labels.encode(ids, vocab), 33, 28, vocab),
             (colors.decode, colors.encode(rgb, 8), 17, 14, 8)]
    errors = set()
    for decode, data, cols, rows, extra in cases:
        variants = [data[:n] for n in range(len(data))] + [data + b"\x01"]
        for i in range(len(data)):
            variants.append(data[:i] + bytes([data[i] ^ (1 << (i % 8))]) + data[i + 1:])
        for variant in variants:
            native, reference = _both(decode, variant, cols, rows, extra)
            assert native == reference
            if native[0] == "error":
                errors.add(native[1].split()[0])
    assert len(errors) > 2  # the corruptions reach several different checks


@needs_native
def test_large_vocabulary_garbage_agrees():
    """Rank escapes over thousands of classes (the bit-tree, the recency order) on a bigger grid."""
    data = bytes(np.random.default_rng(11).integers(0, 256, 400, dtype=np.uint8))
    for payload in (data, b"\x7f" * 400, b"\x3a\x10" + data):
        native, reference = _both(labels.decode, payload, 40, 30, 65535)
        assert native == reference


def test_pure_python_switch_bypasses_the_native_coder(monkeypatch):
    calls = []

    class Spy:
        def decode_labels(self, *args):
            calls.append("labels")
            return bytearray(2 * 4)

        def decode_colors(self, *args):
            calls.append("colors")
            return bytearray(3 * 4)

    label_data = labels.encode(np.array([[0, 1], [1, 0]]), 7)
    colour_data = colors.encode(np.zeros((2, 2, 3), np.uint8))
    monkeypatch.setattr(rangecoder, "_native", Spy())
    monkeypatch.setenv("SGC_PURE_PYTHON", "1")
    assert labels.decode(label_data, 2, 2, 7).tolist() == [[0, 1], [1, 0]]
    colors.decode(colour_data, 2, 2)
    assert calls == []
    monkeypatch.delenv("SGC_PURE_PYTHON")
    assert labels.decode(label_data, 2, 2, 7).tolist() == [[0, 0], [0, 0]]
    colors.decode(colour_data, 2, 2)
    assert calls == ["labels", "colors"]


@needs_native
def test_native_rejects_malformed_tables():
    """The tables come from Python; a wrong one is a ValueError, never an out-of-bounds read."""
    args = (b"", 2, 2, 7, None, labels._NATIVE_MATCH_INIT, labels._NATIVE_RANK_INIT,
            rangecoder.NATIVE_SHIFTS)
    with pytest.raises(ValueError, match="match_init"):
        NATIVE.decode_labels(*args[:5], args[5][:-2], *args[6:])
    with pytest.raises(ValueError, match="shifts"):
        NATIVE.decode_labels(*args[:7], b"\x02\x02")
    bad_count = bytearray(args[6])
    bad_count[2:4] = (7).to_bytes(2, "little")  # a context count beyond SHIFTS
    with pytest.raises(ValueError, match="rank_init"):
        NATIVE.decode_labels(*args[:6], bytes(bad_count), args[7])
    with pytest.raises(ValueError, match="prior"):
        NATIVE.decode_labels(b"", 2, 2, 150, b"\x00\x00" * 150, *args[5:])
    steps, limits, init, shifts = colors._native_tables(20)
    with pytest.raises(ValueError, match="steps"):
        NATIVE.decode_colors(b"", 2, 2, steps[:-4], limits, init, shifts)
    with pytest.raises(ValueError, match="init"):
        NATIVE.decode_colors(b"", 2, 2, steps, limits, b"\x00\x00" * 70, shifts)
